"""The documentation is true: generated pages are current, and the auditor's script works."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys

import pytest

from archive.db import connect
from archive.docs import ROOT, _commands, cli_markdown, schema_markdown

DOCS = ROOT / "docs"


def test_generated_docs_are_current():
    assert (DOCS / "schema.md").read_text() == schema_markdown(), "run: python -m archive.docs"
    assert (DOCS / "cli.md").read_text() == cli_markdown(), "run: python -m archive.docs"


@pytest.mark.parametrize(
    "name", [n for n, _ in _commands(__import__("archive.cli").cli.cli, "archive")]
)
def test_every_command_has_help_with_an_example(name):
    from archive.cli import cli

    cmd = dict(_commands(cli, "archive"))[name]
    assert cmd.help, name
    if not hasattr(cmd, "commands"):
        assert "Example:" in cmd.help, name


def test_every_table_and_column_is_described(tmp_path):
    import json

    meta = json.loads((ROOT / "datasette-metadata.json").read_text())
    tables = meta["databases"]["archive"]["tables"]
    db = connect(tmp_path / "a.db")
    names = [t for t in db.table_names() if "_fts" not in t] + db.view_names()
    for name in names:
        assert name in tables, f"{name} is not described in datasette-metadata.json"
        cols = [c.name for c in (db[name].columns)]
        assert list(tables[name]["columns"]) == cols, name
    assert set(tables) <= set(names)


def test_the_statement_fields_in_the_docs_are_the_signed_ones():
    """docs/provenance.md's table of what each statement holds is what statements.py signs (it
    once left out the captures' wacz_signature and wacz_signer, and key rotations)."""
    from archive import statements

    text = (DOCS / "provenance.md").read_text()
    documented = {
        kind: re.findall(r"`(\w+)`", columns.split(" (")[0])
        for kind, columns in re.findall(r"^\| `(\w+)` \| (`.*) \|$", text, re.M)
        if kind in statements.TYPES.values()
    }
    assert documented == {
        statements.TYPES[table]: fields for table, fields in statements.FIELDS.items()
    }


