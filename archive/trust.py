"""Which keys an archive's records may be signed by: the archive's own (its first key and the
keys its rotations introduced, in turn), or a pinned key and the keys it rotated to; and from
which ledger entry each retired key signs nothing more. For ``archive verify`` and
``verify-proof`` (the same walk of the rotations), and for ``archive ingest``, which asks before
it opens the archive whether the key it holds may sign there."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from . import db as database
from . import statements
from .errors import DatabaseError, KeyFileError
from .keys import (
    key_id_for,
    load_public_key_pem,
    rotation_message,
    staged_by_rotation,
    verify_signature,
)
from .ledger import PRIMARY_KEYS, current_key, retired_by
from .schema import SIGNED_TABLES


@dataclass
class Trust:
    #: the trusted keys by id
    keys: dict
    #: for each key a rotation retired, the rotation's ledger entry
    retired: dict[str, int]
    #: what is trusted and why, as verify's first line says it
    line: str
    #: (key id, what is wrong) for rows of the keys table
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: whether the keys table holds a sound key
    has_keys: bool = False


def archive_trust(db, pinned_pem: str | None) -> Trust:
    """The keys to trust in archive ``db`` (a connection or sqlite_utils Database): with
    ``pinned_pem``, that key and those it rotated to; without, the archive's own keys as the
    database holds them. A retired key signs nothing more: what it signed after its rotation's
    ledger entry fails."""
    problems = []
    stored = {}
    for key_id, pem in db.execute("SELECT key_id, public_key FROM keys"):
        try:
            key = load_public_key_pem(pem, f"keys table, key {key_id}")
        except Exception as e:  # noqa: BLE001 - a damaged key row is a finding
            problems.append((key_id, str(e)))
            continue
        if key_id_for(key) != key_id:
            problems.append((key_id, "key_id does not match the stored public key"))
            continue
        stored[key_id] = key
    rotations = db.execute(
        "SELECT r.id, statement, signature, l.seq FROM key_rotations r JOIN ledger l "
        "ON l.record_table = 'key_rotations' AND l.record_id = r.id ORDER BY l.seq"
    ).fetchall()
    # The archive's own keys: its first key and those its rotations introduced, in turn (an
    # ingest refuses any other key). A key row beside them was put there, not rotated to.
    first = _first_key_id(db)
    own, own_retired, own_followed = follow_rotations(
        {first: stored[first]} if first in stored else {}, rotations
    )
    for key_id in sorted(set(stored) - set(own)):
        problems.append(
            (key_id, "not the archive's first key, and no rotation from it introduced it")
        )
    if pinned_pem is None:
        line = (
            "trusting the archive's first key as the database holds it: "
            + (first if first in own else "none")
            + "".join(own_followed)
            + " (pin one with --public-key)"
        )
        return Trust(own, own_retired, line, problems, bool(stored))
    pinned = load_public_key_pem(pinned_pem, "--public-key")
    pinned_id = key_id_for(pinned)
    line = f"pinned key {pinned_id}"
    # a wrong pin fails every row: say why once, before the long list
    introduced = db.execute(
        "SELECT old_key_id FROM key_rotations WHERE new_key_id = ?", (pinned_id,)
    ).fetchone()
    if pinned_id not in stored:
        line += " (not one of this archive's keys: " + (", ".join(sorted(stored)) or "none") + ")"
    elif introduced:
        line += (
            f" (a rotation from {introduced[0]} introduced it: it vouches only for what "
            "was signed after; pin the archive's first key to check it all)"
        )
    trusted, retired, followed = follow_rotations({pinned_id: pinned}, rotations)
    return Trust(trusted, retired, line + "".join(followed), problems, bool(stored))


def _first_key_id(db) -> str | None:
    """The key of the archive's first checkpoint (the one that fixed its origin), else of its
    first ledger entry's row."""
    row = db.execute("SELECT key_id FROM checkpoints ORDER BY id LIMIT 1").fetchone()
    if row is None:
        first = db.execute(
            "SELECT record_table, record_id FROM ledger ORDER BY seq LIMIT 1"
        ).fetchone()
        if first is not None and first[0] in SIGNED_TABLES:
            row = db.execute(
                f'SELECT key_id FROM {first[0]} WHERE "{PRIMARY_KEYS[first[0]]}" = ?',
                (first[1],),
            ).fetchone()
    return row[0] if row and isinstance(row[0], str) else None


