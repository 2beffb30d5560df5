"""Near-duplicate measures: MinHash/LSH over character shingles for text, pHash for images.

Exact reuse is equality of content hashes. Near reuse is a separate, scored link, never a merge:

- **Claims.** Candidates come from MinHash locality-sensitive hashing over character 5-grams of
  the normalised text (hashed with FNV-1a, see ``shingle_hashes``; 63 MinHash functions in 21
  bands of 3: a pair meets in some band with probability 0.93 at Jaccard 0.5, 0.44 at 0.3, 0.02
  at 0.1). The MinHash leaves out the 5-grams common to most English sentences
  (``common_shingles.py``: " the ", "said ", "tion "...): unrelated sentences share little else,
  so they meet in a band about 3 times less often, while near copies share their rare 5-grams
  as much as before (measured in docs/performance.md). A candidate's
  similarity is first estimated from compact signatures (``estimate``); the likely ones are
  scored exactly: Jaccard similarity of the two shingle sets, and containment (shared shingles
  over the smaller set) so that a trimmed sentence still matches its original. Thresholds:
  ``NEAR_JACCARD`` and ``NEAR_CONTAINMENT`` (measured in docs/provenance-questions.md).
- **Images.** 64-bit perceptual hash (imagehash's pHash); a Hamming distance up to
  ``NEAR_PHASH_DISTANCE`` bits is a near copy (resized, recompressed, lightly cropped).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np

from .common_shingles import COMMON_SHINGLES
from .hashing import normalize_text

SHINGLE = 5
BANDS = 21
ROWS = 3
PERMUTATIONS = BANDS * ROWS
#: Claims shorter than this (normalised characters) are not linked by similarity: too generic.
MIN_CHARS = 40
#: Candidates scored exactly per claim at most (the most similar by their estimate first,
#: then those sharing the most bands).
MAX_CANDIDATES = 50
#: A band key shared by more claims than this is not used to find candidates: it marks a
#: template or boilerplate sentence repeated across many pages, and looking it up would cost time
#: in proportion to the archive. (Under the hash family 0003 replaced, such keys made 91% of all
#: band matches in a 90,000-claim archive.)
HOT_BAND = 200
#: The same within one article: a band key shared by more of the article's own claims marks a
#: line repeated with small changes (a results table, a list). Each such claim met every
#: candidate of the others: a page of 10,000 templated sentences and a recapture took 1.2 GB.
#: (On the 181 real pages, 48 keys are shared by 21-24 claims of one article; none by more.)
HOT_IN_ARTICLE = 20
NEAR_JACCARD = 0.5
NEAR_CONTAINMENT = 0.7
#: Candidates whose estimated Jaccard and containment are both under these are not scored
#: exactly (about three standard errors under the thresholds above).
MAYBE_JACCARD = 0.3
MAYBE_CONTAINMENT = 0.45
NEAR_PHASH_DISTANCE = 10
#: Near-copy links made per new image at most (the nearest).
MAX_IMAGE_LINKS = 50

# MinHash: the k-th "permutation" of a shingle hash h is fmix64(h XOR seed_k), MurmurHash3's
# 64-bit finaliser over a fixed random seed per permutation. (The classic (a*h + b) mod p needs
# a, b up to p; with a, b < 2**31, chosen to fit 64-bit arithmetic, a*h + b barely wraps, every
# permutation keeps the smallest h first, and unrelated sentences agreed on most of their MinHash
# values: 0003 replaced it.) Fixed: band keys are stored in archives, so they must not change
# with a library version; a change needs a migration that recomputes claim_bands (0003).
_RNG = np.random.RandomState(20261126)  # RandomState's stream is frozen by NumPy's policy
_SEEDS = _RNG.randint(0, 1 << 63, size=PERMUTATIONS, dtype=np.uint64) * np.uint64(2) + np.uint64(1)


_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_FNV_PRIME = np.uint64(0x100000001B3)
_33 = np.uint64(33)
_M1 = np.uint64(0xFF51AFD7ED558CCD)
_M2 = np.uint64(0xC4CEB9FE1A85EC53)


def shingle_hashes(text: str) -> np.ndarray:
    """The distinct 64-bit hashes of a text's character 5-grams, after normalisation.

    A shingle's hash is FNV-1a (64-bit) over its five code points, each taken as one unit, then
    MurmurHash3's 64-bit finaliser (fmix64): computed for every position at once with NumPy. A
    text shorter than five characters is one shingle.
    """
    return _hashes_of(normalize_text(text))


def _hashes_of(normalized: str) -> np.ndarray:
    return np.unique(_hashes_of_joined(normalized))


def _hashes_of_joined(normalized: str) -> np.ndarray:
    """The hash of the 5-gram at each position of ``normalized`` (one if it is shorter)."""
    cp = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = max(1, len(cp) - SHINGLE + 1)
    h = np.full(n, _FNV_OFFSET, dtype=np.uint64)
    for k in range(min(SHINGLE, len(cp))):
        h ^= cp[k : k + n]
        h *= _FNV_PRIME  # wraps modulo 2**64, as FNV-1a does
    # FNV-1a leaves the high bits of short inputs poorly mixed and MinHash wants hashes that
    # look random; MurmurHash3's finaliser is a bijection, so distinct shingles stay distinct.
    return _fmix(h)


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


def _common_hashes() -> np.ndarray:
    found = np.unique(np.concatenate([_hashes_of(g) for g in COMMON_SHINGLES]))
    assert len(found) == len(COMMON_SHINGLES)  # one hash each: 5 characters, already normal
    return found


def distinctive(hashes: np.ndarray) -> np.ndarray:
    """A text's shingle hashes without the common ones (``COMMON_SHINGLES``): what its MinHash
    is over. All of them when every one is common (a short, plain sentence)."""
    at = np.minimum(np.searchsorted(_COMMON, hashes), len(_COMMON) - 1)
    kept = hashes[_COMMON[at] != hashes]
    return kept if len(kept) else hashes


def _fmix(x: np.ndarray) -> np.ndarray:
    """MurmurHash3's 64-bit finaliser, in place: a bijection that mixes every bit."""
    x ^= x >> _33
    x *= _M1
    x ^= x >> _33
    x *= _M2
    x ^= x >> _33
    return x


