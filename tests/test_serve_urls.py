"""What a reader's URLs get from ``archive serve``: mistakes answered as mistakes (4xx, not
500), nothing about the server shown, a cache that serves each reader their own page, an
article's rows in reading order and links on to the questions (a real Datasette process)."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from markupsafe import escape

from .server import get_json

pytestmark = pytest.mark.slow


def test_a_bad_sort_in_a_url_is_the_reader_s_mistake(served):
    """Datasette 0.65 answered ``?_sort=nope`` with a 500 page (found in the UI review)."""
    base, _ = served
    for path in ("/archive/claims.json?_sort=nope", "/archive/speakers?_sort_desc=nope",
                 "/archive/claims?_sort=text&_sort_desc=text"):  # fmt: skip
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{base}{path}", timeout=10)
        assert e.value.code == 400, path
        assert "Cannot " in e.value.read().decode(), path
    assert get_json(f"{base}/archive/claims.json?_sort=position&_shape=array")


def test_long_values_are_cut_on_table_pages_only(served):
    """An article's whole text in the articles table made each row screens tall (UI review):
    table pages cut it, its row page and the JSON keep it whole."""
    base, _ = served
    (article,) = get_json(f"{base}/archive/articles.json?_shape=array&_size=1")
    text = article["text"]
    assert len(text) > 600

    def page(path: str) -> str:
        with urllib.request.urlopen(f"{base}{path}", timeout=10) as r:
            return r.read().decode()

    cut = escape(text[:500]) + "\u2026"
    assert cut in page("/archive/articles?_size=1")
    assert escape(text) in page(f"/archive/articles/{article['id']}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _status(url: str, method: str = "GET", headers: dict | None = None) -> tuple[int, str, dict]:
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, r.read().decode(), {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(), {k.lower(): v for k, v in e.headers.items()}


def test_more_url_mistakes_are_the_reader_s_not_500s(served):
    """Datasette 0.65 answered these with its own failure page, a 500 (found in review)."""
    base, _ = served
    for path, status, says in [
        ("/archive/speakers?_next=abc", 400, "_next must be a whole number"),
        ("/archive/claim_appearances?_next=x", 400, "_next must be a whole number"),
        ("/archive/claims?_timelimit=abc", 400, "_timelimit must be a whole number"),
        ("/archive/claims?_through=nope", 400, "_through must be JSON"),
        # found in the second review: other _through and _next mistakes, the wrong name
        ("/archive/claims?_through=%7B%7D", 400, "_through must be JSON"),
        ("/archive/claims?_through=%5B1%5D", 400, "_through must be JSON"),
        ("/archive/claims?_through=%7B%22table%22:%22no%22,%22column%22:%22x%22,%22value%22:1%7D",
         400, "_through must be JSON"),
        ("/archive/speakers?_next=99999999999999999999999", 400, "is not a place on this page"),
        ("/archive/claims?_timelimit=12abc&_next=37988c58467bc4cf-10", 400,
         "_timelimit must be a whole number, not &#39;12abc&#39;"),
        # a quote mark alone, as pasted with a quotation: "Invalid SQL" (a researcher's review)
        ("/archive/claims?_search=%22", 400, "_search: give words to look for"),
        ("/archive/articles?_search=%22%22", 400, "_search: give words to look for"),
    ]:  # fmt: skip
        code, body, _ = _status(f"{base}{path}")
        assert code == status and says in body, (path, code, body[:300])
    code, body, headers = _status(f"{base}/archive/claim_everywhere?claim_id=x", method="POST")
    assert code == 405 and "read-only" in body, (code, body[:300])
    assert headers["allow"] == "GET, HEAD"
    assert _status(f"{base}/archive/claims", method="POST")[0] == 405


def test_a_date_typed_day_first_is_refused_not_read_as_text(served):
    """speaker_quotes compares `from` with the capture times as text: 08/03/2025 came before
    every ISO time and showed every claim, as if no date were given (a researcher's review).
    A date the times can be compared with is taken, trimmed; anything else is a 400 saying so."""
    base, _ = served
    who = "speaker=Elena+Varga&_shape=array"
    every = get_json(f"{base}/archive/speaker_quotes.json?{who}")
    assert every
    first = min(row["captured_at"] for row in every)  # as 2025-03-07T09:30:00Z
    day_after = f"{first[:8]}{int(first[8:10]) + 1:02d}"
    for typed, expected in [
        ("", every), ("2025", every), (first[:7], every), (first[:10], every), (first, every),
        (f" {first} ", every), (first[:16], every),
        (day_after, []), (f"{first[:17]}01Z", []), (f"{first[:19]}.000Z", every),
        (f"{first[:17]}01.250Z", []),  # a WARC/1.1 time, as the archive shows one (refused)
    ]:  # fmt: skip
        q = urllib.parse.urlencode({"from": typed})
        assert get_json(f"{base}/archive/speaker_quotes.json?{who}&{q}") == expected, typed
    for typed in (
        "08/03/2025",
        "2025-3-8",
        "March 2025",
        "2025-03-08 12:00",
        "2025-03-08T12.5",
    ):
        q = urllib.parse.urlencode({"from": typed})
        for suffix in (".json", "", ".csv"):
            code, body, _ = _status(f"{base}/archive/speaker_quotes{suffix}?{who}&{q}")
            assert code == 400 and "from: give a date or time year first" in body, (typed, body)
        # the query's name as Datasette also reads it, tilde-encoded (it passed unchecked)
        code, body, _ = _status(f"{base}/archive/speaker~5Fquotes.json?{who}&{q}")
        assert code == 400 and "from: give a date or time year first" in body, (typed, body)
    # another query's parameters are not looked at
    code, _, _ = _status(f"{base}/archive/claim_everywhere.json?claim_id=x&from=08/03/2025")
    assert code == 200


def test_no_page_names_where_the_database_sits_on_the_server(served):
    """/-/databases.json and SQL over pragma_database_list gave the database's path, and
    /-/threads.json the code's (found in review)."""
    base, db = served
    for path in ("/-/databases.json", "/-/databases", "/-/threads.json", "/-/threads"):
        assert _status(f"{base}{path}")[0] == 404, path
    sql = urllib.parse.quote("select * from pragma_database_list")
    code, body, _ = _status(f"{base}/archive.json?sql={sql}")
    assert code == 200 and json.loads(body)["rows"] == [] and str(db.parent) not in body
    assert get_json(f"{base}/archive.json?sql=select+1&_shape=array") == [{"1": 1}]


def test_the_cache_keeps_each_host_s_page_and_no_cookie(served):
    """The cache answered every reader with the page made for the first one's Host header
    (its absolute links), and replayed one reader's CSRF cookie to all (found in review)."""
    base, _ = served
    url = f"{base}/archive/claims.json?_size=2&_cachetest=1"
    _, forged, _ = _status(url, headers={"Host": "evil.example"})
    assert "evil.example" in forged
    _, body, headers = _status(url)
    assert "evil.example" not in body and headers.get("x-archive-cache") != "hit"
    assert _status(url)[2].get("x-archive-cache") == "hit"
    # the scheme too: uvicorn takes X-Forwarded-Proto from a proxy on 127.0.0.1
    _, https, headers = _status(url, headers={"X-Forwarded-Proto": "https"})
    assert headers.get("x-archive-cache") != "hit"
    assert json.loads(https)["next_url"].startswith("https://")
    assert json.loads(_status(url)[1])["next_url"].startswith("http://127.0.0.1")
    first, second = (_status(f"{base}/-/messages")[2] for _ in range(2))
    assert "ds_csrftoken" in first.get("set-cookie", "")
    assert second.get("x-archive-cache") != "hit"


def test_sql_hash_functions_take_text_or_bytes_only(served):
    """archive_sha256(5) was the hash of five zero bytes (and of 10**9 a gigabyte held in
    memory); archive_normalize(5) an error page (found in review): numbers are NULL."""
    base, _ = served
    sql = urllib.parse.quote(
        "select archive_sha256(5) as n, archive_sha256(x'00') as b, archive_sha256('a') as t, "
        "archive_normalize(5) as m, archive_text_sha256(1.5) as f"
    )
    (row,) = get_json(f"{base}/archive.json?sql={sql}&_shape=array")
    assert row == {
        "n": None,
        "b": "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "t": "ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
        "m": None,
        "f": None,
    }


def test_an_article_s_claims_are_listed_in_reading_order(served):
    """The "rows from article_id in claims" link on an article's page listed its claims by id,
    as text: 0, 1, 10, 11... (found in review). Such a page is sent to `_sort=position`."""
    base, _ = served
    (article,) = get_json(f"{base}/archive/articles.json?_shape=array&_size=1")
    with urllib.request.urlopen(
        f"{base}/archive/claims?article_id={article['id']}", timeout=10
    ) as r:
        assert r.url.endswith(f"article_id={article['id']}&_sort=position"), r.url
        page = r.read().decode()
    ids = re.findall(rf'href="/archive/claims/({article["id"]}-\d+)"', page)
    positions = [int(i.rsplit("-", 1)[1]) for i in dict.fromkeys(ids)]
    assert len(positions) > 10 and positions == sorted(positions), positions
    # the redirect stays on the path asked for: an absolute one built from it led off the site
    request = urllib.request.Request(f"{base}/%5Cevil.example/claims?article_id=1")
    opener = urllib.request.build_opener(NoRedirect)
    try:
        response = opener.open(request, timeout=10)
        code, location = response.status, response.headers.get("location")
    except urllib.error.HTTPError as e:
        code, location = e.code, e.headers.get("location")
    assert location is None or location.startswith("?"), (code, location)
    # a page sorted or not filtered by article is left as asked
    with urllib.request.urlopen(f"{base}/archive/claims?_sort=text", timeout=10) as r:
        assert r.url.endswith("/archive/claims?_sort=text")


def test_an_article_leads_to_its_claims_and_their_check_and_ledger_ids_to_records(served):
    """check_records and claims_of_article were reached only by pasting an article id, and a
    ledger entry's record_id was plain text (found in review)."""
    base, _ = served
    (article,) = get_json(f"{base}/archive/articles.json?_shape=array&_size=1")
    with urllib.request.urlopen(f"{base}/archive/articles/{article['id']}", timeout=10) as r:
        page = r.read().decode()
    for query, text in (
        ("claims_of_article", "its claims"),
        ("check_records", "check its records"),
    ):
        assert f'href="/archive/{query}?article_id={article["id"]}">{text}</a>' in page, query
    # each record check_records lists leads to its row (fourth review)
    with urllib.request.urlopen(
        f"{base}/archive/check_records?article_id={article['id']}", timeout=10
    ) as r:
        page = r.read().decode()
    for table, rid in (("articles", ""), ("claims", "-0"), ("image_uses", "-i0")):
        assert f'href="/archive/{table}/{article["id"]}{rid}"' in page, table
    with urllib.request.urlopen(f"{base}/archive/ledger?record_table=articles", timeout=10) as r:
        page = r.read().decode()
    assert f'href="/archive/articles/{article["id"]}"' in page


def test_a_pasted_parameter_s_spaces_do_not_empty_the_answer(served):
    """A name or id pasted with a space around it gave "0 results" and no hint (review)."""
    base, _ = served
    for query, params in [
        ("speaker_quotes", {"speaker": "Elena Varga"}),
        ("claim_everywhere", {"claim_id": "37988c58467bc4cf-3"}),
        ("claims_of_article", {"article_id": "37988c58467bc4cf"}),
        ("page_history", {"url": "https://northshore.example/2025/03/07/who-is-elena-varga.html"}),
    ]:
        exact = get_json(
            f"{base}/archive/{query}.json?_shape=array&{urllib.parse.urlencode(params)}"
        )
        padded = {k: f" {v}\t" for k, v in params.items()}
        pasted = get_json(
            f"{base}/archive/{query}.json?_shape=array&{urllib.parse.urlencode(padded)}"
        )
        assert exact and pasted == exact, query
    # an article id in capitals, or one of its claims' ids, where an article id is asked for
    # found nothing (a researcher's review)
    for query in ("claims_of_article", "check_records"):
        exact = get_json(f"{base}/archive/{query}.json?_shape=array&article_id=37988c58467bc4cf")
        assert len(exact) > 20, query
        for typed in ("37988C58467BC4CF", "37988c58467bc4cf-3", " 37988C58467BC4CF-12 "):
            q = urllib.parse.urlencode({"article_id": typed})
            assert get_json(f"{base}/archive/{query}.json?_shape=array&{q}") == exact, typed
        for typed in ("37988c58467bc4c", "37988c58467bc4cf3", "x-37988c58467bc4cf"):
            q = urllib.parse.urlencode({"article_id": typed})
            assert get_json(f"{base}/archive/{query}.json?_shape=array&{q}") == [], typed


def test_a_canned_query_s_browser_tab_shows_its_title_not_its_sql(served):
    """Datasette 0.65 titles a query page with its SQL, even a canned query with hide_sql: the
    browser tab of every question read "archive: with me as (select ..." (found in review)."""
    base, _ = served
    with urllib.request.urlopen(
        f"{base}/archive/claim_everywhere?claim_id=37988c58467bc4cf-3", timeout=10
    ) as r:
        page = r.read().decode()
    (title,) = re.findall(r"<title>(.*?)</title>", page, re.S)
    assert title.strip() == "archive: Where else does this claim appear, and where first?"
    # a reader's own SQL keeps its SQL as the title
    sql = urllib.parse.quote("select 1 as n")
    with urllib.request.urlopen(f"{base}/archive?sql={sql}", timeout=10) as r:
        assert "<title>archive: select 1 as n</title>" in r.read().decode()


def test_only_a_count_of_changes_is_made_a_link(served):
    """Any value in a column called changes_since_previous was made a link beside an
    article_id, bytes and text included (final review): only page_history's counts are."""
    base, _ = served
    sql = urllib.parse.quote(
        "select x'00ff' as changes_since_previous, 'abc' as article_id union all select 2, 'abc'"
    )
    with urllib.request.urlopen(f"{base}/archive?sql={sql}", timeout=10) as r:
        page = r.read().decode()
    assert page.count('href="/archive/changes?to_article_id=abc&amp;_col=change&amp;') == 1, page


def test_capture_files_are_published_only_when_asked(served, tmp_path):
    """`serve --captures` lets a reader download each stored capture at its stored name (so
    that `curl -O` keeps the name `verify` looks for) and check its SHA-256; without it, or
    for a file the table does not lead to inside captures/, there is nothing to download. The
    archive here has a name to encode in URLs, and its captures/ is a link to another disk."""
    import hashlib
    import shutil
    import sqlite3

    from datasette.utils import tilde_encode

    from .server import serving

    base, db = served
    (sha, stored) = (
        sqlite3.connect(db).execute("SELECT sha256, stored_path FROM captures").fetchone()
    )
    name = stored.split("/")[-1]
    assert name.startswith(sha) and name != sha
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(f"{base}/-/archive-capture/archive/{name}", timeout=10)
    assert e.value.code == 404
    # copies: one archive is served by one process at a time
    home, edited_home = tmp_path / "published", tmp_path / "edited"
    for copy in (home, edited_home):
        shutil.copytree(db.parent, copy, ignore=shutil.ignore_patterns(".*"))
    (home / "archive.db").rename(home / "news archive.db")
    shutil.move(home / "captures", tmp_path / "larger-disk")
    (home / "captures").symlink_to(tmp_path / "larger-disk")
    at = tilde_encode("news archive")
    with serving(home / "news archive.db", "--captures") as published:
        with urllib.request.urlopen(f"{published}/", timeout=10) as r:  # the home page's links
            assert f'href="/{at}/speakers"' in r.read().decode()
        with urllib.request.urlopen(f"{published}/{at}/captures", timeout=10) as r:
            page = r.read().decode()
        link = f"/-/archive-capture/{at}/{name}"
        assert f'href="{link}">download</a>' in page, page
        with urllib.request.urlopen(f"{published}{link}", timeout=10) as r:
            body, headers = r.read(), r.headers
        assert hashlib.sha256(body).hexdigest() == sha
        assert headers["Content-Type"] == "application/octet-stream"
        assert headers["Content-Disposition"] == f'attachment; filename="{name}"'
        assert int(headers["Content-Length"]) == len(body)
        with urllib.request.urlopen(f"{published}{link}") as again:
            assert "x-archive-cache" not in again.headers  # streamed from its file, not kept
        for asked in (None, "bytes=2-4", f"bytes={len(body)}-"):  # Range is for GET only
            head = urllib.request.Request(
                f"{published}{link}", method="HEAD", headers={"Range": asked} if asked else {}
            )
            with urllib.request.urlopen(head, timeout=10) as r:
                assert r.status == 200 and "Content-Range" not in r.headers, asked
                assert int(r.headers["Content-Length"]) == len(body) and r.read() == b""
        assert headers["Accept-Ranges"] == "bytes" and headers["ETag"] == f'"{name}"'
        # a download that stopped goes on where it stopped (curl -C -, wget -c, browsers)
        for asked, part in (
            ("bytes=10-", body[10:]),
            ("bytes=-7", body[-7:]),
            ("bytes=3-5", body[3:6]),
        ):
            ranged = urllib.request.Request(f"{published}{link}", headers={"Range": asked})
            with urllib.request.urlopen(ranged, timeout=10) as r:
                assert r.status == 206 and r.read() == part
                first = (
                    len(body) - len(part)
                    if asked.startswith("bytes=-")
                    else int(asked[6:].split("-")[0])
                )
                assert r.headers["Content-Range"] == (
                    f"bytes {first}-{first + len(part) - 1}/{len(body)}"
                )
                assert int(r.headers["Content-Length"]) == len(part)
        beyond = urllib.request.Request(
            f"{published}{link}", headers={"Range": f"bytes={len(body)}-"}
        )
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(beyond, timeout=10)
        assert e.value.code == 416 and e.value.headers["Content-Range"] == f"bytes */{len(body)}"
        # If-Range naming another version (or a date): the whole file, as RFC 9110 asks
        for validator, status in (('"other"', 200), (f'"{name}"', 206)):
            ranged = urllib.request.Request(
                f"{published}{link}", headers={"Range": "bytes=10-", "If-Range": validator}
            )
            with urllib.request.urlopen(ranged, timeout=10) as r:
                assert r.status == status
                assert r.read() == (body if status == 200 else body[10:])
        for wrong in (sha, f"{sha}.warc"):  # not its stored name
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(f"{published}/-/archive-capture/{at}/{wrong}", timeout=10)
            assert e.value.code == 404
    # a stored_path edited to lead out of captures/ (to the database itself), or the file a
    # link out of it (to the database): not served
    edited = sqlite3.connect(edited_home / "archive.db")
    edited.execute("UPDATE captures SET stored_path = 'captures/../archive.db'")
    edited.commit()
    edited.close()
    with serving(edited_home / "archive.db", "--captures") as published:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{published}/-/archive-capture/archive/archive.db", timeout=10)
        assert e.value.code == 404
    edited = sqlite3.connect(edited_home / "archive.db")
    edited.execute("UPDATE captures SET stored_path = ?", (stored,))
    edited.commit()
    edited.close()
    (edited_home / stored).unlink()
    (edited_home / stored).symlink_to(edited_home / "archive.db")
    with serving(edited_home / "archive.db", "--captures") as published:
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(f"{published}/-/archive-capture/archive/{name}", timeout=10)
        assert e.value.code == 404


def test_a_download_reads_no_more_than_it_sends(tmp_path):
    """A HEAD, or a reader who goes away, made the server read the whole file (1.5 GB for each
    HEAD: the ASGI server's send returns quietly once the reader has gone). Driven here through
    the ASGI calls the server makes."""
    import asyncio
    import threading

    from archive.datasette_asgi import FileDownload

    path = tmp_path / "big.warc.gz"
    path.write_bytes(b"x" * (5 << 20))

    def run(head: bool, leave_after: int, byte_range: str | None = None) -> list[dict]:
        sent: list[dict] = []
        asked = asyncio.Event()

        async def receive():
            await asked.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            if sum(1 for m in sent if m["type"] == "http.response.body") >= leave_after:
                asked.set()
            await asyncio.sleep(0)

        download = FileDownload(
            path,
            {"content-type": "application/octet-stream"},
            receive,
            head,
            range_header=byte_range,
        )
        # in a thread of its own: the browser tests' Playwright keeps a loop running in this one
        worker = threading.Thread(target=asyncio.run, args=(download.asgi_send(send),))
        worker.start()
        worker.join(timeout=30)
        return sent

    head = run(head=True, leave_after=99)
    assert [m["type"] for m in head] == ["http.response.start", "http.response.body"]
    assert head[-1]["body"] == b"" and (b"content-length", b"5242880") in head[0]["headers"]
    gone = run(head=False, leave_after=1)
    bodies = [m for m in gone if m["type"] == "http.response.body"]
    assert 1 <= len(bodies) <= 2, len(bodies)  # stopped within a chunk of the reader leaving
    ranged = run(head=False, leave_after=99, byte_range="bytes=5242000-")
    assert (b"content-range", b"bytes 5242000-5242879/5242880") in ranged[0]["headers"]
    assert ranged[0]["status"] == 206
    assert [len(m["body"]) for m in ranged if m["type"] == "http.response.body"] == [880]
    whole = run(head=False, leave_after=99)
    assert b"".join(m["body"] for m in whole if m["type"] == "http.response.body") == (
        path.read_bytes()
    )


@pytest.mark.parametrize(
    "header, size, expected",
    [
        (None, 10, None),
        ("bytes=" + "9" * 5000 + "-", 10, None),  # int() refuses it: ignored, not a 500
        ("bytes=99999999999999999999-", 10, None),  # 20 digits: beyond any file
        ("bytes=0-9", 10, (0, 9)),
        ("bytes=5-", 10, (5, 9)),
        ("bytes=-3", 10, (7, 9)),
        ("bytes=-30", 10, (0, 9)),
        ("bytes=9-100", 10, (9, 9)),
        ("Bytes = 2 - 4", 10, (2, 4)),
        ("bytes=10-", 10, False),  # nothing there: 416
        ("bytes=-0", 10, False),
        ("bytes=0-", 0, False),
        ("bytes=3-2", 10, None),  # not a valid range: ignored, the whole file
        ("bytes=0-1,3-4", 10, None),  # several ranges: a server may send the whole file
        ("items=0-1", 10, None),
        ("bytes=-", 10, None),
        ("bytes=\u00b2-3", 10, None),  # a digit to str.isdigit, not to RFC 9110
    ],
)
def test_byte_range(header, size, expected):
    from archive.datasette_asgi import byte_range

    assert byte_range(header, size) == expected


@pytest.mark.parametrize(
    "table, order",
    [
        ("claims", "_sort=speaker"),
        ("claims", "_sort_desc=kind"),
        ("claims", "_sort=captured_at"),
        ("claims", "_sort=position"),
        ("claim_texts", ""),  # sorted by its metadata: appearances, descending
        ("capture_records", "_sort=type"),
        ("ledger", "_sort=record_table"),
    ],
)
def test_every_page_of_a_sorted_table_holds_each_row_once(served, table, order):
    """Datasette 0.65 orders the first page of a sorted table by the column alone and the next
    pages by the column and the key: rows that tie were skipped and repeated, and a streamed
    CSV of the claims sorted by speaker held half of them (a researcher's review). The first
    page now has the next pages' tie-break."""
    base, db = served
    conn = sqlite3.connect(db)
    expected = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    conn.close()
    url, seen = f"{base}/archive/{table}.json?{order}&_size=5&_shape=objects&_labels=off", []
    while url:
        page = get_json(url)
        seen += [json.dumps(row, sort_keys=True) for row in page["rows"]]
        url = page.get("next_url")
    assert len(seen) == len(set(seen)) == expected > 5
    csv_rows = _csv_rows(f"{base}/archive/{table}.csv?{order}&_stream=on&_size=5")
    assert len(csv_rows) == expected


def test_a_reader_s_own_sql_is_run_as_written(served, tmp_path):
    """The tie-break went into any query shaped like a table page's, a reader's own too: a
    UNION of theirs failed ("2nd ORDER BY term does not match", a review of this round)."""
    base, db = served
    sql = (
        "select speaker from claims where speaker is not null union select title from articles "
        "order by speaker limit 5"
    )
    q = urllib.parse.urlencode({"sql": sql, "_shape": "array"})
    rows = get_json(f"{base}/archive.json?{q}")
    assert [r["speaker"] for r in rows] == [r[0] for r in sqlite3.connect(db).execute(sql)] != []
    # a canned query of one's own too: the table view runs those (a second review)
    from .server import serving

    meta = json.loads((Path(__file__).resolve().parents[1] / "datasette-metadata.json").read_text())
    meta["databases"]["archive"]["queries"]["mine"] = {"sql": sql}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(meta))
    shutil.copy(db, tmp_path / "archive.db")  # (one serve per database)
    with serving(tmp_path / "archive.db", "--metadata", str(path)) as other:
        assert get_json(f"{other}/archive/mine.json?_shape=array") == rows


