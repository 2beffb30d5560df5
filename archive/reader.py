"""Stream the records of a capture file (WARC, ARC, gzipped or not, or a WACZ package).

One pass, never the whole file in memory: payloads are read only for the records that need them
(HTML pages and images with a 200 status) and only up to a cap. Revisit records are resolved to
the payload of the record they point at by seeking back to it.
"""

from __future__ import annotations

import contextlib
import io
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed

from .config import Limits
from .errors import CaptureError, LimitExceeded
from .wacz_check import too_many_members

CAPTURE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wacz")

HTML_TYPES = {"text/html", "application/xhtml+xml"}


def capture_format(path: str | Path) -> str | None:
    """``warc``, ``arc`` or ``wacz`` from the file name, or None when it is not a capture."""
    name = Path(path).name.lower()
    for suffix in CAPTURE_SUFFIXES:
        if name.endswith(suffix):
            return suffix.strip(".").split(".")[0]
    return None


def sniff_format(path: str | Path) -> str:
    """``wacz``, ``warc`` or ``arc`` by what the file begins with, whatever its name says: a ZIP,
    a WARC record's version line, an ARC file's ``filedesc://`` version block (gzipped or not).
    Anything else is not a capture (warcio reads any line of five words as an ARC record
    header: a text file was ingested as one)."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head[:4] == b"PK\x03\x04" or capture_format(path) == "wacz":
        return "wacz"  # a ZIP, or named as one (reading it says what is wrong)
    if head[:2] == b"\x1f\x8b":
        try:
            head = _first_decompressed(head)
        except zlib.error:
            return "warc"  # damaged: reading it says where
    head = head.lstrip(b"\r\n")
    if head.startswith(b"filedesc://"):
        return "arc"
    if head.startswith(b"WARC/") or not head:
        return "warc"
    raise CaptureError(
        path,
        f"not a WARC or ARC file: it begins {_first_line(head)!r}, not a WARC version line or "
        "an ARC file's filedesc:// header",
        0,
    )


def _first_line(head: bytes) -> str:
    """The start of the first line of ``head``, as text, for a message."""
    return head.split(b"\n", 1)[0][:60].decode("utf-8", "replace")


def _first_decompressed(data: bytes, size: int = 4096) -> bytes:
    """The first bytes ``data``'s gzip members decompress to (an empty member may come first)."""
    while data[:2] == b"\x1f\x8b":
        member = zlib.decompressobj(31)
        out = member.decompress(data, size)
        if out or not member.eof:
            return out
        data = member.unused_data
    return b""


def find_captures(paths) -> list[Path]:
    """Expand files and directories into capture files, in a stable order."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found.extend(sorted(q for q in p.rglob("*") if q.is_file() and capture_format(q)))
        else:
            found.append(p)
    return found


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
    digest: str = "absent"  # passed | failed | absent (no digest header) | not-checked
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


#: Most bytes of WARC, ARC or HTTP headers read for one record (a block of header lines, up to
#: the blank line that ends it). Real ones are kilobytes; warcio reads a line whole, in time
#: that grows with the square of its length (a 40 MB line took 22 s), keeps every header line
#: (8 million short ones took 1.6 GB), and a gzip member of a few kilobytes can hold gigabytes.
MAX_HEADER_BYTES = 1 << 20


class _HeadersTooLong(ValueError):
    def __init__(self):
        super().__init__(f"a record's headers are longer than {MAX_HEADER_BYTES:,} bytes")


class _Reader(DecompressingBufferedReader):
    """warcio's reader with a ``readline`` that is linear in the line's length and stops when
    a block of header lines passes ``MAX_HEADER_BYTES``. warcio reads header lines (and the
    blank lines between records) with ``readline``, and payloads with ``read``, so the cap
    touches no payload."""

    _block = 0  # bytes of the header lines read since the last blank line or payload read

    def read(self, length=None):
        self._block = 0
        return super().read(length)

    def readline(self, length=None):
        if length == 0:
            return b""
        self._fillbuff()
        if self.empty():
            return b""
        parts, size = [], 0
        while True:
            part = self.buff.readline(-1 if length is None else length - size)
            parts.append(part)
            size += len(part)
            if self._block + size > MAX_HEADER_BYTES:
                raise _HeadersTooLong
            if part.endswith(b"\n") or (length is not None and size >= length):
                break
            self._fillbuff()  # the line goes on past the buffer
            if self.empty():
                break
        line = b"".join(parts)
        self._block = self._block + size if line.strip() else 0
        return line


class _ArchiveIterator(ArchiveIterator):
    """warcio's iterator over a reader whose headers are capped (``_Reader``)."""

    def __init__(self, fileobj, **kwargs):
        super().__init__(fileobj, **kwargs)
        # nothing has been read yet: the reader can be swapped whole
        self.reader = _Reader(self.fh, block_size=self.reader.block_size)


