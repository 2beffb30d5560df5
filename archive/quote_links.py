"""Quote links (``claim_links`` of relation ``quote``): the same words quoted from one speaker in
other articles, however each frames them (one quotation contained in another). Run from
``links.Linker`` for each new article."""

from __future__ import annotations

import sys
from array import array
from bisect import bisect_left
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
    #: --memory): a speaker's own containers; a quote beside its text
    SPEAKER, QUOTE = 450, 80

    __slots__ = ("read_up_to", "rowids", "quotes", "words", "keys", "size")

    def __init__(self, read_up_to: int):
        #: the last claim rowid when they were read: claims after it are added as they come
        self.read_up_to = read_up_to
        self.rowids = array("q")
        self.quotes: list[str] = []
        self.words: _WordIndex | None = None  # word -> the quotes that have it
        self.keys: _WordIndex | None = None  # word -> the quotes whose key it is
        self.size = self.SPEAKER

    def add(self, rowid: int, quote: str) -> int:
        """Hold a quote; what it adds to ``size`` (less than nothing when the index shrinks)."""
        self.rowids.append(rowid)
        self.quotes.append(quote)
        added = self.QUOTE + len(quote)
        if self.words is not None:
            added += self._index(len(self.quotes) - 1)
        elif len(self.quotes) == self.index_from:
            self.words, self.keys = _WordIndex(), _WordIndex()
            added += self.words.size + self.keys.size
            added += sum(self._index(i) for i in range(len(self.quotes)))
        self.size += added
        return added

    def _index(self, i: int) -> int:
        words = self.quotes[i].split(" ")
        return self.words.add(set(words), i) + self.keys.add(
            (max(words[1:-1] or words, key=len),), i
        )

    def candidates(self, quote: str) -> list[int] | range:
        """The quotes (their indexes, in the order they were added) that may contain
        ``quote`` (normalised) or be inside it."""
        words = quote.split(" ")
        inner = words[1:-1]
        if self.words is None or not inner:  # few quotes; or under three words (never asked)
            return range(len(self.quotes))
        found = set(self.words.get(min(inner, key=self.words.count)))  # the rarest's quotes
        for word in set(words):
            found.update(self.keys.get(word))
        return sorted(found)


