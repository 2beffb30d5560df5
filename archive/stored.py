"""The archive's stored copies of capture files (``captures/<sha256>.<suffix>``), and which
files are the archive's own: a failure writing one of those is the archive's, not the input's.

A copy is made before its ingest's transaction, checked against the hash as it is written, and
removed if that transaction does not commit, unless another ingest of the same file committed
with it. What a killed process leaves is swept by ``leftovers``.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import sqlite3
from pathlib import Path

from .capture_files import CAPTURE_SUFFIXES, GZIP_MAGIC
from .config import captures_dir
from .db import BUSY, LOCK_WAIT_SECONDS, is_locked
from .durable import sync_directory
from .errors import CaptureError
from .hashing import file_sha256


def stored_suffix(path: Path, fmt: str) -> str:
    """The stored copy's extension: the file's own, or one that says what it is."""
    name = path.name.lower()
    for suffix in CAPTURE_SUFFIXES:
        if name.endswith(suffix):
            return suffix
    with open(path, "rb") as f:
        gzipped = f.read(2) == GZIP_MAGIC
    return f".{fmt}.gz" if gzipped else f".{fmt}"


def store_copy(src: Path, dest: Path, sha256: str) -> bool:
    """Copy the capture next to the database, unchanged, checking as it copies that its bytes
    are the ones hashed as ``sha256``; True when this call created it. A copy already there
    (another ingest's, or one a killed ingest left) is kept if its hash is right."""
    if dest.exists():
        if file_sha256(dest) == sha256:
            return False
        dest.unlink()  # damaged: made again
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with open(src, "rb") as f, open(tmp, "wb") as out:
            while chunk := f.read(1 << 20):
                h.update(chunk)
                out.write(chunk)
            if h.hexdigest() != sha256:
                raise CaptureError(src, "the file changed while it was being ingested")
            # synced before the capture's rows commit: after a power cut the database must not
            # hold a capture whose copy is empty or missing (the original may be gone by then)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
        sync_directory(dest.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return True


def has_capture(conn, sha: str) -> bool:
    """Whether the archive on ``conn`` holds the capture file hashed ``sha``."""
    return bool(conn.execute("SELECT 1 FROM captures WHERE sha256 = ?", (sha,)).fetchone())


def drop_copy(conn: sqlite3.Connection, stored: Path, sha: str, checked: bool) -> None:
    """Remove the stored copy an ingest made for a capture it did not commit, unless another
    ingest of the same file committed with it (it found the copy made and used it). Decided
    while the write lock is held, so that none commits meanwhile. ``checked``: the transaction
    open on ``conn`` got past finding the capture not in the archive; it has held the lock
    since, so no other ingest can have committed with the copy (the capture row ``conn`` sees
    is its own: asking a second connection instead failed once the transaction had written
    pages to the file, which keeps readers out, and the copy stayed). A transaction SQLite ended
    itself (a full disk) is begun again, waiting a second at most. If anything fails, the copy
    stays, for the next ingest's sweep."""
    try:
        if conn.in_transaction:
            if checked or not has_capture(conn, sha):
                stored.unlink(missing_ok=True)
            return
        conn.execute("PRAGMA busy_timeout = 1000")
        try:
            conn.execute("BEGIN IMMEDIATE")
        finally:
            conn.execute(f"PRAGMA busy_timeout = {LOCK_WAIT_SECONDS * 1000}")
        try:
            if not has_capture(conn, sha):
                stored.unlink(missing_ok=True)
        finally:
            conn.execute("ROLLBACK")
    except (OSError, sqlite3.Error):
        pass


def archive_writes(db_path: Path, path: Path) -> bool:
    """A file the archive writes: in ``captures/``, or beside the database: the database, its
    journal, its locks, a new one being made, the checkpoint. Not any other file there, even one
    whose name begins like the database's: a capture read from there is the input's."""
    path = path.resolve()
    if path.is_relative_to(captures_dir(db_path).resolve()):
        return True
    if path.parent != db_path.parent.resolve():
        return False
    name = db_path.name
    return path.name in {
        name,
        f"{name}-journal",
        f"{name}-wal",
        f"{name}-shm",
        f".{name}.lock",
        f".{name}.turns",
        "checkpoint",
    } or bool(re.fullmatch(rf"\.{re.escape(name)}\.\d+\.new", path.name))


def archive_problem(db_path: Path, e: OSError | sqlite3.Error) -> str | None:
    """What is wrong with the archive itself, when that is why a file failed (a full disk, a
    read-only database or directory, the write lock held elsewhere); None when the file read
    was at fault. Such a failure was blamed on each file in turn, every one leaving its stored
    copy behind on the full disk."""
    if is_locked(e):
        return f"{db_path}: {BUSY}"
    if isinstance(e, sqlite3.OperationalError):
        text = str(e)
        if any(m in text for m in ("full", "readonly", "I/O error", "unable to open")):
            return f"{db_path}: cannot write the archive database ({text})"
        return None
    if not isinstance(e, OSError):
        return None
    name = Path(e.filename) if isinstance(e.filename, str) else None
    if name is not None and archive_writes(db_path, name):
        return f"{name}: cannot write the archive's files ({e.strerror or e})"
    if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG):
        return f"{db_path.parent}: cannot write the archive's files ({e.strerror or e})"
    return None