class _Counted:
    """A WACZ member read forward only (seeking back would inflate it again from its start),
    noting where the last byte that is not blank was: the member must end, give or take blank
    lines, where its last whole record does, as a file must (``_check_end``)."""

    def __init__(self, f):
        self._f, self.pos, self.last_data = f, 0, -1

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        kept = len(data.rstrip(_BLANK))
        if kept:
            self.last_data = self.pos + kept - 1
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos

    def left_over(self, end: int) -> int:
        """How many bytes after ``end`` are not all blank (0: the member ends at ``end``)."""
        while self.read(1 << 20):  # what warcio never read
            pass
        return self.pos - end if self.last_data >= end else 0


_BLANK = b"\r\n\t \x00"


class _Dechunked:
    """HTTP's chunked transfer coding undone as a stream, a bounded step at a time: warcio's
    reader takes a whole chunk into memory (up to 2 GiB: 600 MB of "a" in a 612 KB capture took
    1.3 GB) and decompresses it at once. What is not chunked after all passes through as it
    is, as with warcio."""

    def __init__(self, raw):
        self._raw, self._left, self._plain, self._done, self._pending = raw, 0, False, False, b""

    def read(self, size: int | None = -1) -> bytes:
        size = 1 << 20 if size is None or size < 0 else size
        if self._pending:
            out, self._pending = self._pending[:size], self._pending[size:]
            return out
        if self._plain:
            return self._raw.read(size)
        if self._done:
            return b""
        if not self._left:
            line = self._raw.readline(64)
            try:
                self._left = int(line[:-2].split(b";")[0], 16) if line.endswith(b"\r\n") else -1
            except ValueError:
                self._left = -1
            if self._left < 0:  # not a chunk header: the rest is the payload as it is
                self._plain, self._pending = True, line
                return self.read(size)
            if not self._left:
                self._done = True
                return b""
        data = self._raw.read(min(size, self._left))
        if not data:  # cut off inside a chunk: what there is
            self._done = True
            return b""
        self._left -= len(data)
        if not self._left and (end := self._raw.read(2)) != b"\r\n":
            self._plain, self._pending = True, end
        return data


def _content_stream(rec):
    """The record's payload with its transfer and content codings undone (warcio's
    ``content_stream``, with chunks read in bounded steps, so every decoder sees at most one
    block at a time)."""
    headers = rec.http_headers
    if not headers:
        return rec.raw_stream
    encoding = (headers.get_header("content-encoding") or "").lower() or None
    if encoding not in BufferedReader.get_supported_decompressors():
        encoding = None
    raw = rec.raw_stream
    if headers.get_header("transfer-encoding") == "chunked":
        raw = _Dechunked(raw)
    return BufferedReader(raw, decomp_type=encoding) if encoding else raw


