"""Signals that stop an ingest, a verify or a serve start-up: Ctrl-C, SIGTERM and SIGHUP to
the command or its process group, a worker killed or signalled alone, a stop a library
swallows. Each stops at once, says one word, and leaves the archive as its last whole file."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from archive.db import connect

from .crash_support import (
    check_archive,
    ingest_cmd,
    ingest_env,
)

pytestmark = pytest.mark.slow


def _children(pid: int) -> set[int]:
    try:
        return set(map(int, Path(f"/proc/{pid}/task/{pid}/children").read_text().split()))
    except OSError:
        return set()


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] not in "ZX"
    except OSError:
        return False


def _ignores_stops(pid: int) -> bool:
    """Whether a worker has set the signals that stop an ingest aside (the ingest acts on them)."""
    bits = sum(1 << (s - 1) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP))
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigIgn:"):
            return int(line.split()[1], 16) & bits == bits
    return False


def _started_with_workers(cmd, env, **kwargs):
    """An ingest started, once its worker processes exist and have set their signals (a worker
    forked a moment before, still in multiprocessing's start-up, printed a KeyboardInterrupt
    traceback when signalled): (process, worker pids)."""
    proc = subprocess.Popen(cmd, env=env, **kwargs)
    deadline = time.monotonic() + 30
    while len(workers := _children(proc.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(workers) >= 2, "the ingest started no workers"
    while not all(map(_ignores_stops, workers)) and time.monotonic() < deadline:
        time.sleep(0.01)
    return proc, workers


def _workers_signalled(db: Path, captures, key: Path, sent: int):
    """An ingest whose workers alone are ``sent`` a signal once they run: (process, stdout,
    stderr)."""
    proc, workers = _started_with_workers(
        ingest_cmd(db, captures), ingest_env(key), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    for worker in workers:
        os.kill(worker, sent)
    out, err = proc.communicate(timeout=120)
    return proc, out, err


def _group_signalled(db: Path, captures, key: Path, sent: int):
    """An ingest in a session of its own, ``sent`` to its whole process group once its workers
    run, as a terminal's Ctrl-C or a service manager's stop does: (process, stdout, stderr)."""
    proc, _ = _started_with_workers(
        ingest_cmd(db, captures), ingest_env(key), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    # At once, so that it lands in the middle of the files however fast the machine is (after a
    # sleep of 0.3 s, a quiet machine had finished all four: a flaky test). It may land as the
    # pool starts its thread: stop_pool's case (tests/test_parallel.py).
    os.killpg(proc.pid, sent)
    out, err = proc.communicate(timeout=60)
    return proc, out, err


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_workers_die_with_a_killed_ingest_and_release_the_serve_lock(captures, key, tmp_path):
    """SIGKILL to the ingest alone (not its process group): its workers lived on for as long as
    they had work, holding the inherited lock that keeps `archive serve` off the database (found
    in review). They now die with it."""
    from archive.serve import hold_for_serving

    db = tmp_path / "records" / "archive.db"
    connect(db).conn.close()  # an archive exists: the ingest holds the serve lock on it
    proc, workers = _started_with_workers(
        ingest_cmd(db, captures),
        ingest_env(key),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    proc.kill()
    proc.wait(timeout=30)
    deadline = time.monotonic() + 10
    while any(_alive(w) for w in workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [w for w in workers if _alive(w)]
    os.close(hold_for_serving(db))  # free: no process holds the lock
    check_archive(db)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_ctrl_c_stops_an_ingest_without_worker_tracebacks(captures, key, tmp_path):
    """Ctrl-C in a terminal sends SIGINT to the whole process group: each worker took it too,
    and printed its own KeyboardInterrupt traceback (found in review). Workers now leave SIGINT
    to the ingest: one sent to a worker alone changes nothing, and one sent to the group stops
    the ingest with one line, the archive as the last whole capture left it."""
    db = tmp_path / "records" / "archive.db"
    proc, out, err = _workers_signalled(db, captures, key, signal.SIGINT)
    assert proc.returncode == 0 and "0 failed" in out and "Traceback" not in err, out + err
    check_archive(db, complete_with=captures)
    db = tmp_path / "again" / "archive.db"
    proc, out, err = _group_signalled(db, captures, key, signal.SIGINT)
    assert proc.returncode == 130, out + err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert err.strip().splitlines()[-1].startswith("Interrupted"), err
    check_archive(db)


_INTERRUPT_SECOND_FILE = """
import os, signal, sys
from archive import ingest, ledger
from archive.cli import cli

where, sent = sys.argv.pop(1), getattr(signal, sys.argv.pop(1))
owner = ingest.Ingester if where == "_write_capture" else ledger.SignedWriter
real, calls = getattr(owner, where), []


def then_interrupt(self, *args):
    done = real(self, *args)
    calls.append(1)
    if len(calls) == 2:  # the second file: every row written, or its COMMIT made too
        os.kill(os.getpid(), sent)
    return done


