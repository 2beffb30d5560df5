"""Which elements of a page hold its article: where its images are looked for
(archive/figures.py reads them there). The page's own marks first (``<article>``, found by
archive/extract.py with its metadata, then ``itemprop="articleBody"``, ``role="main"``,
``<main>``, a body class), kept only when they hold the article's text (a related story's card
is an ``<article>`` too); on a page that marks none, its figures and the element with the most
paragraphs that holds the text. And the later parts of a body the page splits over several
elements of one class, which the extractor leaves out (``later_chunks``).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from lxml import etree

if TYPE_CHECKING:
    from .extract import Block


def document_elements(tree, *tags):
    """The elements of the whole document with these tags, in document order, as XPath's
    ``//`` walks them: markup after ``</html>`` (trackers append scripts there) makes the
    parser a second top-level element beside the root, which the root's own ``iter`` misses
    (a page marked as an article only there was not one: found in review)."""
    root = tree.getroottree().getroot()
    tops = [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]
    for top in tops:
        if isinstance(top.tag, str):  # not a comment or processing instruction beside it
            yield from top.iter(*tags)


def article_containers(tree, articles: list, blocks: list[Block]) -> list:
    """The elements that hold the article whose text is ``blocks``: the page's ``<article>``
    elements (``articles``, from archive/extract.py's pass over the page) or else its other
    marks, those holding its text; on a page that marks none, its figures and the element with
    the most paragraphs that holds the text."""
    found = articles or _containers(tree)
    held = _holding(found, blocks)
    if not articles and all(c.tag == "figure" for c in found):
        held = [*held, *_densest(tree, blocks)]
    return held


#: A container holding less of the article's text than this is not the article's: a related
#: story's card is an <article> too (a CBS page has 61).
HOLDING_SHARE = 0.3
_NO_SPACE = re.compile(r"\s+")


def _holding(containers: list, blocks: list[Block]) -> list:
    """The containers that hold at least ``HOLDING_SHARE`` of the article's text (by its
    blocks' characters, spaces aside: extraction spaces inline markup its own way), or all of
    them when none does."""
    if len(containers) < 2:
        return containers
    text = _article_text(blocks)
    return [c for c in containers if _holds(c, *text)] or containers


def _article_text(blocks: list[Block]) -> tuple[list[str], int]:
    texts = [_NO_SPACE.sub("", b.text) for b in blocks if b.kind != "heading"]
    return texts, sum(map(len, texts))


def _holds(container, texts: list[str], total: int) -> bool:
    """Whether ``container`` holds ``HOLDING_SHARE`` of the article's text (``_article_text``)."""
    inside = "".join(container.itertext())
    if len(inside) < HOLDING_SHARE * total:
        return False  # too short to hold it, spaces and all (a card)
    inside = _NO_SPACE.sub("", inside)
    return sum(len(t) for t in texts if t in inside) >= HOLDING_SHARE * total


#: The fewest paragraphs that make an element the text's container on a page marking none.
MIN_DENSEST = 3
#: A class that marks the article's body (also a word of it: "article-body").
_BODY_CLASS = re.compile("post-content|entry-content|article__body|story-body")
_XML_SPACE = re.compile(r"[ \t\n\r]+")  # what XPath's normalize-space collapses


def _containers(tree) -> list:
    """The elements that hold the article where the page marks them, after its ``<article>``
    elements (``extract._marked``): the first of ``//*[@itemprop="articleBody"]``,
    ``//*[@role="main"]``, ``//main`` and the elements of a body class that finds any; else the
    page's figures. One pass for the four: as XPaths, each walked the whole tree (~1.4 ms on a
    page with none of them)."""
    itemprop, role, main, body = [], [], [], []
    for el in document_elements(tree, etree.Element):
        if el.get("itemprop") == "articleBody":
            itemprop.append(el)
        if el.get("role") == "main":
            role.append(el)
        if el.tag == "main":
            main.append(el)
        cls = el.get("class")
        if cls is not None and (
            _BODY_CLASS.search(cls)
            or ("article-body" in cls and "article-body" in _XML_SPACE.split(cls))
        ):
            body.append(el)
    return itemprop or role or main or body or tree.xpath("//figure")


def _densest(tree, blocks: list[Block]) -> list:
    """On a page that marks no container, of the three elements with the most paragraphs
    (``<p>`` or ``<br>`` children, at least ``MIN_DENSEST``), the first that holds the article's
    text: there its own images are (AppleInsider's 26, MacRumors' one were not read: the third
    held-out set), not in a sidebar of paragraphs (a review)."""
    counts: dict = {}
    for el in tree.iter("p", "br"):
        parent = el.getparent()
        if parent is not None:
            counts[parent] = counts.get(parent, 0) + 1
    text = _article_text(blocks)
    for el in sorted(counts, key=counts.__getitem__, reverse=True)[:3]:
        if counts[el] >= MIN_DENSEST and _holds(el, *text):
            return [el]
    return []


#: How much of a paragraph's start finds its element: enough to be one paragraph's.
_KEY_CHARS = 24
#: The fewest paragraphs an element holds to be a part of the body (an element holding one is
#: that paragraph's own wrapper, as on Arc Publishing's pages: not a part).
MIN_CHUNK_PARAGRAPHS = 2
# Where a body part is not the story's: its comments, a related story, a promotion.
_NOT_STORY = re.compile(r"comment|related|recirc|newsletter|promo|sidebar|share", re.I)


def later_chunks(tree, blocks: list[Block]) -> list[str]:
    """The paragraphs of the article's later parts that the extractor left out: Condé Nast's
    pages (wired.com) split the body over several ``div.article__body`` with rows of ads
    between them, and trafilatura keeps the first (recall 0.35 and 0.45 on two pages).

    The element holding the last paragraph extracted is the one whose ``<p>`` child reads the
    same (found by its opening words, then compared whole); the later elements of its tag and
    class inside the same ``<article>`` that hold ``MIN_CHUNK_PARAGRAPHS`` paragraphs of their
    own, and sit in nothing named a comment, a related story or a promotion, give their
    paragraphs (their own ``<p>`` children: not a pull-quote's or a caption's inside them)."""
    last = next((b.text for b in reversed(blocks) if b.kind == "paragraph"), None)
    if not last or len(last) < _KEY_CHARS:
        return []
    key = last[:_KEY_CHARS]
    # (the first text node only: a paragraph opening with markup is not looked into)
    chunk = next(
        (
            p.getparent()
            for p in tree.iter("p")
            if p.text and p.text.lstrip().startswith(key) and _paragraph(p) == last
        ),
        None,
    )
    cls = chunk.get("class") if chunk is not None else None
    scope = next(chunk.iterancestors("article"), None) if cls else None
    if scope is None:
        return []
    have = {b.text for b in blocks}
    found: list[str] = []
    after = False
    for el in scope.iter(chunk.tag):
        if el is chunk:
            after = True
            continue
        if not after or el.get("class") != cls:
            continue
        paragraphs = [t for t in map(_paragraph, el.findall("p")) if t]
        if len(paragraphs) < MIN_CHUNK_PARAGRAPHS or _in_other_matter(el, scope):
            continue
        for text in paragraphs:
            if text not in have:
                have.add(text)
                found.append(text)
    return found


def _in_other_matter(el, scope) -> bool:
    """Whether ``el`` sits, below ``scope``, in an element whose id or class names a comment,
    a related story or a promotion, or in an ``<aside>``."""
    for a in el.iterancestors():
        if a is scope:
            return False
        if a.tag == "aside" or _NOT_STORY.search(f"{a.get('id') or ''} {a.get('class') or ''}"):
            return True
    return False


def _paragraph(p) -> str:
    """A ``<p>``'s text as the extractor gives it: a line break is a space."""
    return " ".join(_with_breaks(p).split())


def _with_breaks(el) -> str:
    parts = [el.text or ""]
    for child in el:
        if child.tag == "br":
            parts.append(" ")
        elif isinstance(child.tag, str):
            parts.append(_with_breaks(child))
        parts.append(child.tail or "")
    return "".join(parts)
