"""Offline proofs: one record, checkable without the database.

A proof is JSON holding the record's statement, its signature, the public key, its leaf index,
an RFC 9162 inclusion proof, and the signed checkpoint (a C2SP signed note) whose root the path
leads to. ``check_proof`` needs only the proof and a public key the auditor trusts.
"""

from __future__ import annotations

import base64

from . import checkpoint as cp
from . import merkle, statements
from .errors import ArchiveError
from .keys import key_id_for, load_public_key_pem, verify_signature
from .ledger import PRIMARY_KEYS, ledger_leaves

PROOF_VERSION = "archive-proof/1"


def find_record(conn, record: str) -> tuple[str, str]:
    """(table, id) for a record id, claim id, article id, capture or image-use id."""
    for table, pk in PRIMARY_KEYS.items():
        if conn.execute(f"SELECT 1 FROM {table} WHERE {pk} = ?", (record,)).fetchone():
            return table, record
    raise ArchiveError(f"no signed record with id {record!r}")


def make_proof(conn, record: str) -> dict:
    table, rid = find_record(conn, record)
    pk = PRIMARY_KEYS[table]
    statement, signature, key_id = conn.execute(
        f"SELECT statement, signature, key_id FROM {table} WHERE {pk} = ?", (rid,)
    ).fetchone()
    (public_key,) = conn.execute(
        "SELECT public_key FROM keys WHERE key_id = ?", (key_id,)
    ).fetchone()
    row = conn.execute(
        "SELECT seq FROM ledger WHERE record_table = ? AND record_id = ?", (table, rid)
    ).fetchone()
    if row is None:
        raise ArchiveError(f"{table} {rid} has no ledger entry")
    note = conn.execute("SELECT note FROM checkpoints ORDER BY id DESC LIMIT 1").fetchone()
    if note is None:
        raise ArchiveError("the archive has no checkpoint yet")
    checkpoint, _ = cp.parse(note[0])
    if row[0] >= checkpoint.size:
        raise ArchiveError(f"{table} {rid} is not covered by the latest checkpoint")
    # each sibling subtree's leaves streamed from the ledger: memory stays flat in its size
    path = merkle.inclusion_path(
        row[0], checkpoint.size, lambda a, b: merkle.root(ledger_leaves(conn, a, b))
    )
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
        "checkpoint": note[0],
    }


def check_proof(proof: dict, trusted_pem: str) -> list[str]:
    """Every problem with ``proof`` when checked against the trusted public key; [] when valid."""
    problems = []
    try:
        key = load_public_key_pem(trusted_pem, "--public-key")
        data = proof["statement"].encode("utf-8")
        if proof.get("proof") != PROOF_VERSION:
            problems.append(f"not an {PROOF_VERSION} proof")
        if key_id_for(key) != proof["key_id"]:
            problems.append(
                f"signed by {proof['key_id']}, not by the trusted key {key_id_for(key)}"
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
        if not verify_signature(key, proof["signature"], data):
            problems.append("the statement's signature does not verify")
        checkpoint, _ = cp.parse(proof["checkpoint"])
        if cp.verify(proof["checkpoint"], checkpoint.origin, key) is None:
            problems.append("the checkpoint's signature does not verify")
        path = [base64.b64decode(h, validate=True) for h in proof["inclusion_proof"]]
        if checkpoint.size != proof["tree_size"]:
            problems.append("tree_size differs from the checkpoint's")
        if not merkle.verify_inclusion(
            merkle.leaf_hash(data), proof["leaf_index"], checkpoint.size, path, checkpoint.root
        ):
            problems.append("the inclusion proof does not lead to the checkpoint's root")
    except (KeyError, TypeError, ValueError, AttributeError, ArchiveError) as e:
        problems.append(f"malformed proof: {e}")
    return problems
