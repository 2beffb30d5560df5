"""Real broken captures and odd records (issue 6; what ``archive serve`` exposes:
test_serve_exposure.py).

Helpers here (``warc_file``, ``consistency_problems``, ``run_cli``) are shared with
test_hostile.py, test_crash.py and test_fuzz.py.
"""

from __future__ import annotations

import io
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.cli import cli

from .conftest import DATA

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARED_WARCS = SHARED / "corpus"
BROKEN = DATA / "broken"
ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------------------------
# helpers shared by the robustness test files


def http_response(
    uri: str, body: bytes, content_type: str = "text/html", headers=(), status="200 OK"
):
    """(uri, status, headers, body) for :func:`warc_file`."""
    return (uri, status, [("Content-Type", content_type), *headers], body)


def warc_file(path: Path, responses, gz: bool = True, warc_headers=None) -> Path:
    """Write a WARC of HTTP responses: each is (uri, status, [(name, value)], body)."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=gz)
        for uri, status, headers, body in responses:
            http = StatusAndHeaders(
                status, [*headers, ("Content-Length", str(len(body)))], protocol="HTTP/1.1"
            )
            rec = writer.create_warc_record(
                uri, "response", payload=io.BytesIO(body), http_headers=http
            )
            for name, value in (warc_headers or {}).get(uri, {}).items():
                rec.rec_headers.replace_header(name, value)
            writer.write_record(rec)
    return path


def article_html(title: str, paragraphs: list[str], figures=()) -> bytes:
    """A plain news page the extractor recognises; figures are (src, caption, credit)."""
    import html

    e = html.escape
    figs = "".join(
        f'<figure><img src="{e(src)}" alt="{e(cap)}" width="800" height="600"><figcaption>'
        f'<span class="caption">{e(cap)}</span><span class="credit">© {e(credit)}</span>'
        "</figcaption></figure>"
        for src, cap, credit in figures
    )
    body = "".join(f"<p>{e(p)}</p>" for p in paragraphs)
    page = (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
        f'<meta property="og:title" content="{e(title)}">'
        '<meta property="article:published_time" content="2025-03-07T08:00:00+00:00">'
        f"</head><body><main><article><h1>{e(title)}</h1>{figs}{body}</article></main>"
        "</body></html>"
    )
    return page.encode("utf-8")


FILLER = [
    "The harbour authority in Lakeport said on Friday that the new ferry terminal would open "
    "in the spring after two years of delays caused by flooding and rising costs.",
    "Engineers told the council that the pilings had been driven deeper than first planned, "
    "which added four months to the schedule and nearly a fifth to the budget.",
    "Residents who commute across the bay have waited since 2023 for the terminal, which "
    "replaces a wooden pier that was closed after a storm damaged its supports.",
    "The mayor said the city would publish the final accounts for the project in June, once "
    "the contractors have submitted their last invoices and the auditors have checked them.",
]


def consistency_problems(db_path: Path) -> list[str]:
    """Every capture row must have all its rows and its stored file (no partial capture)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    problems = []
    try:
        home = Path(db_path).parent
        q = conn.execute
        for sha, stored, records, articles, claims, images, skipped, digest in q(
            "SELECT sha256, stored_path, records, articles, claims, images, skipped, "
            "digest_failures FROM captures"
        ):
            actual = {
                "records": q(
                    "SELECT count(*) FROM capture_records WHERE capture_sha256 = ?", (sha,)
                ).fetchone()[0],
                "articles": q(
                    "SELECT count(*) FROM articles WHERE capture_sha256 = ?", (sha,)
                ).fetchone()[0],
                "claims": q(
                    "SELECT count(*) FROM claims JOIN articles a ON a.id = claims.article_id "
                    "WHERE a.capture_sha256 = ?",
                    (sha,),
                ).fetchone()[0],
                "images": q(
                    "SELECT count(*) FROM image_uses u JOIN articles a ON a.id = u.article_id "
                    "WHERE a.capture_sha256 = ? AND u.image_sha256 IS NOT NULL",
                    (sha,),
                ).fetchone()[0],
                "skipped": q(
                    "SELECT count(*) FROM capture_records WHERE capture_sha256 = ? "
                    "AND role IN ('skipped', 'page')",
                    (sha,),
                ).fetchone()[0],
                "digest_failures": q(
                    "SELECT count(*) FROM capture_records WHERE capture_sha256 = ? "
                    "AND digest = 'failed'",
                    (sha,),
                ).fetchone()[0],
            }
            stated = dict(
                records=records,
                articles=articles,
                claims=claims,
                images=images,
                skipped=skipped,
                digest_failures=digest,
            )
            for name, value in stated.items():
                if value != actual[name]:
                    problems.append(f"{sha[:12]} {name}: row says {value}, found {actual[name]}")
            if not (home / stored).is_file():
                problems.append(f"{sha[:12]}: stored copy {stored} missing")
        for table, key in (("claims", "article_id"), ("image_uses", "article_id")):
            orphans = q(
                f"SELECT count(*) FROM {table} WHERE {key} NOT IN (SELECT id FROM articles)"
            ).fetchone()[0]
            if orphans:
                problems.append(f"{orphans} {table} rows without their article")
        orphans = q(
            "SELECT count(*) FROM capture_records WHERE capture_sha256 NOT IN "
            "(SELECT sha256 FROM captures)"
        ).fetchone()[0]
        if orphans:
            problems.append(f"{orphans} capture_records rows without their capture")
    finally:
        conn.close()
    return problems


