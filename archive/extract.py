"""From one HTML page to an article: metadata, main text as blocks, claims and image references.

Pure: bytes in, plain data out. No database, no key, no printing, so it can run in worker
processes or on a cluster (issue 7).
"""

from __future__ import annotations

import json
import re
from copy import copy
from dataclasses import asdict, dataclass, field

import trafilatura
from htmldate import find_date
from lxml import html as lxml_html
from trafilatura.metadata import (  # the steps of its extract_metadata: _page_metadata
    META_URL,
    examine_meta,
    extract_author,
    extract_catstags,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)
from trafilatura.settings import DEFAULT_CONFIG, Document, set_date_params
from trafilatura.utils import load_html

from .claims import Claim, split_claims
from .containers import article_containers, document_elements, later_chunks
from .figures import ImageRef, article_images

#: An HTML page is an article when its main text has at least this many characters...
MIN_ARTICLE_CHARS = 250
#: ...in at least this many sentences-worth of blocks.
MIN_ARTICLE_BLOCKS = 2
#: Below this many characters, try trafilatura's balanced mode too...
FALLBACK_BELOW_CHARS = 1000
#: ...and take its text when it is this many times longer.
FALLBACK_RATIO = 3


@dataclass
class Block:
    kind: str  # paragraph | item | quote | heading | caption | cell
    text: str
    start: int = 0


@dataclass
class Article:
    url: str
    canonical_url: str | None = None
    title: str | None = None
    site_name: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    language: str | None = None
    section: str | None = None
    text: str = ""
    blocks: list[Block] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([\w.:-]+)""", re.I)


def decode_html(payload: bytes, charset: str | None) -> str:
    """Decode with the HTTP charset, else the page's ``<meta charset>``, else UTF-8, else cp1252."""
    candidates = [charset]
    m = _META_CHARSET.search(payload[:4096])
    if m:
        candidates.append(m.group(1).decode("ascii", "replace"))
    for enc in [c for c in candidates if c] + ["utf-8"]:
        try:
            return payload.decode(enc)
        except (LookupError, UnicodeError):  # "punycode" raises UnicodeError itself
            continue
    return payload.decode("cp1252", errors="replace")


@dataclass
class _Marked:
    """What the page says about itself in its markup, found in one pass over the elements (an
    XPath per ``<meta>`` name walked the whole tree each time: ~0.1 ms a walk, a dozen a page).
    """

    meta: dict[str, str] = field(default_factory=dict)  # name: the first non-empty content
    json_ld: list[dict] = field(default_factory=list)
    canonical: str | None = None
    articles: list = field(default_factory=list)  # the <article> elements


def _marked(tree) -> _Marked:
    """As XPath's ``//meta[@property=name or @name=name or @itemprop=name]`` (the first with
    content), ``//script[@type="application/ld+json"]``, ``//link[@rel="canonical"]/@href`` and
    ``//article``: in document order, from the document's root (``//`` is not ``tree.iter``
    when lxml returned a fragment's element)."""
    found = _Marked()
    for el in document_elements(tree, "meta", "script", "link", "article"):
        tag = el.tag
        if tag == "meta":
            content = (el.get("content") or "").strip()
            if content:
                for attr in ("property", "name", "itemprop"):
                    name = el.get(attr)
                    if name is not None:
                        found.meta.setdefault(name, content)
        elif tag == "script":
            if el.get("type") == "application/ld+json":
                found.json_ld.extend(_json_ld(el.text))
        elif tag == "link":
            if found.canonical is None and el.get("rel") == "canonical":
                found.canonical = el.get("href")
        else:
            found.articles.append(el)
    return found


def _meta(marked: _Marked, *names: str) -> str | None:
    """The content of the first ``<meta>`` of the first of ``names`` the page has."""
    return next((marked.meta[name] for name in names if name in marked.meta), None)


