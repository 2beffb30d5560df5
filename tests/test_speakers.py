"""Speaker attribution on small articles: the cases the labelled pages do not cover."""

from __future__ import annotations

from archive.claims import split_claims
from archive.extract import Block


def _claims(*paragraphs: str):
    return split_claims([Block("paragraph", p) for p in paragraphs])


def test_a_description_is_matched_as_whole_words_only():
    """The words "an spokesman" inside "Taliban spokesman" were read as a described speaker,
    which the resolver gave to the article's main person (found in review): no speaker is
    better than a wrong one."""
    claims = _claims(
        "Ahmad Shah Massoud led the resistance for decades before he was killed.",
        "A Taliban spokesman, Zabihullah Mujahid, told reporters the fighters “are on their way”.",
    )
    assert claims[1].text.startswith("A Taliban spokesman")
    assert claims[1].speaker != "Ahmad Shah Massoud"
    # a description that is one still names its speaker
    claims = _claims(
        "Ahmad Shah Massoud led the resistance for decades before he was killed.",
        "“We will not surrender,” the resistance leader said.",
    )
    assert claims[1].kind == "quote" and claims[1].speaker == "Ahmad Shah Massoud"


def test_a_pronoun_is_a_whole_word():
    claims = _claims(
        "Elena Varga spoke to reporters at the harbour.",
        "“The harbour stays open,” the said.",  # "he" inside "the" is no pronoun
    )
    assert claims[1].speaker != "Elena Varga"


def test_a_quoted_question_keeps_its_attribution():
    """“Why would we surrender?” Massoud asked. was cut after the question mark: the quote lost
    its speaker and "Massoud asked." became a claim of its own (found in review)."""
    claims = _claims(
        "Ahmad Massoud leads the resistance. “Why would we surrender?” Massoud asked. He left."
    )
    assert [c.text for c in claims] == [
        "Ahmad Massoud leads the resistance.",
        "“Why would we surrender?” Massoud asked.",
        "He left.",
    ]
    assert claims[1].kind == "quote" and claims[1].speaker == "Ahmad Massoud"
    # without an attribution after it, a quoted question still ends its sentence
    claims = _claims("He asked: “Why?” Nobody answered.")
    assert [c.text for c in claims] == ["He asked: “Why?”", "Nobody answered."]
