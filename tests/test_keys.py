"""Keys: created safely, refused when unsafe, never written where they could be published."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import cli
from archive.errors import ArchiveError

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
    assert (
        "a key already exists here (an archive's signing key is changed with `archive keys "
        "rotate`" in again.output
    )
    # --force makes a new key file and keeps the old one beside it (it destroyed the key an
    # archive was signed with, from which alone a rotation can start: found in review)
    old = key.read_bytes()
    forced = run("keys", "generate", "--key", key, "--force")
    assert forced.exit_code == 0, forced.output
    kept = list(tmp_path.glob("k.pem.replaced-*"))
    assert len(kept) == 1 and kept[0].read_bytes() == old and key.read_bytes() != old
    assert f"The old key is kept at {kept[0]}" in forced.output
    assert oct(kept[0].stat().st_mode & 0o777) == "0o600"
    again = run("keys", "generate", "--key", key, "--force")  # the same second: another name
    assert again.exit_code == 0, again.output
    assert len(list(tmp_path.glob("k.pem.replaced-*"))) == 2


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


def test_a_wrong_passphrase_that_decrypts_to_garbage_is_still_a_wrong_passphrase(tmp_path):
    """About one wrong passphrase in 256 passes the cipher's padding check and decrypts to
    bytes that are no key: cryptography then says "Could not deserialize", as for a damaged
    file, and ingest said the key file was damaged."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive import keys, pkcs8

    key = tmp_path / "k.pem"
    # few iterations, to find such a passphrase in a moment (a key file's 600,000 would take
    # ~20 s for the ~256 tries)
    keys.write_private(key, pkcs8.encrypt(Ed25519PrivateKey.generate(), b"correct horse", 1000))
    data = key.read_bytes()
    for n in range(20_000):  # ~0.2 ms each; one in ~256 decrypts to garbage
        try:
            serialization.load_pem_private_key(data, password=f"wrong {n}".encode())
        except ValueError as e:
            if "password" not in str(e).lower():
                break
    else:
        pytest.fail("no wrong passphrase that decrypts found")
    bad = run("ingest", "--key", key, SAMPLE, env={"ARCHIVE_KEY_PASSPHRASE": f"wrong {n}"})
    assert bad.exit_code == 1
    assert bad.output == f"Error: {key}: wrong passphrase\n"


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
    # in a few words: cryptography's own message ran to a paragraph and a URL (review)
    assert result.output.splitlines()[0] == (
        f"Error: {key}: not a PEM private key (no complete -----BEGIN/-----END block in it)"
    )
    damaged = tmp_path / "damaged.pem"
    damaged.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    damaged.chmod(0o600)
    said = run("keys", "show", "--key", damaged).output
    assert said == (
        f"Error: {damaged}: not a PEM private key (the key data between its BEGIN and END lines "
        "is damaged)\n"
    )
    # a first ingest that fails on its key creates nothing (it made records/ and a lock file)
    db = tmp_path / "records" / "archive.db"
    result = run("ingest", "--key", key, "--db", db, SAMPLE)
    assert result.exit_code == 1 and not db.parent.exists()


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


