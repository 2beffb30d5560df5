"""Near-duplicate measures: MinHash/LSH over character shingles for text, pHash for images.

Exact reuse is equality of content hashes. Near reuse is a separate, scored link, never a merge:

- **Claims.** Candidates come from MinHash locality-sensitive hashing over character 5-grams of
  the normalised text (hashed with FNV-1a, see ``shingle_hashes``; 63 permutations in 21 bands
  of 3: a pair meets in some band with probability 0.93 at Jaccard 0.5, 0.44 at 0.3, 0.02 at
  0.1, the similarity of unrelated news sentences that share common words). Each candidate
  pair is then scored exactly: Jaccard similarity of the two shingle sets, and containment
  (shared shingles over the smaller set) so that a trimmed sentence still matches its original.
  Thresholds: ``NEAR_JACCARD`` and
  ``NEAR_CONTAINMENT`` (measured in docs/provenance-questions.md).
- **Images.** 64-bit perceptual hash (imagehash's pHash); a Hamming distance up to
  ``NEAR_PHASH_DISTANCE`` bits is a near copy (resized, recompressed, lightly cropped).
"""

from __future__ import annotations

import io
import warnings

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
#: A band key shared by more claims than this is not used to find candidates: such keys come
#: from common shingles (" the ", "said ") taking the minimum, and in a 90,000-claim archive the
#: keys over 100 claims made 91% of all band matches (docs/performance.md).
HOT_BAND = 200
NEAR_JACCARD = 0.5
NEAR_CONTAINMENT = 0.7
NEAR_PHASH_DISTANCE = 10
#: Near-copy links made per new image at most (the nearest).
MAX_IMAGE_LINKS = 50

# MinHash permutations h -> (a*h + b) mod p, fixed: band keys are stored in archives, so they
# must not change with a library version; a change to how keys are made needs a migration that
# recomputes claim_bands (as 0003_fnv_band_keys did when CRC-32 and BLAKE2b gave way to FNV-1a).
# a, b < 2**31 and h < 2**32 keep a*h + b < 2**64.
_PRIME = (1 << 61) - 1
_RNG = np.random.RandomState(20261126)  # RandomState's stream is frozen by NumPy's policy
_A = _RNG.randint(1, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)
_B = _RNG.randint(0, 1 << 31, size=PERMUTATIONS, dtype=np.uint64)


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_32 = np.uint64(32)


def shingle_hashes(text: str) -> np.ndarray:
    """The distinct 64-bit hashes of a text's character 5-grams, after normalisation.

    A shingle's hash is FNV-1a (64-bit) over its five code points, each taken as one unit:
    computed for every position at once with NumPy. A text shorter than five characters is one
    shingle.
    """
    return _hashes_of(normalize_text(text))


def _hashes_of(normalized: str) -> np.ndarray:
    cp = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = max(1, len(cp) - SHINGLE + 1)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    for k in range(min(SHINGLE, len(cp))):
        h ^= cp[k : k + n]
        h *= _FNV_PRIME  # wraps modulo 2**64, as FNV-1a does
    return np.unique(h)


#: Shingle sets by text: a claim is compared many times within a capture. Bounded (emptied when
#: full: the sets in use are the current article's and its candidates'); cleared after each
#: capture (``forget``); filled with the sets the workers computed (``remember``).
_CACHE: dict[str, frozenset[int]] = {}
_CACHE_MAX = 512  # ~6 MB: a set of ~150 Python integers takes ~12 KB


def shingles(text: str) -> frozenset[int]:
    """The shingle hashes of a text as a set (cached)."""
    found = _CACHE.get(text)
    if found is None:
        found = remember(text, shingle_hashes(text))
    return found


def remember(text: str, hashes: np.ndarray) -> frozenset[int]:
    """Cache the shingle hashes of ``text`` (computed elsewhere, e.g. in a worker)."""
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    found = _CACHE[text] = frozenset(hashes.tolist())
    return found


def forget() -> None:
    _CACHE.clear()


_BAND_INDEX = np.arange(BANDS, dtype=np.uint64)
_P = np.uint64(_PRIME)
_61 = np.uint64(61)


def _permuted(hv: np.ndarray) -> np.ndarray:
    """``(hv * _A + _B) % _PRIME`` for a column of hashes, without a division: x mod (2**61 - 1)
    is (x & p) + (x >> 61), less p once if that reaches p. Ten times faster than ``%``."""
    x = hv * _A
    x += _B
    high = x >> _61
    x &= _P
    x += high
    np.subtract(x, _P, out=x, where=x >= _P)
    return x


def bands(text: str) -> list[int]:
    """LSH band keys of a claim's text (none for short claims), as signed 64-bit integers."""
    return bands_many([text])[0]


def bands_many(texts: list[str]) -> list[list[int]]:
    """LSH band keys of each text, computed in one NumPy pass (an article's claims at once)."""
    return minhash_bands(texts)[0]


def minhash_bands(texts: list[str]) -> tuple[list[list[int]], list[np.ndarray | None]]:
    """LSH band keys of each text, and the shingle hashes they came from.

    MinHash over the high 32 bits of the shingle hashes, with the fixed permutations above; a
    band's key is FNV-1a (64-bit) over four 64-bit units, the band's index and its ROWS MinHash
    values, read as a signed integer. Texts under ``MIN_CHARS`` normalised characters get none
    (and no shingle hashes: they are never linked by similarity).
    """
    out: list[list[int]] = [[] for _ in texts]
    hashes: list[np.ndarray | None] = [None for _ in texts]
    parts: list[np.ndarray] = []
    starts: list[int] = []
    which: list[int] = []
    total = 0
    for i, text in enumerate(texts):
        normalized = normalize_text(text)
        if len(normalized) < MIN_CHARS:
            continue
        hashes[i] = _hashes_of(normalized)
        starts.append(total)
        which.append(i)
        parts.append(hashes[i] >> _32)
        total += len(parts[-1])
    if not which:
        return out, hashes
    hv = np.concatenate(parts).reshape(-1, 1)
    signatures = np.minimum.reduceat(_permuted(hv), starts, axis=0)
    rows = signatures.reshape(len(which), BANDS, ROWS)
    keys = np.full((len(which), BANDS), _FNV_OFFSET, dtype=np.uint64)
    keys ^= _BAND_INDEX
    keys *= _FNV_PRIME
    for r in range(ROWS):
        keys ^= rows[:, :, r]
        keys *= _FNV_PRIME
    for i, row in zip(which, keys.view(np.int64).tolist(), strict=True):
        out[i] = row
    return out, hashes


def scores(a: str, b: str) -> tuple[float, float]:
    """(Jaccard, containment) of two texts' shingle sets."""
    return score_sets(shingles(a), shingles(b))


def score_sets(sa: frozenset[int], sb: frozenset[int]) -> tuple[float, float]:
    """(Jaccard, containment) of two shingle sets."""
    if len(sb) < len(sa):
        sa, sb = sb, sa
    inter = len(sa.intersection(sb))  # iterates the smaller set; no union is built
    return inter / (len(sa) + len(sb) - inter), inter / len(sa)


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
