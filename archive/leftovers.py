"""Files a killed process left beside an archive, removed once that process is gone.

Everything the archive writes is first made under a temporary name carrying the writer's
process id, then moved into place: a stored capture copy (``captures/.<name>.<pid>.tmp``), a
new database (``.archive.db.<pid>.new``, with its ``-journal``) and the published checkpoint
(``.checkpoint.<pid>.tmp``). A SIGKILL or a power cut leaves the temporary file. Only files
whose process no longer runs are removed, so an ingest still copying is never disturbed
(process ids are those of this machine: an archive directory shared between machines is not
supported, as SQLite's locking is not across network filesystems). A stored copy that no
capture refers to (an ingest killed between its copy and its commit) is removed under the
write lock (``sweep_copies``).
"""

from __future__ import annotations

import os
import re
import sqlite3
from pathlib import Path

_DATABASE = r"\.{name}\.(\d+)\.new(?:-journal)?"  # db._create's
_CHECKPOINT = re.compile(r"\.checkpoint\.(\d+)\.tmp")  # ledger.SignedWriter.commit's
_COPY = re.compile(r"\.[0-9a-f]{64}[.a-z]*\.(\d+)\.tmp")  # stored.store_copy's
_STORED = re.compile(r"[0-9a-f]{64}\.(?:warc|arc|wacz)(?:\.gz)?")  # a stored copy's name


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or a number we cannot ask about): kept
    return True


def sweep_copies(conn: sqlite3.Connection, db_path: str | Path) -> list[Path]:
    """Remove the stored capture copies no capture refers to: an ingest killed between copying
    its capture and committing leaves one. Done only while holding the write lock, taken
    without waiting (else skipped): an ingest copies before it takes the lock, but copies again
    once it holds it if its copy has gone, so none in progress loses anything."""
    folder = Path(db_path).parent / "captures"
    if not folder.is_dir() or conn.in_transaction or _shared(Path(db_path)):
        return []
    (wait,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute("PRAGMA busy_timeout = 0")
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError:
        return []  # another command writes: it, or the next ingest, sweeps
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(wait)}")
    removed = []
    try:
        try:
            used = {Path(p).name for (p,) in conn.execute("SELECT stored_path FROM captures")}
        except sqlite3.DatabaseError:
            return []  # a damaged database: the ingest meets it and says so
        for path in folder.iterdir():
            if _STORED.fullmatch(path.name) and path.name not in used and path.is_file():
                try:
                    path.unlink()
                    removed.append(path)
                except OSError:
                    pass
    finally:
        conn.execute("ROLLBACK")
    return removed


def _shared(db_path: Path) -> bool:
    """Whether another SQLite database lies beside this one: it would share ``captures/`` (the
    copies are named by their hash), and a copy this archive does not know may be its."""
    for path in db_path.parent.iterdir():
        if path.name == db_path.name or not path.is_file():
            continue
        try:
            with open(path, "rb") as f:
                if f.read(16) == b"SQLite format 3\x00":
                    return True
        except OSError:
            return True  # cannot tell: keep everything
    return False


def sweep(db_path: str | Path) -> list[Path]:
    """Remove the temporary files of processes that are gone, beside the database at
    ``db_path`` and in its ``captures/`` directory; return what was removed."""
    db_path = Path(db_path)
    removed = []
    database = re.compile(_DATABASE.format(name=re.escape(db_path.name)))
    for folder, patterns in (
        (db_path.parent, (database, _CHECKPOINT)),
        (db_path.parent / "captures", (_COPY,)),
    ):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            found = next(filter(None, (p.fullmatch(name) for p in patterns)), None)
            if not found or _running(int(found.group(1))):
                continue
            path = folder / name
            try:
                if path.is_file() and not path.is_symlink():
                    path.unlink()
                    removed.append(path)
            except OSError:
                pass  # not ours to fight over: a later ingest tries again
    return removed
