"""The one place that signs and appends: statements, signatures, ledger leaves, checkpoints.

Every signed row goes through :class:`SignedWriter` inside one transaction: its statement is
built from the row, signed, stored with the row, and its leaf hash appended to the ledger. The
transaction ends with a signed checkpoint of the whole ledger; after it commits, the checkpoint
is also written next to the database (``checkpoint``) as text an auditor can keep.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import checkpoint as cp
from . import merkle, statements
from .durable import sync_directory_fd
from .errors import ArchiveError, ClockError, KeyFileError
from .keys import ALGORITHM, Signer, generate_key, rotation_message
from .turns import Turns

_MARKER = f'"statement":"{statements.VERSION}"'.encode()

PRIMARY_KEYS = {
    "captures": "sha256",
    "articles": "id",
    "claims": "id",
    "image_uses": "id",
    "key_rotations": "id",
}


@dataclass
class Unsigned:
    """A row with its statement bytes and ledger leaf hash, ready for the signer.

    Built by :func:`prepare`, which is pure and runs anywhere (a worker process, a cluster node):
    only the signing and the append happen in :class:`SignedWriter`, which holds the key.
    """

    table: str
    row: dict
    statement: bytes
    leaf: bytes
    key_id: str
    signed_at: str


def prepare(
    table: str, row: dict, *, key_id: str, signed_at: str, article: dict | None = None
) -> Unsigned:
    """The canonical statement of ``row`` and its leaf hash, for the key ``key_id``."""
    stmt = statements.build(table, row, key_id=key_id, signed_at=signed_at, article=article)
    data = statements.canonical(stmt)
    return Unsigned(table, row, data, merkle.leaf_hash(data), key_id, signed_at)


def ledger_leaves(
    conn: sqlite3.Connection, start: int = 0, stop: int | None = None
) -> Iterator[bytes]:
    """The leaf hashes of ledger entries ``start`` to ``stop`` (excluded), streamed in order."""
    rows = conn.execute(
        "SELECT leaf_hash FROM ledger WHERE seq >= ? AND seq < ? ORDER BY seq",
        (start, stop if stop is not None else 1 << 62),
    )
    while batch := rows.fetchmany(4096):
        for (h,) in batch:
            yield bytes.fromhex(h)


def stored_frontier(conn: sqlite3.Connection, size: int) -> merkle.Frontier:
    """The Merkle frontier of the first ``size`` ledger entries: the one the last ingest stored
    (``ledger_frontier``) when it covers them and agrees with the checkpoint at that size, else
    rebuilt from the leaves (streamed: O(log n) memory, but every leaf read)."""
    try:
        frontier = merkle.Frontier.from_nodes(
            (height, bytes.fromhex(h))
            for height, h in conn.execute(
                "SELECT height, hash FROM ledger_frontier ORDER BY height DESC"
            )
        )
    except ValueError:
        frontier = None
    if frontier is not None and frontier.size == size:
        # derived and unsigned: used only where a signed checkpoint vouches for its root
        row = conn.execute(
            "SELECT root_hash FROM checkpoints WHERE tree_size = ? ORDER BY id DESC LIMIT 1",
            (size,),
        ).fetchone()
        if row and row[0] == frontier.root().hex():
            return frontier
    return merkle.Frontier(ledger_leaves(conn, 0, size))


def store_frontier(conn: sqlite3.Connection, frontier: merkle.Frontier) -> None:
    conn.execute("DELETE FROM ledger_frontier")
    conn.executemany(
        "INSERT INTO ledger_frontier (height, hash) VALUES (?, ?)",
        [(height, node.hex()) for height, node in frontier.nodes],
    )


def origin_for(conn: sqlite3.Connection, signer: Signer) -> str:
    """The log's origin line, fixed by the first checkpoint: ``archive/``, the 16 hex digits of
    the first key's id, ``/`` and the first 16 hex digits of the ledger's first leaf hash, which
    tell two archives signed with one key apart (archives begun before the ninth round keep
    their ``archive/<key digits>``)."""
    row = conn.execute("SELECT origin FROM checkpoints ORDER BY id LIMIT 1").fetchone()
    if row:
        return row[0]
    first = conn.execute("SELECT leaf_hash FROM ledger ORDER BY seq LIMIT 1").fetchone()
    key = signer.key_id.split(":", 1)[1]
    return f"archive/{key}/{first[0][:16]}" if first else f"archive/{key}"


def retired_by(conn, key_id: str) -> str | None:
    """The key a rotation replaced ``key_id`` with, if one did."""
    row = conn.execute(
        "SELECT new_key_id FROM key_rotations WHERE old_key_id = ?", (key_id,)
    ).fetchone()
    return row[0] if row else None


def current_key(conn) -> str | None:
    """The archive's signing key now: its first checkpoint's key, followed through the key
    rotations (a key that signed without a rotation does not become it). None for a new
    archive."""
    row = conn.execute("SELECT key_id FROM checkpoints ORDER BY id LIMIT 1").fetchone()
    if row is None:
        return None
    key, seen = row[0], {row[0]}
    while True:
        new = conn.execute(
            "SELECT new_key_id FROM key_rotations WHERE old_key_id = ?", (key,)
        ).fetchone()
        if new is None or new[0] in seen:
            return key
        key = new[0]
        seen.add(key)


def checkpoint_path(db_path: str | Path) -> Path:
    return Path(db_path).parent / "checkpoint"


class SignedWriter:
    """Writes signed rows in one transaction: each row's canonical statement signed by the
    one signer, appended to the ledger, and a checkpoint over the new tree signed at commit.
    ``begin``, then ``insert`` or ``append``, then ``commit`` (or ``rollback``)."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        signer: Signer,
        db_path: str | Path,
        clock: Callable[[], str] = statements.now_utc,
    ):
        self.conn = conn
        self.signer = signer
        self.db_path = Path(db_path)
        self.turns = Turns(self.db_path)
        self.clock = clock
        self.frontier = merkle.Frontier()
        self.signed_at = ""
        self._note: str | None = None
        self.committed = False
        self._saved: merkle.Frontier | None = None
        self._known_columns: dict[str, set[str]] = {}

    def begin(self, signed_at: str | None = None) -> None:
        """Start the write transaction (waiting for any other writer) and sync the ledger.
        ``signed_at``: the signing time taken when the work was started, before this BEGIN; kept
        unless the last transaction's is later (another ingest committed meanwhile), since the
        ledger's signing times never go back (``archive verify`` checks)."""
        self.committed = False  # set once COMMIT has run: nothing may undo the work after it
        self._saved = None  # a BEGIN that fails leaves nothing to restore
        self.turns.begin(self.conn)  # after any writer already waiting: see turns.py
        # next seq from the primary key: O(log n), where COUNT(*) would scan the ledger
        size = self.conn.execute("SELECT COALESCE(MAX(seq) + 1, 0) FROM ledger").fetchone()[0]
        if size != self.frontier.size:  # a new process, or another one appended since
            self.frontier = stored_frontier(self.conn, size)
        self._saved = self.frontier.copy()
        # the last transaction's time, in its checkpoint (one per transaction that signs)
        row = self.conn.execute(
            "SELECT created_at FROM checkpoints ORDER BY id DESC LIMIT 1"
        ).fetchone()
        last = row[0] if row is not None and isinstance(row[0], str) else None
        if signed_at is not None and row is not None and not (last and last <= signed_at):
            signed_at = None
        self.signed_at = signed_at or self.clock()
        if last and self.signed_at < last:
            # a clock stepped back (no battery clock before NTP, a VM resumed): signed now,
            # every row would fail verify for good as backdated; refused, nothing written
            self.rollback()
            raise ClockError(
                f"the system clock reads {self.signed_at}, earlier than the archive's last "
                f"signature at {last}: what is signed now would be out of order; nothing was "
                "written (set the clock right, or wait until then; if that time is the wrong one, "
                "a clock that ran fast signed it, and the archive's times cannot go back)"
            )
        self._note = None
        self.ensure_key(self.signer)

    def check_key(self) -> None:
        """Refuse to sign with a key a rotation retired, or with one that is not the archive's:
        called in the transaction, so what committed while this process worked (a rotation, the
        first ingest of another process with another key) is seen."""
        key_id = self.signer.key_id
        retired = retired_by(self.conn, key_id)
        if retired:
            raise KeyFileError(
                f"key {key_id} was retired by a rotation to {retired}: nothing more "
                "is signed with it (sign with the archive's current key: after a rotation that "
                "ran while this ingest did, its key file holds it now; run the ingest again)"
            )
        current = current_key(self.conn)
        if current is not None and current != key_id:
            raise KeyFileError(
                f"key {key_id} is not this archive's key {current} (another ingest made it the "
                "archive's key meanwhile?): nothing is signed with it"
            )

    def ensure_key(self, signer: Signer) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO keys (key_id, algorithm, public_key, created_at) "
            "VALUES (?, ?, ?, ?)",
            (signer.key_id, ALGORITHM, signer.public_key_pem, self.signed_at),
        )

    def insert(self, table: str, row: dict, article: dict | None = None) -> None:
        """Sign ``row`` (a dict of columns) and insert it with its ledger leaf."""
        key_id, signed_at = self.signer.key_id, self.signed_at
        self.append([prepare(table, row, key_id=key_id, signed_at=signed_at, article=article)])

    def append(self, items: Iterable[Unsigned]) -> None:
        """Sign prepared rows and insert them, in order, with their ledger leaves.

        Rows of one table in a row go in one ``executemany``: this is the serial part of a
        parallel ingest, so it does as little as it can.
        """
        key_id = self.signer.key_id
        batch: list[Unsigned] = []
        for item in items:
            if item.key_id != key_id or item.signed_at != self.signed_at:
                # a statement must name the key that signs it and this transaction's time
                raise ValueError(f"{item.table} row prepared for another key or signing time")
            if not item.statement.startswith(b"{") or _MARKER not in item.statement:
                # never sign other kinds of bytes (a checkpoint body, say) with the archive key
                raise ValueError(f"{item.table} row with something other than a statement")
            if batch and (item.table != batch[0].table or item.row.keys() != batch[0].row.keys()):
                self._append_batch(batch)
                batch = []
            batch.append(item)
        if batch:
            self._append_batch(batch)

    def _append_batch(self, batch: list[Unsigned]) -> None:
        table = batch[0].table
        if table not in PRIMARY_KEYS:
            raise ValueError(f"not a signed table: {table!r}")
        cols = [*batch[0].row, "statement", "signature", "key_id"]
        unknown = set(cols) - self._columns(table)
        if unknown:  # names go into the SQL text: only the table's own
            raise ValueError(f"{table} has no column {sorted(unknown)[0]!r}")
        sign, key_id = self.signer.sign, self.signer.key_id
        names = ", ".join(f'"{c}"' for c in cols)
        marks = ", ".join("?" for _ in cols)
        self.conn.executemany(
            f"INSERT INTO {table} ({names}) VALUES ({marks})",
            [
                (*u.row.values(), u.statement.decode("utf-8"), sign(u.statement), key_id)
                for u in batch
            ],
        )
        pk, start = PRIMARY_KEYS[table], self.frontier.size
        self.conn.executemany(
            "INSERT INTO ledger (seq, leaf_hash, record_table, record_id) VALUES (?, ?, ?, ?)",
            [(start + i, u.leaf.hex(), table, u.row[pk]) for i, u in enumerate(batch)],
        )
        for u in batch:
            self.frontier.append(u.leaf)

    def _columns(self, table: str) -> set[str]:
        found = self._known_columns.get(table)
        if found is None:
            found = self._known_columns[table] = {
                name
                for (name,) in self.conn.execute("SELECT name FROM pragma_table_info(?)", (table,))
            }
        return found

    def commit(self) -> str | None:
        """Checkpoint the ledger, commit, then publish the checkpoint file.

        Once committed, the work stands: a checkpoint file that cannot be written (a full disk,
        a directory in its place) is returned as a warning, not raised, so that no caller rolls
        back (or deletes a stored capture) after the commit. The checkpoint is in the database;
        the next commit writes the file."""
        if self.frontier.size != self._saved.size:
            origin = origin_for(self.conn, self.signer)
            checkpoint = cp.Checkpoint(origin, self.frontier.size, self.frontier.root())
            self._note = cp.sign(checkpoint, origin, self.signer)
            self.conn.execute(
                "INSERT INTO checkpoints (origin, tree_size, root_hash, note, key_id, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    origin,
                    checkpoint.size,
                    checkpoint.root.hex(),
                    self._note,
                    self.signer.key_id,
                    self.signed_at,
                ),
            )
            store_frontier(self.conn, self.frontier)
        self.conn.execute("COMMIT")
        self.committed = True
        if not self._note:
            return None
        path = checkpoint_path(self.db_path)
        tmp = path.with_name(f".checkpoint.{os.getpid()}.tmp")
        try:
            # after the COMMIT, so outside the database's lock: another ingest's commit may
            # publish between this one's and here. The file only ever moves forward: written
            # with the directory locked, and not over a checkpoint of a larger tree (an older
            # one could replace a newer one: a review).
            directory = os.open(path.parent, os.O_RDONLY)
            try:
                fcntl.flock(directory, fcntl.LOCK_EX)
                size, note = _published(path)
                if size > self.frontier.size:
                    known = self.conn.execute(
                        "SELECT 1 FROM checkpoints WHERE note = ?", (note,)
                    ).fetchone()
                    if known:  # another ingest's, committed after this one
                        return None
                    return (
                        f"{path} holds a checkpoint of {size} entries that this database does "
                        f"not have (it has {self.frontier.size}: restored from an older copy?); "
                        "it is left as it is: keep it as evidence, then remove it, and the next "
                        "ingest writes this database's"
                    )
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(self._note)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, path)
                sync_directory_fd(directory)  # the rename, too
            finally:
                os.close(directory)
        except OSError as e:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            return (
                f"{path}: the checkpoint file could not be written ({e.strerror or e}); the "
                "checkpoint is in the database, and the next ingest that adds records writes "
                "the file"
            )
        return None

    def rollback(self) -> None:
        # a failed COMMIT may have ended the transaction already
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")
        if self._saved is not None:
            self.frontier = self._saved


