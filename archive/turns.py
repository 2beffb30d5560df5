"""Fair turns at an archive's write lock, between processes.

SQLite lets a waiting writer in only if it happens to try between two of another's
transactions, and its busy wait tries less and less often: an ingest committing file after
file kept a second ingest (or a key rotation) out until its minute of waiting ran out, though
the first committed every few seconds. Here a waiting writer says that it waits (a shared POSIX
lock on one byte of the archive's lock file, which ``archive serve`` and the writers also
``flock``: the two kinds of lock do not meet), a writer about to begin again lets it in first,
and a wait runs out only after a minute in which no other writer committed.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from pathlib import Path

from . import db as database

#: The byte of the lock file a waiting writer locks shared (far past any flock use: none).
WAITING_BYTE = 1 << 20
#: How often a waiting writer tries the lock (SQLite's own wait tries every 100 ms at most).
POLL_MS = 20
#: How long a writer about to begin again lets waiting writers go first, at most.
LET_IN_SECONDS = 2.0


class Turns:
    """One writer's side of the turns (a :class:`~archive.ledger.SignedWriter` holds one)."""

    def __init__(self, db_path: str | Path):
        db_path = Path(db_path)
        self.path = db_path.with_name(f".{db_path.name}.lock")
        self._fd: int | None = None

    def _lock_file(self) -> int:
        # Kept open while the writer lives: closing any descriptor of a file drops the process's
        # POSIX locks on it. -1 when it cannot be opened (turns are then not taken).
        if self._fd is None:
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._fd = -1
        return self._fd

    def begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE`` on ``conn`` in turn: after any writer already waiting, and
        waiting as long as other writers commit (``LOCK_WAIT_SECONDS`` without a commit
        raises SQLite's "database is locked")."""
        self._let_in()
        fd = self._lock_file()
        waiting = False
        wait = database.LOCK_WAIT_SECONDS
        deadline = time.monotonic() + wait
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
                    waiting = _lock(fd, fcntl.LOCK_SH)
                version = _data_version(conn)
                if version is not None and version != seen:  # another writer committed
                    seen, deadline = version, time.monotonic() + wait
                elif time.monotonic() > deadline:
                    raise locked
        finally:
            conn.execute(f"PRAGMA busy_timeout = {before}")
            if waiting:
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, WAITING_BYTE)

    def _let_in(self) -> None:
        """Before beginning again: while another writer says it waits, give it the lock (it
        takes it within ``POLL_MS``), for ``LET_IN_SECONDS`` at most."""
        fd = self._lock_file()
        if fd < 0:
            return
        until = time.monotonic() + LET_IN_SECONDS
        while time.monotonic() < until:
            if _lock(fd, fcntl.LOCK_EX):  # no one waits
                fcntl.lockf(fd, fcntl.LOCK_UN, 1, WAITING_BYTE)
                return
            time.sleep(POLL_MS / 1000)

    def close(self) -> None:
        if self._fd is not None and self._fd >= 0:
            os.close(self._fd)
        self._fd = None


def _lock(fd: int, how: int) -> bool:
    try:
        fcntl.lockf(fd, how | fcntl.LOCK_NB, 1, WAITING_BYTE)
    except OSError:  # held the other way (EAGAIN, EACCES), or locks not supported
        return False
    return True


def _data_version(conn: sqlite3.Connection) -> int | None:
    """Changes when another connection commits; None when it cannot be read just now."""
    try:
        return conn.execute("PRAGMA data_version").fetchone()[0]
    except sqlite3.OperationalError:
        return None
