"""Hostile and broken input, second round (the seventh round's review): each case ends in one
clear line or a note on one record, memory stays bounded, and nothing runs but our code."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import zipfile
import zlib
from pathlib import Path

import pytest

from archive.ingest import Ingester

from .conftest import FIXED_TIME, SAMPLE
from .test_hostile import _page, _raw_record
from .test_ingest import dump
from .test_limits import _rss_growth
from .test_robustness import error_lines, run_cli


def _gz(*records: bytes) -> bytes:
    """Each record its own gzip member, as a record-chunked .warc.gz."""
    out = []
    for record in records:
        c = zlib.compressobj(6, zlib.DEFLATED, 31)
        out.append(c.compress(record) + c.flush())
    return b"".join(out)


def _record(
    uri: bytes, http: bytes, rid: bytes = b"1", kind: bytes = b"response", extra: bytes = b""
) -> bytes:
    """One WARC record around the HTTP message ``http``, bytes as given."""
    return (
        b"WARC/1.0\r\nWARC-Type: "
        + kind
        + b"\r\nWARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-"
        + rid.rjust(12, b"0")
        + b">\r\nWARC-Date: 2025-03-07T09:30:00Z\r\nWARC-Target-URI: "
        + uri
        + b"\r\n"
        + extra
        + b"Content-Type: application/http; msgtype=response\r\n"
        + b"Content-Length: %d\r\n\r\n" % len(http)
        + http
        + b"\r\n\r\n"
    )


def test_a_cut_capture_inside_a_wacz_is_refused(tmp_path):
    """The ZIP's checksum says a member is what was packed, not that the WARC in it is whole:
    a .warc.gz cut inside its last record went in, signed, from a WACZ, and was refused as a
    file of its own."""
    whole = _raw_record(b"Content-Type: text/html\r\n", _page())
    cut = _gz(whole, _raw_record(b"Content-Type: text/html\r\n", _page(), uri=b"https://x/b"))
    cut = cut[: len(_gz(whole)) + 60]
    wacz = tmp_path / "cut.wacz"
    with zipfile.ZipFile(wacz, "w") as zf:
        zf.writestr("archive/data.warc.gz", cut)
        zf.writestr("datapackage.json", json.dumps({"resources": []}))
    db = tmp_path / "records" / "archive.db"
    assert run_cli("ingest", "--workers", "0", "--db", db, SAMPLE)[0] == 0
    before = dump(db)
    code, output = run_cli("ingest", "--workers", "0", "--db", db, wacz)
    assert code == 1
    assert error_lines(output) == [
        f"Error: {wacz}!archive/data.warc.gz at offset {len(_gz(whole))}: truncated or damaged: "
        "the 60 bytes after the last whole record are not a record"
    ]
    assert dump(db) == before
    # a whole member goes in; so does a plain WARC, whose last record is followed by the blank
    # lines that end every record (after the record's length: the check must allow them)
    # (3 MB of them: the first version of the check kept only the last 1-2 MiB read)
    with zipfile.ZipFile(wacz, "w") as zf:
        zf.writestr("archive/data.warc", whole + b"\r\n" * 1_500_000)
        zf.writestr("datapackage.json", json.dumps({"resources": []}))
    code, output = run_cli("ingest", "--workers", "0", "--db", db, wacz)
    assert code == 0, output


def test_an_image_that_is_postscript_is_never_handed_to_ghostscript(tmp_path, monkeypatch):
    """Pillow opens what the bytes are, whatever the Content-Type says: an "image/jpeg" that
    was EPS ran Ghostscript on the capture's PostScript (found in review)."""
    marker = tmp_path / "gs-ran"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "gs").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (bin_dir / "gs").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 100 100\nshowpage\n%%EOF\n"
    page = _page().replace(b"</article>", b'<figure><img src="/p.jpg"></figure></article>')
    warc = tmp_path / "eps.warc"
    warc.write_bytes(
        _raw_record(b"Content-Type: text/html\r\n", page)
        + _record(
            b"https://hostile.example/p.jpg",
            b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(eps)
            + eps,
            rid=b"2",
        )
    )
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 0, output
    assert not marker.exists()
    conn = sqlite3.connect(db)
    (note,) = conn.execute(
        "SELECT note FROM capture_records WHERE url = 'https://hostile.example/p.jpg'"
    ).fetchone()
    assert note == "image could not be read (UnidentifiedImageError)"