class _WordIndex:
    """Word -> the quotes (their indexes) that have it, for a speaker's many quotes.

    In a dict, a word cost ~100 bytes beside its postings (its str, its slot, an int or an
    array), and a speaker's vocabulary was most of what the run's quotes took (~11 of 16 MB
    for 9,800 quotes of news-like text: most words are in one quote only). Here most words are
    in three sorted arrays: the word's ``hash``, where its postings start, the postings: 16
    bytes a word and 4 a posting. The postings added since the arrays were made are in a dict,
    merged into them when they reach half as many: each is copied about twice (merging at a
    quarter took 10% less memory and 13% more time: ``benchmarks/quote_links.py``).

    Two words of one hash share their postings once merged: more candidates, each compared
    whole by the caller. (Python's str hash is salted per process; the index lives in one.)
    """

    #: the estimate of ``size``, in bytes (CPython 3.11, measured with tracemalloc): the empty
    #: index; in the dict, a word's first posting beside its text (the word's str, its slot,
    #: the index as an int); its second (the array that replaces the int); each further one
    EMPTY, NEW_WORD, SECOND, POSTING = 500, 105, 100, 6
    merge_from = 256  # postings in the dict before the first arrays are made

    __slots__ = ("hashes", "starts", "postings", "recent", "pending", "merge_at", "size")

    def __init__(self):
        self.hashes = array("q")  # sorted
        self.starts = array("q", (0,))  # the postings of hashes[k]: starts[k] to starts[k + 1]
        self.postings = array("i")
        self.recent: dict[str, int | array] = {}  # a word of one quote holds its index alone
        self.pending = 0  # postings in the dict
        self.merge_at = self.merge_from
        self.size = self.EMPTY  # the arrays' bytes and the dict's estimate

    def get(self, word: str) -> Sequence[int]:
        """The quotes that have ``word``, in the order they were added."""
        k = self._find(word)
        held = self.postings[self.starts[k] : self.starts[k + 1]] if k >= 0 else ()
        new = self.recent.get(word)
        if new is None:
            return held
        if type(new) is int:
            new = array("i", (new,))
        return held + new if held else new

    def count(self, word: str) -> int:
        """How many quotes have ``word``."""
        k = self._find(word)
        new = self.recent.get(word, ())
        held = self.starts[k + 1] - self.starts[k] if k >= 0 else 0
        return held + (1 if type(new) is int else len(new))

    def _find(self, word: str) -> int:
        """Where ``word``'s hash is in ``hashes``; -1 if it is not."""
        h, hashes = _hash(word), self.hashes
        k = bisect_left(hashes, h)
        return k if k < len(hashes) and hashes[k] == h else -1

    def add(self, words: Iterable[str], i: int) -> int:
        """Add quote ``i`` (added after every quote held) to the postings of each of
        ``words``; what that adds to the size (less than nothing if the arrays were remade)."""
        recent = self.recent
        added = n = 0
        for word in words:
            n += 1
            found = recent.get(word)
            if found is None:
                recent[word] = i
                added += self.NEW_WORD + len(word)
            elif type(found) is int:
                recent[word] = array("i", (found, i))
                added += self.SECOND
            else:
                found.append(i)
                added += self.POSTING
        self.size += added
        self.pending += n
        if self.pending >= self.merge_at:
            before = self.size
            self._merge()
            added += self.size - before
        return added

    def _merge(self) -> None:
        """Fold the dict into the arrays. Each new posting goes after the held postings of its
        hash, or where its hash belongs; the held arrays are copied once, not sorted again
        (spelt out per posting, the hashes took 8 bytes a posting at each merge)."""
        found = list(self.recent.values())
        new = np.fromiter(map(_hash, self.recent), np.int64, len(found))
        counts = np.array([1 if type(f) is int else len(f) for f in found], np.int64)
        order = np.argsort(new, kind="stable")  # by hash; words of one hash in their order
        new, counts = new[order], counts[order]
        postings = array("i")
        for f in map(found.__getitem__, order.tolist()):
            if type(f) is int:
                postings.append(f)
            else:
                postings.extend(f)
        hashes = np.frombuffer(self.hashes, np.int64)
        starts = np.frombuffer(self.starts, np.int64)
        after = np.searchsorted(hashes, new, side="right")  # the first held hash above each
        postings = np.insert(
            np.frombuffer(self.postings, np.int32), np.repeat(starts[after], counts), postings
        )
        # one entry a hash: the new words' counts summed by hash, added to a held hash's or
        # inserted with their hash where it belongs
        first = np.flatnonzero(np.concatenate(((True,), new[1:] != new[:-1])))
        new, after, counts = new[first], after[first], np.add.reduceat(counts, first)
        held = np.zeros(len(new), bool)
        if len(hashes):
            held = (after > 0) & (hashes[np.maximum(after - 1, 0)] == new)
        sizes = np.diff(starts)
        sizes[after[held] - 1] += counts[held]
        fresh = ~held
        self.hashes = array("q", np.insert(hashes, after[fresh], new[fresh]).tobytes())
        sizes = np.insert(sizes, after[fresh], counts[fresh])
        self.starts = array("q", np.concatenate(((0,), np.cumsum(sizes))).tobytes())
        self.postings = array("i", postings.tobytes())
        self.recent, self.pending = {}, 0
        self.merge_at = max(self.merge_from, len(self.postings) >> 1)
        self.size = sum(map(sys.getsizeof, (self.hashes, self.starts, self.postings, self.recent)))


#: The hash of a word in ``_WordIndex`` (a name of its own so that a test can make words collide)
_hash = hash


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
                add_link(conn, claim_id, other_id, "quote", score)
        quotes.add(speaker, rowid, quote)