def run_cli(*args) -> tuple[int, str]:
    """Run the CLI in-process; an uncaught exception is a failure of the test, with its trace."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        import traceback

        trace = "".join(traceback.format_exception(result.exception))
        raise AssertionError(f"archive {' '.join(map(str, args))} raised:\n{trace}")
    return result.exit_code, result.output


def error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("Error:")]


# --------------------------------------------------------------------------------------------
# 1. real broken captures

#: the reason each known-bad file gives; every other file must ingest
EXPECTED_FAILURES = {
    "example-bad-non-chunked.warc.gz": " at offset 0: not a valid WARC/ARC: gzip is not "
    "record-chunked (each record must be its own gzip member; `warcio recompress` can fix the "
    "file)",
    "example-bad.warc.gz.bad": " at offset 0: not a valid WARC/ARC: gzip is not record-chunked",
    "example-wrong-chunks.warc.gz": " at offset 0: truncated (or its gzip members split "
    "records): the response record for http://example.com/ ends 1270 bytes short of its "
    "Content-Length 1613",
    # the ARC header says 1591 bytes; the file ends 12 bytes sooner
    "example-space-in-url.arc": " at offset 151: truncated: the response record for "
    "http://example.com/index.cfm?FuseAction=Email&EmailTitle=Examples%20From%20The%20Live%20Web"
    "&IsPopUp=False ends 12 bytes short of its Content-Length 1591",
    # its ARC headers give lengths of -1 and "abc" (warcio reads such records as empty)
    "bad.arc": " at offset 0: not a valid WARC/ARC: a record's length '-1' is not a number of "
    "bytes",
    "invalid_example_1.wacz": ": WACZ holds no WARC files under archive/",
    "browsertrix-multi-wacz.wacz": ": a package of 2 WACZ files, not one WACZ (",
    # Common Crawl's derived files, named as such: not captures (twelfth round)
    **{
        f"whirlwind.warc.{kind}{gz}": f": a {kind.upper()} file ({what} derived from a capture)"
        for kind, what in (("wat", "metadata"), ("wet", "plain text"))
        for gz in ("", ".gz")
    },
}
#: records that fail their WARC digest check, by file (scoop-example.com.wacz's two file:///
#: records had false failures: their HTTP headers were not read)
EXPECTED_DIGEST_FAILURES = {"example-digest.warc": 1, "example-trunc.warc": 1}


def _shared_files() -> list[Path]:
    if not SHARED_WARCS.is_dir():
        return []
    return sorted(p for d in ("warc", "wacz") for p in (SHARED_WARCS / d).rglob("*") if p.is_file())


def _check_one_capture(path: Path, db: Path) -> None:
    code, output = run_cli("ingest", "--workers", "0", "--db", db, path)
    assert "Traceback" not in output
    errors = error_lines(output)
    expected = EXPECTED_FAILURES.get(path.name)
    if expected:
        assert code == 1, output
        assert len(errors) == 1, output
        assert errors[0].startswith(f"Error: {path}"), errors
        assert errors[0].startswith(f"Error: {path}{expected}"), errors[0]
        if "offset" not in expected and ".wacz" in path.name:
            # a failure about the package as a whole (a ZIP with nothing in it) names no offset
            assert "archive/" in errors[0] or "unpack it" in errors[0]
        assert "1 file: 0 ingested, 0 already in the archive, 1 failed" in output
        if db.exists():
            conn = sqlite3.connect(db)
            assert conn.execute("SELECT count(*) FROM captures").fetchone()[0] == 0
            assert conn.execute("SELECT count(*) FROM capture_records").fetchone()[0] == 0
            conn.close()
        captures = db.parent / "captures"
        assert not captures.exists() or not list(captures.iterdir())
    else:
        assert code == 0, output
        assert not errors, errors
        assert "1 file: 1 ingested" in output
        assert consistency_problems(db) == []
        conn = sqlite3.connect(db)
        failed = conn.execute(
            "SELECT count(*) FROM capture_records WHERE digest = 'failed'"
        ).fetchone()[0]
        conn.close()
        assert failed == EXPECTED_DIGEST_FAILURES.get(path.name, 0)
        if failed:
            assert f"Warning: {failed} records failed their WARC digest check" in output
    if db.exists():
        code, output = run_cli("verify", "--db", db)
        assert code == 0, output
        assert "OK: everything verifies" in output


@pytest.mark.skipif(not SHARED_WARCS.is_dir(), reason="../shared is not present")
@pytest.mark.parametrize("path", _shared_files(), ids=lambda p: p.name)
def test_shared_corpus_ingests_or_fails_in_one_line(path, tmp_path):
    _check_one_capture(path, tmp_path / "records" / "archive.db")


BROKEN_FILES = sorted(BROKEN.iterdir())


@pytest.mark.parametrize("path", BROKEN_FILES, ids=lambda p: p.name)
def test_broken_copies_ingest_or_fail_in_one_line(path, tmp_path):
    """The same check on the Apache-2.0 / CC0 files copied into tests/data/broken/."""
    _check_one_capture(path, tmp_path / "records" / "archive.db")


#: pages that each made the whole capture fail (found in review): odd srcset, width, URL and
#: JSON-LD values
HOSTILE_PAGES = {
    "srcset": '<img srcset=",">',
    "srcset-number": '<img srcset="/a.jpg 1.5.2x">',
    "width": '<img src="/b.jpg" width="\u00b2">',
    "url": '<img src="http://[::1">',
    "graph": '<script type="application/ld+json">{"@graph": 5}</script>',
    "date-list": '<script type="application/ld+json">{"@type": "NewsArticle", '
    '"datePublished": ["2025-03-07"], "headline": {"x": 1}}</script>',
}


def test_one_odd_page_does_not_fail_its_capture(tmp_path):
    good = http_response("https://news.example/good.html", article_html("Good page", FILLER))
    meta = b'<meta property="article:published_time" content="2025-03-07T08:00:00+00:00">'
    odd = [
        http_response(
            f"https://news.example/{name}.html",
            # no meta date: the JSON-LD one is read
            article_html(f"Odd {name}", FILLER)
            .replace(b"<h1>", snippet.encode() + b"<h1>")
            .replace(meta, b""),
        )
        for name, snippet in HOSTILE_PAGES.items()
    ]
    capture = warc_file(tmp_path / "odd.warc.gz", [good, *odd])
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, capture)
    assert code == 0, output
    conn = sqlite3.connect(db)
    urls = {u for (u,) in conn.execute("SELECT url FROM articles")}
    assert "https://news.example/good.html" in urls
    assert len(urls) == 1 + len(HOSTILE_PAGES), urls  # each odd page is read as an article too
    # the list is not taken as text; trafilatura's own date reader finds the day in it
    published = "SELECT published_at FROM articles WHERE url LIKE '%date-list%'"
    assert conn.execute(published).fetchone() == ("2025-03-07",)
    code, output = run_cli("verify", "--db", db)
    assert code == 0, output


def test_an_extraction_error_skips_the_page_not_the_file(tmp_path, monkeypatch):
    """Whatever extraction raises on one page (a bug not found yet), the page is kept as a page
    with a note saying why, and the file's other pages go in."""
    import archive.worker

    real = archive.worker.extract_article

    def extract(html, url):
        if url.endswith("/bad.html"):
            raise IndexError("a bug")
        return real(html, url)

    monkeypatch.setattr(archive.worker, "extract_article", extract)
    pages = [
        http_response(f"https://news.example/{n}.html", article_html(f"Page {n}", FILLER))
        for n in ("good", "bad")
    ]
    capture = warc_file(tmp_path / "two.warc.gz", pages)
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, capture)
    assert code == 0, output
    conn = sqlite3.connect(db)
    assert [u for (u,) in conn.execute("SELECT url FROM articles")] == [
        "https://news.example/good.html"
    ]
    role, note = conn.execute(
        "SELECT role, note FROM capture_records WHERE url = 'https://news.example/bad.html'"
    ).fetchone()
    assert role == "page" and note == "not extracted (IndexError: a bug)"
    assert "https://news.example/bad.html: not extracted (IndexError: a bug)" in output
    assert "Warning:" in output