def _published(path: Path) -> tuple[int, str]:
    """The tree size and text of the checkpoint in file ``path``; -1 when there is none."""
    try:
        note = path.read_text(encoding="utf-8")
        return cp.parse(note)[0].size, note
    except (OSError, ValueError, UnicodeDecodeError):
        return -1, ""


def rotate_key(
    conn, db_path, old: Signer, new: Signer, clock=statements.now_utc
) -> tuple[dict, str | None]:
    """Introduce ``new`` as the archive's signing key: a ledger entry signed by ``old``, with the
    new key's proof of possession. Records signed by ``old`` stay verifiable. Returns the
    key_rotations row and a warning if the checkpoint file could not be written (see
    :meth:`SignedWriter.commit`)."""

    writer = SignedWriter(conn, old, db_path, clock)
    writer.begin()
    try:
        if conn.execute(
            "SELECT 1 FROM key_rotations WHERE old_key_id = ?", (old.key_id,)
        ).fetchone():
            raise ArchiveError(f"key {old.key_id} was already rotated")
        if retired_by(conn, new.key_id):
            # it could sign nothing here: verify fails what a retired key signs after it
            raise ArchiveError(
                f"key {new.key_id} was retired by an earlier rotation: use a new key"
            )
        current = current_key(conn)
        if current is not None and current != old.key_id:
            # a rotation from another key would start a chain no pinned auditor can follow
            raise ArchiveError(
                f"key {old.key_id} is not this archive's signing key ({current}): rotate from "
                "that key's file (--key)"
            )
        writer.ensure_key(new)
        row = {
            "id": new.key_id,
            "old_key_id": old.key_id,
            "new_key_id": new.key_id,
            "new_public_key": new.public_key_pem,
            "new_key_signature": new.sign(rotation_message(old.key_id, new.key_id)),
        }
        writer.insert("key_rotations", row)
        warning = writer.commit()
    except BaseException:
        writer.rollback()
        raise
    return row, warning