class _Brotli:
    """warcio's hook for ``Content-Encoding: br``, for brotli >= 1.2 (its ``process()`` API):
    output is produced in bounded steps and stops at a cap, so a brotli bomb cannot take memory.
    warcio's own hook uses an older API and fails on every brotli payload."""

    unused_data = None
    limit = Limits().max_payload_bytes

    def __init__(self):
        import brotli

        self._decompressor = brotli.Decompressor()
        self._total = 0

    def decompress(self, data: bytes) -> bytes:
        if self._total > self.limit:
            return b""  # past the cap: the reader has already stopped, the rest is dropped
        out = [self._decompressor.process(data, output_buffer_limit=1 << 20)]
        self._total += len(out[0])
        while not self._decompressor.can_accept_more_data() and self._total <= self.limit:
            out.append(self._decompressor.process(b"", output_buffer_limit=1 << 20))
            self._total += len(out[-1])
        return b"".join(out)

    def flush(self) -> bytes:
        return b""


BufferedReader.DECOMPRESSORS["br"] = _Brotli


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

    def __iter__(self) -> Iterator[Record]:
        _Brotli.limit = self.limits.max_payload_bytes
        if self.format == "wacz":
            yield from self._iter_wacz()
        else:
            with open(self.path, "rb") as f:
                yield from self._iter_stream(f, "", open_at=lambda at: _file_at(self.path, at))

    def _iter_wacz(self) -> Iterator[Record]:
        try:
            if too_many := too_many_members(self.path):
                raise CaptureError(self.name, f"not a WACZ: {too_many}")
            zf = zipfile.ZipFile(self.path)
        except (zipfile.BadZipFile, OSError) as e:
            raise CaptureError(self.name, f"not a readable WACZ (ZIP) file: {e}") from None
        with zf:
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
                        _Counted(f), name, open_at=lambda at, n=name: _member_at(zf, n, at)
                    )

    def _where(self, member: str) -> str:
        return f"{self.name}!{member}" if member else str(self.name)

    def _iter_stream(self, f, member: str, open_at) -> Iterator[Record]:
        where = self._where(member)
        offset = 0  # where the record being read starts: named in any error
        # payload digest -> offset of the response holding it, to resolve revisits later
        seen_digests: dict[str, int] = {}
        seen_ids: set[str] = set()
        warn = io.StringIO()
        try:
            # warcio prints its warnings; collect them instead (the library never prints).
            with contextlib.redirect_stderr(warn):
                it = _ArchiveIterator(f, check_digests=True, arc2warc=True)
                records = iter(it)
            member_end, last_start = None, 0  # the last record's gzip decompressor, offset
            while True:
                with contextlib.redirect_stderr(warn):
                    rec = next(records, None)
                    if rec is None:
                        if member_end is not None and not member_end.eof:
                            # warcio stops quietly in a gzip member cut off after its payload
                            raise CaptureError(
                                where,
                                "truncated: the file ends inside the last record's gzip member "
                                "(its end, and the gzip trailer's checksum, are missing)",
                                last_start,
                            )
                        if member:
                            # the ZIP's CRC says the member is what was packed, not whole
                            self._check_member_end(where, f, offset)
                        else:
                            self._check_end(where, offset)
                        break
                    member_end = getattr(it.reader, "decompressor", None)
                    last_start = offset
                    if not rec.rec_type:
                        raise CaptureError(
                            where, "not a valid WARC/ARC: a record has no type", offset
                        )
                    if rec.length is None:
                        # without it warcio reads on into the next record
                        raise CaptureError(
                            where, "not a valid WARC/ARC: a record has no Content-Length", offset
                        )
                    declared = (rec.rec_headers.get_header("Content-Length") or "").strip()
                    if not (declared.isascii() and declared.isdigit()):
                        # warcio reads such a record as empty and goes on
                        raise CaptureError(
                            where,
                            f"not a valid WARC/ARC: a record's length {declared[:20]!r} is not "
                            "a number of bytes",
                            offset,
                        )
                    # get_record_offset() reads the record to its end, so ask only after the
                    # payload is read; until then ``offset`` is where the last record ended.
                    record = self._make_record(rec, offset, member, where)
                    offset = record.offset = it.get_record_offset()
                    # warcio stops quietly where a cut-off file ends: the record then has
                    # fewer bytes than its Content-Length says (its reader's limit is left over)
                    missing = getattr(rec.raw_stream, "limit", 0) or 0
                    if missing > 0:
                        cause = " (or its gzip members split records)" if ".gz" in where else ""
                        raise CaptureError(
                            where,
                            f"truncated{cause}: the {record.type} record for "
                            f"{record.uri or '-'} ends {missing} bytes short of its "
                            f"Content-Length {rec.length}",
                            offset,
                        )
                    if record.record_id in seen_ids:
                        # wget writes such files; ids are not keys here, so this is a finding
                        record.problems.append("duplicate WARC-Record-ID")
                        self.warnings.append(
                            f"{where} at offset {offset}: duplicate WARC-Record-ID "
                            f"{record.record_id}"
                        )
                    seen_ids.add(record.record_id)
                    digest = rec.rec_headers.get_header("WARC-Payload-Digest")
                    if record.type == "response" and digest:
                        seen_digests.setdefault(digest, offset)
                    if record.type == "revisit" and record.skip_reason is None:
                        self._resolve_revisit(record, digest, seen_digests, open_at, where)
                    if rec.digest_checker.passed is True:
                        record.digest = "passed"
                    elif rec.digest_checker.passed is False:
                        record.digest = "failed"
                    offset = record.offset + max(it.get_record_length() or 0, 0)
                self.records_seen += 1
                yield record
        except CaptureError:
            raise
        except _HeadersTooLong as e:
            raise CaptureError(where, f"not a valid WARC/ARC: {e}", offset) from None
        except ArchiveLoadFailed as e:
            text = " ".join(str(e).split())
            if "Unknown archive format" in text:
                # warcio quotes the first line it could not read, binary and all
                text = self._not_a_record(offset) if not member else "no WARC or ARC record here"
            elif "non-chunked gzip" in text:
                text = (
                    "gzip is not record-chunked (each record must be its own gzip member; "
                    "`warcio recompress` can fix the file)"
                )
            raise CaptureError(where, f"not a valid WARC/ARC: {text[:200]}", offset) from None
        except (OSError, EOFError, ValueError, zipfile.BadZipFile) as e:
            raise CaptureError(where, f"{type(e).__name__}: {e}", offset) from None
        except MemoryError:
            raise  # ingest says "out of memory", not "damaged"
        except Exception as e:  # noqa: BLE001 - warcio raises anything on malformed input
            # (its own message, e.g. "'NoneType' object has no attribute ...", helps no one)
            raise CaptureError(
                where,
                f"not a valid WARC/ARC: a damaged or cut-off record ({type(e).__name__})",
                offset,
            ) from None
        finally:
            text = warn.getvalue()
            if "Content-Length is invalid" in text:
                self.warnings.append(f"{where}: a record's Content-Length looks wrong")
            if "Replacing spaces" in text:
                self.warnings.append(f"{where}: spaces in a WARC-Target-URI were replaced by %20")

    def _not_a_record(self, offset: int) -> str:
        """What is at ``offset``, where warcio found no record (its own message quotes the
        bytes, binary or not)."""
        with open(self.path, "rb") as f:
            f.seek(offset)
            head = f.read(1 << 16)
        if head[:2] == b"\x1f\x8b":
            try:
                _first_decompressed(head, 64)
            except zlib.error:
                return "the gzip data here is damaged (it does not decompress)"
            return "the gzip data here holds no WARC or ARC record"
        return f"no WARC or ARC record starts here (it begins {_first_line(head)!r})"

    def _check_member_end(self, where: str, f: _Counted, end: int) -> None:
        left = f.left_over(end)
        if left:
            raise CaptureError(
                where,
                f"truncated or damaged: the {left:,} bytes after the last whole record are not "
                "a record",
                end,
            )

    def _check_end(self, where: str, end: int) -> None:
        """The file must end where its last record does (give or take blank lines): warcio
        stops quietly at a record or gzip member cut off before its payload, so bytes left over
        are a file cut short (or junk), not nothing."""
        with open(self.path, "rb") as f:
            f.seek(end)
            while chunk := f.read(1 << 16):
                if chunk.strip(_BLANK):
                    size = self.path.stat().st_size
                    raise CaptureError(
                        where,
                        f"truncated or damaged: the {size - end:,} bytes after the last whole "
                        "record are not a record",
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
                    _content_stream(rec), self.limits.max_payload_bytes, where
                )
            except LimitExceeded as e:
                record.skip_reason = e.reason
            except (OSError, ValueError, EOFError) as e:
                # A broken content encoding damages this payload only, not the file.
                record.skip_reason = f"payload could not be decoded ({type(e).__name__}: {e})"
            if record.payload is not None:
                record.payload_bytes = len(record.payload)
        return record

    def _resolve_revisit(self, record: Record, digest, seen: dict, open_at, where: str) -> None:
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
            original = next(iter(_ArchiveIterator(f2, arc2warc=True)))
            headers = original.http_headers
            content_type = headers.get_header("Content-Type") if headers is not None else None
            payload = None
            if _wanted(mime_type or _content_type(content_type)[0]):
                try:
                    payload = _read_capped(
                        _content_stream(original), self.limits.max_payload_bytes, where
                    )
                except LimitExceeded as e:
                    payload = e
        self._last_original = ((where, target), content_type, payload)
        return content_type, payload


