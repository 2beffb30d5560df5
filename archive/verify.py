"""Verify an archive: re-derive every hash and statement from the rows, check every signature.

Three-way results per table (verified / failed / unsigned) and every problem named; nothing is
reported as passed unless it was checked. Issue 4 adds the ledger's Merkle root and checkpoints.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from . import statements
from .config import captures_dir
from .db import SIGNED_TABLES
from .hashing import NORMALIZATION, file_sha256, sha256_hex, text_sha256
from .keys import key_id_for, load_public_key_pem, verify_signature

PRIMARY_KEYS = {"captures": "sha256", "articles": "id", "claims": "id", "image_uses": "id"}


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
            "failures": [f.__dict__ for f in self.failures],
        }


def _content_problems(table: str, row: dict, db) -> list[str]:
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
        if row["normalization"] != NORMALIZATION:
            problems.append(f"unknown normalization {row['normalization']!r}")
        elif text_sha256(row["text"]) != row["text_sha256"]:
            problems.append("text does not match text_sha256")
    elif table == "image_uses" and row["image_sha256"]:
        if not db.execute(
            "SELECT 1 FROM images WHERE sha256 = ?", (row["image_sha256"],)
        ).fetchone():
            problems.append("image_sha256 names no image in the images table")
    return problems


def verify(db, public_key_pem: str | None = None, check_files: bool = True) -> Report:
    """Check everything in the archive database ``db`` (a sqlite_utils Database)."""
    report = Report()
    keys = {}
    for key_id, pem in db.execute("SELECT key_id, public_key FROM keys"):
        try:
            key = load_public_key_pem(pem, f"keys table, key {key_id}")
        except Exception as e:  # noqa: BLE001 - a damaged key row is a finding, not a crash
            report.fail("keys", key_id, str(e))
            continue
        if key_id_for(key) != key_id:
            report.fail("keys", key_id, "key_id does not match the stored public key")
            continue
        keys[key_id] = key
    if public_key_pem:
        pinned = load_public_key_pem(public_key_pem, "--public-key")
        pinned_id = key_id_for(pinned)
        report.trust = f"pinned key {pinned_id}"
        keys = {pinned_id: pinned}
    else:
        report.trust = (
            "trusting the key(s) found in the database: "
            + (", ".join(sorted(keys)) or "none")
            + " (pin one with --public-key)"
        )

    articles = {r["id"]: r for r in db.query("SELECT * FROM articles")}
    leaves = {
        (t, rid): (seq, leaf)
        for seq, leaf, t, rid in db.execute(
            "SELECT seq, leaf_hash, record_table, record_id FROM ledger"
        )
    }
    seen_leaves = set()
    for table in SIGNED_TABLES:
        pk = PRIMARY_KEYS[table]
        rows = articles.values() if table == "articles" else db.query(f"SELECT * FROM {table}")
        for row in rows:
            rid = row[pk]
            if not row.get("statement") or not row.get("signature"):
                report.count(table, "unsigned")
                report.fail(table, rid, "unsigned (no statement or signature)")
                continue
            problems = _content_problems(table, row, db)
            data = row["statement"].encode("utf-8")
            try:
                stmt = statements.parse(row["statement"])
                article = articles.get(row.get("article_id")) if "article_id" in row else None
                expected = statements.canonical(
                    statements.build(
                        table,
                        row,
                        key_id=stmt.get("key_id"),
                        signed_at=stmt.get("signed_at"),
                        article=article,
                    )
                )
                if expected != data:
                    problems.append("statement does not match the row: " + _diff(expected, data))
            except (ValueError, KeyError, TypeError) as e:
                problems.append(f"statement cannot be rebuilt ({e})")
                stmt = {}
            if stmt.get("key_id") != row["key_id"]:
                problems.append("key_id differs from the statement's")
            key = keys.get(row["key_id"])
            if key is None:
                problems.append(f"signed by an unknown or untrusted key {row['key_id']}")
            elif not verify_signature(key, row["signature"], data):
                problems.append("signature does not verify")
            leaf = leaves.get((table, rid))
            if leaf is None:
                problems.append("no ledger entry")
            else:
                seen_leaves.add((table, rid))
                if leaf[1] != hashlib.sha256(b"\x00" + data).hexdigest():
                    problems.append(f"ledger leaf {leaf[0]} does not match the statement")
            if problems:
                report.count(table, "failed")
                report.fail(table, rid, "; ".join(problems))
            else:
                report.count(table, "verified")
    for (table, rid), (seq, _) in sorted(leaves.items(), key=lambda kv: kv[1][0]):
        if (table, rid) not in seen_leaves:
            report.fail("ledger", seq, f"entry for {table} {rid}, which is not in the archive")

    for sha, content in db.execute("SELECT sha256, content FROM images"):
        if sha256_hex(content) != sha:
            report.count("images", "failed")
            report.fail("images", sha, "content does not match sha256")
        else:
            report.count("images", "verified")

    if check_files:
        home = captures_dir(db.conn.execute("PRAGMA database_list").fetchone()[2] or ".")
        for sha, stored in db.execute("SELECT sha256, stored_path FROM captures"):
            path = Path(home).parent / stored
            if not path.exists():
                report.fail("capture files", sha, f"stored capture missing: {path}")
            elif file_sha256(path) != sha:
                report.fail("capture files", sha, f"stored capture altered: {path}")
    return report


def _diff(expected: bytes, actual: bytes) -> str:
    try:
        a, b = json.loads(expected), json.loads(actual)
    except ValueError:
        return "unreadable statement"
    keys = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
    return "fields differ: " + ", ".join(keys) if keys else "bytes differ"
