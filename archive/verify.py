"""Verify an archive: re-derive every hash and statement, check every signature, the ledger, its
Merkle root and checkpoints.

Three-way results per table (verified / failed / unsigned) and every problem named; nothing is
reported as passed unless it was checked.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from concurrent.futures import as_completed
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization

from . import checkpoint as cp
from .checks import Chunk, LedgerScan, check_rows, in_worker, scan_ledger, text_or_bytes
from .db_checks import (
    check_derived_counts,
    check_images,
    check_search_indexes,
    check_structure,
    database_file,
    schema_problems,
)
from .parallel import process_pool, stop_pool
from .schema import SIGNED_TABLES
from .trust import archive_trust
from .verify_files import Progress, check_capture_files, check_capture_records


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
    #: what an archivist should know that is not a failure (files the archive does not use)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing failed and nothing is unsigned: ``archive verify`` exits 0."""
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
            "notes": self.notes,
        }


class Verifier:
    """``archive verify``: every signed row's hashes, statement and signature, the ledger and
    its checkpoints, against the trusted keys; in worker processes for large archives."""

    #: below this many signed rows, starting processes costs more than it saves
    parallel_from = 4000
    #: rowids per unit of work
    chunk_rows = 2000

    def __init__(
        self,
        db,
        public_key_pem: str | None = None,
        check_files: bool = True,
        workers: int = 1,
        check_sqlite: bool = True,
        check_derived: bool = False,
        check_captures: bool = False,
        progress: Progress | None = None,
    ):
        self.workers = workers
        #: told how far each stage is: ``progress(stage, done, total)``
        self.progress = progress or (lambda stage, done, total: None)
        self.check_derived = check_derived
        self.check_captures = check_captures
        self.db = db
        self.report = Report()
        self.pinned = public_key_pem
        self.check_files = check_files
        self.check_sqlite = check_sqlite

    def run(self, checkpoint_note: str | None = None) -> Report:
        # One snapshot for the whole run: this read transaction's shared lock keeps any ingest
        # from committing until verify is done (the ingest waits), so the rows, the ledger and
        # the checkpoints, read here and by the workers' own connections, are of one moment
        # (an ingest committing in between made verify report its new rows as problems).
        conn = self.db.conn
        began = not conn.in_transaction
        factory, conn.text_factory = conn.text_factory, text_or_bytes
        if began:
            conn.execute("BEGIN")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()  # takes the lock
            return self._run(checkpoint_note)
        finally:
            conn.text_factory = factory
            if began and conn.in_transaction:
                conn.execute("ROLLBACK")

    def _run(self, checkpoint_note: str | None) -> Report:
        keys, self.retired = self._keys()
        checkpoints = self.db.execute(
            "SELECT id, origin, tree_size, root_hash, note, key_id FROM checkpoints ORDER BY id"
        ).fetchall()
        sizes = {row[2] for row in checkpoints}
        for row in checkpoints:  # the size each note signs too: a column may have been edited
            with contextlib.suppress(ValueError):
                if isinstance(row[4], str):
                    sizes.add(cp.parse(row[4])[0].size)
        if checkpoint_note is not None:
            try:
                sizes.add(cp.parse(checkpoint_note)[0].size)
            except ValueError:
                pass  # reported by _outside_checkpoint
        chunks, found = self._check(keys, sizes)
        self._structure(found.get("structure"))
        self._schema()
        self._search_indexes(found.get("indexes"))
        self._derived(found.get("derived") or [])
        self._ledger(chunks, found["ledger"])
        self._checkpoints(checkpoints, found["ledger"], keys, checkpoint_note)
        self._images(*found["images"])
        if self.check_files:
            check_capture_files(self.db, self.report, self.progress)
        if self.check_captures:
            check_capture_records(self.db, self.report, self.workers, self.progress)
        return self.report

    # -- keys ------------------------------------------------------------------------------
    def _keys(self) -> tuple[dict, dict[str, int]]:
        """The trusted keys by id, and for each key a rotation retired, the rotation's ledger
        entry (archive/trust.py); what is wrong with the keys table, reported."""
        trust = archive_trust(self.db, self.pinned)
        self.report.trust = trust.line
        for key_id, problem in trust.problems:
            self.report.fail("keys", key_id, problem)
        self.has_keys = trust.has_keys
        return trust.keys, trust.retired

    # -- the work: signed rows, the ledger's leaves, images ----------------------------------
    def _check(self, keys, sizes: set[int]) -> tuple[list[Chunk], dict]:
        """Check every signed row, in chunks of rowids: each row whole (statement, content
        hashes, signature, its ledger entry); hash the ledger's Merkle tree; hash the images;
        SQLite's checks of the file and of the search indexes. For a large archive all of it
        runs in worker processes that read the database themselves, so every part of the work
        is spread over the cores. The rows' chunks, and what each whole-file check found (by
        its name in ``_whole_file_checks``).
        """
        raw_keys = {key_id: _raw(key) for key_id, key in keys.items()}
        units = []
        total = 0
        for table in SIGNED_TABLES:
            # three subqueries, not one: with min and max beside it, count(*) loses its fast
            # path and SQLite reads the whole of a covering index in this one process (0.1-0.3 s
            # on 691,000 claims warm, seconds cold) before any worker starts
            lo, hi, n = self.db.execute(
                f"SELECT (SELECT min(rowid) FROM {table}), (SELECT max(rowid) FROM {table}), "
                f"(SELECT count(*) FROM {table})"
            ).fetchone()
            total += n
            if not n:
                continue
            if hi - lo + 1 == n:  # no rowid missing (the usual case): plan by arithmetic
                starts = list(range(lo, hi + 1, self.chunk_rows))
            else:
                # chunk boundaries from the rowids themselves: a damaged or forged database
                # may have rowids far apart, and must not make verify plan billions of chunks
                rowids = [
                    r for (r,) in self.db.execute(f"SELECT rowid FROM {table} ORDER BY rowid")
                ]
                starts = rowids[:: self.chunk_rows]
            for i, start in enumerate(starts):
                end = starts[i + 1] - 1 if i + 1 < len(starts) else hi
                units.append((table, start, end))
        path = database_file(self.db.conn)
        whole = self._whole_file_checks(sizes)
        if self.workers <= 1 or total < self.parallel_from or path is None:
            conn = self.db.conn
            rows = self._rows_done(
                (check_rows(conn, *u, raw_keys, self.retired) for u in units), total
            )
            found = {}
            for name, (fn, args) in whole.items():
                self.progress("database", len(found), len(whole))
                found[name] = fn(conn, *args)
            self.progress("database", len(found), len(whole))
            return rows, found
        pool = process_pool(self.workers)
        try:
            # the file, the ledger and the images first: they are one task each, the rows many
            futures = {
                name: pool.submit(in_worker, path, fn, *args) for name, (fn, args) in whole.items()
            }
            rows = [
                pool.submit(in_worker, path, check_rows, *u, raw_keys, self.retired) for u in units
            ]
            rows = self._rows_done((f.result() for f in rows), total)
            # told as they end: SQLite's check of a large file may run on after the rows
            done = sum(f.done() for f in futures.values())
            self.progress("database", done, len(futures))
            for _ in as_completed([f for f in futures.values() if not f.done()]):
                done += 1
                self.progress("database", done, len(futures))
            return rows, {name: f.result() for name, f in futures.items()}
        finally:
            # on success every task is done; after an interrupt or an error, the queued ones
            # would still run to the end (a minute on a large archive) before the exit
            stop_pool(pool, cancel=True)

    def _whole_file_checks(self, sizes: set[int]) -> dict[str, tuple]:
        """The checks of the database as a whole, one task each: name -> (function, its
        arguments after the connection). SQLite's own checks first: the longest."""
        checks = {}
        if self.check_sqlite:
            checks["structure"] = (check_structure, ())
            checks["indexes"] = (check_search_indexes, ())
        if self.check_derived:
            checks["derived"] = (check_derived_counts, ())
        checks["ledger"] = (scan_ledger, (sizes,))
        checks["images"] = (check_images, ())
        return checks

    def _rows_done(self, chunks: Iterable[Chunk], total: int) -> list[Chunk]:
        """The chunks, each as it is done, ``progress`` told how many rows are checked."""
        done, found = 0, []
        for chunk in chunks:
            found.append(chunk)
            done += chunk.verified + len(chunk.failed) + len(chunk.unsigned)
            self.progress("records", min(done, total), total)
        return found

    def _structure(self, problems: list[str] | None) -> None:
        if problems is None:
            return
        self.report.count("database file", "failed" if problems else "verified")
        for problem in problems:
            name = database_file(self.db.conn) or "-"
            self.report.fail("database file", name, f"SQLite's integrity_check: {problem}")

    def _schema(self) -> None:
        """The tables, views and triggers as the migrations make them: what Datasette shows
        through a view is not signed, so a view rewritten in the file is reported here."""
        problems = schema_problems(self.db.conn)
        self.report.count("schema", "failed" if problems else "verified")
        for name, problem in problems:
            self.report.fail("schema", name, problem)

    def _search_indexes(self, found: tuple[int, list[tuple[str, str]]] | None) -> None:
        if found is None:
            return
        verified, problems = found
        for _ in range(verified):
            self.report.count("search indexes", "verified")
        for name, problem in problems:
            self.report.count("search indexes", "failed")
            self.report.fail("search indexes", name, problem)

    def _derived(self, found: list[tuple[str, int, list[tuple[str, str]]]]) -> None:
        for table, verified, problems in found:
            self.report.counts[table] = {"verified": verified, "failed": 0, "unsigned": 0}
            for row, problem in problems:
                self.report.count(table, "failed")
                self.report.fail(table, row, problem)

    # -- ledger, Merkle root, checkpoints -----------------------------------------------------
    def _ledger(self, chunks: list[Chunk], ledger: LedgerScan) -> None:
        """The ledger as a whole: no gaps, no entry without its row, ``signed_at`` never going
        back, then the Merkle roots. Each row's own entry (present, leaf hash) was checked with
        the row."""
        report = self.report
        problems: dict[tuple[str, str], list[str]] = {}
        verified: dict[str, int] = {}
        runs: list[tuple[int, int, str]] = []
        for chunk in chunks:
            report.counts.setdefault(chunk.table, {"verified": 0, "failed": 0, "unsigned": 0})
            for rid in chunk.unsigned:
                report.count(chunk.table, "unsigned")
                report.fail(chunk.table, rid, "unsigned (no statement or signature)")
            for rid, found in chunk.failed.items():
                problems[(chunk.table, rid)] = found
            verified[chunk.table] = verified.get(chunk.table, 0) + chunk.verified
            runs += chunk.runs
        for seq, problem in ledger.problems:
            report.fail("ledger", seq, problem)
        runs.sort()

        def entry(seq: int) -> tuple[str, str]:
            return tuple(
                self.db.execute(
                    "SELECT record_table, record_id FROM ledger WHERE seq = ?", (seq,)
                ).fetchone()
            )

        # entries no row claimed: rows were deleted (only looked for when the counts differ)
        if sum(last - first + 1 for first, last, _ in runs) != ledger.entries:
            covered = {seq for first, last, _ in runs for seq in range(first, last + 1)}
            for (seq,) in self.db.execute("SELECT seq FROM ledger ORDER BY seq"):
                if seq not in covered:
                    table, rid = entry(seq)
                    report.fail(
                        "ledger", seq, f"entry for {table} {rid}, which is not in the archive"
                    )
        last_signed_at = ""
        for first, last, signed_at in runs:
            if signed_at < last_signed_at:
                for seq in range(first, last + 1):
                    key = entry(seq)
                    if key not in problems:
                        problems[key] = []
                        verified[key[0]] -= 1  # the row's own checks had passed
                    problems[key].append(
                        f"signed_at {signed_at} is earlier than the ledger entry before it "
                        f"({last_signed_at}): backdated or reordered"
                    )
            last_signed_at = max(last_signed_at, signed_at)
        for table, n in verified.items():
            report.counts[table]["verified"] += n
        for (table, rid), found in problems.items():
            report.count(table, "failed")
            report.fail(table, rid, "; ".join(found))

    def _checkpoints(self, rows, ledger: LedgerScan, keys, checkpoint_note: str | None) -> None:
        """Each checkpoint: its signature, and its root against the ledger's at its size; the
        latest against the ledger's size; one an auditor kept (``--checkpoint``) too."""
        first_origin = rows[0][1] if rows else None  # the first checkpoint fixed the log's name
        by_size: dict[int, str] = {}
        for row in rows:
            self._checkpoint(row, first_origin, keys, ledger, by_size)
        self.report.ledger = {"entries": ledger.entries, "root": ledger.roots[ledger.entries].hex()}
        self._latest(rows[-1] if rows else None, ledger.entries)
        if checkpoint_note is not None:
            self._outside_checkpoint(checkpoint_note, keys, ledger.roots.get, first_origin)

    def _checkpoint(self, row, first_origin, keys, ledger: LedgerScan, by_size: dict) -> None:
        """One checkpoint row (``by_size``: the roots of those before it, by tree size)."""
        report = self.report
        cid, origin, size, root_hex, note, key_id = row
        if any(isinstance(v, bytes) for v in (origin, root_hex, note, key_id)):
            report.fail("checkpoints", cid, "not UTF-8 text (a BLOB, or bytes altered)")
            return
        if origin != first_origin:
            report.fail(
                "checkpoints",
                cid,
                f"a checkpoint of another log ({origin}), not of this archive ({first_origin})",
            )
        key = keys.get(key_id)
        parsed = cp.verify(note, origin, key) if key else None
        if parsed is not None:
            # a column alone edited (what Datasette shows) is named; the signed note's size and
            # root are what is checked against the ledger below, so an intact ledger is not
            # reported as changed (an auditor's review)
            if parsed.size != size:
                report.fail("checkpoints", cid, "tree_size differs from the size its note signs")
            if parsed.root.hex() != root_hex:
                report.fail("checkpoints", cid, "root_hash differs from the root its note signs")
            size, root_hex = parsed.size, parsed.root.hex()
        if key is None:
            report.fail("checkpoints", cid, f"signed by an unknown or untrusted key {key_id}")
        elif parsed is None:
            report.fail("checkpoints", cid, "signature does not verify")
        elif self._signed_after_retired(key_id, size):
            report.fail(
                "checkpoints",
                cid,
                f"signed by {key_id} after a rotation retired it (ledger entry "
                f"{self.retired[key_id]})",
            )
        if size in by_size and by_size[size] != root_hex:
            report.fail("checkpoints", cid, f"fork: two different roots at tree size {size}")
        by_size[size] = root_hex
        expected = ledger.roots.get(size)
        if expected is None:
            report.fail(
                "checkpoints",
                cid,
                f"covers {size} entries but the ledger has {ledger.entries} (truncated ledger)",
            )
        elif expected.hex() != root_hex:
            report.fail(
                "checkpoints",
                cid,
                f"root at size {size} does not match the ledger "
                "(entries changed, reordered or removed)",
            )

    def _latest(self, row, entries: int) -> None:
        """The latest checkpoint (``row``; None: there is none) against the ledger's size."""
        report = self.report
        if row is None:
            if entries:
                report.fail("checkpoints", "-", "the ledger has entries but no checkpoint")
            elif self.has_keys:  # the first ingest writes its key, entries and checkpoint at once
                report.fail(
                    "checkpoints",
                    "-",
                    "the archive has a signing key but no ledger entries and no checkpoint: "
                    "its history was removed",
                )
            elif self.pinned is not None:  # its keys removed too: the pinned key signed nothing
                report.fail(
                    "checkpoints",
                    "-",
                    "the archive holds nothing the pinned key signed: no ledger entries, no "
                    "checkpoint",
                )
        elif row[2] != entries:
            report.fail(
                "checkpoints",
                row[0],
                f"latest checkpoint covers {row[2]} entries, the ledger has {entries}",
            )

    def _signed_after_retired(self, key_id, tree_size: int) -> bool:
        """A checkpoint of ``tree_size`` entries signed by a key retired before the last of
        them (the rotation's own checkpoint, signed by the key it retires, is fine)."""
        last = self.retired.get(key_id)
        return last is not None and tree_size > last + 1

    def _outside_checkpoint(self, note: str, keys, root_at, origin: str | None) -> None:
        """Check the archive against a checkpoint an auditor kept earlier, outside it."""
        report = self.report
        try:
            parsed, _ = cp.parse(note)
        except ValueError as e:
            report.fail("--checkpoint", "file", str(e))
            return
        if origin is not None and parsed.origin != origin:
            # another archive's (one key may sign several): its root would read as a rewrite
            report.fail(
                "--checkpoint",
                parsed.size,
                f"a checkpoint of another log ({parsed.origin}), not of this archive ({origin})",
            )
            return
        signers = [k for k, key in keys.items() if cp.verify(note, parsed.origin, key)]
        if not signers:
            problem = "not signed by a trusted key"
            if root_at(parsed.size) is None:
                # a cut-off ledger takes the rotation to the key that signed it with it (an
                # auditor's review: the message named the key, not what was removed)
                problem += (
                    ", and the archive now has fewer entries than it: entries were removed "
                    "(the key rotation to the key that signed it among them?)"
                )
            report.fail("--checkpoint", parsed.size, problem)
            return
        if all(self._signed_after_retired(k, parsed.size) for k in signers):
            report.fail(
                "--checkpoint", parsed.size, f"signed by {signers[0]} after a rotation retired it"
            )
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
    def _images(self, verified: int, altered: list[tuple[str, str]]) -> None:
        if verified:
            self.report.counts.setdefault("images", {"verified": 0, "failed": 0, "unsigned": 0})
            self.report.counts["images"]["verified"] += verified
        for sha, problem in altered:
            self.report.count("images", "failed")
            self.report.fail("images", sha, problem)


def verify(
    db,
    public_key_pem: str | None = None,
    check_files: bool = True,
    checkpoint_note: str | None = None,
    workers: int = 1,
    check_sqlite: bool = True,
    check_derived: bool = False,
    check_captures: bool = False,
    progress: Progress | None = None,
) -> Report:
    """Check everything in the archive database ``db`` (a sqlite_utils Database); with
    ``check_derived``, also the counts the views read, recounted from the claims; with
    ``check_captures``, also what ingest recorded of each capture's records, against the file;
    ``progress(stage, done, total)`` is told how far each long stage is ("records": signed rows
    checked; "database": the checks of the database as a whole, SQLite's own, the ledger's
    Merkle tree and the images; "capture files" and "capture records": bytes of the stored
    files)."""
    return Verifier(
        db,
        public_key_pem,
        check_files,
        workers,
        check_sqlite,
        check_derived,
        check_captures,
        progress,
    ).run(checkpoint_note)


def _raw(key) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
