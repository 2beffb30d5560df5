"""Build the Datasette command line that publishes an archive read-only, and run it (``python -m
archive.serve``, the process ``archive serve`` becomes)."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import socket
import sys
import tempfile
from pathlib import Path

from . import stops
from .errors import ArchiveError, DatabaseError

#: Template overrides (archive/templates), shipped with the package.
TEMPLATES = Path(__file__).resolve().parent / "templates"

#: Datasette settings for a public, read-only archive.
SETTINGS = {
    "sql_time_limit_ms": "2000",
    "max_returned_rows": "1000",
    "default_page_size": "50",
    # an article's whole text made each table row screens tall; its row page shows it all
    "truncate_cells_html": "500",
    # Datasette tries a facet on every column of a table page to suggest some: 0.5 s a page on
    # a million claims' views, to find nothing the metadata's own facets do not offer
    "suggest_facets": "off",
}


def _hold(db_path, how: int, refused: str, flags: int = os.O_RDWR | os.O_CREAT) -> int:
    """Lock ``.<db name>.lock`` beside the database (flock ``how``, not waiting); the open
    descriptor holds it. ``refused``: why, when another process holds it the other way."""
    db_path = Path(db_path)
    # as the database's own mode, by the umask: 0600 kept a group sharing the archive (a
    # setgid directory, umask 002) out with "Permission denied" (an archivist's review)
    fd = os.open(db_path.with_name(f".{db_path.name}.lock"), flags, 0o666)
    try:
        fcntl.flock(fd, how | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise DatabaseError(f"{db_path}: {refused}") from None
    return fd


def hold_for_serving(db_path) -> int | None:
    """Lock the archive for ``archive serve``, which opens it immutable: no command may write it
    while it is served (readers would get errors and stale pages). The descriptor is inherited
    by the Datasette process serve becomes, and the lock released when it exits. None on a
    read-only file system with no lock file there: nothing can write the archive there."""
    db_path = Path(db_path)
    lock = db_path.with_name(f".{db_path.name}.lock")
    refused = (
        "an ingest is writing it, or another archive serve is serving it; serve it when that "
        "has finished"
    )
    try:
        fd = _hold(db_path, fcntl.LOCK_EX, refused)
    except OSError as e:
        if e.errno != errno.EROFS:
            # a directory this user may not write is another's to write: serving it unlocked
            # would let their ingest change it under the readers (found in review)
            raise DatabaseError(
                f"{lock}: {e.strerror or e}; serve needs this lock to keep ingests out while "
                "it serves: run it as the user who writes the archive, or serve a copy"
            ) from None
        try:  # flock needs no write access: a lock file already there is used
            fd = _hold(db_path, fcntl.LOCK_EX, refused, flags=os.O_RDONLY)
        except OSError:  # none there, or not ours to read: nothing can write here either
            return None
    os.set_inheritable(fd, True)
    return fd


def hold_for_writing(db_path) -> int:
    """Lock the archive for a command that writes it (several may run together); refused while
    it is served."""
    return _hold(
        db_path,
        fcntl.LOCK_SH,
        "archive serve is serving it, as a file that does not change; stop serve, run this "
        "command, then serve it again",
    )


def metadata_path() -> Path:
    """The project's ``datasette-metadata.json``: in a checkout, archive/'s link to the one at the
    root; in an installed wheel, the copy packaged beside this module."""
    return Path(__file__).resolve().parent / "datasette-metadata.json"


def metadata_for(db_path: str | Path, source: str | Path | None = None) -> dict:
    """The metadata, keyed by the database's name (Datasette names a database by its file stem)."""
    path = Path(source or metadata_path())
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ArchiveError(f"--metadata {path}: not JSON ({e})") from None
    except OSError as e:
        raise ArchiveError(f"--metadata {path}: cannot be read ({e.strerror})") from None
    if (
        not isinstance(metadata, dict)
        or not all(isinstance(metadata.get(name, {}), dict) for name in ("databases", "plugins"))
        or not isinstance(metadata.get("plugins", {}).get("archive", {}), dict)
    ):
        raise ArchiveError(
            f"--metadata {path}: not Datasette metadata (a JSON object, its databases and "
            "plugins objects)"
        )
    databases = metadata.get("databases", {})
    if "archive" in databases:
        databases[Path(db_path).stem] = databases.pop("archive")
    return metadata


