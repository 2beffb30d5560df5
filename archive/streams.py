"""Byte streams under warcio, bounded: header lines read in linear time and capped, HTTP
chunks undone a step at a time, brotli decoded to a cap, WACZ members read in place. warcio
does the parsing; these keep any one record from costing more than its caps.
"""

from __future__ import annotations

import contextlib
import struct
import zipfile

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import BufferedReader, DecompressingBufferedReader
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeadersParser

from .config import Limits

#: Most bytes of WARC, ARC or HTTP headers read for one record (a block of header lines, up to
#: the blank line that ends it). Real ones are kilobytes; warcio reads a line whole, in time
#: that grows with the square of its length (a 40 MB line took 22 s), keeps every header line
#: (8 million short ones took 1.6 GB), and a gzip member of a few kilobytes can hold gigabytes.
MAX_HEADER_BYTES = 1 << 20


class HeadersTooLong(ValueError):
    def __init__(self):
        super().__init__(f"a record's headers are longer than {MAX_HEADER_BYTES:,} bytes")


class _CappedReader(DecompressingBufferedReader):
    """warcio's reader with a ``readline`` that is linear in the line's length and stops when
    a block of header lines passes ``MAX_HEADER_BYTES``. warcio reads header lines (and the
    blank lines between records) with ``readline``, and payloads with ``read``, so the cap
    touches no payload."""

    _block = 0  # bytes of the header lines read since the last blank line or payload read

    def starts_with(self, prefix: bytes) -> bool:
        """Whether the bytes about to be read begin with ``prefix``, looked at in the buffer
        without reading them."""
        self._fillbuff()
        if self.empty():
            return False
        at = self.buff.tell()
        head = self.buff.read(len(prefix))
        self.buff.seek(at)
        # the buffer may end inside the prefix (warcio fills it a block at a time and cannot
        # be made to read on without consuming): what is there must begin it
        return head == prefix or (len(head) < len(prefix) and prefix.startswith(head))

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
                raise HeadersTooLong
            if part.endswith(b"\n") or (length is not None and size >= length):
                break
            self._fillbuff()  # the line goes on past the buffer
            if self.empty():
                break
        line = b"".join(parts)
        self._block = self._block + size if line.strip() else 0
        return line


class RecordIterator(ArchiveIterator):
    """warcio's iterator over a reader whose headers are capped (``_CappedReader``), reading
    HTTP headers wherever a record says it holds HTTP (``_HttpLoader``)."""

    def __init__(self, fileobj, **kwargs):
        super().__init__(fileobj, **kwargs)
        # nothing has been read yet: the reader and the loader can be swapped whole
        self.reader = _CappedReader(self.fh, block_size=self.reader.block_size)
        self.loader = _HttpLoader(verify_http=False, arc2warc=kwargs.get("arc2warc", False))
        self.loader.reader = self.reader


def _decode_header(line):
    """A header line as text: UTF-8, else ISO-8859-1, as warcio's
    ``StatusAndHeadersParser.decode_header``, whose bare ``except:`` also caught the
    KeyboardInterrupt of a Ctrl-C that landed in it. Every header line of every record is
    decoded there, in the process that reads the capture: such an ingest ran on to its end and
    exited 0 (1 run in 40 of tests/test_crash.py's Ctrl-C to the process group)."""
    if not isinstance(line, bytes):
        return line
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError:
        return line.decode("iso-8859-1")


# warcio calls it as a static method of the class, from its record loader too
StatusAndHeadersParser.decode_header = staticmethod(_decode_header)


class _HttpLoader(ArcWarcRecordLoader):
    """warcio reads a record's HTTP headers only when its URI is http: or https:. Scoop's WACZ
    holds ``response`` records for ``file:///screenshot.png`` whose Content-Type is
    ``application/http``: without their headers the status was "None" (skipped) and the payload
    digest was checked over the whole block, a false failure. Such records are read as HTTP."""

    _content_type = _format = ""
    reader: _CappedReader | None = None

    def _detect_type_load_headers(self, *args, **kwargs):
        found = super()._detect_type_load_headers(*args, **kwargs)
        self._format = found[0]
        self._content_type = (found[1].get_header("Content-Type") or "").lower()
        return found

    def load_http_headers(self, rec_type, uri, stream, length):
        # Only a WARC record (an ARC record converted by warcio is always "application/http")
        # that says it holds HTTP and does: a body that is not HTTP (a dns: record, a raw
        # image: warcio's writer defaults every response to application/http) stays whole.
        if (
            self._format == "warc"
            and uri
            and not uri.startswith(self.HTTP_SCHEMES)
            and self._content_type.startswith("application/http")
            and self.reader is not None
            and self.reader.starts_with(b"HTTP/")
        ):
            uri = "http:" + uri  # what warcio's scheme test looks for; the record keeps its own
        return super().load_http_headers(rec_type, uri, stream, length)