def _wanted(mime_type: str | None) -> bool:
    """Is a payload of this type read (HTML pages and images)?"""
    return mime_type in HTML_TYPES or (mime_type or "").startswith("image/")


@contextlib.contextmanager
def _file_at(path, offset: int):
    with open(path, "rb") as f:
        f.seek(offset)
        yield f


@contextlib.contextmanager
def _member_at(zf: zipfile.ZipFile, member: str, offset: int):
    """WACZ ``member`` read from ``offset``. A stored member (WACZ packs WARCs stored) is read
    straight from the ZIP file: zipfile's ``seek`` reads every byte before the offset (Python
    3.11), so reading each image of a 1 GB member again read up to 1 GB each time."""
    info = zf.getinfo(member)
    if info.compress_type == zipfile.ZIP_STORED and not info.flag_bits & 0x1:
        with open(zf.filename, "rb") as raw:
            raw.seek(info.header_offset)
            head = raw.read(30)
            if len(head) == 30 and head[:4] == b"PK\x03\x04":
                names, extra = struct.unpack("<HH", head[26:30])
                raw.seek(info.header_offset + 30 + names + extra + offset)
                yield _Window(raw, offset, info.file_size)
                return
    with zf.open(member) as f:
        f.seek(offset)
        yield f


class _Window:
    """Bytes ``start``..``end`` of a member, read from the ZIP file it is stored in."""

    def __init__(self, raw, start: int, end: int):
        self._raw, self._pos, self._end = raw, start, end

    def read(self, size: int = -1) -> bytes:
        left = max(0, self._end - self._pos)
        data = self._raw.read(left if size is None or size < 0 else min(size, left))
        self._pos += len(data)
        return data

    def tell(self) -> int:
        return self._pos


def read_payload(path: str | Path, member: str, offset: int, limits: Limits | None = None) -> bytes:
    """Decoded payload of the record at ``offset`` (in WACZ ``member``), read by seeking to it."""
    limits = limits or Limits()
    where = f"{path}!{member}" if member else str(path)
    try:
        with contextlib.ExitStack() as stack:
            if member:
                zf = stack.enter_context(zipfile.ZipFile(path))
                f = stack.enter_context(_member_at(zf, member, offset))
            else:
                f = stack.enter_context(_file_at(path, offset))
            rec = next(iter(_ArchiveIterator(f, arc2warc=True)))
            return _read_capped(_content_stream(rec), limits.max_payload_bytes, where)
    except (OSError, ValueError, EOFError, StopIteration, ArchiveLoadFailed) as e:
        raise CaptureError(where, f"cannot re-read record: {e}", offset) from None