def test_payload_digest_mismatch_is_recorded_as_failed(tmp_path):
    """A payload changed after the crawler wrote its digest: recorded, counted, not hidden."""
    body = article_html("Ferry terminal", FILLER)
    good = warc_file(
        tmp_path / "good.warc", [http_response("https://news.example/a.html", body)], gz=False
    )
    data = good.read_bytes()
    i = data.index(b"harbour authority")
    bad = tmp_path / "tampered.warc"
    bad.write_bytes(data[:i] + b"HARBOUR" + data[i + 7 :])  # same length, different bytes
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, bad)
    assert code == 0, output
    assert (
        f"Warning: 1 records failed their WARC digest check, in {bad} (1) (see "
        "capture_records.digest)" in output
    )
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT url, digest, role FROM capture_records WHERE type = 'response'"
    ).fetchall()
    assert rows == [("https://news.example/a.html", "failed", "article")]
    assert conn.execute("SELECT digest_failures FROM captures").fetchone() == (1,)
    conn.close()
    assert run_cli("verify", "--db", db)[0] == 0


def test_failed_file_counts_nothing_in_the_summary(tmp_path):
    path = DATA / "warc" / "example-wrong-chunks.warc.gz"
    code, output = run_cli("ingest", "--workers", "0", "--db", tmp_path / "a.db", path)
    assert code == 1
    assert "1 failed; 0 articles, 0 claims, 0 images, 0 skipped" in output


