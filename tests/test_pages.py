"""One definition of a page (archive/pages.py) for `history`, `diff`, the `changes` table and
the page_history and page_changes canned queries."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from archive import pages
from archive.cli import cli
from archive.datasette_plugin import add_sql_functions
from archive.ingest import Ingester
from archive.pages import forms, key, untracked

from .test_robustness import FILLER, article_html, http_response, warc_file

ROOT = Path(__file__).resolve().parent.parent


def test_the_spellings_of_a_page():
    assert forms("https://Ex.example:443/a/b/?q=1#top") == [
        "https://Ex.example:443/a/b/?q=1#top",
        "https://ex.example/a/b?q=1",
        "https://ex.example/a/b/?q=1",
        "https://www.ex.example/a/b?q=1",
        "https://www.ex.example/a/b/?q=1",
        "http://ex.example/a/b?q=1",
        "http://ex.example/a/b/?q=1",
        "http://www.ex.example/a/b?q=1",
        "http://www.ex.example/a/b/?q=1",
    ]
    # a site's root, with its slash or without; a port that is not the scheme's default stays
    assert set(forms("http://ex.example")) >= {"https://ex.example/", "https://ex.example"}
    assert forms("http://ex.example:8080/a")[1] == "https://ex.example:8080/a"
    # every spelling stands for the same page; other pages do not
    for spelling in forms("https://ex.example/a/"):
        assert key(spelling) == "https://ex.example/a"
    assert (
        key("https://www.ex.example/a")
        == key("HTTP://WWW.EX.example/a/")
        == key("https://ex.example/a")
    )
    assert key("https://ex.example/a?b") != key("https://ex.example/a")
    assert key("https://www2.ex.example/a") != key("https://ex.example/a")
    assert key("https://news.ex.example/a") != key("https://ex.example/a")
    # www. is the name itself where nothing with a dot would be left, and an address has none
    assert key("http://www.com/a") == "https://www.com/a"
    for alone in ("http://www.com/a", "http://localhost:8000/a", "http://10.0.0.1/a"):
        assert len(forms(alone)) == 4 and not any("www.www." in f for f in forms(alone)), alone
        assert not any("www.l" in f or "www.1" in f for f in forms(alone)), alone
    assert "https://u@www.ex.example/a" in forms("http://u@ex.example/a")
    # www. twice is a host of its own; so is a host www. and a dot-ended name ("www.com.")
    assert key("https://www.www.ex.example/a") == "https://www.www.ex.example/a"
    assert key("http://www.com./a") == "https://www.com./a"
    # a port left is not the other scheme's default: http://x:443 is not https://x
    assert key("http://ex.example:443/a") == "http://ex.example:443/a"
    assert key("https://ex.example:80/a") == "https://ex.example:80/a"


_LABEL = st.sampled_from(["www", "WWW", "ex", "example", "com", "0x7f", "1", "xn--bcher-kva", ""])


@settings(max_examples=500, deadline=None)
@given(
    scheme=st.sampled_from(["http", "https", "HTTP"]),
    user=st.sampled_from(["", "u@", "u:p@", "www@"]),
    labels=st.lists(_LABEL, min_size=1, max_size=4),
    dot=st.sampled_from(["", "."]),
    port=st.sampled_from(["", ":", ":80", ":443", ":8080", ":080"]),
    path=st.sampled_from(["", "/", "/a", "/a/", "/A/b//"]),
    rest=st.sampled_from(["", "?q=1", "#top", "?q#f"]),
)
def test_every_spelling_of_a_page_stands_for_it(scheme, user, labels, dot, port, path, rest):
    """One page, one key: whatever a URL's spelling, each spelling ``forms`` gives has the key
    the URL has (a review found www.www. hosts and ports of the other scheme that did not)."""
    url = f"{scheme}://{user}{'.'.join(labels)}{dot}{port}{path}{rest}"
    for spelling in forms(url):
        assert key(spelling) == key(url), (url, spelling)
    # a reader's URL is also looked up without its tracking parameters; a page's is not
    assert untracked("https://ex.example/a?id=3&utm_source=x&FBCLID=y#f") == (
        "https://ex.example/a?id=3#f"
    )
    assert untracked("https://ex.example/a?utm=1") == "https://ex.example/a?utm=1"
    assert "https://ex.example/a" in pages.given("ex.example/a?gclid=1")
    assert key("https://ex.example/a?utm_source=x") != key("https://ex.example/a")
    # what is not an http(s) URL is only itself
    for other in ("mailto:x@ex.example", "http://[::1", "", "ex.example/a"):
        assert forms(other) == [other]


def _capture(tmp_path: Path, n: int, at: str, canonical: str | None, sentences) -> Path:
    html = article_html("The ferry terminal", [*sentences, *FILLER])
    if canonical:
        link = f'<link rel="canonical" href="{canonical}">'
        html = html.replace(b"</title>", b"</title>" + link.encode())
    return warc_file(
        tmp_path / f"{n}.warc.gz",
        [http_response(at, html)],
        warc_headers={at: {"WARC-Date": f"2025-03-0{n}T09:00:00Z"}},
    )


def _three_spellings(tmp_path: Path, signer) -> tuple[Path, str]:
    """Three captures of one page: its canonical link with a slash, then without, then the
    http URL with no canonical link; each says something else of the terminal."""
    page = "https://ferry.example/story"
    db = tmp_path / "archive.db"
    ingester = Ingester(db, signer)
    for n, at, canonical, first in [
        (1, page, page + "/", "The terminal will open in the spring."),
        (2, page, page, "The terminal will open in the summer."),
        (3, "http://ferry.example/story", None, "The terminal will open in the autumn."),
    ]:
        assert ingester.ingest_file(_capture(tmp_path, n, at, canonical, [first])).status == (
            "ingested"
        )
    return db, page


def test_a_page_whose_canonical_url_changes_spelling_is_one_page(tmp_path, fixed_signer):
    """The site drops the slash from its canonical link between two captures, and a third is
    made at the http URL with no canonical link: `history` listed all three, while the changes
    table held no change between any two of them (each was a page of its own there), and `diff`
    compared captures the table never had (a review). Now all five agree."""
    db, page = _three_spellings(tmp_path, fixed_signer)
    conn = sqlite3.connect(db)
    add_sql_functions(conn)
    ids = [a for (a,) in conn.execute("SELECT id FROM articles ORDER BY captured_at")]
    pairs = {tuple(r) for r in conn.execute("SELECT from_article_id, to_article_id FROM changes")}
    assert pairs == {(ids[0], ids[1]), (ids[1], ids[2])}
    queries = json.loads((ROOT / "datasette-metadata.json").read_text())["databases"]["archive"][
        "queries"
    ]
    runner = CliRunner()
    shared = "https://www.ferry.example/story?utm_source=social&fbclid=x1"  # as pasted
    for spelling in (
        page,
        page + "/",
        "http://ferry.example/story",
        "ferry.example/story/",
        shared,
    ):
        listed = json.loads(runner.invoke(cli, ["history", spelling, "--db", db, "--json"]).output)
        assert [r["article_id"] for r in listed] == ids, spelling
        assert [r["changes_since_previous"] for r in listed] == [None, 1, 1], listed
        canned = conn.execute(queries["page_history"]["sql"], {"url": spelling}).fetchall()
        assert [r[1] for r in canned] == ids, spelling
        changed = conn.execute(queries["page_changes"]["sql"], {"url": spelling}).fetchall()
        assert {(r[7], r[8]) for r in changed} == pairs, spelling
        # each side's own URL: the page's captures need not share one (a syndicated copy)
        assert {r[8]: (r[9], r[10]) for r in changed} == {
            ids[1]: (page, page),
            ids[2]: (page, "http://ferry.example/story"),
        }
        diff = json.loads(runner.invoke(cli, ["diff", spelling, "--db", db, "--json"]).output)
        assert (diff["from"], diff["to"]) == (ids[1], ids[2])
        assert (diff["from_url"], diff["to_url"]) == (page, "http://ferry.example/story")
        assert [(c["old_text"], c["new_text"]) for c in diff["changes"]] == [
            ("The terminal will open in the summer.", "The terminal will open in the autumn.")
        ]
    text = runner.invoke(cli, ["diff", page, "--db", db]).output
    assert f"  captured at {page} -> http://ferry.example/story\n" in text, text


def test_migration_0012_diffs_again_only_the_pages_it_joins(tmp_path, fixed_signer):
    """An archive from before 0012 holds no change between the captures of a page whose
    canonical URL changed spelling: `archive upgrade` diffs that page again, as one timeline,
    and leaves every other page's rows as they were."""
    db, _ = _three_spellings(tmp_path, fixed_signer)
    pier = "The council voted on Monday to keep the old pier open for {}."
    other = _capture(tmp_path, 4, "https://other.example/a", None, [pier.format("a year")])
    again = _capture(tmp_path, 5, "https://other.example/a", None, [pier.format("two years")])
    for path in (other, again):
        assert Ingester(db, fixed_signer).ingest_file(path).status == "ingested"
    conn = sqlite3.connect(db)
    whole = sorted(conn.execute("SELECT * FROM changes"))
    kept = sorted(conn.execute("SELECT * FROM changes WHERE url = 'https://other.example/a'"))
    assert kept and len(kept) < len(whole)
    # as the code before 0012 left it: the ferry page's captures were pages of their own
    conn.execute("DELETE FROM changes WHERE url != 'https://other.example/a'")
    conn.execute("DELETE FROM migrations WHERE name = '0012_one_page_in_any_spelling'")
    conn.commit()
    result = CliRunner().invoke(cli, ["upgrade", "--db", db])
    assert result.exit_code == 0 and "0012_one_page_in_any_spelling" in result.output
    columns = "url, from_article_id, to_article_id, target, change, old_id, new_id, old_text"
    assert sorted(conn.execute(f"SELECT {columns} FROM changes")) == sorted(
        row[1:9] for row in whole
    )
    assert sorted(conn.execute("SELECT * FROM changes WHERE url = 'https://other.example/a'")) == (
        kept
    )  # not diffed again: the same rows, ids and all


