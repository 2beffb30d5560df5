"""Ingest: capture files in, signed rows out, one SQLite transaction per file.

Reading and extraction are pure (``worker.process_record``, run in workers); signing and
writing happen here, in one process, holding the key. A file either goes in whole or not at
all: any error rolls back the transaction and removes the stored copy this ingest made, so the
archive is exactly as before.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from . import statements, stops
from .capture_files import identify
from .changes import image_shown
from .config import Limits, captures_dir
from .db import connect, is_locked
from .errors import CaptureError, ClockError, ClusterError, KeyFileError
from .hashing import NORMALIZATION, article_text_sha256, sha256_hex, text_sha256
from .image_links import PhashIndex
from .ingest_failures import failure, strict_failure
from .keys import Signer
from .ledger import SignedWriter, prepare
from .leftovers import sweep, sweep_copies
from .links import Linker
from .pending import PendingImages
from .quote_links import QuoteIndex
from .reader import CaptureReader, read_payload
from .reading import Reading
from .schema import FTS_COLUMNS, index_text, max_rowid
from .similarity import remember
from .stored import drop_copy, has_capture, store_copy, stored_suffix
from .summaries import Summaries
from .wacz_check import check_wacz
from .worker import (
    NOT_EXTRACTED,
    Context,
    Processed,
    article_id,
)


@dataclass
class FileResult:
    """What happened to one capture file."""

    path: str
    sha256: str | None = None
    status: str = "pending"  # ingested | already | failed
    articles: int = 0
    claims: int = 0
    images: int = 0
    skipped: int = 0
    digest_failures: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Ahead:
    """The next file, started before its transaction (``Ingester._start_next``)."""

    path: Path
    fmt: str
    sha: str
    stored: Path
    created_copy: bool
    signed_at: str
    reading: Reading | None = None


class Ingester:
    """Signs and writes. ``clock`` returns the signing time (injected so tests are byte-exact)."""

    #: the next file is started ahead only up to this size: it is hashed and copied while the
    #: file before holds the write lock (the gain is for small files: large ones have their
    #: own pages to overlap with their finish)
    ahead_bytes = 32 << 20

    def __init__(
        self,
        db_path: str | Path,
        signer: Signer,
        limits: Limits | None = None,
        clock: Callable[[], str] = statements.now_utc,
        executor=None,
    ):
        """``executor``: where extraction runs (a process pool, a Dask client); None for here."""
        self.executor = executor
        #: called with how many bytes of the capture file are read, after each record is written
        #: (a progress bar within one large file)
        self.on_progress: Callable[[int], None] | None = None
        #: a file that would go in with warnings (a WACZ that fails its own check, failed
        #: digests, a record skipped) fails instead, and nothing of it is kept (``--strict``)
        self.strict = False
        self.db_path = Path(db_path)
        self.signer = signer
        self.limits = limits or Limits()
        self.clock = clock
        self.db = connect(self.db_path)
        self.conn: sqlite3.Connection = self.db.conn
        #: temporary files that killed runs left (their processes are gone), removed
        self.swept = sweep(self.db_path) + sweep_copies(self.conn, self.db_path)
        self.writer = SignedWriter(self.conn, signer, self.db_path, clock)
        # per capture file, reset by _write_capture
        self._capture_sha, self._path, self._source = "", Path(), Path()
        self.linker: Linker | None = None
        #: the archive's image pHashes and speakers' quotes, kept for the run's captures
        self.phashes, self.quotes = PhashIndex(), QuoteIndex()
        self.summaries: Summaries | None = None
        #: the file being ingested: after an interrupt, what it had reached (see interrupted)
        self.in_progress: FileResult | None = None
        # the file being written, the one to start when its last record is sent, and that one
        # once started (``_start_next``)
        self._current: Reading | None = None
        self._next_path: Path | None = None
        self._ahead: _Ahead | None = None

    # -- ingest ----------------------------------------------------------------------------
    def ingest(self, paths: Iterable[str | Path], on_file=None) -> list[FileResult]:
        results = []
        paths = list(paths)
        try:
            for i, path in enumerate(paths):
                result = self.ingest_file(path, next_path=(paths[i + 1 :] or [None])[0])
                results.append(result)
                if on_file:
                    on_file(result)
        finally:
            self.drop_ahead()
        return results

    def ingest_file(self, path: str | Path, next_path: str | Path | None = None) -> FileResult:
        """Ingest one capture file in one transaction. Never raises for a bad file; raises
        :class:`DatabaseError` when the archive database itself is damaged, and
        :class:`KeyFileError` when its key has been retired (a rotation while this ran).
        ``next_path``: the file to be ingested next, started while this one is finished (call
        :meth:`drop_ahead` if it is not then ingested)."""
        stops.check()  # one a library swallowed after the last file's last record
        path = Path(path)
        result = self.in_progress = FileResult(path=str(path))
        self._next_path = Path(next_path) if next_path is not None else None
        if self._ahead is not None and self._ahead.path != path:
            self.drop_ahead()  # started for a file that did not come next
        ahead, self._ahead = self._ahead, None
        stored: Path | None = None
        created_copy = False
        try:
            if ahead is not None:  # checked, hashed and copied while the file before finished
                fmt, sha, stored = ahead.fmt, ahead.sha, ahead.stored
                result.sha256, created_copy = sha, ahead.created_copy
            else:
                fmt, result.sha256 = identify(path)
                sha = result.sha256
                if has_capture(self.conn, sha):
                    result.status = "already"
                    return result
                # everything below reads the stored copy, whose hash is checked as it is made:
                # the file given may change while it is ingested, the capture recorded may not
                stored, created_copy = self._copy(path, fmt, sha)
            checked = False  # in the transaction, the capture found not in the archive
            try:
                # in the try: a BEGIN that holds but a first write that fails (a read-only file)
                # must be rolled back, or every later file meets a transaction left open
                if ahead is not None:
                    self.writer.begin(ahead.signed_at)
                else:
                    self.writer.begin()
                self.writer.check_key()
                if has_capture(self.conn, sha):  # another ingest finished it while we waited
                    self.writer.rollback()
                    result.status = "already"
                    return result
                checked = True
                if not stored.exists():  # another ingest of this file made it, then failed
                    created_copy = store_copy(path, stored, sha) or created_copy
                self._write_capture(
                    path, sha, fmt, stored, result, ahead.reading if ahead else None
                )
                # a stop swallowed after the last record (links, counts): rolled back too
                stops.check()
                # raises only before its COMMIT: after it, nothing undoes the capture
                warning = self.writer.commit()
            except BaseException as e:
                if not self.writer.committed:
                    # first: they may hold this transaction's rows, and what follows may raise
                    self.phashes.forget()
                    self.quotes.forget()
                # after a wait for the lock that timed out, waiting again would double it: the
                # copy stays, for the next ingest's sweep
                if created_copy and not self.writer.committed and not is_locked(e):
                    drop_copy(self.conn, stored, sha, checked)
                self.writer.rollback()
                raise
            if warning:
                result.warnings.append(warning)
            result.status = "ingested"
        except (KeyFileError, ClusterError, ClockError):
            stops.check()  # a Ctrl-C a library (Dask's client) made into one of these
            # a retired key, a failed cluster, a clock behind: no later file can go in either
            raise
        except Exception as e:  # noqa: BLE001 - one line for the archivist, never a traceback
            try:
                error = failure(self.db_path, path, e, self.executor)
                result.status, result.error = "failed", error
            finally:
                # after failure(), which kills what is left of a broken pool: a library that
                # made a Ctrl-C into an error of its own stopped the run
                stops.check()
        finally:
            if ahead is not None and ahead.reading is not None:
                ahead.reading.close()  # whatever its turn came to, its file is closed now
        # The stored copy is removed only while the write lock is held (above): here another
        # ingest of the same file may have committed with it. A copy left behind is removed by
        # the next ingest's sweep (``sweep_copies``), and verify names it meanwhile.
        return result

    def _copy(self, path: Path, fmt: str, sha: str) -> tuple[Path, bool]:
        """The archive's copy of the capture file, and whether this call made it."""
        stored = captures_dir(self.db_path) / f"{sha}{stored_suffix(path, fmt)}"
        return stored, store_copy(path, stored, sha)

    def _trusted_workers(self) -> bool:
        """Workers forked from this process prepare statements too; a cluster's send rows only,
        and their statements are built here (a worker's bug cannot make the key sign other
        bytes). Not a defence against a compromised cluster worker: Dask unpickles its results
        here (docs/scaling.md)."""
        return self.executor is None or isinstance(self.executor, ProcessPoolExecutor)

    def interrupted(self) -> FileResult | None:
        """After an interrupt (KeyboardInterrupt out of :meth:`ingest_file`): the file it was
        ingesting, status "ingested" if its COMMIT had already been made (an interrupt can land
        just after it), else "failed"; None if no file was under way."""
        result = self.in_progress
        if result is None:
            return None
        committed = bool(result.sha256) and has_capture(self.conn, result.sha256)
        result.status = "ingested" if committed else "failed"
        return result

    def _write_capture(
        self,
        path: Path,
        sha: str,
        fmt: str,
        stored: Path,
        result: FileResult,
        reading: Reading | None = None,
    ):
        """The capture's rows, in the open transaction: its own, then every record's as the
        workers return them in file order (``reading``, if they were sent ahead), then its
        image uses, links and counts."""
        capture, wacz_warnings = self._capture_row(path, sha, fmt, stored)
        if self.strict and wacz_warnings:  # (before a page is read)
            raise strict_failure(wacz_warnings[0], path)
        self.writer.insert("captures", capture)
        self._capture_sha, self._path, self._source = sha, path, stored
        images_from = max_rowid(self.conn, "images")
        self.linker = Linker(self.conn, sha, self.phashes, self.quotes)
        self.summaries = Summaries(self.conn)
        text_from = {table: max_rowid(self.conn, table) for table in FTS_COLUMNS}
        reading = reading or self._read(path, sha, stored, self.writer.signed_at)
        self._current = reading
        if reading.ended:  # all of it was read ahead: the next file can start now
            self._start_next(reading)
        # An article's image may come after it in the file: its image uses are written after
        # the last record. Until then the images seen and the uses waiting are kept in
        # temporary tables, not in memory, so that memory stays flat in the pages per capture.
        pending = PendingImages(self.conn)
        try:
            for p in reading:
                if self.on_progress is not None:
                    self.on_progress(reading.reader.position)
                self._take(p, pending, path, result)
        finally:
            reading.close()
        for article_row, position, ref in pending.all_uses():
            self._write_image_use(article_row, position, ref, pending.found(ref.url), path, result)
        pending.close()
        new_images = [
            sha
            for (sha,) in self.conn.execute(
                "SELECT sha256 FROM images WHERE rowid > ? ORDER BY rowid", (images_from,)
            )
        ]
        self.linker.finish(new_images)
        self.summaries.finish()
        for table, after in text_from.items():
            index_text(self.conn, table, after)
        result.warnings[:0] = wacz_warnings + reading.reader.warnings  # before the pages' own
        if self.strict and (result.warnings or result.digest_failures):
            first = (
                result.warnings[0]
                if result.warnings
                else f"{result.digest_failures} record(s) whose WARC digest does not match"
            )
            result.warnings.clear()  # (said in the error, not again as a warning)
            raise strict_failure(first, path)
        self.conn.execute(
            "UPDATE captures SET records = ?, articles = ?, claims = ?, images = ?, skipped = ?, "
            "digest_failures = ? WHERE sha256 = ?",
            (
                reading.reader.records_seen,
                result.articles,
                result.claims,
                result.images,
                result.skipped,
                result.digest_failures,
                sha,
            ),
        )

    def _read(self, path: Path, sha: str, stored: Path, signed_at: str) -> Reading:
        """Start sending the stored capture's records to the workers, in file order."""
        context = Context(sha, self.signer.key_id, signed_at, statements=self._trusted_workers())
        reader = CaptureReader(stored, self.limits, name=path)
        return Reading(reader, self.limits, context, self.executor, on_end=self._start_next)

    def _start_next(self, reading: Reading) -> None:
        """Once the file being ingested has sent its last record, start the next one: checked,
        hashed, copied and its first records sent, so that the workers extract them while this
        file's links, counts and commit are written. Its signing time is taken now, and taken
        again at its BEGIN if another ingest has committed a later one meanwhile
        (``SignedWriter.begin``). Anything that fails here is left for the file's own turn,
        which meets it again and reports it as it always does."""
        if reading is not self._current or self.executor is None:
            return  # the file started ahead has read its last record: its own turn goes on
        path, self._next_path = self._next_path, None
        if path is None:
            return
        try:
            if path.stat().st_size > self.ahead_bytes:
                return  # hashed and copied in the transaction before, it would hold the lock
            fmt, sha = identify(path)
            if sha == self._capture_sha or has_capture(self.conn, sha):
                return  # nothing to read ahead: its own turn finds it in the archive
            ahead = self._ahead = _Ahead(
                path, fmt, sha, *self._copy(path, fmt, sha), signed_at=self.clock()
            )
            ahead.reading = self._read(path, sha, ahead.stored, ahead.signed_at)
            ahead.reading.start()  # what reading it raises, its turn meets again
        except Exception:  # noqa: BLE001 - the file's own turn meets it again and reports it
            self.drop_ahead()

    def drop_ahead(self) -> None:
        """Forget the file started ahead (the run stopped before its turn), and remove the stored
        copy made for it. Called by whoever stops a run between files."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and ahead.reading is not None:
            ahead.reading.close()  # what is still queued for the workers is not extracted
        if ahead is not None and ahead.created_copy:
            drop_copy(self.conn, ahead.stored, ahead.sha, checked=False)

    def _capture_row(self, path: Path, sha: str, fmt: str, stored: Path) -> tuple[dict, list]:
        """The capture's own row (its counts come at the end), and a WACZ's check's warning."""
        capture = {
            "sha256": sha,
            # UTF-8 text for the signed statement: a name in another encoding (bytes Python
            # keeps as surrogates) is written with \x escapes
            "filename": os.fsencode(path.name).decode("utf-8", "backslashreplace"),
            "format": fmt,
            "bytes": stored.stat().st_size,
            "stored_path": str(Path("captures") / stored.name),
            "ingested_at": self.writer.signed_at,
        }
        warnings = []
        if fmt == "wacz":
            # The package's own integrity and signature, recorded (and signed) whatever it is:
            # an auditor must see a failed or unsigned WACZ, not have it silently accepted.
            check = check_wacz(stored)
            capture["wacz_signature"] = check.status
            capture["wacz_signer"] = check.signer
            capture["wacz_problems"] = "; ".join(check.problems) or None
            if check.status == "failed":
                warnings.append(f"{path}: WACZ check failed: {check.problems[0]}")
        return capture, warnings

    def _take(self, p: Processed, pending: PendingImages, path: Path, result: FileResult):
        """One record's result (checked to be about the record sent): its row, and its part."""
        record = p.record
        if record.problems:
            p.note = "; ".join(filter(None, [p.note, *record.problems]))
        self._write_record_row(self._capture_sha, p)
        if record.digest == "failed":
            result.digest_failures += 1
        if p.role == "image":
            pending.image(p)
        elif p.role == "article":
            self._write_article(p)
            result.articles += 1
            result.claims += len(p.rows) - 1
            pending.uses(p.source, p.images)
        elif p.role in ("skipped", "page"):
            result.skipped += 1
            if record.is_html and (p.note or "").endswith("-byte cap"):
                # a page, maybe an article, not read: the archivist should know, not count
                result.warnings.append(
                    f"{path} at offset {record.offset}: {record.uri}: {p.note}; the page "
                    "was not read (docs/security.md lists the caps)"
                )
            if p.role == "page" and (p.note or "").startswith(NOT_EXTRACTED):
                result.warnings.append(
                    f"{path} at offset {record.offset}: {record.uri}: {p.note}; the page is "
                    "kept as a page, without its article"
                )

    def _write_record_row(self, sha: str, p: Processed) -> None:
        r = p.record
        self.conn.execute(
            'INSERT INTO capture_records (capture_sha256, member, "offset", warc_record_id, type, '
            "url, captured_at, status, mime_type, payload_bytes, payload_sha256, digest, role, "
            "note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sha,
                r.member,
                r.offset,
                r.record_id,
                r.type,
                r.uri or None,
                r.date,
                r.status,
                r.mime_type,
                r.payload_bytes,
                p.payload_sha256,
                r.digest,
                p.role,
                p.note,
            ),
        )

    def _write_article(self, p: Processed) -> None:
        rows = p.rows
        if not self._trusted_workers():
            # A cluster's workers send rows only: the key signs statements built here from the
            # rows that are stored, and rows that do not belong to this record are refused.
            sign_as = {"key_id": self.signer.key_id, "signed_at": self.writer.signed_at}
            article = rows[0].row
            r = p.record  # checked against this process's own reading (_write_capture)
            if (
                rows[0].table != "articles"
                or article["id"] != article_id(self._capture_sha, r)
                or article["capture_sha256"] != self._capture_sha
                or (article["warc_offset"], article["warc_member"], article["warc_record_id"])
                != (r.offset, r.member, r.record_id)
                or (article["url"], article["captured_at"]) != (r.uri, r.date)
                or article["html_sha256"] != p.payload_sha256
                or any(
                    u.table != "claims"
                    or u.row["article_id"] != article["id"]
                    or u.row["id"] != f"{article['id']}-{u.row['position']}"
                    for u in rows[1:]
                )
            ):
                raise CaptureError(
                    self._path, "a worker sent rows of another record", p.record.offset
                )
            if article_text_sha256(article["text"]) != article["text_sha256"] or any(
                u.row["normalization"] != NORMALIZATION
                or text_sha256(u.row["text"]) != u.row["text_sha256"]
                for u in rows[1:]
            ):
                # the key would sign a hash its text does not have (verify finds it later, and
                # an ingest of the same file again finds it already in the archive)
                raise CaptureError(
                    self._path, "a worker sent text that does not match its hash", p.record.offset
                )
            rows = [prepare("articles", article, **sign_as)] + [
                prepare(u.table, u.row, article=article, **sign_as) for u in rows[1:]
            ]
            # what image uses' statements say of their article: from the row checked above
            p.source = {k: article[k] for k in ("id", *statements.SOURCE_FIELDS)}
        elif rows[0].signed_at != self.writer.signed_at:
            # prepared ahead for a time another ingest's commit has since passed (_start_next)
            sign_as = {"key_id": self.signer.key_id, "signed_at": self.writer.signed_at}
            rows = [prepare(u.table, u.row, article=rows[0].row, **sign_as) for u in rows]
        self.writer.append(rows)
        self.summaries.article(rows[0].row, [u.row for u in rows[1:]])
        # claim_bands rows are written by the linker, in key order, a capture at a time
        minhash = [(claim_id, size, sig) for claim_id, _, _, size, sig in p.hashed]
        self.conn.executemany(
            "INSERT INTO claim_minhash (claim_id, shingles, signature) VALUES (?, ?, ?)", minhash
        )
        # links to what the archive holds, in the same transaction, while workers extract on
        for _, text, hashes, _, _ in p.hashed:
            remember(text, hashes)
        self.linker.article(p.source["id"], p.bands, minhash)

    def _write_image_use(self, article_row, position, ref, found, path, result) -> None:
        image_sha = record_id = captured_at = None
        if found is not None:
            image_sha, record_id, captured_at = (
                found.payload_sha256,
                found.record.record_id,
                found.record.date,
            )
            self._store_image(found, path)
        else:
            # the image in a capture already in the archive
            row = image_shown(self.conn, ref.url, article_row["captured_at"])
            if row:
                image_sha, record_id, captured_at = row
        if image_sha:
            result.images += 1
        use = {
            "id": f"{article_row['id']}-i{position}",
            "article_id": article_row["id"],
            "position": position,
            "url": ref.url,
            "image_sha256": image_sha,
            "image_warc_record_id": record_id,
            "image_captured_at": captured_at,
            "alt": ref.alt,
            "caption": ref.caption,
            "credit": ref.credit,
        }
        self.writer.insert("image_uses", use, article=article_row)

    def _store_image(self, found: Processed, path: Path) -> None:
        sha, record, info = found.payload_sha256, found.record, found.image
        if self.conn.execute("SELECT 1 FROM images WHERE sha256 = ?", (sha,)).fetchone():
            return
        # Payloads are not kept during the stream (memory stays flat): read this one again.
        payload = read_payload(self._source, record.member, record.offset, self.limits)
        if sha256_hex(payload) != sha:
            raise CaptureError(path, "image payload changed on re-read", record.offset)
        if info.note:
            self.conn.execute(
                "UPDATE capture_records SET note = ? WHERE capture_sha256 = ? AND member = ? "
                'AND "offset" = ?',
                (info.note, self._capture_sha, record.member, record.offset),
            )
        self.conn.execute(
            "INSERT INTO images (sha256, mime_type, width, height, bytes, phash, content) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (sha, info.mime_type, info.width, info.height, info.bytes, found.phash, payload),
        )
