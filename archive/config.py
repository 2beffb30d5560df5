"""Where things live: the data home, the database, the signing key, and resource caps.

Environment variables move each of them (``ARCHIVE_HOME``, ``ARCHIVE_DB``, ``ARCHIVE_KEY``), which
is also how the tests keep every run in a temporary directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import KeyFileError


def data_home() -> Path:
    """The directory of ``archive.db`` and ``captures/``: ``$ARCHIVE_HOME`` or ``./records``."""
    return Path(os.environ.get("ARCHIVE_HOME") or "records")


def default_db_path() -> Path:
    """The database a command uses without ``--db``: ``ARCHIVE_DB``, else the data home's."""
    return Path(os.environ.get("ARCHIVE_DB") or data_home() / "archive.db")


def archive_db_path(given: str | Path | None = None) -> Path:
    """The database at ``given`` (else the default), a link to it followed: what lies beside it
    (captures/, the checkpoint file, the lock that keeps serve and writers apart) is beside the
    real file, where SQLite and verify look (an ingest through a link put them beside the link,
    and took a lock serve did not see)."""
    path = Path(given) if given is not None else default_db_path()
    return path.resolve() if path.is_symlink() else path


def captures_dir(db_path: str | Path) -> Path:
    """Capture files are kept next to the database they were ingested into."""
    return Path(db_path).parent / "captures"


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/archive``, else ``~/.config/archive``. A relative XDG_CONFIG_HOME is
    ignored, as the XDG spec says (the key was made under the current directory, and not found
    from another); no home at all is one line, not a traceback (an archivist's review)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    if base and os.path.isabs(base):
        return Path(base) / "archive"
    try:
        return Path.home() / ".config" / "archive"
    except RuntimeError:  # no HOME, and no entry in the password database
        raise KeyFileError(
            "no home directory to keep the signing key in: set HOME, or give the key file "
            "with --key or ARCHIVE_KEY"
        ) from None


def default_key_path() -> Path:
    """The private key never lives in ``records/``: it is in the user's config directory."""
    return Path(os.environ.get("ARCHIVE_KEY") or config_dir() / "signing-key.pem")


@dataclass(frozen=True)
class Limits:
    """Caps that protect ingest from giant records and decompression bombs."""

    #: Largest decoded HTTP payload read into memory for one record (bytes).
    max_payload_bytes: int = 32 * 1024 * 1024
    #: Largest image, in pixels, that is decoded to read its size.
    max_image_pixels: int = 64_000_000
    #: Largest HTML page handed to the extractor (bytes, decoded).
    max_html_bytes: int = 16 * 1024 * 1024
