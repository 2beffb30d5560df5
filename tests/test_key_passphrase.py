"""Passphrase-protected key files: what ``pkcs8`` writes, and ``archive keys passphrase``."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive import keys, pkcs8
from archive.cli import cli

from .conftest import SAMPLE, SECOND

_DER = (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8)


def run(*args, env=None):
    return CliRunner().invoke(cli, list(map(str, args)), env=env)


def _plain(private_key) -> bytes:
    return private_key.private_bytes(*_DER, serialization.NoEncryption())


# 127/128 and 255/256: an INTEGER's sign byte
@pytest.mark.parametrize("count", [1, 127, 128, 255, 256, 65_536])
def test_an_encrypted_file_opens_with_its_passphrase_only(count):
    private_key = Ed25519PrivateKey.generate()
    pem = pkcs8.encrypt(private_key, b"correct horse", count)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert all(len(line) <= 64 for line in pem.splitlines())
    assert pkcs8.iterations(pem) == count
    loaded = serialization.load_pem_private_key(pem, password=b"correct horse")
    assert _plain(loaded) == _plain(private_key)
    # refused; usually as a wrong password, but about once in 256 keys "wrong" passes the
    # cipher's padding check and what it decrypts to is refused as key data instead (this
    # failed so in CI; keys.load_key tells the two apart for its message: test_keys.py)
    with pytest.raises(ValueError):
        serialization.load_pem_private_key(pem, password=b"wrong")


def test_a_large_iteration_count_is_written_whole(monkeypatch):
    """2**31: four bytes and a sign byte (its PBKDF2 rounds are not spent here: hours)."""
    derive = pkcs8.PBKDF2HMAC
    monkeypatch.setattr(pkcs8, "PBKDF2HMAC", lambda alg, n, salt, _: derive(alg, n, salt, 1))
    assert pkcs8.iterations(pkcs8.encrypt(Ed25519PrivateKey.generate(), b"x", 2**31)) == 2**31


@pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl command")
def test_a_stock_tool_opens_the_file(tmp_path):
    """An auditor's or archivist's own tools read the key file (the DER is hand-built)."""
    private_key = Ed25519PrivateKey.generate()
    path = tmp_path / "k.pem"
    path.write_bytes(pkcs8.encrypt(private_key, b"correct horse", 5000))
    der = subprocess.run(
        ["openssl", "pkey", "-in", path, "-passin", "pass:correct horse", "-outform", "DER"],
        capture_output=True,
        check=True,
    ).stdout
    assert der == _plain(private_key)
    parsed = subprocess.run(
        ["openssl", "asn1parse", "-in", path], capture_output=True, text=True, check=True
    ).stdout
    for name in ("PBES2", "PBKDF2", "hmacWithSHA256", "aes-256-cbc", "INTEGER           :1388"):
        assert name in parsed
    wrong = subprocess.run(
        ["openssl", "pkey", "-in", path, "-passin", "pass:wrong"], capture_output=True
    )
    assert wrong.returncode != 0


def test_iterations_of_other_files():
    private_key = Ed25519PrivateKey.generate()
    old = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pw"),
    )
    assert pkcs8.iterations(old) == 2048  # what cryptography writes: a weak file
    plain = private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    assert pkcs8.iterations(plain) is None
    ours = pkcs8.encrypt(private_key, b"pw", 1000)
    assert pkcs8.iterations(ours[:150]) is None  # cut short
    assert pkcs8.iterations(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n") is None


def test_a_new_key_file_gets_600_000_iterations(tmp_path):
    key = tmp_path / "k.pem"
    signer = keys.generate_key(key, "correct horse")
    assert pkcs8.iterations(key.read_bytes()) == pkcs8.ITERATIONS == 600_000
    assert keys.load_key(key, "correct horse").key_id == signer.key_id
    assert keys.weak_protection(key) is None


def test_set_change_and_remove_a_passphrase(tmp_path):
    key = tmp_path / "k.pem"
    key_id = run("keys", "generate", "--key", key, "--no-passphrase").output.split()[0]
    new = {"ARCHIVE_NEW_KEY_PASSPHRASE": "first"}
    done = run("keys", "passphrase", "--key", key, env=new)
    assert done.exit_code == 0, done.output
    assert done.output == f"{key_id} {key}: passphrase set\n"
    assert pkcs8.iterations(key.read_bytes()) == 600_000
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert list(tmp_path.iterdir()) == [key]  # no temporary file left

    before = key.read_bytes()
    # said before a new passphrase is asked for (here: before "no terminal to type it in")
    wrong = run("keys", "passphrase", "--key", key, env={"ARCHIVE_KEY_PASSPHRASE": "nope"})
    assert wrong.exit_code == 1 and wrong.output == f"Error: {key}: wrong passphrase\n"
    assert key.read_bytes() == before
    no_terminal = run("keys", "passphrase", "--key", key, env={"ARCHIVE_KEY_PASSPHRASE": "first"})
    assert no_terminal.exit_code == 1
    assert "no terminal to type it in; set ARCHIVE_NEW_KEY_PASSPHRASE" in no_terminal.output
    assert key.read_bytes() == before

    changed = run(
        "keys",
        "passphrase",
        "--key",
        key,
        env={"ARCHIVE_KEY_PASSPHRASE": "first", "ARCHIVE_NEW_KEY_PASSPHRASE": "second"},
    )
    assert changed.output == f"{key_id} {key}: passphrase changed\n"
    old_one = run("keys", "show", "--key", key, env={"ARCHIVE_KEY_PASSPHRASE": "first"})
    assert old_one.output == f"Error: {key}: wrong passphrase\n"
    shown = run("keys", "show", "--key", key, env={"ARCHIVE_KEY_PASSPHRASE": "second"})
    assert shown.output.splitlines()[0] == key_id

    removed = run(
        "keys", "passphrase", "--key", key, "--remove", env={"ARCHIVE_KEY_PASSPHRASE": "second"}
    )
    assert removed.output == f"{key_id} {key}: passphrase removed\n"
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    plain = key.read_bytes()
    again = run("keys", "passphrase", "--key", key, "--remove")
    assert again.exit_code == 0
    assert again.output == f"{key_id} {key}: no passphrase to remove; unchanged\n"
    assert key.read_bytes() == plain


def test_an_old_key_file_is_warned_about_and_strengthened(tmp_path):
    """A key file made before ``pkcs8`` (cryptography's 2,048 iterations) still loads; ``keys
    show`` says it is weak, and ``keys passphrase`` writes it again with 600,000."""
    key = tmp_path / "k.pem"
    private_key = Ed25519PrivateKey.generate()
    old = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"correct horse"),
    )
    keys.write_private(key, old)
    env = {"ARCHIVE_KEY_PASSPHRASE": "correct horse"}
    shown = run("keys", "show", "--key", key, env=env)
    assert shown.exit_code == 0
    assert (
        f"Warning: {key}: its passphrase is protected by 2,048 PBKDF2 iterations only, cheap to "
        "guess if the file is stolen; `archive keys passphrase` writes it with 600,000\n"
    ) in shown.output
    same = {**env, "ARCHIVE_NEW_KEY_PASSPHRASE": "correct horse"}
    assert run("keys", "passphrase", "--key", key, env=same).exit_code == 0
    assert pkcs8.iterations(key.read_bytes()) == 600_000
    loaded = keys.load_key(key, "correct horse")
    assert _plain(loaded.private_key) == _plain(private_key)
    assert "Warning" not in run("keys", "show", "--key", key, env=env).output


def test_through_a_link_the_file_it_names_is_written(tmp_path):
    real = tmp_path / "keys" / "k.pem"
    keys.generate_key(real)
    link = tmp_path / "link.pem"
    link.symlink_to(real)
    done = run("keys", "passphrase", "--key", link, env={"ARCHIVE_NEW_KEY_PASSPHRASE": "pw"})
    assert done.exit_code == 0, done.output
    assert link.is_symlink() and pkcs8.iterations(real.read_bytes()) == 600_000


def test_the_archive_signs_on_with_the_key_under_its_new_passphrase(tmp_path):
    key, db = tmp_path / "k.pem", tmp_path / "archive.db"
    env = {"ARCHIVE_KEY_PASSPHRASE": "first"}
    assert run("keys", "generate", "--key", key, "--passphrase", env=env).exit_code == 0
    assert run("ingest", "--key", key, "--db", db, SAMPLE, env=env).exit_code == 0
    env = {"ARCHIVE_KEY_PASSPHRASE": "first", "ARCHIVE_NEW_KEY_PASSPHRASE": "second"}
    assert run("keys", "passphrase", "--key", key, env=env).exit_code == 0
    again = run(
        "ingest", "--key", key, "--db", db, SECOND, env={"ARCHIVE_KEY_PASSPHRASE": "second"}
    )
    assert again.exit_code == 0, again.output
    assert "1 ingested" in again.output
    verified = run("verify", "--db", db)
    assert verified.exit_code == 0, verified.output


def test_der_lengths_and_object_identifiers():
    """The DER pieces against their spelling in the standards (X.690 lengths; RFC 8018's
    PBES2 identifier): the key files only use one-byte long lengths."""
    assert pkcs8._tlv(0x04, b"x" * 127)[:2] == b"\x04\x7f"
    assert pkcs8._tlv(0x04, b"x" * 128)[:3] == b"\x04\x81\x80"
    assert pkcs8._tlv(0x04, b"x" * 300)[:4] == b"\x04\x82\x01\x2c"
    assert pkcs8._oid("1.2.840.113549.1.5.13") == bytes.fromhex("06092a864886f70d01050d")
    assert pkcs8._oid("2.16.840.1.101.3.4.1.42") == bytes.fromhex("060960864801650304012a")
    long = pkcs8._seq(pkcs8._tlv(0x04, b"x" * 300), pkcs8._integer(7))
    assert [pkcs8._value(c) for c in pkcs8._children(long)] == [b"x" * 300, b"\x07"]


def test_a_key_file_that_would_not_read_back_as_the_key_is_not_put_in_place(tmp_path, monkeypatch):
    """The new file is read back before it takes the key's name: if it held anything but the
    same key (here another key, as a faulty encoder might write), the key file stays as it was
    and no temporary file is left."""
    key = tmp_path / "k.pem"
    keys.generate_key(key, "first")
    before = key.read_bytes()
    other = Ed25519PrivateKey.generate()
    monkeypatch.setattr(keys, "private_pem", lambda _, secret: pkcs8.encrypt(other, b"x", 1000))
    with pytest.raises(keys.KeyFileError, match="did not read back; unchanged"):
        keys.change_passphrase(key, "first", "x")
    assert key.read_bytes() == before and list(tmp_path.iterdir()) == [key]
