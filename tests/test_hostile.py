"""Hostile content: script in article text stays text, in the database and in the browser.

Also hostile packaging (WACZ path traversal) and malformed captures, each with a clear message.
"""

from __future__ import annotations

import gzip
import html
import sqlite3
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive.ingest import Ingester
from archive.keys import Signer

from .conftest import FIXED_TIME, SAMPLE
from .server import serving
from .test_ingest import dump
from .test_robustness import FILLER, error_lines, http_response, run_cli, warc_file

SCRIPT = "<script>window.__pwned=1;alert(1)</script>"
IMG = '<img src=x onerror="window.__pwned=1;alert(1)">'
JS_LINK = '<a href="javascript:window.__pwned=1;alert(1)">read more</a>'
SVG = '<svg onload="window.__pwned=1;alert(1)"></svg>'
PAYLOADS = [SCRIPT, IMG, JS_LINK, SVG]

PAGE_URL = "https://hostile.example/2025/03/07/ferry.html"
IMAGE_URL = "https://hostile.example/img/ferry.jpg"
SVG_URL = "https://hostile.example/img/evil.svg"


def hostile_page() -> bytes:
    """A news page whose visible text, caption and credit hold markup as literal text.

    The page also carries live hostile markup (a script, an onerror image, a javascript: link)
    that must not survive extraction as markup.
    """
    e = html.escape
    paragraphs = [
        f"The council published the notice {SCRIPT} on its website on Friday morning.",
        f"Readers who opened the attachment saw the text {IMG} where a photo should have been.",
        f"A link in the notice, {JS_LINK}, pointed at a script instead of a page.",
        f"Officials said the markup {SVG} had been pasted in by mistake from a template.",
        *FILLER,
    ]
    body = "".join(f"<p>{e(p)}</p>" for p in paragraphs)
    figure = (
        f'<figure><img src="{IMAGE_URL}" alt="{e(IMG)}" width="800" height="600">'
        f'<figcaption><span class="caption">The new terminal {e(SCRIPT)}</span>'
        f'<span class="credit">© Ann Lee {e(IMG)}</span></figcaption></figure>'
        f'<figure><img src="{SVG_URL}" alt="diagram" width="800" height="600">'
        f'<figcaption><span class="caption">A diagram {e(JS_LINK)}</span>'
        '<span class="credit">© Bo Park</span></figcaption></figure>'
    )
    live = (
        "<script>window.__pwned=1;alert(1)</script>"
        '<img src="x" onerror="window.__pwned=1" width="1" height="1">'
        '<p><a href="javascript:window.__pwned=1">Click here to continue reading</a></p>'
    )
    page = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Ferry notice {e(SCRIPT)}</title>"
        '<meta property="article:published_time" content="2025-03-07T08:00:00+00:00">'
        f"</head><body><main><article><h1>Ferry notice</h1>{figure}{body}{live}</article>"
        "</main></body></html>"
    )
    return page.encode("utf-8")


def _jpeg() -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 120, 200)).save(buf, "JPEG")
    return buf.getvalue()


def hostile_capture(path: Path) -> Path:
    svg = f'<svg xmlns="http://www.w3.org/2000/svg">{SCRIPT}</svg>'.encode()
    return warc_file(
        path,
        [
            http_response(PAGE_URL, hostile_page(), content_type="text/html; charset=utf-8"),
            http_response(IMAGE_URL, _jpeg(), content_type="image/jpeg"),
            http_response(SVG_URL, svg, content_type="image/svg+xml"),
        ],
    )


@pytest.fixture(scope="module")
def hostile_db(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("hostile")
    db = root / "records" / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.generate()), clock=lambda: FIXED_TIME)
    for capture in (hostile_capture(root / "hostile.warc.gz"), SAMPLE):
        result = ingester.ingest_file(capture)
        assert result.status == "ingested", result.error
    ingester.conn.close()
    return db


def test_markup_is_stored_as_text(hostile_db):
    conn = sqlite3.connect(hostile_db)
    claims = [r[0] for r in conn.execute("SELECT text FROM claims")]
    text = "\n".join(claims)
    for payload in PAYLOADS:
        assert payload in text, payload  # literally, not escaped and not dropped
    uses = conn.execute(
        "SELECT url, alt, caption, credit FROM image_uses WHERE url LIKE '%hostile%' ORDER BY "
        "position"
    ).fetchall()
    assert uses[0] == (IMAGE_URL, IMG, f"The new terminal {SCRIPT}", f"Ann Lee {IMG}")
    assert uses[1][2] == f"A diagram {JS_LINK}"
    article = conn.execute("SELECT text FROM articles WHERE url = ?", (PAGE_URL,)).fetchone()[0]
    # live markup (a script element, onerror, a javascript: href) was dropped by extraction:
    # the only "__pwned" left are the literal payloads written as text
    assert article.count("window.__pwned") == len(PAYLOADS)
    conn.close()
    assert run_cli("verify", "--db", hostile_db)[0] == 0


