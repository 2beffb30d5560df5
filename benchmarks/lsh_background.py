#!/usr/bin/env python3
"""How many band candidates does a new claim meet as the archive grows, and what would other
LSH schemes find? Measured on real news claims.

    .venv/bin/python benchmarks/lsh_background.py --json benchmarks/out/lsh-background.json

Ingests the 181 real article pages of ../shared (benchmarks/ingest.py's ``--real`` corpus) into
an archive under benchmarks/out/ once, reads its claims, and for every pair of claims from two
different articles asks whether they meet in an LSH band:

- **band pairs that are not near** (false candidates): each costs the linker a band row read, a
  signature lookup and an estimate. Unrelated sentences meet with a fixed probability per pair
  (they share common 5-grams: " the ", "tion "), so a new claim meets about that rate times the
  claims already in the archive: reported per pair and projected per new claim at 100,000,
  690,000 (the growth benchmark's archive) and 34,000,000 claims (a million pages);
- **near pairs found** (``is_near`` on exact 5-gram shingle sets: Jaccard >= 0.5, or containment
  >= 0.7 with Jaccard under 0.5, "containment-only"), through the bands and the signature estimate
  (``MAYBE_JACCARD``, ``MAYBE_CONTAINMENT``), as the linker finds them. The near pairs are found
  exhaustively first: every pair that agrees on 6 or more of 128 independent MinHash values is
  scored exactly (a pair with Jaccard 0.2 agrees on ~26).

Schemes: character k-grams for the MinHash (k = 5, 6, 7; ``5d``: 5-grams without the common
ones of archive/common_shingles.py, the archive's since migration 0008), or word k-grams
(``w2``, ``w3``: runs of 2 or 3 words, ``\\w+``), and bands x rows (21 x 3, as in the archive;
21 x 4; 15 x 4; 32 x 2). Exact scoring stays on character 5-grams in all of them. The archive's
scheme (``5d``, 21 x 3) and the one before it (5, 21 x 3) are run with the archive's
permutations; every scheme is also run with ``--seeds`` sets of permutations drawn here (seeded,
so runs repeat), since with 52 near pairs one set of permutations finds a few more or fewer
than another. The common 5-grams were drawn from these same claims: for figures with the list
drawn from other claims than those measured, ``benchmarks/common_shingles.py --evaluate``.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import sqlite3
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfutil import OUT, REPO, built_once, machine, write_json  # noqa: E402

sys.path.insert(0, str(REPO))
from archive import similarity as S  # noqa: E402
from archive.hashing import normalize_text  # noqa: E402

SCHEMES = [
    ("5d", 21, 3),
    (5, 21, 3),
    (6, 21, 3),
    (7, 21, 3),
    (5, 21, 4),
    (5, 15, 4),
    ("w2", 21, 3),
    ("w3", 21, 3),
    ("w3", 32, 2),
]
_WORD = re.compile(r"\w+")
PROJECT_AT = [100_000, 690_000, 34_000_000]


def build(home: Path) -> None:
    from ingest import files_of, real_corpus

    from archive.ingest import Ingester
    from archive.keys import generate_key

    corpus, _ = real_corpus()
    tmp = home.with_name(home.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ingester = Ingester(tmp / "archive.db", generate_key(tmp / "key.pem"))
    for path in files_of(corpus):
        ingester.ingest_file(path)
    ingester.db.conn.close()
    tmp.rename(home)


def kgram_hashes(normalized: str, k: int) -> np.ndarray:
    """The archive's shingle hashes (FNV-1a then fmix64), for k-grams of any length."""
    cp = np.frombuffer(normalized.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    n = max(1, len(cp) - k + 1)
    h = np.full(n, S._FNV_OFFSET, dtype=np.uint64)
    for i in range(min(k, len(cp))):
        h ^= cp[i : i + n]
        h *= S._FNV_PRIME
    return np.unique(S._fmix(h))


def word_hashes(normalized: str, k: int) -> np.ndarray:
    """64-bit hashes (BLAKE2b) of a text's runs of ``k`` words; a shorter text is one run."""
    words = _WORD.findall(normalized)
    runs = [" ".join(words[i : i + k]) for i in range(max(1, len(words) - k + 1))]
    digests = (hashlib.blake2b(r.encode(), digest_size=8).digest() for r in runs)
    return np.unique(np.array([int.from_bytes(d, "little") for d in digests], np.uint64))


def minhash(hashes: list[np.ndarray], seeds: np.ndarray) -> np.ndarray:
    return np.array([S._fmix(h.reshape(-1, 1) ^ seeds).min(axis=0) for h in hashes])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json")
    ap.add_argument("--seeds", type=int, default=2, help="permutation sets drawn per scheme")
    args = ap.parse_args()
    started = time.perf_counter()
    home = built_once(OUT / "lsh-real-home", build)
    rows = sqlite3.connect(home / "archive.db").execute("SELECT article_id, text FROM claims")
    data = [(a, n) for a, t in rows if len(n := normalize_text(t)) >= S.MIN_CHARS]
    n = len(data)
    article = np.array([hash(a) for a, _ in data])
    pairs = (article[:, None] != article[None, :]) & np.triu(np.ones((n, n), bool), 1)
    total = int(pairs.sum())

    sets5 = [frozenset(kgram_hashes(t, 5).tolist()) for _, t in data]
    rng = np.random.RandomState(5)
    net = minhash(
        [np.fromiter(s, np.uint64) for s in sets5],
        rng.randint(0, 1 << 63, size=128, dtype=np.uint64) | np.uint64(1),
    )
    agree = np.zeros((n, n), np.uint8)
    for k in range(net.shape[1]):
        agree += net[:, k][:, None] == net[:, k][None, :]
    near: dict[tuple[int, int], float] = {}  # pair -> exact 5-gram Jaccard
    for i, j in zip(*np.nonzero((agree >= 6) & pairs), strict=True):
        jaccard, containment = S.score_sets(sets5[i], sets5[j])
        if sets5[i] != sets5[j] and S.is_near(jaccard, containment):
            near[int(i), int(j)] = jaccard
    high = sum(j >= S.NEAR_JACCARD for j in near.values())

    runs = []
    for k, bands, rows_per_band in SCHEMES:
        if (bands, rows_per_band) == (S.BANDS, S.ROWS) and k in ("5d", S.SHINGLE):
            runs.append((k, bands, rows_per_band, "archive", S._SEEDS))
        for seed in range(1, args.seeds + 1):
            drawn = np.random.RandomState(1000 * seed + bands * rows_per_band).randint(
                0, 1 << 63, size=bands * rows_per_band, dtype=np.uint64
            ) | np.uint64(1)
            runs.append((k, bands, rows_per_band, seed, drawn))
    results = []
    for k, bands, rows_per_band, seed, seeds in runs:
        if isinstance(k, int):
            hashes = [kgram_hashes(t, k) for _, t in data]
        elif k == "5d":
            hashes = [S.distinctive(kgram_hashes(t, 5)) for _, t in data]
        else:
            hashes = [word_hashes(t, int(k[1:])) for _, t in data]
        sig = minhash(hashes, seeds)
        meet = np.zeros((n, n), bool)
        for b in range(bands):
            key = np.zeros(n, np.uint64)
            for r in range(rows_per_band):
                key = key * np.uint64(1_000_003) ^ sig[:, b * rows_per_band + r]
            meet |= key[:, None] == key[None, :]
        meet &= pairs
        ii, jj = np.nonzero(meet)
        low = (sig & np.uint64(0xFFFF)).astype(np.uint16)
        est_j = (low[ii] == low[jj]).mean(axis=1)
        sizes = np.array([len(h) for h in hashes], float)
        shared = est_j * (sizes[ii] + sizes[jj]) / (1 + est_j)
        est_c = shared / np.minimum(sizes[ii], sizes[jj])
        kept = (est_j >= S.MAYBE_JACCARD) | (est_c >= S.MAYBE_CONTAINMENT)
        is_near = np.array([(int(i), int(j)) in near for i, j in zip(ii, jj, strict=True)], bool)
        found = [
            near[int(i), int(j)]
            for i, j in zip(ii[kept & is_near], jj[kept & is_near], strict=True)
        ]
        false_rate = int((~is_near).sum()) / total
        results.append(
            {
                "shingle": k,
                "permutations_seed": seed,
                "bands": bands,
                "rows": rows_per_band,
                "permutations": bands * rows_per_band,
                "false_candidates_per_pair": float(f"{false_rate:.3g}"),
                "false_candidates_per_new_claim": {
                    str(at): round(false_rate * at, 1) for at in PROJECT_AT
                },
                "scored_exactly_per_new_claim_at_690000": round(
                    int((~is_near & kept).sum()) / total * 690_000, 2
                ),
                "near_found": len(found),
                "near_found_jaccard_at_least_0.5": sum(j >= S.NEAR_JACCARD for j in found),
                "near_found_containment_only": sum(j < S.NEAR_JACCARD for j in found),
            }
        )
    out = {
        "machine": machine(),
        "claims": n,
        "cross_article_pairs": total,
        "near_pairs": len(near),
        "near_pairs_jaccard_at_least_0.5": high,
        "near_pairs_containment_only": len(near) - high,
        "schemes": results,
        "seconds": round(time.perf_counter() - started, 1),
    }
    for r in results:
        print(
            f"{r['shingle']}-grams, {r['bands']} x {r['rows']} (permutations "
            f"{r['permutations_seed']}): false candidates per new claim "
            f"{r['false_candidates_per_new_claim']}; near found {r['near_found']}/{len(near)} "
            f"(Jaccard >= 0.5: {r['near_found_jaccard_at_least_0.5']}/{high}, containment-only: "
            f"{r['near_found_containment_only']}/{len(near) - high})"
        )
    if args.json:
        write_json(args.json, out)


if __name__ == "__main__":
    main()
