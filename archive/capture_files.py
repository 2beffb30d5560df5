"""Capture files before they are read: found among the paths given (directories walked), and
their format told by name and by their first bytes, whatever the name says; what a gzip member
at an offset is (damaged, and how, for a message; or only blank lines, which are nothing); a
WACZ's ZIP directory sized before zipfile reads it."""

from __future__ import annotations

import codecs
import os
import re
import struct
import zlib
from pathlib import Path

from .errors import CaptureError
from .hashing import file_sha256
from .streams import BLANK

GZIP_MAGIC = b"\x1f\x8b"

CAPTURE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wacz")


#: Common Crawl's derived WARC files, by name: WAT (metadata) and WET (extracted text)
_DERIVED = re.compile(r"\.(wat|wet)(\.gz)?$")
_DERIVED_WHAT = {"WAT": "metadata", "WET": "plain text"}


def capture_format(path: str | Path) -> str | None:
    """``warc``, ``arc`` or ``wacz`` from the file name, or None when it is not a capture."""
    name = Path(path).name.lower()
    for suffix in CAPTURE_SUFFIXES:
        if name.endswith(suffix):
            return suffix.strip(".").split(".")[0]
    return None


def file_size(path: Path) -> int:
    """A file's size in bytes, for progress: 0 if it cannot be read (gone, a link to nothing, a
    name no file can have), which the caller's own checks then report."""
    try:
        return path.stat().st_size
    except (OSError, ValueError):
        return 0


def sniff_format(path: str | Path) -> str:
    """``wacz``, ``warc`` or ``arc`` by what the file begins with, whatever its name says: a ZIP,
    a WARC record's version line, an ARC file's ``filedesc://`` version block (gzipped or not).
    Anything else is not a capture (warcio reads any line of five words as an ARC record
    header: a text file was ingested as one)."""
    derived = _DERIVED.search(Path(path).name.lower())
    if derived:
        # WARC files too, of what a capture's records were turned into: a directory's walk
        # leaves them out by name, so one named on the command line is refused the same way
        # (it was ingested, to no article)
        kind = derived.group(1).upper()
        raise CaptureError(
            path,
            f"a {kind} file ({_DERIVED_WHAT[kind]} derived from a capture), not a capture: "
            "ingest the WARC it was made from",
        )
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    if head[:4] == b"PK\x03\x04" or capture_format(path) == "wacz":
        return "wacz"  # a ZIP, or named as one (reading it says what is wrong)
    if head[:2] == GZIP_MAGIC:
        try:
            head = first_decompressed(head)
        except zlib.error:
            return "warc"  # damaged: reading it says where
    head = head.lstrip(b"\r\n")
    if head.startswith(b"filedesc://"):
        return "arc"
    if head.startswith(b"WARC/") or not head:
        return "warc"
    raise CaptureError(
        path,
        f"not a WARC or ARC file: it begins {first_line(head)}, not a WARC version line or "
        "an ARC file's filedesc:// header",
        0,
    )


def identify(path: Path) -> tuple[str, str]:
    """The capture file's format and SHA-256; :class:`CaptureError` if it is none."""
    if not path.is_file():
        what = (
            "not a regular file (a pipe, a device or a directory)"
            if path.exists()
            else "a link to nothing"
            if path.is_symlink()
            else "no such file"
        )
        raise CaptureError(path, what)
    if path.stat().st_size == 0:
        raise CaptureError(path, "empty file")
    return sniff_format(path), file_sha256(path)


def first_line(head: bytes) -> str:
    """The start of the first line of ``head`` for a message: quoted when it is text, else
    its first bytes in hex (random bytes were quoted as replacement characters and control
    codes, unreadable: an archivist's review)."""
    line = head.lstrip(b"\r\n").split(b"\n", 1)[0]
    try:
        # (incremental: a character cut at the end of what was read is not a reason to call
        # the line binary)
        text = codecs.getincrementaldecoder("utf-8")().decode(line[:240])[:60]
    except UnicodeDecodeError:
        text = None
    if text is not None and all(c.isprintable() or c in "\t\r" for c in text):
        return repr(text)
    return f"with the bytes {line[:12].hex(' ')}{' ...' if len(line) > 12 else ''} (not text)"


def first_decompressed(data: bytes, size: int = 4096) -> bytes:
    """The first bytes ``data``'s gzip members decompress to (an empty member may come first)."""
    while data[:2] == GZIP_MAGIC:
        member = zlib.decompressobj(31)
        out = member.decompress(data, size)
        if out or not member.eof:
            return out
        data = member.unused_data
    return b""


def gzip_damage_at(path: Path, start: int) -> str | None:
    """What zlib finds wrong with the gzip member at ``start``; None when no gzip member starts
    there, or it is whole."""
    with open(path, "rb") as f:
        f.seek(start)
        if f.read(2) != GZIP_MAGIC:
            return None
    return gzip_damage(path, start)


def blank_members(path: Path, end: int) -> bool:
    """Whether the file's bytes after ``end`` are whole gzip members holding only blanks."""
    with open(path, "rb") as f:
        f.seek(end)
        data = f.read(1 << 16).lstrip(BLANK)
    while data:
        rest = _after_blank_member(data)
        if rest is None:
            return False
        data = rest.lstrip(BLANK)
    return True


