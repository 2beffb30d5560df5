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


def test_a_capture_beside_the_database_that_cannot_be_read_fails_alone(
    tmp_path, fixed_signer, monkeypatch
):
    """Any error naming a file under the database's directory was taken for the archive's own:
    a capture there that could not be read stopped the whole run, naming "." (second review).
    Only the files the archive writes count."""
    import errno
    import shutil

    from archive import capture_files, ingest

    db = tmp_path / "archive.db"
    here = tmp_path / SAMPLE.name
    shutil.copy(SAMPLE, here)
    ingester = ingest.Ingester(db, fixed_signer)

    def unreadable(path):
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr(capture_files, "sniff_format", unreadable)
    result = ingester.ingest_file(here)
    assert result.status == "failed" and "Permission denied" in result.error
    monkeypatch.undo()
    assert ingester.ingest_file(OTHERS[0]).status == "ingested"  # and the run goes on


def test_a_lock_wait_that_timed_out_is_not_waited_for_again(tmp_path, fixed_signer, monkeypatch):
    """After the wait for the write lock timed out (a minute), removing the stored copy took
    the lock again, waiting another minute (second review). The copy is left for the next
    ingest's sweep."""
    from archive import ingest
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    took = []
    monkeypatch.setattr(ingest, "drop_copy", lambda conn, stored, sha, checked: took.append(stored))

    def locked():
        raise sqlite3.OperationalError("database is locked")

    ingester.writer.begin = locked
    with pytest.raises(DatabaseError, match="held this database's lock"):
        ingester.ingest_file(SAMPLE)
    assert took == []
    assert len(_stored(db)) == 1  # the copy, for the next ingest (which reuses or sweeps it)


