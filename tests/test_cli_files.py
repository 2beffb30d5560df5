"""Files the CLI reads and writes for the user: unreadable inputs are one clear line, outputs are
written whole or not at all, and keep what they are (a link, a pipe, a file's permissions)."""

from __future__ import annotations

import base64
import json

import pytest
from click.testing import CliRunner

from archive.cli import cli
from archive.similarity import PERMUTATIONS

from .conftest import DATA, SAMPLE, SECOND
from .test_ingest import ingest
from .test_robustness import error_lines, run_cli


def test_cli_file_errors_are_one_line_and_leave_no_partial_file(sample_db, fixed_signer, tmp_path):
    """Files the user names that cannot be read or written, and bad export tables: one clear
    line, exit 1, no traceback, and no partial or emptied output file (found in review)."""
    binary = tmp_path / "binary.pem"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    pub = tmp_path / "pub.pem"
    pub.write_text(fixed_signer.public_key_pem)
    nowhere = tmp_path / "no-such-dir" / "out.txt"
    kept = tmp_path / "kept.csv"
    kept.write_text("what was there\n")
    code, out = run_cli("prove", "37988c58467bc4cf-1", "--db", sample_db, "-o", tmp_path / "p.json")
    assert code == 0, out
    cases = [
        (["verify", "--db", sample_db, "--public-key", binary], "not a UTF-8 text file"),
        (["verify", "--db", sample_db, "--checkpoint", binary], "not a UTF-8 text file"),
        (["verify-proof", tmp_path / "p.json", "--public-key", binary], "not a UTF-8 text file"),
        (["export", "--db", sample_db, "--format", "csv", "-o", nowhere], str(nowhere)),
        (["prove", "37988c58467bc4cf-1", "--db", sample_db, "-o", nowhere], str(nowhere)),
        (["export", "--db", sample_db, "--format", "csv", "--table", "claims; x", "-o", kept],
         "no table 'claims; x'"),
    ]  # fmt: skip
    for args, message in cases:
        code, out = run_cli(*args)
        assert code == 1, (args, out)
        assert error_lines(out) and message in error_lines(out)[0], (args, out)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    code, out = run_cli("verify-proof", tmp_path / "p.json", "--public-key", garbage)
    assert code == 1 and error_lines(out)[0].startswith(f"Error: --public-key {garbage}"), out
    assert "malformed proof" not in out  # the key's fault, not the proof's
    assert kept.read_text() == "what was there\n"
    assert not list(tmp_path.glob(".*.tmp"))
    # BLOBs other than image bytes are exported as base64 text
    code, out = run_cli(
        "export", "--db", sample_db, "--format", "jsonl", "--table", "claim_minhash"
    )
    assert code == 0, out
    row = json.loads(out.splitlines()[0])
    assert len(base64.b64decode(row["signature"])) == 2 * PERMUTATIONS  # 16 bits each


def test_output_files_keep_what_they_are(sample_db, tmp_path):
    """-o writes a regular file whole or not at all, keeping its permissions; a link, a pipe or
    /dev/fd/N is written through, as a shell would (found in review)."""
    import stat

    existing = tmp_path / "claims.csv"
    existing.write_text("old\n")
    existing.chmod(0o640)
    code, out = run_cli("export", "--db", sample_db, "--format", "csv", "-o", existing)
    assert code == 0, out
    assert existing.read_text().startswith("id,") and stat.S_IMODE(existing.stat().st_mode) == 0o640
    target = tmp_path / "target.csv"
    target.write_text("")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, out = run_cli("export", "--db", sample_db, "--format", "csv", "-o", link)
    assert code == 0, out
    assert link.is_symlink() and target.read_text().startswith("id,")
    assert not list(tmp_path.glob(".*.tmp"))


