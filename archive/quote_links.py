"""Quote links (``claim_links`` of relation ``quote``): the same words quoted from one speaker in
other articles, however each frames them (one quotation contained in another). Run from
``links.Linker`` for each new article."""

from __future__ import annotations

from array import array
from collections import OrderedDict

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
    #: --memory): a speaker's own containers; a quote beside its text; a word's first posting
    #: beside its text (the word's str, its dict slot, the index as an int); its second (the
    #: array that replaces the int); each further posting. (One average per indexed word, 18
    #: bytes, held for a speaker of a small vocabulary; on the growth corpus's speakers the
    #: quotes took 3 x the estimate.)
    SPEAKER, QUOTE, NEW_WORD, SECOND, POSTING = 450, 80, 95, 100, 6

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
        added = sum(self._post(self.words, word, i) for word in set(words))
        return added + self._post(self.keys, max(words[1:-1] or words, key=len), i)

    def _post(self, index: dict[str, int | array], word: str, i: int) -> int:
        """Add quote ``i`` to ``word``'s posting; what that adds to ``size``. A word of one
        quote holds its index alone (most of a large vocabulary: an array for each took ~90
        of the ~190 bytes a word cost), an array from its second."""
        found = index.get(word)
        if found is None:
            index[word] = i
            return self.NEW_WORD + len(word)
        if type(found) is int:
            index[word] = array("i", (found, i))
            return self.SECOND
        found.append(i)
        return self.POSTING

    def candidates(self, quote: str) -> list[int] | range:
        """The quotes (their indexes, in the order they were added) that may contain
        ``quote`` (normalised) or be inside it."""
        words = quote.split(" ")
        inner = words[1:-1]
        if self.words is None or not inner:  # few quotes; or under three words (never asked)
            return range(len(self.quotes))
        rarest = min(inner, key=lambda word: len(_postings(self.words.get(word, ()))))
        found = set(_postings(self.words.get(rarest, ())))
        for word in set(words):
            found.update(_postings(self.keys.get(word, ())))
        return sorted(found)


def _postings(found: int | array | tuple) -> tuple[int, ...] | array:
    """A word's quotes, held as one index or an array of them (``_SpeakerQuotes._post``)."""
    return (found,) if type(found) is int else found


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