def test_migration_0013_joins_a_page_captured_with_www_and_without(tmp_path, fixed_signer):
    """Captures of one page at www.ferry.example and at ferry.example were two pages before
    0013, with no change between them: `archive upgrade` diffs that page again as one timeline,
    and leaves every other page's rows as they were."""
    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    bare, www = "https://ferry.example/story", "https://www.ferry.example/story"
    for n, at, first in [
        (1, www, "The terminal will open in the spring."),
        (2, bare, "The terminal will open in the summer."),
        (3, www, "The terminal will open in the autumn."),
        (4, "https://other.example/a", "The council voted on Monday to keep the pier open."),
        (5, "https://other.example/a", "The council voted on Monday to close the pier."),
    ]:
        assert ingester.ingest_file(_capture(tmp_path, n, at, None, [first])).status == "ingested"
    # a page's canonical link that is no URL ("http://[::1") is a page alone, not a failed upgrade
    broken = _capture(tmp_path, 6, "https://odd.example/a", "http://[::1", ["The ferry is late."])
    assert ingester.ingest_file(broken).status == "ingested"
    conn = sqlite3.connect(db)
    ids = [a for (a,) in conn.execute("SELECT id FROM articles ORDER BY captured_at")][:3]
    whole = sorted(conn.execute("SELECT * FROM changes"))
    pairs = {r[2:4] for r in whole if r[1] != "https://other.example/a"}
    assert pairs == {(ids[0], ids[1]), (ids[1], ids[2])}
    kept = sorted(conn.execute("SELECT * FROM changes WHERE url = 'https://other.example/a'"))
    # as the code before 0013 left it: the www. captures one page, the other capture another
    conn.execute("DELETE FROM changes WHERE url != 'https://other.example/a'")
    before = [(www, ids[0], ids[2], "The terminal will open in the spring.")]
    conn.execute(
        "INSERT INTO changes (url, from_article_id, to_article_id, target, change, old_text) "
        "VALUES (?, ?, ?, 'claim', 'changed', ?)",
        before[0],
    )
    conn.execute("DELETE FROM migrations WHERE name = '0013_www_is_the_same_host'")
    conn.commit()
    result = CliRunner().invoke(cli, ["upgrade", "--db", db])
    assert result.exit_code == 0 and "0013_www_is_the_same_host" in result.output
    assert {
        r[2:4] for r in conn.execute("SELECT * FROM changes WHERE url != ?", (kept[0][1],))
    } == (pairs)
    assert sorted(conn.execute("SELECT * FROM changes WHERE url = 'https://other.example/a'")) == (
        kept
    )  # not diffed again: the same rows, ids and all
    listed = json.loads(CliRunner().invoke(cli, ["history", bare, "--db", db, "--json"]).output)
    assert [r["article_id"] for r in listed] == ids
    assert [r["changes_since_previous"] for r in listed] == [None, 1, 1]