class EndTracked:
    """A capture file or WACZ member read forward only (seeking back in a member would inflate
    it again from its start), noting where its last byte that is not blank was: warcio stops
    quietly at a record or gzip member cut off before its payload, so a capture must end, give
    or take blank lines, where its last whole record does (``left_over``)."""

    def __init__(self, f):
        self._f, self.pos, self.last_data = f, 0, -1

    def read(self, size: int = -1) -> bytes:
        data = self._f.read(size)
        kept = len(data.rstrip(BLANK))
        if kept:
            self.last_data = self.pos + kept - 1
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos

    def left_over(self, end: int) -> int:
        """How many bytes after ``end`` are not all blank (0: the stream ends at ``end``)."""
        while self.read(1 << 20):  # what warcio never read
            pass
        return self.pos - end if self.last_data >= end else 0


BLANK = b"\r\n\t \x00"


#: The longest chunk-size line read as one: a longer first line is not a chunk header, and the
#: payload passes through as it is (a page sent as plain text under a chunked header).
CHUNK_LINE_BYTES = 4096


class Dechunked:
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
            # room for chunk extensions (RFC 9112 7.1.1: "5;name=value"): cut at 64 bytes, a
            # chunked payload with a long one passed through with its framing
            line = self._raw.readline(CHUNK_LINE_BYTES)
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


def content_stream(rec, limit: int):
    """The record's payload with its transfer and content codings undone (warcio's
    ``content_stream``, with chunks read in bounded steps, so every decoder sees at most one
    block at a time); brotli stops decoding past ``limit`` bytes (the reader's payload cap)."""
    headers = rec.http_headers
    if not headers:
        return rec.raw_stream
    encoding = (headers.get_header("content-encoding") or "").lower() or None
    if encoding not in BufferedReader.get_supported_decompressors():
        encoding = None
    raw = rec.raw_stream
    if headers.get_header("transfer-encoding") == "chunked":
        raw = Dechunked(raw)
    if not encoding:
        return raw
    reader = BufferedReader(raw, decomp_type=encoding)
    if encoding == "br":  # the reader's own cap: warcio makes its decoders without arguments
        reader.decompressor = Brotli(limit)
    return reader


class Brotli:
    """warcio's hook for ``Content-Encoding: br``, for brotli >= 1.2 (its ``process()`` API):
    output is produced in bounded steps and stops at a cap, so a brotli bomb cannot take memory.
    warcio's own hook uses an older API and fails on every brotli payload."""

    unused_data = None

    def __init__(self, limit: int = Limits().max_payload_bytes):
        import brotli

        self._decompressor = brotli.Decompressor()
        self._total = 0
        self.limit = limit

    def decompress(self, data: bytes) -> bytes:
        if self._total > self.limit:
            return b""  # past the cap: the reader has already stopped, the rest is dropped
        out = [self._decompressor.process(data, output_buffer_limit=1 << 20)]
        self._total += len(out[0])
        # Drained until it gives nothing: can_accept_more_data() says True while output is
        # still pending (brotli 1.2), and a payload over 2 MiB came out cut short, silently.
        while self._total <= self.limit and not self._decompressor.is_finished():
            more = self._decompressor.process(b"", output_buffer_limit=1 << 20)
            if not more:
                break
            out.append(more)
            self._total += len(more)
        return b"".join(out)

    def flush(self) -> bytes:
        return b""


BufferedReader.DECOMPRESSORS["br"] = Brotli


@contextlib.contextmanager
def file_at(path, offset: int):
    with open(path, "rb") as f:
        f.seek(offset)
        yield f


@contextlib.contextmanager
def member_at(zf: zipfile.ZipFile, member: str, offset: int):
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
