"""Quote links (``claim_links`` of relation ``quote``): the same words quoted from one speaker in
other articles, however each frames them (one quotation contained in another). Run from
``links.Linker`` for each new article."""

from __future__ import annotations

from array import array
from collections import OrderedDict
from collections.abc import Iterable, Sequence

import numpy as np

from .hashing import normalize_text


def add_link(conn, a: str, b: str, relation: str, score: float) -> None:
    """A ``claim_links`` row each way between the claims ``a`` and ``b``."""
    for x, y in ((a, b), (b, a)):
        conn.execute(
            "INSERT OR IGNORE INTO claim_links (claim_id, other_claim_id, relation, score) "
            "VALUES (?, ?, ?, ?)",
            (x, y, relation, round(score, 3)),
        )


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
            rows = self.conn.execute(
                "SELECT rowid, quote FROM claims WHERE speaker = ? AND quote IS NOT NULL",
                (speaker,),
            )
            # a thousand at a time: each thousand's words sorted at once, as one run of the
            # speaker's index, and never a prolific speaker's quotes all in a list
            while chunk := rows.fetchmany(1000):
                self._hold(speaker, found, chunk)
        else:
            self.by_speaker.move_to_end(speaker)
        return found

    def add(self, speaker: str, rowid: int, quote: str) -> None:
        """A new claim's quote (written after the speaker's quotes were read, if they were)."""
        found = self.by_speaker.get(speaker)
        # not held: read from the database (with this claim) when next needed
        if found is not None and rowid > found.read_up_to:
            self._hold(speaker, found, ((rowid, quote),))

    def _hold(self, speaker: str, found: _SpeakerQuotes, rows: Iterable[tuple[int, str]]) -> None:
        """Hold the quotes ``rows`` (rowid, quote) of ``speaker``; drop others if too many."""
        normalized = [(rowid, q) for rowid, quote in rows if (q := _quote_words(quote))]
        if normalized:
            self.held += found.add(normalized)
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
    made only from ``index_from`` quotes.

    The quotes' text is one UTF-8 buffer (``text``: quote i is ``bounds[i]`` to
    ``bounds[i + 1]``), compared as bytes: one UTF-8 text is inside another exactly when its
    characters are. A str a quote took ~57 bytes more (its object and its slot in a list), a
    fifth of what the run's quotes took once their words were held compactly."""

    index_from = 16
    #: the estimate of ``size``, in bytes (CPython 3.11, measured with tracemalloc and RSS): a
    #: speaker's own containers; a quote beside its text (its rowid and its bound)
    SPEAKER, QUOTE = 480, 16

    __slots__ = ("read_up_to", "rowids", "text", "bounds", "words", "keys", "size")

    def __init__(self, read_up_to: int):
        #: the last claim rowid when they were read: claims after it are added as they come
        self.read_up_to = read_up_to
        self.rowids = array("q")
        self.text = bytearray()
        self.bounds = array("i", (0,))
        self.words: _WordIndex | None = None  # word -> the quotes that have it
        self.keys: _WordIndex | None = None  # word -> the quotes whose key it is
        self.size = self.SPEAKER

    def __len__(self) -> int:
        return len(self.rowids)

    def quote(self, i: int) -> str:
        """Quote ``i`` (in the order they were added), normalised."""
        return self.text[self.bounds[i] : self.bounds[i + 1]].decode()

    def add(self, quotes: Sequence[tuple[int, str]]) -> int:
        """Hold quotes (rowid, quote normalised) added after those held; what they add to
        ``size``. Their words go into the index together: many at once are one sort, not a
        merge every few dozen quotes."""
        text = self.text
        first, before = len(self), len(text)
        for rowid, quote in quotes:
            self.rowids.append(rowid)
            text += quote.encode()
            self.bounds.append(len(text))
        # a bytearray grows by an eighth: its bytes as allocated, not as used
        added = self.QUOTE * len(quotes) + (len(text) - before) * 9 // 8
        texts = [quote for _, quote in quotes]
        if self.words is None and len(self) >= self.index_from:
            self.words, self.keys = _WordIndex(), _WordIndex()
            added += self.words.size + self.keys.size
            texts[:0] = map(self.quote, range(first))  # the quotes held before, indexed now
            first = 0
        if self.words is not None:
            new = range(first, len(self))
            split = [text.split(" ") for text in texts]
            added += self.words.add(zip(map(set, split), new, strict=True))
            keys = [(max(words[1:-1] or words, key=len),) for words in split]
            added += self.keys.add(zip(keys, new, strict=True))
        self.size += added
        return added

    def _candidates(self, quote: str) -> tuple[Iterable[int], Iterable[int]]:
        """The quotes that may contain ``quote`` (normalised), and those that may be inside it."""
        words = quote.split(" ")
        inner = words[1:-1]
        if self.words is None or not inner:  # few quotes; or under three words (never asked)
            return range(len(self)), range(len(self))
        inner = list(dict.fromkeys(inner))
        rarest = inner[int(np.argmin(self.words.counts(inner)))]
        return self.words.having((rarest,)), self.keys.having(list(set(words)))

    def related(self, quote: str) -> list[tuple[int, int]]:
        """The quotes that contain ``quote`` (normalised) or are inside it, in the order they
        were added: (index, length in characters) each."""
        mine = quote.encode()
        text, bounds = self.text, self.bounds
        containing, inside = self._candidates(quote)
        found = {i for i in containing if text.find(mine, bounds[i], bounds[i + 1]) >= 0}
        for i in inside:
            start, end = bounds[i], bounds[i + 1]
            if end - start < len(mine) and text[start:end] in mine:
                found.add(i)
        return [(i, len(self.quote(i))) for i in sorted(found)]