_SITE_URL = re.compile(r"^(?:https?:)?//(?:www\.)?([^/?#\s]+)[^\s]*$", re.I)
# a Twitter-style handle: "@niftyニュース" or "@DIME アットダイム" are names
_HANDLE = re.compile(r"^@(\w{1,15})$", re.ASCII)
# a copyright notice and nothing else: "Copyright 2014", "© 2019-2020", "(c)"
_NOTICE = re.compile(
    r"(?:copyright\b\s*(?:(?:©|\(c\))\s*)?|©\s*|\(c\)\s*)(?:\d{4}(?:\s*[-–]\s*\d{4})?)?[\s,.]*",
    re.I,
)


def site_name(
    given: str | None, found: str | None, url: str = "", publisher: str | None = None
) -> str | None:
    """The publication's name: the one the page ``given`` in its markup (og:site_name,
    application-name), its JSON-LD ``publisher``, or the one trafilatura ``found`` (other meta
    tags, the host), passing over what is not a name: a URL, a social-media handle
    ("@politifact"), a copyright notice without a holder ("Copyright 2014"). A name with a
    tagline ("LinkNaija | Nigeria's popular news platform") is its first part; the first name
    the page's host spells in some way is taken before one it does not ("U.S." on reuters.com
    beside the publisher "Reuters"), and a capitalised spelling before a lower-case slug
    ("USA TODAY" before "usatoday"). When nothing else is left, a URL gives its host, a handle
    its name, and then the page's ``url`` its host, as trafilatura's own last resort. (Each was
    an outlet of its own in the researchers' views.)"""
    names = [
        part.strip()
        for v in (given, publisher, found)
        if v and not _NOTICE.fullmatch(v.strip())
        for part in v.split(" | ")
    ]
    names = [n for n in names if n and not _HANDLE.match(n) and not _SITE_URL.match(n)]
    labels = _host_labels(url)
    # (a name in another script than the host's is no host's to spell: taken as it is)
    spelt = [n for n in names if not n.isascii() or any(_spells(n, lb) for lb in labels)]
    if spelt:
        slug = spelt[0].islower() and " " not in spelt[0]
        return next((n for n in spelt if not n.islower()), spelt[0]) if slug else spelt[0]
    if names:
        return names[0]
    for name in [v.strip() for v in (given, found) if v] + [url]:
        if host := _SITE_URL.match(name):
            return host[1].lower()
        if handle := _HANDLE.match(name):
            return handle[1]
    return None


#: Second-level labels under which the name is the label before ("bbc.co.uk", "globo.com.br").
_SECOND_LEVEL = {"co", "com", "org", "net", "gov", "edu", "ac", "or", "ne", "go"}
#: Words too common in names to say which one a host spells ("Latest News" is not Fox News,
#: though foxnews.com holds "news": a review).
_GENERIC = frozenset(
    "the news daily times latest online media live today world breaking top home new post "
    "weekly magazine sports".split()
)


def _host_labels(url: str) -> list[str]:
    """The label of the page's host that names its site: the registrable one ("reuters" of
    in.reuters.com, "bbc" of bbc.co.uk), not a subdomain's ("in" spelled "Business News")."""
    host = _SITE_URL.match(url)
    labels = host[1].lower().split(":")[0].split(".")[:-1] if host else []
    while len(labels) > 1 and labels[-1] in _SECOND_LEVEL:
        labels.pop()
    return labels[-1:]


def _spells(name: str, label: str) -> bool:
    """Whether a host label spells the name some way: whole ("usatoday"), by a word of three
    letters or more that is not a common one ("reuters"), or by its initials ("nyt" for The
    New York Times, "jp" of jpost for The Jerusalem Post)."""
    words = re.findall(r"[a-z0-9]+", name.lower())
    squashed = "".join(words)
    if len(squashed) >= 3 and (squashed in label or label in squashed):
        return True
    if any(len(w) >= 3 and w not in _GENERIC and w in label for w in words):
        return True
    initials = "".join(w[0] for w in words if w != "the")
    return len(initials) >= 2 and label.startswith(initials)


