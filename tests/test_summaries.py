"""The counts behind the speakers and claim_appearances views (archive/summaries.py): kept by
each ingest, they must equal what the views counted from the claims before migration 0009, and
the migration must compute the same from an older archive."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import pytest

import archive.db
from archive import schema
from archive.ingest import Ingester
from archive.summaries import Summaries

from .conftest import SAMPLE
from .test_robustness import FILLER, article_html, http_response, warc_file


def _old_view(name: str) -> str:
    """A view as migration 0001 made it and 0009 replaced it: every claim counted when read (the
    reference the counts kept at ingest must equal)."""
    return re.search(rf"CREATE VIEW {name} AS\n(.*?);", schema._V1, re.S).group(1)


OLD_SPEAKERS = f"SELECT * FROM ({_old_view('speakers')}) ORDER BY 1"
OLD_APPEARANCES = (
    "SELECT text_sha256, appearances, outlets, first_captured_at "
    f"FROM ({_old_view('claim_appearances')}) ORDER BY 1"
)
OLD_QUOTES = f"SELECT * FROM ({_old_view('quotes')}) ORDER BY 1"

QUOTE = '"The terminal will open in May, whatever the weather does," said Marta Lind.'
REPORTED = "Tomas Brandt said the council would meet again on Thursday to approve the budget."


def _page(title: str, site: str | None, paragraphs: list[str]) -> bytes:
    html = article_html(title, paragraphs)
    if site:
        html = html.replace(
            b"</head>", f'<meta property="og:site_name" content="{site}"></head>'.encode()
        )
    return html


def _capture(path: Path, pages: list[tuple[str, str | None, list[str]]], date: str) -> Path:
    responses = [
        http_response(url, _page(url.rsplit("/", 1)[-1], site, paragraphs))
        for url, site, paragraphs in pages
    ]
    headers = {url: {"WARC-Date": date} for url, _, _ in pages}
    return warc_file(path, responses, warc_headers=headers)


def _captures(tmp_path: Path) -> list[Path]:
    """Three captures: two outlets, a page with no site name, a recapture, shared sentences."""
    one = [QUOTE, FILLER[0], FILLER[1], REPORTED]
    two = [REPORTED, FILLER[2], FILLER[3]]
    return [
        _capture(tmp_path / "a.warc.gz", [
            ("https://harbour.example/news/terminal", "Harbour Times", one),
            ("https://harbour.example/news/budget", "Harbour Times", two),
        ], "2025-03-07T09:00:00Z"),
        _capture(tmp_path / "b.warc.gz", [
            ("https://coast.example/terminal", "Coast Daily", [FILLER[0], QUOTE, FILLER[3]]),
            ("https://blog.example/terminal", None, [FILLER[1], QUOTE, FILLER[2]]),
        ], "2025-03-06T09:00:00Z"),  # captured earlier than a, ingested after it
        _capture(tmp_path / "c.warc.gz", [
            ("https://harbour.example/news/terminal", "Harbour Times", one + [FILLER[2]]),
        ], "2025-03-09T09:00:00Z"),
    ]  # fmt: skip


def _state(db: Path) -> dict:
    conn = sqlite3.connect(db)
    return {
        "speakers": conn.execute("SELECT * FROM speakers ORDER BY 1").fetchall(),
        "appearances": conn.execute(
            "SELECT text_sha256, appearances, outlets, first_captured_at FROM claim_appearances "
            "ORDER BY 1"
        ).fetchall(),
        "speaker_sites": conn.execute("SELECT * FROM speaker_sites ORDER BY 1, 2").fetchall(),
        "claim_texts": conn.execute("SELECT * FROM claim_texts ORDER BY 1").fetchall(),
        "quotes": conn.execute("SELECT * FROM quotes ORDER BY 1").fetchall(),
        "old_quotes": conn.execute(OLD_QUOTES).fetchall(),
        "old_speakers": conn.execute(OLD_SPEAKERS).fetchall(),
        "old_appearances": conn.execute(OLD_APPEARANCES).fetchall(),
    }


def test_counts_kept_by_ingest_are_what_the_views_counted(tmp_path, fixed_signer):
    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    for capture in [*_captures(tmp_path), SAMPLE]:
        assert ingester.ingest_file(capture).status == "ingested"
    state = _state(db)
    assert state["speakers"] == state["old_speakers"]
    assert state["appearances"] == state["old_appearances"]
    assert state["quotes"] == state["old_quotes"] and len(state["quotes"]) >= 4
    # not a test of nothing: a quote carried by three outlets (one named by its host) and
    # recaptured, its speaker quoted by them, the earliest capture ingested second
    speakers = {row[0]: row for row in state["speakers"]}
    assert speakers["Marta Lind"][1:4] == (4, 4, 3)
    assert speakers["Marta Lind"][4] == "2025-03-06T09:00:00Z"
    conn = sqlite3.connect(db)
    sha = conn.execute("SELECT text_sha256 FROM claims WHERE text = ?", (QUOTE,)).fetchone()[0]
    assert (sha, 4, 3, "2025-03-06T09:00:00Z") in state["appearances"]
    texts = conn.execute("SELECT text FROM claim_appearances WHERE text_sha256 = ?", (sha,))
    assert texts.fetchall() == [(QUOTE,)]
    names = conn.execute("SELECT site_names FROM claim_texts WHERE text_sha256 = ?", (sha,))
    assert names.fetchall() == [('["Coast Daily","Harbour Times","blog.example"]',)]
    # sorted as published (by appearances): read through the index, not by counting claims
    plan = " ".join(
        row[-1]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM claim_appearances ORDER BY appearances DESC LIMIT 51"
        )
    )
    assert "claim_texts_appearances" in plan and "claims_text_sha256" not in plan, plan
    # a count of each view (every table page shows one) reads one index, joins nothing
    for view, index in [
        ("claim_appearances", "claim_texts_appearances"),
        ("quotes", "claims_quoted"),
        ("speakers", "speaker_sites_speaker"),
    ]:
        plan = " ".join(
            row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN SELECT count(*) FROM {view}")
        )
        assert index in plan and "SEARCH" not in plan, (view, plan)


def test_counts_added_in_parts_are_the_counts_added_at_once(tmp_path, fixed_signer, monkeypatch):
    """A capture's counts are added whenever ``flush_at`` texts are held, so that a capture of
    any size holds at most that many: the rows are the same as adding each capture at once."""
    captures = [*_captures(tmp_path), SAMPLE]  # made once: their hashes name the articles
    whole = tmp_path / "whole.db"
    ingester = Ingester(whole, fixed_signer)
    for capture in captures:
        assert ingester.ingest_file(capture).status == "ingested"
    held = []
    finish = Summaries.finish

    def noted(self):
        held.append(max(len(self.texts), len(self.speakers)))
        finish(self)

    monkeypatch.setattr(Summaries, "flush_at", 2)
    monkeypatch.setattr(Summaries, "finish", noted)
    parts = tmp_path / "parts.db"
    ingester = Ingester(parts, fixed_signer)
    for capture in captures:
        assert ingester.ingest_file(capture).status == "ingested"
    # added after every article or two (the sample's pages hold dozens of texts each), each
    # time with at most one article's texts beyond the bound
    assert len(held) > 8 and max(held) < 2 + 60, held
    state = _state(parts)
    assert state == _state(whole)
    assert state["speakers"] == state["old_speakers"] and state["speakers"]
    assert state["appearances"] == state["old_appearances"] and state["appearances"]


def test_migration_0009_counts_an_older_archive(tmp_path, fixed_signer):
    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    for capture in [*_captures(tmp_path), SAMPLE]:
        assert ingester.ingest_file(capture).status == "ingested"
    ingester.db.conn.close()
    kept = _state(db)
    older = tmp_path / "older.db"
    shutil.copy(db, older)
    conn = sqlite3.connect(older)
    conn.executescript(
        "DROP VIEW speakers; DROP VIEW claim_appearances; DROP VIEW quotes; "
        "DROP TABLE speaker_sites; DROP TABLE claim_texts; DROP INDEX claims_quoted; "
        "DROP INDEX claims_kind; DROP INDEX claims_cue; "
        f"CREATE VIEW quotes AS {_old_view('quotes')}; "
        f"CREATE VIEW speakers AS {_old_view('speakers')}; "
        f"CREATE VIEW claim_appearances AS {_old_view('claim_appearances')}; "
        "DELETE FROM migrations WHERE name = '0009_speaker_and_text_counts';"
    )
    conn.close()
    assert archive.db.upgrade(older) == ["0009_speaker_and_text_counts"]
    assert _state(older) == kept


def test_a_speaker_without_a_site_name_has_one_row_and_0011_recounts_repeats(
    tmp_path, fixed_signer
):
    """The unique index on (speaker, site_name) let rows with a NULL site_name repeat (SQLite's
    NULLs are distinct), and the speakers view added them up. Migration 0011 indexes the name
    with NULL as ''; an archive holding a repeat is recounted from its claims first."""
    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    for capture in _captures(tmp_path):
        assert ingester.ingest_file(capture).status == "ingested"
    ingester.db.conn.close()
    kept = _state(db)
    conn = sqlite3.connect(db)
    repeat = (
        "INSERT INTO speaker_sites (speaker, site_name, claims, quotes) "
        "VALUES ('Ana Ruiz', NULL, 1, 1)"
    )
    conn.execute(repeat)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(repeat)
    conn.rollback()
    # an archive from before 0011, where the repeat went in
    conn.executescript(
        "DROP INDEX speaker_sites_speaker; "
        "CREATE UNIQUE INDEX speaker_sites_speaker ON speaker_sites(speaker, site_name); "
        f"{repeat}; {repeat}; "
        "DELETE FROM migrations WHERE name = '0011_speaker_sites_one_row_without_site';"
    )
    conn.close()
    assert _state(db) != kept
    assert archive.db.upgrade(db) == ["0011_speaker_sites_one_row_without_site"]
    assert _state(db) == kept
    conn = sqlite3.connect(db)
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute(repeat)
        conn.execute(repeat)
    conn.close()


def test_an_article_without_a_site_name_is_counted_once(tmp_path, fixed_signer):
    """site_name may be NULL (no site name found): its counts add up in one row, and it is not
    an outlet, as COUNT(DISTINCT site_name) had it."""
    from archive.summaries import Summaries

    db = tmp_path / "archive.db"
    conn = Ingester(db, fixed_signer).conn
    claim = {"id": "x-0", "speaker": "Ana Ruiz", "kind": "quote", "text_sha256": "ab" * 32}
    statements: list[str] = []
    for at in ["2025-01-02T00:00:00Z", "2025-01-01T00:00:00Z"]:
        counts = Summaries(conn)
        counts.article({"site_name": None, "captured_at": at}, [claim])
        conn.set_trace_callback(statements.append)
        counts.finish()
        conn.set_trace_callback(None)
    # a text seen before costs a lookup of its own row, not a walk through its other claims
    # (a wire story's thousands of copies took seconds: found in review)
    assert statements and not any("FROM claims" in sql for sql in statements), statements
    assert conn.execute("SELECT * FROM speaker_sites").fetchall() == [
        ("Ana Ruiz", None, 2, 2, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
    ]
    assert conn.execute("SELECT * FROM speakers").fetchall() == [
        ("Ana Ruiz", 2, 2, 0, "2025-01-01T00:00:00Z", "2025-01-02T00:00:00Z")
    ]
    assert conn.execute(
        "SELECT appearances, outlets, first_captured_at, site_names FROM claim_texts"
    ).fetchall() == [(2, 0, "2025-01-01T00:00:00Z", "[]")]


def test_speaker_quotes_finds_a_name_by_a_part_only_one_name_holds(tmp_path, fixed_signer):
    """speaker_quotes looks names up in speaker_sites (a row per speaker and publication, not
    per claim): exactly, in any case, then by a part that only one speaker's name holds."""
    import json

    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    for capture in [*_captures(tmp_path), SAMPLE]:
        assert ingester.ingest_file(capture).status == "ingested"
    meta = json.loads((Path(__file__).resolve().parents[1] / "datasette-metadata.json").read_text())
    sql = meta["databases"]["archive"]["queries"]["speaker_quotes"]["sql"]
    conn = sqlite3.connect(db)

    def said(typed: str) -> list[str]:
        return [row[5] for row in conn.execute(sql, {"speaker": typed, "from": "", "after": ""})]

    lind = said("Marta Lind")
    assert lind and all("Marta Lind" in text for text in lind)
    for typed in ("marta lind", "LIND", " lind\t", "Marta"):
        assert said(typed) == lind, typed
    assert said("Brandt") == said("Tomas Brandt") != []
    for typed in ("", "nobody"):  # nothing typed, or a part no name holds
        assert said(typed) == [], typed
    # a part several names hold: those speakers instead of nothing, most quoted first, each
    # leading on to their claims (a bare "0 results" was a dead end: a researcher's review)
    counted = conn.execute(
        "SELECT speaker, sum(claims) AS n, min(first_captured_at) FROM speaker_sites "
        "WHERE instr(lower(speaker), 'a') GROUP BY speaker ORDER BY n DESC, speaker"
    ).fetchall()
    assert len(counted) > 1
    listed = list(conn.execute(sql, {"speaker": "A", "from": "", "after": ""}))
    assert [(row[1], row[0], row[9]) for row in listed] == [(n, None, None) for n, *_ in counted]
    name, n, first = counted[0]
    assert listed[0][5] == (
        f"One of {len(counted)} speakers whose names hold what you typed: {n} claims, the first "
        f"captured {first}. Click the name for them."
    )


