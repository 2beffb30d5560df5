"""The archive's own storage failing (a full disk, a database that cannot be written): the ingest
stops at once with one line naming the archive, not the file it was reading, and leaves nothing
behind."""

from __future__ import annotations

import os
import resource
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from archive.errors import DatabaseError

from .conftest import DATA, SAMPLE, SECOND
from .test_robustness import consistency_problems, run_cli

ROOT = Path(__file__).resolve().parent.parent
OTHERS = [SECOND, DATA / "warc" / "example.warc.gz"]


def _stored(db: Path) -> list[str]:
    return sorted(p.name for p in (db.parent / "captures").iterdir())


def test_a_full_disk_stops_the_ingest_with_one_line_naming_the_archive(tmp_path):
    """On a full disk each file in turn failed with "<file>: OperationalError: database or disk
    is full", the archive unnamed, and each left its stored copy behind on the full disk (found
    in review). A file-size limit just above the database makes SQLite's writes fail the same
    way here."""
    db, key = tmp_path / "records" / "archive.db", tmp_path / "k.pem"
    assert run_cli("ingest", "--key", key, "--db", db, SAMPLE)[0] == 0
    before = _stored(db)
    limit = db.stat().st_size

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run(
        [sys.executable, "-m", "archive", "ingest", "--db", str(db), "--workers", "0",
         *map(str, OTHERS)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVE_KEY": str(key)},
        capture_output=True, text=True, timeout=120, preexec_fn=small_disk,
    )  # fmt: skip
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1, proc.stdout + proc.stderr
    assert errors[0].startswith(f"Error: {db}: cannot write the archive database (") and (
        f"{OTHERS[0]} was not ingested, and the files after it are not read" in errors[0]
    ), errors[0]
    assert "Traceback" not in proc.stderr
    assert _stored(db) == before  # no copy left for a capture that did not go in
    assert consistency_problems(db) == []
    code, output = run_cli("verify", "--db", db)
    assert code == 0, output


def test_a_write_that_fails_after_begin_leaves_no_transaction_open(
    tmp_path, fixed_signer, monkeypatch
):
    """BEGIN was outside the try that rolls back: a database that takes BEGIN but refuses the
    first write (read-only) left the transaction open, and every later file failed with "cannot
    start a transaction within a transaction", each leaving a stored copy (found in review)."""
    from archive import ledger
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    assert ingester.ingest_file(SAMPLE).status == "ingested"
    before = _stored(db)

    def refuse(self, signer):
        raise sqlite3.OperationalError("attempt to write a readonly database")

    monkeypatch.setattr(ledger.SignedWriter, "ensure_key", refuse)
    with pytest.raises(DatabaseError, match="cannot write the archive database"):
        ingester.ingest_file(OTHERS[0])
    assert not ingester.conn.in_transaction
    assert _stored(db) == before
    monkeypatch.undo()
    assert ingester.ingest_file(OTHERS[0]).status == "ingested"  # the archive still works