def rotate_key_file(
    conn, db_path, key_path: Path, old: Signer, passphrase: str | None
) -> tuple[Signer, Path, str | None]:
    """``archive keys rotate`` with its files: the new key made beside the old one's file
    (under a name of this process's own: two rotations at once must not write each other's
    key), the rotation signed into the archive (:func:`rotate_key`), then the old file kept as
    ``<name>.retired-<the key id's 16 hex digits>`` and the new one put in its place. Refused or
    interrupted (Ctrl-C too), no private key is left behind that nothing names: the new file
    goes unless the rotation committed. Returns the new key, where the old one is kept, and
    :func:`rotate_key`'s warning."""
    staged = key_path.with_name(f"{key_path.name}.new-{os.getpid()}")
    try:
        new = generate_key(staged, passphrase, force=True)
        _, warning = rotate_key(conn, db_path, old, new)
    except BaseException:
        if not _rotated(conn, old.key_id):
            staged.unlink(missing_ok=True)
        raise
    retired = key_path.with_name(f"{key_path.name}.retired-{old.key_id.split(':')[1]}")
    os.replace(key_path, retired)
    os.replace(staged, key_path)
    return new, retired, warning


def _rotated(conn, key_id: str) -> bool:
    """Whether the rotation of ``key_id`` committed (an interrupt can land just after its
    COMMIT: the staged file is then the archive's key and must stay); True when it cannot tell."""
    try:
        return retired_by(conn, key_id) is not None
    except Exception:  # noqa: BLE001 - in doubt, the key file stays
        return True
