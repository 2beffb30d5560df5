"""Near-duplicate measures: MinHash/LSH over character shingles for text, pHash for images.

Exact reuse is equality of content hashes. Near reuse is a separate, scored link, never a merge:

- **Claims.** Candidates come from MinHash locality-sensitive hashing over character 5-grams of
  the normalised text (63 permutations in 21 bands of 3: a pair meets in some band with
  probability 0.93 at Jaccard 0.5, 0.44 at 0.3, 0.02 at 0.1, the similarity of unrelated news
  sentences that share common words). Each candidate pair is then scored exactly:
  Jaccard similarity of the two shingle sets, and containment (shared shingles over the smaller
  set) so that a trimmed sentence still matches its original. Thresholds: ``NEAR_JACCARD`` and
  ``NEAR_CONTAINMENT`` (measured in docs/provenance-questions.md).
- **Images.** 64-bit perceptual hash (imagehash's pHash); a Hamming distance up to
  ``NEAR_PHASH_DISTANCE`` bits is a near copy (resized, recompressed, lightly cropped).
"""

from __future__ import annotations

import hashlib
import io
import struct
import warnings
import zlib
from functools import lru_cache

import numpy as np

from .hashing import normalize_text

SHINGLE = 5
BANDS = 21
ROWS = 3
PERMUTATIONS = BANDS * ROWS
#: Claims shorter than this (normalised characters) are not linked by similarity: too generic.
MIN_CHARS = 40
#: Candidates scored per claim at most (those sharing the most bands first).
MAX_CANDIDATES = 50
NEAR_JACCARD = 0.5
NEAR_CONTAINMENT = 0.7
NEAR_PHASH_DISTANCE = 10

# MinHash permutations h -> (a*h + b) mod p, fixed forever: band keys are stored in archives, so
# they must not change with a library version. a, b < 2**31 and h < 2**32 keep a*h + b < 2**64.
_PRIME = (1 << 61) - 1
_RNG = np.random.RandomState(20261126)  # RandomState's stream is frozen by NumPy's policy
_A = _RNG.randint(1, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)
_B = _RNG.randint(0, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)


@lru_cache(maxsize=4096)  # ~40 MB at most: sets of ~150 short strings
def shingles(text: str) -> frozenset[str]:
    """Character 5-grams of the normalised text (cached: a claim is compared many times)."""
    t = normalize_text(text)
    return frozenset(t[i : i + SHINGLE] for i in range(max(1, len(t) - SHINGLE + 1)))


def bands(text: str) -> list[int]:
    """LSH band keys of a claim's text (none for short claims), as signed 64-bit integers.

    MinHash over CRC-32 hashes of the character 5-grams of the normalised text, with the fixed
    permutations above; each band of ROWS values is hashed (BLAKE2b, 8 bytes) with its index.
    """
    t = normalize_text(text)
    if len(t) < MIN_CHARS:
        return []
    hv = np.fromiter(
        (zlib.crc32(s.encode("utf-8")) for s in shingles(text)), dtype=np.uint64
    ).reshape(-1, 1)
    signature = ((hv * _A + _B) % _PRIME).min(axis=0)
    keys = []
    for b in range(BANDS):
        chunk = struct.pack(f">B{ROWS}Q", b, *signature[b * ROWS : (b + 1) * ROWS].tolist())
        keys.append(
            int.from_bytes(hashlib.blake2b(chunk, digest_size=8).digest(), "big", signed=True)
        )
    return keys


def scores(a: str, b: str) -> tuple[float, float]:
    """(Jaccard, containment) of two texts' shingle sets."""
    sa, sb = shingles(a), shingles(b)
    inter = len(sa & sb)
    return inter / len(sa | sb), inter / min(len(sa), len(sb))


def is_near(jaccard: float, containment: float) -> bool:
    return jaccard >= NEAR_JACCARD or containment >= NEAR_CONTAINMENT


def phash(payload: bytes) -> str | None:
    """pHash of an image as 16 hex digits, or None when it cannot be decoded."""
    import imagehash
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(payload)) as im:
                im.draft("L", (128, 128))  # JPEG: decode at reduced size, much faster
                return str(imagehash.phash(im))
    except Exception:  # noqa: BLE001 - Pillow raises many types for damaged images
        return None


def hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()
