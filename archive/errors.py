"""Every error the library raises on purpose. The CLI turns these into one ``Error: ...`` line."""

from __future__ import annotations

_CONTROL = (
    {c: f"\\x{c:02x}" for c in [*range(32), 127, 0x85]}
    | {9: "\\t", 10: "\\n", 13: "\\r"}
    # the other line ends str.splitlines() knows
    | {0x2028: "\\u2028", 0x2029: "\\u2029"}
)


def one_line(text: str) -> str:
    """``text`` on one line: control characters (a newline in a file name) as escapes, and
    bytes that are not UTF-8 as ``printable`` writes them."""
    return printable(text).translate(_CONTROL)


#: Characters of an error line past which its middle is left out: a 100,000-character argument
#: was echoed whole, screens of it for one line.
MAX_LINE = 2000


def shortened(text: str) -> str:
    """``text``, its middle left out (said so) when it is longer than ``MAX_LINE``."""
    if len(text) <= MAX_LINE:
        return text
    cut = len(text) - MAX_LINE
    return f"{text[: MAX_LINE // 2]}…({cut:,} characters left out)…{text[-MAX_LINE // 2 :]}"


def printable(text: str) -> str:
    r"""``text`` with the bytes of a file name that are not UTF-8 as ``\xff`` (Python keeps them
    as surrogates, which printed as ``\udcff``), as a capture's signed filename writes them."""
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that stands for no byte (from JSON, say)
        raw = text.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


class ArchiveError(Exception):
    """Base class: anything the user can act on. The message is one line, fit to print."""

    exit_code = 1

    def __init__(self, message: str = "", *args):
        super().__init__(one_line(str(message)), *args)


class CaptureError(ArchiveError):
    """A capture file cannot be read (or not entirely). Names the file and the record offset."""

    def __init__(self, path: str, message: str, offset: int | None = None):
        self.path = str(path)
        self.offset = offset
        self.reason = message
        where = self.path if offset is None else f"{self.path} at offset {offset}"
        super().__init__(f"{where}: {message}")


class ClusterError(ArchiveError):
    """The Dask cluster cannot do the work: no scheduler, no workers, or workers on other
    code. Stops the run: no later file could be extracted either."""


class KeyFileError(ArchiveError):
    """A signing key is missing, unreadable, unsafe, or the passphrase is wrong."""


class ClockError(ArchiveError):
    """The system clock reads earlier than the archive's last signature: what is signed now
    would put the ledger's signing times out of order. Stops the run."""


class DatabaseError(ArchiveError):
    """The archive database is missing, corrupt, or from a newer version of this tool."""


class LimitExceeded(CaptureError):
    """A record or payload is larger than a configured cap (decompression bombs, giant records)."""
