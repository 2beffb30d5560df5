"""Files that last a power cut: a file's own bytes are synced by its writer (``os.fsync``), and
the entry a create or a rename made, by syncing its directory here."""

from __future__ import annotations

import errno
import os
from pathlib import Path


def sync_directory(directory: Path) -> None:
    """Make a file created or renamed in ``directory`` last a power loss (its entry is synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        sync_directory_fd(fd)
    finally:
        os.close(fd)


def sync_directory_fd(fd: int) -> None:
    """:func:`sync_directory` for a directory already open. Some file systems (FUSE, CIFS)
    cannot sync a directory: as SQLite does, that is let go."""
    try:
        os.fsync(fd)
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOTSUP, errno.EBADF):
            raise
