"""What an archive says about itself that verify now holds it to (found by an auditor's review):
its keys are its first key and those its rotations introduced, its history cannot be emptied,
its checkpoints are of one log, its capture files are where ingest keeps them, and its images'
stored sizes are theirs."""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3

from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive import checkpoint as cp
from archive.cli import cli
from archive.keys import Signer

from .test_verify import signed_claim

CLAIM = "37988c58467bc4cf-0"


def run_verify(db, *extra):
    return CliRunner().invoke(cli, ["verify", "--db", str(db), *extra])


def _checkpoint(conn, signer: Signer, origin: str | None = None) -> None:
    """A checkpoint of the ledger as it stands, signed by ``signer`` (of ``origin``, else the
    archive's own)."""
    size, root, own = conn.execute(
        "SELECT tree_size, root_hash, origin FROM checkpoints ORDER BY tree_size DESC LIMIT 1"
    ).fetchone()
    n = conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
    assert n == size  # the forgery below adds no entry
    origin = origin or own
    note = cp.sign(cp.Checkpoint(origin, size, bytes.fromhex(root)), origin, signer)
    conn.execute(
        "INSERT INTO checkpoints (origin, tree_size, root_hash, note, key_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, '2026-01-02T00:00:00Z')",
        (origin, size, root, note, signer.key_id),
    )


def _add_key(conn, signer: Signer) -> None:
    conn.execute(
        "INSERT INTO keys (key_id, algorithm, public_key, created_at) VALUES (?, ?, ?, ?)",
        (signer.key_id, "ed25519", signer.public_key_pem, "2026-01-02T00:00:00Z"),
    )


def test_a_key_put_beside_the_archive_s_own_is_not_trusted_unpinned(sample_db, copy_db):
    """Without a pinned key, verify trusted every key in the keys table: a key added there
    signed a claim and a checkpoint, and everything verified. It now trusts the archive's
    first key (its first checkpoint's) and the keys its rotations introduced."""
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    forger = Signer(Ed25519PrivateKey.generate())
    _add_key(conn, forger)
    text = conn.execute("SELECT text FROM claims WHERE id = ?", (CLAIM,)).fetchone()[0]
    row = signed_claim(conn, forger, "2026-01-02T00:00:00Z", text=f"{text} And the forger's.")
    changed = ("text", "text_sha256", "statement", "signature", "key_id")
    conn.execute(
        f"UPDATE claims SET {', '.join(f'{c} = ?' for c in changed)} WHERE id = ?",
        [*(row[c] for c in changed), CLAIM],
    )
    conn.execute(
        "UPDATE ledger SET leaf_hash = ? WHERE record_id = ?",
        (hashlib.sha256(b"\x00" + row["statement"].encode()).hexdigest(), CLAIM),
    )
    conn.commit()
    conn.close()
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("Trust: trusting the archive's first key as the database holds it: ")
    assert forger.key_id not in first, first
    assert (
        f"FAILED keys {forger.key_id}: not the archive's first key, and no rotation from it "
        "introduced it" in result.output
    )
    assert f"FAILED claims {CLAIM}: signed by an unknown or untrusted key {forger.key_id}" in (
        result.output
    )


def test_a_checkpoint_signed_by_a_key_beside_the_archive_s_fails(sample_db, copy_db):
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    forger = Signer(Ed25519PrivateKey.generate())
    _add_key(conn, forger)
    _checkpoint(conn, forger)
    conn.commit()
    conn.close()
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1, result.output
    assert f"signed by an unknown or untrusted key {forger.key_id}" in result.output


def test_an_emptied_archive_fails_pinned_or_not(sample_db, copy_db, fixed_signer, tmp_path):
    """Every signed row, the ledger and the checkpoints deleted, the key kept: pinned, verify
    said "Ledger: 0 entries ... OK". An archive with a key has a history."""
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    for table in ("image_uses", "claims", "articles", "capture_records", "images", "captures"):
        conn.execute(f"DELETE FROM {table}")
    conn.execute("DELETE FROM ledger")
    conn.execute("DELETE FROM checkpoints")
    conn.commit()
    conn.close()
    pub = tmp_path / "pub.pem"
    pub.write_text(fixed_signer.public_key_pem)
    for extra in (("--public-key", str(pub)), ()):
        result = run_verify(db, "--no-files", *extra)
        assert result.exit_code == 1, result.output
        assert (
            "FAILED checkpoints -: the archive has a signing key but no ledger entries and no "
            "checkpoint: its history was removed" in result.output
        )
    # the keys deleted too (a review): pinned, the key signed nothing here; unpinned, the file
    # is an archive nothing was ingested into (docs/verification.md says verify cannot tell)
    edit = sqlite3.connect(db)
    edit.execute("DELETE FROM keys")
    edit.commit()
    edit.close()
    result = run_verify(db, "--no-files", "--public-key", str(pub))
    assert result.exit_code == 1 and "the archive holds nothing the pinned key signed" in (
        result.output
    )
    assert run_verify(db, "--no-files").exit_code == 0


def test_a_checkpoint_of_another_log_fails(sample_db, copy_db, fixed_signer):
    """Signed by the archive's key, with the right root, but of another origin: the first
    checkpoint fixed the log's name (docs/verification.md)."""
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    _checkpoint(conn, fixed_signer, origin="other/log")
    conn.commit()
    conn.close()
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1, result.output
    assert "a checkpoint of another log (other/log), not of this archive (" in result.output


