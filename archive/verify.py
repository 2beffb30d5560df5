"""Verify an archive: re-derive every hash and statement, check every signature, the ledger, its
Merkle root and checkpoints.

Three-way results per table (verified / failed / unsigned) and every problem named; nothing is
reported as passed unless it was checked.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import checkpoint as cp
from . import merkle, statements
from .db import SIGNED_TABLES
from .hashing import NORMALIZATION, file_sha256, sha256_hex, text_sha256
from .keys import key_id_for, load_public_key_pem, verify_signature
from .ledger import PRIMARY_KEYS
from .parallel import process_pool


def rotation_message(old_key_id: str, new_key_id: str) -> bytes:
    """What a new key signs to prove possession when it is introduced."""
    return f"archive-key-rotation/1\n{old_key_id}\n{new_key_id}\n".encode()


@dataclass
class Failure:
    table: str
    record_id: str
    problem: str

    def __str__(self) -> str:
        return f"{self.table} {self.record_id}: {self.problem}"


@dataclass
class Report:
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    failures: list[Failure] = field(default_factory=list)
    trust: str = ""
    ledger: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures and not any(c["unsigned"] for c in self.counts.values())

    def count(self, table: str, outcome: str) -> None:
        self.counts.setdefault(table, {"verified": 0, "failed": 0, "unsigned": 0})[outcome] += 1

    def fail(self, table: str, record_id, problem: str) -> None:
        self.failures.append(Failure(table, str(record_id), problem))

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "trust": self.trust,
            "tables": self.counts,
            "ledger": self.ledger,
            "failures": [f.__dict__ for f in self.failures],
        }


def _content_problems(table: str, row: dict, db, articles: dict) -> list[str]:
    """Hashes re-derived from the stored content."""
    problems = []
    if table == "articles":
        if sha256_hex(row["text"].encode("utf-8")) != row["text_sha256"]:
            problems.append("text does not match text_sha256")
        rec = db.execute(
            "SELECT payload_sha256 FROM capture_records WHERE capture_sha256 = ? AND member = ? "
            'AND "offset" = ?',
            (row["capture_sha256"], row["warc_member"], row["warc_offset"]),
        ).fetchone()
        if rec is None or rec[0] != row["html_sha256"]:
            problems.append("html_sha256 does not match the capture's record")
    elif table == "claims":
        # copied from the article (not signed itself): must agree with the signed article
        article = articles.get(row["article_id"]) or {}
        if "captured_at" in row and row["captured_at"] != article.get("captured_at"):
            problems.append("captured_at differs from its article's")
        if row["normalization"] != NORMALIZATION:
            problems.append(f"unknown normalization {row['normalization']!r}")
        elif text_sha256(row["text"]) != row["text_sha256"]:
            problems.append("text does not match text_sha256")
    elif table == "image_uses" and row["image_sha256"]:
        found = db.execute("SELECT 1 FROM images WHERE sha256 = ?", (row["image_sha256"],))
        if not found.fetchone():
            problems.append("image_sha256 names no image in the images table")
    elif table == "key_rotations":
        try:
            new_key = load_public_key_pem(row["new_public_key"])
        except Exception:  # noqa: BLE001 - reported as a finding
            return ["new_public_key is not an Ed25519 public key"]
        if key_id_for(new_key) != row["new_key_id"]:
            problems.append("new_key_id does not match new_public_key")
        msg = rotation_message(row["old_key_id"], row["new_key_id"])
        if not verify_signature(new_key, row["new_key_signature"], msg):
            problems.append("new key's proof of possession does not verify")
    return problems


class Verifier:
    #: below this many signed rows, starting processes costs more than it saves
    parallel_from = 4000
    #: rowids per unit of work
    chunk_rows = 2000

    def __init__(
        self, db, public_key_pem: str | None = None, check_files: bool = True, workers: int = 1
    ):
        self.workers = workers
        self.db = db
        self.report = Report()
        self.pinned = public_key_pem
        self.check_files = check_files

    def run(self, checkpoint_note: str | None = None) -> Report:
        keys = self._keys()
        rows = self._rows(keys)
        self._ledger(rows, keys, checkpoint_note)
        self._images()
        if self.check_files:
            self._files()
        return self.report

    # -- keys ------------------------------------------------------------------------------
    def _keys(self) -> dict:
        report = self.report
        stored = {}
        for key_id, pem in self.db.execute("SELECT key_id, public_key FROM keys"):
            try:
                key = load_public_key_pem(pem, f"keys table, key {key_id}")
            except Exception as e:  # noqa: BLE001 - a damaged key row is a finding
                report.fail("keys", key_id, str(e))
                continue
            if key_id_for(key) != key_id:
                report.fail("keys", key_id, "key_id does not match the stored public key")
                continue
            stored[key_id] = key
        if not self.pinned:
            report.trust = (
                "trusting the key(s) found in the database: "
                + (", ".join(sorted(stored)) or "none")
                + " (pin one with --public-key)"
            )
            return stored
        pinned = load_public_key_pem(self.pinned, "--public-key")
        trusted = {key_id_for(pinned): pinned}
        report.trust = f"pinned key {key_id_for(pinned)}"
        # Trust follows rotations signed by a trusted key, in ledger order.
        for rid, old, new, pem, stmt, sig in self.db.execute(
            "SELECT r.id, old_key_id, new_key_id, new_public_key, statement, signature "
            "FROM key_rotations r JOIN ledger l ON l.record_table = 'key_rotations' "
            "AND l.record_id = r.id ORDER BY l.seq"
        ):
            if old in trusted and verify_signature(trusted[old], sig, stmt.encode("utf-8")):
                try:
                    trusted[new] = load_public_key_pem(pem)
                except Exception:  # noqa: BLE001 - the row check reports it
                    continue
                report.trust += f", then {new} (rotation {rid})"
        return trusted

    # -- signed rows -------------------------------------------------------------------------
    def _rows(self, keys) -> dict[tuple[str, str], dict]:
        """Check every signed row; return {(table, id): {"leaf", "signed_at", "problems"}}.

        The rows are checked in chunks of rowids, each chunk whole (statement, content hashes,
        signature) and, for a large archive, in worker processes reading the database
        themselves: the work is spread over the cores, not only the signature checks.
        """
        raw_keys = {key_id: _raw(key) for key_id, key in keys.items()}
        units = []
        total = 0
        for table in SIGNED_TABLES:
            # chunk boundaries from the rowids themselves: a damaged or forged database may
            # have rowids far apart, and must not make verify plan billions of empty chunks
            rowids = [r for (r,) in self.db.execute(f"SELECT rowid FROM {table} ORDER BY rowid")]
            total += len(rowids)
            starts = rowids[:: self.chunk_rows]
            for i, start in enumerate(starts):
                end = starts[i + 1] - 1 if i + 1 < len(starts) else rowids[-1]
                units.append((table, start, end))
        path = _file_of(self.db.conn)
        if self.workers <= 1 or total < self.parallel_from or path is None:
            results = [check_rows(self.db.conn, *unit, raw_keys) for unit in units]
        else:
            pool = process_pool(self.workers)
            try:
                results = list(pool.map(_check_unit, [(path, *u, raw_keys) for u in units]))
            finally:
                pool.shutdown()
        seen: dict[tuple[str, str], dict] = {}
        for checked, unsigned in results:
            for table, rid in unsigned:
                self.report.count(table, "unsigned")
                self.report.fail(table, rid, "unsigned (no statement or signature)")
            for table, rid, leaf, signed_at, problems in checked:
                seen[(table, rid)] = {"leaf": leaf, "signed_at": signed_at, "problems": problems}
        return seen

    # -- ledger, Merkle root, checkpoints -----------------------------------------------------
    def _ledger(self, rows, keys, checkpoint_note: str | None) -> None:
        report = self.report
        entries = list(
            self.db.execute(
                "SELECT seq, leaf_hash, record_table, record_id FROM ledger ORDER BY seq"
            )
        )
        leaves: list[bytes] = []
        last_signed_at = ""
        for expected_seq, (seq, leaf_hex, table, rid) in enumerate(entries):
            if seq != expected_seq:
                report.fail("ledger", seq, f"sequence gap: expected entry {expected_seq}")
            leaves.append(bytes.fromhex(leaf_hex))
            row = rows.get((table, rid))
            if row is None:
                report.fail("ledger", seq, f"entry for {table} {rid}, which is not in the archive")
                continue
            if row["leaf"].hex() != leaf_hex:
                row["problems"].append(f"ledger leaf {seq} does not match the statement")
            if row["signed_at"] < last_signed_at:
                row["problems"].append(
                    f"signed_at {row['signed_at']} is earlier than the ledger entry before it "
                    f"({last_signed_at}): backdated or reordered"
                )
            last_signed_at = max(last_signed_at, row["signed_at"])
            row["in_ledger"] = True
        for (table, rid), row in rows.items():
            if not row.get("in_ledger"):
                row["problems"].append("no ledger entry")
            if row["problems"]:
                report.count(table, "failed")
                report.fail(table, rid, "; ".join(row["problems"]))
            else:
                report.count(table, "verified")
        self._checkpoints(leaves, keys, checkpoint_note)

    def _checkpoints(self, leaves: list[bytes], keys, checkpoint_note: str | None) -> None:
        report = self.report
        rows = self.db.execute(
            "SELECT id, origin, tree_size, root_hash, note, key_id FROM checkpoints ORDER BY id"
        ).fetchall()
        sizes = {row[2] for row in rows} | {len(leaves)}
        if checkpoint_note is not None:
            try:
                sizes.add(cp.parse(checkpoint_note)[0].size)
            except ValueError:
                pass  # reported by _outside_checkpoint
        # Every root the checks need, in one pass over the ledger (one checkpoint per ingest:
        # recomputing each from scratch would be quadratic).
        roots = merkle.roots_at(leaves, sizes)

        def root_at(size: int) -> bytes | None:
            return roots.get(size)

        by_size: dict[int, str] = {}
        latest = None
        for cid, origin, size, root_hex, note, key_id in rows:
            key = keys.get(key_id)
            parsed = cp.verify(note, origin, key) if key else None
            if key is None:
                report.fail("checkpoints", cid, f"signed by an unknown or untrusted key {key_id}")
            elif parsed is None or parsed.size != size or parsed.root.hex() != root_hex:
                report.fail("checkpoints", cid, "signature does not verify, or note differs")
            if size in by_size and by_size[size] != root_hex:
                report.fail("checkpoints", cid, f"fork: two different roots at tree size {size}")
            by_size[size] = root_hex
            expected = root_at(size)
            if expected is None:
                report.fail(
                    "checkpoints",
                    cid,
                    f"covers {size} entries but the ledger has {len(leaves)} (truncated ledger)",
                )
            elif expected.hex() != root_hex:
                report.fail(
                    "checkpoints",
                    cid,
                    f"root at size {size} does not match the ledger "
                    "(entries changed, reordered or removed)",
                )
            latest = (cid, size)
        report.ledger = {"entries": len(leaves), "root": roots[len(leaves)].hex()}
        if latest is None:
            if leaves:
                report.fail("checkpoints", "-", "the ledger has entries but no checkpoint")
        elif latest[1] != len(leaves):
            report.fail(
                "checkpoints",
                latest[0],
                f"latest checkpoint covers {latest[1]} entries, the ledger has {len(leaves)}",
            )
        if checkpoint_note is not None:
            self._outside_checkpoint(checkpoint_note, keys, root_at)

    def _outside_checkpoint(self, note: str, keys, root_at) -> None:
        """Check the archive against a checkpoint an auditor kept earlier, outside it."""
        report = self.report
        try:
            parsed, _ = cp.parse(note)
        except ValueError as e:
            report.fail("--checkpoint", "file", str(e))
            return
        signed = next((c for k in keys.values() if (c := cp.verify(note, parsed.origin, k))), None)
        if signed is None:
            report.fail("--checkpoint", parsed.size, "not signed by a trusted key")
            return
        expected = root_at(parsed.size)
        if expected is None:
            report.fail(
                "--checkpoint",
                parsed.size,
                "the archive now has fewer entries than this checkpoint: entries were removed",
            )
        elif expected != parsed.root:
            report.fail(
                "--checkpoint",
                parsed.size,
                "the archive's first entries no longer match this "
                "checkpoint: history was rewritten",
            )
        else:
            report.ledger["outside_checkpoint"] = f"consistent at size {parsed.size}"

    # -- images and stored files ---------------------------------------------------------------
    def _images(self) -> None:
        for sha, content in self.db.execute("SELECT sha256, content FROM images"):
            if sha256_hex(content) != sha:
                self.report.count("images", "failed")
                self.report.fail("images", sha, "content does not match sha256")
            else:
                self.report.count("images", "verified")

    def _files(self) -> None:
        db_file = self.db.conn.execute("PRAGMA database_list").fetchone()[2]
        home = Path(db_file).parent if db_file else Path(".")
        for sha, stored in self.db.execute("SELECT sha256, stored_path FROM captures"):
            path = home / stored
            if not path.exists():
                self.report.fail("capture files", sha, f"stored capture missing: {path}")
            elif file_sha256(path) != sha:
                self.report.fail("capture files", sha, f"stored capture altered: {path}")
            else:
                self.report.count("capture files", "verified")


def verify(
    db,
    public_key_pem: str | None = None,
    check_files: bool = True,
    checkpoint_note: str | None = None,
    workers: int = 1,
) -> Report:
    """Check everything in the archive database ``db`` (a sqlite_utils Database)."""
    return Verifier(db, public_key_pem, check_files, workers).run(checkpoint_note)


def _raw(key) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def _file_of(conn: sqlite3.Connection) -> str | None:
    """The database file behind ``conn`` (None in memory): worker processes open it read-only."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or None
    return None