def test_an_archive_database_emptied_to_zero_bytes_is_not_started_again(isolated_env):
    """SQLite takes an empty file for an empty database: an ingest made a new archive over one
    that had lost its contents, restarting the ledger and overwriting the checkpoint file the
    auditors keep (found in review). Every command now refuses it, in one line."""
    assert ingest(SAMPLE).exit_code == 0
    records = isolated_env / "records"
    checkpoint = (records / "checkpoint").read_bytes()
    (records / "archive.db").write_bytes(b"")
    for args in (["ingest", str(DATA / "warc" / "example.warc.gz")], ["verify"], ["upgrade"]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1, (args, result.output)
        assert result.output.splitlines()[-1].startswith(f"Error: {records / 'archive.db'}: ")
        assert "an empty file (0 bytes), not an archive database" in result.output, result.output
        assert (records / "archive.db").read_bytes() == b""
        assert (records / "checkpoint").read_bytes() == checkpoint


def test_a_damaged_archive_database_is_named_as_such_by_ingest(isolated_env):
    """A damaged page of archive.db met while ingesting: the error named the capture file being
    ingested ("<file>: DatabaseError: database disk image is malformed", found in review), and
    every later file failed the same way. Now one line names the database, and the run stops."""
    import sqlite3

    assert ingest(SAMPLE).exit_code == 0
    db = isolated_env / "records" / "archive.db"
    conn = sqlite3.connect(db)
    (root,) = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'captures'").fetchone()
    (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    conn.close()
    with open(db, "r+b") as f:
        f.seek((root - 1) * page_size)
        f.write(bytes(page_size))
    damaged = db.read_bytes()
    files = [DATA / "warc" / "example.warc.gz", DATA / "warc" / "example.arc.gz"]
    result = ingest(*files)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert errors[0].startswith(f"Error: {db}: the archive database is damaged (")
    assert f"{files[0]} was not ingested" in errors[0]
    assert db.read_bytes() == damaged


def test_damaged_inputs_are_named_for_what_they_are(isolated_env, tmp_path):
    """Found in review: a key path that is a directory gave a traceback; damaged gzip data
    quoted its binary first line ("Unknown archive format ['\\x1f\\x8b...']"); a WACZ with a
    damaged member header gave "unexpected BadZipFile"; a text line of five words was ingested
    as an ARC capture. One plain line each."""
    import gzip
    import zipfile

    keydir = tmp_path / "keydir"
    keydir.mkdir(mode=0o700)
    result = CliRunner().invoke(cli, ["ingest", str(SAMPLE)], env={"ARCHIVE_KEY": str(keydir)})
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit | None), result.exception  # no traceback
    assert error_lines(result.output) == [f"Error: {keydir}: a directory, not a key file"]
    data = bytearray(SAMPLE.read_bytes())
    data[30:32] = bytes(b ^ 0xFF for b in data[30:32])  # inside the first member's deflate data
    flipped = tmp_path / "flipped.warc.gz"
    flipped.write_bytes(bytes(data))
    html = tmp_path / "page.warc.gz"
    html.write_bytes(gzip.compress(b"<html><body>not a capture</body></html>"))
    wacz = tmp_path / "damaged.wacz"
    source = DATA / "wacz" / "scoop-example.com.wacz"
    with zipfile.ZipFile(source) as zf:
        first = zf.infolist()[0]
        assert first.filename.startswith("archive/") and first.header_offset == 0
    wacz.write_bytes(bytes(30) + source.read_bytes()[30:])  # the member's local header
    # a member's bytes changed after packing: "at offset 0: BadZipFile: Bad CRC-32 for file"
    crc = tmp_path / "crc.wacz"
    with zipfile.ZipFile(source) as zf, zipfile.ZipFile(crc, "w", zipfile.ZIP_STORED) as out:
        for info in zf.infolist():
            out.writestr(info.filename, zf.read(info.filename))
    packed = bytearray(crc.read_bytes())
    packed[first.compress_size // 2 + 100] ^= 0x01  # inside the first member's data
    crc.write_bytes(bytes(packed))
    # warcio reads any line of five words as an ARC record header: this was "ingested"
    five = tmp_path / "notes.warc"
    five.write_text("one two three four five")
    code, out = run_cli("ingest", flipped, html, wacz, crc, five)
    assert code == 1
    assert error_lines(out) == [
        f"Error: {flipped} at offset 0: not a valid WARC/ARC: the gzip data here is damaged "
        "(invalid literal/lengths set)",
        f"Error: {html} at offset 0: not a WARC or ARC file: it begins '<html><body>not a "
        "capture</body></html>', not a WARC version line or an ARC file's filedesc:// header",
        f"Error: {wacz}!{first.filename}: a damaged WACZ (ZIP) member: Bad magic number for "
        "file header",
        f"Error: {crc}!{first.filename}: a damaged WACZ (ZIP) member: its bytes do not match "
        "the CRC-32 checksum the ZIP holds for them (changed or damaged after the package was "
        "made)",
        f"Error: {five} at offset 0: not a WARC or ARC file: it begins 'one two three four "
        "five', not a WARC version line or an ARC file's filedesc:// header",
    ], out


def test_directories_are_expanded_without_dropping_anything_silently(
    isolated_env, tmp_path, monkeypatch
):
    """A directory's captures behind a linked subdirectory were ignored, and a link to nothing
    or a pipe named as a capture was left out without a word, as were files that are not
    captures by name (found in review). Linked directories are followed, once each (a link
    back up the tree is no loop); the others are named."""
    import os
    import shutil

    top = tmp_path / "collection"
    (top / "real").mkdir(parents=True)
    shutil.copy(SAMPLE, top / "real" / SAMPLE.name)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(DATA / "warc" / "example.warc.gz", elsewhere / "example.warc.gz")
    (top / "linked").symlink_to(elsewhere, target_is_directory=True)
    (top / "real" / "loop").symlink_to(top, target_is_directory=True)
    (top / "gone.warc.gz").symlink_to(tmp_path / "nothing-here.warc.gz")
    os.mkfifo(top / "pipe.warc")
    (top / "index.cdxj").write_text("")
    (top / "secret").mkdir()
    scandir = os.scandir

    def unreadable(path="."):  # root reads every directory: a refusal is made up here
        if str(path).endswith("secret"):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", unreadable)
    # the linked directory given again: its capture is read once (second review)
    result = ingest(top, elsewhere)
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert (
        "Note: 1 file(s) in the directories given are not captures by their names (.warc, .arc, "
        f".wacz, optionally .gz) and were not read: {top / 'index.cdxj'}"
    ) in lines, result.output
    assert f"Error: {top / 'gone.warc.gz'}: a link to nothing" in lines
    assert f"Error: {top / 'pipe.warc'}: not a regular file (a pipe, a device or a directory)" in (
        lines
    )
    assert "4 files: 2 ingested, 0 already in the archive, 2 failed;" in result.output
    assert (
        f"Error: {top / 'secret'}: cannot be read (Permission denied); no captures were "
        "looked for in it"
    ) in lines


def test_a_file_named_twice_is_read_once(isolated_env, tmp_path):
    """A broken file named twice, or named and in its directory, was reported and counted as
    failed twice (an archivist's review): each file is read once, as a directory reached twice
    is."""
    folder = tmp_path / "in"
    folder.mkdir()
    broken = folder / "empty.warc.gz"
    broken.write_bytes(b"")
    result = ingest(broken, folder, broken, tmp_path / "in" / ".." / "in" / "empty.warc.gz")
    assert result.exit_code == 1, result.output
    assert result.output.count(f"Error: {broken}: ") == 1, result.output
    assert "1 file: 0 ingested, 0 already in the archive, 1 failed" in result.output


def test_a_directory_that_cannot_be_read_is_said_to_be_that_alone(
    isolated_env, tmp_path, monkeypatch
):
    """Given alone, it was "no capture files in it; ... cannot be read" (an archivist's review,
    as a user without the right: root reads every directory, so the refusal is made up)."""
    import os

    secret = tmp_path / "secret"
    secret.mkdir()
    scandir = os.scandir

    def refused(path="."):
        if str(path) == str(secret):
            raise PermissionError(13, "Permission denied", str(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", refused)
    result = ingest(secret)
    assert result.exit_code == 1
    assert result.output == f"Error: {secret}: cannot be read (Permission denied)\n"


def on_terminal(*args, columns: int = 80, stdout=None, command: str = "ingest") -> str:
    """What `archive COMMAND ARGS` writes to a terminal of ``columns`` (a pseudo-terminal: bars
    are shown); ``stdout``: where its standard output goes instead, if not there."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import subprocess
    import sys
    import termios
    from pathlib import Path

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", command, *map(str, args)],
        stdin=slave, stdout=slave if stdout is None else stdout, stderr=slave,
        env={**env, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )  # fmt: skip
    os.close(slave)
    seen = b""
    while True:
        if select.select([master], [], [], 1)[0]:
            try:
                chunk = os.read(master, 4096)
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    proc.wait(timeout=60)
    os.close(master)
    return seen.decode()


def test_errors_start_their_own_line_under_a_progress_bar(isolated_env, tmp_path):
    """On a terminal an error was written straight after the progress bar: "Ingesting [#---]
    2%Error: ..." (found in review). The bar's line is cleared first."""
    broken = tmp_path / "broken.warc"
    broken.write_text("not a capture at all, just words here\n")
    text = on_terminal(SAMPLE, broken, "--workers", "0")
    assert "Ingesting" in text, text  # the bar was shown
    (line,) = [piece for piece in text.split("\n") if "Error:" in piece]
    assert line.rstrip("\r").split("\r")[-1].replace("\x1b[2K", "").startswith("Error: "), repr(
        line
    )


def test_the_bar_moves_within_one_file(isolated_env):
    """The bar counted files, so one large capture showed nothing until it was done (an hour,
    for a large crawl). It counts the files' bytes now, as their records are written, with the
    file's name beside it."""
    import re

    text = on_terminal(SAMPLE, "--workers", "0")
    shown = [int(p) for p in re.findall(r"Ingesting\s+\[[#-]+\]\s+(\d+)%", text)]
    assert shown[-1] == 100 and any(0 < p < 100 for p in shown), text
    assert SAMPLE.name in text and "1 file: 1 ingested" in text, text


def test_the_bar_fits_the_terminal(isolated_env, tmp_path):
    """A bar 36 wide, then the file's name: 86 columns for the sample's, 120 for a Common Crawl
    file's, so on 80 columns each redraw wrapped and left a row behind (session review)."""
    import re
    import subprocess

    long = tmp_path / "CC-MAIN-20250101000000-20250101030000-00000-of-a-long-crawl.warc.gz"
    long.write_bytes(SAMPLE.read_bytes())

    def drawn(text: str) -> list[str]:
        return [
            re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", piece).rstrip()
            for line in text.split("\n")
            for piece in line.split("\r")
            if "Ingesting" in piece
        ]

    lines = drawn(on_terminal(long, "--workers", "0"))
    assert lines and max(map(len, lines)) <= 80, lines
    assert any("…" in d and d.endswith("long-crawl.warc.gz") for d in lines), lines
    # the bar is on stderr: its width, not stdout's (redirected here), is what counts
    lines = drawn(
        on_terminal(long, "--workers", "0", "--db", tmp_path / "b" / "a.db", columns=60,
                    stdout=subprocess.DEVNULL)
    )  # fmt: skip
    assert lines and max(map(len, lines)) <= 60, lines


def test_a_command_run_from_a_thread_works(sample_db):
    """The SIGTERM handler was set on every command, and Python allows that only in the main
    thread: the CLI invoked from a thread (a test runner, a web app) failed (second review)."""
    import threading

    results = []
    thread = threading.Thread(target=lambda: results.append(run_cli("verify", "--db", sample_db)))
    thread.start()
    thread.join(60)
    assert results and results[0][0] == 0, results


def test_quiet_leaves_out_the_files_already_in_the_archive(isolated_env):
    """`-q` promised warnings, errors and the summary only, and still listed every file
    already in the archive (33 lines when the corpus was given again: archivist review)."""
    assert ingest(SAMPLE).exit_code == 0
    quiet, loud = ingest("-q", SAMPLE), ingest(SAMPLE)
    assert "Already in the archive" not in quiet.output
    assert f"Already in the archive: {SAMPLE}" in loud.output
    assert "1 file: 0 ingested, 1 already in the archive, 0 failed" in quiet.output


def test_each_file_that_goes_in_is_named(isolated_env):
    """Files that went in got no line of their own, only the summary's count, so a log (cron,
    a service) could not show which did (archivist review); files already in the archive had
    theirs. One file: the summary says it all."""
    second = DATA / "warc" / "example.warc.gz"
    loud = ingest(SAMPLE, second)
    assert f"Ingested: {SAMPLE} (1 article, 24 claims, 2 images)" in loud.output.splitlines()
    assert f"Ingested: {second} (" in loud.output
    quiet = ingest("-q", DATA / "provenance" / "lakeport-B-2025-03-08.warc.gz", SECOND)
    assert quiet.exit_code == 0 and "Ingested:" not in quiet.output, quiet.output
    single = ingest(DATA / "warc" / "example-resource.warc.gz")
    assert "Ingested:" not in single.output


def test_an_archive_reached_through_a_link_keeps_its_files_beside_the_real_one(
    isolated_env, tmp_path, monkeypatch
):
    """An ingest through a link to archive.db put the stored capture and the checkpoint file
    beside the link, where verify (which asks SQLite where the file is) did not find them: an
    ingest that said OK left an archive that failed verify. Its lock file was beside the link
    too, so serve, locking beside the real file, did not keep it out (a review)."""
    import os

    from archive.serve import hold_for_serving

    real = tmp_path / "real" / "archive.db"
    assert run_cli("ingest", "--db", real, SAMPLE)[0] == 0
    alias = tmp_path / "alias" / "archive.db"
    alias.parent.mkdir()
    alias.symlink_to(real)
    code, out = run_cli("ingest", "--db", alias, SECOND)
    assert code == 0 and "1 ingested" in out, out
    monkeypatch.setenv("ARCHIVE_DB", str(alias))  # the environment's path is followed too
    code, out = run_cli("verify")
    assert code == 0 and "FAILED" not in out, out
    assert sorted(os.listdir(alias.parent)) == ["archive.db"]
    assert len(os.listdir(real.parent / "captures")) == 2
    lock = hold_for_serving(real)
    try:
        code, out = run_cli("ingest", DATA / "warc" / "example.warc.gz")
    finally:
        os.close(lock)
    assert code == 1 and "archive serve is serving it" in out, out
    # serve locks beside the real file too, and publishes the archive under the link's name
    # (following the link renamed the site: /real/... for /archive/..., found in review)
    started = []
    monkeypatch.setattr("os.execv", lambda *args: started.append(args[1]))
    code, out = run_cli("serve", "--db", alias, "--port", "0")
    assert code == 0 and str(alias) in started[0], out
    import fcntl

    lock = os.open(real.with_name(".archive.db.lock"), os.O_RDWR)
    try:  # held by serve (its descriptor is the Datasette process's, here this one's)
        with pytest.raises(BlockingIOError):
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
    finally:
        os.close(lock)
    assert not alias.with_name(".archive.db.lock").exists()


def test_wat_and_wet_files_are_refused_by_name_as_a_directory_walk_leaves_them(
    isolated_env, tmp_path
):
    """WAT and WET files (Common Crawl's metadata and text derived from captures) are WARC
    files: named on the command line one was ingested, to no article, while a directory's walk
    left it out by name (left from the eleventh round). Both now leave it out, named."""
    import shutil

    (tmp_path / "cc").mkdir()
    wat = tmp_path / "cc" / "CC-MAIN-1.warc.wat.gz"
    wet = tmp_path / "cc" / "CC-MAIN-1.warc.WET"
    shutil.copy(SAMPLE, wat)
    shutil.copy(SAMPLE, wet)
    code, out = run_cli("ingest", wat, wet, SAMPLE)
    assert code == 1, out
    assert error_lines(out) == [
        f"Error: {wat}: a WAT file (metadata derived from a capture), not a capture: ingest the "
        "WARC it was made from",
        f"Error: {wet}: a WET file (plain text derived from a capture), not a capture: ingest "
        "the WARC it was made from",
    ]
    assert "1 ingested, 0 already in the archive, 2 failed" in out
    code, out = run_cli("ingest", tmp_path / "cc")  # the directory: left out by name, as before
    assert code == 1 and "no capture files" in out, out


def test_a_capture_or_directory_that_cannot_be_read_fails_alone(
    isolated_env, tmp_path, monkeypatch
):
    """A capture named on the command line that cannot be read stopped the whole batch with
    click's usage error (exit 2, the good files not ingested), a directory that cannot be read
    was a warning in a run that exited 0, and an unreadable --key was a usage error where
    ARCHIVE_KEY gave one line (an archivist's review). Each now fails alone, in one line."""
    import builtins
    import os
    import pathlib
    import shutil

    locked = tmp_path / "locked.warc.gz"
    shutil.copy(SECOND, locked)
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    shutil.copy(SAMPLE, tmp_path / "dir" / SAMPLE.name)
    key = tmp_path / "key.pem"
    assert run_cli("keys", "generate", "--key", key, "--no-passphrase")[0] == 0
    # root reads everything: the refusals are made up here, where the tool asks
    denied = {str(locked), str(tmp_path / "dir" / "sub"), str(key)}
    real_access = os.access

    def refused(real):
        def call(path, *args, **kwargs):
            if str(path) in denied:
                raise PermissionError(13, "Permission denied", str(path))
            return real(path, *args, **kwargs)

        return call

    def access(path, *args, **kwargs):
        return str(path) not in denied and real_access(path, *args, **kwargs)

    monkeypatch.setattr(os, "access", access)  # click's check of a path it is given
    monkeypatch.setattr(builtins, "open", refused(builtins.open))  # a capture
    monkeypatch.setattr(os, "scandir", refused(os.scandir))  # a directory's walk
    monkeypatch.setattr(pathlib.Path, "read_bytes", refused(pathlib.Path.read_bytes))  # a key
    code, out = run_cli("ingest", locked, tmp_path / "dir")
    assert code == 1, out
    assert error_lines(out) == [
        f"Error: {tmp_path / 'dir' / 'sub'}: cannot be read (Permission denied); no captures "
        "were looked for in it",
        f"Error: {locked}: cannot be read (Permission denied)",
    ], out
    assert "2 files: 1 ingested, 0 already in the archive, 1 failed;" in out, out
    assert out.splitlines()[-1].endswith("; 1 directory not read"), out
    code, out = run_cli("ingest", "--key", key, SECOND)
    assert code == 1, out
    assert error_lines(out) == [f"Error: {key}: cannot read the key file (Permission denied)"]
