"""Build the Datasette command line that publishes an archive read-only."""

from __future__ import annotations

import sys
from pathlib import Path

#: Datasette settings for a public, read-only archive.
SETTINGS = {
    "sql_time_limit_ms": "2000",
    "max_returned_rows": "1000",
    "allow_download": "off",
    "default_page_size": "50",
}


def metadata_path() -> Path:
    """The project's ``datasette-metadata.json`` (shipped in the package too)."""
    packaged = Path(__file__).with_name("datasette-metadata.json")
    root = Path(__file__).resolve().parent.parent / "datasette-metadata.json"
    return root if root.exists() else packaged


def datasette_command(db_path, host="127.0.0.1", port=8001, metadata=None) -> list[str]:
    args = [
        sys.executable, "-m", "datasette", "serve",
        "--immutable", str(db_path),
        "--metadata", str(metadata or metadata_path()),
        "--host", host, "--port", str(port),
    ]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args
