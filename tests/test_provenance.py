"""Issue 5: the provenance questions, answered from the CLI on a multi-capture test archive.

The archive: our sample article (outlet A) captured twice, the second time with one sentence
edited, one item (two sentences) removed and a paragraph added; and outlet B, which reuses one
sentence verbatim, quotes a trimmed part of A's quotation, and runs a resized, recompressed copy
of A's first photo under its own credit.
"""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from click.testing import CliRunner

from archive.cli import cli
from archive.datasette_plugin import add_sql_functions
from archive.ingest import Ingester

from .conftest import DATA, SAMPLE, canned_query

CAPTURES = [SAMPLE, *sorted((DATA / "provenance").glob("*.warc.gz"))]
URL = "https://northshore.example/2025/03/07/who-is-elena-varga.html"
A1, A2, B = "37988c58467bc4cf", "73438c7e28b08581", "9c04345c7b0c6857"


def provenance_archive(directory):
    """The test archive of the module docstring, made in ``directory`` (tests/test_export.py
    reads it too)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.keys import Signer

    db = directory / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.from_private_bytes(bytes(32))))
    for capture in CAPTURES:
        assert ingester.ingest_file(capture).status == "ingested"
    return db


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return provenance_archive(tmp_path_factory.mktemp("prov"))


def cli_json(db, *args):
    result = CliRunner().invoke(cli, [*args, "--db", str(db), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_article_ids(archive):
    conn = sqlite3.connect(archive)
    rows = dict(conn.execute("SELECT id, site_name FROM articles"))
    assert rows == {A1: "Northshore Chronicle", A2: "Northshore Chronicle", B: "Daily Herald Wire"}


def test_q1_verbatim_reuse_and_first_appearance(archive):
    # B's second paragraph is A's first sentence, verbatim
    result = cli_json(archive, "trace", f"{B}-1")
    matches = [(r["match"], r["article_id"]) for r in result["appearances"]]
    assert matches == [("exact", A1), ("exact", A2), ("exact", B)]
    assert result["first_seen"]["article_id"] == A1
    assert result["first_seen"]["captured_at"] == "2025-03-07T09:30:00Z"


def test_q1_near_reuse_is_scored(archive):
    # the edited sentence in A's second capture is a near copy of the original
    result = cli_json(archive, "trace", f"{A1}-1")
    near = [r for r in result["appearances"] if r["match"] == "near"]
    assert [r["claim_id"] for r in near] == [f"{A2}-1"]
    assert 0.9 < near[0]["score"] < 1


def test_q2_trimmed_quote_found_across_outlets(archive):
    result = cli_json(archive, "trace", f"{B}-3")
    assert result["claim"]["speaker"] == "Elena Varga"
    quotes = {r["claim_id"]: r for r in result["appearances"] if r["match"] == "quote"}
    assert set(quotes) == {f"{A1}-9", f"{A2}-9"}
    assert result["first_seen"]["claim_id"] == f"{A1}-9"
    conn = sqlite3.connect(archive)
    rows = conn.execute(
        "SELECT DISTINCT a.site_name FROM claims c JOIN articles a ON a.id = c.article_id "
        "WHERE c.speaker = 'Elena Varga' AND c.kind = 'quote'"
    ).fetchall()
    assert {r[0] for r in rows} == {"Northshore Chronicle", "Daily Herald Wire"}


def test_q3_resized_photo_with_another_credit(archive):
    conn = sqlite3.connect(archive)
    (copy,) = conn.execute(
        f"SELECT image_sha256 FROM image_uses WHERE article_id = '{B}'"
    ).fetchone()
    result = cli_json(archive, "trace", copy)
    assert result["credits"] == ["Daily Herald Wire / Staff", "Northshore Photo / Mara Lind"]
    near = [r for r in result["appearances"] if r["match"] == "near"]
    assert {r["image_use_id"] for r in near} == {f"{A1}-i0", f"{A2}-i0"}
    assert all(r["distance"] <= 10 for r in near)
    assert result["first_seen"]["site_name"] == "Northshore Chronicle"
    # the second photo was never copied: no link for it
    (second,) = conn.execute(f"SELECT image_sha256 FROM image_uses WHERE id = '{A1}-i1'").fetchone()
    assert [r["match"] for r in cli_json(archive, "trace", second)["appearances"]] == [
        "exact",
        "exact",
    ]


def test_q4_history_and_diff(archive):
    history = cli_json(archive, "history", URL)
    assert [h["article_id"] for h in history] == [A1, A2]
    assert history[1]["changes_since_previous"] == 4
    diff = cli_json(archive, "diff", URL)
    changes = sorted((c["change"], c["old_text"] or c["new_text"]) for c in diff["changes"])
    assert changes == [
        (
            "added",
            "Officials said on Tuesday that talks between the two sides would resume next "
            "week in a neutral location.",
        ),
        (
            "changed",
            "The order was not endorsed by the national ministry, the harbour board did "
            "not resign, and the deputy mayor has declared the port open.",
        ),
        (
            "removed",
            "At the same time, Varga hardly has the money at the moment to fund a long court case.",
        ),
        (
            "removed",
            "No other town has so far offered to share the costs, even though some, "
            "namely Eastbay, have praised her stand.",
        ),
    ]
    text = CliRunner().invoke(cli, ["diff", URL, "--db", str(archive)]).output
    assert "+ The order was reportedly not endorsed by the national ministry" in text


def test_nothing_unrelated_is_linked(archive):
    conn = sqlite3.connect(archive)
    links = conn.execute("SELECT claim_id, other_claim_id, relation FROM claim_links").fetchall()
    pairs = {(a, b) for a, b, _ in links}
    assert pairs == {
        (f"{A1}-1", f"{A2}-1"),
        (f"{A2}-1", f"{A1}-1"),
        (f"{B}-3", f"{A1}-9"),
        (f"{A1}-9", f"{B}-3"),
        (f"{B}-3", f"{A2}-9"),
        (f"{A2}-9", f"{B}-3"),
    }
    assert conn.execute("SELECT COUNT(*) FROM image_links").fetchone()[0] == 2  # one pair


def test_order_of_ingest_does_not_matter(tmp_path):
    """The later capture first: the timeline and its changes come out the same."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.keys import Signer

    db = tmp_path / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.generate()))
    for capture in reversed(CAPTURES):
        assert ingester.ingest_file(capture).status == "ingested"
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT from_article_id, to_article_id, change FROM changes").fetchall()
    assert {(a, b) for a, b, _ in rows} == {(A1, A2)}
    assert sorted(c for _, _, c in rows) == ["added", "changed", "removed", "removed"]