def test_a_capture_file_outside_captures_fails(sample_db, copy_db):
    """A stored_path edited to name a file elsewhere, holding the same bytes: verify passed
    what serve --captures refuses to deliver."""
    db = copy_db(sample_db)
    stored = next((db.parent / "captures").iterdir())
    shutil.move(stored, db.parent / "outside.warc.gz")
    conn = sqlite3.connect(db)
    conn.execute("UPDATE captures SET stored_path = 'outside.warc.gz'")
    conn.commit()
    conn.close()
    result = run_verify(db)
    assert result.exit_code == 1, result.output
    assert (
        "stored_path 'outside.warc.gz' is not a file named by its hash in captures/"
        in result.output
    )


def test_an_image_s_stored_size_is_checked(sample_db, copy_db):
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    sha, size = conn.execute("SELECT sha256, bytes FROM images LIMIT 1").fetchone()
    conn.execute("UPDATE images SET bytes = 1 WHERE sha256 = ?", (sha,))
    conn.commit()
    conn.close()
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1, result.output
    assert f"FAILED images {sha}: bytes is 1, the content's length {size}" in result.output


def test_a_search_index_written_on_purpose_fails(sample_db, copy_db, monkeypatch):
    """A claim's full-text entry replaced with words it does not hold: a search for them found
    it, and verify (SQLite's page check included) said OK (an auditor's review). FTS5's own
    integrity-check now compares each index with its table, on a copy of the index in the
    read-only connection's temporary database; in worker processes too."""
    from archive.verify import Verifier

    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    conn.execute(
        "INSERT INTO claims_fts (claims_fts, rowid, text, speaker, quote) "
        "SELECT 'delete', rowid, text, speaker, quote FROM claims WHERE id = ?",
        (CLAIM,),
    )
    conn.execute(
        "INSERT INTO claims_fts (rowid, text) SELECT rowid, 'Varga confessed to bribery' "
        "FROM claims WHERE id = ?",
        (CLAIM,),
    )
    conn.commit()
    assert conn.execute(
        "SELECT count(*) FROM claims_fts WHERE claims_fts MATCH 'bribery'"
    ).fetchone() == (1,)
    conn.close()
    before = db.read_bytes()
    for parallel_from in (Verifier.parallel_from, 0):
        monkeypatch.setattr(Verifier, "parallel_from", parallel_from)
        result = run_verify(db, "--no-files", "--workers", "2")
        assert result.exit_code == 1, result.output
        assert re.search(r"^search indexes\s+1 verified\s+1 failed", result.output, re.M)
        assert (
            "FAILED search indexes claims_fts: does not match claims: a search finds rows under "
            "words they do not hold, or misses rows" in result.output
        )
    assert db.read_bytes() == before  # checked without writing
    clean = run_verify(sample_db, "--no-files")
    assert re.search(r"^search indexes\s+2 verified\s+0 failed", clean.output, re.M), clean.output
    skipped = run_verify(db, "--no-files", "--no-sqlite-check")
    assert skipped.exit_code == 0 and "search indexes" not in skipped.output


def test_a_stored_path_holding_a_nul_byte_is_a_finding_not_a_crash(sample_db, copy_db):
    """The check of where a capture file is resolved the path, which raised on a NUL byte and
    stopped verify with a traceback (a review of this round's commits)."""
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE captures SET stored_path = stored_path || char(0) || 'x'")
    conn.commit()
    conn.close()
    result = run_verify(db)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    assert "is not a file named by its hash in captures/" in result.output, result.output
    assert "claims              24 verified" in result.output


def test_a_search_index_the_archive_does_not_make_fails(sample_db, copy_db):
    """A second index over the claims, made before the real one (dropped and made again):
    Datasette searched the first it found, the forged one, and verify checked the real one (a
    review of this round). The metadata names each table's index, and verify names any other
    virtual table; an index's configuration is checked too."""
    import json
    from pathlib import Path

    meta = json.loads((Path(__file__).resolve().parents[1] / "datasette-metadata.json").read_text())
    tables = meta["databases"]["archive"]["tables"]
    assert (tables["claims"]["fts_table"], tables["articles"]["fts_table"]) == (
        "claims_fts",
        "articles_fts",
    )
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    conn.executescript(
        """
        DROP TABLE claims_fts;
        CREATE VIRTUAL TABLE claims_evil USING fts5(text, speaker, quote, content=[claims]);
        INSERT INTO claims_evil (claims_evil) VALUES ('rebuild');
        CREATE VIRTUAL TABLE claims_fts USING fts5(text, speaker, quote, content=[claims]);
        INSERT INTO claims_fts (claims_fts) VALUES ('rebuild');
        UPDATE articles_fts_config SET v = 99 WHERE k = 'version';
        """
    )
    conn.commit()
    conn.close()
    result = run_verify(db, "--no-files")
    assert result.exit_code == 1, result.output
    assert "FAILED search indexes claims_evil: a virtual table the archive does not make" in (
        result.output
    )
    assert (
        "FAILED search indexes articles_fts: its configuration is not that of the index ingest "
        "makes" in result.output
    )
    assert re.search(r"^search indexes\s+1 verified\s+2 failed", result.output, re.M)