def test_verify_derived_recounts_the_counts(tmp_path, fixed_signer):
    """The counts are derived and not signed: one altered count passed verify. `verify
    --derived` recounts both tables from the signed claims and names each row that differs,
    the publications of a text in any order (ingest sorts them, a recount does not)."""
    from click.testing import CliRunner

    from archive.cli import cli

    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    for capture in [*_captures(tmp_path), SAMPLE]:
        assert ingester.ingest_file(capture).status == "ingested"
    conn = sqlite3.connect(db)
    several = conn.execute("SELECT count(*) FROM claim_texts WHERE outlets > 1").fetchone()[0]
    assert several  # the case whose order differs

    def verify(*extra) -> str:
        result = CliRunner().invoke(cli, ["verify", "--db", str(db), "--no-files", *extra])
        return result.exit_code, result.output

    code, out = verify("--derived")
    assert code == 0, out
    assert re.search(r"^speaker_sites\s+\d+ verified\s+0 failed", out, re.M), out
    conn.execute("UPDATE speaker_sites SET claims = claims + 5 WHERE speaker = 'Elena Varga'")
    sha = conn.execute("SELECT text_sha256 FROM claim_texts WHERE outlets > 1").fetchone()[0]
    conn.execute("UPDATE claim_texts SET outlets = 1 WHERE text_sha256 = ?", (sha,))
    conn.execute(
        "INSERT INTO speaker_sites (speaker, site_name, claims, quotes) "
        "VALUES ('Nobody', 'X', 1, 1)"
    )
    conn.commit()
    conn.close()
    assert verify()[0] == 0  # not checked unless asked (docs/verification.md says so)
    code, out = verify("--derived")
    assert code == 1, out
    site = out.split("FAILED speaker_sites Elena Varga / ")[1].split(":")[0]
    assert f"FAILED speaker_sites Elena Varga / {site}: differs from the claims' recount" in out
    assert "FAILED speaker_sites Nobody / X: is not in the claims' recount" in out
    assert f"FAILED claim_texts {sha}: differs from the claims' recount" in out