class _WordIndex:
    """Word -> the quotes (their indexes) that have it, for a speaker's many quotes.

    Held as (hash, quote) pairs, 8 bytes a posting, in sorted runs: the pairs of the last
    quotes wait unsorted until there are ``merge_from``, then become a run, merged with the run
    before it while that one is at most twice its size (a binary counter: a run of N postings
    among at most log2(N / merge_from) + 1, each posting copied about as many times). A lookup
    searches each run and the pairs waiting, all of a quote's words at once.

    Before the twenty-ninth round the words added since the last merge waited in a dict of
    words, ~75 bytes a posting, until they were half as many as those merged: two thirds of
    what the run's quotes took (13 of 20 MB for the growth archive's first 60,000 quotes).

    Two words of one hash share their postings: more candidates, each compared whole by the
    caller. (Python's str hash is salted per process; the index lives in one.)
    """

    #: the estimate of ``size``, in bytes (CPython 3.11, numpy 2, measured with tracemalloc):
    #: the empty index (its object, its list, the three arrays waiting); a run beside its pairs
    #: (two arrays' objects, a tuple); a pair waiting (a whole hash); a quote waiting (its
    #: index and where its pairs end, with room to grow)
    EMPTY, RUN, WAITING_PAIR, WAITING_QUOTE = 400, 320, 8, 12
    merge_from = 512  # pairs waiting before they become a run

    __slots__ = ("runs", "hashes", "quotes", "ends", "run_bytes", "size")

    def __init__(self):
        #: (hashes sorted, their quotes) a run, oldest first: a word's postings in each are in
        #: the order they came, so the runs in turn give them in that order
        self.runs: list[tuple[np.ndarray, np.ndarray]] = []
        # the pairs waiting: the words' hashes (whole), the quotes, where each quote's end
        self.hashes, self.quotes, self.ends = array("q"), array("i"), array("i")
        self.run_bytes = 0
        self.size = self.EMPTY

    def add(self, quotes: Iterable[tuple[Iterable[str], int]]) -> int:
        """Add quotes (words, index), each added after every quote held, to the postings of
        each of their words; what that adds to the size."""
        hashes, ends = self.hashes, self.ends
        for words, i in quotes:
            hashes.extend(map(_hash, words))
            self.quotes.append(i)
            ends.append(len(hashes))
        if len(hashes) >= self.merge_from:
            self._flush()
        size = self.EMPTY + self.run_bytes
        size += self.WAITING_PAIR * len(self.hashes) + self.WAITING_QUOTE * len(self.quotes)
        added, self.size = size - self.size, size
        return added

    def _flush(self) -> None:
        """The pairs waiting become a run; merge the runs that are then alike in size."""
        hashes = _hashes(self.hashes)
        quotes = np.repeat(self.quotes, np.diff(self.ends, prepend=0)).astype(np.int32)
        order = np.argsort(hashes, kind="stable")  # a word's quotes stay in their order
        runs = self.runs
        runs.append((hashes[order], quotes[order]))
        self.hashes, self.quotes, self.ends = array("q"), array("i"), array("i")
        while len(runs) > 1 and len(runs[-2][0]) <= 2 * len(runs[-1][0]):
            newer = runs.pop()
            runs.append(_merged(runs.pop(), newer))
        self.run_bytes = sum(h.nbytes + q.nbytes + self.RUN for h, q in runs)

    def _search(self, words: Sequence[str]) -> tuple[np.ndarray, list]:
        """The hashes of ``words``, and where each is in each run: (hashes, quotes, first,
        past) a run."""
        hashes = _hashes(np.fromiter(map(_hash, words), np.int64, len(words)))
        found = []
        for run_hashes, quotes in self.runs:
            first = np.searchsorted(run_hashes, hashes, "left")
            found.append((quotes, first, np.searchsorted(run_hashes, hashes, "right")))
        return hashes, found

    def counts(self, words: Sequence[str]) -> np.ndarray:
        """How many quotes have each of ``words``."""
        hashes, found = self._search(words)
        waiting = _hashes(self.hashes)
        n = (waiting[:, None] == hashes).sum(axis=0)
        for _, first, past in found:
            n += past - first
        return n

    def having(self, words: Sequence[str]) -> list[int]:
        """The quotes that have any of ``words`` (a quote once for each of its words that is
        one of them): a word's in the order they were added."""
        hashes, found = self._search(words)
        out: list[int] = []
        for quotes, first, past in found:
            for a, b in zip(first.tolist(), past.tolist(), strict=True):
                if a < b:
                    out += quotes[a:b].tolist()
        if self.hashes:
            quotes = np.repeat(self.quotes, np.diff(self.ends, prepend=0))
            out += quotes[np.isin(_hashes(self.hashes), hashes)].tolist()
        return out


