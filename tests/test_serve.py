"""``archive serve``: a real Datasette process, read-only, described by the metadata."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from .server import get_json, serving

pytestmark = pytest.mark.slow


def test_json_api_answers(served):
    base, _ = served
    rows = get_json(f"{base}/archive/claims.json?_shape=array&kind=quote")
    assert any("I am the daughter of Tomas Varga" in r["text"] for r in rows)
    assert all(r["kind"] == "quote" for r in rows)


def test_canned_queries(served):
    base, _ = served
    q = urllib.parse.urlencode({"speaker": "Elena Varga", "_shape": "array"})
    rows = get_json(f"{base}/archive/speaker_quotes.json?{q}")
    assert {r["cue"] for r in rows} >= {"said", "says"}
    # whom the name typed was resolved to is shown (a part showed claims and no name: review)
    assert {r["speaker"] for r in rows} == {"Elena Varga"}
    # a name typed in another case finds the same person (it found nothing: eighth round)
    for typed in ("elena varga", "ELENA VARGA", " Elena varga "):
        q = urllib.parse.urlencode({"speaker": typed, "_shape": "array"})
        assert get_json(f"{base}/archive/speaker_quotes.json?{q}") == rows, typed
    # a part of the name that only her name holds finds her (tenth round: a part found
    # nothing); parts two names hold: tests/test_summaries.py
    for typed in ("elena", " VARGA"):
        q = urllib.parse.urlencode({"speaker": typed, "_shape": "array"})
        assert get_json(f"{base}/archive/speaker_quotes.json?{q}") == rows, typed
    for typed in ("", "   ", "nobody at all"):
        q = urllib.parse.urlencode({"speaker": typed, "_shape": "array"})
        assert get_json(f"{base}/archive/speaker_quotes.json?{q}") == [], typed
    article_id = get_json(f"{base}/archive/articles.json?_shape=array")[0]["id"]
    claims = get_json(f"{base}/archive/claims_of_article.json?article_id={article_id}&_shape=array")
    assert [c["position"] for c in claims] == list(range(24))
    claim_id = claims[0]["claim_id"]
    everywhere = get_json(f"{base}/archive/claim_everywhere.json?claim_id={claim_id}&_shape=array")
    assert [(r["match"], r["claim_id"]) for r in everywhere] == [("exact", claim_id)]
    # an id or a hash as people paste them: in upper case, or a hash by the 12 digits shown
    # under its thumbnail (found nothing: a researcher's review)
    upper = f"{base}/archive/claim_everywhere.json?claim_id={claim_id.upper()}&_shape=array"
    assert get_json(upper) == everywhere
    sha = get_json(f"{base}/archive/images.json?_shape=array")[0]["sha256"]
    uses = get_json(f"{base}/archive/image_everywhere.json?image_sha256={sha}&_shape=array")
    assert uses
    for typed in (sha.upper(), sha[:12], f" {sha[:12].upper()} "):
        q = urllib.parse.urlencode({"image_sha256": typed, "_shape": "array"})
        assert get_json(f"{base}/archive/image_everywhere.json?{q}") == uses, typed
    q = urllib.parse.urlencode({"image_sha256": sha[:7], "_shape": "array"})
    assert get_json(f"{base}/archive/image_everywhere.json?{q}") == []  # too short to say


def test_sql_functions_verify_in_the_browser(served):
    base, _ = served
    sql = (
        "select count(*) as n, sum(archive_verify(statement, signature, "
        "(select public_key from keys where keys.key_id = claims.key_id))) as verified, "
        "sum(archive_text_sha256(text) = text_sha256) as hashes from claims"
    )
    row = get_json(f"{base}/archive.json?_shape=array&sql={urllib.parse.quote(sql)}")[0]
    assert row == {"n": 24, "verified": 24, "hashes": 24}


def test_writes_are_refused(served):
    base, db = served
    sql = urllib.parse.quote("delete from claims")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{base}/archive.json?sql={sql}", timeout=10)
    assert e.value.code == 400
    assert "Statement must be a SELECT" in e.value.read().decode()
    data = json.dumps({"sql": "delete from claims"}).encode()
    req = urllib.request.Request(f"{base}/archive/-/query", data=data, method="POST")
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(req, timeout=10)
    rows = get_json(f"{base}/archive.json?_shape=array&sql=select+count(*)+as+n+from+claims")
    assert rows == [{"n": 24}]


def test_immutable_and_limited(served):
    base, db = served
    # Datasette offers the file for download only when it is served immutable
    with urllib.request.urlopen(f"{base}/archive.db", timeout=10) as r:
        assert r.read() == db.read_bytes()
    settings = get_json(f"{base}/-/settings.json")
    assert settings["sql_time_limit_ms"] == 2000
    assert settings["max_returned_rows"] == 1000


def test_metadata_describes_tables(served):
    base, _ = served
    meta = get_json(f"{base}/-/metadata.json")
    claims = meta["databases"]["archive"]["tables"]["claims"]
    assert "sentence-level" in claims["description"]
    assert "speaker" in claims["columns"]


def test_image_served_with_safe_headers(served):
    base, _ = served
    sha = get_json(f"{base}/archive/images.json?_shape=array")[0]["sha256"]
    with urllib.request.urlopen(f"{base}/-/archive-image/archive/{sha}", timeout=10) as r:
        assert r.headers["Content-Type"] == "image/jpeg"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.read()[:2] == b"\xff\xd8"
    for missing in (f"archive/{'0' * 64}", f"no-such-db/{sha}"):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}/-/archive-image/{missing}", timeout=10)
        assert e.value.code == 404, missing


def test_repeat_requests_come_from_the_cache(served):
    base, _ = served
    url = f"{base}/archive/claims.json?_shape=array&kind=statement"
    with urllib.request.urlopen(url, timeout=10) as first:
        body = first.read()
    with urllib.request.urlopen(url, timeout=10) as second:
        assert second.headers["x-archive-cache"] == "hit"
        assert second.read() == body
    # errors are never cached
    bad = f"{base}/archive.json?sql=delete+from+claims"
    for _ in range(2):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(bad, timeout=10)
        assert e.value.headers["x-archive-cache"] is None


def test_the_response_cache_holds_a_bounded_number_of_bytes():
    """Each distinct query string is an entry: the cache's bodies stay under max_bytes however
    many a reader asks for, and a response over max_body is passed on but not held."""
    import asyncio
    import threading

    from archive.datasette_asgi import ResponseCache

    def _raised(fn) -> list[BaseException]:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed back to the test's thread
            return [e]
        return []

    class Datasette:
        databases: dict = {}

        def plugin_config(self, name):
            return {}

    async def app(scope, receive, send):
        size = int(scope["query_string"].decode().split("=")[1])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for _ in range(size // 1000):  # streamed in chunks
            await send({"type": "http.response.body", "body": b"x" * 1000, "more_body": True})
        await send({"type": "http.response.body", "body": b""})

    cache = ResponseCache(app, Datasette(), max_entries=100, max_body=50_000, max_bytes=200_000)
    sent = []

    async def send(message):
        sent.append(message)

    async def get(size, n):
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": []}
        await cache(dict(scope, query_string=f"n{n}={size}".encode()), None, send)

    async def run():
        for n in range(50):
            await get(40_000, n)
            assert cache.bytes <= 200_000 and cache.bytes == sum(
                len(body) for _, body in cache.entries.values()
            )
        await get(60_000, 99)

    # in a thread of its own: the browser tests' Playwright leaves an event loop running here
    failures = []
    thread = threading.Thread(target=lambda: failures.extend(_raised(lambda: asyncio.run(run()))))
    thread.start()
    thread.join()
    assert not failures, failures
    assert len(cache.entries) == 5  # 5 x 40,000 bytes
    assert sum(len(m.get("body", b"")) for m in sent) == 50 * 40_000 + 60_000  # all passed on


def test_the_metadata_serve_reads_is_the_published_one_and_is_packaged():
    """`archive serve` reads archive/datasette-metadata.json: a link to the root file in a
    checkout, packaged into wheels (pyproject's package-data), so an installed copy serves too."""
    import tomllib

    from archive.serve import metadata_path

    root = Path(__file__).resolve().parent.parent
    assert metadata_path().read_bytes() == (root / "datasette-metadata.json").read_bytes()
    assert metadata_path().parent == root / "archive"
    pyproject = tomllib.loads((root / "pyproject.toml").read_text())
    assert "datasette-metadata.json" in pyproject["tool"]["setuptools"]["package-data"]["archive"]


def test_check_records_shows_a_row_that_is_not_what_was_signed(sample_db, tmp_path):
    """The canned query recomputes the hash and checks the signature; a row edited to say
    something else, with its text hash recomputed to match, must still show: its statement no
    longer matches its columns (found in review: it showed hash_ok=1, verified=1)."""
    import shutil
    import sqlite3

    from archive.checks import _statement_sql
    from archive.datasette_plugin import add_sql_functions
    from archive.hashing import text_sha256

    meta = json.loads(
        (Path(__file__).resolve().parent.parent / "datasette-metadata.json").read_text()
    )
    sql = meta["databases"]["archive"]["queries"]["check_records"]["sql"]
    # the canned query holds verify's own statement checks, as text: kept equal to them
    for table in ("articles", "claims", "image_uses"):
        assert f"coalesce({_statement_sql(table)}, 0) as matches_statement" in sql, table
    db = tmp_path / "copy.db"
    shutil.copy(sample_db, db)
    conn = sqlite3.connect(db)
    add_sql_functions(conn)
    article = "37988c58467bc4cf"

    def checked() -> dict:
        """record id -> (kind, text, hash_ok, matches_statement, verified)"""
        rows = conn.execute(sql, {"article_id": article}).fetchall()
        return {r[7]: (r[0], r[2], *r[3:6]) for r in rows}

    rows = checked()
    assert [kind for kind, *_ in rows.values()] == ["article"] + ["claim"] * 24 + ["image use"] * 2
    assert all(r[2:] == (1, 1, 1) for r in rows.values())
    forged = "Varga told reporters she will sign the closure order."
    conn.execute(
        "UPDATE claims SET text = ?, text_sha256 = ? WHERE id = ?",
        (forged, text_sha256(forged), f"{article}-9"),
    )
    # hash and signature fine, row is not
    assert checked()[f"{article}-9"] == ("claim", forged, 1, 0, 1)
    # the text edited, its hash left: the hash shows it too
    conn.execute("UPDATE claims SET text = text || '!' WHERE id = ?", (f"{article}-5",))
    assert checked()[f"{article}-5"][2:] == (0, 0, 1)
    # the article's title and an image's credit were not checked in the browser at all (found
    # in review); nor the image's bytes
    conn.execute("UPDATE articles SET title = 'Another title' WHERE id = ?", (article,))
    conn.execute("UPDATE image_uses SET credit = 'Someone else' WHERE id = ?", (f"{article}-i0",))
    conn.execute(
        "UPDATE images SET content = CAST(content || x'00' AS BLOB) WHERE sha256 = "
        "(SELECT image_sha256 FROM image_uses WHERE id = ?)",
        (f"{article}-i1",),
    )
    rows = checked()
    assert rows[article] == ("article", "Another title", 1, 0, 1)
    assert rows[f"{article}-i0"][2:] == (1, 0, 1) and rows[f"{article}-i1"][2:] == (0, 1, 1)
    # an image gone from the archive is 0, not empty as an image never captured (fourth review)
    conn.execute("DELETE FROM images WHERE sha256 = (SELECT image_sha256 FROM image_uses "
                 "WHERE id = ?)", (f"{article}-i1",))  # fmt: skip
    assert checked()[f"{article}-i1"][2] == 0
    # a row naming a key the archive does not hold is shown, as not verified (an inner join
    # on keys left it out, and the article looked whole: found in review)
    conn.execute(
        "UPDATE claims SET key_id = 'ed25519:ffffffffffffffff' WHERE id = ?", (f"{article}-3",)
    )
    rows = checked()
    assert len(rows) == 27 and rows[f"{article}-3"][2:] == (1, 0, 0)
    conn.execute("DELETE FROM keys")
    assert {r[4] for r in checked().values()} == {0}
    # a claim and an image use deleted: their positions just skipped a number (a researcher's
    # review); the ledger still names them, and they show as missing
    conn.execute("DELETE FROM claims WHERE id = ?", (f"{article}-11",))
    conn.execute("DELETE FROM image_uses WHERE id = ?", (f"{article}-i0",))
    rows = checked()
    assert rows[f"{article}-11"][0] == "missing claim"
    assert rows[f"{article}-i0"][0] == "missing image use"
    assert rows[f"{article}-11"][2:] == rows[f"{article}-i0"][2:] == (0, 0, 0)
    assert len(rows) == 27
    conn.execute("DELETE FROM articles WHERE id = ?", (article,))
    assert checked()[article][0] == "missing article"


def prolific(sample_db, db: Path, claims: int = 1200) -> list[str]:
    """A copy of the sample archive at ``db`` in which Elena Varga has ``claims`` more claims,
    300 a capture time, all at one place in their articles (two articles captured in the same
    second), and Ann Lee one (``y-0``): the ids of all of Elena Varga's claims, in the order
    speaker_quotes shows them."""
    import shutil
    import sqlite3

    shutil.copy(sample_db, db)
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(claims)")]
    one = conn.execute("SELECT * FROM claims WHERE speaker = 'Elena Varga' LIMIT 1").fetchone()
    row = dict(zip(columns, one, strict=True))
    extra = [
        {**row, "id": f"x-{i}", "position": 7, "captured_at": f"2025-04-{1 + i // 300:02d}"}
        for i in range(claims)
    ] + [{**row, "id": "y-0", "speaker": "Ann Lee", "captured_at": "2025-04-01"}]
    conn.executemany(
        f"INSERT INTO claims ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [[r[c] for c in columns] for r in extra],
    )
    conn.commit()
    expected = [
        r[0]
        for r in conn.execute(
            "SELECT id FROM claims WHERE speaker = 'Elena Varga' "
            "ORDER BY captured_at, position, rowid"
        )
    ]
    conn.close()
    return expected


def test_speaker_quotes_pages_a_hundred_claims_at_a_time(sample_db, tmp_path):
    """A prolific speaker's claims come 100 a page (1,000 at once took ~35 ms as JSON and 271 ms
    as an HTML page at a million claims), a last row leading to the next page by the last
    claim shown: every claim once, in order, the 300 captured at one time too (the next page
    starts after the last claim shown, not after its time), which paging by `from` (1,000 a
    page until the twenty-second round) could not pass."""
    db = tmp_path / "archive.db"
    expected = prolific(sample_db, db)
    query = "speaker=Elena+Varga"
    with serving(db) as base:
        first = get_json(f"{base}/archive/speaker_quotes.json?{query}")
        assert len(first["rows"]) == 101 and first["truncated"] is False
        more = dict(zip(first["columns"], first["rows"][-1], strict=True))
        last = first["rows"][-2][-1]
        assert more["claim_id"] is None and more["speaker"] == "Elena Varga"
        assert more["text"] == f"More claims follow: the next 100 start after {last}."
        # the HTML page leads on to the next
        with urllib.request.urlopen(f"{base}/archive/speaker_quotes?{query}") as r:
            html = r.read().decode()
        assert f'href="/archive/speaker_quotes?speaker=Elena+Varga&amp;after={last}"' in html
        seen, after = [], ""
        while True:
            rows = get_json(
                f"{base}/archive/speaker_quotes.json?{query}&after={after}&_shape=array"
            )
            seen += [r["claim_id"] for r in rows if r["claim_id"]]
            if rows[-1]["claim_id"] is not None:
                break
            after = rows[-2]["claim_id"]
        assert seen == expected and len(seen) > 1200
        # `from` still chooses where the first page starts
        later = get_json(f"{base}/archive/speaker_quotes.json?{query}&from=2025-04-04&_shape=array")
        assert [r["claim_id"] for r in later] == [f"x-{i}" for i in range(900, 1000)] + [None]
        # a claim id in capitals, as the other queries take them
        upper = f"{base}/archive/speaker_quotes.json?{query}&after={last.upper()}&_shape=array"
        assert get_json(upper)[0]["claim_id"] == expected[100]
        # an id that is none of hers (left in the form from another speaker's pages) or her
        # last claim's: said, not an empty page or another speaker's place in time
        other = "y-0"  # Ann Lee's claim, captured among hers
        for after, said in (
            ("nope", "No claim of Elena Varga has the id nope: after takes the claim_id of the "
             "last claim shown (empty: from the first)."),
            (other, f"No claim of Elena Varga has the id {other}: after takes the claim_id of "
             "the last claim shown (empty: from the first)."),
            (expected[-1], f"No claims of Elena Varga come after {expected[-1]}."),
        ):  # fmt: skip
            rows = get_json(
                f"{base}/archive/speaker_quotes.json?{query}&after={after}&_shape=array"
            )
            assert [(r["speaker"], r["text"], r["claim_id"]) for r in rows] == [
                ("Elena Varga", said, None)
            ]


def test_pages_lead_on_to_the_questions(served):
    """A researcher who does not write SQL clicks from a claim to everywhere it appears, from a
    speaker to what they said, from a page to its captures, from an image to where else it
    appears, and from a claim's row to its article (row pages left these unlinked: found in
    review)."""
    import hashlib
    import sqlite3

    from .conftest import SAMPLE

    base, db = served

    def page(path: str) -> str:
        with urllib.request.urlopen(f"{base}{path}", timeout=10) as r:
            return r.read().decode()

    claim = page("/archive/claims/37988c58467bc4cf-3")
    assert 'href="/archive/claim_everywhere?claim_id=37988c58467bc4cf-3"' in claim
    assert 'href="/archive/articles/37988c58467bc4cf"' in claim
    assert 'href="/archive/speaker_quotes?speaker=Elena+Varga"' in page("/archive/speakers")
    # the counts' own tables lead on as their views do
    assert 'href="/archive/speaker_quotes?speaker=Elena+Varga"' in page("/archive/speaker_sites")
    assert 'href="/archive/claims/' in page("/archive/claim_texts")  # its first claim
    # who said it, from the claim itself and from where else it appears (a researcher's review:
    # plain text there); the images of a long list load as they are scrolled to
    assert 'href="/archive/speaker_quotes?speaker=Elena+Varga"' in page(
        "/archive/claims/37988c58467bc4cf-9"
    )
    everywhere = page("/archive/claim_everywhere?claim_id=37988c58467bc4cf-9")
    assert 'href="/archive/speaker_quotes?speaker=Elena+Varga"' in everywhere
    assert 'loading="lazy"' in page("/archive/image_uses")
    article = page("/archive/articles/37988c58467bc4cf")
    assert f'href="/archive/captures/{hashlib.sha256(SAMPLE.read_bytes()).hexdigest()}"' in article
    assert "/archive/page_history?url=https%3A%2F%2Fnorthshore.example%2F" in article
    (sha,) = sqlite3.connect(db).execute("SELECT sha256 FROM images LIMIT 1").fetchone()
    assert f'href="/archive/image_everywhere?image_sha256={sha}"' in page(f"/archive/images/{sha}")
    home = page("/")
    for target in ("/archive/claims", "/archive/speakers", "/archive/image_uses",
                   "/archive/articles", "/archive/check_records"):  # fmt: skip
        assert re.search(rf'href="{target}(\?[^"]*)?"', home), target
    # the links lead with what a reader looks for, not hashes; internal tables are not listed
    assert 'href="/archive/articles?_nocol=capture_sha256&amp;' in home
    assert 'href="/archive/image_uses?image_sha256__notblank=1&amp;' in home
    tables = page("/archive")
    listed = tables.split("hidden tables")[0]
    assert "/archive/claims" in listed
    assert not {"claim_bands", "claim_minhash", "ledger_frontier"} & set(re.findall(r"\w+", listed))


def test_a_page_s_own_url_is_linked_only_when_it_is_a_web_address(sample_db, tmp_path):
    """A captured page names its canonical URL itself: "javascript:..." was made a link that
    would run in the reader's browser (found in review)."""
    import shutil
    import sqlite3

    db = tmp_path / "archive.db"
    shutil.copy(sample_db, db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE articles SET canonical_url = 'javascript:alert(document.domain)'")
    conn.commit()
    conn.close()
    with serving(db) as base:
        for path in ("/archive/articles", "/archive/articles/37988c58467bc4cf"):
            with urllib.request.urlopen(f"{base}{path}", timeout=10) as r:
                html = r.read().decode()
            assert 'href="javascript:' not in html, path
            assert "javascript:alert(document.domain)" in html  # shown, as text
            assert 'href="https://northshore.example/' in html  # the real URL still a link