def follow_rotations(
    trusted: dict, rotations, refused: list | None = None
) -> tuple[dict, dict[str, int], list[str]]:
    """Trust followed forward along the rotations a trusted key signed, in ledger order: one
    walk for ``archive verify`` (rotations from the database) and ``verify-proof`` (from a
    proof), so that both trust the same keys.

    ``rotations``: ``(name, statement, signature, place)``, where place is the rotation's
    place in the ledger (a ledger seq, or a proof's leaf index), None where it is not shown. A
    rotation counts when its statement is a ``key_rotation`` by its old key, signed by that key
    while trusted; it retires the old key from its place on; it adds the new key when the
    stated public key has the stated id and signed ``rotation_message`` (proof of possession).
    Returns the trusted keys by id, each retired key's place, and the rotations followed (", then
    <key> (rotation <name>)", as verify's first line says it). ``refused``, if given, gets
    ``(name, why)`` for each rotation of a trusted key that is not followed: a bad signature, a
    new key that is not one or did not prove possession (verify's row check names the same in
    the database; a proof has only this walk to name them)."""
    trusted, retired, followed = dict(trusted), {}, []
    refuse = refused.append if refused is not None else lambda _: None
    for name, text, signature, place in rotations:
        try:
            data = text if isinstance(text, bytes) else text.encode("utf-8")
            stmt = statements.parse(data.decode("utf-8"))
        except (AttributeError, ValueError):  # not text, or not JSON: the row check says so
            continue
        if not isinstance(stmt, dict):
            continue
        old, new = stmt.get("old_key_id"), stmt.get("new_key_id")
        if stmt.get("type") != "key_rotation" or not isinstance(old, str) or old not in trusted:
            continue
        if stmt.get("key_id") != old:
            refuse((name, f"its key_id is not {old}, the key it retires"))
            continue
        if not verify_signature(trusted[old], signature, data):
            refuse((name, f"its signature does not verify with {old}, the key it retires"))
            continue
        if place is not None:
            retired.setdefault(old, place)
        try:
            key = load_public_key_pem(stmt.get("new_public_key"))
        except Exception:  # noqa: BLE001 - the row check reports it
            refuse((name, "its new_public_key is not a public key"))
            continue
        possession = isinstance(new, str) and verify_signature(
            key, stmt.get("new_key_signature"), rotation_message(old, new)
        )
        if not possession:
            refuse((name, "its new key's proof of possession does not verify"))
        elif key_id_for(key) != new:
            refuse((name, f"its new_public_key is not {new}"))
        elif new not in trusted:
            trusted[new] = key
            followed.append(f", then {new} (rotation {name})")
    return trusted, retired, followed


def stored_key_pem(db, key_id: str) -> str:
    """The public key the database holds for ``key_id`` (``verify --trust``), checked: a keys
    row altered to hold another key must not pin that other key."""
    row = db.execute(
        "SELECT CAST(public_key AS BLOB) FROM keys WHERE key_id = ?", (key_id,)
    ).fetchone()
    if row is None:
        raise KeyFileError(f"--trust {key_id!r}: no such key in the database")
    try:
        pem = bytes(row[0] or b"").decode("utf-8")
    except UnicodeDecodeError:
        raise KeyFileError(
            f"--trust {key_id}: the database's public key for it is not UTF-8 text (altered)"
        ) from None
    found = key_id_for(load_public_key_pem(pem, f"--trust {key_id}"))
    if found != key_id:
        raise KeyFileError(
            f"--trust {key_id}: the database's public key for it is {found}'s (altered)"
        )
    return pem


def signing_refusal(db_path: Path, key_path: Path, signer) -> str | None:
    """Why the archive at ``db_path`` must not be signed with ``signer``'s key, read without
    changing anything; None when it may (or there is no archive yet). The writer checks again
    in each file's transaction (``SignedWriter.check_key``): this is the early, explained one."""
    found = _read_archive(db_path, lambda c: (retired_by(c, signer.key_id), current_key(c)))
    if found is None:
        return None
    retired, current = found
    real = key_path.resolve()  # a link: what a rotation left is beside the file it names
    if retired:
        staged = staged_by_rotation(real)
        return (
            f"key {signer.key_id} was retired by a rotation to {retired}: sign with the "
            "archive's current key "
            + (
                f"(the rotation stopped before putting it in place: it is at {staged[-1]}; "
                f"move {real} aside, then that file to {real})"
                if staged
                else "(its file took the old one's path when it was rotated)"
            )
        )
    if current and current != signer.key_id:
        # What it signed would fail for an auditor who pins the archive's key, for good: refused
        # (a warning, as it was, came with the records already signed). The usual cause: one key
        # file shared by two archives, and `keys rotate` or `keys generate --force` in the other.
        kept = real.with_name(f"{real.name}.retired-{current.split(':', 1)[1]}")
        return (
            f"{key_path} holds key {signer.key_id}, not this archive's key {current}, and no "
            f"rotation in this archive introduces it: an auditor who pins {current} could not "
            "trust what it signed. Sign with the archive's key file"
            + (
                f" ({kept} holds {current}: another archive sharing the key file rotated it?)"
                if kept.is_file()
                else ""
            )
            + "; `archive keys rotate` with it introduces a new key"
        )
    return None


def archive_signing_key(db_path: Path) -> str | None:
    """The key an existing archive signs with now, read without changing anything (None for no
    archive, or one that cannot be read: the ingest that follows says why)."""
    return _read_archive(db_path, current_key)


def _read_archive(db_path: Path, read):
    """``read(connection)`` on the archive at ``db_path`` opened read-only; None when there is
    no archive, or not one this can read (the ingest that follows says why)."""
    if not db_path.is_file():
        return None
    try:
        conn = sqlite3.connect(
            f"{db_path.resolve().as_uri()}?mode=ro", uri=True, timeout=database.LOCK_WAIT_SECONDS
        )
        try:
            return read(conn)
        finally:
            conn.close()
    except sqlite3.Error as e:
        if database.is_locked(e):  # busy for a minute: no reason to sign with a new key
            raise DatabaseError(f"{db_path}: {database.BUSY}") from None
        return None