def _check_unit(args) -> tuple[list, list]:
    path, table, lo, hi, raw_keys = args
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True, timeout=60)
    try:
        return check_rows(conn, table, lo, hi, raw_keys)
    finally:
        conn.close()


def _dicts(cursor) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor]


def _field(statement: str, name: str) -> str | None:
    """A top-level string field of a canonical statement, found without parsing it. Safe: inside
    a JSON string a quote is always escaped, so ``"name":"`` can only be the key itself; and
    the statement is then rebuilt from the row and compared byte for byte."""
    marker = f'"{name}":"'
    start = statement.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = statement.find('"', start)
    return statement[start:end] if end > 0 else None


def check_rows(conn, table: str, lo: int, hi: int, raw_keys: dict[str, bytes]):
    """Check the signed rows of ``table`` with rowids ``lo``..``hi``: rebuild each statement from
    its row, re-derive its content hashes, verify its signature. Pure reading; runs in workers.

    Returns ``([(table, id, leaf hash, signed_at, problems)], [(table, id) unsigned])``.
    """
    pk = PRIMARY_KEYS[table]
    rows = _dicts(conn.execute(f"SELECT * FROM {table} WHERE rowid BETWEEN ? AND ?", (lo, hi)))
    articles: dict[str, dict] = {}
    if table in ("claims", "image_uses"):
        articles = {
            a["id"]: a
            for a in _dicts(
                conn.execute(
                    "SELECT * FROM articles WHERE id IN "
                    f"(SELECT article_id FROM {table} WHERE rowid BETWEEN ? AND ?)",
                    (lo, hi),
                )
            )
        }
    keys: dict[str, Ed25519PublicKey] = {}
    checked, unsigned = [], []
    for row in rows:
        rid = row[pk]
        text = row.get("statement")
        if not text or not row.get("signature"):
            unsigned.append((table, rid))
            continue
        data = text.encode("utf-8")
        problems = _content_problems(table, row, conn, articles)
        key_id, signed_at = _field(text, "key_id"), _field(text, "signed_at")
        try:
            article = articles.get(row.get("article_id")) if "article_id" in row else None
            expected = statements.canonical(
                statements.build(table, row, key_id=key_id, signed_at=signed_at, article=article)
            )
            if expected != data:
                problems.append(f"statement does not match the row: {_diff(expected, data)}")
        except (ValueError, KeyError, TypeError) as e:
            problems.append(f"statement cannot be rebuilt ({e})")
        if key_id != row["key_id"]:
            problems.append("key_id differs from the statement's")
        raw = raw_keys.get(row["key_id"])
        if raw is None:
            problems.append(f"signed by an unknown or untrusted key {row['key_id']}")
        else:
            key = keys.get(row["key_id"]) or keys.setdefault(
                row["key_id"], Ed25519PublicKey.from_public_bytes(raw)
            )
            if not verify_signature(key, row["signature"], data):
                problems.append("signature does not verify")
        if table == "key_rotations" and row["old_key_id"] != row["key_id"]:
            problems.append("a rotation must be signed by the key it retires")
        checked.append((table, rid, merkle.leaf_hash(data), signed_at or "", problems))
    return checked, unsigned


def _diff(expected: bytes, actual: bytes) -> str:
    try:
        a, b = json.loads(expected), json.loads(actual)
    except ValueError:
        return "unreadable statement"
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "fields differ: " + ", ".join(keys) if keys else "bytes differ"
