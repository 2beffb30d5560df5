"""What a file given as the archive database is, read without changing it or leaving files
beside it: absent (a new archive), an archive, or something else that a command must refuse
before it makes a key or takes a lock there."""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

import sqlite_utils

from .db import (
    _migrations_in,
    _not_an_archive,
    _refuse_empty,
    applied_migrations,
    hot_journal,
    is_locked,
    unusable,
)
from .errors import DatabaseError


def check_archive_file(path: str | Path) -> None:
    """Raise :class:`DatabaseError` unless ``path`` is absent (a new archive) or an archive
    database, read without writing: what ingest checks before it makes a key or takes a lock
    beside the file (another program's database given by mistake got both)."""
    path = Path(path)
    if not path.exists():
        return
    if not path.is_file():
        raise DatabaseError(f"{path}: not a file, so not an archive database")
    _refuse_empty(path)
    with open(path, "rb") as f:
        header = f.read(100)
    uri = f"{path.resolve().as_uri()}?mode=ro"
    if header.startswith(b"SQLite format 3\x00") and len(header) > 18 and header[18] == 2:
        # WAL mode, which archive never uses (a published file must be whole on its own):
        # read without locking, which would leave -wal and -shm files beside another's file
        if not _migrations_in(path, uri + "&immutable=1", uri=True):
            raise _not_an_archive(path)
        raise DatabaseError(
            f"{path}: an archive database in WAL journal mode, which archive does not use; "
            f"`sqlite3 {path} 'PRAGMA journal_mode=DELETE'` switches it back"
        )
    try:
        # a short wait: a locked file is most likely an archive being written
        _refuse_other_program(uri, path)
    except sqlite3.DatabaseError as e:
        if "readonly" in str(e) and hot_journal(path) and _writable(path):
            # a write interrupted (a killed ingest) left its journal: this read-only look
            # cannot roll it back, the command's own connection will (it said "this user
            # cannot write there" to a user who could: an archivist's review)
            with contextlib.suppress(sqlite3.DatabaseError):
                _refuse_other_program(uri + "&immutable=1", path)
            return
        if not is_locked(e):
            raise unusable(path, e) from None
        # locked: read as it stands, without locking, only to tell another program's file (a
        # page read in the middle of a commit is no reason to refuse: the command waits later)
        with contextlib.suppress(sqlite3.DatabaseError):
            _refuse_other_program(uri + "&immutable=1", path)


def _writable(path: Path) -> bool:
    return os.access(path, os.R_OK | os.W_OK) and os.access(path.parent, os.W_OK | os.X_OK)


def _refuse_other_program(uri: str, path: Path) -> None:
    conn = sqlite3.connect(uri, uri=True, timeout=1)
    try:
        db = sqlite_utils.Database(conn)
        if not applied_migrations(db) and db.table_names():
            raise _not_an_archive(path)
    finally:
        conn.close()


def unwritable_directory(db_path: Path) -> str | None:
    """Why the directory of a database to be made cannot be: its nearest existing ancestor is
    a file, or one this user may not write in. None when it exists or can be made."""
    if db_path.exists():
        return None
    ancestor = db_path.parent.absolute()
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        return f"{ancestor}: a file is where a directory would be"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"{ancestor}: no permission to write there"
    return None
