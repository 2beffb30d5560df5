"""The next capture file is started (checked, hashed, copied, its first records sent to the
workers) while the file before it is finished: the archive is the same as one file at a time,
a signing time taken ahead never goes back, and nothing of a file that did not go in stays."""

from __future__ import annotations

import gc
import itertools
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import cli
from archive.db import connect
from archive.ingest import Ingester
from archive.parallel import process_pool, stop_pool
from archive.verify import verify

from .conftest import DATA, FIXED_TIME, SAMPLE, SECOND
from .test_ingest import dump, file_hash

THIRD = DATA / "warc" / "example.warc.gz"
WACZ = DATA / "wacz" / "valid_signed_example_1.wacz"


@pytest.fixture
def pool():
    executor = process_pool(1)
    yield executor
    stop_pool(executor)


def test_files_started_ahead_make_the_same_archive(tmp_path, fixed_signer, pool):
    dumps = []
    for executor in (None, pool):
        db = tmp_path / ("ahead" if executor else "plain") / "archive.db"
        ingester = Ingester(db, fixed_signer, clock=lambda: FIXED_TIME, executor=executor)
        results = ingester.ingest([SAMPLE, WACZ, SECOND, THIRD])
        assert [r.status for r in results] == ["ingested"] * 4
        dumps.append([x for x in dump(db) if "INSERT INTO" in x and '"migrations"' not in x])
    assert dumps[0] == dumps[1]


def test_the_next_file_is_copied_and_read_before_its_turn(tmp_path, fixed_signer, pool):
    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer, executor=pool)
    assert ingester.ingest_file(SAMPLE, next_path=SECOND).status == "ingested"
    captures = db.parent / "captures"
    # started: its copy is made, and it is not in the archive yet
    assert (captures / f"{file_hash(SECOND)}.warc").is_file()
    assert ingester.conn.execute("SELECT count(*) FROM captures").fetchone() == (1,)
    # a small file, read whole ahead: the one after it is started at the start of its turn
    assert ingester.ingest_file(SECOND, next_path=THIRD).status == "ingested"
    assert (captures / f"{file_hash(THIRD)}.warc.gz").is_file()
    assert ingester.ingest_file(THIRD).status == "ingested"
    assert verify(connect(db, create=False)).ok


def test_a_file_started_ahead_and_not_ingested_leaves_no_copy(tmp_path, fixed_signer, pool):
    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer, executor=pool)
    assert ingester.ingest_file(SAMPLE, next_path=SECOND).status == "ingested"
    ingester.drop_ahead()  # the run stopped before its turn
    assert sorted(p.name for p in (db.parent / "captures").iterdir()) == [
        f"{file_hash(SAMPLE)}.warc.gz"
    ]
    # another file than the one started comes next: the one started is dropped
    assert ingester.ingest_file(THIRD, next_path=SECOND).status == "ingested"
    assert (db.parent / "captures" / f"{file_hash(SECOND)}.warc").is_file()
    assert ingester.ingest_file(DATA / "warc" / "example.arc.gz").status == "ingested"
    assert not (db.parent / "captures" / f"{file_hash(SECOND)}.warc").exists()
    assert verify(connect(db, create=False)).ok


def test_a_signing_time_taken_ahead_is_taken_again_after_another_ingest(
    tmp_path, fixed_signer, pool
):
    """The next file's signing time is taken when it is started; if another ingest commits a
    later one before its turn, its rows are signed at a new time, or the ledger's times would
    go back and verify would refuse the archive."""
    seconds = itertools.count()

    def clock() -> str:  # one clock for both processes, a second further each time it is read
        n = next(seconds)
        return f"2026-01-01T00:{n // 60:02d}:{n % 60:02d}Z"

    db = tmp_path / "records" / "archive.db"
    first = Ingester(db, fixed_signer, clock=clock, executor=pool)
    assert first.ingest_file(SAMPLE, next_path=SECOND).status == "ingested"
    other = Ingester(db, fixed_signer, clock=clock)  # another process, between the two files
    assert other.ingest_file(THIRD).status == "ingested"
    assert first.ingest_file(SECOND).status == "ingested"
    times = dict(first.conn.execute("SELECT filename, ingested_at FROM captures"))
    assert times[SAMPLE.name] < times[THIRD.name] < times[SECOND.name]
    report = verify(connect(db, create=False))
    assert report.ok, [str(f) for f in report.failures]


def test_a_broken_next_file_is_reported_as_when_it_comes_alone(tmp_path):
    """Cut short, so that reading it fails after some records: while it is started ahead,
    the error is kept for its turn, and said as it is said of the file alone."""
    broken = tmp_path / "cut.warc.gz"
    data = SECOND.read_bytes()
    broken.write_bytes(SAMPLE.read_bytes()[: len(SAMPLE.read_bytes()) * 7 // 10])
    runner = CliRunner()
    alone = runner.invoke(cli, ["ingest", "--workers", "1", str(broken)])
    assert alone.exit_code == 1
    errors = [line for line in alone.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and str(broken) in errors[0] and "offset" in errors[0]
    (tmp_path / "records" / "archive.db").unlink()
    after = runner.invoke(cli, ["ingest", "--workers", "1", str(SECOND), str(broken)])
    assert after.exit_code == alone.exit_code
    assert [line for line in after.output.splitlines() if line.startswith("Error:")] == errors
    captures = tmp_path / "records" / "captures"
    assert [p.read_bytes() for p in captures.iterdir()] == [data]


def test_a_large_next_file_is_left_for_its_turn(tmp_path, fixed_signer, pool):
    """Hashed and copied while the file before holds the write lock, a large file would keep
    other ingests waiting (and a Ctrl-C then would cost the file before it): not started."""
    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer, executor=pool)
    ingester.ahead_bytes = SECOND.stat().st_size - 1
    assert ingester.ingest_file(SAMPLE, next_path=SECOND).status == "ingested"
    assert not (db.parent / "captures" / f"{file_hash(SECOND)}.warc").exists()
    assert ingester.ingest_file(SECOND).status == "ingested"


def test_a_file_started_ahead_and_dropped_is_closed_at_once(tmp_path, fixed_signer, pool):
    """Its records refer back to it: left to the garbage collector, the copy removed stayed
    open, its disk space not given back."""
    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer, executor=pool)
    longer = tmp_path / "longer.warc.gz"  # more records than are sent ahead (32)
    longer.write_bytes(THIRD.read_bytes() * 7)
    stored = db.parent / "captures" / f"{file_hash(longer)}.warc.gz"

    def open_files() -> set[str]:
        fds = Path("/proc/self/fd")
        return {
            os.readlink(fd).removesuffix(" (deleted)") for fd in fds.iterdir() if fd.is_symlink()
        }

    gc.disable()
    try:
        assert ingester.ingest_file(SAMPLE, next_path=longer).status == "ingested"
        assert str(stored) in open_files()
        ingester.drop_ahead()
        assert str(stored) not in open_files()
    finally:
        gc.enable()
