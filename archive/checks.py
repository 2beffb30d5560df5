"""The checks ``archive verify`` spreads over worker processes: signed rows in chunks of rowids
(each row whole: statement, content hashes, signature, its ledger entry), the ledger's Merkle
tree, and the stored images. Pure reading, each on a connection of its own.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from . import merkle, statements
from .hashing import NORMALIZATION, article_text_sha256, text_sha256
from .keys import (
    canonical_base64,
    key_id_for,
    load_public_key_pem,
    rotation_message,
    verify_signature,
)
from .ledger import PRIMARY_KEYS


def _content_problems(table: str, row: dict, db, articles: dict) -> list[str]:
    """Hashes re-derived from the stored content."""
    problems = []
    if table == "articles":
        if article_text_sha256(row["text"]) != row["text_sha256"]:
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
        article = articles.get(row["article_id"])
        if article is None:  # (said once, not as each copied column that differs)
            problems.append(f"its article {row['article_id']} is missing")
        elif "captured_at" in row and row["captured_at"] != article.get("captured_at"):
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


def text_or_bytes(data: bytes) -> str | bytes:
    """Verify's text factory: a TEXT value that is not UTF-8 comes back as its bytes, as a BLOB
    does, for the check of its row to name (the default decoding stopped the whole run with
    "the database is damaged", naming no row, for one altered value)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data


#: A worker's read-only connection to the database it is verifying, opened on its first task.
_WORKER_CONN: dict[str, sqlite3.Connection] = {}


def in_worker(path: str, fn, *args):
    """Run ``fn(connection, *args)`` on this worker process's own read-only connection."""
    conn = _WORKER_CONN.get(path)
    if conn is None:
        uri = f"{Path(path).resolve().as_uri()}?mode=ro"
        conn = _WORKER_CONN[path] = sqlite3.connect(uri, uri=True, timeout=60)
    try:
        return fn(conn, *args)
    except sqlite3.OperationalError as e:
        if "decode" not in str(e):
            raise
    # A TEXT value that is not UTF-8: the task again, such values read as bytes (a Python call
    # per value, ~0.1 us: only where needed; pure reading, so running it twice changes nothing)
    conn.text_factory = text_or_bytes
    try:
        return fn(conn, *args)
    finally:
        conn.text_factory = str


@dataclass
class LedgerScan:
    """The ledger read in order: its size, what is wrong with its sequence, Merkle roots."""

    entries: int
    problems: list[tuple[int, str]]
    roots: dict[int, bytes]


def scan_ledger(conn, sizes: set[int]) -> LedgerScan:
    """Read the ledger's leaves in order and compute its Merkle roots at ``sizes`` and at its
    own size, streaming: memory stays O(log n) however long the ledger. Runs in a worker."""
    problems = []
    frontier, roots, previous = merkle.Frontier(), {}, -1
    if 0 in sizes:
        roots[0] = frontier.root()
    for seq, leaf_hex in conn.execute("SELECT seq, leaf_hash FROM ledger ORDER BY seq"):
        if seq != previous + 1:  # reported once per gap, not for every entry after it
            problems.append((seq, f"sequence gap: expected entry {previous + 1}"))
        previous = seq
        try:
            frontier.append(bytes.fromhex(leaf_hex))
        except (TypeError, ValueError):
            problems.append((seq, "leaf_hash is not a hex SHA-256 hash"))
            frontier.append(b"")
        if frontier.size in sizes:
            roots[frontier.size] = frontier.root()
    roots[frontier.size] = frontier.root()
    return LedgerScan(frontier.size, problems, roots)


def _dicts(cursor) -> list[dict]:
    # SQL's names are case-blind: a column renamed "Text" is still the text (it was a KeyError,
    # a traceback; the schema check names the renaming)
    names = [d[0].lower() for d in cursor.description]
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


@dataclass
class Chunk:
    """What a worker found in one chunk of one table's rows."""

    table: str
    verified: int = 0
    failed: dict[str, list[str]] = field(default_factory=dict)
    unsigned: list[str] = field(default_factory=list)
    #: (first seq, last seq, signed_at): the rows' ledger entries, consecutive ones with the
    #: same signing time merged, for the ledger-wide checks
    runs: list[tuple[int, int, str]] = field(default_factory=list)