def _merged(older: tuple[np.ndarray, np.ndarray], newer: tuple[np.ndarray, np.ndarray]):
    """Two sorted runs as one: of a hash, the older run's postings first."""
    (a, a_quotes), (b, b_quotes) = older, newer
    to_a = np.searchsorted(b, a, "left") + np.arange(len(a))
    to_b = np.searchsorted(a, b, "right") + np.arange(len(b))
    hashes = np.empty(len(a) + len(b), np.int32)
    quotes = np.empty(len(a) + len(b), np.int32)
    hashes[to_a], hashes[to_b] = a, b
    quotes[to_a], quotes[to_b] = a_quotes, b_quotes
    return hashes, quotes


#: The hash of a word in ``_WordIndex`` (a name of its own so that a test can make words collide),
#: kept to 31 bits: a posting's hash in 4 bytes (a speaker's words rarely collide there: each
#: collision is a candidate more)
_hash = hash


def _hashes(hashes) -> np.ndarray:
    """Words' hashes (``_hash``) as a run holds them: their low 31 bits, in 4 bytes."""
    return (np.asarray(hashes, np.int64) & 0x7FFFFFFF).astype(np.int32)


def _quote_words(quote: str) -> str | None:
    """A quote as compared: normalised, trimmed of punctuation; None under three words."""
    normalized = normalize_text(quote).strip(" .,;:")
    return normalized if len(normalized.split()) >= 3 else None


def link_quotes(conn, article_id: str, quotes: QuoteIndex) -> None:
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
        for i, theirs in held.related(mine):
            other_id, other_article, other_sha = conn.execute(
                "SELECT id, article_id, text_sha256 FROM claims WHERE rowid = ?",
                (held.rowids[i],),
            ).fetchone()
            if other_article != article_id and other_sha != sha:
                score = min(len(mine), theirs) / max(len(mine), theirs)
                add_link(conn, claim_id, other_id, "quote", score)
        quotes.add(speaker, rowid, quote)
