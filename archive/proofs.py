"""Offline proofs: one record, checkable without the database.

A proof is JSON holding the record's statement, its signature, the public key, its leaf index,
an RFC 9162 inclusion proof, the signed checkpoint (a C2SP signed note) whose root the path
leads to, and the archive's key rotations. ``check_proof`` needs only the proof and a public key
the auditor trusts: as ``archive verify`` does, it also trusts the keys that key rotated to (a
record signed before a rotation is soon proven by a checkpoint the new key signed: every one
after the rotation's own).
"""

from __future__ import annotations

import base64
import binascii

from . import checkpoint as cp
from . import merkle, statements, trust
from .errors import ArchiveError
from .keys import key_id_for, load_public_key_pem, verify_signature
from .ledger import PRIMARY_KEYS, ledger_leaves
from .provenance import wrong_kind

PROOF_VERSION = "archive-proof/1"

#: What ``archive prove`` takes, for the line saying it was given something else.
PROVE_TAKES = (
    "a signed record: a capture's SHA-256, or an article, claim, image use or key rotation id"
)


def find_record(conn, record: str) -> tuple[str, str]:
    """(table, id) for a record id, claim id, article id, capture or image-use id. The ids are
    lower-case; one pasted in capitals or with spaces around it is found too."""
    for rid in dict.fromkeys((record, record.strip().lower())):
        for table, pk in PRIMARY_KEYS.items():
            if conn.execute(f"SELECT 1 FROM {table} WHERE {pk} = ?", (rid,)).fetchone():
                return table, rid
    raise ArchiveError(
        wrong_kind(conn, record, "prove", PROVE_TAKES) or f"no signed record with id '{record}'"
    )


def make_proof(conn, record: str) -> dict:
    """The proof of one record (see the module's docstring), from the latest checkpoint. An
    archive too damaged to prove it from raises ArchiveError saying what is wrong."""
    try:
        return _make_proof(conn, record)
    except (ValueError, TypeError, binascii.Error) as e:
        # a ledger leaf or a checkpoint altered into something unreadable
        raise ArchiveError(
            f"cannot prove {record}: the archive's ledger or checkpoints are damaged ({e}); "
            "archive verify names what"
        ) from None