def _json_ld(text: str | None) -> list[dict]:
    """The objects of one JSON-LD script, each ``@graph`` item included."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return []
    found = []
    stack = data if isinstance(data, list) else [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            found.append(item)
            graph = item.get("@graph")
            if isinstance(graph, list):
                stack.extend(v for v in graph if isinstance(v, dict))
    return found


def _publisher(objects: list[dict]) -> str | None:
    """The name of the first JSON-LD publisher the page gives."""
    for item in objects:
        publisher = item.get("publisher")
        if isinstance(publisher, list) and publisher:
            publisher = publisher[0]
        if isinstance(publisher, dict) and isinstance(publisher.get("name"), str):
            return publisher["name"]
    return None


def _ld_text(ld: dict, key: str) -> str | None:
    """A JSON-LD value that is text (schema.org also allows lists and objects: not used)."""
    value = ld.get(key)
    return value if isinstance(value, str) else None


def _text_of(el) -> str:
    """An element's text, with ``<lb/>`` as a space (itertext would glue the lines together)."""
    parts: list[str] = []

    def walk(e) -> None:
        if e.tag == "lb":
            parts.append(" ")
        elif e.text:
            parts.append(e.text)
        for child in e:
            walk(child)
            if child.tail:
                parts.append(child.tail)

    walk(el)
    return " ".join("".join(parts).split())


#: Blocks that point elsewhere: site furniture even when an extractor keeps them. A label
#: ("Related:", "More from CNN:", "Read more") or a short line of one ("Related stories",
#: "Watch the full interview"); not a sentence that opens with the word ("More than a third of
#: the staff ...", "Recommended doses fell.").
_POINTER = re.compile(
    r"^(?:(?:related|more|recommended|watch|listen)(?:\s+\S+){0,2}\s*:|"
    r"(?:read more|see more|don'?t miss|also on \w+)\b)",
    re.I,
)
_POINTER_WORD = re.compile(r"^(?:related|more|recommended|watch|listen)\b", re.I)


def _is_pointer(text: str) -> bool:
    if _POINTER.match(text):
        return True
    words = text.split()
    # "More than 2,500 civilians ..." opens a paragraph: a pointer is a short label
    return bool(
        _POINTER_WORD.match(text)
        and len(words) <= 6
        and not any(mark in text for mark in '.!?“”"«')  # a label ends and quotes nothing
        and not (len(words) > 1 and words[1].lower() in ("than", "and", "or", "of"))
    )


#: A share button's label that trafilatura glues to the pull quote it shares ("... continuum.'
#: Click To Tweet", WordPress's Click To Tweet plugins): the button's, not the article's words.
_SHARE_LABEL = re.compile(r"\s*click to tweet$", re.I)


def _blocks_from_body(body) -> list[Block]:
    """Walk trafilatura's XML body into blocks, in reading order."""
    blocks: list[Block] = []

    def add(kind: str, text: str) -> None:
        text = _SHARE_LABEL.sub("", " ".join(text.split()))
        if text:
            blocks.append(Block(kind, text))

    def items(lst) -> None:
        for item in lst.findall("item"):
            nested = [c for c in item if c.tag == "list"]
            # the item's own text without its nested lists, which become items of their own
            own = [item.text or ""] + [
                _text_of(c) + (c.tail or "") if c.tag != "list" else (c.tail or "") for c in item
            ]
            add("item", " ".join(own))
            for sub in nested:
                items(sub)

    def walk(el, inside: str | None = None) -> None:
        for child in el:
            tag = child.tag
            if tag == "head":
                add("heading", _text_of(child))
            elif tag == "list":
                items(child)
            elif tag == "quote":
                if len(child):
                    add("quote", child.text or "")
                    walk(child, inside="quote")
                else:
                    add("quote", _text_of(child))
            elif tag == "table":
                for cell in child.iter("cell"):
                    add("cell", _text_of(cell))
            elif tag in ("p", "item") or not len(child):
                add(inside or "paragraph", _text_of(child))
            else:
                walk(child, inside)
            # text after an element (trafilatura keeps some there) belongs to the same context
            if child.tail and child.tail.strip():
                add(inside or "paragraph", child.tail)

    walk(body)
    return [b for b in blocks if not _is_pointer(b.text)]