# --------------------------------------------------------------------------------------------
# 5. nothing secret is served


# --------------------------------------------------------------------------------------------
# 6. serving is bound to loopback and limited


def _with_revisits(path: Path, body: bytes, revisit_statuses) -> Path:
    """A WARC: one HTML response, then a revisit of it (same payload digest) per status."""
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        uri = "https://news.example/a.html"
        http = StatusAndHeaders(
            "200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )  # fmt: skip
        original = writer.create_warc_record(
            uri, "response", payload=io.BytesIO(body), http_headers=http
        )
        writer.write_record(original)
        digest = original.rec_headers.get_header("WARC-Payload-Digest")
        date = original.rec_headers.get_header("WARC-Date")
        for status in revisit_statuses:
            headers = StatusAndHeaders(status, [("Content-Type", "text/html")], protocol="HTTP/1.1")
            revisit = writer.create_revisit_record(
                uri, digest=digest, refers_to_uri=uri, refers_to_date=date, http_headers=headers
            )
            writer.write_record(revisit)
    return path


def test_revisits_take_their_own_status_and_the_payload_cap(tmp_path):
    """A revisit gets the payload of the response it refers to, unless its own status says the
    page was not served (a 404 is not the article again); an original over the payload cap
    skips the revisit too, instead of failing the file (found in review)."""
    body = article_html("Revisited", FILLER)
    capture = _with_revisits(tmp_path / "revisits.warc.gz", body, ["200 OK", "404 Not Found"])
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, capture)
    assert code == 0, output
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT type, status, role, note FROM capture_records WHERE url LIKE '%a.html' "
        'ORDER BY "offset"'
    ).fetchall()
    assert [(t, r) for t, _, r, _ in rows] == [
        ("response", "article"), ("revisit", "article"), ("revisit", "skipped")
    ]  # fmt: skip
    assert rows[2][3] == "HTTP status 404"
    big = article_html("Big", FILLER * 2000)
    assert len(big) > 1 << 20
    capture = _with_revisits(tmp_path / "big.warc.gz", big, ["200 OK"])
    db = tmp_path / "records2" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--max-payload-mb", "1", "--db", db, capture)
    assert code == 0, output
    notes = [n for (n,) in sqlite3.connect(db).execute("SELECT note FROM capture_records")]
    assert sum("cap" in (n or "") for n in notes) == 2, notes