def test_verify_derived_names_duplicates_and_damage_without_stopping(tmp_path, fixed_signer):
    """A speaker_sites row stored twice (a NULL site_name escapes its unique index) doubled the
    speaker's counts and passed, as sets compare equal; malformed JSON in site_names, or a
    table dropped, stopped verify as "the database is damaged" with no report (a review)."""
    from click.testing import CliRunner

    from archive.cli import cli

    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    for capture in _captures(tmp_path):
        assert ingester.ingest_file(capture).status == "ingested"

    def verify() -> tuple[int, str]:
        args = ["verify", "--db", str(db), "--no-files", "--derived"]
        result = CliRunner().invoke(cli, args)
        return result.exit_code, result.output

    conn = sqlite3.connect(db)
    conn.execute("DROP INDEX speaker_sites_speaker")  # (a NULL site_name needs no such step)
    speaker, site = conn.execute("SELECT speaker, site_name FROM speaker_sites").fetchone()
    conn.execute(
        "INSERT INTO speaker_sites (speaker, site_name, claims, quotes, first_captured_at, "
        "last_captured_at) SELECT speaker, site_name, claims, quotes, first_captured_at, "
        "last_captured_at FROM speaker_sites WHERE speaker = ? AND site_name IS ?",
        (speaker, site),
    )
    sha = conn.execute("SELECT text_sha256 FROM claim_texts WHERE outlets > 1").fetchone()[0]
    conn.execute("UPDATE claim_texts SET site_names = 'not json' WHERE text_sha256 = ?", (sha,))
    conn.commit()
    code, out = verify()
    assert code == 1, out
    assert f"FAILED speaker_sites {speaker} / {site}: differs from the claims' recount" in out
    assert f"FAILED claim_texts {sha}: differs from the claims' recount" in out
    conn.execute("DROP VIEW claim_appearances")
    conn.execute("DROP TABLE claim_texts")
    conn.commit()
    conn.close()
    code, out = verify()
    assert code == 1 and "FAILED claim_texts -: could not be recounted and compared" in out, out
    assert re.search(r"^claims\s+\d+ verified\s+0 failed", out, re.M), out  # the rest reported


def test_a_text_on_several_sites_counts_each_once(tmp_path):
    """Texts on one site share one frozenset of it (memory); a second site gives the text a
    set of its own, and the other texts of the first site keep theirs."""
    conn = archive.db.connect(tmp_path / "archive.db").conn
    summaries = Summaries(conn)

    def article(site, *texts):
        claims = [{"text_sha256": t, "id": f"claim:{t}", "speaker": None} for t in texts]
        summaries.article({"site_name": site, "captured_at": "2025-03-07T09:00:00Z"}, claims)

    article("A", "only-a", "wire")
    article("A", "wire")
    article(None, "wire")
    article("B", "wire", "only-b")
    article("C", "wire")
    summaries.finish()
    rows = conn.execute(
        "SELECT text_sha256, appearances, outlets, site_names FROM claim_texts ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("only-a", 1, 1, '["A"]'),
        ("only-b", 1, 1, '["B"]'),
        ("wire", 5, 3, '["A","B","C"]'),
    ]