def test_an_unrelated_key_is_refused_and_no_passphrase_means_none(tmp_path):
    """Ingesting into an archive with a key it does not know (a wrong --key, `keys generate
    --force`, or one key file shared by two archives and rotated in the other) was a warning,
    with the records already signed by a key a pinned auditor fails: now it is refused, nothing
    written, naming the file that holds the archive's key when a rotation moved it (key review).
    After `keys rotate` the new key is the archive's. And an explicit --no-passphrase wins over
    ARCHIVE_KEY_PASSPHRASE (found in review)."""
    from .conftest import DATA

    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    env = {"ARCHIVE_KEY_PASSPHRASE": "set in the shell"}
    assert run("keys", "generate", "--key", key, "--no-passphrase", env=env).exit_code == 0
    assert "BEGIN PRIVATE KEY" in key.read_text()  # not encrypted
    first = run("ingest", "--key", key, "--db", db, SAMPLE)
    assert first.exit_code == 0 and "Warning" not in first.output, first.output
    other = tmp_path / "other.pem"
    assert run("keys", "generate", "--key", other).exit_code == 0
    before = db.read_bytes()
    second = run("ingest", "--key", other, "--db", db, DATA / "warc" / "example.warc.gz")
    assert second.exit_code == 1, second.output
    assert f"Error: {other} holds key ed25519:" in second.output
    assert "not this archive's key" in second.output and "rotate" in second.output
    assert db.read_bytes() == before
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
    # a second archive that shared the key file: its key was moved aside by that rotation
    shared = tmp_path / "shared" / "archive.db"
    (retired,) = tmp_path.glob("k.pem.retired-*")
    assert run("ingest", "--key", retired, "--db", shared, SAMPLE).exit_code == 0
    refused = run("ingest", "--key", key, "--db", shared, DATA / "warc" / "example.warc.gz")
    assert refused.exit_code == 1 and f"({retired} holds ed25519:" in refused.output, refused.output


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

    import archive.db

    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", key, "--db", db, SAMPLE).exit_code == 0
    monkeypatch.setattr(archive.db, "LOCK_WAIT_SECONDS", 0.2)
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


def _archive_with_rotation(tmp_path):
    """An archive signed by key A, then rotated to B (A's file kept as .retired-...)."""
    key, db = tmp_path / "keys" / "k.pem", tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", key, "--db", db, SAMPLE).exit_code == 0
    first = run("keys", "show", "--key", key).output.split()[0]
    rotated = run("keys", "rotate", "--key", key, "--db", db, "--no-passphrase")
    assert rotated.exit_code == 0, rotated.output
    (retired,) = key.parent.glob("k.pem.retired-*")
    return key, db, first, retired


def test_a_retired_key_signs_nothing_more(tmp_path):
    """After a rotation the old key is retired: an ingest started with it (its kept file, or
    one already running when the rotation committed) signed on, and an auditor pinning the old
    key saw it as fine (found in review). It is refused, in the transaction as well."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from archive import keys
    from archive.ingest import Ingester
    from archive.keys import Signer

    from .conftest import DATA

    key, db, first, retired = _archive_with_rotation(tmp_path)
    result = run("ingest", "--key", retired, "--db", db, DATA / "warc" / "example.warc.gz")
    assert result.exit_code == 1
    assert f"key {first} was retired by a rotation to ed25519:" in result.output
    # an ingester holding the old key when the rotation committed
    old = Signer(load_pem_private_key(retired.read_bytes(), None))
    with pytest.raises(keys.KeyFileError, match="was retired by a rotation"):
        Ingester(db, old).ingest_file(DATA / "warc" / "example.warc.gz")
    assert not [p for p in (db.parent / "captures").iterdir() if p.name.startswith(".")]
    assert len(list((db.parent / "captures").iterdir())) == 1  # no copy left behind
    assert run("verify", "--db", db).exit_code == 0


def test_only_the_archive_s_key_can_be_rotated(tmp_path):
    """Rotating from a key the archive is not signed with added a rotation and a checkpoint no
    pinned auditor could follow, for good (found in review)."""
    key, db, _, _ = _archive_with_rotation(tmp_path)
    other = tmp_path / "other.pem"
    assert run("keys", "generate", "--key", other).exit_code == 0
    before = db.read_bytes()
    result = run("keys", "rotate", "--key", other, "--db", db, "--no-passphrase")
    assert result.exit_code == 1
    assert "is not this archive's signing key" in result.output
    assert db.read_bytes() == before and not list(tmp_path.glob("other.pem.*"))


def test_rotating_through_a_link_keeps_the_new_key_where_the_old_one_was(tmp_path):
    """The key in a private directory, a link to it elsewhere: the new key was written at the
    link's path, outside the private directory (found in review)."""
    private, public = tmp_path / "private", tmp_path / "config"
    private.mkdir(mode=0o700)
    public.mkdir()
    real, link = private / "k.pem", public / "k.pem"
    db = tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", real, "--db", db, SAMPLE).exit_code == 0
    link.symlink_to(real)
    result = run("keys", "rotate", "--key", link, "--db", db, "--no-passphrase")
    assert result.exit_code == 0, result.output
    assert link.is_symlink() and sorted(p.name for p in public.iterdir()) == ["k.pem"]
    assert len(list(private.glob("k.pem.retired-*"))) == 1
    shown = run("keys", "show", "--key", link).output.split()[0]
    assert f"-> {shown};" in result.output  # the link names the new key