def test_a_record_without_content_length_fails_its_file(tmp_path):
    """WARC requires Content-Length; without it warcio reads on into the next record (found in
    review: the first page's payload swallowed the second page)."""
    pages = [
        http_response(f"https://news.example/{n}.html", article_html(f"Page {n}", FILLER))
        for n in ("one", "two")
    ]
    good = warc_file(tmp_path / "good.warc", pages, gz=False)
    data = good.read_bytes()
    start = data.index(b"WARC-Type: response")
    line = data.index(b"Content-Length:", start)
    cut = tmp_path / "no-length.warc"
    cut.write_bytes(data[:line] + data[data.index(b"\r\n", line) + 2 :])
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, cut)
    assert code == 1, output
    assert error_lines(output) == [
        f"Error: {cut} at offset {data.rindex(b'WARC/1.', 0, start)}: not a valid WARC/ARC: a "
        "record has no Content-Length"
    ], output


def test_a_sentence_a_page_had_twice_and_now_has_once_is_a_change(tmp_path):
    """Page versions are compared as counted lists: 24 claims then 23, the same sentence once
    fewer, is one removal (found in review: compared as sets, it was 'no changes')."""
    url = "https://news.example/twice.html"
    twice = article_html("Twice", [FILLER[0], FILLER[1], FILLER[0], FILLER[2]])
    once = article_html("Twice", [FILLER[0], FILLER[1], FILLER[2]])
    files = [
        warc_file(
            tmp_path / f"{day}.warc.gz",
            [http_response(url, body)],
            warc_headers={url: {"WARC-Date": f"2025-03-0{day}T09:00:00Z"}},
        )
        for day, body in ((1, twice), (2, once))
    ]
    db = tmp_path / "records" / "archive.db"
    code, output = run_cli("ingest", "--workers", "0", "--db", db, *files)
    assert code == 0, output
    rows = sqlite3.connect(db).execute("SELECT target, change, old_text FROM changes").fetchall()
    assert rows == [("claim", "removed", FILLER[0])], rows
