"""Odd arguments on the command line: one line, a non-zero exit, nothing lost, nothing waited
for. Found by a sweep of every command with odd values (tenth round): outputs that replaced the
archive or the private key, `keys generate --force` that replaced a database or /dev/null,
`ingest ""` that ingested the current directory, FIFOs that made commands wait forever, and
tracebacks for long names, paths under a file, bytes that are not text and huge numbers."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SAMPLE
from .test_robustness import http_response, warc_file

ROOT = Path(__file__).resolve().parent.parent


def archive(*args, cwd=None) -> subprocess.CompletedProcess:
    """The CLI as a user runs it (argv as bytes the shell passes), never waiting long."""
    return subprocess.run(
        [sys.executable, "-m", "archive", *args],
        capture_output=True,
        timeout=60,
        cwd=cwd or ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def one_error_line(done: subprocess.CompletedProcess, code: int = 1) -> str:
    err = done.stderr.decode("utf-8", "replace")
    assert done.returncode == code, (done.returncode, err, done.stdout[:300])
    assert "Traceback" not in err and "Error" in err, err
    return err


@pytest.fixture
def home(tmp_path) -> Path:
    """An archive of the sample, its key exported: (records dir)."""
    done = archive("ingest", "-q", str(SAMPLE))
    assert done.returncode == 0, done.stderr
    return tmp_path / "records"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_outputs_never_replace_the_archive_or_a_private_key(home, tmp_path):
    db = home / "archive.db"
    key = tmp_path / "config" / "archive" / "signing-key.pem"
    before = {db: digest(db), key: digest(key)}
    for args in (
        ["export", "--format", "csv", "-o", str(db)],
        ["keys", "export", "-o", str(db)],
        ["keys", "export", "-o", str(key)],
        ["export", "--format", "jsonl", "-o", str(key)],
    ):
        err = one_error_line(archive(*args))
        assert "not overwritten" in err, (args, err)
    assert {path: digest(path) for path in before} == before
    # an ordinary file is replaced, as before, also one that quotes a key further on (a
    # claim about a leaked key: the first line decides)
    notes = tmp_path / "claims.csv"
    notes.write_text('id,text\nx,"-----BEGIN OPENSSH PRIVATE KEY-----"\n')
    assert archive("export", "--format", "csv", "-o", str(notes)).returncode == 0
    assert notes.read_text().startswith("id,")


def test_keys_generate_force_replaces_only_a_key(home, tmp_path):
    db = home / "archive.db"
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    before = digest(db)
    quoting = tmp_path / "notes.db"  # a database whose rows quote a key's first line
    quoting.write_bytes(b"SQLite format 3\x00" + b"-----BEGIN PRIVATE KEY-----\n" * 4)
    for target, code, said in [
        (db, 1, "not a key file; not replaced"),
        (quoting, 1, "not a key file; not replaced"),
        (fifo, 2, "not a regular file"),
        (tmp_path, 2, "is a directory"),
    ]:
        err = one_error_line(archive("keys", "generate", "--force", "--key", str(target)), code)
        assert said in err, err
    assert digest(db) == before and fifo.is_fifo() and quoting.read_bytes().startswith(b"SQLite")
    key = tmp_path / "config" / "archive" / "signing-key.pem"
    done = archive("keys", "generate", "--force", "--key", str(key))
    assert done.returncode == 0, done.stderr  # a key is replaced (and kept beside it)
    assert list(key.parent.glob("signing-key.pem.replaced-*"))
    # a key file left empty or cut short is replaced too: --force is how one starts again
    for broken in (b"", b"-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2Vw"):
        cut = tmp_path / "cut.pem"
        cut.write_bytes(broken)
        done = archive("keys", "generate", "--force", "--key", str(cut))
        assert done.returncode == 0 and b"PRIVATE KEY" in cut.read_bytes(), done.stderr


def test_an_empty_path_is_not_the_current_directory(tmp_path):
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "capture.warc.gz").write_bytes(SAMPLE.read_bytes())
    err = one_error_line(archive("ingest", "", cwd=tmp_path / "work"), code=2)
    assert "an empty path" in err
    assert not (tmp_path / "records").exists()  # nothing ingested, no archive made


def test_a_fifo_where_a_file_is_read_is_refused_not_waited_on(home, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # ARCHIVE_KEY does not pass through the option's type
    env_key = subprocess.run(
        [sys.executable, "-m", "archive", "keys", "show"],
        capture_output=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "ARCHIVE_KEY": str(fifo)},
    )
    assert "not a regular file" in one_error_line(env_key)
    err = one_error_line(archive("ingest", str(fifo)))  # a capture that is a FIFO: named so
    assert "not a regular file" in err and "no such file" not in err, err
    for args in (
        ["keys", "show", "--key", str(fifo)],
        ["verify", "--public-key", str(fifo)],
        ["verify", "--checkpoint", str(fifo)],
        ["verify-proof", str(fifo)],
        ["serve", "--metadata", str(fifo)],
        ["ingest", "--key", str(fifo), str(SAMPLE)],
    ):
        err = one_error_line(archive(*args), code=2)  # within the 60 s timeout
        assert "not a regular file" in err, (args, err)


def test_unexpected_values_are_one_line(home, tmp_path):
    (tmp_path / "a-file").write_text("x")
    for args, said in [
        (["verify", "--db", f"/tmp/{'x' * 300}/a.db"], "File name too long"),
        (["ingest", "--db", str(tmp_path / "a-file" / "x.db"), str(SAMPLE)], "a file is where"),
        (["export", "--format", "csv", "-o", str(tmp_path / "a-file" / "out.csv")], "a-file"),
        # bytes that are not UTF-8 in an id or a URL: found in nothing (the archive's text is
        # UTF-8), named as \xNN; a path: as \xNN too, not as Python's \udcff (seventeenth round)
        (["trace", os.fsdecode(b"\xff\xfe")], "no claim '\\xff\\xfe'"),
        (["history", os.fsdecode(b"https://example.com/\xff")], "of https://example.com/\\xff"),
        (["prove", os.fsdecode(b"a\xff")], "no signed record with id 'a\\xff'"),
        (["ingest", os.fsdecode(b"/tmp/no-such-\xff.warc")], "/tmp/no-such-\\xff.warc: no such"),
        (["ingest", "--workers", "9" * 30, str(SAMPLE)], "too large"),
    ]:
        assert said in one_error_line(archive(*args)), args
    # an argument of 100,000 characters: its middle left out of the line, not screens of it
    err = one_error_line(archive("trace", "x" * 100_000))
    assert len(err) < 2100 and "…(98,011 characters left out)…" in err, len(err)
    # ingest's own lines too: a record's WARC-Date of 100,000 characters, echoed in a warning
    page = http_response("https://example.com/a", b"<html><body>Hello</body></html>")
    long_date = {"https://example.com/a": {"WARC-Date": "2025-" + "9" * 100_000}}
    capture = warc_file(tmp_path / "long-date.warc", [page], warc_headers=long_date)
    done = archive("ingest", str(capture))
    (warning,) = [line for line in done.stderr.decode().splitlines() if "WARC-Date" in line]
    assert len(warning) < 2100 and "characters left out)…" in warning, len(warning)
    # a write to standard output that fails (a full disk behind `> file`) names it
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "archive", "export", "--format", "csv"],
            stdout=full,
            stderr=subprocess.PIPE,
            timeout=60,
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.decode().splitlines() == ["Error: standard output: No space left on device"]
    # and one that is closed (`>&-`): a traceback before
    done = subprocess.run(
        [sys.executable, "-m", "archive", "export", "--format", "csv"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        pass_fds=(),
        preexec_fn=lambda: os.close(1),
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.decode().splitlines() == ["Error: standard output is closed: give -o FILE"]


def test_trust_and_public_key_together_are_refused(home, tmp_path):
    pub = tmp_path / "pub.pem"
    assert archive("keys", "export", "-o", str(pub)).returncode == 0
    err = one_error_line(
        archive("verify", "--public-key", str(pub), "--trust", "ed25519:0000000000000000"), code=2
    )
    assert "not both" in err


def test_a_pipe_a_process_hands_over_is_read(home, tmp_path):
    """`--public-key <(ssh owner cat key.pub)` or /dev/stdin in a pipeline: a pipe, not a
    regular file, with a writer; refused with the named FIFOs at first (found in review)."""
    pub = tmp_path / "pub.pem"
    assert archive("keys", "export", "-o", str(pub)).returncode == 0
    done = subprocess.run(
        [sys.executable, "-m", "archive", "verify", "--no-files", "--public-key", "/dev/stdin"],
        input=pub.read_bytes(),
        capture_output=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert b"everything verifies" in done.stdout


def test_serve_takes_only_a_port_it_can_listen_on(home):
    """--port -5 blamed --host and 65536 printed "Serving ... :65536" before Datasette's own
    usage error (found by the sweep); 0 asks the system for a port."""
    for port in ("-5", "65536", "99999999999999999999"):
        err = one_error_line(archive("serve", "--port", port), code=2)
        assert "--port" in err and "Serving" not in err, (port, err)


def test_a_database_that_cannot_be_made_gets_no_new_key(tmp_path):
    """`ingest --db a-file/x.db` made a signing key, then failed on the database (sweep)."""
    (tmp_path / "a-file").write_text("x")
    key = tmp_path / "new.pem"
    err = one_error_line(
        archive("ingest", "--db", str(tmp_path / "a-file" / "x.db"), "--key", str(key), str(SAMPLE))
    )
    assert "a file is where a directory would be" in err
    assert not key.exists() and not (tmp_path / "a-file").is_dir()


def test_a_database_error_no_command_expected_is_one_line():
    """`keys rotate` on a full disk printed a 30-line traceback ending in sqlite3's "database or
    disk is full" (an archivist's review); any command's unexpected database error is one line."""
    import sqlite3

    import click
    from click.testing import CliRunner

    from archive.cli import ArchiveGroup

    @click.group(cls=ArchiveGroup)
    def group():
        pass

    @group.command()
    def fill():
        raise sqlite3.OperationalError("database or disk is full")

    result = CliRunner().invoke(group, ["fill"])
    assert result.exit_code == 1
    assert result.output == "Error: the archive database: database or disk is full\n"

    # a command with --db names its database, given or not
    from archive.cli import db_option

    @group.command()
    @db_option
    def fill_db(db_path):
        raise sqlite3.OperationalError("database or disk is full")

    result = CliRunner().invoke(group, ["fill-db", "--db", "elsewhere.db"])
    assert result.output == "Error: elsewhere.db: database or disk is full\n"
    result = CliRunner().invoke(group, ["fill-db"], env={"ARCHIVE_DB": "default.db"})
    assert result.output == "Error: default.db: database or disk is full\n"


_CTRL_C_WHILE_STARTING = """
import sys


class CtrlC:  # Ctrl-C while the command's modules are imported
    def find_spec(self, name, path=None, target=None):
        if name == "archive.cli":
            raise KeyboardInterrupt


sys.meta_path.insert(0, CtrlC())
from archive.__main__ import main

main()
"""


def test_ctrl_c_while_the_command_starts_is_one_word():
    """Ctrl-C in the first moments printed Python's 20-line KeyboardInterrupt traceback from
    the imports (an archivist's review); it says "Interrupted" and exits 130, as later."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _CTRL_C_WHILE_STARTING], capture_output=True, text=True
    )
    assert (proc.returncode, proc.stderr) == (130, "Interrupted\n")