def test_an_image_is_traced_by_the_start_of_its_hash(archive):
    """`archive trace` took an image's full SHA-256 only: the 12 digits a table shows got "no
    claim ..." (found in review). Eight or more digits, either case, name the one image, as
    the canned query image_everywhere takes them (six there and eight here: a later review)."""
    conn = sqlite3.connect(archive)
    shas = [sha for (sha,) in conn.execute("SELECT sha256 FROM images ORDER BY sha256")]
    whole = cli_json(archive, "trace", shas[0])
    assert cli_json(archive, "trace", shas[0][:12].upper()) == whole
    assert cli_json(archive, "trace", shas[0][:12] + "\n") == whole  # pasted with its newline
    # an article id is neither: say so, not "no image"
    (article,) = sqlite3.connect(archive).execute("SELECT id FROM articles LIMIT 1").fetchone()
    result = CliRunner().invoke(cli, ["trace", article, "--db", str(archive)])
    assert result.exit_code == 1 and f"{article} is an article id" in result.output
    assert whole["image"]["sha256"] == shas[0]
    result = CliRunner().invoke(cli, ["trace", shas[0][:12], "--db", str(archive)])
    assert result.exit_code == 0 and f"Image {shas[0]} (" in result.output, result.output
    missing = next(
        p for p in ("00000000", "ffffffff", "abcdef01") if not any(s.startswith(p) for s in shas)
    )
    result = CliRunner().invoke(cli, ["trace", missing, "--db", str(archive)])
    assert result.exit_code == 1 and result.output == f"Error: no image {missing}...\n"
    result = CliRunner().invoke(cli, ["trace", shas[0][:7], "--db", str(archive)])
    assert result.exit_code == 1 and result.output == (
        f"Error: no claim '{shas[0][:7]}' (an image is named by 8 or more digits of its SHA-256)\n"
    )
    # a start two images share
    from archive.errors import ArchiveError
    from archive.provenance import image_sha256

    two = sqlite3.connect(":memory:")
    two.execute("CREATE TABLE images (sha256 TEXT PRIMARY KEY)")
    two.executemany(
        "INSERT INTO images VALUES (?)", [("abcdef01" + "0" * 56,), ("abcdef02" + "0" * 56,)]
    )
    assert image_sha256(two, "abcdef02") == "abcdef02" + "0" * 56
    with pytest.raises(ArchiveError, match="abcdef0... names more than one image"):
        image_sha256(two, "abcdef0")