#: The common shingles' hashes, sorted (found by binary search).
_COMMON = _common_hashes()


def _permuted(hv: np.ndarray) -> np.ndarray:
    """Every permutation of shingle hashes: fmix64(h XOR seed), one row per permutation (the
    minimum over each text's run of a row is then over contiguous memory: 25% faster than
    over a column)."""
    return _fmix(_SEEDS.reshape(-1, 1) ^ hv)


def bands(text: str) -> list[int]:
    """LSH band keys of a claim's text (none for short claims), as signed 64-bit integers."""
    return bands_many([text])[0]


def bands_many(texts: list[str]) -> list[list[int]]:
    """LSH band keys of each text, computed in one NumPy pass (an article's claims at once)."""
    return minhash_bands(texts).keys


@dataclass
class MinHashed:
    """What :func:`minhash_bands` computes for a list of texts, each list in their order."""

    keys: list[list[int]]  # LSH band keys ([] for a text under MIN_CHARS)
    hashes: list[np.ndarray | None]  # distinct shingle hashes (exact scoring uses them all)
    signatures: list[bytes | None]  # the low 16 bits of each MinHash value, little-endian
    sizes: list[int | None]  # how many shingles the MinHash is over (the distinctive ones)


def minhash_bands(texts: list[str]) -> MinHashed:
    """LSH band keys of each text, its shingle hashes and its compact MinHash signature.

    MinHash over the distinctive shingle hashes (``distinctive``), with the fixed permutations
    above; a band's key is FNV-1a (64-bit) over four 64-bit units, the band's index and its ROWS
    MinHash values, read as a signed integer. Texts under ``MIN_CHARS`` normalised characters
    get none of the three: they are never linked by similarity.
    """
    n = len(texts)
    out = MinHashed([[] for _ in texts], [None] * n, [None] * n, [None] * n)
    batch: dict[int, str] = {}
    total = 0
    for i, text in enumerate(texts):
        normalized = normalize_text(text)
        if len(normalized) < MIN_CHARS:
            continue
        batch[i] = normalized
        total += len(normalized)  # at least as many as its shingles
        if total >= _GROUP_SHINGLES:
            _minhash_batch(out, batch)
            batch, total = {}, 0
    if batch:
        _minhash_batch(out, batch)
    return out


#: Shingles hashed, sorted and deduplicated in one batch at most (their permutations are then
#: taken ``_BLOCK_SHINGLES`` at a time): unbounded, a migration's batch took gigabytes.
#: (Counted as characters, which are more: a batch also has fewer texts than 2**16.)
_GROUP_SHINGLES = 16_384


