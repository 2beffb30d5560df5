"""How far `archive verify` is: its library tells each long stage's progress, and on a terminal
the command shows a bar for each (a large archive's verify is minutes of silence otherwise)."""

from __future__ import annotations

import re
import sqlite3

import pytest

from archive.db import connect
from archive.schema import SIGNED_TABLES
from archive.verify import Verifier, verify

from .conftest import SAMPLE
from .test_cli_files import on_terminal
from .test_verify import run_verify


def _signed_rows(db) -> int:
    conn = sqlite3.connect(db)
    try:
        return sum(conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in SIGNED_TABLES)
    finally:
        conn.close()


def _stored_bytes(db) -> int:
    return sum(p.stat().st_size for p in (db.parent / "captures").iterdir())


@pytest.mark.parametrize("workers", [1, 2])
def test_each_stage_is_told_until_it_is_done(sample_db, monkeypatch, workers):
    """Rows as their chunks are done, then the checks of the database as a whole as they
    end, then the stored files' bytes hashed, then read again; each stage's count only grows
    and ends at its total."""
    monkeypatch.setattr(Verifier, "parallel_from", 0)  # the workers' path too
    monkeypatch.setattr(Verifier, "chunk_rows", 5)  # several chunks in the small sample
    told = []
    report = verify(
        connect(sample_db, create=False),
        workers=workers,
        check_captures=True,
        progress=lambda *event: told.append(event),
    )
    assert report.ok, report.failures
    stages = [stage for stage, _, _ in told]
    assert list(dict.fromkeys(stages)) == [
        "records",
        "database",
        "capture files",
        "capture records",
    ]
    expected = {
        "records": _signed_rows(sample_db),
        # SQLite's integrity check, its search indexes, the ledger's Merkle tree, the images
        "database": 4,
        "capture files": _stored_bytes(sample_db),
        "capture records": _stored_bytes(sample_db),
    }
    for stage, total in expected.items():
        events = [(done, of) for s, done, of in told if s == stage]
        assert {of for _, of in events} == {total}, (stage, events)
        done = [d for d, _ in events]
        assert done == sorted(done) and done[-1] == total, (stage, events)
    assert stages.count("records") > 3  # told chunk by chunk, not once at the end


def test_rows_that_fail_are_counted_as_done(sample_db, copy_db, monkeypatch):
    db = copy_db(sample_db)
    conn = sqlite3.connect(db)
    conn.execute("UPDATE claims SET text = 'altered' WHERE rowid = 1")
    conn.commit()
    conn.close()
    told = []
    report = verify(
        connect(db, create=False), check_files=False, progress=lambda *e: told.append(e)
    )
    assert not report.ok
    records = [event for event in told if event[0] == "records"]
    assert records[-1] == ("records", _signed_rows(db), _signed_rows(db))


def test_the_command_shows_a_bar_on_a_terminal_only(isolated_env):
    from .test_ingest import ingest

    assert ingest(SAMPLE, "--workers", "0").exit_code == 0
    text = on_terminal("--captures", command="verify")
    shown = {
        label: [int(p) for p in re.findall(rf"{label}\s+\[[#-]+\]\s+(\d+)%", text)]
        for label in ("Checking records", "Database checks", "Hashing files", "Reading captures")
    }
    assert all(p and p[-1] == 100 for p in shown.values()), text
    # the report starts a line of its own, after the bars
    assert re.search(r"\nTrust: ", text) and text.rstrip().endswith("OK: everything verifies")
    db = isolated_env / "records" / "archive.db"
    plain = run_verify(db, "--captures")
    assert plain.exit_code == 0 and "Checking records" not in plain.output, plain.output


def _slow_structure_check(conn):
    """SQLite's integrity check, 1.5 s late (at module level: a worker finds it by name)."""
    import time

    from archive.db_checks import check_structure

    time.sleep(1.5)
    return check_structure(conn)


def test_the_database_checks_are_told_as_they_end_after_the_rows(sample_db, monkeypatch):
    """SQLite's check of a large file may run on in its worker after the rows are done: the
    bar then says so, rather than sit at 100% of the rows (here made slow)."""
    from archive import verify as verify_module

    monkeypatch.setattr(verify_module, "check_structure", _slow_structure_check)
    monkeypatch.setattr(Verifier, "parallel_from", 0)
    told = []
    report = verify(
        connect(sample_db, create=False),
        workers=2,
        check_files=False,
        progress=lambda *event: told.append(event),
    )
    assert report.ok, report.failures
    last_row = max(i for i, event in enumerate(told) if event[0] == "records")
    database = [event[1:] for event in told[last_row + 1 :] if event[0] == "database"]
    assert database[0][0] < 4 and database[-1] == (4, 4), told
