"""Near-duplicate measures: band keys are stored, so they are pinned; scores are exact."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.similarity import (
    bands,
    bands_many,
    distinctive,
    minhash_bands,
    scores,
    shingle_hashes,
    shingles,
)

# 0008 changed the first: its MinHash values were common 5-grams (" the ", "the c"...)
PINNED_BANDS = [8598563420794266088, 4425863208748076269, 8130993333268871]


def test_band_keys_are_pinned_and_batch_equals_single():
    """Band keys are stored in archives: a change to them needs a migration (see schema.py)."""
    text = "The council approved the harbour budget on Tuesday after a long debate."
    assert bands(text)[:3] == PINNED_BANDS
    texts = [text, "short", "", "é" * 50, text.upper(), "Ünïcödé “quotes” — and dashes " * 3]
    assert bands_many(texts) == [bands(t) for t in texts]
    assert bands("short") == [] and len(bands(text)) == 21
    # scores compare shingle sets: case and quote style do not matter, as normalisation says
    assert shingles(text) == shingles(text.upper())


def test_a_page_s_minhash_in_blocks_equals_each_text_s_own():
    """An article's claims are MinHashed a block of shingles at a time: texts that fill several
    blocks, and one longer than a block, get what each gets alone."""
    from archive import similarity

    texts = [f"Claim {i}: the council met {i} times over the harbour budget." for i in range(80)]
    texts.insert(40, " ".join(f"word{i}" for i in range(600)))  # ~4,000 shingles on its own
    assert sum(len(t) for t in texts) > 5 * similarity._BLOCK_SHINGLES
    together = minhash_bands(texts)
    alone = [minhash_bands([t]) for t in texts]
    assert together.keys == [a.keys[0] for a in alone]
    assert together.signatures == [a.signatures[0] for a in alone]
    assert together.sizes == [a.sizes[0] for a in alone]


def test_shingle_hashes_are_distinct_five_grams():
    # "abcdefg" has five-grams abcde, bcdef, cdefg; repeated ones count once
    assert len(shingle_hashes("abcdefg")) == 3
    assert len(shingle_hashes("aaaaaaaaaa")) == 1
    assert len(shingle_hashes("abc")) == 1 and len(shingle_hashes("")) == 1
    assert scores("abcdefg", "abcdefg") == (1.0, 1.0)
    jaccard, containment = scores("abcdefgh", "abcdefg")  # 3 of 4 shared; all of the smaller
    assert (jaccard, containment) == (0.75, 1.0)


def test_minhash_estimates_match_exact_jaccard_when_texts_share_common_words():
    """The MinHash permutations behave as random ones. Texts of random words that share one
    common phrase have a low, known Jaccard similarity; the share of equal MinHash values must
    estimate it (a weak permutation family once made such pairs agree on half their values)."""
    import random
    import string

    from archive.similarity import distinctive, estimate, minhash_bands

    rng = random.Random(5)

    def noise():
        return " ".join("".join(rng.choices(string.ascii_lowercase, k=6)) for _ in range(6))

    texts = [f"{noise()}, said the mayor on tuesday, {noise()}" for _ in range(60)]
    hashed = minhash_bands(texts)
    errors = []
    for a in range(0, 60, 2):
        (j,), _ = estimate(
            hashed.signatures[a], hashed.sizes[a], [hashed.signatures[a + 1]], [hashed.sizes[a + 1]]
        )
        # what the MinHash is over: the distinctive shingles ("mayor", "tuesd"...)
        mine, theirs = (set(distinctive(hashed.hashes[i]).tolist()) for i in (a, a + 1))
        exact = len(mine & theirs) / len(mine | theirs)
        assert 0.05 < exact < 0.3
        errors.append(abs(j - exact))
    assert sum(errors) / len(errors) < 0.06
    # and an edited sentence is estimated as near as it is
    base = "Officials said on Tuesday that talks between the two sides would resume next week."
    edited = base.replace("next week", "on Monday")
    one = minhash_bands([base, edited])
    (j,), _ = estimate(one.signatures[0], one.sizes[0], [one.signatures[1]], [one.sizes[1]])
    assert abs(j - scores(base, edited)[0]) < 0.15


def test_common_shingles_are_left_out_of_the_minhash_only():
    """Two unrelated sentences share common 5-grams (" the ", "said ") and met in a band through
    them; the MinHash leaves those out, so they share (nearly) nothing there. Exact scores still
    use every shingle, and a sentence of common 5-grams only keeps them all."""
    from archive.common_shingles import COMMON_SHINGLES

    a = "The minister said that the ferry would run again from the harbour in the spring."
    b = "The council said that the budget for the schools would rise in the coming year."
    full = [shingle_hashes(t) for t in (a, b)]
    kept = [set(distinctive(h).tolist()) for h in full]
    assert scores(a, b)[0] > 0.15  # what made them meet
    assert len(kept[0] & kept[1]) / len(kept[0] | kept[1]) < scores(a, b)[0] / 4
    assert all(len(k) < len(h) for k, h in zip(kept, full, strict=True))
    from archive.similarity import _hashes_of

    only_common = np.concatenate([_hashes_of(g) for g in COMMON_SHINGLES[:3]])
    assert sorted(distinctive(only_common).tolist()) == sorted(only_common.tolist())
    assert len(distinctive(np.concatenate([only_common, shingle_hashes("harbour")]))) == 3
    hashed = minhash_bands([a])
    assert hashed.sizes[0] == len(kept[0]) and len(hashed.hashes[0]) == len(full[0])


def test_image_links_are_the_nearest_and_do_not_depend_on_how_the_archive_is_read(
    tmp_path, monkeypatch
):
    """Each new image links to its MAX_IMAGE_LINKS nearest pHashes (then earliest stored),
    checked against a plain reference; reading the archive's pHashes in small chunks (memory
    flat in the archive) changes nothing, nor taking the new images a few at a time and writing
    their links as they come (held for a whole capture of near copies, they took ~60 MB)."""
    import random

    from archive import image_links
    from archive.db import connect
    from archive.similarity import MAX_IMAGE_LINKS, NEAR_PHASH_DISTANCE

    conn = connect(tmp_path / "archive.db").conn
    rnd = random.Random(7)
    centres = [rnd.getrandbits(64) for _ in range(8)]
    phashes = []
    for _ in range(600):  # clusters of ~75: many images have more than MAX_IMAGE_LINKS near
        value = rnd.choice(centres)
        for _ in range(rnd.randint(0, 12)):
            value ^= 1 << rnd.randrange(64)
        phashes.append(value)
    rows = [(f"{i:064x}", 1, b"", f"{p:016x}" if i % 13 else None) for i, p in enumerate(phashes)]
    conn.executemany("INSERT INTO images (sha256, bytes, content, phash) VALUES (?, ?, ?, ?)", rows)
    new = [sha for sha, *_ in rows[550:]]

    expected, capped = set(), 0
    for i in range(550, 600):
        if i % 13 == 0:
            continue
        near = sorted(
            (bin(phashes[i] ^ phashes[j]).count("1"), j)
            for j in range(600)
            if j != i and j % 13 and bin(phashes[i] ^ phashes[j]).count("1") <= NEAR_PHASH_DISTANCE
        )
        capped += len(near) > MAX_IMAGE_LINKS
        for d, j in near[:MAX_IMAGE_LINKS]:
            expected |= {(rows[i][0], rows[j][0], d), (rows[j][0], rows[i][0], d)}
    assert capped  # the cap and its order (nearest, then earliest) are exercised
    # images without a pHash link to nothing, and the run's index is not read for them
    untouched = image_links.PhashIndex()
    image_links.link_images(conn, [rows[0][0], rows[13][0]], index=untouched)
    assert untouched.upto == 0 and not conn.execute("SELECT 1 FROM image_links").fetchone()
    written = []
    insert = image_links._insert
    monkeypatch.setattr(
        image_links,
        "_insert",
        lambda conn, links: written.append(len(links)) or insert(conn, links),
    )
    for chunk, at_once, group, index in (
        (1 << 14, image_links.LINKS_AT_ONCE, 4096, None),
        (7, 7, 3, None),
        (7, 300, 20, None),
        (7, 300, 20, image_links.PhashIndex()),  # the run's pHashes in memory
    ):
        monkeypatch.setattr(image_links, "LINKS_AT_ONCE", at_once)
        monkeypatch.setattr(image_links, "GROUP", group)
        conn.execute("DELETE FROM image_links")
        written.clear()
        image_links.link_images(conn, new, chunk=chunk, index=index)
        found = set(conn.execute("SELECT image_sha256, other_sha256, distance FROM image_links"))
        assert found == expected, chunk
        # never more than one image's links beyond the bound
        assert max(written) < at_once + 2 * MAX_IMAGE_LINKS, (at_once, written)
        assert sum(written) >= len(expected) and (len(written) > 1) == (at_once < sum(written))


def test_in_lists_come_in_few_shapes():
    """Link lookups pad their IN lists with NULLs to a power of two: one cached statement per
    shape instead of one per length (sqlite3 keeps 128)."""
    from archive.db import in_chunks

    items = list(range(1300))
    chunks = list(in_chunks(items))
    assert [len(c) for c in chunks] == [512, 512, 512]
    assert [x for c in chunks for x in c if x is not None] == items
    shapes = {len(c) for n in range(1, 513) for c in in_chunks(list(range(n)))}
    assert shapes == {1, 2, 4, 8, 16, 32, 64, 128, 256, 512}


def test_a_band_shared_by_many_of_an_article_s_own_claims_is_not_looked_up(
    tmp_path, fixed_signer, monkeypatch
):
    """A page of templated sentences and its recapture: each own claim sharing a band met
    every candidate of the others (10,000 such sentences took 1.2 GB). Such bands are left out
    of the lookups; the sentences are still linked through their other bands."""
    import random
    import sqlite3

    import archive.links as links
    from archive.ingest import Ingester
    from archive.similarity import HOT_IN_ARTICLE

    from .test_robustness import article_html, http_response, warc_file

    rng = random.Random(3)
    words = "harbour minister council ferry terminal budget repairs storm pier".split()
    paragraphs = [
        f"The report number {i} said that {' '.join(rng.choices(words, k=6))} would change."
        for i in range(80)
    ]
    page = article_html("Reports", paragraphs)
    capture = warc_file(
        tmp_path / "twice.warc.gz",
        [http_response(f"https://x.example/{n}.html", page) for n in ("a", "b")],
    )
    asked: list[int] = []
    real = links.select_in

    def spy(conn, sql, ids):
        if "FROM claim_bands" in sql:
            asked.extend(ids)
        return real(conn, sql, ids)

    monkeypatch.setattr(links, "select_in", spy)
    db = tmp_path / "a.db"
    Ingester(db, fixed_signer).ingest_file(capture)
    conn = sqlite3.connect(db)
    per_article = conn.execute(
        "SELECT b.band_key, count(*) FROM claim_bands b JOIN claims c ON c.id = b.claim_id "
        "WHERE c.article_id = (SELECT min(article_id) FROM claims) GROUP BY 1"
    ).fetchall()
    crowded = {key for key, n in per_article if n > HOT_IN_ARTICLE}
    assert crowded, "the page must have bands shared by many of its own claims"
    assert asked and not crowded & set(asked)
    assert conn.execute("SELECT count(*) FROM claim_links WHERE relation = 'near'").fetchone()[0]


def test_a_run_s_phash_index_links_as_a_fresh_read_of_the_archive_does(tmp_path):
    """An ingest run keeps the archive's pHashes in memory across its captures (at a million
    images, reading them took 1.2 s a capture, fourteenth round). Its links are a fresh
    read's: with images another process committed in between, after a rollback whose rowids
    the next images take (the index is forgotten, as ingest does; one that was not notices),
    and past its size cap."""
    import random
    import sqlite3

    from archive import image_links
    from archive.db import connect

    db = tmp_path / "archive.db"
    conn = connect(db).conn
    other = sqlite3.connect(db, isolation_level=None)  # another process's connection
    rnd = random.Random(11)
    centres = [rnd.getrandbits(64) for _ in range(6)]
    count = 0

    def add(c, n):
        nonlocal count
        rows = []
        for _ in range(n):
            value = rnd.choice(centres) ^ (1 << rnd.randrange(64)) ^ (1 << rnd.randrange(64))
            phash = f"{value:016x}" if count % 11 else None
            rows.append((f"{count:064x}-{rnd.random()}", 1, b"", phash))
            count += 1
        c.executemany(
            "INSERT INTO images (sha256, bytes, content, phash) VALUES (?, ?, ?, ?)", rows
        )
        return [sha for sha, *_ in rows]

    def linked(shas, index):
        conn.execute("DELETE FROM image_links")
        image_links.link_images(conn, shas, chunk=64, index=index)
        return set(conn.execute("SELECT * FROM image_links"))

    index = image_links.PhashIndex()
    conn.execute("BEGIN")
    add(conn, 300)
    first = add(conn, 20)
    assert linked(first, index) == linked(first, None) != set()
    conn.execute("COMMIT")
    add(other, 40)  # committed by another process: read on the next refresh
    conn.execute("BEGIN")
    mine = add(conn, 20)
    assert linked(mine, index) == linked(mine, None) != set()
    conn.execute("COMMIT")
    assert index.size == sum(1 for i in range(count) if i % 11)
    # a capture rolled back after its images were read; the next capture's take their rowids
    conn.execute("BEGIN")
    linked(add(conn, 30), index)
    conn.execute("ROLLBACK")
    stale = image_links.PhashIndex()
    stale.rowids, stale.values = index.rowids.copy(), index.values.copy()
    stale.size, stale.upto = index.size, index.upto
    index.forget()
    conn.execute("BEGIN")
    again = add(conn, 30)
    fresh = linked(again, None)
    assert linked(again, index) == fresh != set()
    # not forgotten: the last image it holds has changed, and it starts again
    assert linked(again, stale) == fresh and stale.size == index.size
    conn.execute("ROLLBACK")
    # too many to keep: each capture reads the database, as without an index
    small = image_links.PhashIndex()
    small.max_images = 100
    assert linked(mine, small) == linked(mine, None) and small.too_many and small.size == 0


def test_a_failed_capture_empties_the_run_s_phash_index(tmp_path, fixed_signer, monkeypatch):
    """The index may hold the images of a capture rolled back: ingest forgets it then, and the
    quotes the run holds (quote_links.QuoteIndex) too."""
    from archive import ingest as ingest_module
    from archive.errors import CaptureError
    from archive.ingest import Ingester

    from .conftest import SAMPLE

    ingester = Ingester(tmp_path / "archive.db", fixed_signer)
    real = ingest_module.index_text

    def fail(conn, table, after):
        raise CaptureError(SAMPLE, "stopped after its links (test)")

    monkeypatch.setattr(ingest_module, "index_text", fail)
    assert ingester.ingest_file(SAMPLE).status == "failed"
    assert (ingester.phashes.size, ingester.phashes.upto) == (0, 0)
    assert (ingester.quotes.held, ingester.quotes.seen) == (0, None)
    monkeypatch.setattr(ingest_module, "index_text", real)
    assert ingester.ingest_file(SAMPLE).status == "ingested"
    assert ingester.phashes.size == 2 and ingester.phashes.upto == 2
    held = ingester.quotes.by_speaker["Elena Varga"]
    assert len(held) == 2 and ingester.quotes.held == held.size  # her two quotes
    assert ingester.quotes.seen is not None
    # an archive whose last claim is not the one the run saw (replaced, vacuumed): start again
    ingester.quotes.seen = (ingester.quotes.seen[0], "another claim")
    ingester.quotes.begin(ingester.conn)
    assert (ingester.quotes.held, ingester.quotes.seen) == (0, None)


# words not in ASCII (two and three bytes in UTF-8; ’ folded to '): a speaker's quotes are
# held as UTF-8 and compared as bytes
_WORDS = st.lists(
    st.sampled_from(["a", "ab", "ba", "b", "c", "cab", "x,", "y.", '"z', "é", "’s", "日本"])
).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(quotes=st.lists(_WORDS, max_size=12), probes=st.lists(_WORDS, max_size=4), data=st.data())
def test_a_speaker_s_quote_index_finds_every_quote_a_full_comparison_finds(quotes, probes, data):
    """Quote links test a new quote against the speaker's quotes that its words say may contain
    it or be inside it (quote_links._SpeakerQuotes), not against all of them: the same links, in the
    same order, as testing every one. Probes include pieces of the quotes cut anywhere,
    mid-word too (a quotation trimmed by another outlet). The index is made from the first
    quote here, or the fifth, not the sixteenth; its words become a sorted run from the first,
    the third or the 512th (quote_links._WordIndex.merge_from)."""
    from archive.quote_links import _quote_words, _SpeakerQuotes, _WordIndex

    held = _SpeakerQuotes(0)
    held_from = 1 if data.draw(st.booleans()) else 5
    real = _SpeakerQuotes.index_from, _WordIndex.merge_from
    _SpeakerQuotes.index_from = held_from
    _WordIndex.merge_from = data.draw(st.sampled_from([1, 3, 512]))
    # one at a time (a new claim's) or several together (a speaker read from the database)
    together = data.draw(st.integers(1, 4))
    normalized = list(enumerate(q for q in map(_quote_words, quotes) if q))
    try:
        for first in range(0, len(normalized), together):
            held.add(normalized[first : first + together])
    finally:
        _SpeakerQuotes.index_from, _WordIndex.merge_from = real
    assert (held.words is not None) == (len(held) >= held_from)
    kept = [held.quote(i) for i in range(len(held))]
    assert kept == [q for q in map(_quote_words, quotes) if q]
    for quote in kept:
        start = data.draw(st.integers(0, len(quote)))
        probes.append(quote[start : data.draw(st.integers(start, len(quote)))])
        # inside a probe, whole or from mid-word, with words no quote has
        probes += [f"x {quote} y", f"x{quote}y", f"x{quote} new words"]
    for probe in filter(None, map(_quote_words, probes)):
        every = [(i, len(q)) for i, q in enumerate(kept) if probe in q or q in probe]
        assert list(held.related(probe)) == every, probe


_INDEX_WORDS = ["a", "bb", "cc", "ddd", "e", "ffff"]


@settings(max_examples=200, deadline=None)
@given(
    quotes=st.lists(st.sets(st.sampled_from(_INDEX_WORDS)), max_size=40),
    merge_from=st.sampled_from([1, 2, 5, 512]),
    collide=st.booleans(),
    together=st.integers(1, 7),
)
def test_a_word_index_gives_each_word_its_quotes(quotes, merge_from, collide, together):
    """A speaker's word index (quote_links._WordIndex) answers from its sorted runs and the
    pairs waiting to become one, merged at any point: each word's quotes, in the order they
    came. Words whose hashes collide (here made to: a word's length) share their quotes: more
    candidates, never fewer."""
    from archive import quote_links

    real = quote_links._WordIndex.merge_from, quote_links._hash
    quote_links._WordIndex.merge_from = merge_from
    if collide:
        quote_links._hash = len
    try:
        index = quote_links._WordIndex()
        for first in range(0, len(quotes), together):  # a quote at a time, or several
            index.add((words, i) for i, words in enumerate(quotes) if first <= i < first + together)
            # a binary counter: each run more than twice the next
            sizes = [len(h) for h, _ in index.runs]
            assert all(a > 2 * b for a, b in zip(sizes, sizes[1:], strict=False)), sizes
        probes = [*_INDEX_WORDS, "gg"]  # and a word no quote has
        counts = index.counts(probes)
        for word, count in zip(probes, counts, strict=True):
            alike = [w for w in _INDEX_WORDS if len(w) == len(word)]
            mine = [i for i, words in enumerate(quotes) if word in words]
            theirs = [i for i, words in enumerate(quotes) if set(alike) & words]
            found = index.having([word])
            assert count == len(found)
            if collide:  # a quote once for each of its words of that hash
                assert found == sorted(
                    i for i, words in enumerate(quotes) for w in alike if w in words
                )
                assert set(mine) <= set(found) <= set(theirs)
            else:
                assert found == mine
        # several words at once: each word's quotes, a quote once for each of its words asked
        asked = ["bb", "e"]
        if not collide:
            assert sorted(index.having(asked)) == sorted(
                i for i, words in enumerate(quotes) for w in asked if w in words
            )
    finally:
        quote_links._WordIndex.merge_from, quote_links._hash = real


def test_a_speaker_s_quotes_take_no_more_than_their_estimate():
    """A run's quotes are bounded by their estimated size (quote_links.QuoteIndex.max_bytes):
    the estimate must cover what they take, for a speaker of few words or of many. (The one
    before, an average per word indexed, fell short for many: on the growth corpus's speakers
    it was a third of what they took.)"""
    import gc
    import random
    import tracemalloc

    from archive.quote_links import _SpeakerQuotes

    rng = random.Random(7)
    for vocabulary in (300, 40_000, 200_000):  # the last: most words in one quote only
        words = ["".join(rng.choices("abcdefghij", k=rng.randint(3, 9))) for _ in range(vocabulary)]
        quotes = [" ".join(rng.choices(words, k=rng.randint(8, 25))) for _ in range(3000)]
        rows = list(enumerate(quotes))
        tracemalloc.start()
        try:
            held = _SpeakerQuotes(0)
            for row in rows[:1000]:  # new claims', one at a time
                held.add((row,))
            held.add(rows[1000:])  # a speaker's read from the database, together
            gc.collect()  # and with it the interpreter's free lists (2,000 small tuples kept)
            taken = tracemalloc.get_traced_memory()[0]
        finally:
            tracemalloc.stop()
        assert taken <= held.size <= 1.5 * taken, (vocabulary, held.size, taken)


def test_a_run_s_quotes_take_in_what_another_ingest_committed_between_its_captures(tmp_path):
    """A run holds its speakers' quotes across its captures (quote_links.QuoteIndex): what another
    ingest committed in between is read in at the next capture's start, so the links are those
    of one run over every file; and a capture rolled back is forgotten."""
    import sqlite3

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.ingest import Ingester
    from archive.keys import Signer

    from .test_provenance import CAPTURES

    def ingester(db):
        return Ingester(db, Signer(Ed25519PrivateKey.from_private_bytes(bytes(32))))

    def links(db):
        conn = sqlite3.connect(db)
        found = conn.execute("SELECT claim_id, other_claim_id, relation, score FROM claim_links")
        return sorted(found)

    one = ingester(tmp_path / "one.db")
    for capture in CAPTURES:
        assert one.ingest_file(capture).status == "ingested"
    first, other = ingester(tmp_path / "two.db"), ingester(tmp_path / "two.db")
    assert first.ingest_file(CAPTURES[0]).status == "ingested"
    assert other.ingest_file(CAPTURES[1]).status == "ingested"  # while the first run holds
    assert first.ingest_file(CAPTURES[2]).status == "ingested"
    assert first.quotes.held and "quote" in {r[2] for r in links(tmp_path / "two.db")}
    assert links(tmp_path / "two.db") == links(tmp_path / "one.db")


def test_exact_copies_take_one_candidate_place_and_everywhere_shows_them_all(
    tmp_path, fixed_signer, monkeypatch
):
    """A sentence copied word for word on many pages (a syndicated story) filled a new
    claim's candidate places with its copies, all equally near, and crowded out another near
    version: at most MAX_CANDIDATES are scored. One copy of each text now stands for all; the
    claim is linked to one, and claim_everywhere lists every copy of a linked text."""
    import sqlite3

    from archive import links
    from archive.ingest import Ingester
    from archive.provenance import CLAIM_EVERYWHERE

    from .test_robustness import FILLER, article_html, http_response, warc_file

    said = "The mayor of Brookfield promised that the new library on Elm Street would reopen "
    copied = said + "its doors in the early spring of next year."
    other = (
        "The mayor of Brookfield promised on Tuesday that the library on Elm Street would "
        "reopen its doors to readers in the late spring."
    )
    new = said + "its doors in the late spring of next year."
    monkeypatch.setattr(links, "MAX_CANDIDATES", 3)
    pages = [(f"https://wire{n}.example/a", copied) for n in range(6)]
    pages.append(("https://other.example/a", other))

    def capture(name, pages):
        responses = [http_response(url, article_html("Library", [s, *FILLER])) for url, s in pages]
        return warc_file(tmp_path / name, responses)

    ingester = Ingester(tmp_path / "archive.db", fixed_signer)
    assert ingester.ingest_file(capture("wire.warc.gz", pages)).status == "ingested"
    assert ingester.ingest_file(
        capture("new.warc.gz", [("https://new.example/a", new)])
    ).status == ("ingested")
    conn = sqlite3.connect(tmp_path / "archive.db")
    (me,) = conn.execute("SELECT id FROM claims WHERE text = ?", (new,)).fetchone()
    linked = conn.execute(
        "SELECT c.text FROM claim_links l JOIN claims c ON c.id = l.other_claim_id "
        "WHERE l.claim_id = ?",
        (me,),
    ).fetchall()
    assert sorted(linked) == sorted([(copied,), (other,)])
    rows = conn.execute(CLAIM_EVERYWHERE, {"claim_id": me}).fetchall()
    assert sorted((r[0], r[5]) for r in rows) == sorted(
        [("exact", new), ("near", other)] + [("near", copied)] * 6
    )