def _csv_rows(url: str) -> list:
    import csv
    import io

    with urllib.request.urlopen(url, timeout=10) as r:
        return list(csv.DictReader(io.StringIO(r.read().decode())))


def test_an_image_use_with_no_file_says_so_and_leads_to_the_address_s_other_uses(
    tmp_path, fixed_signer
):
    """An image use whose file no capture held showed an empty image_sha256 on its row page,
    a dead end though other pages showed the same address (a researcher's review); a date a
    canned query refuses showed an error page with no way on."""
    from archive.ingest import Ingester

    from .server import serving
    from .test_provenance_cli import _photo_captures

    _, without, _ = _photo_captures(tmp_path)
    db = tmp_path / "archive.db"
    assert Ingester(db, fixed_signer).ingest_file(without).status == "ingested"
    (use, url) = sqlite3.connect(db).execute("SELECT id, url FROM image_uses").fetchone()
    with serving(db) as base:
        with urllib.request.urlopen(f"{base}/archive/image_uses/{use}", timeout=10) as r:
            page = r.read().decode()
        href = escape(f"/archive/image_uses?{urllib.parse.urlencode({'url': url})}")
        assert f'<em>no file captured</em> <small>· <a href="{href}">' in page, page
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(
                f"{base}/archive/speaker_quotes?speaker=x&from=08/03/2025", timeout=10
            )
        assert e.value.code == 400
        refused = e.value.read().decode()
        assert "give a date or time year first" in refused
        assert '<p class="crumbs"><a href="/">home</a></p>' in refused