def test_errors_are_one_line(archive):
    result = CliRunner().invoke(cli, ["trace", "nope", "--db", str(archive)])
    assert result.exit_code == 1 and result.output == "Error: no claim 'nope'\n"
    result = CliRunner().invoke(cli, ["history", "https://nowhere.example/", "--db", str(archive)])
    assert result.output == "Error: no captures of https://nowhere.example/\n"


def test_links_do_not_depend_on_what_the_writer_holds(archive, tmp_path, monkeypatch):
    """The writer bounds the quotes it holds per capture (each speaker's, read again when
    dropped): with none held beyond the current speaker, the same links and image uses come
    out. (Pending image uses wait in temporary tables, so nothing bounds them in memory.)"""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive import quote_links
    from archive.keys import Signer

    monkeypatch.setattr(quote_links.QuoteIndex, "max_bytes", 0)
    db = tmp_path / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.from_private_bytes(bytes(32))))
    for capture in CAPTURES:
        assert ingester.ingest_file(capture).status == "ingested"
    queries = [
        "SELECT claim_id, other_claim_id, relation, score FROM claim_links ORDER BY 1, 2",
        "SELECT id, image_sha256, image_warc_record_id, caption, credit FROM image_uses "
        "ORDER BY id",
        "SELECT image_sha256, other_sha256, distance FROM image_links ORDER BY 1, 2",
    ]
    expected = sqlite3.connect(archive)
    found = sqlite3.connect(db)
    for sql in queries:
        rows = found.execute(sql).fetchall()
        assert rows == expected.execute(sql).fetchall(), sql
    relations = {r for (r,) in found.execute("SELECT relation FROM claim_links")}
    assert relations == {"near", "quote"}


