"""What the ninth round's review of key handling found: key files made readable for a moment,
a rotation that dropped a key's passphrase or could not be finished by hand, tracebacks for
unusual passphrases, paths and proofs, and messages that named the wrong cause."""

from __future__ import annotations

import json
import os

import pytest
from click.testing import CliRunner

from archive.cli import cli

from .conftest import DATA, SAMPLE


def run(*args, env=None):
    return CliRunner().invoke(cli, list(map(str, args)), env=env)


def test_the_key_kept_by_force_is_private_from_its_creation(tmp_path, monkeypatch):
    """`keys generate --force` kept the old key with shutil.copy2: created with the umask's mode
    (0644), the key written, then chmod 0600, so another user could read it meanwhile. It is
    created 0600, O_EXCL | O_NOFOLLOW, like every key file."""
    key = tmp_path / "k.pem"
    assert run("keys", "generate", "--key", key).exit_code == 0
    old = key.read_bytes()
    opened = []
    real_open = os.open

    def watching(path, flags, mode=0o777, **kw):
        opened.append((str(path), flags, mode))
        return real_open(path, flags, mode, **kw)

    monkeypatch.setattr(os, "open", watching)
    result = run("keys", "generate", "--key", key, "--force")
    assert result.exit_code == 0, result.output
    (kept,) = tmp_path.glob("k.pem.replaced-*")
    assert kept.read_bytes() == old and oct(kept.stat().st_mode & 0o777) == "0o600"
    (flags, mode) = next((f, m) for p, f, m in opened if p == str(kept))
    assert mode == 0o600 and flags & os.O_EXCL and flags & os.O_NOFOLLOW


