"""Keys: created safely, refused when unsafe, never written where they could be published."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import cli

from .conftest import SAMPLE


def run(*args, env=None):
    return CliRunner().invoke(cli, list(map(str, args)), env=env)


def test_generate_show_export(tmp_path):
    key = tmp_path / "k.pem"
    result = run("keys", "generate", "--key", key)
    assert result.exit_code == 0, result.output
    key_id = result.output.split()[0]
    assert key_id.startswith("ed25519:") and len(key_id) == len("ed25519:") + 16
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert "BEGIN PRIVATE KEY" in key.read_text()
    shown = run("keys", "show", "--key", key).output
    assert shown.splitlines()[0] == key_id
    assert "BEGIN PUBLIC KEY" in shown
    out = tmp_path / "pub.pem"
    assert run("keys", "export", "--key", key, "-o", out).exit_code == 0
    assert out.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = run("keys", "generate", "--key", key)
    assert again.exit_code == 1
    assert "a key already exists here (use --force to replace it)" in again.output


def test_passphrase_and_wrong_passphrase(tmp_path):
    key = tmp_path / "k.pem"
    assert (
        run(
            "keys",
            "generate",
            "--key",
            key,
            "--passphrase",
            env={"ARCHIVE_KEY_PASSPHRASE": "correct horse"},
        ).exit_code
        == 0
    )
    assert "ENCRYPTED PRIVATE KEY" in key.read_text()
    ok = run("keys", "show", "--key", key, env={"ARCHIVE_KEY_PASSPHRASE": "correct horse"})
    assert ok.exit_code == 0
    bad = run("ingest", "--key", key, SAMPLE, env={"ARCHIVE_KEY_PASSPHRASE": "wrong"})
    assert bad.exit_code == 1
    assert bad.output == f"Error: {key}: wrong passphrase\n"
    missing = run("keys", "show", "--key", key, env={"ARCHIVE_KEY_PASSPHRASE": None})
    assert missing.exit_code == 1
    assert "the key is passphrase-protected; set ARCHIVE_KEY_PASSPHRASE" in missing.output


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o610, 0o601])
def test_group_or_world_readable_key_is_refused(tmp_path, mode):
    key = tmp_path / "k.pem"
    run("keys", "generate", "--key", key)
    os.chmod(key, mode)
    result = run("ingest", "--key", key, SAMPLE)
    assert result.exit_code == 1
    assert result.output == (
        f"Error: {key}: permissions {mode:04o} are too open; a private key must be readable by "
        f"its owner only (fix: chmod 600 {key})\n"
    )


def test_a_key_that_appears_while_one_is_made_is_kept(tmp_path, monkeypatch):
    """Two first ingests at once each make a key: the second must not replace the first's,
    which may already have signed (the file is linked into place only if none is there)."""
    from archive import keys

    key = tmp_path / "k.pem"
    exists = Path.exists

    def not_yet(path):  # the other process links its key right after this one looked
        return False if path == key else exists(path)

    first = keys.generate_key(key)
    monkeypatch.setattr(Path, "exists", not_yet)
    with pytest.raises(keys.KeyFileError, match="a key already exists here"):
        keys.generate_key(key)
    monkeypatch.undo()
    assert keys.load_key(key).key_id == first.key_id


def test_not_a_key(tmp_path):
    key = tmp_path / "k.pem"
    key.write_text("hello")
    os.chmod(key, 0o600)
    result = run("keys", "show", "--key", key)
    assert result.exit_code == 1
    assert f"Error: {key}: not a PEM private key" in result.output


def test_no_private_key_material_in_the_archive(isolated_env):
    assert run("ingest", SAMPLE).exit_code == 0
    key = isolated_env / "config" / "archive" / "signing-key.pem"
    from cryptography.hazmat.primitives import serialization

    private = serialization.load_pem_private_key(key.read_bytes(), None)
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    records = isolated_env / "records"
    for path in records.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"PRIVATE KEY" not in data, path
            assert raw not in data, path
            assert raw.hex().encode() not in data, path
            assert base64.b64encode(raw) not in data, path


def test_an_unrelated_key_is_warned_about_and_no_passphrase_means_none(tmp_path):
    """Ingesting into an archive with a key it does not know (a wrong --key, or `keys generate
    --force`) says so; after `keys rotate` the new key is the archive's. And an explicit
    --no-passphrase wins over ARCHIVE_KEY_PASSPHRASE (found in review)."""
    from .conftest import DATA

    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    env = {"ARCHIVE_KEY_PASSPHRASE": "set in the shell"}
    assert run("keys", "generate", "--key", key, "--no-passphrase", env=env).exit_code == 0
    assert "BEGIN PRIVATE KEY" in key.read_text()  # not encrypted
    first = run("ingest", "--key", key, "--db", db, SAMPLE)
    assert first.exit_code == 0 and "Warning" not in first.output, first.output
    other = tmp_path / "other.pem"
    assert run("keys", "generate", "--key", other).exit_code == 0
    second = run("ingest", "--key", other, "--db", db, DATA / "warc" / "example.warc.gz")
    assert second.exit_code == 0
    assert "Warning: signing with ed25519:" in second.output
    assert "not this archive's key" in second.output
    # the unrelated key did not become the archive's by signing once
    again = run("ingest", "--key", key, "--db", db, DATA / "warc" / "example-resource.warc.gz")
    assert again.exit_code == 0 and "Warning" not in again.output, again.output
    rotated = run("keys", "rotate", "--key", key, "--db", db, "--no-passphrase",
                  env={"ARCHIVE_NEW_KEY_PASSPHRASE": "set in the shell"})  # fmt: skip
    assert "BEGIN PRIVATE KEY" in key.read_text()  # --no-passphrase: not encrypted
    assert rotated.exit_code == 0, rotated.output
    third = run(
        "ingest", "--key", key, "--db", db, DATA / "provenance" / "lakeport-B-2025-03-08.warc.gz"
    )
    assert third.exit_code == 0 and "Warning" not in third.output, third.output


def test_a_file_planted_where_the_key_is_written_is_not_written_through(tmp_path):
    """The key is written to a temporary file beside it: one planted there (a link to a file
    others can read) is removed, never followed. (O_EXCL | O_NOFOLLOW then refuse one planted
    between that removal and the open: a race this test does not stage.)"""
    from archive.keys import generate_key

    readable = tmp_path / "readable.txt"
    readable.write_text("")
    key = tmp_path / "k.pem"
    (tmp_path / f".k.pem.{os.getpid()}.tmp").symlink_to(readable)
    generate_key(key)
    assert readable.read_text() == ""
    assert "BEGIN PRIVATE KEY" in key.read_text()
    assert oct(key.stat().st_mode & 0o777) == "0o600"


def test_a_missing_key_file_is_not_replaced_by_a_new_key_for_an_existing_archive(tmp_path):
    """The first ingest creates a key; on an archive that has one, a key path that names no
    file (a typo in --key or ARCHIVE_KEY) made a new key and signed with it, with a warning
    only (found in review). Now it is refused, and nothing is created or written."""
    from .conftest import DATA

    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", key, "--db", db, SAMPLE).exit_code == 0
    before = db.read_bytes()
    typo = tmp_path / "k.pme"
    result = run("ingest", "--key", typo, "--db", db, DATA / "warc" / "example.warc.gz")
    assert result.exit_code == 1, result.output
    assert result.output.startswith(
        f"Error: no signing key at {typo}, and this archive is signed by ed25519:"
    )
    assert "archive keys rotate" in result.output and len(result.output.splitlines()) == 1
    assert not typo.exists() and db.read_bytes() == before
    # a new archive still gets a new key
    fresh = run("ingest", "--key", typo, "--db", tmp_path / "new" / "archive.db", SAMPLE)
    assert fresh.exit_code == 0 and "Created a new signing key" in fresh.output and typo.exists()


def test_a_busy_archive_is_not_a_reason_to_make_a_new_key(tmp_path, monkeypatch):
    """Whether the archive already has a key was read with a short wait, and a busy database
    counted as "no archive": a new key was made and signed with (found in review)."""
    import sqlite3

    from archive import cli as cli_module

    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", key, "--db", db, SAMPLE).exit_code == 0
    monkeypatch.setattr(cli_module, "LOCK_WAIT_SECONDS", 0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        typo = tmp_path / "typo.pem"
        result = run("ingest", "--key", typo, "--db", db, SAMPLE)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert result.exit_code == 1 and "held this database's lock" in result.output, result.output
    assert not typo.exists()