setattr(owner, where, then_interrupt)
cli(sys.argv[1:], prog_name="archive")
"""


@pytest.mark.parametrize(
    "where, sent",
    [
        ("_write_capture", "SIGINT"),
        ("commit", "SIGINT"),
        ("_write_capture", "SIGTERM"),
        ("_write_capture", "SIGHUP"),
    ],
)
def test_a_stop_in_a_file_keeps_the_files_before_it_and_exits_with_its_status(
    captures, key, tmp_path, where, sent
):
    """Ctrl-C exited 1 with click's "Aborted!", like a failure, and said nothing of what was
    kept. It now exits 130 after the summary of the files finished, naming the file it was in:
    rolled back (before its COMMIT), or ingested (an interrupt just after the COMMIT, which the
    first version reported as not kept: found in review). SIGTERM (timeout, systemd) killed the
    run where it stood, saying nothing: it now stops as Ctrl-C does, with 143; SIGHUP (an ssh
    session dropped) as well, with 129. Ingesting again finishes the job."""
    db = tmp_path / "records" / "archive.db"
    cmd = [sys.executable, "-c", _INTERRUPT_SECOND_FILE, where, sent,
           *ingest_cmd(db, captures[:3])[3:]]  # fmt: skip
    proc = subprocess.run(cmd, env=ingest_env(key), capture_output=True, text=True, timeout=120)
    word, status = {"SIGINT": ("Interrupted", 130), "SIGTERM": ("Terminated", 143)}.get(
        sent, ("Hangup", 129)
    )
    assert proc.returncode == status, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    kept = 2 if where == "commit" else 1
    assert proc.stdout.startswith(f"{kept} of 3 files: {kept} ingested"), proc.stdout
    assert proc.stderr.strip().splitlines()[-1] == (
        f"{word}: {captures[1]} was ingested just before it (in the summary above)"
        if kept == 2
        else f"{word}: {captures[1]} was not ingested (nothing of it was kept)"
    ), proc.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM captures").fetchone() == (kept,)
    conn.close()
    check_archive(db)
    out = subprocess.run(ingest_cmd(db, captures[:3]), env=ingest_env(key), capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0, out
    assert out.stdout.startswith(f"3 files: {3 - kept} ingested, {kept} already"), out
    check_archive(db, complete_with=captures[:3])


_SWALLOWED_INTERRUPT = """
import os, signal, sys
from warcio.statusandheaders import StatusAndHeadersParser
from archive.cli import cli
from archive.links import Linker

real, calls, how = StatusAndHeadersParser.parse, [], sys.argv.pop(1)


def parse(self, *args, **kwargs):  # a record's headers, as warcio reads them in this process
    calls.append(1)
    if len(calls) == 5:
        try:
            os.kill(os.getpid(), signal.SIGINT)  # the handler runs here, in the try
        except:  # noqa: E722 - as warcio's own bare except: clauses do
            if how == "converted":
                raise ValueError("not a header line")
    return real(self, *args, **kwargs)


def finish(self, *args):  # a capture's last step before its commit, all records read
    try:
        os.kill(os.getpid(), signal.SIGINT)
    except:  # noqa: E722
        pass
    return real_finish(self, *args)


if how == "at the end":
    real_finish, Linker.finish = Linker.finish, finish
else:
    StatusAndHeadersParser.parse = parse
cli(sys.argv[1:], prog_name="archive")
"""


@pytest.mark.parametrize("how", ["swallowed", "converted", "at the end"])
def test_a_ctrl_c_a_library_swallows_still_stops_the_ingest(captures, key, tmp_path, how):
    """A Ctrl-C that lands in a library's bare ``except:`` (warcio has several on its reading
    path) was taken for the library's own error, and the ingest ran on to its end with status
    0. The stop is noted as well as raised, and each record read or written checks for it, as
    do a file's failure (a library that made the Ctrl-C into an error of its own) and its
    commit (a stop swallowed after its last record: the file is rolled back, not committed)."""
    db = tmp_path / "records" / "archive.db"
    cmd = [sys.executable, "-c", _SWALLOWED_INTERRUPT, how, *ingest_cmd(db, captures[:2])[3:]]
    proc = subprocess.run(cmd, env=ingest_env(key), capture_output=True, text=True, timeout=120)
    assert proc.returncode == 130, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"Interrupted: {captures[0]} was not ingested (nothing of it was kept)"
    ), proc.stderr
    if db.exists():
        conn = sqlite3.connect(db)
        assert conn.execute("SELECT count(*) FROM captures").fetchone() == (0,)
        conn.close()
    check_archive(db)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_serve_cannot_start_while_the_first_ingest_creates_the_archive(captures, key, tmp_path):
    """The first ingest took no lock (there was no database yet to lock beside), so serve
    could open the archive, immutable, while it was being filled (found in review)."""
    from archive.errors import DatabaseError
    from archive.serve import hold_for_serving

    db = tmp_path / "records" / "archive.db"
    assert not db.parent.exists()
    proc, _ = _started_with_workers(
        ingest_cmd(db, captures),
        ingest_env(key),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        with pytest.raises(DatabaseError, match="an ingest is writing it"):
            hold_for_serving(db)
    finally:
        assert proc.wait(timeout=120) == 0
    os.close(hold_for_serving(db))  # free once the ingest has ended


_SLOW_CHUNKS = """
import os, sys, time
from archive import checks, verify
from archive.cli import cli