#: How the main text is asked of trafilatura (benchmarks/ingest.py's floor asks the same).
TRAFILATURA_SETTINGS = {
    # Images on makes trafilatura keep gallery and alt text as body text; images are found by
    # our own pass over the page (figures.article_images).
    "include_images": False,
    "include_tables": True,
    "include_comments": False,
}


def _trafilatura(tree, url: str, favor_precision: bool):
    """trafilatura's main text of the page; its metadata is ``_page_metadata``'s, asked only
    of an article."""
    try:
        return trafilatura.bare_extraction(
            tree,
            url=url,
            with_metadata=False,
            favor_precision=favor_precision,
            **TRAFILATURA_SETTINGS,
        )
    except Exception:  # noqa: BLE001 - third-party code on hostile HTML: one page, not the file
        return None


def _page_metadata(tree, url: str, date: bool, section: bool) -> Document:
    """trafilatura's metadata of the page, as its ``extract_metadata`` finds it, step for step,
    but only the fields an article reads: the date (htmldate's search, a third of the time)
    only when ``date``, the categories only when ``section``, and never the tags or licence.
    Called once an article was found, so pages that are not articles cost none of it. On any
    error in it, no metadata (htmldate has asserted on tag soup such as
    ``'<svg ><div ></div><div ></div>'``): the text may still be an article. (A step left out
    can no longer fail it: there, trafilatura would have lost every field.)"""
    try:
        found = examine_meta(tree)
        if found.author and " " not in found.author:
            found.author = None
        try:
            found = extract_meta_json(tree, found)
        except Exception:  # noqa: BLE001 - as trafilatura: its JSON-LD reading has bugs
            pass
        if not found.title:
            found.title = extract_title(tree)
        if not found.author:
            found.author = extract_author(tree)
        if not found.url:
            found.url = extract_url(tree, url)
        found.date = None
        if date:
            params = set_date_params(DEFAULT_CONFIG.getboolean("DEFAULT", "EXTENSIVE_DATE_SEARCH"))
            found.date = find_date(tree, **params, url=found.url)
        if not found.sitename:
            found.sitename = extract_sitename(tree)
        if found.sitename:
            found.sitename = found.sitename.lstrip("@")
            if found.sitename and "." not in found.sitename and not found.sitename[0].isupper():
                found.sitename = found.sitename.title()
        elif found.url:
            match = META_URL.match(found.url)
            if match:
                found.sitename = match[1]
        if section and not found.categories:
            found.categories = extract_catstags("category", tree)
        found.clean_and_trim()
        return found
    except Exception:  # noqa: BLE001 - third-party code on hostile HTML
        return Document()


def _as_trafilatura_reads(tree):
    """The tree as trafilatura's metadata search read it: a copy of the element, so without
    what lies beside the root (markup after ``</html>`` is a second top-level element, which
    its XPaths, starting at the document, would search: a title or category there was taken,
    found in review). Copied only when there is something beside it, a copy costing ~1 ms."""
    if tree.getparent() is None and tree.getprevious() is None and tree.getnext() is None:
        return tree
    return copy(tree)


def _body_chars(blocks: list[Block]) -> int:
    return sum(len(b.text) for b in blocks if b.kind != "heading")


#: Cards a page shows when the pointer is over a name in the text (The Hill's person cards:
#: their name, photo and story links). Hidden on the page, they are in its markup beside the
#: name, and trafilatura read them into the sentence ("Gov. Kristi NoemKristi Lynn NoemSouth
#: Dakota governor doubles down ..."). Looked for in the text first: an XPath over every
#: element of every page costs ~0.8 ms. Only the card itself: a generic "hovercard" class is
#: also put on the link that shows one (the name itself).
_HOVER_CARDS = ("rollover-people-block",)


