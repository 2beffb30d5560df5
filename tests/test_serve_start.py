"""``archive serve`` starting and stopping: the locks it shares with ingest, a port in use, a
signal, metadata that is not Datasette's, read-only storage."""

from __future__ import annotations

import os
import urllib.error

import pytest

from .server import free_port, get_json, serving

pytestmark = pytest.mark.slow


def test_an_archive_being_served_is_not_ingested_into(sample_db, fixed_signer, tmp_path):
    """archive serve opens the file immutable: an ingest under it gave readers 'malformed'
    errors and stale pages (found in review). Serve holds a lock that ingest respects, and the
    other way round; ingest can go on once serve has stopped."""
    import shutil

    from click.testing import CliRunner
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    from archive.cli import cli
    from archive.errors import DatabaseError
    from archive.serve import hold_for_serving, hold_for_writing

    from .conftest import DATA

    db = tmp_path / "served" / "archive.db"
    db.parent.mkdir()
    shutil.copy(sample_db, db)
    capture = DATA / "provenance" / "lakeport-B-2025-03-08.warc.gz"

    key = tmp_path / "key.pem"  # the archive's own key (it refuses a new one)
    key.write_bytes(
        fixed_signer.private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    )
    key.chmod(0o600)

    def ingest():
        return CliRunner().invoke(
            cli, ["ingest", "--workers", "0", "--db", str(db), "--key", str(key), str(capture)]
        )

    before = db.read_bytes()
    with serving(db) as base:
        result = ingest()
        assert result.exit_code == 1
        assert "archive serve is serving it" in result.output and "stop serve" in result.output
        # the other commands that write wait for serve too
        upgrade = CliRunner().invoke(cli, ["upgrade", "--db", str(db)])
        assert upgrade.exit_code == 1 and "archive serve is serving it" in upgrade.output
        assert db.read_bytes() == before
        assert get_json(f"{base}/archive/captures.json?_shape=array")  # still serving
    writing = hold_for_writing(db)  # an ingest running: serve refuses to start
    try:
        with pytest.raises(DatabaseError, match="an ingest is writing it"):
            hold_for_serving(db)
    finally:
        os.close(writing)
    result = ingest()
    assert result.exit_code == 0, result.output


def test_a_port_in_use_is_refused_before_serving(sample_db, monkeypatch):
    """Another program on the port: serve said "Serving ... at http://127.0.0.1:PORT/" (where a
    reader would find the other program), then failed after Datasette's start-up lines (found
    in review). Now one line before anything starts."""
    import socket

    from click.testing import CliRunner

    from archive.cli import cli

    def started(*args):
        raise AssertionError("serve went on to start Datasette")

    monkeypatch.setattr("os.execv", started)  # in this process, it would replace the tests
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        result = CliRunner().invoke(cli, ["serve", "--db", str(sample_db), "--port", str(port)])
    assert result.exit_code == 1
    assert result.output == (
        f"Error: cannot listen on 127.0.0.1:{port} (Address already in use): another program "
        "may be using it; choose another with --port\n"
    )


@pytest.mark.parametrize(
    "signum, status, word", [(2, 130, "Interrupted"), (15, 143, "Terminated"), (1, 129, "Hangup")]
)
def test_a_stopped_serve_says_so_with_the_status_every_command_stops_with(
    sample_db, signum, status, word
):
    """Ctrl-C ended serve with 0 (uvicorn's graceful stop hid it), where docs/cli.md promises
    130 as for every command (found by a walk through the docs); SIGTERM gave 143, no word.
    A SIGHUP that landed while a request was served was swallowed there and the server went
    on (a review): the signal comes here while readers keep asking."""
    import subprocess
    import sys
    import threading
    import time

    port = free_port()
    done = threading.Event()
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "serve", "--db", str(sample_db), "--port", str(port)],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "XDG_CACHE_HOME": str(sample_db.parent / ".cache")},
    )
    try:
        for _ in range(150):
            try:
                get_json(f"http://127.0.0.1:{port}/-/versions.json")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.2)

        def reader():
            while not done.is_set():
                try:
                    get_json(f"http://127.0.0.1:{port}/archive/claims.json?_size=50")
                except (OSError, ValueError):
                    pass

        readers = [threading.Thread(target=reader, daemon=True) for _ in range(3)]
        for thread in readers:
            thread.start()
        time.sleep(0.5)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=30)
    finally:
        done.set()
        proc.kill()
    assert proc.returncode == status, err
    assert err.splitlines()[-1] == word, err