def _chunked_capture(path: Path, size: int) -> Path:
    """A .warc.gz whose one response is one chunk of ``size`` bytes: kilobytes on disk."""
    body_len = len(b"%x\r\n" % size) + size + len(b"\r\n0\r\n\r\n")
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n"
    warc = _record(b"https://x.example/c.html", head + b"\x00" * body_len)
    before, after = warc.split(b"\x00" * body_len)
    c = zlib.compressobj(1, zlib.DEFLATED, 31)
    with open(path, "wb") as f:
        f.write(c.compress(before + b"%x\r\n" % size))
        block = b"a" * (1 << 20)
        for _ in range(size >> 20):
            f.write(c.compress(block))
        f.write(c.compress(b"\r\n0\r\n\r\n" + after) + c.flush())
    return path


@pytest.mark.slow
def test_one_huge_chunk_is_read_in_steps_and_capped(tmp_path):
    """warcio reads a whole HTTP chunk (up to 2 GiB) before the payload cap sees a byte: a
    300 kB capture of one 600 MB chunk took 1.3 GB."""
    capture = _chunked_capture(tmp_path / "chunk.warc.gz", 300 << 20)
    status, grew_mb, note = _rss_growth(capture, tmp_path / "a.db", 0)
    assert status == "ingested"
    assert note == "payload larger than the 33,554,432-byte cap"
    assert grew_mb < 100, f"RSS grew by {grew_mb} MB"


@pytest.mark.parametrize("extension", [b"", b";name=" + b"x" * 70])
def test_a_chunked_gzipped_page_is_decoded(tmp_path, fixed_signer, extension):
    """A chunk-size line with an extension longer than 64 bytes was taken for no chunk at
    all: the page was stored and hashed with its framing (found in review)."""
    page = zlib.compress(_page(), wbits=31)
    chunks = b"".join(b"%x%s\r\n%s\r\n" % (len(page[i : i + 700]), extension, page[i : i + 700])
                      for i in range(0, len(page), 700)) + b"0\r\n\r\n"  # fmt: skip
    http = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n" + chunks
    )
    warc = tmp_path / "chunked.warc"
    warc.write_bytes(_record(b"https://x.example/a.html", http))
    ingester = Ingester(tmp_path / "a.db", fixed_signer, clock=lambda: FIXED_TIME)
    assert ingester.ingest_file(warc).articles == 1
    (stored,) = ingester.conn.execute("SELECT html_sha256 FROM articles").fetchone()
    assert stored == hashlib.sha256(_page()).hexdigest()


def test_many_header_lines_are_refused(tmp_path):
    """No line was long, but 8 million short header lines took 1.6 GB (warcio keeps each)."""
    lines = b"".join(b"X-%d: v\r\n" % i for i in range(200_000))
    warc = tmp_path / "headers.warc"
    warc.write_bytes(_record(b"https://x.example/a.css", b"HTTP/1.1 200 OK\r\n" + lines + b"\r\n"))
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 1
    assert error_lines(output) == [
        f"Error: {warc} at offset 0: not a valid WARC/ARC: a record's headers are longer than "
        "1,048,576 bytes"
    ]


def test_a_resource_listed_many_times_is_hashed_once(tmp_path):
    """Each repeated entry of datapackage.json hashed its member again: 100,000 entries of one
    16 MB member would take an hour."""
    from archive.wacz_check import check_wacz

    wacz = tmp_path / "dup.wacz"
    data = _gz(_raw_record(b"Content-Type: text/html\r\n", _page()))
    entry = {"path": "archive/data.warc.gz", "hash": f"sha256:{hashlib.sha256(data).hexdigest()}",
             "bytes": len(data)}  # fmt: skip
    with zipfile.ZipFile(wacz, "w") as zf:
        zf.writestr("archive/data.warc.gz", data)
        zf.writestr("datapackage.json", json.dumps({"resources": [entry] * 3}))
    result = check_wacz(wacz)
    assert result.problems == [
        "resource listed twice in datapackage.json: archive/data.warc.gz",
        "resource listed twice in datapackage.json: archive/data.warc.gz",
    ]
    assert result.details["resources_checked"] == 1


