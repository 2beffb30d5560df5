"""What a capture's reader remembers of the records it has passed, in ~24 bytes a record.

Reading a capture, ``reader.CaptureReader`` keeps every WARC-Record-ID (to name duplicates) and
where each payload digest was first seen (to give a revisit its response's payload). Held as
Python strings in a set and a dict, that took ~250 bytes a record: a 3 GB capture's 88,000
records made 20 MB of the writer's memory, the one part of it that grew with the capture
(docs/performance-history.md, twenty-seventh round). Here each entry is a 16-byte key, a BLAKE2b
digest of the text, with an int64 value, in sorted NumPy arrays; the entries added since the
last merge wait in a dict, and are inserted in place (no re-sort) every ``MERGE_AT`` entries.

Two texts share a key with a probability of ~n²/2¹²¹ (120 bits of BLAKE2b, the last byte is
fixed): nil for any capture.
"""

from __future__ import annotations

import hashlib

import numpy as np

# the last byte is set, never 0: NumPy's bytes type drops trailing NULs from what it returns
_KEY = np.dtype("S16")


def _key(text: str) -> bytes:
    # surrogatepass: a header that was not valid UTF-8 still has one key of its own
    data = text.encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=15).digest() + b"\x01"


class Seen:
    """A map from text to an int that keeps ~24 bytes an entry (a set: ``add``)."""

    #: entries held in the dict before they go into the arrays (~1 MB)
    MERGE_AT = 4096

    def __init__(self) -> None:
        self._keys = np.empty(0, dtype=_KEY)  # sorted
        self._values = np.empty(0, dtype=np.int64)
        self._recent: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._keys) + len(self._recent)

    def get(self, text: str) -> int | None:
        return self._get(_key(text))

    def setdefault(self, text: str, value: int) -> int:
        """The value held for ``text``; ``value``, now held, if there was none."""
        key = _key(text)
        held = self._get(key)
        if held is not None:
            return held
        self._recent[key] = value
        if len(self._recent) >= self.MERGE_AT:
            self._merge()
        return value

    def add(self, text: str) -> bool:
        """Hold ``text``; whether it was new."""
        before = len(self)
        self.setdefault(text, 0)
        return len(self) > before

    def _get(self, key: bytes) -> int | None:
        held = self._recent.get(key)
        if held is None and len(self._keys):
            i = int(np.searchsorted(self._keys, key))
            if i < len(self._keys) and self._keys[i] == key:
                held = int(self._values[i])
        return held

    def _merge(self) -> None:
        keys = sorted(self._recent)
        new = np.array(keys, dtype=_KEY)
        at = np.searchsorted(self._keys, new)
        self._keys = np.insert(self._keys, at, new)
        self._values = np.insert(
            self._values, at, np.fromiter((self._recent[k] for k in keys), np.int64, len(keys))
        )
        self._recent = {}
