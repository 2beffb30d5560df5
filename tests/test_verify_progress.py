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
    """Rows as their chunks are done, then the stored files' bytes hashed, then read again;
    each stage's count only grows and ends at its total."""
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
    assert list(dict.fromkeys(stages)) == ["records", "capture files", "capture records"]
    expected = {
        "records": _signed_rows(sample_db),
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
    assert told[-1] == ("records", _signed_rows(db), _signed_rows(db))


def test_the_command_shows_a_bar_on_a_terminal_only(isolated_env):
    from .test_ingest import ingest

    assert ingest(SAMPLE, "--workers", "0").exit_code == 0
    text = on_terminal("--captures", command="verify")
    shown = {
        label: [int(p) for p in re.findall(rf"{label}\s+\[[#-]+\]\s+(\d+)%", text)]
        for label in ("Checking records", "Hashing files", "Reading captures")
    }
    assert all(p and p[-1] == 100 for p in shown.values()), text
    # the report starts a line of its own, after the bars
    assert re.search(r"\nTrust: ", text) and text.rstrip().endswith("OK: everything verifies")
    db = isolated_env / "records" / "archive.db"
    plain = run_verify(db, "--captures")
    assert plain.exit_code == 0 and "Checking records" not in plain.output, plain.output
