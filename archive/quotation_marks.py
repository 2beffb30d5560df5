"""Quotation marks in a sentence: the quoted spans, in the usual styles, and whether a span is
someone's words or a scare quote (archive/speakers.py says whose they are)."""

from __future__ import annotations

import re

# (closed by two single marks too, as AP copy has it: “It was an attempt to mislead voters,’’;
# opened straight and closed curly: saying, "I am committed ... in us.”)
_QUOTE_SPAN = re.compile(
    r"“([^”“\"]+?)(?:[”“\"]|’’)|„([^“”]+)[“”]|«\s?([^»]+?)\s?»|\"([^\"]+)\"|\"([^\"“”]+)”"
    r"|[“\"]([^”“\"]{12,})$"
)


def quoted_spans(text: str) -> list[str]:
    """Every double-quoted span in ``text``, in any of the usual quote styles."""
    return [next(g for g in m.groups() if g is not None) for m in _QUOTE_SPAN.finditer(text)]


def strip_quotes(text: str) -> str:
    """``text`` with each quoted span replaced by " ; ": what is said about the quotation."""
    return _QUOTE_SPAN.sub(" ; ", text)


def is_direct_quote(span: str, has_cue: bool) -> bool:
    """Quoted words, not scare quotes: long enough, or short but reported with a speech cue."""
    words = len(span.split())
    if words >= 5:
        return True
    return has_cue and words >= 2