marks, real = sys.argv.pop(1), checks.in_worker


def marked(path, fn, *args):  # each chunk of rows leaves a mark and takes a while
    if fn is checks.check_rows:
        open(os.path.join(marks, f"{os.getpid()}-{time.monotonic_ns()}"), "w").close()
        time.sleep(0.05)
    return real(path, fn, *args)


verify.in_worker = marked
verify.Verifier.chunk_rows, verify.Verifier.parallel_from = 1, 0
cli(sys.argv[1:], prog_name="archive")
"""


def test_ctrl_c_stops_verify_without_running_its_queued_chunks(captures, key, tmp_path):
    """Ctrl-C during a parallel verify exited only after the workers had checked every chunk
    still queued (43 s on a 714,000-record archive): the pool's shutdown waited for them."""
    db = tmp_path / "records" / "archive.db"
    subprocess.run(
        ingest_cmd(db, captures[:2]), env=ingest_env(key), check=True, capture_output=True
    )
    rows = sum(
        sqlite3.connect(db).execute(f"SELECT count(*) FROM {t}").fetchone()[0]
        for t in ("articles", "claims", "image_uses")
    )
    marks = tmp_path / "marks"
    marks.mkdir()
    cmd = [sys.executable, "-c", _SLOW_CHUNKS, str(marks), "verify", "--no-files", "--db", str(db)]
    proc = subprocess.Popen(cmd, env=ingest_env(key), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while len(list(marks.iterdir())) < 4 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130 and err.strip() == "Interrupted", out + err
    assert rows > 100 and len(list(marks.iterdir())) < rows / 2


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_sigterm_to_the_group_stops_quietly_and_a_killed_worker_stops_the_run(
    captures, key, tmp_path
):
    """SIGTERM to the process group (a systemd stop) printed a traceback from each idle worker,
    which had inherited the ingest's handler; a worker killed alone made every later file
    fail in turn with "unexpected BrokenProcessPool" (second review). Now: 143 and one line; one
    line naming the stopped extraction processes, and the archive as the last whole file left
    it. Workers leave SIGTERM to the ingest, as they do SIGINT, and SIGHUP (a terminal closed
    signals its whole group; the run died with no word, as if killed)."""
    for sent, status, word in ((signal.SIGTERM, 143, "Terminated"), (signal.SIGHUP, 129, "Hangup")):
        db = tmp_path / word / "archive.db"
        proc, out, err = _group_signalled(db, captures, key, sent)
        assert proc.returncode == status, out + err
        assert "Traceback" not in err and err.strip().splitlines()[-1].startswith(word), err
        check_archive(db)
    # a worker killed alone: the run stops, one line
    db = tmp_path / "killed" / "archive.db"
    proc, workers = _started_with_workers(
        ingest_cmd(db, captures), ingest_env(key), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    os.kill(min(workers), signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    errors = [line for line in err.splitlines() if line.startswith("Error:")]
    assert proc.returncode == 1 and len(errors) == 1, out + err
    assert "the extraction processes stopped (one was killed: out of memory?)" in errors[0]
    assert "Traceback" not in err, err
    check_archive(db)
    # SIGTERM to a worker alone changes nothing, as SIGINT does not: the ingest stops its
    # workers (with its handler, forked, a worker printed a traceback or stopped the ingest;
    # dying at once, one once left the pool hung on a group stop in CI)
    db = tmp_path / "termed" / "archive.db"
    proc, out, err = _workers_signalled(db, captures, key, signal.SIGTERM)
    assert proc.returncode == 0 and "0 failed" in out and "Traceback" not in err, out + err
    check_archive(db, complete_with=captures)


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc (Linux)")
def test_a_hangup_of_a_terminal_that_is_gone_exits_129_and_keeps_the_archive_whole(
    captures, key, tmp_path
):
    """A terminal really closed fails every write with EIO: the ingest's summary and its word
    "Hangup" ended in a traceback and status 1 (a review, under a pty). Standard output and
    error then go nowhere; the status is the stop's."""
    import pty

    db = tmp_path / "records" / "archive.db"
    master, terminal = pty.openpty()
    proc, _ = _started_with_workers(
        ingest_cmd(db, captures), ingest_env(key), stdin=subprocess.DEVNULL, stdout=terminal,
        stderr=terminal, start_new_session=True,
    )  # fmt: skip
    os.close(terminal)
    os.close(master)  # the terminal is gone
    os.killpg(proc.pid, signal.SIGHUP)
    assert proc.wait(timeout=60) == 129
    check_archive(db)
