"""From one HTML page to an article: metadata, main text as blocks, claims and image references.

Pure: bytes in, plain data out. No database, no key, no printing, so it can run in worker
processes or on a cluster (issue 7).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field

import trafilatura
from lxml import html as lxml_html

from .claims import Claim, split_claims
from .images import ImageRef, article_images

#: An HTML page is an article when its main text has at least this many characters...
MIN_ARTICLE_CHARS = 250
#: ...in at least this many sentences-worth of blocks.
MIN_ARTICLE_BLOCKS = 2


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
        except (LookupError, UnicodeDecodeError):
            continue
    return payload.decode("cp1252", errors="replace")


def _meta(tree, *names: str) -> str | None:
    for name in names:
        for el in tree.xpath(f'//meta[@property="{name}" or @name="{name}" or @itemprop="{name}"]'):
            value = (el.get("content") or "").strip()
            if value:
                return value
    return None


def _json_ld(tree) -> list[dict]:
    found = []
    for el in tree.xpath('//script[@type="application/ld+json"]'):
        try:
            data = json.loads(el.text or "")
        except ValueError:
            continue
        stack = data if isinstance(data, list) else [data]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                found.append(item)
                stack.extend(v for v in item.get("@graph", []) if isinstance(v, dict))
    return found


def _blocks_from_body(body) -> tuple[list[Block], list[str]]:
    """Walk trafilatura's XML body into blocks (in reading order) and its image URLs."""
    blocks: list[Block] = []
    images: list[str] = []

    def text_of(el) -> str:
        return " ".join("".join(el.itertext()).split())

    def walk(el, inside: str | None = None) -> None:
        for child in el:
            tag = child.tag
            if tag == "graphic":
                if child.get("src"):
                    images.append(child.get("src"))
            elif tag == "head":
                blocks.append(Block("heading", text_of(child)))
            elif tag == "list":
                for item in child.iter("item"):
                    blocks.append(Block("item", text_of(item)))
            elif tag == "quote":
                if len(child):
                    walk(child, inside="quote")
                else:
                    blocks.append(Block("quote", text_of(child)))
            elif tag == "table":
                for cell in child.iter("cell"):
                    blocks.append(Block("cell", text_of(cell)))
            elif tag in ("p", "item"):
                blocks.append(Block(inside or "paragraph", text_of(child)))
                for g in child.iter("graphic"):
                    if g.get("src"):
                        images.append(g.get("src"))
            elif len(child):
                walk(child, inside)
            else:
                blocks.append(Block(inside or "paragraph", text_of(child)))

    walk(body)
    return [b for b in blocks if b.text], images


def extract_article(html_text: str, url: str) -> Article | None:
    """Extract the article from a page, or None when the page is not an article."""
    doc = trafilatura.bare_extraction(
        html_text,
        url=url,
        with_metadata=True,
        include_images=True,
        include_tables=True,
        include_comments=False,
        favor_precision=True,
    )
    if doc is None or doc.body is None:
        return None
    blocks, graphic_urls = _blocks_from_body(doc.body)
    body_chars = sum(len(b.text) for b in blocks if b.kind != "heading")
    if body_chars < MIN_ARTICLE_CHARS or sum(b.kind != "heading" for b in blocks) < (
        MIN_ARTICLE_BLOCKS
    ):
        return None
    try:
        tree = lxml_html.fromstring(html_text)
    except (ValueError, lxml_html.etree.ParserError):
        return None
    ld = next((d for d in _json_ld(tree) if "Article" in str(d.get("@type", ""))), {})

    article = Article(url=url)
    article.title = _meta(tree, "og:title") or doc.title or ld.get("headline")
    article.site_name = _meta(tree, "og:site_name", "application-name") or doc.sitename
    canonical = tree.xpath('//link[@rel="canonical"]/@href')
    article.canonical_url = canonical[0].strip() if canonical else _meta(tree, "og:url")
    article.published_at = (
        _meta(tree, "article:published_time", "datePublished", "pubdate", "date")
        or ld.get("datePublished")
        or doc.date
    )
    article.section = _meta(tree, "article:section") or (
        doc.categories[0] if doc.categories else None
    )
    lang = tree.get("lang") or _meta(tree, "og:locale", "language", "content-language")
    article.language = lang.replace("_", "-").split("-")[0].lower() if lang else None
    if doc.author:
        article.authors = [a.strip() for a in doc.author.split(";") if a.strip()]

    # The title is the first heading; it is part of the page, never a claim.
    if (
        blocks
        and blocks[0].kind == "heading"
        and article.title
        and (blocks[0].text == " ".join(article.title.split()))
    ):
        blocks = blocks[1:]

    containers = tree.xpath("//article") or tree.xpath("//main") or []
    article.images = article_images(containers, url, graphic_urls)
    _add_captions(blocks, article.images)

    offset = 0
    parts = []
    for block in blocks:
        block.start = offset
        parts.append(block.text)
        offset += len(block.text) + 1
    article.text = "\n".join(parts)
    article.blocks = blocks
    article.claims = split_claims(blocks, names_from=[article.title or ""])
    return article


def _add_captions(blocks: list[Block], images: list[ImageRef]) -> None:
    """Captions join the text as their own blocks, after the block the image follows."""
    # trafilatura drops <figcaption>; put each caption at the end so offsets stay simple
    for ref in images:
        if ref.caption:
            blocks.append(Block("caption", ref.caption))