def test_a_dangling_key_link_is_named_as_such(tmp_path):
    link = tmp_path / "k.pem"
    link.symlink_to(tmp_path / "gone.pem")
    for args in (["keys", "show", "--key", link], ["keys", "generate", "--key", link]):
        result = run(*args)
        assert result.exit_code == 1
        assert f"{link}: a link to {tmp_path / 'gone.pem'}, which does not exist" in result.output


def test_a_concurrent_rotation_s_staged_key_is_not_taken(tmp_path, monkeypatch):
    """Two rotations at once staged their new keys under one name: the loser's overwrote the
    winner's, which then moved a key the archive never introduced into place (found in review,
    7 times in 20). Each rotation stages under a name of its own."""
    import sqlite3

    import archive.ledger
    from archive.keys import generate_key as real_generate

    key, db = tmp_path / "keys" / "k.pem", tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", key, "--db", db, SAMPLE).exit_code == 0

    def generate_then_another_process_stages(path, *args, **kwargs):
        mine = real_generate(path, *args, **kwargs)
        # another `keys rotate` staging its own key at the same moment
        for name in (f"{key.name}.new", f"{key.name}.new-{os.getpid() + 1}"):
            real_generate(key.with_name(name), force=True)
        return mine

    monkeypatch.setattr(archive.ledger, "generate_key", generate_then_another_process_stages)
    result = run("keys", "rotate", "--key", key, "--db", db, "--no-passphrase")
    assert result.exit_code == 0, result.output
    (introduced,) = sqlite3.connect(db).execute("SELECT new_key_id FROM key_rotations").fetchone()
    assert run("keys", "show", "--key", key).output.split()[0] == introduced


