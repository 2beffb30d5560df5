"""Provenance links, computed at ingest between a new capture and what the archive holds.

- ``claim_links``: near reuse of a claim (``near``: MinHash candidates scored by Jaccard and
  containment) and the same quotation framed differently (``quote``: one speaker's quoted words
  contained in another's: archive/quote_links.py). Exact reuse needs no link: equal
  ``claims.text_sha256``.
- ``image_links``: near copies of an image by pHash distance (archive/image_links.py). Exact
  reuse: equal SHA-256.
- ``changes``: what changed between consecutive captures of one page (archive/changes.py,
  run from here).

Links are derived data: not signed, and recomputable from the signed rows.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict

from .changes import link_versions
from .db import select_in
from .image_links import PhashIndex, link_images
from .quote_links import QuoteIndex, add_link, link_quotes
from .similarity import (
    BANDS,
    HOT_BAND,
    HOT_IN_ARTICLE,
    MAX_CANDIDATES,
    MAYBE_CONTAINMENT,
    MAYBE_JACCARD,
    estimate,
    forget,
    is_near,
    score_sets,
    shingle_hashes,
    shingles,
)


class Linker:
    """Links one capture's articles and images to what the archive holds, inside its transaction.

    Each article's claims are linked as soon as its rows are written, to every claim written
    before them (in this capture too): a pair is considered once, when its later claim arrives,
    and linking runs while the workers extract the next pages instead of after the last one.
    Page versions and images wait for :meth:`finish`: image uses are written last.
    """

    #: band rows held before one sorted insert (~3 MB): inserting 100,000 random keys in key
    #: order is 2.6 times faster than as they come, in a claim_bands of millions of rows
    flush_rows = 20_000

    def __init__(
        self,
        conn: sqlite3.Connection,
        capture_sha256: str,
        phashes: PhashIndex | None = None,
        quotes: QuoteIndex | None = None,
    ):
        self.conn = conn
        self.capture_sha256 = capture_sha256
        #: the archive's pHashes, kept across the captures of one run (None: read each time)
        self.phashes = phashes
        #: the speakers' quotes, kept across the captures of one run (None: this capture's)
        self.quotes = quotes if quotes is not None else QuoteIndex()
        self.quotes.begin(conn)
        # this capture's band rows not written yet, and the same by band key for lookups
        self.rows: list[tuple[int, str]] = []
        self.pending: defaultdict[int, list[str]] = defaultdict(list)
        #: band keys found shared by more than HOT_BAND claims (counts only grow in a capture)
        self.hot: set[int] = set()

    def article(
        self, article_id: str, bands: list[tuple[int, str]], minhash: list[tuple[str, int, bytes]]
    ) -> None:
        """Link a new article's claims, then keep their ``bands`` (claim_bands rows) to write;
        ``minhash`` are their claim_minhash rows."""
        # first: a re-framed quotation is a "quote" link
        link_quotes(self.conn, article_id, self.quotes)
        _link_article_claims(self.conn, article_id, bands, minhash, self.pending, self.hot)
        pending = self.pending
        for key, claim_id in bands:
            pending[key].append(claim_id)
        self.rows += bands
        if len(self.rows) >= self.flush_rows:
            self.flush()

    def flush(self) -> None:
        """Write the pending band rows, in key order."""
        self.rows.sort()
        self.conn.executemany(
            "INSERT OR IGNORE INTO claim_bands (band_key, claim_id) VALUES (?, ?)", self.rows
        )
        self.rows = []
        self.pending = defaultdict(list)

    def finish(self, image_shas: list[str]) -> None:
        self.flush()
        self.quotes.finish()
        articles = self.conn.execute(
            "SELECT id FROM articles WHERE capture_sha256 = ? ORDER BY rowid",
            (self.capture_sha256,),
        ).fetchall()
        link_versions(self.conn, [article_id for (article_id,) in articles])
        if image_shas:
            link_images(self.conn, image_shas, index=self.phashes)
        forget()  # the next capture's texts are others


def _link_article_claims(
    conn,
    article_id: str,
    bands: list[tuple[int, str]],
    minhash: list[tuple[str, int, bytes]],
    pending: dict[int, list[str]],
    hot: set[int],
) -> None:
    """Near links for one article's claims: LSH candidates, estimated, then scored exactly.

    One lookup by band key finds every band match of the article's claims, except in bands
    shared by more than ``HOT_BAND`` claims or by more than ``HOT_IN_ARTICLE`` of its own;
    candidates in the same article and exact copies (same text hash) are left out. Each
    candidate's similarity is estimated from its MinHash signature (claim_minhash); those that
    may be near, best first, one copy of each text and at most ``MAX_CANDIDATES`` per claim,
    are scored exactly on their shingles. ``hot`` gathers the band keys found shared
    by more than ``HOT_BAND`` claims; the caller keeps it for the capture, so they are not read
    again.
    """
    if not bands:
        return
    mine = {
        claim_id: (text, sha)
        for claim_id, text, sha in conn.execute(
            "SELECT id, text, text_sha256 FROM claims WHERE article_id = ?", (article_id,)
        )
    }
    claims_by_key: defaultdict[int, list[str]] = defaultdict(list)
    for key, claim_id in bands:
        claims_by_key[key].append(claim_id)
    counts: dict[tuple[str, str], int] = {}
    # Every claim sharing a band: those written, and this capture's not written yet. A band
    # shared by very many claims (a template, boilerplate) would cost time in proportion to the
    # archive: left out, and remembered for the rest of the capture so that its rows are read
    # once at most.
    keys = sorted(
        key for key, own in claims_by_key.items() if key not in hot and len(own) <= HOT_IN_ARTICLE
    )
    found: defaultdict[int, list[str]] = defaultdict(list)
    for key, other_id in select_in(
        conn, "SELECT band_key, claim_id FROM claim_bands WHERE band_key IN ({})", keys
    ):
        found[key].append(other_id)
    for key in keys:
        if key in pending:
            found[key] += pending[key]

    def matches():
        for key, others in found.items():
            if len(others) > HOT_BAND:
                hot.add(key)
                continue
            for other_id in others:
                yield key, other_id

    for key, other_id in matches():
        if other_id in mine:
            continue
        for claim_id in claims_by_key[key]:
            counts[claim_id, other_id] = counts.get((claim_id, other_id), 0) + 1
    if not counts:
        return
    shared: dict[str, list[tuple[str, int]]] = {}
    for (claim_id, other_id), n in counts.items():
        shared.setdefault(claim_id, []).append((other_id, n))
    # Exact copies share every band: those candidates have their hash looked up first (so that
    # they take no place among the best); the chosen are checked again below, because an exact
    # copy shares fewer bands when some of them are hot.
    full = sorted({o for (_, o), n in counts.items() if n == BANDS})
    hashes = dict(_fetch(conn, "text_sha256", full))
    signatures = {
        i: (n, sig)
        for i, n, sig in select_in(
            conn,
            "SELECT claim_id, shingles, signature FROM claim_minhash WHERE claim_id IN ({})",
            sorted({o for _, o in counts}),
        )
    }
    my_signatures = {claim_id: (n, sig) for claim_id, n, sig in minhash}
    ranked: dict[str, list[str]] = {}
    for claim_id, candidates in shared.items():
        sha = mine[claim_id][1]
        candidates = [(o, n) for o, n in candidates if hashes.get(o) != sha and o in signatures]
        if not candidates or claim_id not in my_signatures:
            continue
        size, signature = my_signatures[claim_id]
        jaccard, containment = estimate(
            signature,
            size,
            [signatures[o][1] for o, _ in candidates],
            [signatures[o][0] for o, _ in candidates],
        )
        maybe = [
            (-max(j, c), -n, o)
            for (o, n), j, c in zip(candidates, jaccard.tolist(), containment.tolist(), strict=True)
            if j >= MAYBE_JACCARD or c >= MAYBE_CONTAINMENT
        ]
        maybe.sort()
        ranked[claim_id] = [o for _, _, o in maybe]
    # One place per text, not per copy: a sentence copied word for word on many pages (a
    # syndicated story) filled every place with its copies and crowded out other near versions.
    # One copy stands for the rest: claim_everywhere lists every copy of a linked text. By the
    # text's hash, not the MinHash signature, which a one-word edit of a long sentence often
    # leaves unchanged.
    unknown = {o for r in ranked.values() for o in r} - hashes.keys()
    hashes.update(_fetch(conn, "text_sha256", sorted(unknown)))
    chosen: dict[str, list[str]] = {}
    for claim_id, candidates in ranked.items():
        taken = {mine[claim_id][1]}  # its own exact copies: no link
        chosen[claim_id] = []
        for other_id in candidates:
            if hashes[other_id] not in taken:
                taken.add(hashes[other_id])
                chosen[claim_id].append(other_id)
                if len(chosen[claim_id]) == MAX_CANDIDATES:
                    break
    # Texts only for the chosen candidates, each shingled once for the whole article.
    # (none is an exact copy of its claim: ``taken`` left those out)
    texts = dict(_fetch(conn, "text", sorted({o for c in chosen.values() for o in c})))
    sets: dict[str, frozenset[int]] = {}
    for claim_id, candidates in chosen.items():
        mine_set = shingles(mine[claim_id][0])
        for other_id in candidates:
            theirs = sets.get(other_id)
            if theirs is None:
                theirs = sets[other_id] = frozenset(shingle_hashes(texts[other_id]).tolist())
            jaccard, containment = score_sets(mine_set, theirs)
            if is_near(jaccard, containment):
                add_link(conn, claim_id, other_id, "near", max(jaccard, containment))


def _fetch(conn, column: str, ids: list[str]):
    """(id, column) of the claims ``ids``."""
    return select_in(conn, f"SELECT id, {column} FROM claims WHERE id IN ({{}})", ids)