def test_a_file_name_that_is_not_utf8_is_ingested(tmp_path):
    """A capture named in another encoding (b"caf\\xe9") failed: its name goes into the signed
    statement, which is UTF-8. Written with a \\x escape."""
    name = os.fsdecode(b"caf\xe9.warc.gz")
    capture = tmp_path / name
    capture.write_bytes(SAMPLE.read_bytes())
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, capture)
    assert code == 0, output
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT filename FROM captures").fetchone() == ("caf\\xe9.warc.gz",)
    conn.close()
    assert run_cli("verify", "--db", db)[0] == 0


def test_a_status_code_out_of_range_skips_its_record_only(tmp_path):
    """ "HTTP/1.1 99999999999999999999 OK" failed the whole file (an integer SQLite cannot
    store); a status of "abc" already skipped just its record."""
    warc = tmp_path / "status.warc"
    warc.write_bytes(
        _raw_record(b"Content-Type: text/html\r\n", _page())
        + _record(b"https://x.example/odd", b"HTTP/1.1 99999999999999999999 OK\r\n\r\nhi", b"2")
    )
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 0, output
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT url, role, note FROM capture_records ORDER BY 1").fetchall()
    assert rows[-1] == ("https://x.example/odd", "skipped", "HTTP status 0")


def test_a_punycode_charset_falls_back_to_utf8(tmp_path, fixed_signer):
    """charset=punycode raises UnicodeError (not UnicodeDecodeError): the page was lost."""
    warc = tmp_path / "puny.warc"
    warc.write_bytes(_raw_record(b"Content-Type: text/html; charset=punycode\r\n", _page()))
    ingester = Ingester(tmp_path / "a.db", fixed_signer, clock=lambda: FIXED_TIME)
    assert ingester.ingest_file(warc).articles == 1


def test_errors_stay_on_one_line(tmp_path, monkeypatch):
    """A file name holding a newline broke the one-line error in two; a MemoryError said
    "unexpected MemoryError: " and nothing more."""
    odd = tmp_path / "two\nlines.warc"
    odd.write_bytes(b"WARC/1.0\r\nnot a record at all\r\n")
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, odd)
    assert code == 1
    (line,) = error_lines(output)
    assert line.startswith(f"Error: {tmp_path}/two\\nlines.warc")

    import archive.reader

    def no_memory(self):
        raise MemoryError

    monkeypatch.setattr(archive.reader.CaptureReader, "__iter__", no_memory)
    code, output = run_cli("ingest", "--workers", "0", "--db", db, SAMPLE)
    assert code == 1
    assert error_lines(output) == [
        f"Error: {SAMPLE}: out of memory while reading it (a page or record too large for this "
        "machine; the caps are in docs/security.md)"
    ]


def _ingest_counting_seeks(wacz: Path, tmp_path: Path, monkeypatch):
    """Ingest ``wacz``; (the archive, the offsets of every seek inside a ZIP member)."""
    seeks = []
    real = zipfile.ZipExtFile.seek

    def seek(self, offset, whence=0):
        seeks.append(offset)
        return real(self, offset, whence)

    monkeypatch.setattr(zipfile.ZipExtFile, "seek", seek)
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, wacz)
    assert code == 0, output
    return sqlite3.connect(db), seeks