def test_an_exact_copy_gets_no_near_link_when_some_of_its_bands_are_hot(archive, tmp_path):
    """B reuses A's first sentence verbatim: equal text_sha256, and no link. A band shared by
    more than HOT_BAND claims (a template sentence) is not counted, so the copy then shares
    fewer than all its bands with the original: it must still be seen as an exact copy."""
    import shutil

    from archive import links
    from archive.similarity import BANDS, minhash_bands

    db = tmp_path / "copy.db"
    shutil.copy(archive, db)
    conn = sqlite3.connect(db, isolation_level=None)
    copy_id, original = f"{B}-1", f"{A1}-0"
    text, sha = conn.execute(
        "SELECT text, text_sha256 FROM claims WHERE id = ?", (copy_id,)
    ).fetchone()
    assert conn.execute("SELECT text_sha256 FROM claims WHERE id = ?", (original,)).fetchone() == (
        sha,
    )
    conn.execute("DELETE FROM claim_links")
    claims = conn.execute("SELECT id, text FROM claims WHERE article_id = ?", (B,)).fetchall()
    hashed = minhash_bands([t for _, t in claims])
    bands = [(k, i) for (i, _), keys in zip(claims, hashed.keys, strict=True) for k in keys]
    minhash = [
        (i, n, s)
        for (i, _), n, s in zip(claims, hashed.sizes, hashed.signatures, strict=True)
        if s is not None
    ]
    copy_keys = [k for k, i in bands if i == copy_id]
    assert len(copy_keys) == BANDS and text
    conn.execute("BEGIN")
    links._link_article_claims(conn, B, bands, minhash, {}, hot={copy_keys[0]})
    linked = conn.execute(
        "SELECT other_claim_id, relation FROM claim_links WHERE claim_id = ?", (copy_id,)
    ).fetchall()
    conn.execute("ROLLBACK")
    assert not [r for r in linked if r[0] in (original, f"{A2}-0")], linked


def _redated(source, day: str, path):
    """``source`` as a plain WARC with every record's WARC-Date on another day (same length;
    payloads and their digests untouched)."""
    import gzip

    data = gzip.decompress(source.read_bytes())
    path.write_bytes(
        re.sub(rb"WARC-Date: 2025-03-0\d", b"WARC-Date: 2025-03-" + day.encode(), data)
    )
    return path