# The statement's own signing time, always 20 characters (``statements.now_utc``); taken out of
# the statement without parsing it: if it is not there or has another length, the rebuilt text
# differs and the row takes the Python path.
_SIGNED_AT_SQL = """substr(t.statement, instr(t.statement, '"signed_at":"') + 13, 20)"""


def _statement_sql(table: str) -> str:
    """SQL for "is the stored statement exactly this row's statement?", built from the same field
    lists as ``statements.build``. SQLite's ``json_object`` writes compact JSON with the same
    escapes as RFC 8785 and keys in argument order (sorted here); where it still differs (a
    value RFC 8785 writes otherwise), the answer is only "not shown equal" and the row takes the
    Python path, which rebuilds the statement with ``statements.canonical``. Equal text means the
    statement holds exactly the row's values, checked in C at a few microseconds a row."""
    values = {
        "statement": f"'{statements.VERSION}'",
        "type": f"'{statements.TYPES[table]}'",
        # the row's own key_id: a statement naming another key then differs, and the Python
        # path says so
        "key_id": "t.key_id",
        "signed_at": _SIGNED_AT_SQL,
    }
    for name in statements.FIELDS[table]:
        values[name] = "json(t.authors)" if name == "authors" else f't."{name}"'
    if table in ("claims", "image_uses"):
        source = ", ".join(f"'{n}', a.\"{n}\"" for n in sorted(statements.SOURCE_FIELDS))
        values["source"] = f"CASE WHEN a.id IS NULL THEN NULL ELSE json_object({source}) END"
    pairs = ", ".join(f"'{name}', {values[name]}" for name in sorted(values))
    return f"json_object({pairs}) = t.statement"


def _ledger_join(table: str) -> str:
    article = table in ("claims", "image_uses")
    pk = PRIMARY_KEYS[table]
    return (
        f"FROM {table} t "
        + ("LEFT JOIN articles a ON a.id = t.article_id " if article else "")
        + f"LEFT JOIN ledger l ON l.record_table = '{table}' AND l.record_id = t.\"{pk}\" "
    )


def _query(conn, sql: str, table: str, params) -> list[tuple]:
    """Run ``sql`` with the statement check in SQL; if SQLite refuses a value (a BLOB, malformed
    authors JSON...), again without it: those rows take the Python path, which names the
    problem."""
    try:
        return conn.execute(sql.replace("{same}", _statement_sql(table)), params).fetchall()
    except sqlite3.Error:
        return conn.execute(sql.replace("{same}", "NULL"), params).fetchall()


#: The fast path's per-table content checks (see ``_content_problems`` for the same checks
#: with every problem named): columns (text, its hash), an SQL condition, the hash function.
_FAST = {
    "claims": (
        "t.text, t.text_sha256",
        f"t.normalization = '{NORMALIZATION}' AND t.captured_at IS a.captured_at",
        text_sha256,
    ),
    "articles": (
        "t.text, t.text_sha256",
        "EXISTS (SELECT 1 FROM capture_records r WHERE r.capture_sha256 = t.capture_sha256 AND "
        'r.member = t.warc_member AND r."offset" = t.warc_offset '
        "AND r.payload_sha256 = t.html_sha256)",
        article_text_sha256,
    ),
    "image_uses": (
        "NULL, NULL",
        "(coalesce(t.image_sha256, '') = '' OR "
        "EXISTS (SELECT 1 FROM images i WHERE i.sha256 = t.image_sha256))",
        None,
    ),
}


