"""Split an article's blocks into claims: one per sentence, with kind, speaker and quote.

Kinds: ``statement``; ``quote`` (contains a direct quotation, whole or partial; scare quotes do not
count); ``note`` (editorial footnote or disclaimer); ``caption`` (a photo caption).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .sentences import _quote_open, split_sentences
from .speakers import SpeakerResolver

_OPENS_WITH_QUOTE = re.compile(r"^\s*[“\"«„]")

KINDS = ("statement", "quote", "note", "caption")

#: A line that is a note on the article, not one of its claims (nor, under a picture, a caption)
NOTE = re.compile(
    r"^\s*(?:\*|†|‡|(?:editor'?s|editorial|author'?s)\s+note\b|note\s*:|disclaimer\b|"
    r"correction\s*:|clarification\s*:|update\s*:|this (?:article|story) (?:was|has been)\b)",
    re.I,
)
_DAY = "(?:mon|tue|wed|thu|fri|sat|sun)"
_MONTH = "(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)"
# Site furniture and datelines that are never claims, even when an extractor keeps them.
_FURNITURE = re.compile(
    r"^\s*(?:get short url|leave a (?:reply|comment)|write a comment|share (?:this|on)\b|"
    r"(?:sign up|subscribe) (?:for|to)\b|follow us\b|read more\b|related\b|advertisement$|"
    r"click here\b|by [A-Z][\w.\-]+(?: [A-Z][\w.\-]+){0,3}$|"
    # a time stamp or a byline ("Updated at 1:23 p.m.", "Posted by Ann Lee"), not a sentence
    # that opens with the word ("Posted on social media by the analysts, ...")
    r"(?:updated|published|posted)(?:\s*:|\s+(?:on\s+|at\s+)?(?:\d|"
    rf"(?:{_DAY}[a-z]*\.?,?\s+)?{_MONTH}[a-z]*\.?\s+\d|{_DAY}[a-z]*\.?(?:,|\s+\d|\s*$)|"
    r"yesterday\b|today\b|(?:an?|\d+)\s+(?:second|minute|hour|day|week|month)s?\s+ago)|"
    r"\s+by\s+\S+(?:\s+\S+){0,3}$)"
    r"|terms of (?:use|service)$|privacy policy$|©|copyright\b|all rights reserved"
    # a story's trailers (twentieth round's review of the 181 real pages): credit lines,
    # contact lines, newsletter and sharing prompts, a reading time, a source tag
    r"|\(?(?:additional\s+|with\s+)?reporting by (?-i:[A-Z])[^.!?]*(?:editing by|;|\)\.?$)"
    r"|.{0,80}\bmay be reached at\s+(?:\S+@|\+?\(?\d)"
    r"|follow (?:him|her|them|us|me)\b.{0,60}\b(?:twitter|facebook)"
    r"|like this story\?|share it with a friend|have a tip\?$|you may also like"
    r"|this copy is for your personal|filed under\s*:|source\s*:\s*\S+(?:\s+\S+){0,4}$"
    r"|get\b.{0,80}\b(?:delivered|right)\s+(?:\w+\s+){0,3}(?:to|in|through) "
    r"your (?:inbox|letterbox)"
    r"|.{0,80}\bby subscribing to our newsletter|(?:reading time|tempo de leitura)\s*:)",
    re.I,
)

# An embedded tweet's byline, a quote block of its own after the tweet's text: "— Rep. Ilhan
# Omar (@Ilhan) November 19, 2019". It names who wrote the tweet; it is not a claim itself.
_TWEET_BY = re.compile(
    r"^\s*[—–―-]\s*(?P<name>[^()]{1,80}?)\s*\(@\w{1,15}\)(?:\s+\w+\.?\s+\d{1,2},\s*\d{4})?\s*$"
)


def _tweet_author(block) -> str | None:
    if block is None or block.kind != "quote":
        return None
    m = _TWEET_BY.match(block.text)
    return m and m["name"]


@dataclass
class Claim:
    position: int
    kind: str
    text: str
    text_start: int | None  # None for a caption: captions are not part of the main text
    text_end: int | None
    speaker: str | None = None
    speaker_mention: str | None = None
    cue: str | None = None
    quote: str | None = None

    def as_dict(self) -> dict:
        return asdict(self)


def _is_claim_text(text: str) -> bool:
    if _FURNITURE.match(text):
        return False
    words = text.split()
    # A claim says something: a few words, or a sentence with closing punctuation.
    return len(words) >= 4 or (len(words) >= 2 and text.rstrip()[-1:] in '.!?”"»')


def split_claims(blocks, names_from: list[str] | None = None) -> list[Claim]:
    """Claims for an article's blocks (``Block`` objects with kind, text and offset)."""
    texts = [b.text for b in blocks if b.kind != "heading"]
    resolver = SpeakerResolver((names_from or []) + texts)
    claims: list[Claim] = []
    open_quote_speaker: str | None = None
    # A quotation left open at the end of a paragraph goes on in the next one when that opens
    # with a quotation mark (the news convention for multi-paragraph quotes).
    carry_open = False
    carry_speaker: str | None = None
    introduces = False  # the block before reported speech, or was a quoted blockquote
    for i, block in enumerate(blocks):
        if block.kind == "heading" or _tweet_author(block):
            carry_open = introduces = False
            open_quote_speaker = carry_speaker = None
            continue
        note_block = bool(NOTE.match(block.text))
        author = _tweet_author(blocks[i + 1] if i + 1 < len(blocks) else None)
        # a blockquote is someone's words when it names them, or the block before names or
        # introduces them ("In a statement, X said:", "The company said in a statement.", "The
        # statement reads, in part,"), or goes on a quoted blockquote, or is a tweet with its
        # byline; not a blog's pull-quote of its own text
        introduced = (
            bool(author)
            or introduces
            or (i > 0 and blocks[i - 1].text.rstrip().endswith((":", ",")))
        )
        continues = block.kind == "paragraph" and bool(_OPENS_WITH_QUOTE.match(block.text))
        inside = carry_open and continues
        # a paragraph that is all quotation, right after an attributed quote: the same speaker
        block_speaker = carry_speaker if continues else None
        first = len(claims)
        for s, e in split_sentences(block.text):
            text = block.text[s:e]
            if not _is_claim_text(text):
                continue
            in_text = block.start >= 0
            claim = Claim(
                position=len(claims),
                kind="statement",
                text=text,
                text_start=block.start + s if in_text else None,
                text_end=block.start + e if in_text else None,
            )
            if block.kind == "caption":
                claim.kind = "caption"
            elif note_block:
                claim.kind = "note"
            else:
                att = resolver.attribute(text)
                claim.speaker = att.speaker
                claim.speaker_mention = att.speaker_mention
                claim.cue = att.cue
                claim.quote = att.quote
                if att.is_direct:
                    claim.kind = "quote"
                elif inside:
                    # the middle of a quotation opened in an earlier sentence
                    claim.kind = "quote"
                    claim.quote = text.strip(' “”"')
                elif (
                    block.kind == "quote"
                    and len(text.split()) >= 5
                    and (claim.speaker or open_quote_speaker or introduced)
                ):
                    # a blockquote with no quotation marks still reports someone's words
                    claim.kind = "quote"
                    claim.quote = text
                    claim.speaker = claim.speaker or open_quote_speaker
                if claim.kind == "quote":
                    if claim.speaker is None and claim.speaker_mention is not None:
                        block_speaker = None  # someone unnamed spoke ("the statement said")
                    elif claim.speaker is None:
                        claim.speaker = block_speaker
                    elif claim.cue and not claim.speaker.lower().startswith(("it", "they")):
                        block_speaker = claim.speaker
                opened = _quote_open(text)
                if opened and not inside:
                    inside = True
                elif inside and not opened and text.rstrip().endswith(("”", '"')):
                    inside = False
                resolver.observe(text)
            claims.append(claim)
        # an unattributed quote before the attribution in the same paragraph: "X." "Y," he said.
        for c in claims[first:]:
            if c.kind == "quote" and c.speaker is None and c.speaker_mention is None:
                c.speaker = block_speaker
        if author and block.kind == "quote":
            # a tweet's sentences are its author's, unless one names its own speaker
            for c in claims[first:]:
                if c.kind == "quote" and c.speaker_mention is None:
                    c.speaker = resolver.strip_title(author)
        # a block that gave no claim ("[Engadget]", a source line) ends the chain
        produced = len(claims) > first
        open_quote_speaker = claims[-1].speaker if produced else None
        introduces = produced and (
            claims[-1].cue is not None or (block.kind == "quote" and claims[-1].kind == "quote")
        )
        carry_open = inside
        carry_speaker = block_speaker if produced and claims[-1].kind == "quote" else None
    return claims
