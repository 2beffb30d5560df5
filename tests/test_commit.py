"""A capture's stored copy and its commit: what a failure, an interrupt or a second ingest of the
same file may and may not undo. Nothing undoes a committed capture; nothing is recorded under a
hash its content does not have."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import cli
from archive.errors import DatabaseError

from .conftest import DATA, SAMPLE
from .test_ingest import file_hash, ingest


def test_a_checkpoint_file_that_cannot_be_written_loses_nothing(isolated_env):
    """After the commit, the capture stands: an unwritable checkpoint file (here a directory in
    its place) is a warning; the stored copy stays, and the archive verifies."""
    records = isolated_env / "records"
    (records / "checkpoint" / "in-the-way").mkdir(parents=True)
    result = ingest(SAMPLE)
    assert result.exit_code == 0, result.output
    assert "the checkpoint file could not be written" in result.output
    assert "1 ingested" in result.output
    stored = records / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    assert stored.read_bytes() == SAMPLE.read_bytes()
    assert not list(records.glob(".checkpoint.*"))
    verify = CliRunner().invoke(cli, ["verify"])
    assert verify.exit_code == 0, verify.output
    # once the way is clear, the next commit writes the file
    (records / "checkpoint" / "in-the-way").rmdir()
    (records / "checkpoint").rmdir()
    assert ingest(DATA / "warc" / "example.warc.gz").exit_code == 0
    assert (records / "checkpoint").read_text().startswith("archive")


def test_a_stored_copy_removed_by_a_failed_concurrent_ingest_is_made_again(tmp_path, fixed_signer):
    """Two ingests of one file: the one that copied it fails and removes its copy while the
    other waits for the write lock. The other, once it holds the lock, copies it again."""
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    stored = tmp_path / "records" / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    begin = ingester.writer.begin

    def begin_after_the_other_failed():
        stored.unlink()  # what the failed ingest did while this one waited
        begin()

    ingester.writer.begin = begin_after_the_other_failed
    assert ingester.ingest_file(SAMPLE).status == "ingested"
    assert stored.read_bytes() == SAMPLE.read_bytes()


def test_an_ingest_that_gives_up_waiting_keeps_the_copy_another_committed(tmp_path, fixed_signer):
    """Ingest 1 makes the stored copy and waits for the write lock; ingest 2 of the same file
    commits with that copy; ingest 1 times out. The copy stays: it is only ever removed while
    the write lock is held (found in review)."""
    import sqlite3 as sqlite

    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    first, second = Ingester(db, fixed_signer), Ingester(db, fixed_signer)

    def begin_after_the_other_committed():
        assert second.ingest_file(SAMPLE).status == "ingested"
        raise sqlite.OperationalError("database is locked")

    first.writer.begin = begin_after_the_other_committed
    # a lock held for the whole wait stops the run (no later file could go in either)
    with pytest.raises(DatabaseError, match="held this database's lock"):
        first.ingest_file(SAMPLE)
    stored = tmp_path / "records" / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    assert stored.read_bytes() == SAMPLE.read_bytes()
    verify = CliRunner().invoke(cli, ["verify", "--db", str(db)])
    assert verify.exit_code == 0, verify.output


def _interrupted_after_the_commit(tmp_path, fixed_signer, monkeypatch, interrupt) -> None:
    """Ingest with ``interrupt(monkeypatch)`` making Ctrl-C land after the COMMIT: the capture
    is in the archive, so its stored copy must stay and the archive verify."""
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    interrupt(monkeypatch)
    with pytest.raises(KeyboardInterrupt):
        ingester.ingest_file(SAMPLE)
    monkeypatch.undo()
    stored = tmp_path / "records" / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    assert stored.read_bytes() == SAMPLE.read_bytes()
    verify = CliRunner().invoke(cli, ["verify", "--db", str(db)])
    assert verify.exit_code == 0, verify.output


def test_an_interrupt_after_the_commit_keeps_the_stored_copy(tmp_path, fixed_signer, monkeypatch):
    """Ctrl-C while the checkpoint file is written, after the COMMIT."""
    import archive.ledger

    replace = os.replace

    def interrupted(src, dst):
        if Path(dst).name == "checkpoint":  # only the checkpoint file's move
            raise KeyboardInterrupt
        replace(src, dst)

    _interrupted_after_the_commit(
        tmp_path,
        fixed_signer,
        monkeypatch,
        lambda mp: mp.setattr(archive.ledger.os, "replace", interrupted),
    )


def test_a_file_that_changes_while_it_is_ingested_fails(tmp_path, fixed_signer, monkeypatch):
    """The capture is hashed, then copied (the copy hashed again as it is made), and every
    record is read from that copy: a file changed in between is refused, not recorded under a
    hash its content does not have (found in review)."""
    import archive.capture_files
    from archive.ingest import Ingester

    src = tmp_path / "moving.warc.gz"
    src.write_bytes(SAMPLE.read_bytes())
    real = archive.capture_files.file_sha256

    def hash_then_change(path):
        digest = real(path)
        src.write_bytes((DATA / "warc" / "example.warc.gz").read_bytes())  # changed meanwhile
        return digest

    monkeypatch.setattr(archive.capture_files, "file_sha256", hash_then_change)
    db = tmp_path / "records" / "archive.db"
    result = Ingester(db, fixed_signer).ingest_file(src)
    assert result.status == "failed"
    assert result.error == f"{src}: the file changed while it was being ingested"
    assert not list((tmp_path / "records" / "captures").glob("*"))


def test_records_are_read_from_the_stored_copy(tmp_path, fixed_signer, monkeypatch):
    """Once copied, the file given is not read again: its messages still name it."""
    import archive.capture_files
    from archive.ingest import Ingester

    src = tmp_path / "given.warc.gz"
    src.write_bytes(SAMPLE.read_bytes())
    opened = []
    real = archive.ingest.CaptureReader

    def reader(path, *args, **kwargs):
        opened.append((Path(path), kwargs.get("name")))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(archive.ingest, "CaptureReader", reader)
    db = tmp_path / "records" / "archive.db"
    assert Ingester(db, fixed_signer).ingest_file(src).status == "ingested"
    stored = tmp_path / "records" / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    assert opened == [(stored, src)]


def test_temporary_files_of_killed_runs_are_removed_and_said(isolated_env):
    """A SIGKILL leaves a half-made stored copy, a half-made new database or a half-written
    checkpoint under a name with its process id: the next ingest removes those whose process is
    gone, says so, and leaves a running process's alone. (The checkpoint's was left for ever,
    found by tests/test_crash.py's random kills.)"""
    import subprocess

    records = isolated_env / "records"
    captures = records / "captures"
    captures.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()  # reaped: its process id names no process now
    sha = file_hash(DATA / "warc" / "example.warc.gz")
    dead = [
        captures / f".{sha}.warc.gz.{gone.pid}.tmp",
        records / f".archive.db.{gone.pid}.new",
        records / f".archive.db.{gone.pid}.new-journal",
        records / f".checkpoint.{gone.pid}.tmp",
    ]
    alive = [
        captures / f".{sha}.warc.gz.{os.getppid()}.tmp",  # a running process's
        records / f".archive.db.{os.getppid()}.new",
        records / f".checkpoint.{os.getppid()}.tmp",
        captures / f".notes.{gone.pid}.tmp",  # not a name the archive makes
        records / f".other.db.{gone.pid}.new",
    ]
    for path in dead + alive:
        path.write_bytes(b"half")
    result = ingest(SAMPLE)
    assert result.exit_code == 0, result.output
    assert "Removed 4 file(s) that interrupted runs left" in result.output
    assert [p for p in dead if p.exists()] == []
    assert [p for p in alive if not p.exists()] == []
    # nothing else was touched: the capture went in and the next run removes nothing
    again = ingest(DATA / "warc" / "example.warc.gz")
    assert again.exit_code == 0 and "Removed" not in again.output