def _drop_hover_cards(tree) -> None:
    test = " or ".join(f"contains(@class, '{card}')" for card in _HOVER_CARDS)
    for card in tree.xpath(f"//*[{test}]"):
        if card.getparent() is not None:  # not inside a card dropped already
            card.drop_tree()  # its tail, the sentence going on, stays


def extract_article(html_text: str, url: str) -> Article | None:
    """Extract the article from a page, or None when the page is not an article."""
    # One parse, trafilatura's own: it extracts from a copy of the tree (passed in, a tree is
    # copied, not parsed again), and our metadata and image passes read the original.
    try:
        tree = load_html(html_text)
    except (ValueError, TypeError, lxml_html.etree.ParserError):
        tree = None
    if tree is None:
        return None
    if any(card in html_text for card in _HOVER_CARDS):  # a scan of the text: ~10 µs
        _drop_hover_cards(tree)
    doc = _trafilatura(tree, url, favor_precision=True)
    blocks = _blocks_from_body(doc.body) if doc is not None and doc.body is not None else []
    if _body_chars(blocks) < FALLBACK_BELOW_CHARS:
        # Precision mode sometimes keeps only a notice; the balanced mode then finds the
        # article. Taken only when it is much longer (measured in docs/extraction.md).
        loose = _trafilatura(tree, url, favor_precision=False)
        if loose is not None and loose.body is not None:
            loose_blocks = _blocks_from_body(loose.body)
            if _body_chars(loose_blocks) > FALLBACK_RATIO * _body_chars(blocks):
                blocks = loose_blocks
                doc = doc if doc is not None else loose
    if doc is None or _body_chars(blocks) < MIN_ARTICLE_CHARS:
        return None
    marks = _marked(tree)
    ld = next((d for d in marks.json_ld if "Article" in str(d.get("@type", ""))), {})
    marked = bool(ld) or _meta(marks, "og:type") == "article" or bool(marks.articles)
    # A single paragraph is an article only where the page says it is one.
    if not marked and sum(b.kind != "heading" for b in blocks) < MIN_ARTICLE_BLOCKS:
        return None

    article = Article(url=url)
    published = _meta(marks, "article:published_time", "datePublished", "pubdate", "date")
    published = published or _ld_text(ld, "datePublished")
    section = _meta(marks, "article:section")
    page = _page_metadata(_as_trafilatura_reads(tree), url, not published, not section)
    article.title = _meta(marks, "og:title") or page.title or _ld_text(ld, "headline")
    given = _meta(marks, "og:site_name", "application-name")
    article.site_name = site_name(given, page.sitename, url, _publisher(marks.json_ld))
    canonical = marks.canonical
    article.canonical_url = canonical.strip() if canonical is not None else _meta(marks, "og:url")
    article.published_at = published or page.date
    article.section = section or (page.categories[0] if page.categories else None)
    lang = tree.get("lang") or _meta(marks, "og:locale", "language", "content-language")
    article.language = lang.replace("_", "-").split("-")[0].lower() if lang else None
    if page.author:
        article.authors = [a.strip() for a in page.author.split(";") if a.strip()]

    # The title is the first heading; it is part of the page, never a claim.
    if (
        blocks
        and blocks[0].kind == "heading"
        and article.title
        and (blocks[0].text == " ".join(article.title.split()))
    ):
        blocks = blocks[1:]

    blocks += [Block("paragraph", text) for text in later_chunks(tree, blocks)]
    article.images = article_images(article_containers(tree, marks.articles, blocks), url)

    offset = 0
    parts = []
    for block in blocks:
        block.start = offset
        parts.append(block.text)
        offset += len(block.text) + 1
    article.text = "\n".join(parts)
    article.blocks = blocks
    # Captions are claims too, but not part of the main text: their offsets are None.
    captions = [Block("caption", ref.caption, start=-1) for ref in article.images if ref.caption]
    article.claims = split_claims(blocks + captions, names_from=[article.title or ""])
    return article
