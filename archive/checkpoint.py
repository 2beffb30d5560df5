"""Checkpoints of the ledger in the C2SP ``tlog-checkpoint`` format, as ``signed-note`` texts.

A checkpoint body is three lines: the log's origin, the tree size in decimal, and the root hash
in standard base64. The note adds a blank line and one signature line per signer::

    — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature)>

where the key hash is the first 4 bytes of SHA-256(key name || 0x0A || 0x01 || public key), and
the signature is over the body's bytes. This is the format transparency logs (Go's sumdb, Sigsum,
Trillian's witnesses) use, so their tools can check our checkpoints.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from .keys import Signer, canonical_base64, verify_signature

DASH = "\u2014"


@dataclass
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def _raw(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_hash(name: str, public_key: Ed25519PublicKey) -> bytes:
    """A signed note's key hash (C2SP signed-note): the first 4 bytes of SHA-256 over the key
    name, a newline, 0x01 (Ed25519) and the raw public key."""
    return hashlib.sha256(name.encode() + b"\n\x01" + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: Ed25519PublicKey) -> str:
    """The signed-note verifier key string: ``name+hexkeyhash+base64(0x01 || key)``, as C2SP
    signed-note tools take a key (the archive itself checks notes with :func:`verify`)."""
    blob = base64.b64encode(b"\x01" + _raw(public_key)).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{blob}"


def sign(checkpoint: Checkpoint, name: str, signer: Signer) -> str:
    """The signed note for ``checkpoint``."""
    body = checkpoint.body()
    sig = base64.b64decode(signer.sign(body.encode()))
    blob = base64.b64encode(key_hash(name, signer.public_key) + sig).decode()
    return f"{body}\n{DASH} {name} {blob}\n"


def parse(note: str) -> tuple[Checkpoint, list[tuple[str, bytes, bytes]]]:
    """Split a signed note into its checkpoint and (name, key hash, signature) lines.

    Raises ValueError when the text is not a well-formed checkpoint note.
    """
    body, sep, sigs = note.partition("\n\n")
    if not sep or not body:
        raise ValueError("not a signed note (no blank line before the signatures)")
    lines = body.split("\n")
    if len(lines) < 3 or not lines[1].isdigit():
        raise ValueError("not a checkpoint (origin, size and root hash lines expected)")
    root = base64.b64decode(lines[2], validate=True)
    if len(root) != 32:
        raise ValueError("checkpoint root hash is not 32 bytes")
    signatures = []
    for line in sigs.splitlines():
        if not line.startswith(DASH + " "):
            raise ValueError(f"malformed signature line: {line[:40]!r}")
        name, _, blob = line[2:].rpartition(" ")
        raw = base64.b64decode(blob, validate=True)
        if not canonical_base64(raw, blob):  # (decoders ignore the last character's spare bits)
            raise ValueError("signature is not in its one standard base64 spelling")
        if len(raw) < 5:
            raise ValueError("signature line too short")
        signatures.append((name, raw[:4], raw[4:]))
    return Checkpoint(lines[0], int(lines[1]), root), signatures


def verify(note: str, name: str, public_key: Ed25519PublicKey) -> Checkpoint | None:
    """The checkpoint when ``note`` carries a valid signature by (name, key); else None."""
    try:
        checkpoint, signatures = parse(note)
    except ValueError:
        return None
    body = checkpoint.body().encode()
    if note.partition("\n\n")[0] + "\n" != checkpoint.body():
        return None  # extension lines or odd spacing: not ours to accept
    want = key_hash(name, public_key)
    for sig_name, khash, sig in signatures:
        if sig_name == name and khash == want:
            if verify_signature(public_key, base64.b64encode(sig).decode(), body):
                return checkpoint
    return None