@pytest.mark.slow
def test_svg_images_are_not_served_as_svg(hostile_db):
    """An SVG can carry script: it is stored (hashed) but never served with its own type."""
    from .server import serving as _serving

    conn = sqlite3.connect(hostile_db)
    row = conn.execute(
        "SELECT i.sha256, i.mime_type FROM images i JOIN image_uses u ON u.image_sha256 = i.sha256 "
        "WHERE u.url = ?",
        (SVG_URL,),
    ).fetchone()
    conn.close()
    assert row is not None and row[1] == "image/svg+xml"
    import urllib.error
    import urllib.request

    with _serving(hostile_db) as base:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}/-/archive-image/archive/{row[0]}", timeout=10)
        assert e.value.code == 404


# --------------------------------------------------------------------------------------------
# the browser: nothing runs


@pytest.mark.slow
@pytest.mark.browser
def test_no_script_runs_in_datasette(browser, hostile_db):
    conn = sqlite3.connect(hostile_db)
    claim_id = conn.execute(
        "SELECT id FROM claims WHERE text LIKE ? LIMIT 1", (f"%{SCRIPT}%",)
    ).fetchone()[0]
    use_id = conn.execute("SELECT id FROM image_uses WHERE url = ?", (IMAGE_URL,)).fetchone()[0]
    article_id = conn.execute("SELECT id FROM articles WHERE url = ?", (PAGE_URL,)).fetchone()[0]
    conn.close()
    dialogs: list[str] = []
    with serving(hostile_db) as base:
        pages = {
            f"{base}/archive/claims?article_id={article_id}&_size=100": [SCRIPT, IMG, JS_LINK],
            f"{base}/archive/image_uses?article_id={article_id}": [
                f"The new terminal {SCRIPT}",
                f"Ann Lee {IMG}",
            ],
            f"{base}/archive/claims/{claim_id}": [SCRIPT],
            f"{base}/archive/image_uses/{use_id}": [f"Ann Lee {IMG}"],
            f"{base}/archive/articles/{article_id}": [SVG],
        }
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        for url, visible in pages.items():
            page.goto(url)
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)  # give onerror / onload handlers a chance to fire
            assert page.evaluate("() => typeof window.__pwned") == "undefined", url
            text = page.inner_text("body")
            for literal in visible:
                assert literal in text, (url, literal)  # shown as text, whole
            # no element the payloads would have created
            hostile = page.evaluate(
                """() => [...document.querySelectorAll('*')].filter(e =>
                     [...e.attributes].some(a => a.name.startsWith('on')) ||
                     (e.getAttribute('href') || '').trim().startsWith('javascript:') ||
                     (e.tagName === 'SCRIPT' && e.textContent.includes('__pwned')))
                     .map(e => e.outerHTML)"""
            )
            assert hostile == [], (url, hostile)
        page.close()
    assert dialogs == []


# --------------------------------------------------------------------------------------------
# hostile packaging and malformed captures: clear messages


def _wacz(path: Path, names: list[str]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name in names:
            zf.writestr(name, SAMPLE.read_bytes() if name.endswith(".warc.gz") else b"{}")
    return path


@pytest.mark.parametrize(
    "name",
    [
        "../evil.warc.gz",
        "archive/../../evil.warc.gz",
        "/etc/evil.warc.gz",
        "archive\\..\\x.warc.gz",
    ],
)
def test_wacz_with_unsafe_paths_is_refused(tmp_path, name):
    wacz = _wacz(tmp_path / "evil.wacz", ["datapackage.json", "archive/data.warc.gz", name])
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, wacz)
    assert code == 1
    assert error_lines(output) == [f"Error: {wacz}: unsafe path in WACZ refused: {name!r}"]
    assert not (tmp_path / "evil.warc.gz").exists() and not Path("/etc/evil.warc.gz").exists()
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM captures").fetchone() == (0,)
    conn.close()
    assert not list((tmp_path / "records" / "captures").glob("*"))


def _raw_record(headers: bytes, body: bytes, date=b"2025-03-07T09:30:00Z", rid=None, uri=None):
    """One uncompressed WARC response record, bytes as given (no library cleans them up)."""
    rid = rid or b"<urn:uuid:11111111-1111-1111-1111-111111111111>"
    uri = uri or PAGE_URL.encode()
    http = b"HTTP/1.1 200 OK\r\n" + headers + b"Content-Length: %d\r\n\r\n" % len(body) + body
    return (
        b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Record-ID: "
        + rid
        + b"\r\nWARC-Date: "
        + date
        + b"\r\nWARC-Target-URI: "
        + uri
        + b"\r\nContent-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n"
        % len(http)
        + http
        + b"\r\n\r\n"
    )


