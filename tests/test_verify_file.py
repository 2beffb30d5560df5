"""What verify finds beyond the values of the signed rows: the schema as the migrations make
it, every index against its table, a signature's one base64 spelling, a row whose article is
missing (split from test_verify.py, each from a review of the nineteenth round)."""

from __future__ import annotations

import re
import sqlite3

import pytest

from .test_verify import edit, run_verify


def test_a_deleted_article_is_named_as_missing_for_each_of_its_claims(sample_db, copy_db):
    """Each claim of a deleted article said "captured_at differs from its article's": the
    article is missing, not different (an auditor's review)."""
    db = copy_db(sample_db)
    edit(db, "DELETE FROM articles WHERE id = '37988c58467bc4cf'")
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1
    assert (
        "FAILED claims 37988c58467bc4cf-3: its article 37988c58467bc4cf is missing; "
        "statement cannot be rebuilt (a claim statement needs its article)\n"
    ) in result.output
    assert "captured_at differs" not in result.output


def test_a_column_renamed_in_case_only_is_a_schema_problem_not_a_traceback(sample_db, copy_db):
    """A `text` column renamed `Text` ended verify in a traceback (KeyError: 'text'), found by
    a review: SQL's names are case-blind, so the rows are read as before and the schema check
    names the renaming."""
    db = copy_db(sample_db)
    edit(db, "ALTER TABLE claims RENAME COLUMN text TO Text")
    edit(db, "UPDATE claims SET Text = 'The mayor resigned.' WHERE id = '37988c58467bc4cf-9'")
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "FAILED schema claims: table defined otherwise" in result.output, result.output
    assert re.search(r"^claims\s+23 verified\s+1 failed", result.output, re.M), result.output
    assert (
        "FAILED claims 37988c58467bc4cf-9: text does not match text_sha256; statement does not "
        "match the row: fields differ: text\n"
    ) in result.output


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_signature_in_another_base64_spelling_fails(sample_db, copy_db, workers):
    """Base64 decoders ignore the unused bits of the last character: "...CR==" decodes as
    "...CQ==", so a signature's text could be changed and still verify (an auditor's review).
    Only the one standard spelling is a signature."""
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    (signature,) = conn.execute(
        "SELECT signature FROM claims WHERE id = '37988c58467bc4cf-4'"
    ).fetchone()
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    assert signature.endswith("==")  # 64 bytes: the last character has 4 unused bits
    other = alphabet[alphabet.index(signature[-3]) ^ 1]
    conn.execute(
        "UPDATE claims SET signature = ? WHERE id = '37988c58467bc4cf-4'",
        (f"{signature[:-3]}{other}==",),
    )
    conn.commit()
    conn.close()
    result = run_verify(db, "--no-files", "--workers", workers)
    assert result.exit_code == 1
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert failed == [
        "FAILED claims 37988c58467bc4cf-4: signature is not written as its one standard base64 "
        "(its text was altered)"
    ]


def test_a_view_trigger_or_table_not_as_the_migrations_make_it_is_reported(sample_db, copy_db):
    """The quotes view rewritten in the file to give every quote to someone else passed
    verify, --derived too: every signed row was intact, and Datasette showed the view (an
    auditor's review). The schema's tables, views and triggers are compared with what the
    migrations make; an index added or dropped changes no result and is not reported."""
    assert "schema               1 verified     0 failed" in run_verify(sample_db).output
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    conn.executescript(
        "DROP VIEW quotes; CREATE VIEW quotes AS SELECT id AS claim_id, 'Someone Else' AS "
        "speaker, quote, text, cue, NULL AS site_name, NULL AS url, captured_at, article_id "
        "FROM claims WHERE quote IS NOT NULL; DROP TRIGGER claims_au; CREATE TABLE notes (x); "
        "CREATE INDEX my_own ON claims (cue); DROP INDEX claims_cue;"
    )
    conn.close()
    result = run_verify(db)
    assert result.exit_code == 1, result.output
    failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
    assert failed == [
        "FAILED schema claims_au: trigger missing: the archive's migrations create it",
        "FAILED schema notes: table added: not one of the archive's (`CREATE TABLE notes (x)`)",
        "FAILED schema quotes: view defined otherwise than the archive's migrations define it "
        "(`CREATE VIEW quotes AS SELECT id AS claim_id, 'Someone Else' AS speaker, quote, t`)",
    ]


def test_an_index_whose_entries_are_not_its_table_s_rows_is_found(sample_db, copy_db):
    """An index rebuilt with two speakers swapped (its root page swapped with a copy's) showed
    one person's claims as another's in speaker_quotes, which reads through it, and passed
    quick_check and every row check (a review): verify runs integrity_check, which compares
    each index with its table."""
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    (speaker,) = conn.execute(
        "SELECT speaker FROM claims WHERE speaker IS NOT NULL LIMIT 1"
    ).fetchone()
    conn.executescript(
        "CREATE TABLE swapped (speaker, captured_at, position);"
        "INSERT INTO swapped (rowid, speaker, captured_at, position) SELECT rowid, CASE speaker "
        f"WHEN '{speaker}' THEN 'Someone Else' ELSE speaker END, captured_at, position "
        "FROM claims;"
        "CREATE INDEX swapped_index ON swapped (speaker, captured_at, position);"
    )
    root = dict(conn.execute(
        "SELECT name, rootpage FROM sqlite_master WHERE name IN "
        "('swapped_index', 'claims_speaker_time')"
    ).fetchall())  # fmt: skip
    conn.execute("PRAGMA writable_schema = ON")
    for name, other in (
        ("claims_speaker_time", "swapped_index"),
        ("swapped_index", "claims_speaker_time"),
    ):
        conn.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = ?", (root[other], name))
    conn.commit()
    conn.close()
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE swapped")
    conn.commit()
    # what a reader of speaker_quotes sees: the speaker's claims under another name
    seen = conn.execute(
        "SELECT count(*) FROM claims INDEXED BY claims_speaker_time WHERE speaker = ?",
        ("Someone Else",),
    ).fetchone()[0]
    truth = conn.execute(
        "SELECT count(*) FROM claims NOT INDEXED WHERE speaker = 'Someone Else'"
    ).fetchone()[0]
    assert (seen, truth) != (0, 0) and seen != truth
    conn.close()
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1, result.output
    assert "claims_speaker_time" in result.output, result.output
    assert result.output.count(f"FAILED database file {db}: SQLite's integrity_check: ") >= 1
