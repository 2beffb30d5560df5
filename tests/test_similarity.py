"""Near-duplicate measures: band keys are stored, so they are pinned; scores are exact."""

from archive.similarity import bands, bands_many, scores, shingle_hashes, shingles

PINNED_BANDS = [8403082704517251816, 891532724374564696, 6238122732866081244]


def test_band_keys_are_pinned_and_batch_equals_single():
    """Band keys are stored in archives: a change to them needs a migration (see db.py)."""
    text = "The council approved the harbour budget on Tuesday after a long debate."
    assert bands(text)[:3] == PINNED_BANDS
    texts = [text, "short", "", "é" * 50, text.upper(), "Ünïcödé “quotes” — and dashes " * 3]
    assert bands_many(texts) == [bands(t) for t in texts]
    assert bands("short") == [] and len(bands(text)) == 21
    # scores compare shingle sets: case and quote style do not matter, as normalisation says
    assert shingles(text) == shingles(text.upper())


def test_shingle_hashes_are_distinct_five_grams():
    # "abcdefg" has five-grams abcde, bcdef, cdefg; repeated ones count once
    assert len(shingle_hashes("abcdefg")) == 3
    assert len(shingle_hashes("aaaaaaaaaa")) == 1
    assert len(shingle_hashes("abc")) == 1 and len(shingle_hashes("")) == 1
    assert scores("abcdefg", "abcdefg") == (1.0, 1.0)
    jaccard, containment = scores("abcdefgh", "abcdefg")  # 3 of 4 shared; all of the smaller
    assert (jaccard, containment) == (0.75, 1.0)
