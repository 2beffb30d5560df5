"""Near-duplicate measures: MinHash/LSH over character shingles for text, pHash for images.

Exact reuse is equality of content hashes. Near reuse is a separate, scored link, never a merge:

- **Claims.** Candidates come from MinHash locality-sensitive hashing over character 5-grams of
  the normalised text (64 permutations in 32 bands of 2, so pairs with Jaccard similarity around
  0.3 and above are very likely to meet in some band). Each candidate pair is then scored exactly:
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

from datasketch import MinHash

from .hashing import normalize_text

SHINGLE = 5
PERMUTATIONS = 64
BANDS = 32
ROWS = PERMUTATIONS // BANDS
#: Claims shorter than this (normalised characters) are not linked by similarity: too generic.
MIN_CHARS = 40
NEAR_JACCARD = 0.5
NEAR_CONTAINMENT = 0.7
NEAR_PHASH_DISTANCE = 10


def shingles(text: str) -> set[str]:
    t = normalize_text(text)
    return {t[i : i + SHINGLE] for i in range(max(1, len(t) - SHINGLE + 1))}


def bands(text: str) -> list[int]:
    """LSH band keys for a claim's text (empty for short claims): signed 64-bit integers."""
    t = normalize_text(text)
    if len(t) < MIN_CHARS:
        return []
    m = MinHash(num_perm=PERMUTATIONS, seed=1)
    m.update_batch([s.encode("utf-8") for s in shingles(text)])
    values = m.hashvalues
    keys = []
    for b in range(BANDS):
        chunk = struct.pack(f">B{ROWS}Q", b, *(int(v) for v in values[b * ROWS : (b + 1) * ROWS]))
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
