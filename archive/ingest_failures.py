"""What an ingest's failure is, in one line: the file's own problem (the file fails, the run
goes on), or one that stops every later file too (raised)."""

from __future__ import annotations

import errno
import os
import sqlite3
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .errors import ArchiveError, ClusterError, DatabaseError
from .parallel import kill_workers
from .stored import archive_problem


def failure(db_path: Path, path: Path, e: Exception, executor=None) -> str:
    """What went wrong with ``path``, in one line; or, raised, what stops every later file
    too (a damaged archive database, a full disk, the extraction processes gone)."""
    if isinstance(e, ArchiveError):
        return str(e)
    if isinstance(e, OSError | sqlite3.Error):
        if type(e) is sqlite3.DatabaseError:  # malformed, not a database: not this file's
            raise DatabaseError(
                f"{db_path}: the archive database is damaged ({e}); {path} was not "
                "ingested, and the files after it are not read (restore the database from "
                "a copy; `archive verify` names what it can still read)"
            ) from None
        fork = isinstance(e, OSError) and e.errno == errno.EAGAIN and e.filename is None
        if fork and executor is not None:
            # a worker process that could not be forked (a limit on processes): every file
            # after it failed with "BlockingIOError" of its own (an archivist's review)
            kill_workers(executor)
            raise ClusterError(
                f"cannot start the extraction processes ({e.strerror or e}: a limit on the "
                f"number of processes?); {path} was not ingested, and the files after it are "
                "not read (raise the limit, or run with --workers 0)"
            ) from None
        problem = archive_problem(db_path, e)
        if problem:  # no later file could go in either: stop, and say where
            raise DatabaseError(
                f"{problem}; {path} was not ingested, and the files after it are not read"
            ) from None
        # the capture itself (its permissions), named in words
        mine = isinstance(e, OSError) and isinstance(e.filename, str | bytes) and e.strerror
        if mine and os.fsdecode(e.filename) == str(path):
            return f"{path}: cannot be read ({e.strerror})"
        return f"{path}: {type(e).__name__}: {e}"
    if isinstance(e, MemoryError):
        return (
            f"{path}: out of memory while reading it (a page or record too large for this "
            "machine; the caps are in docs/security.md)"
        )
    if isinstance(e, BrokenProcessPool):
        # a worker killed (out of memory, a signal): the pool is gone for every later file
        kill_workers(executor)
        raise ClusterError(
            f"the extraction processes stopped (one was killed: out of memory?); {path} was "
            "not ingested, and the files after it are not read"
        ) from None
    return f"{path}: unexpected {type(e).__name__}: {e}"


def strict_failure(warning: str, path: Path) -> ArchiveError:
    """The failure ``--strict`` makes of a file's first warning, naming the file once."""
    said = warning if warning.startswith(str(path)) else f"{path}: {warning}"
    return ArchiveError(f"{said} (--strict)")