def _make_proof(conn, record: str) -> dict:
    table, rid = find_record(conn, record)
    pk = PRIMARY_KEYS[table]
    statement, signature, key_id = conn.execute(
        f"SELECT statement, signature, key_id FROM {table} WHERE {pk} = ?", (rid,)
    ).fetchone()
    key = conn.execute("SELECT public_key FROM keys WHERE key_id = ?", (key_id,)).fetchone()
    if key is None:
        raise ArchiveError(
            f"{table} {rid} is signed by {key_id}, which the keys table does not hold; "
            "archive verify names what is wrong"
        )
    (public_key,) = key
    row = conn.execute(
        "SELECT seq FROM ledger WHERE record_table = ? AND record_id = ?", (table, rid)
    ).fetchone()
    if row is None:
        raise ArchiveError(f"{table} {rid} has no ledger entry")
    latest = conn.execute("SELECT id, note FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
    if latest is None:
        raise ArchiveError("the archive has no checkpoint yet")
    checkpoint_id, note = latest
    try:
        checkpoint, _ = cp.parse(note)
    except (ValueError, TypeError, AttributeError) as e:
        raise ArchiveError(
            f"cannot prove {record}: the latest checkpoint ({checkpoint_id}) is not a signed "
            f"note ({e}); archive verify names what is wrong"
        ) from None
    if row[0] >= checkpoint.size:
        raise ArchiveError(f"{table} {rid} is not covered by the latest checkpoint")
    # each sibling subtree's leaves streamed from the ledger: memory stays flat in its size
    path = merkle.inclusion_path(
        row[0], checkpoint.size, lambda a, b: merkle.root(ledger_leaves(conn, a, b))
    )
    # each rotation with its place in the same tree: a checker then knows from when the key it
    # retired signs nothing (a record a leaked retired key signed later fails)
    rotations = [
        {
            "statement": statement,
            "signature": signature,
            "leaf_index": seq,
            "inclusion_proof": [
                base64.b64encode(h).decode()
                for h in merkle.inclusion_path(
                    seq, checkpoint.size, lambda a, b: merkle.root(ledger_leaves(conn, a, b))
                )
            ],
        }
        for statement, signature, seq in conn.execute(
            "SELECT r.statement, r.signature, l.seq FROM key_rotations r JOIN ledger l ON "
            "l.record_table = 'key_rotations' AND l.record_id = r.id WHERE l.seq < ? "
            "ORDER BY l.seq",
            (checkpoint.size,),
        )
    ]
    return {
        "proof": PROOF_VERSION,
        "record_table": table,
        "record_id": rid,
        "statement": statement,
        "signature": signature,
        "key_id": key_id,
        "public_key": public_key,
        "leaf_index": row[0],
        "tree_size": checkpoint.size,
        "inclusion_proof": [base64.b64encode(h).decode() for h in path],
        "checkpoint": note,
        "rotations": rotations,
    }


def follow_rotations(
    proof: dict, pinned, problems: list[str] | None = None
) -> tuple[dict, dict[str, int]]:
    """(The trusted keys by id: the pinned key and every key it rotated to, a rotation counting
    when its statement is signed by a key already trusted and the new key proves possession, in
    the proof's order (the ledger's); for each key a rotation retired, the rotation's leaf
    index, where the proof shows the rotation in its checkpoint's tree: proofs made before
    rotations carried their place show none.) The walk is ``archive verify``'s
    (``trust.follow_rotations``). ``problems``, if given, gets a line for each rotation whose
    place does not lead to the checkpoint's root, and for each rotation of a trusted key that
    is not followed (what verify's row check would fail in the database)."""
    checkpoint, _ = cp.parse(proof["checkpoint"])
    rotations, refused = [], []
    for n, rotation in enumerate(proof.get("rotations", [])):
        index, path = rotation.get("leaf_index"), rotation.get("inclusion_proof")
        shown = (
            type(index) is int
            and isinstance(path, list)
            and merkle.verify_inclusion(
                merkle.leaf_hash(rotation["statement"].encode("utf-8")),
                index,
                checkpoint.size,
                [base64.b64decode(h, validate=True) for h in path],
                checkpoint.root,
            )
        )
        # a place that is there and wrong is an altered proof, not an older one (which would
        # skip the retired-key check)
        if not shown and ("leaf_index" in rotation or "inclusion_proof" in rotation):
            refused.append((n, "its leaf_index and inclusion_proof do not lead to the root"))
        if _rotation_keys(rotation) is None:  # nothing the walk below can follow, nor ignore
            refused.append((n, "its statement is not a key rotation"))
        rotations.append(
            (n, rotation["statement"], rotation["signature"], index if shown else None)
        )
    trusted, retired, _ = trust.follow_rotations({key_id_for(pinned): pinned}, rotations, refused)
    if problems is not None:
        problems.extend(
            f"rotations[{n}] ({_rotation_keys(proof['rotations'][n]) or 'not a rotation'}): {why}"
            for n, why in sorted(refused, key=lambda item: item[0])
        )
    return trusted, retired


def _rotation_keys(rotation: dict) -> str | None:
    """A rotation's keys, "A to B", as its statement names them (for a line about it); None
    when the statement is not a key rotation's."""
    try:
        stmt = statements.parse(rotation["statement"])
    except (ValueError, TypeError, RecursionError):
        return None
    if not isinstance(stmt, dict) or stmt.get("type") != "key_rotation":
        return None
    old, new = stmt.get("old_key_id"), stmt.get("new_key_id")
    return f"{old} to {new}" if isinstance(old, str) and isinstance(new, str) else None


def checkpoint_signer(proof: dict, trusted: dict, retired: dict | None = None) -> str | None:
    """The id of a trusted key whose signature the proof's checkpoint carries, if any: first
    one that no rotation had retired at the checkpoint's size (``retired``, as
    ``follow_rotations`` gives it: a checkpoint may carry several signatures)."""
    checkpoint, _ = cp.parse(proof["checkpoint"])
    signers = [
        key_id
        for key_id, key in trusted.items()
        if cp.verify(proof["checkpoint"], checkpoint.origin, key) is not None
    ]
    valid = [k for k in signers if not (k in (retired or {}) and checkpoint.size > retired[k] + 1)]
    return (valid or signers or [None])[0]


def _untrusted_checkpoint(proof: dict, trusted: dict) -> str:
    """Why no trusted key signed the proof's checkpoint: it carries the signature of a key the
    proof names (its record's, or one a rotation introduces) that no rotation which verifies
    leads to from the trusted key; or of another key the proof does not name."""
    checkpoint, signatures = cp.parse(proof["checkpoint"])
    named = {proof["key_id"]: proof["public_key"]}
    for rotation in proof.get("rotations", []):
        try:
            stmt = statements.parse(rotation["statement"])
            named.setdefault(stmt["new_key_id"], stmt["new_public_key"])
        except (ValueError, TypeError, KeyError):  # what verifies, follow_rotations says
            continue
    others = {}
    for key_id, pem in named.items():
        if key_id in trusted:
            continue
        try:
            others[key_id] = load_public_key_pem(pem)
        except Exception:  # noqa: BLE001 - not a key: it signed nothing
            continue
    signer = checkpoint_signer(proof, others)
    if signer is not None:
        return (
            f"the checkpoint is signed by {signer}, which no key rotation in the proof leads "
            "to from the trusted key (a rotation left out, or one whose signatures do not "
            "verify)"
        )
    if proof["checkpoint"].partition("\n\n")[0].count("\n") != 2:
        return "the checkpoint has lines after its root hash, which the archive's never have"
    ours = {cp.key_hash(checkpoint.origin, key) for key in trusted.values()}
    if not any(name == checkpoint.origin and khash in ours for name, khash, _ in signatures):
        return (
            "the checkpoint is signed by a key that is neither the trusted key nor one its "
            "rotations in the proof lead to (a key rotation left out of the proof?)"
        )
    return "the checkpoint's signature does not verify"


#: A proof's fields ("rotations" may be missing: proofs made before it was added).
_FIELDS = {
    "proof",
    "record_table",
    "record_id",
    "statement",
    "signature",
    "key_id",
    "public_key",
    "leaf_index",
    "tree_size",
    "inclusion_proof",
    "checkpoint",
    "rotations",
}


def _shape(proof: dict) -> str | None:
    """What is wrong with the proof's fields' presence and types, named, if anything."""
    for name in sorted(_FIELDS - {"rotations"}):
        if name not in proof:
            return f"no {name!r} field"
        want = (
            int
            if name in ("leaf_index", "tree_size")
            else list
            if name == "inclusion_proof"
            else str
        )
        value = proof[name]
        # (JSON's 47.0 and true are not entry numbers)
        if type(value) is not want:
            return f"{name!r} is not {'an integer' if want is int else 'a ' + want.__name__}"
    if not all(isinstance(h, str) for h in proof["inclusion_proof"]):
        return "'inclusion_proof' holds a value that is not a string"
    rotations = proof.get("rotations", [])
    if not isinstance(rotations, list) or not all(
        isinstance(r, dict)
        and isinstance(r.get("statement"), str)
        and isinstance(r.get("signature"), str)
        and type(r.get("leaf_index", 0)) is int
        and isinstance(r.get("inclusion_proof", []), list)
        and all(isinstance(h, str) for h in r.get("inclusion_proof", []))
        for r in rotations
    ):
        return (
            "'rotations' is not a list of {statement, signature[, leaf_index, inclusion_proof]} "
            "objects"
        )
    return None


def check_proof(proof: dict, trusted_pem: str) -> list[str]:
    """Every problem with ``proof`` when checked against the trusted public key; [] when valid."""
    shape = _shape(proof)
    if shape:
        return [f"malformed proof: {shape}"]
    problems = []
    try:
        key = load_public_key_pem(trusted_pem, "--public-key")
        data = proof["statement"].encode("utf-8")
        if proof.get("proof") != PROOF_VERSION:
            problems.append(f"not an {PROOF_VERSION} proof")
        unknown = set(proof) - _FIELDS
        if unknown:
            problems.append(f"fields a proof does not have: {', '.join(sorted(unknown))}")
        trusted, retired = follow_rotations(proof, key, problems)
        signer = trusted.get(proof["key_id"])
        if signer is None:
            problems.append(
                f"signed by {proof['key_id']}, not by the trusted key {key_id_for(key)}"
                + (" or a key it rotated to" if len(trusted) > 1 else "")
            )
        if (
            key_id_for(load_public_key_pem(proof["public_key"], "the proof's key"))
            != proof["key_id"]
        ):
            problems.append("the proof's public_key is not its key_id")
        # The labels must be the statement's own, or a proof could be relabelled.
        stmt = statements.parse(proof["statement"])
        table = proof["record_table"]
        if statements.TYPES.get(table) != stmt.get("type") or proof["record_id"] != stmt.get(
            PRIMARY_KEYS.get(table, "id")
        ):
            problems.append("record_table/record_id are not those of the statement")
        if signer is not None and not verify_signature(signer, proof["signature"], data):
            problems.append("the statement's signature does not verify")
        checkpoint, _ = cp.parse(proof["checkpoint"])
        checkpoint_key = checkpoint_signer(proof, trusted, retired)
        if checkpoint_key is None:
            problems.append(_untrusted_checkpoint(proof, trusted))
        if proof["key_id"] in retired and proof["leaf_index"] > retired[proof["key_id"]]:
            problems.append(
                f"signed by {proof['key_id']} after the rotation that retired it "
                f"(ledger entry {retired[proof['key_id']]})"
            )
        # the rotation's own checkpoint is the old key's; every later one the new key's
        if checkpoint_key in retired and checkpoint.size > retired[checkpoint_key] + 1:
            problems.append(
                f"the checkpoint is signed by {checkpoint_key} after the rotation that retired "
                f"it (ledger entry {retired[checkpoint_key]})"
            )
        path = [base64.b64decode(h, validate=True) for h in proof["inclusion_proof"]]
        if checkpoint.size != proof["tree_size"]:
            problems.append("tree_size differs from the checkpoint's")
        if not merkle.verify_inclusion(
            merkle.leaf_hash(data), proof["leaf_index"], checkpoint.size, path, checkpoint.root
        ):
            problems.append("the inclusion proof does not lead to the checkpoint's root")
    except RecursionError:  # JSON nested thousands deep in a statement
        problems.append("malformed proof: a statement nested too deeply to read")
    except (KeyError, TypeError, ValueError, AttributeError, ArchiveError) as e:
        problems.append(f"malformed proof: {e}")
    return problems
