"""Files that last a power cut: a file's own bytes are synced by its writer (``os.fsync``), and
the entry a create or a rename made, by syncing its directory here."""

from __future__ import annotations

import os
from pathlib import Path


def sync_directory(directory: Path) -> None:
    """Make a file created or renamed in ``directory`` last a power loss (its entry is synced)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