def check_port(host: str, port: int) -> None:
    """Refuse a port another program listens on, before serving starts (Datasette would print
    that it serves there, then fail after the start-up lines)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as e:
        raise ArchiveError(f"--host {host}: {e.strerror}") from None
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds
        try:
            probe.bind(address)
        except OSError as e:
            raise ArchiveError(
                f"cannot listen on {host}:{port} ({e.strerror}): another program may be using "
                "it; choose another with --port"
            ) from None


def datasette_command(
    db_path,
    host="127.0.0.1",
    port=8001,
    metadata=None,
    cache: bool = True,
    captures: bool = False,
    mmap: bool = True,
) -> list[str]:
    """Arguments for ``python -m datasette serve``, with the metadata written to a file in the
    user's cache directory (one per database and settings). ``captures``: publish the stored
    capture files for download. ``mmap``: read the database through a memory map
    (``datasette_plugin.MMAP_BYTES``)."""
    meta = metadata_for(db_path, metadata)
    config = meta.setdefault("plugins", {}).setdefault("archive", {})
    config["response_cache"], config["captures"], config["mmap"] = cache, captures, mmap
    stem = Path(db_path).stem
    if stem != "archive":
        # Links in the home page description point at /archive/...
        # as Datasette writes a database's name in its URLs ("news archive": news~20archive)
        from datasette.utils import tilde_encode

        meta["description_html"] = meta.get("description_html", "").replace(
            'href="/archive', f'href="/{tilde_encode(stem)}'
        )
    # `archive serve` becomes Datasette (exec), so nothing is left to delete the file after it:
    # one file per database and settings in the user's cache, rewritten on each start, instead
    # of a new temporary file each time
    text = json.dumps(meta, sort_keys=True)
    key = hashlib.sha256(f"{Path(db_path).resolve()}\n{text}".encode()).hexdigest()[:16]
    try:
        cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "archive"
        cache.mkdir(parents=True, exist_ok=True)
        path = cache / f"serve-metadata-{key}.json"
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)  # a server starting at the same moment never reads half a file
    except OSError:  # no writable home: a temporary file, as before
        with tempfile.NamedTemporaryFile(
            "w", suffix=".json", prefix="archive-metadata-", delete=False, encoding="utf-8"
        ) as f:
            f.write(text)
        path = Path(f.name)
    args = [
        sys.executable,
        "-m",
        "archive.serve",  # Datasette's command line: run_datasette
        "serve",
        "--immutable",
        str(db_path),
        "--metadata",
        str(path),
        # overrides of a few of Datasette's templates, each extending the default one
        "--template-dir",
        str(TEMPLATES),
        "--host",
        host,
        "--port",
        str(port),
    ]
    for name, value in SETTINGS.items():
        args += ["--setting", name, value]
    return args


def run_datasette(argv: list[str]) -> int:
    """Datasette's own command line, as ``archive serve`` runs it (``python -m archive.serve``),
    with a stop reported as every archive command reports one: "Interrupted" and status 130
    for Ctrl-C (it was 0, or click's "Aborted!" and 1), "Terminated" and 143 for SIGTERM,
    "Hangup" and 129 for SIGHUP."""
    import signal

    import click
    from datasette.cli import cli as datasette

    stopped: list[tuple[int, str]] = []

    def on_stop(signum, frame):
        stopped.append((128 + signum, stops.word(signum)))
        handler = signal.getsignal(signal.SIGTERM)
        if signum != signal.SIGTERM and callable(handler) and handler is not on_stop:
            # uvicorn serving: it stops gracefully on SIGTERM, but not on SIGHUP, and a
            # KeyboardInterrupt raised inside a request was swallowed there (a review: the
            # server went on serving); the word stays this signal's
            signal.raise_signal(signal.SIGTERM)
            return
        raise KeyboardInterrupt

    # Installed before asyncio's: asyncio.run then leaves SIGINT alone, and uvicorn, which
    # handles SIGINT and SIGTERM while serving (a graceful stop), hands each back here once it
    # has stopped. SIGHUP is made a SIGTERM for it.
    for signum in stops.SIGNALS:
        if signal.getsignal(signum) != signal.SIG_IGN:  # started ignoring it: it stays so
            signal.signal(signum, on_stop)
    try:
        result = datasette.main(argv, prog_name="datasette", standalone_mode=False)
    except (KeyboardInterrupt, click.Abort):
        if not stopped:
            raise
    except click.ClickException as e:
        e.show()
        return e.exit_code
    if stopped:
        status, word = stopped[0]
        print(word, file=sys.stderr)
        return status
    return result if isinstance(result, int) else 0  # click's Exit code, else success


if __name__ == "__main__":
    sys.exit(run_datasette(sys.argv[1:]))