def test_another_program_s_database_is_refused_as_it_is(tmp_path):
    """A database in WAL mode got -wal and -shm files beside it from the check, and one held
    locked by its program passed the check, and got a new key (second review)."""
    key = tmp_path / "k.pem"
    wal = tmp_path / "wal.db"
    conn = sqlite3.connect(wal)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    before = sorted(p.name for p in tmp_path.iterdir())
    code, output = run_cli("ingest", "--key", key, "--db", wal, SAMPLE)
    assert code == 1 and "not an archive database" in output, output
    assert sorted(p.name for p in tmp_path.iterdir()) == before and not key.exists()
    busy = tmp_path / "busy.db"
    holder = sqlite3.connect(busy, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN EXCLUSIVE")
    try:
        code, output = run_cli("ingest", "--key", key, "--db", busy, SAMPLE)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert code == 1 and "not an archive database" in output, output
    assert not key.exists()


def test_only_the_files_the_archive_writes_are_its_own(tmp_path):
    """A capture beside the database whose name began like the database's ("archive-2024...")
    was taken for one of the archive's files (fourth review)."""
    from archive.stored import archive_writes

    db = tmp_path / "archive"
    ours = [
        "archive", "archive-journal", ".archive.lock", ".archive.123.new", "checkpoint",
        "captures/x.warc.gz",
    ]  # fmt: skip
    assert all(archive_writes(db, tmp_path / name) for name in ours)
    theirs = ["archive-2024.warc.gz", "archive.warc", ".archive.notes", "sub/archive"]
    assert not any(archive_writes(db, tmp_path / name) for name in theirs)


def test_an_archive_in_wal_mode_is_named_as_one(isolated_env, tmp_path, fixed_signer):
    """A real archive switched to WAL mode was "not an archive database (no migrations are
    recorded in it)", which is untrue (fourth review)."""
    from archive.ingest import Ingester

    db = tmp_path / "archive.db"
    Ingester(db, fixed_signer).ingest_file(SAMPLE)
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    code, output = run_cli("ingest", "--db", db, SAMPLE)
    assert code == 1, output
    assert f"{db}: an archive database in WAL journal mode, which archive does not use" in output
    assert "PRAGMA journal_mode=DELETE" in output


def test_a_wal_mode_file_is_called_an_archive_only_when_it_is_one(tmp_path):
    """A damaged file, or an empty database, in WAL mode was "an archive database in WAL journal
    mode" (final review)."""
    key = tmp_path / "k.pem"
    empty = tmp_path / "empty.db"
    conn = sqlite3.connect(empty)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.close()
    damaged = tmp_path / "damaged.db"
    conn = sqlite3.connect(damaged)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("CREATE TABLE t (x)")
    conn.close()
    data = damaged.read_bytes()
    damaged.write_bytes(data[:100] + bytes(range(256)) * ((len(data) - 100) // 256 + 1))
    for db, said in ((empty, "not an archive database"), (damaged, "not a usable SQLite database")):
        code, output = run_cli("ingest", "--key", key, "--db", db, SAMPLE)
        assert code == 1 and said in output, output
        assert "WAL journal mode" not in output
    assert not key.exists()


def test_a_failed_capture_s_copy_goes_when_its_transaction_wrote_to_the_file(
    tmp_path, fixed_signer
):
    """Once a failing ingest's transaction had spilled pages to the database file, the check
    whether another ingest had committed with its stored copy (a second connection) could not
    read, and the copy stayed, though the ingest said nothing of the file was kept (a review:
    1 run in 4 on large files). The transaction has held the write lock since it found the
    capture not in the archive: the copy goes."""
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    assert ingester.ingest_file(SAMPLE).status == "ingested"
    data = SECOND.read_bytes()
    cut = tmp_path / "cut.warc"
    cut.write_bytes(data[: len(data) - 100])  # fails at its end, after its rows are written
    ingester.conn.execute("PRAGMA cache_size = 2")  # every change spills to the file at once
    spilled = []
    ingester.conn.set_trace_callback(spilled.append)
    result = ingester.ingest_file(cut)
    assert result.status == "failed" and "truncated" in result.error, result.error
    assert any(sql.startswith("INSERT INTO claims") for sql in spilled)
    assert len(_stored(db)) == 1  # the first capture's copy alone
    assert ingester.ingest_file(SAMPLE).status == "already"


def test_the_checkpoint_file_never_goes_back_to_a_smaller_tree(tmp_path, fixed_signer):
    """The file is written after the COMMIT, outside the database's lock: an ingest that
    committed first could write it last, over the newer checkpoint of the ingest that
    committed after it (a review, with the second rename delayed). A file holding a larger
    tree is left as it is."""
    import shutil

    from archive import checkpoint as cp
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    assert ingester.ingest_file(SECOND).status == "ingested"
    ingester.conn.close()
    shutil.copy(db, tmp_path / "before.db")
    assert Ingester(db, fixed_signer).ingest_file(SAMPLE).status == "ingested"
    newer = (db.parent / "checkpoint").read_text()
    # the same archive as it was before SAMPLE went in, taking a smaller file (the state an
    # ingest that committed before SAMPLE's had when it came to write the file)
    shutil.copy(tmp_path / "before.db", db)
    small = DATA / "warc" / "example.warc.gz"
    later = Ingester(db, fixed_signer)
    result = later.ingest_file(small)
    assert result.status == "ingested"
    (mine,) = later.conn.execute("SELECT max(tree_size) FROM checkpoints").fetchone()
    size = cp.parse(newer)[0].size
    assert mine < size
    assert (db.parent / "checkpoint").read_text() == newer
    # here the newer checkpoint is not this database's (it was restored from a copy): said,
    # not skipped in silence (a review); an ingest's that committed later is skipped quietly
    assert result.warnings == [
        f"{db.parent / 'checkpoint'} holds a checkpoint of {size} entries that this database "
        f"does not have (it has {mine}: restored from an older copy?); it is left as it is: "
        "keep it as evidence, then remove it, and the next ingest writes this database's"
    ]


def test_a_journal_left_behind_is_named_to_a_user_who_cannot_roll_it_back(tmp_path):
    """A killed write leaves archive.db-journal, which SQLite rolls back on the next open; a
    user with read access only was told "not a usable SQLite database (attempt to write a
    readonly database)" (an archivist's review, run as another user: as root here, the error
    SQLite gives that user is made up)."""
    import sqlite3

    from archive.db import unusable

    db = tmp_path / "archive.db"
    db.write_bytes(b"")
    readonly = sqlite3.OperationalError("attempt to write a readonly database")
    assert str(unusable(db, readonly)) == (
        f"{db}: not a usable SQLite database (attempt to write a readonly database)"
    )
    (tmp_path / "archive.db-journal").write_bytes(b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7")
    assert str(unusable(db, readonly)) == (
        f"{db}: a write that was interrupted left archive.db-journal beside it, which SQLite "
        "must roll back before the database can be read, and this user cannot write there: run "
        "any archive command on it (`archive verify`) as a user who can"
    )


def test_an_ingest_after_a_killed_write_rolls_its_journal_back(tmp_path):
    """A write killed mid-transaction (an ingest killed with SIGKILL, a power cut) leaves a hot
    journal; the next ingest's read-only look at the file told a user who could write there
    that they could not, and stopped (an archivist's review): it goes on, and its own
    connection rolls the journal back, as SQLite does for any writer."""
    sample_db, key = tmp_path / "records" / "archive.db", tmp_path / "k.pem"
    assert run_cli("ingest", "--key", key, "--db", sample_db, SAMPLE)[0] == 0
    killed = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"c = sqlite3.connect({str(sample_db)!r}, isolation_level=None)\n"
         "c.execute('PRAGMA cache_size = 1')\n"  # so that the change reaches the file
         "c.execute('BEGIN IMMEDIATE')\n"
         "c.execute(\"UPDATE claims SET text = text || ' (altered)'\")\n"
         "print('written', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert killed.stdout.readline() == "written\n"
    killed.kill()
    killed.wait(timeout=30)
    journal = sample_db.with_name(f"{sample_db.name}-journal")
    assert journal.stat().st_size > 0  # hot: left by a write that did not finish
    code, output = run_cli("ingest", "--key", key, "--db", sample_db, SECOND)
    assert code == 0, output
    assert not journal.exists() or journal.stat().st_size == 0
    conn = sqlite3.connect(sample_db)
    assert conn.execute("SELECT count(*) FROM claims WHERE text LIKE '%(altered)'").fetchone() == (
        0,
    )
    assert run_cli("verify", "--db", sample_db)[0] == 0


def test_a_clock_behind_the_last_signature_is_refused_and_writes_nothing(tmp_path, fixed_signer):
    """An ingest on a machine whose clock had stepped back a few seconds exited 0, and every row
    it signed failed `archive verify` for good as backdated (an archivist's review). The clock
    is now compared with the archive's last signing time: refused, nothing written, and the
    run stops (every later file would meet the same clock)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.db import connect
    from archive.errors import ClockError
    from archive.ingest import Ingester
    from archive.keys import Signer
    from archive.ledger import rotate_key
    from archive.verify import verify

    db = tmp_path / "records" / "archive.db"
    first = Ingester(db, fixed_signer, clock=lambda: "2026-01-01T00:00:09Z")
    assert first.ingest_file(SAMPLE).status == "ingested"
    before = db.read_bytes()
    behind = Ingester(db, fixed_signer, clock=lambda: "2026-01-01T00:00:01Z")
    with pytest.raises(ClockError, match="earlier than the archive's last signature at "
                       "2026-01-01T00:00:09Z"):  # fmt: skip
        behind.ingest(OTHERS)  # the run stops at its first file
    assert db.read_bytes() == before
    conn = sqlite3.connect(db)
    new = Signer(Ed25519PrivateKey.generate())
    with pytest.raises(ClockError):
        rotate_key(conn, db, fixed_signer, new, clock=lambda: "2026-01-01T00:00:01Z")
    assert not conn.in_transaction
    assert conn.execute("SELECT count(*) FROM key_rotations").fetchone() == (0,)
    conn.close()
    # the same second is not earlier: it goes in
    again = Ingester(db, fixed_signer, clock=lambda: "2026-01-01T00:00:09Z")
    assert [r.status for r in again.ingest(OTHERS)] == ["ingested", "ingested"]
    assert verify(connect(db, upgrade=False)).ok


def test_a_full_disk_while_the_archive_is_made_or_upgraded_is_named(tmp_path):
    """A full disk (or a file-size limit) while the first ingest made the archive said "cannot
    rollback - no transaction is active", and while `archive upgrade` migrated one, "not a
    usable SQLite database (...)" of an intact database (an archivist's review): SQLite had
    ended the transaction itself, and the ROLLBACK's own error took the disk's place."""
    from archive.db import unusable

    key = tmp_path / "key.pem"
    assert run_cli("keys", "generate", "--key", key)[0] == 0

    def small_disk():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 << 10, 64 << 10))

    db = tmp_path / "new" / "archive.db"
    proc = subprocess.run(
        [sys.executable, "-m", "archive", "ingest", "--db", str(db), "--workers", "0",
         str(SAMPLE)],
        env={**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVE_KEY": str(key)},
        capture_output=True, text=True, timeout=120, preexec_fn=small_disk,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert f"Error: {db}: cannot create the archive database (disk I/O error)" in proc.stderr
    assert "rollback" not in proc.stderr and not db.exists()
    full = sqlite3.OperationalError("database or disk is full")
    full.sqlite_errorname = "SQLITE_FULL"
    assert str(unusable(db, full)) == (
        f"{db}: the disk is full: nothing was changed; make room and run it again"
    )


def test_workers_that_cannot_be_forked_stop_the_run_with_one_line(
    tmp_path, fixed_signer, monkeypatch
):
    """Under a limit on processes every file failed with "BlockingIOError: [Errno 11] Resource
    temporarily unavailable" of its own, and the run went on (an archivist's review): no file
    can be extracted, so the run stops and says why."""
    import errno

    from archive.errors import ClusterError
    from archive.ingest import Ingester
    from archive.parallel import process_pool, stop_pool

    def no_fork():
        raise BlockingIOError(errno.EAGAIN, os.strerror(errno.EAGAIN))

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    ingester.executor = pool = process_pool(2)
    monkeypatch.setattr(os, "fork", no_fork)
    try:
        with pytest.raises(ClusterError, match=r"^cannot start the extraction processes "
                           r"\(Resource temporarily unavailable: a limit"):  # fmt: skip
            ingester.ingest([SAMPLE, *OTHERS])
    finally:
        monkeypatch.undo()
        stop_pool(pool, cancel=True)
    assert consistency_problems(db) == []


def test_a_summary_that_cannot_be_written_is_not_taken_for_a_failed_ingest(tmp_path):
    """`archive ingest caps/ > /dev/full` committed every file, then said only "Error: No space
    left on device" (an archivist's review): the error names standard output and says what
    went in."""
    key = tmp_path / "key.pem"
    assert run_cli("keys", "generate", "--key", key)[0] == 0
    db = tmp_path / "archive.db"
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [sys.executable, "-m", "archive", "ingest", "--db", str(db), "--workers", "0",
             str(SAMPLE), *map(str, OTHERS)],
            env={**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVE_KEY": str(key)},
            stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[-1] == (
        "Error: standard output: No space left on device; the summary could not be written "
        "(3 ingested, which stay in the archive)"
    ), proc.stderr
    assert run_cli("verify", "--db", db)[0] == 0


def test_the_lock_file_takes_the_umask_as_the_database_does(tmp_path, fixed_signer):
    """The lock file was always 0600: in an archive a group shares (a setgid directory, umask
    002) the second member's ingest failed with ".archive.db.lock: Permission denied" (an
    archivist's review)."""
    from archive.serve import hold_for_writing

    db = tmp_path / "archive.db"
    old = os.umask(0o002)
    try:
        os.close(hold_for_writing(db))
    finally:
        os.umask(old)
    assert (tmp_path / ".archive.db.lock").stat().st_mode & 0o777 == 0o664


def test_of_two_first_ingests_only_the_one_that_made_the_archive_says_so(tmp_path, monkeypatch):
    """Two first ingests at once both printed "Created a new archive" (an archivist's review):
    each looked for the file before making one. Now the one whose new database was put in
    place says so; the other, whose link found the file there, uses that one quietly."""
    import shutil

    from archive import db as archive_db

    first = archive_db.connect(tmp_path / "first.db")
    assert first.created is True
    first.conn.close()
    assert archive_db.connect(tmp_path / "first.db").created is False

    real_link = os.link

    def beaten(src, dst):  # another process put its archive in place a moment before
        shutil.copy(tmp_path / "first.db", dst)
        raise FileExistsError(17, "File exists", str(dst))

    monkeypatch.setattr(os, "link", beaten)
    second = archive_db.connect(tmp_path / "second.db")
    monkeypatch.setattr(os, "link", real_link)
    assert second.created is False and second.table_names()
