"""Split an article's blocks into claims: one per sentence, with kind, speaker and quote.

Kinds: ``statement``; ``quote`` (contains a direct quotation, whole or partial; scare quotes do not
count); ``note`` (editorial footnote or disclaimer); ``caption`` (a photo caption).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from .sentences import split_sentences
from .speakers import SpeakerResolver

KINDS = ("statement", "quote", "note", "caption")

_NOTE = re.compile(
    r"^\s*(?:\*|†|‡|(?:editor'?s|editorial|author'?s)\s+note\b|note\s*:|disclaimer\b|"
    r"correction\s*:|clarification\s*:|update\s*:|this (?:article|story) (?:was|has been)\b)",
    re.I,
)
# Site furniture and datelines that are never claims, even when an extractor keeps them.
_FURNITURE = re.compile(
    r"^\s*(?:get short url|leave a (?:reply|comment)|write a comment|share (?:this|on)\b|"
    r"(?:sign up|subscribe) (?:for|to)\b|follow us\b|read more\b|related\b|advertisement$|"
    r"click here\b|by [A-Z][\w.\-]+(?: [A-Z][\w.\-]+){0,3}$|(?:updated|published|posted)\s*:?\s+\w+"
    r"|terms of (?:use|service)$|privacy policy$|©|copyright\b|all rights reserved)",
    re.I,
)


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
    for block in blocks:
        if block.kind == "heading":
            continue
        note_block = bool(_NOTE.match(block.text))
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
                elif block.kind == "quote" and len(text.split()) >= 5:
                    # a blockquote with no quotation marks still reports someone's words
                    claim.kind = "quote"
                    claim.quote = text
                    claim.speaker = claim.speaker or open_quote_speaker
            claims.append(claim)
        open_quote_speaker = claims[-1].speaker if claims else None
    return claims