def _audit_script() -> str:
    text = (DOCS / "provenance.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    assert len(blocks) == 1
    return blocks[0]


def test_auditor_script_from_the_docs(sample_db, fixed_signer, tmp_path):
    script = tmp_path / "audit.py"
    script.write_text(_audit_script())
    assert len(script.read_text().splitlines()) <= 68
    pub = tmp_path / "pub.pem"
    pub.write_text(fixed_signer.public_key_pem)
    ok = subprocess.run([sys.executable, script, sample_db, pub], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip() == "all claims verified"
    conn = sqlite3.connect(sample_db)
    conn.execute(
        "UPDATE claims SET speaker = 'Tomas Varga', cue = 'denied' WHERE id = '37988c58467bc4cf-9'"
    )
    # a signature in another base64 spelling of the same bytes (its last character, A, Q, g
    # or w, carries 4 unused bits: B, R, h or x decodes the same), and a key_id column that is
    # not the statement's (an auditor's review)
    conn.execute(
        "UPDATE claims SET signature = substr(signature, 1, 85) || char(unicode("
        "substr(signature, 86, 1)) + 1) || '==' WHERE id = '37988c58467bc4cf-4'"
    )
    conn.execute("UPDATE claims SET key_id = 'ed25519:0000000000000000' WHERE id = "
                 "'37988c58467bc4cf-5'")  # fmt: skip
    conn.commit()
    conn.close()
    bad = subprocess.run([sys.executable, script, sample_db, pub], capture_output=True, text=True)
    assert bad.returncode == 1
    # every signed column is compared, not only the obvious ones (found in review: cue was not)
    assert "FAILED 37988c58467bc4cf-9 statement.speaker, statement.cue" in bad.stdout
    assert "FAILED 37988c58467bc4cf-5 statement.key_id, signature" in bad.stdout
    assert "FAILED 37988c58467bc4cf-4 signature\n" in bad.stdout


def test_auditor_script_fails_damaged_rows_and_follows_rotations(tmp_path):
    """The script crashed on a deleted article or an empty statement, failed every claim signed
    after a key rotation, and created an empty database at a mistyped path (found in review)."""
    from click.testing import CliRunner

    from archive.cli import cli

    from .conftest import SAMPLE, SECOND

    script = tmp_path / "audit.py"
    script.write_text(_audit_script())
    db, key = tmp_path / "records" / "archive.db", tmp_path / "k.pem"

    def run(*args):
        result = CliRunner().invoke(cli, list(map(str, args)))
        assert result.exit_code == 0, result.output

    def audit(path=db):
        return subprocess.run([sys.executable, script, path, pub], capture_output=True, text=True)

    run("ingest", "--key", key, "--db", db, SAMPLE)
    pub = tmp_path / "first.pub"
    run("keys", "export", "--key", key, "-o", pub)
    run("keys", "rotate", "--key", key, "--db", db, "--no-passphrase")
    run("ingest", "--key", key, "--db", db, SECOND)
    ok = audit()
    assert ok.returncode == 0 and ok.stdout.strip() == "all claims verified", ok.stdout + ok.stderr
    # a key of one's own in the rotation's columns (not signed), a claim re-signed with it: the
    # script trusted the columns and passed it (found in review)
    import shutil

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.keys import Signer

    forged = tmp_path / "forged.db"
    shutil.copy(db, forged)
    evil = Signer(Ed25519PrivateKey.generate())
    conn = sqlite3.connect(forged)
    conn.execute(
        "UPDATE key_rotations SET new_public_key = ?, new_key_id = ?",
        (evil.public_key_pem, evil.key_id),
    )
    conn.commit()
    conn.close()

    def resign_last_claim(path, signer) -> str:
        """The last claim's statement re-signed by ``signer``, as if its own: its id."""
        conn = sqlite3.connect(path)
        claim, statement, real = conn.execute(
            "SELECT id, statement, key_id FROM claims ORDER BY rowid DESC LIMIT 1"
        ).fetchone()
        statement = statement.replace(real, signer.key_id)
        conn.execute(
            "UPDATE claims SET statement = ?, key_id = ?, signature = ? WHERE id = ?",
            (statement, signer.key_id, signer.sign(statement.encode()), claim),
        )
        conn.commit()
        conn.close()
        return claim

    claim = resign_last_claim(forged, evil)
    bad = audit(forged)
    assert bad.returncode == 1 and f"FAILED {claim} signature" in bad.stdout, bad.stdout
    # the retired key, leaked, re-signs a claim written after the rotation: it passed the script
    # (auditor's review); a retired key signs nothing after its rotation's ledger entry
    from archive.keys import load_key

    old = load_key(next(key.parent.glob(f"{key.name}.retired-*")))
    leaked = tmp_path / "leaked.db"
    shutil.copy(db, leaked)
    claim = resign_last_claim(leaked, old)
    bad = audit(leaked)
    assert bad.returncode == 1, bad.stdout
    assert bad.stdout.splitlines() == [
        f"FAILED {claim} signed by a retired key, or no ledger entry",
        "1 failed",
    ], bad.stdout
    # a value of another type (a BLOB where text was): the script stopped at it, naming no row
    blob = tmp_path / "blob.db"
    shutil.copy(db, blob)
    conn = sqlite3.connect(blob)
    conn.execute("UPDATE claims SET text = X'FFFE41' WHERE id = ?", (claim,))
    conn.commit()
    conn.close()
    bad = audit(blob)
    assert bad.returncode == 1 and f"FAILED {claim} text hash, statement.text" in bad.stdout
    assert bad.stdout.splitlines()[-1] == "1 failed", bad.stdout
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    bad = audit(damaged)
    assert bad.returncode == 1 and bad.stdout.startswith("FAILED DatabaseError: "), bad.stdout
    assert "Traceback" not in bad.stderr, bad.stderr
    conn = sqlite3.connect(db)
    first, second = [r[0] for r in conn.execute("SELECT id FROM claims ORDER BY rowid LIMIT 2")]
    third, fourth = [r[0] for r in conn.execute("SELECT id FROM claims ORDER BY rowid LIMIT 2, 2")]
    conn.execute("UPDATE claims SET statement = '' WHERE id = ?", (first,))
    conn.execute("UPDATE claims SET text = CAST(X'ff41' AS TEXT) WHERE id = ?", (second,))
    conn.execute("UPDATE claims SET statement = '[]' WHERE id = ?", (third,))  # second review
    conn.execute("UPDATE claims SET statement = json_set(statement, '$.source', 'x') WHERE id = ?",
                 (fourth,))  # fmt: skip
    conn.execute("INSERT INTO key_rotations (id, old_key_id, new_key_id, new_public_key, "
                 "new_key_signature, statement, signature, key_id) VALUES ('x', 'a', 'b', 'not "
                 "a key', '', '', '', 'a')")  # fmt: skip
    conn.execute("INSERT INTO ledger (seq, leaf_hash, record_table, record_id) VALUES "
                 "((SELECT max(seq) + 1 FROM ledger), '00', 'key_rotations', 'x')")  # fmt: skip
    conn.execute("DELETE FROM articles WHERE id = (SELECT article_id FROM claims ORDER BY rowid "
                 "DESC LIMIT 1)")  # fmt: skip
    conn.commit()
    conn.close()
    bad = audit()
    assert bad.returncode == 1 and "Traceback" not in bad.stderr, bad.stdout + bad.stderr
    failed = [line.split()[1] for line in bad.stdout.splitlines() if line.startswith("FAILED")]
    assert {first, second, third, fourth} <= set(failed) and len(failed) > 4, bad.stdout
    missing = tmp_path / "typo.db"
    assert audit(missing).returncode != 0 and not missing.exists()


def test_readme_opens_with_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    head = readme[:2500]
    assert "make demo" in head and "make test" in head
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_docs_link_targets_exist():
    for page in [ROOT / "README.md", *DOCS.glob("*.md")]:
        for target in re.findall(r"\]\(((?:docs/)?[\w./-]+\.(?:md|png))\)", page.read_text()):
            base = ROOT if page.name == "README.md" else DOCS
            assert (base / target).exists() or (ROOT / target).exists(), (page, target)


def test_ledger_script_from_the_docs(tmp_path):
    """docs/verification.md's stock-tools ledger check: an auditor with the published database
    and a public key sees a deleted row, a deleted ledger entry, an altered statement and a
    checkpoint that does not match, across a key rotation (audit.py checks claims only: a
    deletion passed it, found by a fresh user's walk through the docs)."""
    import base64
    import hashlib
    import json
    import shutil

    from click.testing import CliRunner
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from archive.cli import cli
    from archive.merkle import root as merkle_root

    from .conftest import SAMPLE, SECOND

    text = (DOCS / "verification.md").read_text()
    code = next(c for c in re.findall(r"```python\n(.*?)```", text, re.S) if "check_ledger" in c
                or "matches its checkpoint" in c)  # fmt: skip
    assert len(code.splitlines()) <= 70
    script = tmp_path / "check_ledger.py"
    script.write_text(code)
    db, key, pub = tmp_path / "records" / "archive.db", tmp_path / "k.pem", tmp_path / "k.pub"

    def run(*args):
        result = CliRunner().invoke(cli, list(map(str, args)))
        assert result.exit_code == 0, result.output

    def check(path=db):
        done = subprocess.run([sys.executable, script, path, pub], capture_output=True, text=True)
        assert "Traceback" not in done.stderr, done.stderr
        return done.returncode, done.stdout

    run("ingest", "--key", key, "--db", db, SAMPLE)
    run("keys", "export", "--key", key, "-o", pub)
    run("keys", "rotate", "--key", key, "--db", db, "--no-passphrase")
    run("ingest", "--key", key, "--db", db, SECOND)
    size = sqlite3.connect(db).execute("SELECT count(*) FROM ledger").fetchone()[0]
    assert check() == (0, f"ledger of {size} entries matches its checkpoints\n")

    def altered(*sql: str) -> tuple[int, str]:
        copy = tmp_path / "altered.db"
        shutil.copy(db, copy)
        conn = sqlite3.connect(copy)
        for statement in sql:
            assert conn.execute(statement).rowcount >= 1, statement
        conn.commit()
        conn.close()
        return check(copy)

    claim = (
        sqlite3.connect(db)
        .execute(  # one in the middle of the ledger
            "SELECT record_id FROM ledger WHERE record_table = 'claims' ORDER BY seq"
        )
        .fetchone()[0]
    )
    code, out = altered(f"DELETE FROM claims WHERE id = '{claim}'")
    assert code == 1 and f"is not the statement of claims {claim}" in out, out
    # the tree is of the stored leaves: a deleted row is that one line, not every later root
    # (an auditor's review)
    assert "is not the root" not in out, out
    code, out = altered("UPDATE checkpoints SET root_hash = 'ab' || substr(root_hash, 3)")
    assert code == 1 and "root_hash column is not its signed root" in out, out
    code, out = altered(
        f"DELETE FROM claims WHERE id = '{claim}'",
        f"DELETE FROM ledger WHERE record_id = '{claim}'",
    )
    assert code == 1 and "are missing" in out and "is not the root" in out, out
    code, out = altered(
        f'UPDATE claims SET statement = replace(statement, \'"kind":"\', \'"kind":"x\') '
        f"WHERE id = '{claim}'"
    )
    assert code == 1 and "is not the statement of claims" in out, out
    code, out = altered("UPDATE checkpoints SET note = replace(note, 'archive/', 'x/')")
    assert code == 1 and "not signed by the pinned key" in out, out
    # a note stored as a BLOB: its bytes are read as text (the script stopped at it; `archive
    # verify`, stricter, fails a BLOB where text belongs)
    code, out = altered("UPDATE checkpoints SET note = CAST(note AS BLOB)")
    assert (code, out) == (0, f"ledger of {size} entries matches its checkpoints\n"), out
    # an earlier checkpoint replaced by another signed note: the script read the latest only
    first = sqlite3.connect(db).execute("SELECT min(id), tree_size FROM checkpoints").fetchone()
    code, out = altered(
        "UPDATE checkpoints SET note = (SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1) "
        f"WHERE id = {first[0]}"
    )
    assert code == 1, out
    assert f"checkpoint {first[1]} is not the root of the ledger's first {first[1]} entries" in out
    # a rotation not signed by the key it retires: the new key is not trusted, nor what it signed
    code, out = altered("UPDATE key_rotations SET signature = substr(signature, 2) || 'A'")
    assert code == 1 and "is not signed by the key it retires" in out, out
    # a key of one's own in the rotation's columns (not signed: its statement names the real
    # one), a claim rewritten, its leaf and the root recomputed, the checkpoint signed with it:
    # the script took the key from the columns and passed this (found in review)
    forged = tmp_path / "forged.db"
    shutil.copy(db, forged)
    conn = sqlite3.connect(forged)
    evil = Ed25519PrivateKey.generate()
    pem = evil.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    conn.execute("UPDATE key_rotations SET new_public_key = ?", (pem.decode(),))
    rewritten = conn.execute("SELECT statement FROM claims WHERE id = ?", (claim,)).fetchone()[0]
    rewritten = rewritten.replace('"text":"', '"text":"FORGED ', 1)
    conn.execute("UPDATE claims SET statement = ? WHERE id = ?", (rewritten, claim))
    leaf = hashlib.sha256(b"\x00" + rewritten.encode()).hexdigest()
    conn.execute("UPDATE ledger SET leaf_hash = ? WHERE record_id = ?", (leaf, claim))
    leaves = [
        bytes.fromhex(h) for (h,) in conn.execute("SELECT leaf_hash FROM ledger ORDER BY seq")
    ]
    root = merkle_root(leaves)
    note = conn.execute("SELECT note FROM checkpoints ORDER BY tree_size DESC").fetchone()[0]
    body = f"{note.splitlines()[0]}\n{len(leaves)}\n{base64.b64encode(root).decode()}\n"
    line = base64.b64encode(b"\0\0\0\0" + evil.sign(body.encode())).decode()
    conn.execute(
        "UPDATE checkpoints SET note = ? "
        "WHERE tree_size = (SELECT max(tree_size) FROM checkpoints)",
        (f"{body}\n\u2014 {note.splitlines()[0]} {line}\n",),
    )
    conn.commit()
    conn.close()
    code, out = check(forged)
    assert code == 1 and "not signed by the pinned key or one it rotated to" in out, out
    # a leaked retired key still signs: a row (its key_id) and the latest checkpoint after the
    # rotation passed the script (auditor's review); the rotation's own checkpoint is the old key's
    from archive.keys import load_key

    old = load_key(next(key.parent.glob(f"{key.name}.retired-*")))
    new = load_key(key)
    after = (
        sqlite3.connect(db)
        .execute("SELECT id FROM claims WHERE key_id = ? LIMIT 1", (new.key_id,))
        .fetchone()[0]
    )
    code, out = altered(f"UPDATE claims SET key_id = '{old.key_id}' WHERE id = '{after}'")
    assert code == 1 and f"is signed by {old.key_id}, which a rotation retired" in out, out
    conn = sqlite3.connect(db)
    note = conn.execute("SELECT note FROM checkpoints ORDER BY tree_size DESC").fetchone()[0]
    conn.close()
    body = note.partition("\n\n")[0] + "\n"
    line = base64.b64encode(b"\0\0\0\0" + old.private_key.sign(body.encode())).decode()
    resigned = f"{body}\n\u2014 {note.splitlines()[0]} {line}\n"
    code, out = altered(
        f"UPDATE checkpoints SET note = '{resigned}', key_id = '{old.key_id}' "
        "WHERE tree_size = (SELECT max(tree_size) FROM checkpoints)"
    )
    assert code == 1 and "not signed by the pinned key or one it rotated to" in out, out
    # a rotation the old key signed whose new key never signed its proof of possession
    conn = sqlite3.connect(forged)
    conn.execute("DELETE FROM checkpoints")
    rid, statement = conn.execute("SELECT id, statement FROM key_rotations").fetchone()
    said = json.loads(statement)
    said["new_key_signature"] = base64.b64encode(new.private_key.sign(b"something else")).decode()
    from archive.statements import canonical

    statement = canonical(said)
    conn.execute(
        "UPDATE key_rotations SET statement = ?, signature = ?, new_public_key = ? WHERE id = ?",
        (statement.decode(), old.sign(statement), new.public_key_pem, rid),
    )
    conn.execute(
        "UPDATE ledger SET leaf_hash = ? WHERE record_id = ?",
        (hashlib.sha256(b"\x00" + statement).hexdigest(), rid),
    )
    conn.commit()
    conn.close()
    code, out = check(forged)
    assert code == 1 and f"key rotation {rid} is not signed by the key it retires" in out, out
    # a file too damaged to read: one FAILED line, no traceback (check() asserts none)
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    code, out = check(damaged)
    assert code == 1 and out.startswith("FAILED DatabaseError: "), out