@pytest.mark.parametrize(
    "content, why",
    [
        (b"notes, not JSON", "not JSON"),
        (b"[]", "not Datasette metadata"),
        (b'{"databases": []}', "not Datasette metadata"),
        (b'{"plugins": 3}', "not Datasette metadata"),
        (b'{"plugins": {"archive": []}}', "not Datasette metadata"),
        (b"\xff\xfe{}", "not JSON"),
    ],
)
def test_metadata_that_is_not_datasette_metadata_is_one_line(
    sample_db, tmp_path, monkeypatch, content, why
):
    """`serve --metadata` given a file that is not JSON, or JSON that is not an object, gave a
    Python traceback (found by a fresh user's walk through the docs)."""
    from click.testing import CliRunner

    from archive.cli import cli

    def started(*args):
        raise AssertionError("serve went on to start Datasette")

    monkeypatch.setattr("os.execv", started)
    bad = tmp_path / "notes.json"
    bad.write_bytes(content)
    result = CliRunner().invoke(
        cli, ["serve", "--db", str(sample_db), "--port", str(free_port()), "--metadata", str(bad)]
    )
    assert result.exit_code == 1, result.output
    assert result.output.startswith(f"Error: --metadata {bad}: {why}")
    assert result.output.count("\n") == 1 and "Traceback" not in result.output


def test_an_archive_on_read_only_storage_is_served(sample_db, tmp_path, monkeypatch):
    """serve made its lock file beside the database, and on a read-only mount it stopped with
    "Read-only file system" (every other reading command worked there: a review). A lock file
    already there is locked read-only; with none, nothing can write there, and serve says so."""
    import errno
    import shutil

    from click.testing import CliRunner

    import archive.serve
    from archive.cli import cli
    from archive.errors import DatabaseError
    from archive.serve import hold_for_serving, hold_for_writing

    db = tmp_path / "published" / "archive.db"
    db.parent.mkdir()
    shutil.copy(sample_db, db)
    real_open = os.open

    def read_only(path, flags, *args):  # what a read-only mount answers
        if flags & (os.O_CREAT | os.O_RDWR | os.O_WRONLY):
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real_open(path, flags, *args)

    started = []
    monkeypatch.setattr("os.execv", lambda *args: started.append(args))
    monkeypatch.setattr(archive.serve.os, "open", read_only)
    result = CliRunner().invoke(cli, ["serve", "--db", str(db), "--port", "0"])
    assert result.exit_code == 0 and started, result.output
    assert "Serving " in result.output
    assert f"Note: {db.parent} is on a read-only file system" in result.output
    monkeypatch.setattr(archive.serve.os, "open", real_open)
    os.close(hold_for_writing(db))  # makes the lock file, as a writer's mount would have
    monkeypatch.setattr(archive.serve.os, "open", read_only)
    held = hold_for_serving(db)
    try:
        assert held is not None
        monkeypatch.setattr(archive.serve.os, "open", real_open)
        with pytest.raises(DatabaseError, match="archive serve is serving it"):
            hold_for_writing(db)
    finally:
        os.close(held)
    # a directory another user may write: serving it unlocked would let their ingest in

    def not_ours(path, flags, *args):
        if str(path).endswith(".lock"):
            raise OSError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(archive.serve.os, "open", not_ours)
    with pytest.raises(DatabaseError, match="serve needs this lock to keep ingests out"):
        hold_for_serving(db)
