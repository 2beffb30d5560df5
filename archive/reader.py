"""Stream the records of a capture file (WARC, ARC, gzipped or not, or a WACZ package).

One pass, never the whole file in memory: payloads are read only for the records that need them
(HTML pages and images with a 200 status) and only up to a cap. Revisit records are resolved to
the payload of the record they point at by seeking back to it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import re
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from warcio.exceptions import ArchiveLoadFailed

from . import streams
from .capture_files import (
    GZIP_MAGIC,
    blank_member_end,
    blank_members,
    capture_format,
    first_line,
    gzip_damage_at,
    sniff_format,
    starts_as_zip,
    too_many_members,
)
from .config import Limits
from .errors import CaptureError, LimitExceeded
from .seen import Seen

HTML_TYPES = {"text/html", "application/xhtml+xml"}


def _zlib_error(printed: str) -> str | None:
    """zlib's message, when warcio printed one: it prints it and reads no further, so the
    record looks cut short though the file goes on (damaged, not truncated)."""
    for line in printed.splitlines():
        if "while decompressing data" in line:
            return line.strip()
    return None


#: warcio's logger (it logs, for one, WARC-Target-URIs whose spaces it replaced)
WARCIO_LOG = logging.getLogger("warcio")


@dataclass
class Record:
    """One WARC record, with its HTTP status and (when read) its decoded payload."""

    offset: int
    member: str  # path inside a WACZ; "" for a plain WARC
    record_id: str
    type: str
    uri: str
    date: str
    status: int | None = None
    mime_type: str | None = None
    charset: str | None = None
    payload: bytes | None = field(default=None, repr=False)
    payload_bytes: int | None = None
    #: passed | failed | absent (no digest header) | not-checked (one warcio cannot check, as
    #: a revisit's: its original's payload's)
    digest: str = "absent"
    skip_reason: str | None = None
    refers_to: str | None = None
    #: what is wrong with the record itself (recorded in capture_records.note)
    problems: list[str] = field(default_factory=list)

    @property
    def is_html(self) -> bool:
        return self.mime_type in HTML_TYPES

    @property
    def is_image(self) -> bool:
        return bool(self.mime_type and self.mime_type.startswith("image/"))


# WARC-Date: W3C-DTF (a profile of ISO 8601), as the WARC standard requires
_W3CDTF = re.compile(
    r"^\d{4}(-\d{2}(-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?)?)?$"
)
_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)


def _content_type(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    mime = value.split(";", 1)[0].strip().lower() or None
    m = _CHARSET.search(value)
    return mime, (m.group(1).lower() if m else None)


def _read_capped(stream, cap: int, where: str) -> bytes:
    """Read a payload in 1 MiB steps, stopping as soon as it passes ``cap``."""
    # chunks, joined once at the end: a growing bytearray reallocates and copies on the way
    chunks, size = [], 0
    while chunk := stream.read(1 << 20):
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            raise LimitExceeded(where, f"payload larger than the {cap:,}-byte cap")
    return b"".join(chunks)


class CaptureReader:
    """Iterate over the records of one capture file: ``for record in CaptureReader(path): ...``.

    Raises :class:`CaptureError` (file and offset named) when the file cannot be read.
    ``warnings`` collects what warcio would otherwise print to stderr.
    """

    def __init__(self, path: str | Path, limits: Limits | None = None, name: str | Path = ""):
        """``name``: what messages call the file (ingest reads its stored copy of ``name``)."""
        self.path = Path(path)
        self.name = Path(name or path)
        self.limits = limits or Limits()
        self.format = sniff_format(self.path)
        self.warnings: list[str] = []
        self.records_seen = 0
        self._last_original: tuple = (None, None, None)
        self._file = None  # the capture file as opened (a WACZ's ZIP file), for ``position``

    @property
    def position(self) -> int:
        """How many bytes of the capture file have been read so far (its compressed bytes; a
        WACZ's whole ZIP): how far through the file the records read so far reach."""
        try:
            return self._file.tell() if self._file is not None else 0
        except (OSError, ValueError):  # closed: the whole file was read
            return self.path.stat().st_size

    def __iter__(self) -> Iterator[Record]:
        if self.format == "wacz":
            yield from self._iter_wacz()
        else:
            with open(self.path, "rb") as f:
                self._file = f
                yield from self._iter_stream(
                    streams.EndTracked(f), "", open_at=lambda at: streams.file_at(self.path, at)
                )

    def _iter_wacz(self) -> Iterator[Record]:
        try:
            if too_many := too_many_members(self.path):
                raise CaptureError(self.name, f"not a WACZ: {too_many}")
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as e:
            why = str(e)
            if why == "File is not a zip file" and starts_as_zip(self.path):
                # a ZIP's directory is at its end: a download cut short has none
                why = "it starts as a ZIP but has no ZIP directory at its end (cut short?)"
            raise CaptureError(self.name, f"not a readable WACZ (ZIP) file: {why}") from None
        with zf:
            self._file = zf.fp  # the ZIP's one file: its members are read through it
            members = []
            for info in zf.infolist():
                if info.is_dir():  # no data of its own (check_wacz fails one that has some)
                    continue
                name = info.filename
                pure = PurePosixPath(name)
                if pure.is_absolute() or ".." in pure.parts or "\\" in name:
                    raise CaptureError(self.name, f"unsafe path in WACZ refused: {name!r}")
                if name.startswith("archive/") and capture_format(name) in ("warc", "arc"):
                    members.append(name)
            if not members:
                inner = sorted(
                    i.filename for i in zf.infolist() if capture_format(i.filename) == "wacz"
                )
                if inner:  # Browsertrix's multi-WACZ package: WACZ files, each with its WARCs
                    shown = ", ".join(inner[:3]) + (", ..." if inner[3:] else "")
                    raise CaptureError(
                        self.name,
                        f"a package of {len(inner)} WACZ files, not one WACZ ({shown}): unpack "
                        "it (unzip) and ingest the WACZ files it holds",
                    )
                raise CaptureError(self.name, "WACZ holds no WARC files under archive/")
            for name in sorted(members):
                try:
                    f = zf.open(name)
                except (zipfile.BadZipFile, OSError) as e:
                    raise CaptureError(
                        self._where(name), f"a damaged WACZ (ZIP) member: {e}"
                    ) from None
                with f:
                    yield from self._iter_stream(
                        streams.EndTracked(f),
                        name,
                        open_at=lambda at, n=name: streams.member_at(zf, n, at),
                    )

    def _where(self, member: str) -> str:
        return f"{self.name}!{member}" if member else str(self.name)

    def _iter_stream(self, f, member: str, open_at) -> Iterator[Record]:
        where = self._where(member)
        offset = 0  # where the record being read starts: named in any error
        # payload digest -> offset of the response holding it, to resolve revisits later; and
        # the record ids (both kept in ~24 bytes a record: memory flat in the capture's size)
        seen_digests, seen_ids = Seen(), Seen()
        warn = io.StringIO()
        # warcio prints some warnings and logs others; collect both instead (the library never
        # prints; a handler of its own also keeps logging's last-resort printer quiet)
        logged = logging.StreamHandler(warn)
        WARCIO_LOG.addHandler(logged)
        member_end, last_start = None, 0  # the last record's gzip decompressor, offset
        # warcio's prints go to ``warn`` while it reads: sys.stderr is swapped and put back by
        # hand, as contextlib.redirect_stderr would, but with no function call between the
        # swap and the try nor in the finally, where Python acts on a signal (a stop raised as
        # redirect_stderr's __exit__ began left it swapped: the ingest's last words,
        # "Terminated: ...", went into this buffer, 1 run in 100 of a SIGTERM to the group).
        # What to put back is read just before each swap: it may change between records.
        try:
            stderr = sys.stderr
            try:
                sys.stderr = warn
                it = streams.RecordIterator(f, check_digests=True, arc2warc=True)
                records = iter(it)
            finally:
                sys.stderr = stderr
            last_record = 0  # where the last record read begins (after any blank lines)
            while True:
                stderr = sys.stderr
                try:
                    sys.stderr = warn
                    rec = next(records, None)
                finally:
                    sys.stderr = stderr
                said = self._said(warn)
                if "Content-Length is invalid" in said:  # no blank line after the last record
                    self.warnings.append(
                        f"{where} at offset {last_record}: the record's Content-Length looks "
                        "wrong (no blank line follows it)"
                    )
                stderr = sys.stderr
                try:
                    sys.stderr = warn
                    if rec is None:
                        if member_end is not None and not member_end.eof:
                            # warcio stops quietly in a gzip member cut off after its payload;
                            # or damaged there, which zlib may say (then: not truncated)
                            self._if_damaged(where, member, last_start, "the file ends inside it")
                            raise CaptureError(
                                where,
                                "truncated: the file ends inside the last record's gzip member "
                                "(its end, and the gzip trailer's checksum, are missing)",
                                last_start,
                            )
                        # (in a WACZ too: the ZIP's CRC says a member is what was packed, not
                        # that it is whole)
                        self._check_end(where, f, offset, member)
                        break
                    member_end = getattr(it.reader, "decompressor", None)
                    last_start = offset
                    try:
                        _check_header(rec, where, offset)
                    except CaptureError:
                        if not rec.rec_type and not member and self.records_seen:
                            # a gzip member of blank lines between records or after the last
                            # (`cat` of files and a .gz of a newline): nothing, as blank lines
                            # are; but only where warcio read that member and no more (after
                            # a raw blank line it may read on to the end of the file)
                            if blank_members(self.path, offset):
                                self._check_end(where, f, offset, member)
                                break
                            end = blank_member_end(self.path, offset)
                            if end is not None and end == it.get_record_offset() + (
                                it.get_record_length() or 0
                            ):
                                offset = end
                                continue
                        # bit rot in a member reads as a malformed record: say what it is
                        self._if_damaged(where, member, offset)
                        raise
                    # get_record_offset() reads the record to its end, so ask only after the
                    # payload is read; until then ``offset`` is where the last record ended.
                    record = self._make_record(rec, offset, member, where)
                    offset = record.offset = last_record = it.get_record_offset()
                    if "Replacing spaces" in said:  # said as its headers were read
                        self.warnings.append(
                            f"{where} at offset {offset}: spaces in its WARC-Target-URI were "
                            "replaced by %20"
                        )
                    _check_whole(rec, record, where, warn.getvalue())
                    if not seen_ids.add(record.record_id):
                        # wget writes such files; ids are not keys here, so this is a finding
                        record.problems.append("duplicate WARC-Record-ID")
                        self.warnings.append(
                            f"{where} at offset {offset}: duplicate WARC-Record-ID "
                            f"{record.record_id}"
                        )
                    digest = rec.rec_headers.get_header("WARC-Payload-Digest")
                    if record.type == "response" and digest:
                        seen_digests.setdefault(digest, offset)
                    if record.type == "revisit" and record.skip_reason is None:
                        self._resolve_revisit(record, digest, seen_digests, open_at, where)
                    record.digest = _digest_result(rec)
                    offset = record.offset + max(it.get_record_length() or 0, 0)
                finally:
                    sys.stderr = stderr
                self.records_seen += 1
                yield record
        except CaptureError:
            raise
        except streams.HeadersTooLong as e:
            raise CaptureError(where, f"not a valid WARC/ARC: {e}", offset) from None
        except ArchiveLoadFailed as e:
            text = " ".join(str(e).split())
            if "Unknown archive format" in text:
                # warcio quotes the first line it could not read, binary and all
                text = self._not_a_record(offset) if not member else "no WARC or ARC record here"
            elif "non-chunked gzip" in text:
                # a member damaged near its end runs on into the next: the same complaint, and
                # recompressing would keep the damage, signed (an archivist's review)
                self._if_damaged(where, member, last_start)
                text = (
                    "gzip is not record-chunked (each record must be its own gzip member; "
                    "`warcio recompress` can fix the file)"
                )
            raise CaptureError(where, f"not a valid WARC/ARC: {text[:200]}", offset) from None
        except zipfile.BadZipFile as e:
            if "CRC" in str(e):  # found at the member's end: it covers the whole member
                raise CaptureError(
                    where,
                    "a damaged WACZ (ZIP) member: its bytes do not match the CRC-32 checksum "
                    "the ZIP holds for them (changed or damaged after the package was made)",
                ) from None
            raise CaptureError(where, f"a damaged WACZ (ZIP) member: {e}", offset) from None
        except (OSError, EOFError, ValueError) as e:
            raise CaptureError(where, f"{type(e).__name__}: {e}", offset) from None
        except MemoryError:
            raise  # ingest says "out of memory", not "damaged"
        except OverflowError:  # a Content-Length of 20 digits: it said "(OverflowError)"
            raise CaptureError(
                where, "not a valid WARC/ARC: a record's length is too large to be true", offset
            ) from None
        except Exception as e:  # noqa: BLE001 - warcio raises anything on malformed input
            # (its own message, e.g. "'NoneType' object has no attribute ...", helps no one)
            raise CaptureError(
                where,
                f"not a valid WARC/ARC: a damaged or cut-off record ({type(e).__name__})",
                offset,
            ) from None
        finally:
            WARCIO_LOG.removeHandler(logged)

    @staticmethod
    def _said(warn: io.StringIO) -> str:
        """What warcio printed since the last call (it prints warnings; they are collected and
        turned into warnings that name the record)."""
        text = warn.getvalue()
        warn.seek(0)
        warn.truncate()
        return text

    def _not_a_record(self, offset: int) -> str:
        """What is at ``offset``, where warcio found no record (its own message quotes the
        bytes, binary or not)."""
        damage = gzip_damage_at(self.path, offset)
        if damage:
            return f"the gzip data here is damaged ({damage})"
        with open(self.path, "rb") as f:
            f.seek(offset)
            head = f.read(1 << 16)
        if head[:2] == GZIP_MAGIC:
            return "the gzip data here holds no WARC or ARC record"
        return f"no WARC or ARC record starts here (it begins {first_line(head)})"

    def _if_damaged(self, where: str, member: str, start: int, but: str | None = None) -> None:
        """Raise "damaged" when the capture file (not a WACZ's member) has a gzip member at
        ``start`` that zlib finds damaged (other than ``but``); otherwise return."""
        damage = None if member else gzip_damage_at(self.path, start)
        if damage and damage != but:
            raise CaptureError(
                where, f"not a valid WARC/ARC: the gzip data here is damaged ({damage})", start
            )

    def _check_end(self, where: str, f: streams.EndTracked, end: int, member: str) -> None:
        """The capture must end where its last record does, give or take blank lines and gzip
        members that are empty or hold only blank lines (`cat` of a file and such a .gz):
        bytes left over are a file cut short (or junk), not nothing."""
        left = f.left_over(end)
        if left and (member or left > 1 << 16 or not blank_members(self.path, end)):
            raise CaptureError(
                where,
                f"truncated or damaged: the {left:,} bytes after the last whole record are not "
                "a record",
                end,
            )

    def _make_record(self, rec, offset: int, member: str, where: str) -> Record:
        h = rec.rec_headers
        # An ARC record has no id: warcio's conversion makes up a random one on every read, which
        # a signed statement must not carry (an auditor could not derive it from the file).
        given = h.get_header("WARC-Record-ID") if self.format != "arc" else None
        record = Record(
            offset=offset,
            member=member,
            record_id=given or f"<offset:{offset}>",
            type=rec.rec_type or "",
            uri=(h.get_header("WARC-Target-URI") or "").strip(),
            date=h.get_header("WARC-Date") or "",
            refers_to=h.get_header("WARC-Refers-To-Target-URI"),
        )
        # Stored as written (it is what the capture says) and ordered as text: time order holds
        # for UTC dates ("...Z", as WARC requires), so the others are findings.
        if record.date and not _W3CDTF.match(record.date):
            record.problems.append(f"invalid WARC-Date {record.date!r}")
            self.warnings.append(f"{where} at offset {offset}: invalid WARC-Date {record.date!r}")
        elif record.date and not record.date.endswith("Z") and "T" in record.date:
            record.problems.append(f"WARC-Date {record.date!r} not in UTC")
            self.warnings.append(
                f"{where} at offset {offset}: WARC-Date {record.date!r} is not in UTC: it is "
                "ordered by its text among the others, not by its time"
            )
        elif not record.date and record.type in ("response", "resource", "revisit"):
            record.problems.append("no WARC-Date")
            self.warnings.append(
                f"{where} at offset {offset}: no WARC-Date: what it holds sorts before every "
                "dated capture"
            )
        if rec.rec_type == "resource":
            record.status = 200
            record.mime_type, record.charset = _content_type(h.get_header("Content-Type"))
        elif rec.http_headers is not None and rec.rec_type in ("response", "revisit"):
            try:
                record.status = int(rec.http_headers.get_statuscode() or 0)
            except ValueError:
                record.status = 0
            if not 0 <= record.status <= 999:  # "99999999999999999999" failed the whole file
                record.status = 0
            record.mime_type, record.charset = _content_type(
                rec.http_headers.get_header("Content-Type")
            )
        if record.type not in ("response", "resource", "revisit"):
            record.skip_reason = f"{record.type} record"
        elif record.status is None and record.type == "response":
            # dns:, whois: and the like: a response of another protocol, with no HTTP status
            record.skip_reason = "not an HTTP response"
        elif record.status != 200 and record.type != "revisit":
            record.skip_reason = f"HTTP status {record.status}"
        elif record.type == "revisit" and record.status not in (0, 200, 304):
            # a revisit says the payload was the same; its own status still says what was served
            record.skip_reason = f"HTTP status {record.status}"
        elif not (record.is_html or record.is_image):
            record.skip_reason = f"not HTML or an image ({record.mime_type or 'no type'})"
        elif record.type != "revisit":
            try:
                record.payload = _read_capped(
                    streams.content_stream(rec, self.limits.max_payload_bytes),
                    self.limits.max_payload_bytes,
                    where,
                )
            except LimitExceeded as e:
                record.skip_reason = e.reason
            except (OSError, ValueError, EOFError) as e:
                # A broken content encoding damages this payload only, not the file.
                record.skip_reason = f"payload could not be decoded ({type(e).__name__}: {e})"
            if record.payload is not None:
                record.payload_bytes = len(record.payload)
        return record

    def _resolve_revisit(self, record: Record, digest, seen: Seen, open_at, where: str) -> None:
        """Give a revisit the payload of the response it refers to (same file), if there is one."""
        target = seen.get(digest) if digest else None
        if target is None:
            record.skip_reason = "revisit of a record not in this file"
            return
        content_type, payload = self._original(where, target, open_at, record.mime_type)
        if record.mime_type is None:
            record.mime_type, record.charset = _content_type(content_type)
        if not (record.is_html or record.is_image):
            record.skip_reason = f"not HTML or an image ({record.mime_type or 'no type'})"
            return
        record.status = 200
        if isinstance(payload, LimitExceeded):
            record.skip_reason = payload.reason
            return
        record.payload = payload
        record.payload_bytes = len(payload)

    def _original(self, where: str, target: int, open_at, mime_type: str | None):
        """(Content-Type, payload or why it was not read) of the response at ``target``; the
        payload only for HTML or an image (``mime_type``, the revisit's own, else the
        original's). The last one is kept: revisits of one response come in runs, and in a
        deflated WACZ member each read inflates the member from its start (1,000 revisits after
        a 32 MB record took 82 s)."""
        key, content_type, payload = self._last_original
        if key == (where, target) and (payload is not None or not _wanted(mime_type)):
            return content_type, payload
        with open_at(target) as f2:
            original = next(iter(streams.RecordIterator(f2, arc2warc=True)))
            headers = original.http_headers
            content_type = headers.get_header("Content-Type") if headers is not None else None
            payload = None
            if _wanted(mime_type or _content_type(content_type)[0]):
                try:
                    payload = _read_capped(
                        streams.content_stream(original, self.limits.max_payload_bytes),
                        self.limits.max_payload_bytes,
                        where,
                    )
                except LimitExceeded as e:
                    payload = e
        self._last_original = ((where, target), content_type, payload)
        return content_type, payload


def _check_header(rec, where: str, offset: int) -> None:
    """Refuse a record whose headers warcio would read on past: no type, no Content-Length, or
    one that is not a number (warcio reads the record as empty and goes on)."""
    if not rec.rec_type:
        raise CaptureError(where, "not a valid WARC/ARC: a record has no type", offset)
    if rec.length is None:  # without it warcio reads on into the next record
        raise CaptureError(where, "not a valid WARC/ARC: a record has no Content-Length", offset)
    declared = (rec.rec_headers.get_header("Content-Length") or "").strip()
    if not (declared.isascii() and declared.isdigit()):
        raise CaptureError(
            where,
            f"not a valid WARC/ARC: a record's length {declared[:20]!r} is not a number of bytes",
            offset,
        )


def _check_whole(rec, record: Record, where: str, said: str) -> None:
    """Refuse a record read short: warcio stops quietly where a cut-off file ends, the record
    then having fewer bytes than its Content-Length says (its reader's limit is left over), and
    where gzip data is damaged (it printed zlib's error, in ``said``)."""
    missing = getattr(rec.raw_stream, "limit", 0) or 0
    if missing <= 0:
        return
    broken = _zlib_error(said)
    if broken:
        raise CaptureError(
            where,
            f"damaged gzip data ({broken}): the {record.type} record for {record.uri or '-'} "
            f"cannot be read past {rec.length - missing} of its {rec.length} bytes",
            record.offset,
        )
    cause = " (or its gzip members split records)" if ".gz" in where else ""
    raise CaptureError(
        where,
        f"truncated{cause}: the {record.type} record for {record.uri or '-'} ends {missing} "
        f"bytes short of its Content-Length {rec.length}",
        record.offset,
    )


def _digest_result(rec) -> str:
    """``capture_records.digest``: passed, failed, absent (no digest header), or not-checked
    (a revisit's digest is its original's payload's: nothing in it to hash)."""
    passed = rec.digest_checker.passed
    if passed is not None:
        return "passed" if passed else "failed"
    headers = rec.rec_headers
    if headers.get_header("WARC-Payload-Digest") or headers.get_header("WARC-Block-Digest"):
        return "not-checked"
    return "absent"


def _wanted(mime_type: str | None) -> bool:
    """Is a payload of this type read (HTML pages and images)?"""
    return mime_type in HTML_TYPES or (mime_type or "").startswith("image/")


def read_payload(path: str | Path, member: str, offset: int, limits: Limits | None = None) -> bytes:
    """Decoded payload of the record at ``offset`` (in WACZ ``member``), read by seeking to it."""
    limits = limits or Limits()
    where = f"{path}!{member}" if member else str(path)
    try:
        with contextlib.ExitStack() as stack:
            if member:
                zf = stack.enter_context(zipfile.ZipFile(path))
                f = stack.enter_context(streams.member_at(zf, member, offset))
            else:
                f = stack.enter_context(streams.file_at(path, offset))
            rec = next(iter(streams.RecordIterator(f, arc2warc=True)))
            return _read_capped(
                streams.content_stream(rec, limits.max_payload_bytes),
                limits.max_payload_bytes,
                where,
            )
    except (OSError, ValueError, EOFError, StopIteration, ArchiveLoadFailed) as e:
        raise CaptureError(where, f"cannot re-read record: {e}", offset) from None
