"""Files a killed process left beside an archive, removed once that process is gone.

Everything the archive writes is first made under a temporary name carrying the writer's
process id, then moved into place: a stored capture copy (``captures/.<name>.<pid>.tmp``) and a
new database (``.archive.db.<pid>.new``, with its ``-journal``). A SIGKILL or a power cut leaves
the temporary file. Only files whose process no longer runs are removed, so an ingest still
copying is never disturbed. (Process ids are those of this machine: an archive directory shared
between machines is not supported, as SQLite's locking is not across network filesystems.)
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_DATABASE = r"\.{name}\.(\d+)\.new(?:-journal)?"  # db._create's
_COPY = re.compile(r"\.[0-9a-f]{64}[.a-z]*\.(\d+)\.tmp")  # ingest._store_copy's


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


def sweep(db_path: str | Path) -> list[Path]:
    """Remove the temporary files of processes that are gone, beside the database at
    ``db_path`` and in its ``captures/`` directory; return what was removed."""
    db_path = Path(db_path)
    removed = []
    database = re.compile(_DATABASE.format(name=re.escape(db_path.name)))
    for folder, pattern in ((db_path.parent, database), (db_path.parent / "captures", _COPY)):
        try:
            names = os.listdir(folder)
        except OSError:
            continue
        for name in names:
            found = pattern.fullmatch(name)
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
