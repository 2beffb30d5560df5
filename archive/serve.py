"""Build the Datasette command line that publishes an archive read-only."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

#: Datasette settings for a public, read-only archive.
SETTINGS = {
    "sql_time_limit_ms": "2000",
    "max_returned_rows": "1000",
    "default_page_size": "50",
}


def metadata_path() -> Path:
    """The project's ``datasette-metadata.json``."""
    return Path(__file__).resolve().parent.parent / "datasette-metadata.json"


def metadata_for(db_path: str | Path, source: str | Path | None = None) -> dict:
    """The metadata, keyed by the database's name (Datasette names a database by its file stem)."""
    metadata = json.loads(Path(source or metadata_path()).read_text(encoding="utf-8"))
    databases = metadata.get("databases", {})
    if "archive" in databases:
        databases[Path(db_path).stem] = databases.pop("archive")
    return metadata


def datasette_command(
    db_path, host="127.0.0.1", port=8001, metadata=None, cache: bool = True
) -> list[str]:
    """Arguments for ``python -m datasette serve``, with metadata written to a temporary file."""
    meta = metadata_for(db_path, metadata)
    meta.setdefault("plugins", {}).setdefault("archive", {})["response_cache"] = cache
    stem = Path(db_path).stem
    if stem != "archive":
        # Links in the home page description point at /archive/...
        meta["description_html"] = meta.get("description_html", "").replace(
            'href="/archive', f'href="/{stem}'
        )
    with tempfile.NamedTemporaryFile(
        "w", suffix=".json", prefix="archive-metadata-", delete=False, encoding="utf-8"
    ) as f:
        json.dump(meta, f)
    args = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        "--immutable",
        str(db_path),
        "--metadata",
        f.name,
        "--host",
        host,
        "--port",
        str(port),
    ]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args