def test_a_damaged_stored_copy_is_made_again(isolated_env):
    """A file already at the stored copy's name (one a killed ingest left, or damaged since) is
    used only if its hash is the capture's: otherwise it is copied again, so the archive never
    refers to bytes other than those it hashed."""
    records = isolated_env / "records"
    stored = records / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(SAMPLE.read_bytes()[:-100] + bytes(100))
    result = ingest(SAMPLE)
    assert result.exit_code == 0, result.output
    assert stored.read_bytes() == SAMPLE.read_bytes()
    verify = CliRunner().invoke(cli, ["verify"])
    assert verify.exit_code == 0, verify.output


def test_a_link_named_like_a_temporary_file_is_not_followed(isolated_env, tmp_path):
    import subprocess

    captures = isolated_env / "records" / "captures"
    captures.mkdir(parents=True)
    gone = subprocess.Popen(["true"])
    gone.wait()
    target = tmp_path / "precious"
    target.write_text("kept")
    link = captures / f".{'0' * 64}.warc.gz.{gone.pid}.tmp"
    link.symlink_to(target)
    assert ingest(SAMPLE).exit_code == 0
    assert link.is_symlink() and target.read_text() == "kept"


def test_a_stored_copy_no_capture_refers_to_is_removed_by_the_next_ingest(isolated_env):
    """An ingest killed between its copy and its commit left a whole stored copy that no later
    ingest removed (verify only named it; found in review). The next ingest removes it under
    the write lock; one taken by another writer makes it wait for a later ingest."""
    import sqlite3

    assert ingest(SAMPLE).exit_code == 0
    captures = isolated_env / "records" / "captures"
    other = DATA / "warc" / "example.warc.gz"
    orphan = captures / f"{file_hash(other)}.warc.gz"
    orphan.write_bytes(other.read_bytes())  # what the killed ingest of `other` left
    db = isolated_env / "records" / "archive.db"
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer at work: nothing is swept
    try:
        from archive.leftovers import sweep_copies

        conn = sqlite3.connect(db, isolation_level=None, timeout=60)
        assert sweep_copies(conn, db) == [] and orphan.exists()  # did not wait a minute either
        conn.close()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    result = ingest(DATA / "warc" / "example-iana.org-chunked.warc")
    assert result.exit_code == 0, result.output
    assert f"Removed 1 file(s) that interrupted runs left: {orphan}" in result.output
    assert not orphan.exists()
    assert len(list(captures.iterdir())) == 2  # the two captures' own copies stay
    verify = CliRunner().invoke(cli, ["verify"])
    assert verify.exit_code == 0 and "Note:" not in verify.output, verify.output
    # a second archive in the same directory shares captures/: its copies are not this one's
    # to remove, so nothing is swept there
    other_db = isolated_env / "records" / "other.db"
    result = CliRunner().invoke(cli, ["ingest", "--db", str(other_db), str(other)])
    assert result.exit_code == 0, result.output
    assert (captures / f"{file_hash(other)}.warc.gz").exists()
    result = ingest(DATA / "warc" / "example-resource.warc.gz")  # the first archive again
    assert result.exit_code == 0 and "Removed" not in result.output, result.output
    assert (captures / f"{file_hash(other)}.warc.gz").exists()
    assert CliRunner().invoke(cli, ["verify", "--db", str(other_db)]).exit_code == 0