def _page() -> bytes:
    from .test_robustness import article_html

    return article_html("Ferry terminal", FILLER)


def test_non_utf8_http_headers_are_read(tmp_path):
    warc = tmp_path / "latin1.warc"
    warc.write_bytes(
        _raw_record(
            b"Content-Type: text/html; charset=utf-8\r\nX-Title: caf\xe9 \xff\xfe\r\n"
            b"Set-Cookie: \x80\x81\x82\r\n",
            _page(),
        )
    )
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 0, output
    assert "1 file: 1 ingested, 0 already in the archive, 0 failed; 1 article" in output
    assert run_cli("verify", "--db", db)[0] == 0


def test_long_header_lines_spanning_buffers_are_read(tmp_path):
    """Header lines longer than warcio's 16 KiB reads (a long cookie, a long URL) are read
    whole, gzipped or not."""
    uri = PAGE_URL.encode() + b"?q=" + b"x" * 40_000
    record = _raw_record(
        b"Content-Type: text/html\r\nSet-Cookie: " + b"c" * 100_000 + b"\r\n", _page(), uri=uri
    )
    for name, data in (("long.warc", record), ("long.warc.gz", gzip.compress(record))):
        (tmp_path / name).write_bytes(data)
        db = tmp_path / f"{name}.db"
        code, output = run_cli("ingest", "--workers", "0", "--db", db, tmp_path / name)
        assert code == 0, output
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT url FROM articles").fetchall() == [(uri.decode(),)]
        conn.close()


@pytest.mark.parametrize("gz", [False, True], ids=["warc", "warc.gz"])
@pytest.mark.parametrize("where", ["WARC", "HTTP"])
def test_giant_header_line_is_refused(tmp_path, gz, where):
    """A header line of megabytes (warcio reads one in time that grows with the square of its
    length; a few KB of gzip hold one of gigabytes) is refused in one line, the archive as it
    was."""
    long = b"x" * (5 << 20)
    good = _raw_record(b"Content-Type: text/html\r\n", _page())
    bad = _raw_record(
        b"Content-Type: text/html\r\n" + (b"X-Long: " + long + b"\r\n" if where == "HTTP" else b""),
        _page(),
        rid=b"<urn:uuid:22222222-2222-2222-2222-222222222222>",
        uri=PAGE_URL.encode() + (b"?" + long if where == "WARC" else b"2"),
    )
    pack = gzip.compress if gz else bytes
    warc = tmp_path / ("giant.warc.gz" if gz else "giant.warc")
    warc.write_bytes(pack(good) + pack(bad))
    db = tmp_path / "records" / "archive.db"
    assert run_cli("ingest", "--workers", "0", "--db", db, SAMPLE)[0] == 0
    before = dump(db)
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 1
    # where the record before it ends (in a plain WARC, before the blank lines between them)
    offset = len(pack(good)) if gz else len(good) - 4
    assert error_lines(output) == [
        f"Error: {warc} at offset {offset}: not a valid WARC/ARC: a record's headers are longer "
        "than 1,048,576 bytes"
    ]
    assert dump(db) == before


def test_duplicate_record_ids_are_warnings_and_notes(tmp_path):
    warc = tmp_path / "dup.warc"
    first = _raw_record(b"Content-Type: text/html\r\n", _page())
    second = _raw_record(b"Content-Type: text/html\r\n", _page(), uri=b"https://x.example/b.html")
    warc.write_bytes(first + second)
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 0, output
    assert (
        f"Warning: {warc} at offset {len(first)}: duplicate WARC-Record-ID "
        "<urn:uuid:11111111-1111-1111-1111-111111111111>" in output
    )
    conn = sqlite3.connect(db)
    notes = conn.execute('SELECT "offset", role, note FROM capture_records ORDER BY 1').fetchall()
    conn.close()
    assert notes == [(0, "article", None), (len(first), "article", "duplicate WARC-Record-ID")]


def test_invalid_warc_date_is_reported(tmp_path):
    warc = tmp_path / "date.warc"
    warc.write_bytes(_raw_record(b"Content-Type: text/html\r\n", _page(), date=b"yesterday noon"))
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert "invalid WARC-Date 'yesterday noon'" in output
    conn = sqlite3.connect(db)
    assert "invalid WARC-Date" in (conn.execute("SELECT note FROM capture_records").fetchone()[0])