class _Rows:
    """Checks the rows of one chunk into a ``Chunk``."""

    def __init__(
        self, conn, table: str, lo: int, hi: int, raw_keys: dict[str, bytes], retired: dict
    ):
        self.conn, self.table, self.lo, self.hi = conn, table, lo, hi
        self.raw_keys, self.retired = raw_keys, retired
        self.keys: dict[str, Ed25519PublicKey] = {}
        self.chunk = Chunk(table)
        self.entries: list[tuple[int, str]] = []  # (seq, signed_at)
        self._articles: dict[str, dict] | None = None

    def key(self, key_id: str) -> Ed25519PublicKey | None:
        if key_id not in self.keys:
            raw = self.raw_keys.get(key_id)
            self.keys[key_id] = raw and Ed25519PublicKey.from_public_bytes(raw)
        return self.keys[key_id]

    def articles(self) -> dict[str, dict]:
        """The chunk's articles (claims' captured_at comes from them; statements need them)."""
        if self._articles is None:
            self._articles = {}
            if self.table in ("claims", "image_uses"):
                self._articles = {
                    a["id"]: a
                    for a in _dicts(
                        self.conn.execute(
                            "SELECT * FROM articles WHERE id IN (SELECT article_id FROM "
                            f"{self.table} WHERE rowid BETWEEN ? AND ?)",
                            (self.lo, self.hi),
                        )
                    )
                }
        return self._articles

    def run(self) -> Chunk:
        if self.table in _FAST:
            self.fast()
        else:
            self.full_rows(f"t.rowid BETWEEN {int(self.lo)} AND {int(self.hi)}")
        self.entries.sort()
        runs = self.chunk.runs
        for seq, signed_at in self.entries:
            if runs and runs[-1][1] == seq - 1 and runs[-1][2] == signed_at:
                runs[-1] = (runs[-1][0], seq, signed_at)
            else:
                runs.append((seq, seq, signed_at))
        return self.chunk

    def fast(self) -> None:
        """Most rows of an archive: the usual case checked with a narrow row, in a tight loop;
        any row that is not plainly fine is checked again whole by ``full_rows``."""
        table = self.table
        text, condition, text_hash = _FAST[table]
        rows = _query(
            self.conn,
            # the statement as bytes (what is signed), not decoded and encoded again
            f"SELECT t.rowid, {text}, CAST(t.statement AS BLOB), t.signature, t.key_id, l.seq, "
            f"l.leaf_hash, ({{same}}) AND {condition}, {_SIGNED_AT_SQL} {_ledger_join(table)} "
            "WHERE t.rowid BETWEEN ? AND ? ORDER BY t.rowid",
            table,
            (self.lo, self.hi),
        )
        again, entries, sha256, retired = [], self.entries, hashlib.sha256, self.retired
        previous, ok = None, False
        for rowid, text, hashed, data, signature, key_id, seq, leaf, same, at in rows:
            if rowid == previous:  # two ledger entries for one row: the unique index is gone
                if ok:
                    self.chunk.verified -= 1
                    entries.pop()
                if again[-1:] != [rowid]:
                    again.append(rowid)
                ok = False
                continue
            previous = rowid
            key = self.key(key_id)
            try:
                ok = (
                    same == 1
                    and key is not None
                    and seq is not None
                    and (key_id not in retired or seq <= retired[key_id])
                    and (text_hash is None or text_hash(text) == hashed)
                    and sha256(b"\x00" + data).hexdigest() == leaf  # the ledger leaf
                )
                if ok:
                    raw = binascii.a2b_base64(signature, strict_mode=True)
                    ok = binascii.b2a_base64(raw, newline=False) == signature.encode()
                if ok:
                    key.verify(raw, data)
            except Exception:  # noqa: BLE001 - any doubt: the row is checked again, whole
                ok = False
            if ok:
                self.chunk.verified += 1
                entries.append((seq, at))
            else:
                again.append(rowid)
        for start in range(0, len(again), 500):
            ids = ", ".join(str(int(r)) for r in again[start : start + 500])
            self.full_rows(f"t.rowid IN ({ids})")

    def full_rows(self, where: str) -> None:
        """Check whole rows, each problem named."""
        table, chunk = self.table, self.chunk
        pk = PRIMARY_KEYS[table]
        cursor = self.conn.execute(
            f"SELECT t.*, l.seq AS _seq, l.leaf_hash AS _leaf "
            f"{_ledger_join(table)} WHERE {where} ORDER BY t.rowid"
        )
        done: set[str] = set()
        for row in _dicts(cursor):
            rid = row[pk]
            if rid in done:  # a second ledger entry for the same row (the unique index is gone)
                if rid not in chunk.failed and rid not in chunk.unsigned:
                    chunk.verified -= 1
                chunk.failed.setdefault(rid, []).append(f"a second ledger entry ({row['_seq']})")
                if row["_seq"] is not None:
                    self.entries.append(
                        (row["_seq"], _field(row["statement"] or "", "signed_at") or "")
                    )
                continue
            done.add(rid)
            problems = self.problems(row)
            if problems is None:
                chunk.unsigned.append(rid)
            elif problems:
                chunk.failed[rid] = problems
            else:
                chunk.verified += 1

    def problems(self, row: dict) -> list[str] | None:
        """Every problem with one whole row (None: it is unsigned)."""
        table = self.table
        text = row.get("statement")
        if not text or not row.get("signature"):
            return None
        # a BLOB, or TEXT that is not UTF-8 (see text_or_bytes): named, and the row not rebuilt
        not_text = sorted(k for k, v in row.items() if isinstance(v, bytes) and k[0] != "_")
        data = text if isinstance(text, bytes) else text.encode("utf-8")
        text = data.decode("utf-8", "replace")
        key_id, signed_at = _field(text, "key_id"), _field(text, "signed_at")
        if not_text:
            problems = [f"{', '.join(not_text)}: not UTF-8 text (a BLOB, or bytes altered)"]
        else:
            articles = self.articles()
            problems = _content_problems(table, row, self.conn, articles)
            try:
                article = articles.get(row.get("article_id"))
                expected = statements.canonical(
                    statements.build(
                        table, row, key_id=key_id, signed_at=signed_at, article=article
                    )
                )
                if expected != data:
                    problems.append(f"statement does not match the row: {_diff(expected, data)}")
            except (ValueError, KeyError, TypeError) as e:
                problems.append(f"statement cannot be rebuilt ({e})")
        if key_id != row["key_id"]:
            problems.append("key_id differs from the statement's")
        if table == "captures" and not not_text and row["ingested_at"] != signed_at:
            problems.append("ingested_at differs from the statement's signed_at")
        key = self.key(row["key_id"])
        if key is None:
            problems.append(f"signed by an unknown or untrusted key {row['key_id']}")
        elif not verify_signature(key, row["signature"], data):
            problems.append(_signature_problem(row["signature"]))
        last = self.retired.get(row["key_id"])
        if last is not None and row["_seq"] is not None and row["_seq"] > last:
            problems.append(
                f"signed by {row['key_id']} after a rotation retired it (ledger entry {last})"
            )
        if table == "key_rotations" and row["old_key_id"] != row["key_id"]:
            problems.append("a rotation must be signed by the key it retires")
        seq = row["_seq"]
        if seq is None:
            problems.append("no ledger entry")
        else:
            if merkle.leaf_hash(data).hex() != row["_leaf"]:
                problems.append(f"ledger leaf {seq} does not match the statement")
            self.entries.append((seq, signed_at or ""))
        return problems


def check_rows(
    conn, table: str, lo: int, hi: int, raw_keys: dict[str, bytes], retired: dict | None = None
) -> Chunk:
    """Check the signed rows of ``table`` with rowids ``lo``..``hi``: each statement against its
    row, the content hashes, the signature, and the row's ledger entry (there, and with the
    statement's leaf hash). ``retired``: key id -> the ledger entry of the rotation that retired
    it (what it signed later fails). Pure reading; runs in workers."""
    return _Rows(conn, table, lo, hi, raw_keys, retired or {}).run()


def _signature_problem(signature) -> str:
    try:
        raw = base64.b64decode(signature, validate=True)
    except (ValueError, TypeError):
        return "signature is not base64"
    if not canonical_base64(raw, signature):
        return "signature is not written as its one standard base64 (its text was altered)"
    return "signature does not verify"


def _diff(expected: bytes, actual: bytes) -> str:
    try:
        a, b = json.loads(expected), json.loads(actual)
    except ValueError:
        return "unreadable statement"
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "fields differ: " + ", ".join(keys) if keys else "bytes differ"
