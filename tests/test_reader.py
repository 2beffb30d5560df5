"""Reading captures: what a record holds and what its damage is called, as the archivist reads
it (HTTP in records of other schemes, warcio's warnings, packages of WACZ files, damaged gzip
data, ARC records)."""

from __future__ import annotations

import sqlite3

import pytest

from .conftest import DATA, SAMPLE
from .test_ingest import ingest


def test_http_held_in_a_record_for_another_scheme_is_read_as_http(tmp_path, fixed_signer):
    """Scoop's WACZ holds `response` records for file:///screenshot.png whose Content-Type is
    application/http: warcio reads HTTP headers only for http(s) URIs, so their status was
    "None" (skipped) and their payload digest was checked over the whole block and failed,
    though it was right (found in review). A record for a dns: URI stays as it was."""
    import io

    from PIL import Image
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from archive.ingest import Ingester

    png = io.BytesIO()
    Image.new("RGB", (40, 30), "red").save(png, "PNG")
    path = tmp_path / "scoop.warc.gz"
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        http = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(
            "file:///screenshot.png", "response", payload=io.BytesIO(png.getvalue()),
            http_headers=http,
        ))  # fmt: skip
        writer.write_record(writer.create_warc_record(
            "dns:example.com", "response", payload=io.BytesIO(b"example.com. 60 IN A 1.2.3.4\n"),
            warc_content_type="text/dns",
        ))  # fmt: skip
        # warcio's writer calls every response application/http, HTTP or not (second review:
        # this raw image was then read as HTTP headers, and its digest "failed")
        writer.write_record(writer.create_warc_record(
            "urn:x:raw-image", "response", payload=io.BytesIO(png.getvalue())
        ))  # fmt: skip
    db = tmp_path / "archive.db"
    result = Ingester(db, fixed_signer).ingest_file(path)
    assert result.status == "ingested" and result.digest_failures == 0, result
    rows = (
        sqlite3.connect(db)
        .execute("SELECT url, status, mime_type, digest, role FROM capture_records ORDER BY offset")
        .fetchall()
    )
    assert rows[0] == ("file:///screenshot.png", 200, "image/png", "passed", "image"), rows
    assert rows[1][0] == "dns:example.com" and rows[1][3] == "passed", rows
    (note,) = (
        sqlite3.connect(db)
        .execute("SELECT note FROM capture_records WHERE url = 'dns:example.com'")
        .fetchone()
    )
    assert note == "not an HTTP response", note  # was "HTTP status None"
    assert rows[2][0] == "urn:x:raw-image" and rows[2][1:4] == (None, None, "passed"), rows


def test_warcio_s_warnings_name_the_record_they_are_about(tmp_path, fixed_signer):
    """warcio prints a warning and names no record; "a record's Content-Length looks wrong"
    left the archivist to find which (found in review: the record is at offset 1197)."""
    from archive.ingest import Ingester

    ingester = Ingester(tmp_path / "archive.db", fixed_signer)
    trunc = DATA / "warc" / "example-trunc.warc"
    spaces = DATA / "warc" / "example-space-in-target-uri.warc.gz"
    assert ingester.ingest_file(trunc).warnings == [
        f"{trunc} at offset 1197: the record's Content-Length looks wrong (no blank line "
        "follows it)"
    ]
    assert ingester.ingest_file(spaces).warnings == [
        f"{spaces} at offset 241: spaces in its WARC-Target-URI were replaced by %20"
    ]


def test_a_package_of_wacz_files_is_named_as_such(tmp_path, fixed_signer):
    """Browsertrix's multi-WACZ package (WACZ files inside a ZIP) was "WACZ holds no WARC files
    under archive/", which does not say what to do (found in review)."""
    import zipfile

    from archive.ingest import Ingester

    package = tmp_path / "multi.wacz"
    with zipfile.ZipFile(package, "w") as zf:
        for name in ("one.wacz", "two.wacz"):
            zf.writestr(name, b"PK\x05\x06" + bytes(18))
        zf.writestr("datapackage.json", '{"profile": "multi-wacz-package", "resources": []}')
    result = Ingester(tmp_path / "archive.db", fixed_signer).ingest_file(package)
    assert result.status == "failed"
    assert result.error == (
        f"{package}: a package of 2 WACZ files, not one WACZ (one.wacz, two.wacz): unpack it "
        "(unzip) and ingest the WACZ files it holds"
    )