def test_invalid_warc_date_does_not_break_ingest_or_verify(tmp_path):
    warc = tmp_path / "date.warc"
    warc.write_bytes(_raw_record(b"Content-Type: text/html\r\n", _page(), date=b"yesterday noon"))
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 0 and "1 ingested" in output
    assert run_cli("verify", "--db", db)[0] == 0


def test_empty_and_html_pretending_to_be_warc(tmp_path):
    import gzip

    empty = tmp_path / "empty.warc"
    empty.write_bytes(b"")
    fake = tmp_path / "page.warc.gz"
    fake.write_bytes(b"<!DOCTYPE html><html><body><h1>Sign in</h1></body></html>\n")
    fake_gz = tmp_path / "gz-page.warc.gz"
    fake_gz.write_bytes(gzip.compress(b"<html><body>not a capture</body></html>"))
    zip_not_wacz = tmp_path / "notes.wacz"
    zip_not_wacz.write_bytes(b"PK\x03\x04 this is not really a zip file")
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli(
        "ingest", "--workers", "0", "--db", db, empty, fake, fake_gz, zip_not_wacz
    )
    assert code == 1
    errors = error_lines(output)
    assert len(errors) == 4, output
    assert errors[0] == f"Error: {empty}: empty file"
    assert errors[1].startswith(f"Error: {fake} at offset 0: not a WARC or ARC file: it begins '")
    assert errors[2] == (
        f"Error: {fake_gz} at offset 0: not a WARC or ARC file: it begins '<html><body>not a "
        "capture</body></html>', not a WARC version line or an ARC file's filedesc:// header"
    )
    # a ZIP's directory is at its end: one cut short has none (archivist review: "File is not
    # a zip file" did not say so)
    assert errors[3] == (
        f"Error: {zip_not_wacz}: not a readable WACZ (ZIP) file: it starts as a ZIP but has no "
        "ZIP directory at its end (cut short?)"
    )
    assert "4 files: 0 ingested, 0 already in the archive, 4 failed" in output


def test_a_long_run_of_capitalised_words_is_read_in_linear_time():
    """A proper-noun phrase is at most twelve words: unbounded, a sentence of capitalised words
    ("Elena Varga " * 2000, 24 KB, from a page that compresses to nothing) took seconds in the
    square of its length. The bound is checked by what NAME matches, not by a timing."""
    import re

    from archive.speakers import NAME, SpeakerResolver

    assert re.fullmatch(NAME, " ".join(["Elena"] * 12))
    assert not re.fullmatch(NAME, " ".join(["Elena"] * 13))
    att = SpeakerResolver([]).attribute("Elena Varga " * 2000 + "said it was fine.")
    assert att.speaker_mention is None or len(att.speaker_mention.split()) <= 12


@pytest.mark.parametrize(
    "date, finding",
    [
        (b"2025-03-07T14:30:00+05:00", "WARC-Date '2025-03-07T14:30:00+05:00' is not in UTC"),
        (None, "no WARC-Date"),
    ],
)
def test_dates_that_do_not_sort_in_time_are_reported(tmp_path, date, finding):
    """captured_at is stored as the capture says and ordered as text, which is time order for
    UTC dates only: an offset date or none at all is a warning and a note (found in review: a
    missing date made a capture 'first seen' silently)."""
    record = _raw_record(b"Content-Type: text/html\r\n", _page(), date=date or b"")
    if date is None:
        record = record.replace(b"WARC-Date: \r\n", b"")
    warc = tmp_path / "date.warc"
    warc.write_bytes(record)
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, warc)
    assert code == 0, output
    assert f"Warning: {warc} at offset 0: {finding}" in output
    note = sqlite3.connect(db).execute("SELECT note FROM capture_records").fetchone()[0]
    assert finding.split(" is not")[0] in note


def test_the_start_of_a_file_that_is_not_text_is_shown_in_hex():
    """Random bytes named as a capture were quoted as replacement characters and control codes
    (an archivist's review); text is quoted as before."""
    from archive.capture_files import first_line

    assert first_line(b"<html><body>hi\nmore") == "'<html><body>hi'"
    assert first_line(bytes(range(0xE0, 0xF0))) == (
        "with the bytes e0 e1 e2 e3 e4 e5 e6 e7 e8 e9 ea eb ... (not text)"
    )
    assert first_line(b"ok\x00\x01") == "with the bytes 6f 6b 00 01 (not text)"
    # a character cut where the reading stopped is still text; a newline first is skipped
    assert first_line("<html>привет".encode()[:-1]) == "'<html>приве'"
    assert first_line(b"\n\x00\x01") == "with the bytes 00 01 (not text)"