def test_several_versions_of_a_page_in_one_capture_give_each_consecutive_diff_once(tmp_path):
    """Page versions: E (A1's text, 1 March), F (A2's text, 4 March); then one file holding G
    (A1's text, 2 March) and H (A2's text, 3 March). The timeline is E G H F: E-G and H-F have
    nothing to diff, G-H has A1 -> A2's changes, once, and E -> F's rows are gone (E and F are
    no longer consecutive)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.keys import Signer

    a2 = CAPTURES[1]
    assert "lakeport-A-2025-03-08" in a2.name
    e, f = _redated(SAMPLE, "01", tmp_path / "e.warc"), _redated(a2, "04", tmp_path / "f.warc")
    g, h = _redated(SAMPLE, "02", tmp_path / "g.warc"), _redated(a2, "03", tmp_path / "h.warc")
    both = tmp_path / "g-and-h.warc"
    both.write_bytes(g.read_bytes() + h.read_bytes())
    db = tmp_path / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.from_private_bytes(bytes(32))))
    for capture in (e, f):
        assert ingester.ingest_file(capture).status == "ingested"
    conn = sqlite3.connect(db)
    day = {a: t[:10] for a, t in conn.execute("SELECT id, captured_at FROM articles")}
    before = conn.execute("SELECT from_article_id, to_article_id, change FROM changes").fetchall()
    assert {(day[a], day[b]) for a, b, _ in before} == {("2025-03-01", "2025-03-04")}
    assert ingester.ingest_file(both).status == "ingested"
    day = {a: t[:10] for a, t in conn.execute("SELECT id, captured_at FROM articles")}
    after = conn.execute("SELECT from_article_id, to_article_id, change FROM changes").fetchall()
    assert sorted(c for _, _, c in after) == sorted(c for _, _, c in before)  # once each
    assert {(day[a], day[b]) for a, b, _ in after} == {("2025-03-02", "2025-03-03")}


def test_q1_every_exact_copy_sees_the_near_copies(archive, tmp_path):
    """A new claim is linked to one copy of each near text, not to every exact copy of it:
    claim_everywhere finds the links through any copy (found in review: with 56 copies, 6
    showed no near row). Here one more copy of A1-1, never compared
    with anything, is added to a copy of the archive."""
    import shutil

    from archive.provenance import CLAIM_EVERYWHERE

    assert canned_query("claim_everywhere")["sql"] == CLAIM_EVERYWHERE
    db = tmp_path / "copy.db"
    shutil.copy(archive, db)
    conn = sqlite3.connect(db)
    columns = [r[1] for r in conn.execute("PRAGMA table_info(claims)")]
    values = conn.execute("SELECT * FROM claims WHERE id = ?", (f"{A1}-1",)).fetchone()
    row = dict(zip(columns, values, strict=True))
    row.update(id=f"{B}-99", article_id=B, position=99)
    conn.execute(
        f"INSERT INTO claims ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
        [row[c] for c in columns],
    )
    assert not conn.execute("SELECT 1 FROM claim_links WHERE claim_id = ?", (f"{B}-99",)).fetchall()
    conn.commit()
    result = cli_json(db, "trace", f"{B}-99")
    near = [r["claim_id"] for r in result["appearances"] if r["match"] == "near"]
    assert near == [f"{A2}-1"]
    exact = [r["claim_id"] for r in result["appearances"] if r["match"] == "exact"]
    assert sorted(exact) == sorted([f"{A1}-1", f"{B}-99"])


def _page_a_captured_at(tmp_path, tracked: str, which=(0, 1)):
    """The two captures of page A ingested into a new archive, those in ``which`` made at URL
    ``tracked`` instead of A's own (the WARC header is not in Content-Length or the digests:
    the records stay whole); the page names its canonical URL. The database."""

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.keys import Signer

    db = tmp_path / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.from_private_bytes(bytes(32))))
    for n, source in enumerate(CAPTURES[:2]):
        path = _redated(source, f"0{7 + n}", tmp_path / f"{n}.warc")
        if n in which:
            path.write_bytes(path.read_bytes().replace(
                b"WARC-Target-URI: " + URL.encode() + b"\r\n",
                b"WARC-Target-URI: " + tracked.encode() + b"\r\n",
            ))  # fmt: skip
        assert ingester.ingest_file(path).status == "ingested"
    return db


def test_q4_page_changes_takes_the_url_a_page_was_captured_at(tmp_path):
    """page_history, `archive history` and `archive diff` take a page's canonical URL or the URL
    it was captured at; the page_changes canned query took only the first, and said "nothing
    changed" for the second (found in review). Here both captures of page A were made at a URL
    with a tracking parameter; the page names its canonical URL."""
    tracked = URL + "?utm_source=feed"
    db = _page_a_captured_at(tmp_path, tracked)
    sql = canned_query("page_changes")["sql"]
    conn = sqlite3.connect(db)
    add_sql_functions(conn)  # the canned queries call the plugin's functions
    assert {r for (r,) in conn.execute("SELECT url FROM articles")} == {tracked}
    assert len(cli_json(db, "history", tracked)) == 2
    for url in (URL, tracked):
        rows = conn.execute(sql, {"url": url}).fetchall()
        assert sorted(r[2] for r in rows) == ["added", "changed", "removed", "removed"], url
    assert conn.execute(sql, {"url": URL + "?other"}).fetchall() == []


def test_q4_page_history_takes_the_url_of_any_capture(tmp_path):
    """Two captures of page A, one at its URL, one at that URL with a tracking parameter, both
    naming the same canonical URL: page_history, `archive history` and `archive diff` given the
    second URL found only its own capture (found in review)."""

    tracked = URL + "?mod=hp_lead_pos1"
    db = _page_a_captured_at(tmp_path, tracked, which=(1,))
    sql = canned_query("page_history")["sql"]
    conn = sqlite3.connect(db)
    add_sql_functions(conn)  # the canned queries call the plugin's functions
    assert sorted(r for (r,) in conn.execute("SELECT url FROM articles")) == [URL, tracked]
    for url in (URL, tracked):
        # each capture with the URL it was made at (a syndicated copy naming the page as its
        # canonical URL is listed too: its URL says so, fourteenth round)
        assert sorted(r[-1] for r in conn.execute(sql, {"url": url})) == [URL, tracked], url
        assert sorted(c["url"] for c in cli_json(db, "history", url)) == [URL, tracked], url
    shown = CliRunner().invoke(cli, ["history", "--db", str(db), URL]).output.splitlines()
    assert shown[0].split()[-2:] == ["title", "url"] and shown[-1].endswith(tracked), shown
    assert conn.execute(sql, {"url": URL + "?other"}).fetchall() == []
    result = CliRunner().invoke(cli, ["diff", "--db", str(db), tracked])
    assert result.exit_code == 0 and "nothing to compare" not in result.output, result.output
    assert re.search(r"~ claim", result.output), result.output


def test_q4_history_is_in_one_order_everywhere_and_diff_refs_are_exact(tmp_path):
    """Two captures of a page made in the same second: `archive history` and the page_history
    canned query listed them in different orders (found in review); and `diff --from ''`
    took the empty string for a prefix of every capture."""

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.keys import Signer

    db = tmp_path / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.from_private_bytes(bytes(32))))
    for n, source in enumerate(CAPTURES[:2]):
        path = _redated(source, "07", tmp_path / f"{n}.warc")  # the same WARC-Date
        assert ingester.ingest_file(path).status == "ingested"
    sql = canned_query("page_history")["sql"]
    conn = sqlite3.connect(db)
    add_sql_functions(conn)  # the canned queries call the plugin's functions
    canned = [r[1] for r in conn.execute(sql, {"url": URL})]
    assert len(canned) == 2 and len({r[0] for r in conn.execute(sql, {"url": URL})}) == 1
    # both captured at the URL given: no column of URLs
    shown = CliRunner().invoke(cli, ["history", "--db", str(db), URL]).output.splitlines()
    assert shown[0].split()[-1] == "title", shown
    assert [h["article_id"] for h in cli_json(db, "history", URL)] == canned
    result = CliRunner().invoke(cli, ["diff", URL, "--from", "", "--db", str(db)])
    assert result.exit_code == 1 and f"no capture of {URL} matches ''" in result.output
    # the start of an article id, as `history` shows them, in any case (a fresh user's walk
    # through the docs found only capture hashes taken by their start)
    first, second = canned
    result = CliRunner().invoke(
        cli,
        ["diff", URL, "--from", first[:6].upper(), "--to", f" {second[:6]}", "--db", str(db),
         "--json"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert (json.loads(result.output)["from"], json.loads(result.output)["to"]) == (first, second)


def test_q4_a_long_diff_pairs_changed_sentences_without_scoring_every_pair(monkeypatch):
    """Two captures of a live blog with 1,200 changed sentences each took 40 s to diff: every
    removed sentence was scored against every added one. Past 40,000 pairs the candidates
    come from LSH bands; an edited sentence still pairs as changed."""
    import random

    rng = random.Random(7)
    words = [f"w{i:05d}" for i in range(50_000)]

    def sentence(tag: str, i: int) -> str:
        return f"The {tag} report {i} says " + " ".join(rng.choices(words, k=12)) + "."

    old = [(f"o{i}", sentence("old", i), f"ok{i}") for i in range(300)]
    new = [(f"n{i}", sentence("new", i), f"nk{i}") for i in range(300)]
    edited = old[5][1].replace("says", "said")
    new.append(("edited", edited, "edited-key"))
    calls = 0
    from archive import changes as changes_module

    real = changes_module.scores

    def counted(a, b):
        nonlocal calls
        calls += 1
        return real(a, b)

    monkeypatch.setattr(changes_module, "scores", counted)
    changes = list(changes_module._changes(old, new))
    assert calls < 5_000, calls
    changed = [(o[0], n[0]) for kind, o, n, _ in changes if kind == "changed"]
    assert changed == [("o5", "edited")]
    assert sum(kind == "removed" for kind, *_ in changes) == 299
    assert sum(kind == "added" for kind, *_ in changes) == 300