def test_a_flipped_byte_inside_a_gzip_member_is_damage_not_truncation(isolated_env, tmp_path):
    """zlib's error in the middle of a record's gzip member made warcio stop reading there, and
    the file was called "truncated ... ends N bytes short", though it went on (found in
    review)."""
    data = bytearray(SAMPLE.read_bytes())
    members = [i for i in range(len(data) - 1) if data[i] == 0x1F and data[i + 1] == 0x8B]
    # the largest member (a photo's response), damaged well past its record's headers
    ends = [*members[1:], len(data)]
    start, end = max(zip(members, ends, strict=True), key=lambda m: m[1] - m[0])
    data[start + (end - start) * 4 // 5] ^= 0xFF
    bad = tmp_path / "flipped.warc.gz"
    bad.write_bytes(bytes(data))
    result = ingest(bad)
    assert result.exit_code == 1
    (line,) = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert line.startswith(f"Error: {bad} at offset {start}: damaged gzip data (Error -3 while "
                           "decompressing data"), line  # fmt: skip
    assert "truncated" not in line


def test_http_in_another_scheme_s_record_is_seen_across_a_buffer_boundary(tmp_path):
    """The record's first bytes were compared with "HTTP/" in warcio's read buffer, which can
    end inside them: at some sizes of what came before, the screenshot's record was "not an
    HTTP response" and its digest failed (fourth review)."""
    import io

    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from archive.reader import CaptureReader

    seen = set()
    for pad in range(15670, 15710):  # "HTTP/" crosses warcio's 16 KiB block near here
        path = tmp_path / f"pad{pad}.warc"
        with open(path, "wb") as f:
            writer = WARCWriter(f, gzip=False)
            writer.write_record(writer.create_warc_record(
                "urn:x:pad", "resource", payload=io.BytesIO(b"x" * pad),
                warc_content_type="text/plain",
            ))  # fmt: skip
            http = StatusAndHeaders("200 OK", [("Content-Type", "image/png")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                "file:///screenshot.png", "response", payload=io.BytesIO(b"\x89PNG..."),
                http_headers=http,
            ))  # fmt: skip
        seen.add(path.read_bytes().find(b"HTTP/1.1 200") % 16384)
        shot = [r for r in CaptureReader(path) if r.uri == "file:///screenshot.png"]
        assert [(r.status, r.digest) for r in shot] == [(200, "passed")], pad
    assert any(16380 <= at < 16384 for at in seen), sorted(seen)  # the boundary was crossed


def _arc(path, url: str, mime: str, body: bytes) -> None:
    """A one-record ARC file (version 1 header block, then the record)."""
    desc = b"1 0 Test\nURL IP-address Archive-date Content-type Archive-length\n"
    head = b"filedesc://%s 0.0.0.0 20250101000000 text/plain %d\n" % (path.name.encode(), len(desc))
    record = b"%s 1.2.3.4 20250101000000 %s %d\n" % (url.encode(), mime.encode(), len(body))
    path.write_bytes(head + desc + b"\n" + record + body + b"\n")


def test_an_arc_record_of_another_scheme_is_not_read_as_http(tmp_path):
    """warcio calls every ARC record application/http: a dns: record, or an ftp: file whose
    text happens to start with "HTTP/", was read as HTTP headers (fourth review)."""
    from archive.reader import CaptureReader

    for url, mime, body in [
        ("dns:www.example.com", "text/dns", b"20250101000000\nwww.example.com. 60 IN A 1.2.3.4"),
        ("ftp://example.com/notes.txt", "text/plain", b"HTTP/1.1 is a protocol, and so on."),
    ]:
        path = tmp_path / "one.arc"
        _arc(path, url, mime, body)
        (record,) = [r for r in CaptureReader(path) if r.uri == url]
        assert (record.status, record.skip_reason) == (None, "not an HTTP response"), url


def test_position_says_how_far_through_the_file_the_records_reach():
    """A progress bar within one large file needs how far the reading is: the bytes of the file
    read so far, never going back, never past the file's end, and the whole file at the end."""
    from archive.reader import CaptureReader

    for path in (SAMPLE, DATA / "wacz" / "scoop-example.com.wacz"):
        reader = CaptureReader(path)
        size = path.stat().st_size
        positions = [reader.position for _ in reader]
        assert len(positions) > 2, path
        assert positions == sorted(positions), positions
        assert 0 < positions[0] and positions[-1] <= size, (positions, size)
        assert reader.position == size
    # the sample's first records are read before its end: the bar moves within the file
    reader = CaptureReader(SAMPLE)
    assert next(iter(reader)) and 0 < reader.position < SAMPLE.stat().st_size


def test_a_gzip_member_with_a_wrong_checksum_is_called_damaged(tmp_path):
    """A flipped byte in a member's CRC-32 or length trailer (its data whole): the member was
    said to hold "no WARC or ARC record" (an archivist's review); zlib's own reason is given."""
    import zlib

    data = SAMPLE.read_bytes()
    member = zlib.decompressobj(31)
    member.decompress(data)
    assert member.eof and member.unused_data  # (several members)
    end = len(data)  # the last member's trailer: CRC-32, then the length
    for where, reason in ((end - 8, "incorrect data check"), (end - 3, "incorrect length check")):
        damaged = bytearray(data)
        damaged[where] ^= 0xFF
        path = tmp_path / f"flip-{where}.warc.gz"
        path.write_bytes(bytes(damaged))
        result = ingest("--db", tmp_path / "archive.db", path)
        assert result.exit_code == 1
        assert f"the gzip data here is damaged ({reason})" in result.output, result.output


def test_a_content_length_too_large_to_be_true_is_named(tmp_path):
    """A response record whose Content-Length has 20 digits: "a damaged or cut-off record
    (OverflowError)" (an archivist's review)."""
    import gzip
    import re

    data = gzip.decompress(SAMPLE.read_bytes())
    response = data.index(b"WARC-Type: response")
    length = re.compile(rb"Content-Length: \d+").search(data, response)
    path = tmp_path / "huge.warc"
    path.write_bytes(
        data[: length.start()] + b"Content-Length: " + b"9" * 20 + data[length.end() :]
    )
    result = ingest("--db", tmp_path / "archive.db", path)
    assert result.exit_code == 1
    assert "a record's length is too large to be true" in result.output, result.output


def test_each_record_s_digest_check_says_what_was_checked():
    """A revisit's digest is its original's payload's, with nothing in the revisit to hash: it
    was said "absent" (no digest in the record), as for a record that has none."""
    from archive.reader import CaptureReader

    from .conftest import DATA

    seen = [(r.type, r.digest) for r in CaptureReader(DATA / "warc" / "example.warc.gz")]
    assert seen == [
        ("warcinfo", "absent"),
        ("warcinfo", "absent"),
        ("response", "passed"),
        ("request", "passed"),
        ("revisit", "not-checked"),
        ("request", "passed"),
    ]
    digests = [r.digest for r in CaptureReader(DATA / "warc" / "example-digest.warc")]
    assert digests == ["failed", "passed", "passed", "passed"]


def _members(path) -> list[bytes]:
    """The uncompressed contents of a .gz file's members, in order."""
    import zlib

    members, data = [], path.read_bytes()
    while data:
        member = zlib.decompressobj(31)
        members.append(member.decompress(data))
        data = member.unused_data
    return members


def _read(path) -> str:
    from archive.errors import CaptureError
    from archive.reader import CaptureReader

    try:
        return f"{sum(1 for _ in CaptureReader(path))} records"
    except CaptureError as e:
        return str(e)


def test_damaged_gzip_is_called_damaged_not_what_its_garbage_looks_like(tmp_path):
    """Bit rot in a member made its record's headers garbage, and the message blamed the WARC
    ("a record's length '\\x0b`DO' is not a number", "a record has no type"); damage near a
    member's end ran it on into the next, and the message said the gzip was not record-chunked
    and that `warcio recompress` could fix it, which signed the damage in (an archivist's
    review). Each now names the damaged member. An empty gzip member after the last record
    (`cat a.warc.gz empty.gz`) is nothing, as blank lines are, and so is a member holding only
    blank lines, after a record or between two (it read as "a record has no type")."""
    import gzip
    import zlib

    def gz(raw: bytes, end: bool = True) -> bytes:
        z = zlib.compressobj(9, zlib.DEFLATED, 31)
        return z.compress(raw) + z.flush(zlib.Z_FINISH if end else zlib.Z_SYNC_FLUSH)

    members = _members(SAMPLE)
    unended = tmp_path / "unended.warc.gz"  # the second member's deflate stream never ends
    unended.write_bytes(b"".join(gz(m, end=i != 1) for i, m in enumerate(members)))
    at = len(gz(members[0]))
    assert _read(unended) == (
        f"{unended} at offset {at}: not a valid WARC/ARC: the gzip data here is damaged "
        "(invalid block type)"
    )
    empty_after = tmp_path / "empty-after.warc.gz"
    empty_after.write_bytes(SAMPLE.read_bytes() + gzip.compress(b""))
    assert _read(empty_after) == _read(SAMPLE) == f"{len(members)} records"
    blank_after = tmp_path / "blank-after.warc.gz"
    blank_after.write_bytes(SAMPLE.read_bytes() + gzip.compress(b"\r\n") + gzip.compress(b"\n"))
    assert _read(blank_after) == f"{len(members)} records"
    # ... but not when junk follows them, or nothing comes before them
    blank_only = tmp_path / "blank-only.warc.gz"
    blank_only.write_bytes(gzip.compress(b"\r\n"))
    assert (
        _read(blank_only) == f"{blank_only} at offset 0: not a valid WARC/ARC: a record has no type"
    )
    junk_after = tmp_path / "junk-after.warc.gz"
    junk_after.write_bytes(blank_after.read_bytes() + b"junk")
    assert _read(junk_after) == (
        f"{junk_after} at offset {len(blank_after.read_bytes())}: not a valid WARC/ARC: no WARC "
        "or ARC record starts here (it begins 'junk')"
    )
    # ... and between records, where they read as "a record has no type" too
    blank_between = tmp_path / "blank-between.warc.gz"
    blank_between.write_bytes(SAMPLE.read_bytes() + gzip.compress(b"\n") + gz(members[-1]))
    assert _read(blank_between) == f"{len(members) + 1} records"
    # ... but not where warcio reads on past the member (after a raw newline it read the rest
    # of the file as that one record: ten records went missing, with no error; a review)
    rest = b"".join(gz(m) for m in members[1:])
    raw_first = tmp_path / "raw-first.warc.gz"
    raw_first.write_bytes(gz(members[0]) + b"\n" + gzip.compress(b"\n") + rest)
    assert _read(raw_first).endswith("not a valid WARC/ARC: a record has no type")
    # the reviewer's case: the sample outlet B's capture (examples/build_samples.py, the same
    # bytes on every run) with one byte of its fourth member flipped near its end
    from .crash_support import build_samples

    samples = build_samples()
    samples.build(samples.FALLBACK, tmp_path / "samples")
    data = bytearray((tmp_path / "samples" / "lakeport-B-2025-03-08.warc.gz").read_bytes())
    data[9493] ^= 192
    flipped = tmp_path / "flipped.warc.gz"
    flipped.write_bytes(bytes(data))
    assert _read(flipped) == (
        f"{flipped} at offset 3401: not a valid WARC/ARC: the gzip data here is damaged (the "
        "file ends inside it)"
    ), "the sample changed? find a byte whose flip says 'not record-chunked' without the fix"


def test_a_ctrl_c_while_a_header_line_is_decoded_stops_the_read():
    """warcio decodes each header line in a bare ``try/except:`` (UTF-8, else ISO-8859-1): a
    Ctrl-C landing there was caught as a decoding error, and the ingest ran on to its end with
    status 0 (tests/test_crash.py's Ctrl-C to the process group, 1 run in 40). The
    replacement (archive/streams.py) catches decoding errors only."""
    from warcio.statusandheaders import StatusAndHeadersParser

    import archive.streams  # noqa: F401 - replaces warcio's

    class Interrupted(bytes):
        """A line whose first decoding is interrupted."""

        calls = 0

        def decode(self, *args):
            Interrupted.calls += 1
            if Interrupted.calls == 1:
                raise KeyboardInterrupt
            return bytes(self).decode(*args)

    with pytest.raises(KeyboardInterrupt):
        StatusAndHeadersParser.decode_header(Interrupted(b"WARC/1.0"))
    assert StatusAndHeadersParser.decode_header(b"caf\xc3\xa9") == "caf\u00e9"
    assert StatusAndHeadersParser.decode_header(b"caf\xe9") == "caf\u00e9"  # not UTF-8
    assert StatusAndHeadersParser.decode_header("as text") == "as text"


def test_a_stop_anywhere_in_reading_leaves_standard_error_as_it_was():
    """The reader sends warcio's prints to a buffer while it reads. With
    contextlib.redirect_stderr, a stop (Ctrl-C, SIGTERM) acted on as its __exit__ began left
    sys.stderr swapped: the ingest's last words ("Terminated: ...") went into the buffer (1
    run in 100 of a SIGTERM to the group; once in CI). Python acts on a signal as a function
    begins (and at a loop's jump back): here a KeyboardInterrupt is raised as each function of
    the reader, its streams and the standard library's context managers begins, in turn, and
    standard error is always put back."""
    import contextlib
    import sys

    from archive import reader, streams
    from archive.reader import CaptureReader

    watched = {reader.__file__, streams.__file__, contextlib.__file__}
    original = sys.stderr
    n, raised = 0, 0
    while True:
        n += 1
        calls = 0

        def tracer(frame, event, arg, n=n):
            nonlocal calls
            if event == "call" and frame.f_code.co_filename in watched:
                calls += 1
                if calls == n:
                    raise KeyboardInterrupt

        sys.settrace(tracer)
        try:
            for _ in CaptureReader(SAMPLE):
                pass
        except KeyboardInterrupt:
            raised += 1
        finally:
            sys.settrace(None)
        assert sys.stderr is original, f"left swapped by a stop at call {n}"
        if calls < n:  # read to the end: every call has had its stop
            break
    assert raised > 20, raised


@pytest.mark.parametrize("merge_at", [1, 2, 7, 4096])
def test_seen_records_are_a_map_whenever_they_merge(merge_at, monkeypatch):
    """``seen.Seen`` (a capture's record ids and payload digests, in sorted arrays) answers as
    a dict would, whatever entries wait in its dict and whatever went into the arrays."""
    import random

    from archive import seen

    monkeypatch.setattr(seen.Seen, "MERGE_AT", merge_at)
    rng = random.Random(merge_at)
    texts = [f"<urn:uuid:{rng.getrandbits(64):x}>" for _ in range(300)] + ["", "é\udc80"]
    held, expected = seen.Seen(), {}
    for n in range(2000):
        text = rng.choice(texts)
        if rng.random() < 0.5:
            assert held.setdefault(text, n) == expected.setdefault(text, n)
        else:
            assert held.get(text) == expected.get(text)
        if n % 97 == 0:
            assert held.add(text) == (text not in expected)
            expected.setdefault(text, 0)
    assert len(held) == len(expected)
    assert [held.get(t) for t in texts] == [expected.get(t) for t in texts]


def test_seen_keys_with_zero_bytes_stay_apart(monkeypatch):
    """NumPy's bytes type drops trailing NULs from what it returns, so a key ends in 1; NULs
    inside a key are kept."""
    from archive import seen

    assert [len(k) == 16 and k[-1] == 1 for k in map(seen._key, ["", "a", "\0"])] == [True] * 3
    monkeypatch.setattr(seen.Seen, "MERGE_AT", 1)
    monkeypatch.setattr(seen, "_key", lambda text: text.encode("latin-1"))
    held = seen.Seen()
    keys = [
        "\0" * 15 + "\1",
        "\0" * 14 + "\1\1",
        "\1" + "\0" * 14 + "\1",
        "\0\1" + "\0" * 13 + "\1",
    ]
    for i, key in enumerate(keys):
        assert held.setdefault(key, i) == i
    assert [held.get(key) for key in keys] == [0, 1, 2, 3]
    assert held.get("\0" * 15 + "\2") is None