def test_a_rotated_protected_key_stays_protected(tmp_path):
    """Rotating a passphrase-protected key wrote the new key unencrypted unless
    ARCHIVE_NEW_KEY_PASSPHRASE was set, with a note after the fact. The new key now takes the
    old one's passphrase by default; --no-passphrase still leaves it plain."""
    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    env = {"ARCHIVE_KEY_PASSPHRASE": "s3cret"}
    assert run("keys", "generate", "--key", key, "--passphrase", env=env).exit_code == 0
    assert run("ingest", "--key", key, "--db", db, SAMPLE, env=env).exit_code == 0
    rotated = run("keys", "rotate", "--key", key, "--db", db, env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "ENCRYPTED PRIVATE KEY" in key.read_text()
    assert "protected with the old key's passphrase" in rotated.output
    again = run("ingest", "--key", key, "--db", db, DATA / "warc" / "example.warc.gz", env=env)
    assert again.exit_code == 0, again.output
    plain = run("keys", "rotate", "--key", key, "--db", db, "--no-passphrase", env=env)
    assert plain.exit_code == 0 and "BEGIN PRIVATE KEY" in key.read_text(), plain.output


@pytest.mark.parametrize(
    "killed_at, said",
    [
        # killed after its commit, before its renames: the new key at <name>.new-<pid>, the
        # old one at the key path; the next ingest said the key file "took the old one's path
        # when it was rotated", which was false, and named no file
        ("old key aside", "it is at {staged}; move {key} aside, then that file to {key}"),
        # one rename later (the old key aside, the new one not yet in place): "no signing key
        # at ... give its key file with --key" (an archivist's review)
        ("new key in place", "a key rotation left {staged} and stopped before putting it in "
         "place; if it holds"),
    ],
)  # fmt: skip
def test_a_rotation_stopped_before_or_between_its_renames_is_named(
    tmp_path, monkeypatch, killed_at, said
):
    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", key, "--db", db, SAMPLE).exit_code == 0
    real_replace = os.replace

    def killed(src, dst):
        moving = str(src) == str(key) if killed_at == "old key aside" else str(dst) == str(key)
        if moving:
            raise SystemExit(137)  # as if killed here: nothing after runs
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    run("keys", "rotate", "--key", key, "--db", db)
    monkeypatch.setattr(os, "replace", real_replace)
    (staged,) = tmp_path.glob("k.pem.new-*")
    result = run("ingest", "--key", key, "--db", db, DATA / "warc" / "example.warc.gz")
    assert result.exit_code == 1
    assert said.format(staged=staged, key=key) in result.output, result.output


def test_unusual_passphrases_and_paths_are_one_line(tmp_path):
    """A passphrase over 1,023 bytes or not UTF-8, and a key path under a file or in a
    directory that cannot be written, gave tracebacks; now one line, nothing left behind."""
    afile = tmp_path / "afile"
    afile.write_text("")
    cases = [
        ({"ARCHIVE_KEY_PASSPHRASE": "x" * 1100}, tmp_path / "long.pem", "longer than 1,023 bytes"),
        ({"ARCHIVE_KEY_PASSPHRASE": "caf\udce9"}, tmp_path / "bytes.pem", "not UTF-8 text"),
        ({}, afile / "k.pem", "cannot write the key file"),
    ]
    for env, path, said in cases:
        for args in (["keys", "generate"], ["ingest", SAMPLE, "--db", tmp_path / "r" / "a.db"]):
            result = run(*args, "--key", path, env=env)
            assert result.exit_code == 1, (args, result.output)
            assert result.output.startswith("Error: ") and said in result.output, result.output
            assert len(result.output.splitlines()) == 1, result.output
            assert not path.exists()
    assert not (tmp_path / "r" / "a.db").exists()


def test_key_files_of_the_wrong_kind_say_what_they_are(tmp_path):
    """A public key or an OpenSSH key given as the signing key got cryptography's "no BEGIN/END
    delimiters for a private key"; a non-UTF-8 passphrase for a protected key was "wrong
    passphrase"; damaged encrypted key files were "wrong passphrase" whatever the damage."""
    key = tmp_path / "k.pem"
    env = {"ARCHIVE_KEY_PASSPHRASE": "s3cret"}
    assert run("keys", "generate", "--key", key, "--passphrase", env=env).exit_code == 0
    public = tmp_path / "pub.pem"
    assert run("keys", "export", "--key", key, "-o", public, env=env).exit_code == 0
    public.chmod(0o600)
    ssh = tmp_path / "id_ed25519"
    ssh.write_text("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
                   "-----END OPENSSH PRIVATE KEY-----\n")  # fmt: skip
    ssh.chmod(0o600)
    lines = key.read_text().splitlines()
    cut = tmp_path / "cut.pem"
    cut.write_text("\n".join([lines[0], lines[1][:20], lines[-1]]) + "\n")
    cut.chmod(0o600)
    for path, env_, said in [
        (public, {}, f"{public}: a public key; signing needs the private key file"),
        (ssh, {}, f"{ssh}: an OpenSSH key file"),
        (key, {"ARCHIVE_KEY_PASSPHRASE": "caf\udce9"}, "the passphrase given is not UTF-8 text"),
        (key, {"ARCHIVE_KEY_PASSPHRASE": "wrong"}, f"{key}: wrong passphrase"),
        (cut, env, f"{cut}: a damaged or unreadable key file"),
    ]:
        result = run("keys", "show", "--key", path, env=env_)
        assert result.exit_code == 1 and said in result.output, (path, result.output)


def test_malformed_proofs_are_named_not_crashed_on(ledger_archive, tmp_path):
    """JSON nested 100,000 deep gave a RecursionError traceback; a missing field read
    "malformed proof: 'statement'", a null one "Cannot convert ... to a buffer", and a tree size
    of 47.0 passed and printed "of 47.0"."""
    db, pub = ledger_archive
    proof = tmp_path / "p.json"
    assert run("prove", "37988c58467bc4cf-9", "--db", db, "-o", proof).exit_code == 0
    good = json.loads(proof.read_text())
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 100_000 + "]" * 100_000)
    result = run("verify-proof", deep, "--public-key", pub)
    assert (
        result.exit_code == 1 and result.output.startswith("Error: ") and "deep" in (result.output)
    ), result.output
    nested = '{"a":' * 100_000 + "1" + "}" * 100_000
    rotation = {"statement": nested, "signature": "x"}
    for changed, said in [
        ({k: v for k, v in good.items() if k != "statement"}, "no 'statement' field"),
        ({**good, "signature": None}, "'signature' is not a str"),
        ({**good, "tree_size": float(good["tree_size"])}, "'tree_size' is not an integer"),
        ({**good, "leaf_index": True}, "'leaf_index' is not an integer"),
        ({**good, "inclusion_proof": [1]}, "'inclusion_proof' holds a value"),
        ({**good, "rotations": [rotation]}, "a statement nested too deeply"),
    ]:
        proof.write_text(json.dumps(changed))
        result = run("verify-proof", proof, "--public-key", pub)
        assert result.exit_code == 1, (said, result.output)
        assert f"FAILED malformed proof: {said}" in result.output, (said, result.output)
    proof.write_text(json.dumps(good))
    assert run("verify-proof", proof, "--public-key", pub).exit_code == 0


