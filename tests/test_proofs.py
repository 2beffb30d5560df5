"""Offline proofs and key rotation: what an auditor holding a proof and a public key can check
without the database, and how trust follows a rotation (split from test_ledger.py)."""

from __future__ import annotations

import base64
import json
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive import statements
from archive.ingest import Ingester
from archive.keys import Signer
from archive.ledger import rotate_key

from .conftest import DATA, SAMPLE, SCENARIO, SECOND
from .test_ledger import edit, failures, run
from .test_verify import insert, signed_claim


def test_proof_round_trip_without_the_database(ledger_archive, tmp_path):
    db, pub = ledger_archive
    proof = tmp_path / "claim.json"
    assert run("prove", "37988c58467bc4cf-9", "--db", db, "-o", proof).exit_code == 0
    db.unlink()
    ok = run("verify-proof", proof, "--public-key", pub)
    assert ok.exit_code == 0, ok.output
    assert ok.output.startswith("OK: claims 37988c58467bc4cf-9 is entry ")
    original = proof.read_bytes()
    # any one changed byte of the proof makes it fail
    for i in range(0, len(original), max(1, len(original) // 97)):
        data = bytearray(original)
        data[i] = data[i] ^ 0x01 if chr(data[i]) not in '{}[]":,\n ' else data[i]
        if bytes(data) == original:
            continue
        tampered = tmp_path / "t.json"
        tampered.write_bytes(bytes(data))
        bad = run("verify-proof", tampered, "--public-key", pub)
        assert bad.exit_code != 0, (i, bad.output)


@pytest.mark.parametrize(
    "damage, says",
    [
        ("UPDATE checkpoints SET note = replace(note, char(10) || char(10), char(10))",
         "the latest checkpoint (2) is not a signed note"),
        ("DELETE FROM keys", "which the keys table does not hold"),
        ("UPDATE ledger SET leaf_hash = 'not hex' WHERE seq = 0",
         "the archive's ledger or checkpoints are damaged"),
    ],
)  # fmt: skip
def test_prove_on_a_damaged_archive_says_what_in_one_line(ledger_archive, damage, says):
    """prove ended in a traceback when the latest checkpoint or the signing key's row was
    damaged (found in review)."""
    db, _ = ledger_archive
    edit(db, damage)
    result = run("prove", "37988c58467bc4cf-9", "--db", db)
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    (line,) = result.output.splitlines()
    assert line.startswith("Error: ") and says in line and "archive verify" in line, line


def test_proof_with_another_key_fails(ledger_archive, tmp_path):
    db, _ = ledger_archive
    proof = tmp_path / "p.json"
    run("prove", "37988c58467bc4cf-9", "--db", db, "-o", proof)
    other = tmp_path / "other.pem"
    other.write_text(Signer(Ed25519PrivateKey.generate()).public_key_pem)
    bad = run("verify-proof", proof, "--public-key", other)
    assert bad.exit_code == 1
    assert "not by the trusted key" in bad.output


def _doc_verifier(tmp_path) -> Path:
    """The standalone proof checker of docs/verification.md, as a script."""
    doc = (DATA.parent.parent / "docs" / "verification.md").read_text()
    code = next(c for c in re.findall(r"```python\n(.*?)```", doc, re.S) if "leaf_index" in c)
    assert len(code.strip().splitlines()) <= 78
    script = tmp_path / "verify_proof.py"
    script.write_text(code)
    return script


def test_standalone_verifier_in_the_docs_agrees(ledger_archive, tmp_path, fixed_signer):
    db, pub = ledger_archive
    if SCENARIO.exists():  # the shared scenario too, when it is there
        ingester = Ingester(db, fixed_signer, clock=lambda: "2026-01-01T00:00:01Z")
        assert ingester.ingest_file(SCENARIO).status == "ingested"
    assert run("verify", "--db", db, "--public-key", pub).exit_code == 0
    script = _doc_verifier(tmp_path)
    conn = sqlite3.connect(db)
    ids = [r[0] for r in conn.execute("SELECT record_id FROM ledger ORDER BY seq")]
    conn.close()
    for rid in ids:
        proof = tmp_path / "p.json"
        assert run("prove", rid, "--db", db, "-o", proof).exit_code == 0
        mine = subprocess.run([sys.executable, script, proof, pub], capture_output=True, text=True)
        assert mine.returncode == 0 and mine.stdout.strip() == "OK", (rid, mine.stdout, mine.stderr)
    data = json.loads(proof.read_text())

    def checked(changed: dict) -> int:
        proof.write_text(json.dumps(changed))
        return subprocess.run([sys.executable, script, proof, pub], capture_output=True).returncode

    assert checked({**data, "statement": data["statement"].replace('"', "'", 1)}) == 1
    # RFC 9162's "leaf_index < tree_size", and the tree size the checkpoint signs (key review:
    # the first record's proof passed as entry 64, 128 or -64 of a 47-entry tree)
    first = json.loads(run("prove", ids[0], "--db", db).output)
    size = first["tree_size"]
    for index in (size, 64, 128, -64):
        assert checked({**first, "leaf_index": index}) == 1, index
    assert checked({**first, "tree_size": size + 1}) == 1
    # a checkpoint with a second signature line (a witness's) still verifies
    body, _, lines = first["checkpoint"].partition("\n\n")
    witnessed = f"{body}\n\n\u2014 witness.example AAAAAAAA\n{lines}"
    assert checked({**first, "checkpoint": witnessed}) == 0
    assert run("verify-proof", proof, "--public-key", pub).exit_code == 0


def test_key_rotation(ledger_archive, fixed_signer, tmp_path):
    db, pub = ledger_archive
    conn = sqlite3.connect(db)
    new = Signer(Ed25519PrivateKey.generate())
    rotate_key(conn, db, fixed_signer, new, clock=lambda: "2026-01-02T00:00:00Z")
    third = DATA / "warc" / "example.warc.gz"
    Ingester(db, new, clock=lambda: "2026-01-03T00:00:00Z").ingest_file(third)
    result = run("verify", "--db", db, "--public-key", pub)
    assert result.exit_code == 0, result.output
    assert f"then {new.key_id} (rotation {new.key_id})" in result.output
    assert "key_rotations        1 verified" in result.output
    # unpinned, trust follows the rotation from the archive's first key the same way
    result = run("verify", "--db", db)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == (
        f"Trust: trusting the archive's first key as the database holds it: "
        f"{fixed_signer.key_id}, then {new.key_id} (rotation {new.key_id}) (pin one with "
        "--public-key)"
    )
    # proofs follow the rotation too: the latest checkpoint is the new key's, so a record signed
    # before the rotation was provable by no key (found in review); each checks with the old key
    script = _doc_verifier(tmp_path)
    for record, signer in (("37988c58467bc4cf-9", fixed_signer), ("example", new)):
        if record == "example":
            record = (
                sqlite3.connect(db)
                .execute("SELECT sha256 FROM captures WHERE key_id = ?", (new.key_id,))
                .fetchone()[0]
            )
        proof = tmp_path / "p.json"
        assert run("prove", record, "--db", db, "-o", proof).exit_code == 0
        assert json.loads(proof.read_text())["key_id"] == signer.key_id
        result = run("verify-proof", proof, "--public-key", pub)
        assert result.exit_code == 0, result.output
        # it names the key that signed the checkpoint, and the record's when that is another
        # (it called the record's key the checkpoint's: found in review)
        assert f"in a checkpoint signed by {new.key_id}" in result.output
        assert ("(the record by " in result.output) == (signer is fixed_signer)
        mine = subprocess.run([sys.executable, script, proof, pub], capture_output=True, text=True)
        assert mine.stdout.strip() == "OK", (record, mine.stdout, mine.stderr)
        # without the rotation, or with one the old key did not sign, the old key alone
        # cannot check the new key's checkpoint
        data = json.loads(proof.read_text())
        stripped = tmp_path / "stripped.json"
        for rotations in ([], [{**data["rotations"][0], "signature": new.sign(b"x")}]):
            stripped.write_text(json.dumps({**data, "rotations": rotations}))
            result = run("verify-proof", stripped, "--public-key", pub)
            # the checkpoint's signature is good: what fails is the way to its key (a review)
            says = (
                f"the checkpoint is signed by {new.key_id}, which no key rotation in the proof "
                "leads to from the trusted key"
                if rotations or signer is new  # the proof names the new key
                else "the checkpoint is signed by a key that is neither the trusted key nor one "
                "its rotations in the proof lead to (a key rotation left out of the proof?)"
            )
            assert result.exit_code == 1 and says in result.output, result.output
            # and the rotation that fails is named (it was not: a review)
            assert bool(rotations) == (
                f"rotations[0] ({fixed_signer.key_id} to {new.key_id}): its signature does "
                f"not verify with {fixed_signer.key_id}, the key it retires" in result.output
            ), result.output
            mine = subprocess.run(
                [sys.executable, script, stripped, pub], capture_output=True, text=True
            )
            assert mine.returncode == 1 and "checkpoint signature" in mine.stdout
    # a rotation nobody trusted signed does not extend trust
    edit(db, "UPDATE key_rotations SET new_key_signature = ?", (new.sign(b"something else"),))
    found = failures(db, "--public-key", pub)
    assert any("proof of possession does not verify" in f for f in found)


def test_key_rotation_cli(isolated_env):
    assert run("ingest", SAMPLE).exit_code == 0
    key = isolated_env / "config" / "archive" / "signing-key.pem"
    old_pub = isolated_env / "old.pem"
    run("keys", "export", "-o", old_pub)
    result = run("keys", "rotate")
    assert result.exit_code == 0, result.output
    assert "old key kept at" in result.output
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    assert run("ingest", SECOND).exit_code == 0
    verify = run("verify", "--public-key", old_pub)
    assert verify.exit_code == 0, verify.output


def test_a_proof_streams_the_ledger_and_equals_the_path_over_all_leaves(ledger_archive):
    from archive import merkle
    from archive.proofs import make_proof

    db, _ = ledger_archive
    conn = sqlite3.connect(db)
    leaves = [
        bytes.fromhex(h) for (h,) in conn.execute("SELECT leaf_hash FROM ledger ORDER BY seq")
    ]
    for record_id in ("37988c58467bc4cf-1", "37988c58467bc4cf-9"):
        proof = make_proof(conn, record_id)
        expected = merkle.inclusion_proof(proof["leaf_index"], leaves[: proof["tree_size"]])
        assert [base64.b64decode(h) for h in proof["inclusion_proof"]] == expected


def test_a_proof_with_another_tree_size_fails(ledger_archive, tmp_path):
    db, pub = ledger_archive
    proof = tmp_path / "p.json"
    assert run("prove", "37988c58467bc4cf-9", "--db", db, "-o", proof).exit_code == 0
    data = json.loads(proof.read_text())
    for size in (data["tree_size"] - 1, data["tree_size"] + 1):
        proof.write_text(json.dumps({**data, "tree_size": size}))
        result = run("verify-proof", proof, "--public-key", pub)
        assert result.exit_code == 1 and "tree_size differs from the checkpoint's" in result.output


def test_a_rotation_signed_by_the_new_key_itself_is_named(ledger_archive, fixed_signer):
    """A key cannot introduce itself: the rotation must be signed by the key it retires (the
    statement re-signed by the new key, with its ledger leaf remade to match, is refused)."""
    from archive import merkle

    db, pub = ledger_archive
    conn = sqlite3.connect(db)
    new = Signer(Ed25519PrivateKey.generate())
    rotate_key(conn, db, fixed_signer, new, clock=lambda: "2026-01-02T00:00:00Z")
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM key_rotations").fetchone())
    data = statements.canonical(
        statements.build("key_rotations", row, key_id=new.key_id, signed_at="2026-01-02T00:00:00Z")
    )
    conn.execute(
        "UPDATE key_rotations SET key_id = ?, statement = ?, signature = ?",
        (new.key_id, data.decode(), new.sign(data)),
    )
    conn.execute(
        "UPDATE ledger SET leaf_hash = ? WHERE record_table = 'key_rotations'",
        (merkle.leaf_hash(data).hex(),),
    )
    conn.commit()
    found = failures(db)  # trusting the database's keys: the signature itself verifies
    assert any(
        f.startswith(f"FAILED key_rotations {new.key_id}:")
        and "a rotation must be signed by the key it retires" in f
        for f in found
    ), found


def _rotated(db: Path, old) -> Signer:
    """``old`` rotated out for a new key, then a capture ingested with the new key (whose
    checkpoint the new key signs): the new key."""
    conn = sqlite3.connect(db)
    new = Signer(Ed25519PrivateKey.generate())
    rotate_key(conn, db, old, new, clock=lambda: "2026-01-02T00:00:00Z")
    conn.close()
    Ingester(db, new, clock=lambda: "2026-01-03T00:00:00Z").ingest_file(
        DATA / "warc" / "example.warc.gz"
    )
    return new


def _leaked_key_proof(ledger_archive, old, tmp_path) -> tuple[Path, Path, str]:
    """A proof of a claim that ``old``, rotated out and then leaked, signed after its rotation,
    in a checkpoint it signed too: (the proof, the first key's file, the new key's id)."""
    from archive import checkpoint as cp
    from archive import merkle

    db, pub = ledger_archive
    new = _rotated(db, old)
    conn = sqlite3.connect(db)
    row = signed_claim(conn, old, "2026-01-04T00:00:00Z", id="37988c58467bc4cf-99", position=99)
    insert(conn, "claims", row)
    seq = conn.execute("SELECT count(*) FROM ledger").fetchone()[0]
    conn.execute(
        "INSERT INTO ledger (seq, leaf_hash, record_table, record_id) VALUES (?, ?, 'claims', ?)",
        (seq, merkle.leaf_hash(row["statement"].encode()).hex(), row["id"]),
    )
    leaves = [
        bytes.fromhex(h) for (h,) in conn.execute("SELECT leaf_hash FROM ledger ORDER BY seq")
    ]
    origin = conn.execute("SELECT origin FROM checkpoints ORDER BY id LIMIT 1").fetchone()[0]
    root = merkle.root(leaves)
    conn.execute(
        "INSERT INTO checkpoints (origin, tree_size, root_hash, note, key_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, '2026-01-04T00:00:00Z')",
        (origin, seq + 1, root.hex(), cp.sign(cp.Checkpoint(origin, seq + 1, root), origin, old),
         old.key_id),
    )  # fmt: skip
    conn.commit()
    conn.close()
    proof = tmp_path / "leaked.json"
    assert run("prove", row["id"], "--db", db, "-o", proof).exit_code == 0
    return proof, pub, new.key_id


def test_a_proof_of_what_a_retired_key_signed_after_its_rotation_fails(
    ledger_archive, fixed_signer, tmp_path
):
    """The retired key, leaked, signs a new claim and a checkpoint of it: `archive prove` made a
    proof that `verify-proof` and the docs' verify_proof.py accepted with the first key pinned,
    though the proof held the rotation (an auditor's review). A proof's rotations now carry
    their place in the tree, and nothing their old key signed after it passes."""
    db, _ = ledger_archive
    proof, pub, _ = _leaked_key_proof(ledger_archive, fixed_signer, tmp_path)
    old = fixed_signer
    script = _doc_verifier(tmp_path)
    result = run("verify-proof", proof, "--public-key", pub)
    assert result.exit_code == 1, result.output
    assert f"signed by {old.key_id} after the rotation that retired it (ledger entry " in (
        result.output
    )
    assert f"the checkpoint is signed by {old.key_id} after the rotation" in result.output
    mine = subprocess.run([sys.executable, script, proof, pub], capture_output=True, text=True)
    assert mine.returncode == 1 and "retired" in mine.stdout, mine.stdout + mine.stderr
    # a record the old key signed before its rotation still proves, by the new key's checkpoint
    good = tmp_path / "good.json"
    assert run("prove", "37988c58467bc4cf-9", "--db", db, "-o", good).exit_code == 0
    data = json.loads(good.read_text())
    assert all("leaf_index" in r and "inclusion_proof" in r for r in data["rotations"])


@pytest.mark.parametrize(
    "alter",
    [
        {"leaf_index": +1},
        {"leaf_index": None},  # dropped, its inclusion proof kept
        {"inclusion_proof": []},
    ],
)
def test_a_rotation_whose_place_was_altered_fails_the_proof(
    ledger_archive, fixed_signer, tmp_path, alter
):
    """The leaked key's proof with its rotation's leaf index moved passed as a proof made before
    rotations carried their place, which skips the retired-key check (a review). A place that
    is there and does not lead to the root now fails, named, in both checkers."""
    proof, pub, new_id = _leaked_key_proof(ledger_archive, fixed_signer, tmp_path)
    data = json.loads(proof.read_text())
    rotation = data["rotations"][0]
    for name, change in alter.items():
        if change is None:
            del rotation[name]
        elif name == "leaf_index":
            rotation[name] += change
        else:
            rotation[name] = change
    proof.write_text(json.dumps(data))
    result = run("verify-proof", proof, "--public-key", pub)
    assert result.exit_code == 1, result.output
    assert (
        f"rotations[0] ({fixed_signer.key_id} to {new_id}): its leaf_index and "
        "inclusion_proof do not lead to the root" in result.output
    ), result.output
    mine = subprocess.run(
        [sys.executable, _doc_verifier(tmp_path), proof, pub], capture_output=True, text=True
    )
    assert mine.returncode == 1 and "a rotation's leaf index" in mine.stdout, mine.stdout
    # with neither, it is a proof from before rotations carried their place: checked without
    for name in ("leaf_index", "inclusion_proof"):
        rotation.pop(name, None)
    proof.write_text(json.dumps(data))
    # (and passes, as one with its rotation left out would: the limit docs/verification.md
    # states for a leaked retired key)
    result = run("verify-proof", proof, "--public-key", pub)
    assert result.exit_code == 0 and "rotations[0]" not in result.output, result.output


def test_verify_and_verify_proof_follow_the_same_rotations(ledger_archive, fixed_signer):
    """A rotation signed by the archive's key whose new key did not prove possession (its
    new_key_signature is not over the rotation message): verify-proof did not trust the new key
    and verify did, so what the new key signed verified in one and failed in the other (found
    in review: two walks of the rotations). One walk now, in archive/trust.py."""
    from archive.db import connect
    from archive.keys import load_public_key_pem
    from archive.ledger import SignedWriter
    from archive.proofs import check_proof, follow_rotations, make_proof
    from archive.trust import archive_trust

    db, pub = ledger_archive
    new = Signer(Ed25519PrivateKey.generate())
    archive = connect(db)
    writer = SignedWriter(archive.conn, fixed_signer, db, clock=lambda: "2026-01-02T00:00:00Z")
    writer.begin()
    writer.ensure_key(new)
    writer.insert(
        "key_rotations",
        {
            "id": new.key_id,
            "old_key_id": fixed_signer.key_id,
            "new_key_id": new.key_id,
            "new_public_key": new.public_key_pem,
            "new_key_signature": new.sign(b"not the rotation message"),
        },
    )
    writer.commit()
    pinned = load_public_key_pem(fixed_signer.public_key_pem)
    for pem in (None, fixed_signer.public_key_pem):
        trust = archive_trust(archive.conn, pem)
        assert set(trust.keys) == {fixed_signer.key_id}, trust.line
        assert trust.retired == {fixed_signer.key_id: trust.retired[fixed_signer.key_id]}
    proof = make_proof(archive.conn, new.key_id)
    trusted, retired = follow_rotations(proof, pinned)
    assert set(trusted) == {fixed_signer.key_id} and set(retired) == {fixed_signer.key_id}
    # and verify-proof names the rotation, as verify's row check does below
    assert (
        f"rotations[0] ({fixed_signer.key_id} to {new.key_id}): its new key's proof of "
        "possession does not verify"
    ) in check_proof(proof, fixed_signer.public_key_pem)
    archive.conn.close()
    found = failures(db, "--public-key", pub)
    assert any(
        f.startswith(f"FAILED key_rotations {new.key_id}:") and "possession" in f for f in found
    ), found
    out = run("verify", "--db", db, "--public-key", pub).output
    assert f"then {new.key_id}" not in out.splitlines()[0], out


def test_verify_proof_and_the_docs_script_agree_on_odd_proofs(
    ledger_archive, fixed_signer, tmp_path
):
    """Cases a review found where `verify-proof` and the docs' verify_proof.py disagreed, or
    where either said too little: a checkpoint signed by the retired key as well as the current
    one (verify-proof failed a good proof), a rotation of the trusted key with a bad signature
    (the script passed it), a rotation with no place (a plain OK), a rotation holding a newline
    (a fake "OK:" line), a rotation that is not one (a traceback from the script)."""
    from archive import checkpoint as cp

    db, pub = ledger_archive
    new = _rotated(db, fixed_signer)
    proof = tmp_path / "p.json"
    assert run("prove", "37988c58467bc4cf-9", "--db", db, "-o", proof).exit_code == 0
    good = json.loads(proof.read_text())
    script = _doc_verifier(tmp_path)

    def both(data: dict) -> tuple[str, str]:
        proof.write_text(json.dumps(data))
        ours = run("verify-proof", proof, "--public-key", pub)
        mine = subprocess.run([sys.executable, script, proof, pub], capture_output=True, text=True)
        assert (ours.exit_code == 0) == (mine.returncode == 0), (ours.output, mine.stdout)
        assert "Traceback" not in mine.stderr, mine.stderr
        return ours.output, mine.stdout

    # signed by the retired key too: still the current key's checkpoint
    checkpoint, _ = cp.parse(good["checkpoint"])
    extra = cp.sign(checkpoint, checkpoint.origin, fixed_signer).split("\n\n")[1]
    ours, mine = both({**good, "checkpoint": good["checkpoint"] + extra})
    assert ours.startswith("OK:") and f"signed by {new.key_id}" in ours and mine.strip() == "OK"
    # a second copy of the rotation, its signature not the trusted key's
    bad = {**good["rotations"][0], "signature": new.sign(b"x")}
    ours, mine = both({**good, "rotations": [*good["rotations"], bad]})
    assert "rotations[1] (" in ours and "not signed by it" in mine
    # the rotation without its place: passes, with a note that the retired-key check was not made
    bare = {
        k: v for k, v in good["rotations"][0].items() if k not in ("leaf_index", "inclusion_proof")
    }
    ours, mine = both({**good, "rotations": [bare]})
    assert ours.splitlines()[-1].startswith("Note: 1 key rotation(s) in the proof carry no leaf")
    # a rotation whose key id holds a newline and a line that looks like success
    forged = json.loads(good["rotations"][0]["statement"])
    forged["old_key_id"] += "\nOK: claims x is entry 1 of 2"
    odd = {
        **good["rotations"][0],
        "statement": statements.canonical(forged).decode(),
        "leaf_index": 0,
    }
    ours, mine = both({**good, "rotations": [odd]})
    assert [line for line in ours.splitlines() if line.startswith("OK")] == [], ours
    # ... or another line end str.splitlines() knows (a second review)
    forged["old_key_id"] = forged["old_key_id"].replace("\n", "\u2028")
    odd = {**odd, "statement": statements.canonical(forged).decode()}
    ours, mine = both({**good, "rotations": [odd]})
    assert [line for line in ours.splitlines() if line.startswith("OK")] == [], ours
    # not a rotation at all, with its place or without: both fail it (verify-proof ignored
    # one without a place; the script printed a traceback)
    for junk in ("[]", "not json", '{"type": "key_rotation", "old_key_id": [1]}'):
        extra = {"statement": junk, "signature": good["rotations"][0]["signature"]}
        ours, mine = both({**good, "rotations": [*good["rotations"], extra]})
        assert "rotations[1] (not a rotation): its statement is not a key rotation" in ours
        assert mine.startswith("FAILED"), mine
    # a body with a line after its root hash, signed by the trusted key: not the archive's
    body = good["checkpoint"].partition("\n\n")[0] + "\nextension line\n"
    blob = cp.key_hash(checkpoint.origin, new.public_key) + base64.b64decode(
        new.sign(body.encode())
    )
    note = f"{body}\n\u2014 {checkpoint.origin} {base64.b64encode(blob).decode()}\n"
    ours, mine = both({**good, "checkpoint": note})
    assert "lines after its root hash" in ours and "FAILED" in mine, (ours, mine)
    # a file that is not a proof at all: one line, no traceback
    proof.write_text("not json")
    mine = subprocess.run([sys.executable, script, proof, pub], capture_output=True, text=True)
    assert mine.returncode == 1 and mine.stdout.startswith("FAILED: cannot read it"), mine