def test_what_a_retired_key_signs_after_its_rotation_fails_verify(tmp_path, monkeypatch):
    """The writer refuses a retired key, but verify trusted it for everything: a leaked retired
    key (with a writer that skips the refusal) signed a new capture and its checkpoint, and
    verify, pinned or not, said OK (found in review). What it signs after the rotation's ledger
    entry now fails, rows and checkpoints; what it signed before stays verified."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    from archive import ledger
    from archive.ingest import Ingester
    from archive.keys import Signer

    from .conftest import DATA

    key, db, first, retired = _archive_with_rotation(tmp_path)
    pub = tmp_path / "first.pub"
    pub.write_text(Signer(load_pem_private_key(retired.read_bytes(), None)).public_key_pem)
    assert run("verify", "--db", db, "--public-key", pub).exit_code == 0
    newest = tmp_path / "newest.pub"
    assert run("keys", "export", "--key", key, "-o", newest).exit_code == 0
    trust = run("verify", "--db", db, "--public-key", newest).output.splitlines()[0]
    assert f"(a rotation from {first} introduced it: it vouches only for" in trust, trust
    monkeypatch.setattr(ledger.SignedWriter, "check_key", lambda self: None)
    old = Signer(load_pem_private_key(retired.read_bytes(), None))
    assert Ingester(db, old).ingest_file(DATA / "warc" / "example.warc.gz").status == "ingested"
    for pinned in (["--public-key", pub], []):
        result = run("verify", "--db", db, "--no-files", *pinned)
        assert result.exit_code == 1, result.output
        failed = [line for line in result.output.splitlines() if line.startswith("FAILED")]
        assert failed and all(f"signed by {first} after a rotation retired it" in line
                              for line in failed), result.output  # fmt: skip
        assert any(line.startswith("FAILED captures ") for line in failed)
        assert any(line.startswith("FAILED checkpoints ") for line in failed)
        assert not any("lakeport" in line for line in failed)  # signed before the rotation


def test_a_rotation_back_to_a_retired_key_is_refused(tmp_path):
    """A -> B -> A made A the archive's key again, though verify (and the writer) refuse what
    a retired key signs: the rotation is refused, nothing written."""
    from archive.db import connect
    from archive.keys import load_key
    from archive.ledger import rotate_key

    key, db, first, retired = _archive_with_rotation(tmp_path)
    before = db.read_bytes()
    conn = connect(db).conn
    with pytest.raises(ArchiveError, match=f"key {first} was retired by an earlier rotation"):
        rotate_key(conn, db, load_key(key), load_key(retired))
    conn.close()
    assert db.read_bytes() == before


def test_ctrl_c_at_a_passphrase_prompt_exits_130_and_writes_no_key(tmp_path):
    """click's prompt turns Ctrl-C into its own Abort: "Aborted!" and status 1, where every
    other interrupt is "Interrupted" and 130 (found in review)."""
    import pty
    import select
    import signal
    import subprocess
    import sys
    import time

    master, slave = pty.openpty()  # a terminal: the prompt is only made on one
    key = tmp_path / "k.pem"
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "keys", "generate", "--passphrase", "--key", str(key)],
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )  # fmt: skip
    os.close(slave)
    seen, deadline = b"", time.monotonic() + 30

    def read():
        nonlocal seen
        while select.select([master], [], [], 0.1)[0]:
            try:
                seen += os.read(master, 1024)
            except OSError:  # the other end closed
                return

    while b"Passphrase" not in seen and time.monotonic() < deadline:
        read()
    os.kill(proc.pid, signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    read()
    os.close(master)
    assert seen.decode().split()[-1] == "Interrupted", seen
    assert not key.exists()


def test_a_key_that_cannot_be_written_leaves_no_file_behind(tmp_path, monkeypatch):
    """On a full disk `keys generate` (and an ingest's first key) left ".<name>.<pid>.tmp"
    beside the key, empty or part-written (an archivist's review)."""
    import errno
    import os

    from archive.errors import KeyFileError
    from archive.keys import generate_key

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(KeyFileError, match="cannot write the key file .No space left on device"):
        generate_key(tmp_path / "keys" / "signing-key.pem")
    assert list((tmp_path / "keys").iterdir()) == []


def test_no_home_is_one_line_and_a_relative_xdg_config_home_is_ignored(monkeypatch, tmp_path):
    """With no HOME and no password entry, `keys show` and `ingest` ended in a traceback
    ("Could not determine home directory"); a relative XDG_CONFIG_HOME put the key under the
    current directory, where an ingest from another one did not find it (an archivist's
    review; the XDG spec says to ignore a relative one)."""
    import pathlib

    from click.testing import CliRunner

    from archive.cli import cli
    from archive.config import config_dir

    monkeypatch.delenv("ARCHIVE_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_CONFIG_HOME", "cfg")
    assert config_dir() == tmp_path / ".config" / "archive"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    assert config_dir() == tmp_path / "cfg" / "archive"
    monkeypatch.delenv("XDG_CONFIG_HOME")

    def nowhere(cls):
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr(pathlib.Path, "home", classmethod(nowhere))
    result = CliRunner().invoke(cli, ["keys", "show"])
    assert result.exit_code == 1 and result.output == (
        "Error: no home directory to keep the signing key in: set HOME, or give the key file "
        "with --key or ARCHIVE_KEY\n"
    ), result.output
