"""Provenance links, computed at ingest between a new capture and what the archive holds.

- ``claim_links``: near reuse of a claim (``near``: MinHash candidates scored by Jaccard and
  containment) and the same quotation framed differently (``quote``: one speaker's quoted words
  contained in another's). Exact reuse needs no link: equal ``claims.text_sha256``.
- ``image_links``: near copies of an image by pHash distance. Exact reuse: equal SHA-256.
- ``changes``: what changed between consecutive captures of one page (archive/changes.py,
  run from here).

Links are derived data: not signed, and recomputable from the signed rows.
"""

from __future__ import annotations

import sqlite3
from array import array
from collections import OrderedDict, defaultdict

import numpy as np

from .changes import link_versions
from .hashing import normalize_text
from .similarity import (
    BANDS,
    HOT_BAND,
    HOT_IN_ARTICLE,
    MAX_CANDIDATES,
    MAX_IMAGE_LINKS,
    MAYBE_CONTAINMENT,
    MAYBE_JACCARD,
    NEAR_PHASH_DISTANCE,
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
        _link_quotes(self.conn, article_id, self.quotes)
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
            _link_images(self.conn, image_shas, index=self.phashes)
        forget()  # the next capture's texts are others


def _select_in(conn, sql: str, ids: list):
    """The rows of ``sql``, whose ``IN ({})`` takes ``ids``, queried 512 ids at a time."""
    for chunk in _chunks(ids):
        yield from conn.execute(sql.format(", ".join("?" * len(chunk))), chunk)


def _add_link(conn, a: str, b: str, relation: str, score: float) -> None:
    for x, y in ((a, b), (b, a)):
        conn.execute(
            "INSERT OR IGNORE INTO claim_links (claim_id, other_claim_id, relation, score) "
            "VALUES (?, ?, ?, ?)",
            (x, y, relation, round(score, 3)),
        )


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
    for key, other_id in _select_in(
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
        for i, n, sig in _select_in(
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
                _add_link(conn, claim_id, other_id, "near", max(jaccard, containment))


def _fetch(conn, column: str, ids: list[str]):
    """(id, column) of the claims ``ids``."""
    return _select_in(conn, f"SELECT id, {column} FROM claims WHERE id IN ({{}})", ids)


def _chunks(items: list, n: int = 512):
    """``items`` in lists of at most ``n``, for ``IN (...)`` parameters, each padded with NULLs
    (which match nothing) to a power of two: the few shapes stay in sqlite3's statement cache,
    which a statement per list length would fill (128 statements of up to 500 parameters held
    ~10 MB and were prepared again and again)."""
    for i in range(0, len(items), n):
        chunk = items[i : i + n]
        yield chunk + [None] * ((1 << (len(chunk) - 1).bit_length()) - len(chunk))


class QuoteIndex:
    """Each speaker's quotes, read and normalised once per ingest run (a prolific speaker's
    quotes are compared with every new one of theirs; reading and normalising them again for
    each capture cost the most: 1.2 s for 49,000).

    Held across the run's captures as ``PhashIndex`` holds pHashes: :meth:`begin` adds what
    other processes committed since the last capture this run finished, :meth:`forget`
    empties it after a rollback (whose claims it may hold), and it starts again when the last
    claim it saw is not there as it was (another database file, a rebuilt table).

    Bounded: past ``max_bytes`` (an estimate of what the speakers' quotes take, made as they
    are added: ``_SpeakerQuotes.size``) the speakers used longest ago are dropped (and read
    again from the database if they speak again: this capture's rows are there too, in its
    transaction), so memory stays flat however many pages a run holds. At 20,000 quotes (a
    count) a speaker quoted 49,000 times was read again for nearly every page that quoted
    anyone: 0.8 s a page at a million claims (``benchmarks/quote_links.py``).
    """

    max_bytes = 96 << 20

    def __init__(self, conn=None):
        self.conn = conn
        self.forget()

    def forget(self) -> None:
        # speaker -> their quotes, the speaker used longest ago first
        self.by_speaker: OrderedDict[str, _SpeakerQuotes] = OrderedDict()
        self.held = 0  # bytes, as the speakers' sizes estimate them
        #: (rowid, id) of the last claim when the run's last capture finished
        self.seen: tuple[int, str] | None = None

    def begin(self, conn) -> None:
        """A capture starts, in its transaction: add the quotes of held speakers that other
        processes committed since the run's last capture (claims are never deleted, so their
        rowids only grow)."""
        self.conn = conn
        if self.seen is None:
            return
        last, claim_id = self.seen
        same = conn.execute("SELECT id FROM claims WHERE rowid = ?", (last,)).fetchone()
        if same is None or same[0] != claim_id:  # not the archive this run saw: start again
            self.forget()
            return
        for rowid, speaker, quote in conn.execute(
            "SELECT rowid, speaker, quote FROM claims WHERE rowid > ? AND quote IS NOT NULL "
            "AND speaker IS NOT NULL ORDER BY rowid",
            (last,),
        ):
            self.add(speaker, rowid, quote)

    def finish(self) -> None:
        """The capture's claims are all written (and linked): note the last."""
        last = self.conn.execute("SELECT rowid, id FROM claims ORDER BY rowid DESC LIMIT 1")
        self.seen = last.fetchone()

    def of(self, speaker: str) -> _SpeakerQuotes:
        """Every quote of ``speaker``."""
        found = self.by_speaker.get(speaker)
        if found is None:
            (last,) = self.conn.execute("SELECT max(rowid) FROM claims").fetchone()
            found = self.by_speaker[speaker] = _SpeakerQuotes(last or 0)
            self.held += found.size
            for rowid, quote in self.conn.execute(
                "SELECT rowid, quote FROM claims WHERE speaker = ? AND quote IS NOT NULL",
                (speaker,),
            ):
                self._hold(speaker, found, rowid, quote)
        else:
            self.by_speaker.move_to_end(speaker)
        return found

    def add(self, speaker: str, rowid: int, quote: str) -> None:
        """A new claim's quote (written after the speaker's quotes were read, if they were)."""
        found = self.by_speaker.get(speaker)
        # not held: read from the database (with this claim) when next needed
        if found is not None and rowid > found.read_up_to:
            self._hold(speaker, found, rowid, quote)

    def _hold(self, speaker: str, found: _SpeakerQuotes, rowid: int, quote: str) -> None:
        normalized = _quote_words(quote)
        if normalized:
            self.held += found.add(rowid, normalized)
            if self.held > self.max_bytes:
                self._bound(speaker)

    def _bound(self, keep: str) -> None:
        """Drop the speakers used longest ago (never ``keep``) until under ``max_bytes``."""
        self.by_speaker.move_to_end(keep)
        while self.held > self.max_bytes and len(self.by_speaker) > 1:
            _, dropped = self.by_speaker.popitem(last=False)
            self.held -= dropped.size


class _SpeakerQuotes:
    """One speaker's quotes as compared (normalised, by claim rowid), indexed by their words so
    that a new quote is tested only against those that can contain it or be inside it, not
    against each of a prolific speaker's tens of thousands.

    A quote is words joined by single spaces. If A is inside B, every word of A but its first
    and last (which may be parts of B's words) is a whole word of B. So the quotes B that may
    hold a new quote are those that have its rarest inner word (``words``), and those that may
    be inside it are those whose longest inner word (their ``keys``) is one of its words. Most
    speakers are quoted a few times: their quotes are compared one by one, and the index is
    made only from ``index_from`` quotes (it costs more memory than their text)."""

    index_from = 16
    #: the estimate of ``size``, in bytes (CPython 3.11, measured: benchmarks/quote_links.py
    #: --memory): a speaker's own containers; a quote beside its text; each word indexed
    SPEAKER, QUOTE, WORD = 450, 80, 18

    __slots__ = ("read_up_to", "rowids", "quotes", "words", "keys", "size")

    def __init__(self, read_up_to: int):
        #: the last claim rowid when they were read: claims after it are added as they come
        self.read_up_to = read_up_to
        self.rowids = array("q")
        self.quotes: list[str] = []
        self.words: dict[str, array] | None = None  # word -> the quotes that have it
        self.keys: dict[str, array] | None = None  # word -> the quotes whose key it is
        self.size = self.SPEAKER

    def add(self, rowid: int, quote: str) -> int:
        """Hold a quote; what it adds to ``size``."""
        self.rowids.append(rowid)
        self.quotes.append(quote)
        added = self.QUOTE + len(quote)
        if self.words is not None:
            added += self._index(len(self.quotes) - 1)
        elif len(self.quotes) == self.index_from:
            self.words, self.keys = {}, {}
            added += sum(self._index(i) for i in range(len(self.quotes)))
        self.size += added
        return added

    def _index(self, i: int) -> int:
        words = self.quotes[i].split(" ")
        distinct = set(words)
        for word in distinct:
            _posting(self.words, word).append(i)
        _posting(self.keys, max(words[1:-1] or words, key=len)).append(i)
        return self.WORD * len(distinct)

    def candidates(self, quote: str) -> list[int] | range:
        """The quotes (their indexes, in the order they were added) that may contain
        ``quote`` (normalised) or be inside it."""
        words = quote.split(" ")
        inner = words[1:-1]
        if self.words is None or not inner:  # few quotes; or under three words (never asked)
            return range(len(self.quotes))
        rarest = min(inner, key=lambda word: len(self.words.get(word, ())))
        found = set(self.words.get(rarest, ()))
        for word in set(words):
            found.update(self.keys.get(word, ()))
        return sorted(found)


def _posting(index: dict[str, array], word: str) -> array:
    found = index.get(word)
    if found is None:
        found = index[word] = array("i")
    return found


def _quote_words(quote: str) -> str | None:
    """A quote as compared: normalised, trimmed of punctuation; None under three words."""
    normalized = normalize_text(quote).strip(" .,;:")
    return normalized if len(normalized.split()) >= 3 else None


def _link_quotes(conn, article_id: str, quotes: QuoteIndex) -> None:
    """The same words quoted from one speaker in other articles, however they are framed."""
    new = conn.execute(
        "SELECT rowid, id, speaker, quote, text_sha256 FROM claims "
        "WHERE article_id = ? AND quote IS NOT NULL AND speaker IS NOT NULL",
        (article_id,),
    ).fetchall()
    for rowid, claim_id, speaker, quote, sha in new:
        mine = _quote_words(quote)
        if mine is None:
            continue
        held = quotes.of(speaker)
        for i in held.candidates(mine):
            theirs = held.quotes[i]
            if not (mine in theirs or theirs in mine):
                continue
            other_id, other_article, other_sha = conn.execute(
                "SELECT id, article_id, text_sha256 FROM claims WHERE rowid = ?",
                (held.rowids[i],),
            ).fetchone()
            if other_article != article_id and other_sha != sha:
                score = min(len(mine), len(theirs)) / max(len(mine), len(theirs))
                _add_link(conn, claim_id, other_id, "quote", score)
        quotes.add(speaker, rowid, quote)


class PhashIndex:
    """The archive's image pHashes, held in memory across the captures of one ingest run (16
    bytes an image: 16 MB at a million), so that linking a capture's images costs a comparison
    in memory, not a read of every pHash from the database: at a million images that read took
    1.2 s a capture, which a run of one-page captures paid for every page.

    :meth:`refresh` reads the images added since (by this transaction, or by other processes'
    committed ones: rowids only grow, as images are never deleted); :meth:`forget` empties it
    after a rollback, whose rows it may hold (and a refresh that finds the last image it holds
    changed starts again). Past ``max_images`` it holds nothing and
    ``_link_images`` reads the database each time, as without it: memory stays bounded.
    """

    max_images = 4_000_000

    def __init__(self) -> None:
        self.too_many = False  # the archive holds more than max_images: nothing kept
        self.forget()

    def forget(self) -> None:
        self.rowids = np.empty(0, np.int64)
        self.values = np.empty(0, np.uint64)
        self.size = 0
        self.upto = 0  # the images read: every rowid up to this

    def refresh(self, conn, chunk: int = 1 << 14) -> bool:
        """Read what was added since; False when the archive holds too many to keep."""
        if self.too_many:
            return False
        if self.size:  # the last image held is still there as it was, or start again
            row = conn.execute(
                "SELECT phash FROM images WHERE rowid = ?", (int(self.rowids[self.size - 1]),)
            ).fetchone()
            if row is None or row[0] is None or int(row[0], 16) != int(self.values[self.size - 1]):
                self.forget()
        last = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM images").fetchone()[0]
        rows = conn.execute(
            "SELECT rowid, phash FROM images WHERE rowid > ? AND rowid <= ? "
            "AND phash IS NOT NULL ORDER BY rowid",
            (self.upto, last),
        )
        while batch := rows.fetchmany(chunk):
            rowids, values = _phash_arrays(batch)
            end = self.size + len(batch)
            if end > self.max_images:
                self.forget()
                self.too_many = True
                return False
            if end > len(self.rowids):  # room doubles: appends cost nothing on average
                room = max(end, 2 * len(self.rowids), chunk)
                self.rowids = _grown(self.rowids, self.size, room)
                self.values = _grown(self.values, self.size, room)
            self.rowids[self.size : end] = rowids
            self.values[self.size : end] = values
            self.size = end
        self.upto = last
        return True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.rowids[: self.size], self.values[: self.size]


def _grown(array: np.ndarray, size: int, room: int) -> np.ndarray:
    grown = np.empty(room, array.dtype)
    grown[:size] = array[:size]
    return grown


def _phash_arrays(batch: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    rowids = np.fromiter((r for r, _ in batch), dtype=np.int64, count=len(batch))
    values = np.fromiter((int(v, 16) for _, v in batch), dtype=np.uint64, count=len(batch))
    return rowids, values


def _link_images(
    conn, shas: list[str], chunk: int = 1 << 14, index: PhashIndex | None = None
) -> None:
    """Near copies of each new image by pHash distance: its ``MAX_IMAGE_LINKS`` nearest.

    Compared with NumPy against the archive's pHashes: those ``index`` holds (the run's
    :class:`PhashIndex`, refreshed first), else one pass over the database's, ``chunk`` at a
    time, so that memory stays flat in the size of the archive (a list of every pHash took ~100
    bytes an image). The cap keeps a photo reused a thousand times from making a million
    links (its copies are found from any one).
    """
    new = []
    for sha in shas:
        found = conn.execute("SELECT rowid, phash FROM images WHERE sha256 = ?", (sha,)).fetchone()
        if found and found[1]:
            new.append((sha, found[0], int(found[1], 16)))
    if not new:
        return
    if index is not None and index.refresh(conn, chunk):
        batches = [index.arrays()]
    else:
        rows = conn.execute("SELECT rowid, phash FROM images WHERE phash IS NOT NULL")
        batches = (_phash_arrays(batch) for batch in iter(lambda: rows.fetchmany(chunk), []))
    mine = np.array([value for _, _, value in new], dtype=np.uint64)
    my_rowids = np.array([rowid for _, rowid, _ in new], dtype=np.int64)
    # per new image: (distance, rowid) of its nearest so far, at most MAX_IMAGE_LINKS
    nearest = [(np.empty(0, np.uint8), np.empty(0, np.int64)) for _ in new]
    for rowids, values in batches:
        for i in range(len(new)):
            distance = np.bitwise_count(values ^ mine[i])
            near = np.flatnonzero((distance <= NEAR_PHASH_DISTANCE) & (rowids != my_rowids[i]))
            if near.size:
                d = np.concatenate([nearest[i][0], distance[near]])
                r = np.concatenate([nearest[i][1], rowids[near]])
                # nearest first, then the earliest stored
                keep = np.lexsort((r, d))[:MAX_IMAGE_LINKS]
                nearest[i] = (d[keep], r[keep])
    links = []
    for (sha, _, _), (distances, rowids) in zip(new, nearest, strict=True):
        others = _image_shas(conn, rowids.tolist())
        for d, rowid in zip(distances.tolist(), rowids.tolist(), strict=True):
            links += [(sha, others[rowid], d), (others[rowid], sha, d)]
    conn.executemany(
        "INSERT OR IGNORE INTO image_links (image_sha256, other_sha256, distance) VALUES (?, ?, ?)",
        links,
    )


def _image_shas(conn, rowids: list[int]) -> dict[int, str]:
    return dict(_select_in(conn, "SELECT rowid, sha256 FROM images WHERE rowid IN ({})", rowids))
