"""docs/provenance.md's stock-tools check (sqlite3, openssl, coreutils) passes a sound row and
fails each kind of alteration."""

from __future__ import annotations

import re
import shutil
import sqlite3
import subprocess

import pytest

from archive.docs import ROOT

pytestmark = pytest.mark.skipif(
    not (shutil.which("sqlite3") and shutil.which("openssl")),
    reason="needs the sqlite3 shell and openssl (make test installs them)",
)

ARTICLE = "37988c58467bc4cf"


@pytest.fixture
def check(sample_db, fixed_signer, tmp_path):
    text = (ROOT / "docs" / "provenance.md").read_text()
    (code,) = [c for c in re.findall(r"```sh\n(.*?)```", text, re.S) if "check_row.sh" in c]
    script = tmp_path / "check_row.sh"
    script.write_text(code)
    pub = tmp_path / "pub.pem"
    pub.write_text(fixed_signer.public_key_pem)

    def run(table: str, row_id: str, db=sample_db, key=pub, **how) -> tuple[int, str]:
        done = subprocess.run(
            ["sh", script, db, key, table, row_id], capture_output=True, text=True, timeout=60,
            **how,
        )  # fmt: skip
        return done.returncode, done.stdout.strip()

    return run


def _capture(db) -> str:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT sha256 FROM captures").fetchone()[0]


def test_sound_rows_hold(check, sample_db):
    for table, row_id in [
        ("captures", _capture(sample_db)),
        ("articles", ARTICLE),
        ("claims", f"{ARTICLE}-9"),
        ("image_uses", f"{ARTICLE}-i0"),
    ]:
        code, out = check(table, row_id)
        assert (code, out) == (0, f"{table} {row_id}: signature, key, ledger entry and signed "
                                   "values hold")  # fmt: skip


@pytest.mark.parametrize(
    "table, row_id, change, message",
    [
        ("claims", f"{ARTICLE}-9", "UPDATE claims SET speaker = 'Tomas Varga' WHERE id = '{id}'",
         "column speaker is not as signed"),
        ("claims", f"{ARTICLE}-9", "UPDATE articles SET captured_at = '2020-01-01T00:00:00Z'",
         "article's captured_at"),
        ("claims", f"{ARTICLE}-9",
         "UPDATE claims SET statement = replace(statement, 'Varga', 'Vargas') WHERE id = '{id}'",
         "signature does not verify"),
        ("claims", f"{ARTICLE}-9", "UPDATE claims SET signature = (SELECT signature FROM claims "
         "WHERE id = '{article}-4') WHERE id = '{id}'", "signature does not verify"),
        ("claims", f"{ARTICLE}-9", "UPDATE claims SET signature = substr(signature, 1, 85) || "
         "char(unicode(substr(signature, 86, 1)) + 1) || '==' WHERE id = '{id}'",
         "signature is not canonical base64"),
        ("claims", f"{ARTICLE}-9", "UPDATE claims SET key_id = 'ed25519:0000000000000000' "
         "WHERE id = '{id}'", "not signed by the key given"),
        ("claims", f"{ARTICLE}-9", "DELETE FROM ledger WHERE record_id = '{id}'", "ledger entry"),
        # columns with a newline at the end, which the shell's $(...) drops
        ("claims", f"{ARTICLE}-9", "UPDATE claims SET signature = signature || char(10) "
         "WHERE id = '{id}'", "signature is not canonical base64"),
        ("claims", f"{ARTICLE}-9", "UPDATE ledger SET leaf_hash = leaf_hash || char(10) "
         "WHERE record_id = '{id}'", "ledger entry"),
        ("claims", f"{ARTICLE}-9", "UPDATE claims SET key_id = key_id || char(10) "
         "WHERE id = '{id}'", "not signed by the key given"),
        ("articles", ARTICLE, "UPDATE articles SET authors = '[\"Someone\"]'",
         "column authors is not as signed"),
        ("articles", ARTICLE, "UPDATE articles SET text = text || ' '", "content hash"),
        ("image_uses", f"{ARTICLE}-i0", "UPDATE images SET content = content || x'00'",
         "content hash"),
        ("claims", "nothing-here", "SELECT 1", "no such row"),
        ("claims", "x' OR '1", "SELECT 1", "not an id"),
    ],
)  # fmt: skip
def test_each_alteration_fails(check, sample_db, table, row_id, change, message):
    with sqlite3.connect(sample_db) as conn:
        conn.execute(change.format(id=row_id, article=ARTICLE))
    conn.close()
    code, out = check(table, row_id)
    assert code == 1
    assert out.startswith(f"FAILED {table} {row_id}: {message}"), out