def test_images_in_a_stored_wacz_member_are_read_again_without_rereading_the_member(
    tmp_path, monkeypatch
):
    """Each image is read again from the capture when stored; zipfile's seek (Python 3.11)
    read every byte of the member before the image, so a WACZ of many images was read again
    in full for each one. WACZ stores its WARCs: they are now read straight from the ZIP."""
    import io

    from PIL import Image

    from .test_robustness import FILLER, article_html, http_response, warc_file

    def png(shade: int) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (shade, 90, 160)).save(buf, "PNG")
        return buf.getvalue()

    figures = [(f"https://x.example/{i}.png", f"Picture {i}", "Ann Lee") for i in range(6)]
    page = article_html("Pictures", FILLER, figures)
    responses = [http_response("https://x.example/a.html", page)] + [
        http_response(src, png(20 * i), content_type="image/png")
        for i, (src, _, _) in enumerate(figures)
    ]
    data = warc_file(tmp_path / "data.warc.gz", responses).read_bytes()
    wacz = tmp_path / "pictures.wacz"
    with zipfile.ZipFile(wacz, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("archive/data.warc.gz", data)
        zf.writestr("datapackage.json", json.dumps({"resources": []}))
    conn, seeks = _ingest_counting_seeks(wacz, tmp_path, monkeypatch)
    assert conn.execute("SELECT count(*) FROM images").fetchone() == (6,)
    assert [o for o in seeks if o] == []


def test_revisits_of_one_response_read_it_once(tmp_path, monkeypatch):
    """In a deflated WACZ member each read of the revisited response inflated the member from
    its start (1,000 revisits after a 32 MB record took 82 s): the last original is kept."""
    import base64

    page = _page()
    digest = b"sha1:" + base64.b32encode(hashlib.sha1(page).digest())
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(page)
    records = [_record(b"https://x.example/a.html", http + page,
                       extra=b"WARC-Payload-Digest: " + digest + b"\r\n")]  # fmt: skip
    for i in range(5):
        records.append(
            _record(
                f"https://x.example/a.html?v={i}".encode(),
                http,
                rid=b"%d" % (i + 2),
                kind=b"revisit",
                extra=b"WARC-Payload-Digest: " + digest + b"\r\nWARC-Profile: "
                b"http://netpreserve.org/warc/1.1/revisit/identical-payload-digest\r\n",
            )
        )
    wacz = tmp_path / "revisits.wacz"
    with zipfile.ZipFile(wacz, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("archive/data.warc", b"".join(records))
        zf.writestr("datapackage.json", json.dumps({"resources": []}))
    conn, seeks = _ingest_counting_seeks(wacz, tmp_path, monkeypatch)
    assert conn.execute("SELECT count(*) FROM articles").fetchone() == (6,)
    assert seeks.count(0) == 1, seeks


def test_a_wacz_of_too_many_members_is_refused_before_its_directory_is_read(tmp_path, monkeypatch):
    """zipfile reads the whole central directory before the member count can be checked: 4
    million empty members (a 350 MB file) took all the memory. The count in the ZIP's last
    record is read first (here a forged count, and a lower limit, stand in for millions)."""
    import struct

    import archive.capture_files
    from archive.capture_files import zip_directory
    from archive.wacz_check import check_wacz

    wacz = tmp_path / "many.wacz"
    with zipfile.ZipFile(wacz, "w") as zf:
        zf.writestr("archive/data.warc.gz", SAMPLE.read_bytes())
        zf.writestr("datapackage.json", json.dumps({"resources": []}))
    whole = wacz.read_bytes()
    at = whole.rfind(b"PK\x05\x06")
    (directory,) = struct.unpack("<I", whole[at + 12 : at + 16])
    assert zip_directory(wacz) == (2, directory)
    monkeypatch.setattr(archive.capture_files, "MAX_MEMBERS", 50_000)
    db = tmp_path / "records" / "archive.db"

    def forged(count: int, size: int) -> None:
        data = bytearray(whole)
        data[at + 8 : at + 16] = struct.pack("<HHI", count, count, size)
        wacz.write_bytes(bytes(data))

    # a count that says too many; a count that says few, with the directory of many
    for count, size, why in (
        (60_000, directory, "60,000 ZIP members, more than the 50,000 read"),
        (1, 40_000_000, "a ZIP directory of 40,000,000 bytes, more than 50,000 members' worth"),
    ):
        forged(count, size)
        assert check_wacz(wacz).problems == [why]
        code, output = run_cli("ingest", "--workers", "0", "--db", db, wacz)
        assert code == 1
        assert error_lines(output) == [f"Error: {wacz}: not a WACZ: {why}"]