def test_an_interrupt_just_after_the_commit_keeps_the_stored_copy(
    tmp_path, fixed_signer, monkeypatch
):
    """Ctrl-C can land after SQLite's COMMIT returned and before the writer notes it: the
    capture stood but its stored copy was removed (found by the Ctrl-C test on a fresh clone:
    verify then said "stored capture missing")."""
    from archive.ledger import SignedWriter

    committing = SignedWriter.commit

    def commit_then_interrupted(self):
        committing(self)  # COMMIT done, the checkpoint with it
        self.committed = False  # as if the interrupt came before the writer noted it
        raise KeyboardInterrupt

    _interrupted_after_the_commit(
        tmp_path,
        fixed_signer,
        monkeypatch,
        lambda mp: mp.setattr(SignedWriter, "commit", commit_then_interrupted),
    )


def test_a_copy_another_ingest_committed_with_is_kept_whatever_stops_this_one(
    tmp_path, fixed_signer
):
    """Ingest 1 makes the stored copy and waits for the lock; ingest 2 of the same file commits
    with that copy; ingest 1 then takes the lock and stops before it sees that (its key retired
    by a rotation meanwhile). Its transaction was open, so it removed the copy the archive's
    capture needs (fourth review). A reader's connection now asks first."""
    from archive.errors import KeyFileError
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    first, second = Ingester(db, fixed_signer), Ingester(db, fixed_signer)
    begin = first.writer.begin

    def begin_after_the_other_committed():
        assert second.ingest_file(SAMPLE).status == "ingested"
        begin()

    def retired():
        raise KeyFileError("key retired meanwhile")

    first.writer.begin = begin_after_the_other_committed
    first.writer.check_key = retired
    with pytest.raises(KeyFileError):
        first.ingest_file(SAMPLE)
    stored = tmp_path / "records" / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    assert stored.read_bytes() == SAMPLE.read_bytes()
    verify = CliRunner().invoke(cli, ["verify", "--db", str(db)])
    assert verify.exit_code == 0, verify.output