def test_another_key_fails(check, tmp_path):
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", tmp_path / "o.key"],
                   check=True, capture_output=True)  # fmt: skip
    subprocess.run(["openssl", "pkey", "-in", tmp_path / "o.key", "-pubout", "-out", other],
                   check=True, capture_output=True)  # fmt: skip
    code, out = check("claims", f"{ARTICLE}-9", key=other)
    assert code == 1 and "not signed by the key given" in out


def _capture_from_an_article_s_statement(conn):
    """Another row's statement and signature (an article's, signed) in a capture's row, its
    ledger entry made to match: the first version of the script passed it."""
    conn.execute(
        "UPDATE captures SET statement = (SELECT statement FROM articles), signature = (SELECT "
        "signature FROM articles), filename = 'forged.warc.gz', wacz_signer = 'Forged Signer'"
    )
    conn.execute(
        "UPDATE ledger SET leaf_hash = (SELECT leaf_hash FROM ledger WHERE record_table = "
        "'articles') WHERE record_table = 'captures'"
    )


def _speaker_renamed(conn):
    """A column renamed in case only: the first version compared only the columns whose names
    matched the statement's exactly, and skipped it."""
    conn.execute("ALTER TABLE claims RENAME COLUMN speaker TO SPEAKER")
    conn.execute(f"UPDATE claims SET SPEAKER = 'Someone Else' WHERE id = '{ARTICLE}-9'")


def _speaker_nocase(conn):
    """A collation the schema gives the column makes other bytes equal under `IS` (a review)."""
    conn.execute("PRAGMA writable_schema = ON")
    conn.execute(
        "UPDATE sqlite_schema SET sql = replace(sql, 'speaker TEXT,', 'speaker TEXT COLLATE "
        "NOCASE,') WHERE name = 'claims'"
    )


@pytest.mark.parametrize(
    "table, alter, message",
    [
        ("captures", _capture_from_an_article_s_statement, "its statement is another row's"),
        ("claims", _speaker_renamed, "column speaker is not as signed"),
        ("claims", _speaker_nocase, "column speaker is not as signed"),
    ],
)
def test_a_forged_row_the_first_version_passed_fails(check, sample_db, table, alter, message):
    conn = sqlite3.connect(sample_db, isolation_level=None)
    alter(conn)
    conn.close()
    if alter is _speaker_nocase:  # (the new collation is read by a new connection)
        with sqlite3.connect(sample_db) as conn:
            conn.execute(f"UPDATE claims SET speaker = upper(speaker) WHERE id = '{ARTICLE}-9'")
        conn.close()
    row_id = _capture(sample_db) if table == "captures" else f"{ARTICLE}-9"
    code, out = check(table, row_id)
    assert code == 1 and out.startswith(f"FAILED {table} {row_id}: {message}"), out


def test_what_cannot_be_read_fails_and_never_passes(check, sample_db, tmp_path):
    """A query that failed (a full /tmp: the article's text could not be written out for its
    hash) left the check out, and the row "held" (a review): every query fails closed."""
    import resource

    with sqlite3.connect(sample_db) as conn:
        conn.execute("UPDATE articles SET text = text || ' (altered)'")
        (statement,) = conn.execute("SELECT length(statement) FROM articles").fetchone()
    conn.close()

    def small_files():  # the statement fits, the article's text does not
        resource.setrlimit(resource.RLIMIT_FSIZE, (statement + 100, statement + 100))

    code, out = check("articles", ARTICLE, preexec_fn=small_files)
    assert code != 0 and out.startswith(f"FAILED articles {ARTICLE}: a step could not run"), out