def test_two_archives_signed_with_one_key_have_their_own_origins(tmp_path):
    """Both archives' checkpoints began "archive/<key digits>": a proof or a kept checkpoint
    did not say which archive it was of. The origin now ends with the archive's first ledger
    entry's digits (archives begun before keep theirs)."""
    import sqlite3

    key = tmp_path / "k.pem"
    origins = []
    for name, capture in (("x", SAMPLE), ("y", DATA / "warc" / "example.warc.gz")):
        db = tmp_path / name / "archive.db"
        assert run("ingest", "--key", key, "--db", db, capture).exit_code == 0
        (origin,) = sqlite3.connect(db).execute("SELECT origin FROM checkpoints").fetchone()
        origins.append(origin)
    key_digits = run("keys", "show", "--key", key).output.split()[0].split(":")[1]
    assert all(o.startswith(f"archive/{key_digits}/") for o in origins), origins
    assert origins[0] != origins[1]
    kept = tmp_path / "y-checkpoint"
    kept.write_text((tmp_path / "y" / "checkpoint").read_text())
    result = run("verify", "--db", tmp_path / "x" / "archive.db", "--checkpoint", kept)
    assert result.exit_code == 1 and "a checkpoint of another log" in result.output, result.output


def test_an_unknown_key_is_refused_in_the_transaction_and_before_any_change(
    tmp_path, fixed_signer, monkeypatch
):
    """The refusal ran once, after the archive was opened (an older archive was migrated, 91 s
    at 690,000 claims, before it), and not in each file's transaction: two first ingests with
    two keys at once both went in (session review). Now: read-only before anything, and again
    by the writer in the transaction."""
    import sqlite3

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.errors import KeyFileError
    from archive.ingest import Ingester
    from archive.keys import Signer

    db = tmp_path / "records" / "archive.db"
    assert Ingester(db, fixed_signer).ingest_file(SAMPLE).status == "ingested"
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM migrations WHERE name = '0008_minhash_without_common_shingles'")
    conn.commit()
    before = db.read_bytes()
    other = tmp_path / "other.pem"
    assert run("keys", "generate", "--key", other).exit_code == 0
    result = run("ingest", "--key", other, "--db", db, DATA / "warc" / "example.warc.gz")
    assert result.exit_code == 1 and "not this archive's key" in result.output, result.output
    assert db.read_bytes() == before  # not even migrated
    # the writer's own check: another process made the archive's key while this one started
    stranger = Ingester(db, Signer(Ed25519PrivateKey.generate()))
    try:
        stranger.ingest_file(DATA / "warc" / "example.warc.gz")
    except KeyFileError as e:
        assert "is not this archive's key" in str(e)
    else:
        raise AssertionError("signed with a key the archive does not know")
    assert sqlite3.connect(db).execute("SELECT count(*) FROM captures").fetchone() == (1,)


def test_the_hints_look_beside_the_real_key_file(tmp_path, monkeypatch):
    """`keys rotate` follows a key path that is a link; the ingest's hints (a stopped rotation's
    new key, a key moved aside) looked beside the link and said something false."""
    real, link = tmp_path / "real" / "k.pem", tmp_path / "conf" / "k.pem"
    db = tmp_path / "records" / "archive.db"
    assert run("keys", "generate", "--key", real).exit_code == 0
    link.parent.mkdir()
    link.symlink_to(real)
    assert run("ingest", "--key", link, "--db", db, SAMPLE).exit_code == 0
    real_replace = os.replace

    def killed(src, dst):
        if str(src) == str(real):
            raise SystemExit(137)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", killed)
    run("keys", "rotate", "--key", link, "--db", db)
    monkeypatch.setattr(os, "replace", real_replace)
    (staged,) = real.parent.glob("k.pem.new-*")
    result = run("ingest", "--key", link, "--db", db, DATA / "warc" / "example.warc.gz")
    assert result.exit_code == 1 and f"it is at {staged}" in result.output, result.output


def test_an_interrupted_rotation_leaves_no_stray_key_unless_it_committed(tmp_path, monkeypatch):
    """Ctrl-C in `keys rotate` before its commit left <name>.new-<pid>, a private key no ledger
    entry names (session review); one just after its commit must keep it: it is the key."""
    import archive.ledger

    key, db = tmp_path / "k.pem", tmp_path / "records" / "archive.db"
    assert run("ingest", "--key", key, "--db", db, SAMPLE).exit_code == 0
    real_rotate = archive.ledger.rotate_key

    def before_commit(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(archive.ledger, "rotate_key", before_commit)
    run("keys", "rotate", "--key", key, "--db", db)
    assert not list(tmp_path.glob("k.pem.new-*"))

    def after_commit(*args, **kwargs):
        real_rotate(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(archive.ledger, "rotate_key", after_commit)
    run("keys", "rotate", "--key", key, "--db", db)
    (staged,) = tmp_path.glob("k.pem.new-*")
    result = run("ingest", "--key", key, "--db", db, DATA / "warc" / "example.warc.gz")
    assert f"it is at {staged}" in result.output, result.output
