"""Images: which ones belong to an article, their caption and credit, and their decoded size."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass
from urllib.parse import urljoin

from PIL import Image

from .config import Limits

_CREDIT_START = re.compile(
    r"^\s*(?:©|\(c\)|copyright\b|photo(?:graph)?s?\s*(?:by\b|:|/)|image\s*(?:by\b|:)|"
    r"picture\s*:|pictured\s*:|credit\s*:|source\s*:|foto\s*:)\s*",
    re.I,
)
_CREDIT_TRAIL = re.compile(
    r"(?:\(|\b)((?:photo|image|picture)s?(?:\s+by)?\s*:?\s*[^()]{0,60}?(?:/|\bvia\b)\s*"
    r"[^()]{2,40}|[A-Z][\w .\-]{1,40}/\s*(?:Getty Images|AFP|AP|Reuters|EPA|Shutterstock|"
    r"Alamy|Bloomberg|Sipa|TASS|Sputnik)[\w .\-]*|(?:Getty Images|Reuters|AFP|AP Photo|"
    r"Shutterstock|Alamy)(?:\s*/\s*[\w .\-]+)?)\)?\s*$",
)
_NOT_ARTICLE_IMAGE = re.compile(
    r"(?:logo|icon|sprite|pixel|spacer|blank|avatar|badge|banner|advert|/ads?/|doubleclick|"
    r"tracking|1x1|emoji|gravatar)",
    re.I,
)
_CLASS_CREDIT = re.compile(r"credit|copyright|source|author|photographer", re.I)
_CLASS_CAPTION = re.compile(r"caption|description|desc|text", re.I)


@dataclass
class ImageRef:
    """An image as the article shows it: where, and with which words."""

    url: str
    alt: str | None = None
    caption: str | None = None
    credit: str | None = None


def split_credit(text: str) -> tuple[str | None, str | None]:
    """Split figure text into (caption, credit): ``© AP Photo / X`` is a credit, not a caption."""
    text = " ".join(text.split())
    if not text:
        return None, None
    m = _CREDIT_START.match(text)
    if m:
        # "© AP Photo / Zabi Karimi Taliban fighters..." cannot be split without markup; a credit
        # that starts the text runs to the first sentence-like break.
        rest = text[m.end() :]
        cut = re.search(r"(?<=[a-z])\s+(?=[A-Z][a-z]+\s+[a-z])", rest)
        if cut:
            return rest[cut.end() :].strip() or None, rest[: cut.start()].strip() or None
        return None, rest.strip() or None
    m = _CREDIT_TRAIL.search(text)
    if m and m.start() > 0:
        credit = _CREDIT_START.sub("", m.group(1)).strip(" ()")
        return text[: m.start()].strip() or None, credit or None
    return text, None


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())


def caption_and_credit(figcaption) -> tuple[str | None, str | None]:
    """Caption and credit from a ``<figcaption>``, using its markup where it has any."""
    caption_parts: list[str] = []
    credit = None
    children = [c for c in figcaption if isinstance(c.tag, str)]
    if children:
        for child in children:
            t = _text(child)
            if not t:
                continue
            cls = (child.get("class") or "") + " " + child.tag
            if _CLASS_CREDIT.search(cls) or _CREDIT_START.match(t):
                credit = _CREDIT_START.sub("", t).strip() or credit
            else:
                caption_parts.append(t)
        loose = " ".join(
            " ".join(s.split()) for s in [figcaption.text or ""] + [c.tail or "" for c in children]
        ).strip()
        if loose:
            caption_parts.append(loose)
        caption = " ".join(caption_parts) or None
        if caption and not credit:
            caption, credit = split_credit(caption)
        return caption, credit
    return split_credit(_text(figcaption))


def _img_url(img, page_url: str) -> str | None:
    for attr in ("src", "data-src", "data-lazy-src", "data-original"):
        v = (img.get(attr) or "").strip()
        if v and not v.startswith("data:"):
            return urljoin(page_url, v)
    srcset = img.get("srcset") or img.get("data-srcset")
    if srcset:
        # the largest candidate of a srcset
        best = max(
            (c.strip().split() for c in srcset.split(",") if c.strip()),
            key=lambda p: float(re.sub(r"[^\d.]", "", p[1]) or 0) if len(p) > 1 else 0,
        )
        return urljoin(page_url, best[0])
    return None


def _looks_decorative(img, url: str) -> bool:
    for attr in ("width", "height"):
        v = (img.get(attr) or "").strip().rstrip("px")
        if v.isdigit() and int(v) < 50:
            return True
    return bool(_NOT_ARTICLE_IMAGE.search(url)) or img.get("aria-hidden") == "true"


def article_images(containers, page_url: str) -> list[ImageRef]:
    """Images inside the article containers, in document order.

    Each ``<img>`` (or ``<picture>`` source) is resolved against the page URL; figure captions
    and credit lines are read from the enclosing ``<figure>``.
    """
    refs: dict[str, ImageRef] = {}
    for root in containers:
        for img in root.iter("img"):
            url = _img_url(img, page_url)
            if not url:
                parent = img.getparent()
                source = parent.find("source") if parent is not None else None
                url = _img_url(source, page_url) if source is not None else None
            if not url or url in refs or _looks_decorative(img, url):
                continue
            ref = ImageRef(url=url, alt=(img.get("alt") or "").strip() or None)
            figure = next((a for a in img.iterancestors() if a.tag == "figure"), None)
            if figure is not None:
                cap = figure.find(".//figcaption")
                if cap is not None:
                    ref.caption, ref.credit = caption_and_credit(cap)
            refs[url] = ref
    return list(refs.values())


@dataclass
class ImageInfo:
    sha256: str
    mime_type: str | None
    width: int | None
    height: int | None
    bytes: int


def image_info(payload: bytes, sha256: str, mime_type: str | None, limits: Limits) -> ImageInfo:
    """Size of an image read from its header only; huge pixel counts are not decoded."""
    width = height = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(payload)) as im:
                w, h = im.size
                if w * h <= limits.max_image_pixels:
                    width, height = w, h
                mime_type = Image.MIME.get(im.format or "", mime_type)
    except Exception:  # noqa: BLE001 - Pillow raises many types for damaged images
        pass
    return ImageInfo(sha256, mime_type, width, height, len(payload))