def _minhash_batch(out: MinHashed, batch: dict[int, str]) -> None:
    """The shingle hashes and MinHash of a batch of normalised texts (each of at least
    ``SHINGLE`` characters), in whole-array passes: the same values as :func:`_hashes_of` and
    :func:`distinctive` text by text, whose dozens of small NumPy calls per claim cost more
    than the arithmetic (0.6 ms per page)."""
    texts = list(batch.values())
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    ends = np.cumsum(lengths)
    # every 5-gram of the texts joined, then only those inside one text
    h = _hashes_of_joined("".join(texts))
    inside = np.ones(len(h), dtype=bool)
    inside[(ends[:-1, None] + np.arange(1 - SHINGLE, 0)).ravel()] = False
    h = h[inside]
    text_of = np.repeat(np.arange(len(texts), dtype=np.uint16), lengths - (SHINGLE - 1))
    # sorted by text, then hash (a stable sort of 16-bit keys is a radix sort), then distinct
    order = np.argsort(h)
    order = order[np.argsort(text_of[order], kind="stable")]
    h, text_of = h[order], text_of[order]
    first = np.ones(len(h), dtype=bool)
    first[1:] = (h[1:] != h[:-1]) | (text_of[1:] != text_of[:-1])
    h, text_of = h[first], text_of[first]
    hashes = np.split(h, np.cumsum(np.bincount(text_of, minlength=len(texts)))[:-1])
    at = np.minimum(np.searchsorted(_COMMON, h), len(_COMMON) - 1)
    rare = _COMMON[at] != h
    kept = np.split(h[rare], np.cumsum(np.bincount(text_of[rare], minlength=len(texts)))[:-1])
    group = {}
    for i, hv, kv in zip(batch, hashes, kept, strict=True):
        out.hashes[i] = hv
        group[i] = kv if len(kv) else hv  # as ``distinctive``: all when every one is common
        out.sizes[i] = len(group[i])
    _minhash_group(out, group)


#: Shingles permuted in one block at most: the block's 63 rows (~0.5 MB) stay in the CPU's
#: cache through fmix64's passes, which over a whole page's shingles at once went out to memory
#: for each (the MinHash of the 181 real pages: 1.6 ms a page against 2.0-2.1).
_BLOCK_SHINGLES = 1024


def _signatures(parts: list[np.ndarray]) -> np.ndarray:
    """The MinHash signature of each shingle array, one row each, a block of texts at a time."""
    blocks, start = [], 0
    while start < len(parts):
        end, size = start + 1, len(parts[start])
        while end < len(parts) and size + len(parts[end]) <= _BLOCK_SHINGLES:
            size += len(parts[end])
            end += 1
        block = parts[start:end]
        starts = np.cumsum([0] + [len(p) for p in block[:-1]])
        blocks.append(np.minimum.reduceat(_permuted(np.concatenate(block)), starts, axis=1).T)
        start = end
    return blocks[0] if len(blocks) == 1 else np.concatenate(blocks)


def _minhash_group(out: MinHashed, group: dict[int, np.ndarray]) -> None:
    which = list(group)
    signatures = _signatures(list(group.values()))
    rows = signatures.reshape(len(which), BANDS, ROWS)
    keys = np.full((len(which), BANDS), _FNV_OFFSET, dtype=np.uint64)
    keys ^= _BAND_INDEX
    keys *= _FNV_PRIME
    for r in range(ROWS):
        keys ^= rows[:, :, r]
        keys *= _FNV_PRIME
    low = (signatures & np.uint64(0xFFFF)).astype("<u2")
    for n, (i, row) in enumerate(zip(which, keys.view(np.int64).tolist(), strict=True)):
        out.keys[i] = row
        out.signatures[i] = low[n].tobytes()


def estimate(
    signature: bytes, size: int, others: list[bytes], other_sizes: list[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Estimated (Jaccard, containment) of one text against others, from compact signatures.

    The share of equal MinHash values estimates Jaccard (standard error about 0.06 at 0.5 with
    63 values; 16 bits make chance equality negligible); containment follows from Jaccard and
    the shingle counts. Used only to skip exact scoring of candidates that cannot be near.
    """
    mine = np.frombuffer(signature, dtype="<u2")
    theirs = np.frombuffer(b"".join(others), dtype="<u2").reshape(len(others), -1)
    jaccard = (theirs == mine).mean(axis=1)
    sizes = np.asarray(other_sizes, dtype=np.float64)
    shared = jaccard * (size + sizes) / (1 + jaccard)
    return jaccard, shared / np.minimum(size, sizes)


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

    from .images import IMAGE_FORMATS

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(payload), formats=IMAGE_FORMATS) as im:
                im.draft("L", (128, 128))  # JPEG: decode at reduced size, much faster
                return str(imagehash.phash(im))
    except Exception:  # noqa: BLE001 - Pillow raises many types for damaged images
        return None
