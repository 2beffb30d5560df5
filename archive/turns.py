"""Fair turns at an archive's write lock, between processes.

SQLite lets a waiting writer in only if it happens to try between two of another's
transactions, and its busy wait tries less and less often: an ingest committing file after
file kept a second ingest (or a key rotation) out until its minute of waiting ran out, though
the first committed every few seconds. Here a waiting writer says that it waits (a shared POSIX
lock on a byte of ``.<db name>.turns`` beside the database: a file of its own, as closing any
descriptor of a file drops the process's POSIX locks on it, and where ``flock`` is a POSIX lock
(NFS) that would drop the serve lock on ``.<db name>.lock``), a writer about to begin again
lets it in first,
and a wait runs out only after a minute in which no other writer committed.
"""

from __future__ import annotations

import errno
import fcntl
import os
import sqlite3
from pathlib import Path
from time import monotonic, sleep

from . import db as database

#: The byte of the turns file a waiting writer locks shared (the file itself is empty).
WAITING_BYTE = 1 << 20
#: How often a waiting writer tries the lock (SQLite's own wait tries every 100 ms at most).
POLL_MS = 20
#: How long a writer about to begin again lets waiting writers go first, at most (a waiting
#: writer takes the lock within ``POLL_MS``; this is for a loaded machine).
LET_IN_SECONDS = 0.5
#: After a waiter did not come in ``LET_IN_SECONDS``, how long it is not waited for again
#: (unless another writer commits meanwhile): a stopped process then costs 5% of the time,
#: and a slow one gets its turn again.
IGNORE_SECONDS = 10.0


class Turns:
    """One writer's side of the turns (a :class:`~archive.ledger.SignedWriter` holds one).

    Between processes only: POSIX locks belong to a process, so writers in one process (threads)
    do not see each other wait. Where locks are emulated over one another (``flock`` on NFS is
    a whole-file POSIX lock) or not supported, a writer may give way when none waits, at most
    once until another writer commits."""

    def __init__(self, db_path: str | Path):
        db_path = Path(db_path)
        self.path = db_path.with_name(f".{db_path.name}.turns")
        #: (data_version, until when) after a waiter was let in and did not come (stopped,
        #: say): not waited for again until another writer commits, or for IGNORE_SECONDS
        self._ignored: tuple[int | None, float] | None = None
        self._supported = True

    def begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE`` on ``conn`` in turn: after any writer already waiting, and
        waiting as long as other writers commit (``LOCK_WAIT_SECONDS`` without a commit
        raises SQLite's "database is locked")."""
        try:
            # opened for this call only (no descriptor kept per writer); closing it drops this
            # process's POSIX locks on the file, which are all this call's own
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600) if self._supported else -1
        except OSError:
            fd = -1  # turns are not taken
        try:
            self._begin(conn, fd)
        finally:
            if fd >= 0:
                os.close(fd)

    def _begin(self, conn: sqlite3.Connection, fd: int) -> None:
        if fd >= 0:
            self._let_in(conn, fd)
        waiting = False
        wait = database.LOCK_WAIT_SECONDS
        deadline = monotonic() + wait
        seen = _data_version(conn)
        (before,) = conn.execute("PRAGMA busy_timeout").fetchone()
        conn.execute(f"PRAGMA busy_timeout = {POLL_MS}")
        try:
            while True:
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as e:
                    if not database.is_locked(e):
                        raise
                    locked = e
                if not waiting and fd >= 0:
                    waiting = self._lock(fd, fcntl.LOCK_SH)
                version = _data_version(conn)
                if version is not None and version != seen:  # another writer committed
                    seen, deadline = version, monotonic() + wait
                elif monotonic() > deadline:
                    raise locked
        finally:
            conn.execute(f"PRAGMA busy_timeout = {before}")
            if waiting:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, WAITING_BYTE)

    def _let_in(self, conn: sqlite3.Connection, fd: int) -> None:
        """Before beginning again: while another writer says it waits, give it the lock (it
        takes it within ``POLL_MS``), for ``LET_IN_SECONDS`` at most. A waiter that did not
        come in that time (a stopped process) is not waited for again until a writer commits:
        it cost every other writer the wait before each of its transactions (a review); nor
        for ``IGNORE_SECONDS``, after which a slow waiter is let in again."""
        version = _data_version(conn)
        if self._ignored is not None:
            since, until = self._ignored
            if since == version and monotonic() < until:
                return
        self._ignored = None
        until = monotonic() + LET_IN_SECONDS
        while monotonic() < until:
            if self._lock(fd, fcntl.LOCK_EX):  # no one waits
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, WAITING_BYTE)
                return
            if not self._supported:
                return
            sleep(POLL_MS / 1000)
        self._ignored = (version, monotonic() + IGNORE_SECONDS)

    def _lock(self, fd: int, how: int) -> bool:
        """Take the waiting byte's lock without waiting: False when it is held the other way
        (or locks are not supported here: turns are then no longer taken)."""
        try:
            fcntl.lockf(fd, how | fcntl.LOCK_NB, 1, WAITING_BYTE)
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.EACCES):
                self._supported = False
            return False
        return True


def _data_version(conn: sqlite3.Connection) -> int | None:
    """Changes when another connection commits; None when it cannot be read just now."""
    try:
        return conn.execute("PRAGMA data_version").fetchone()[0]
    except sqlite3.OperationalError:
        return None
