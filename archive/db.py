"""The archive database: opening, creating and upgrading it safely (its schema and migrations
are in ``schema.py``)."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import sqlite_utils

from .errors import DatabaseError
from .schema import MIGRATIONS
from .statements import now_utc

#: How long a command waits for another one's lock on the database.
LOCK_WAIT_SECONDS = 60


def connect(path: str | Path, create: bool = True, upgrade: bool = True) -> sqlite_utils.Database:
    """Open (and if needed create and migrate) the archive database at ``path``.

    ``upgrade=False`` is for the commands that only read (verify, serve, export, trace...): an
    archive an older version wrote is refused, with what to run, instead of being migrated
    behind its reader's back (an auditor's check must not change the file it checks).
    ``db.created`` says whether this call made the archive (not another process a moment
    before it: two first ingests both said they had)."""
    path = Path(path)
    created = False
    if not path.exists():
        if not (create and upgrade):
            raise DatabaseError(f"{path}: no archive database here")
        created = _create(path)
    _refuse_empty(path)
    try:
        conn = sqlite3.connect(str(path), timeout=LOCK_WAIT_SECONDS, isolation_level=None)
        conn.execute("PRAGMA foreign_keys = ON")
        db = sqlite_utils.Database(conn)
        if upgrade:
            if not applied_migrations(db) and db.table_names():
                # another program's database (a mistyped --db): never made into an archive
                raise _not_an_archive(path)
            migrate(db)
        else:
            _check_current(db, path)
    except sqlite3.DatabaseError as e:
        if is_locked(e):
            raise DatabaseError(f"{path}: {BUSY}") from None
        raise unusable(path, e) from None
    db.created = created
    return db


def unusable(path: Path, e: sqlite3.DatabaseError) -> DatabaseError:
    """The one line for a database SQLite would not open or read. A write that was interrupted
    leaves a journal SQLite must roll back before anyone reads the file; a user who cannot
    write there was told only "attempt to write a readonly database" (an archivist's review)."""
    if "readonly" in str(e) and hot_journal(path):
        return DatabaseError(
            f"{path}: a write that was interrupted left {path.name}-journal beside it, which "
            "SQLite must roll back before the database can be read, and this user cannot write "
            "there: run any archive command on it (`archive verify`) as a user who can"
        )
    name = getattr(e, "sqlite_errorname", "")
    if name == "SQLITE_FULL":  # the disk, not the database
        return DatabaseError(
            f"{path}: the disk is full: nothing was changed; make room and run it again"
        )
    if name.startswith("SQLITE_IOERR"):  # a file size limit, a failing disk
        return DatabaseError(
            f"{path}: the disk failed a read or write ({e}); the database may well be intact: "
            "look at the disk (its space, a file size limit, its errors) and run it again"
        )
    return DatabaseError(f"{path}: not a usable SQLite database ({e})")


def hot_journal(path: Path) -> bool:
    """A rollback journal beside the database, left by a write that did not finish."""
    journal = path.with_name(f"{path.name}-journal")
    return journal.is_file() and journal.stat().st_size > 0


def _migrations_in(path: Path, target: str, **how) -> set[str]:
    """The migrations recorded in the database at ``target`` (its path or a URI, opened with
    ``how``), or one line saying it is not a usable SQLite database."""
    try:
        conn = sqlite3.connect(target, **how)
        try:
            return set(applied_migrations(sqlite_utils.Database(conn)))
        finally:
            conn.close()
    except sqlite3.DatabaseError as e:
        raise unusable(path, e) from None


def _refuse_empty(path: Path) -> None:
    if path.is_file() and path.stat().st_size == 0:
        # SQLite takes an empty file for an empty database, and an ingest would start a new
        # archive over what was one (archive never leaves one: a new archive is moved into place)
        raise DatabaseError(
            f"{path}: an empty file (0 bytes), not an archive database; an archive that was "
            "here has lost its contents (restore it from a copy), or remove the file to start "
            "a new one"
        )


#: What a command says when another one held the database's write lock for the whole wait.
BUSY = (
    "another archive command (an ingest, or a verify an ingest waits for) held this database's "
    "lock for as long as this one waits (a minute); try again when it has finished"
)


def is_locked(e: BaseException) -> bool:
    return isinstance(e, sqlite3.OperationalError) and "locked" in str(e)


def _create(path: Path) -> bool:
    """A new archive, made beside ``path`` and moved into place once migrated: a process killed
    while creating it leaves no half-made database behind (which readers would refuse). False
    when another process made it first (theirs is used)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
    tmp.unlink(missing_ok=True)
    try:
        conn = sqlite3.connect(str(tmp), isolation_level=None)
        try:
            migrate(sqlite_utils.Database(conn))
        finally:
            conn.close()
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False  # another process made it first: theirs is used
        return True
    except sqlite3.DatabaseError as e:
        raise DatabaseError(f"{path}: cannot create the archive database ({e})") from None
    finally:
        tmp.unlink(missing_ok=True)


def upgrade(path: str | Path) -> list[str]:
    """Apply the migrations an archive lacks; return their names (``archive upgrade``)."""
    path = Path(path)
    if not path.exists():
        raise DatabaseError(f"{path}: no archive database here")
    _refuse_empty(path)
    # read-write: a crashed write's journal is rolled back, as any writer does
    before = _migrations_in(path, str(path), timeout=LOCK_WAIT_SECONDS)
    if not before:
        raise _not_an_archive(path)
    connect(path, create=False).conn.close()
    return [name for name, _ in MIGRATIONS if name not in before]


def _check_current(db: sqlite_utils.Database, path: Path) -> None:
    applied = set(applied_migrations(db))
    if not applied:
        raise _not_an_archive(path)
    _refuse_unknown(applied, path)
    pending = [name for name, _ in MIGRATIONS if name not in applied]
    if pending:
        raise DatabaseError(
            f"{path}: written by an older version of archive (not applied: {', '.join(pending)}); "
            f"`archive upgrade --db {path}` brings it up to date (it writes to the file: upgrade "
            "a copy to keep the one you were given as it is)"
        )


def _not_an_archive(path: Path) -> DatabaseError:
    return DatabaseError(
        f"{path}: not an archive database (no migrations are recorded in it); archive does not "
        "add its tables to another program's database"
    )


def applied_migrations(db: sqlite_utils.Database) -> list[str]:
    if "migrations" not in db.table_names():
        return []
    return [r[0] for r in db.execute("SELECT name FROM migrations ORDER BY name")]


def _refuse_unknown(applied: set[str], path) -> None:
    unknown = applied - {name for name, _ in MIGRATIONS}
    odd = sorted(repr(name) for name in unknown if not isinstance(name, str))
    if odd:  # a BLOB or a number where a name belongs: not something a version wrote
        raise DatabaseError(
            f"{path}: its migrations table holds {', '.join(odd)}, not a migration's name "
            "(altered?); this archive cannot be read as it is"
        )
    if unknown:
        raise DatabaseError(
            f"{path}: written by a newer version of archive (migrations this one does not "
            f"know: {', '.join(sorted(unknown))}); use that version or a newer one"
        )


def migrate(db: sqlite_utils.Database) -> None:
    applied = set(applied_migrations(db))
    _refuse_unknown(applied, db.conn.execute("PRAGMA database_list").fetchone()[2])
    if not [n for n, _ in MIGRATIONS if n not in applied]:
        return
    conn = db.conn
    conn.execute("BEGIN IMMEDIATE")
    try:
        # Another process may have migrated while we waited for the lock: look again.
        applied = set(applied_migrations(db))
        pending = [(n, f) for n, f in MIGRATIONS if n not in applied]
        conn.execute(
            "CREATE TABLE IF NOT EXISTS migrations "
            "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        for name, fn in pending:
            fn(db)
            conn.execute("INSERT INTO migrations VALUES (?, ?)", (name, now_utc()))
        conn.execute("COMMIT")
    except BaseException:
        # a full disk ends the transaction itself: a ROLLBACK then raised "no transaction is
        # active" in place of the disk's error (an archivist's review)
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise


def select_in(conn, sql: str, ids: list):
    """The rows of ``sql``, whose ``IN ({})`` takes ``ids``, queried 512 ids at a time."""
    for chunk in in_chunks(ids):
        yield from conn.execute(sql.format(", ".join("?" * len(chunk))), chunk)


def in_chunks(items: list, n: int = 512):
    """``items`` in lists of at most ``n``, for ``IN (...)`` parameters, each padded with NULLs
    (which match nothing) to a power of two: the few shapes stay in sqlite3's statement cache,
    which a statement per list length would fill (128 statements of up to 500 parameters held
    ~10 MB and were prepared again and again)."""
    for i in range(0, len(items), n):
        chunk = items[i : i + n]
        yield chunk + [None] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))