def test_the_stored_copy_and_the_checkpoint_file_are_synced(tmp_path, fixed_signer, monkeypatch):
    """Only the journal, the database and the records directory were synced (an archivist's
    review, by strace): after a power cut the database could hold a capture whose stored copy
    was empty or missing. The copy and its directory entry are synced before the rows commit,
    and the checkpoint file after."""
    import os

    from archive import durable, stored
    from archive.ingest import Ingester

    synced: list[str] = []
    real_fsync, real_dir = os.fsync, durable.sync_directory

    def fsync(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    def sync_directory(directory):
        synced.append(f"dir {directory}")
        real_dir(directory)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(stored, "sync_directory", sync_directory)
    db = tmp_path / "records" / "archive.db"
    result = Ingester(db, fixed_signer).ingest_file(SAMPLE)
    assert result.status == "ingested"
    captures = db.parent / "captures"
    copy = next(i for i, p in enumerate(synced) if p.startswith(str(captures / ".")))
    assert synced[copy + 1] == f"dir {captures}"  # its rename, right after
    assert str(db.parent / ".checkpoint") in " ".join(synced[copy:]), synced
    assert str(db.parent) in synced[-1], synced  # the checkpoint's rename


def test_a_file_system_that_cannot_sync_a_directory_is_let_go(tmp_path, fixed_signer, monkeypatch):
    """Some file systems (FUSE, CIFS) refuse to sync a directory (EINVAL): the file would have
    failed though its copy was in place, and the checkpoint been called unwritten (a review).
    As SQLite does, that is let go."""
    import errno
    import os
    import stat

    from archive.ingest import Ingester

    real_fsync = os.fsync

    def fsync(fd):
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, os.strerror(errno.EINVAL))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    db = tmp_path / "records" / "archive.db"
    result = Ingester(db, fixed_signer).ingest_file(SAMPLE)
    assert (result.status, result.warnings) == ("ingested", [])
    assert (db.parent / "checkpoint").is_file()


def test_a_run_the_archive_stopped_kills_its_workers_at_once(tmp_path, monkeypatch):
    """A run stopped by the archive (a clock behind, a retired key, a damaged database) waited
    for its workers' records as a finished one does (a review): it wants nothing they hold."""
    from click.testing import CliRunner

    from archive import parallel
    from archive.cli import cli
    from archive.errors import ClockError
    from archive.ingest import Ingester

    cancels = []
    real_stop = parallel.stop_pool

    def stop_pool(executor, cancel=False):
        cancels.append(cancel)
        real_stop(executor, cancel=cancel)

    def behind(self, path, next_path=None):
        raise ClockError("the system clock reads ...")

    monkeypatch.setattr(parallel, "stop_pool", stop_pool)
    monkeypatch.setattr(Ingester, "ingest_file", behind)
    db, key = tmp_path / "archive.db", tmp_path / "key.pem"
    result = CliRunner().invoke(
        cli, ["ingest", "--db", str(db), "--key", str(key), "--workers", "1", str(SAMPLE)]
    )
    assert result.exit_code == 1 and "Error: the system clock reads" in result.output
    assert cancels == [True]