def blank_member_end(path: Path, start: int) -> int | None:
    """Where the gzip member at ``start`` ends, if it is one holding only blanks."""
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read(1 << 16)
    rest = _after_blank_member(data)
    return None if rest is None else start + len(data) - len(rest)


def _after_blank_member(data: bytes) -> bytes | None:
    """What follows the gzip member ``data`` starts with, if that member holds only blanks."""
    member = zlib.decompressobj(31)
    try:
        if member.decompress(data, 1 << 16).strip(BLANK) or not member.eof:
            return None
    except zlib.error:
        return None
    return member.unused_data


def gzip_damage(path: Path, offset: int, limit: int = 256 << 20) -> str | None:
    """What is wrong with the gzip member at ``offset``, read to its end (its first bytes may
    be whole and its checksum not: "holds no record" was said of a member whose CRC byte was
    flipped), or None; no more than ``limit`` bytes are read or inflated (a member of zeros
    inflating a thousandfold took seconds a megabyte: a review)."""
    member, read, inflated = zlib.decompressobj(31), 0, 0
    with open(path, "rb") as f:
        f.seek(offset)
        while not member.eof and read < limit and inflated < limit:
            chunk = f.read(1 << 20)
            if not chunk:
                return "the file ends inside it"
            read += len(chunk)
            try:
                while not member.eof and inflated < limit:
                    out = member.decompress(chunk, 1 << 20)
                    inflated += len(out)
                    chunk = member.unconsumed_tail
                    if not chunk and not out:  # this input used up, nothing left pending
                        break
            except zlib.error as e:
                return str(e).removeprefix("Error -3 while decompressing data: ")
    return None


def starts_as_zip(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PK\x03\x04"


def find_captures(paths) -> tuple[list[Path], list[Path], list[tuple[Path, str]]]:
    """Expand files and directories into capture files, in a stable order: (the captures, the
    other files the directories hold, by name not captures, the directories that could not be
    read and why). Linked directories are followed, each real directory once however many
    ways it is reached; a link to nothing, or a pipe, named as a capture is returned for the
    ingest to say what it is, not left out without a word."""
    found: list[Path] = []
    other: list[Path] = []
    unreadable: list[tuple[Path, str]] = []
    seen: set[str] = set()
    for p in map(Path, paths):
        if p.is_dir():
            for q in _files_under(p, seen, unreadable):
                (found if capture_format(q) else other).append(q)
        else:
            found.append(p)
    # a file named twice (itself and in its directory, or by a link) is read once: a broken one
    # was reported and counted as failed twice (an archivist's review)
    once: dict[str, Path] = {}
    for q in found:
        once.setdefault(os.path.realpath(q), q)
    return list(once.values()), other, unreadable


def _files_under(top: Path, seen: set[str], unreadable: list) -> list[Path]:
    files: list[Path] = []

    def cannot(e: OSError) -> None:
        unreadable.append((Path(e.filename or top), e.strerror or str(e)))

    for root, dirs, names in os.walk(top, followlinks=True, onerror=cannot):
        real = os.path.realpath(root)
        if real in seen:  # a link back up the tree, or to a directory already walked
            dirs[:] = []
            continue
        seen.add(real)
        dirs.sort()  # walked in name order: the first way to a directory is always the same
        files.extend(Path(root) / name for name in names)
    return sorted(files)


#: A WACZ holds a handful of files and its WARCs: more members than this is not one (and each
#: costs time to check)
MAX_MEMBERS = 100_000


def zip_directory(path) -> tuple[int, int] | None:
    """(members, bytes) of a ZIP file's central directory, as its end record says, read from
    the file's last 64 KiB: zipfile reads the whole directory before anyone can count it (4
    million empty members, a 350 MB file, took all the memory). zipfile reads exactly the
    bytes the record gives, so those bound it even when the count is forged. None when there is
    no end record."""
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - (1 << 16) - 22))
        tail = f.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < 22:
            return None
        count, directory = struct.unpack("<HI", tail[at + 10 : at + 16])
        locator = at - 20  # ZIP64: the figures are in the ZIP64 record its locator points at
        if locator >= 0 and tail[locator : locator + 4] == b"PK\x06\x07":
            (offset,) = struct.unpack("<Q", tail[locator + 8 : locator + 16])
            f.seek(offset)
            record = f.read(48)
            if len(record) == 48 and record[:4] == b"PK\x06\x06":
                count, directory = struct.unpack("<QQ", record[32:48])
    return count, directory


#: Central directory bytes per member allowed, on average: an entry is 46 bytes and its name,
#: and a WACZ's names are short (zipfile keeps ~500 bytes per member it reads).
_ENTRY_BYTES = 100


def too_many_members(path) -> str | None:
    """Why a WACZ is not read as one: more than ``MAX_MEMBERS`` members, or a directory
    larger than that many would take."""
    found = zip_directory(path)
    if found is None:
        return None
    count, directory = found
    if count > MAX_MEMBERS:
        return f"{count:,} ZIP members, more than the {MAX_MEMBERS:,} read"
    if directory > MAX_MEMBERS * _ENTRY_BYTES:
        return f"a ZIP directory of {directory:,} bytes, more than {MAX_MEMBERS:,} members' worth"
    return None
