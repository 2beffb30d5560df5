"""An article's figures: which images belong to it, as its HTML shows them, with their caption
and photo credit (image bytes are archive/images.py's)."""

from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from .claims import NOTE

_CREDIT_START = re.compile(
    r"^\s*(?:©|\(c\)|copyright\b|photo(?:graph)?s?\s*(?:by\b|:|/)|image\s*(?:by\b|:)|"
    r"picture\s*:|pictured\s*:|credit\s*(?::|\.{2,}|…)|source\s*:|foto\s*:|"
    r"(?:image|photo)\s+(?:credit|copyright)\s*:?|(?:image|photo)s?\s+(?:via|courtesy(?:\s+of)?)\b|"
    r"file\s*:)\s*",
    re.I,
)
_CREDIT_TRAIL = re.compile(
    r"(?:\(|\b)((?:photo|image|picture)s?(?:\s+by)?\s*:?\s*[^()]{0,60}?(?:/|\bvia\b)\s*"
    r"[^()]{2,40}|[A-Z][\w .\-]{1,40}/\s*(?:Getty Images|AFP|AP|Reuters|EPA|Shutterstock|"
    r"Alamy|Bloomberg|Sipa|TASS|Sputnik)[\w .\-]*|(?:Getty Images|Reuters|AFP|AP Photo|"
    r"Shutterstock|Alamy)(?:\s*/\s*[\w .\-]+)?)\)?\s*$",
)
# A credit at the end of a caption, in brackets: "(Manu Fernandez/AP)", "[File: Reuters]",
# "(Elias Funez/The Union via AP)", "(onmeth.com)"; or after "Credit:"; or "Submitted photo".
_AGENCY = r"(?:AP|AFP|Reuters|Getty|EPA|Shutterstock|Alamy|Bloomberg|Sipa|TASS|Sputnik|NASA|Nasa)"
_CREDIT_BRACKET = re.compile(
    rf"\s*[(\[]\s*((?:[^()\[\]]{{0,80}}(?:/|\bvia\b|\b{_AGENCY}\b|\bfile\s*:|photo\b|\bcredit\s*:)"
    rf"[^()\[\]]{{0,80}})|[\w.\-]+\.(?:com|org|net|gov|edu|co\.uk))\s*[)\]]\s*$",
    re.I,
)
# A line that is only a credit, a few names ending in an agency: "ITV, ASSOCIATED PRESS" (AP's
# hosted pages print it where the caption goes); not a sentence ("Fire in Sydney. AFP").
_AGENCY_LINE = re.compile(
    r"^(?!.*\.\s)(?:[A-Z][\w.&'’\-]*[ ,/]+){0,4}(?i:Associated Press|AP Photo|Reuters|AFP|"
    r"Getty Images|Shutterstock)$"
)
_CREDIT_LABEL_TAIL = re.compile(r"\s+(?:photo\s+)?credit\s*:\s*([^:]{2,80})$", re.I)
_CREDIT_PHOTO_TAIL = re.compile(r"\s+((?:submitted|contributed|file|courtesy)\s+photo)\s*$", re.I)
# Screen-reader labels and gallery counters inside captions ("Image caption", "1 of 4").
_HIDDEN = re.compile(r"off-?screen|visually-?hidden|sr-only|screen-reader|count", re.I)
_PLACEHOLDER = re.compile(r"loader|placeholder|missing-image|blank\.|spacer|grey_line|^data:", re.I)

_NOT_ARTICLE_IMAGE = re.compile(
    r"(?:logo|icon|sprite|pixel|spacer|blank|avatar|badge|banner|advert|/ads?/|doubleclick|"
    r"tracking|1x1|emoji|gravatar|share-?buttons?|/authors?/|profile_images|/profile/|adserver|"
    r"scorecardresearch|spinner|newsletter)",
    re.I,
)
# An <img> whose class says it is the page's furniture: a byline's photo, a share button.
# Whole words of it: "shareable" is no share button (a review).
_NOT_ARTICLE_CLASS = re.compile(
    r"(?:^|[\s_-])(?:author|headshot|profile|avatar|logo|share|ssba)(?:$|[\s_-])", re.I
)
# A path segment this long names one page where it holds a digit (an id) or ends the path (a
# slug): a link to a path holding one of the page's own is its gallery or an image's page, not
# another story (a section's name, "economy-business", is every story's).
_OWN_SEGMENT = 16
# Where a photo is published: a link to its page there is the photo's source, not a story.
_PHOTO_SOURCE = re.compile(
    r"(?:^|\.)(?:flickr\.com|flic\.kr|gettyimages\.[a-z.]+|apimages\.com|shutterstock\.com|"
    r"alamy\.com|commons\.wikimedia\.org|unsplash\.com)$",
    re.I,
)
_CLASS_CREDIT = re.compile(r"credit|copyright|source|author|photographer|attribution", re.I)
_CLASS_CAPTION = re.compile(r"caption|description|desc|text", re.I)
# Compiled once: these run for every element near an image, where re.search's own lookup of
# its compiled pattern cost more than the search.
_CLASS_CREDIT_LINE = re.compile(r"credit|copyright|attribution", re.I)
_CLASS_CAPTION_LINE = re.compile(r"caption", re.I)
_CLASS_NOT_CAPTION_LINE = re.compile(r"credit|truncated|remote", re.I)
_IMAGE_FILE = re.compile(r"\.(?:jpe?g|png|gif|webp)\b", re.I)


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
    if _AGENCY_LINE.match(text):
        return None, text
    for tail in (_CREDIT_BRACKET, _CREDIT_LABEL_TAIL, _CREDIT_PHOTO_TAIL):
        m = tail.search(text)
        if m and m.start() > 0:
            credit = _CREDIT_START.sub("", m.group(1)).strip(" ()[]")
            return text[: m.start()].strip() or None, credit or None
    m = _CREDIT_TRAIL.search(text)
    if m and m.start() > 0:
        credit = _CREDIT_START.sub("", m.group(1)).strip(" ()")
        return text[: m.start()].strip() or None, credit or None
    return text, None


def _text(el) -> str:
    return " ".join("".join(el.itertext()).split())


def clean_credit(text: str) -> str | None:
    text = " ".join(text.split()).strip(" ()[]")
    for _ in range(2):  # "(Image: © Shutterstock)"
        text = _CREDIT_START.sub("", text).strip(" ()[]")
    return text or None


def caption_and_credit(figcaption) -> tuple[str | None, str | None]:
    """Caption and credit from a ``<figcaption>`` (or an element like one), using its markup
    where it has any: a credit element at any depth (Quanta's ``div.attribution`` two wrappers
    down), a ``<small>`` line under the caption (Forbes), else a credit written at the caption's
    end. A credit element wins over one in the caption's words (Hearst prints "(AP Photo/X)" in
    the caption and its own credit line beside it), which are taken out of the caption either
    way."""
    parts: list[str] = []
    credits: list[str | None] = []
    _caption_parts(figcaption, _text(figcaption), parts, credits, top=True)
    caption = " ".join("".join(parts).split()) or None
    written = None
    if caption:
        caption, written = split_credit(caption)
    return caption, next((c for c in credits if c), None) or written


#: What an expand toggle is written in (not "<em>more</em>" in a sentence).
_CONTROLS = frozenset({"a", "button", "span"})
#: Elements whose text is set apart from the text around them.
_BLOCKS = frozenset({"div", "p", "section", "li", "br", "header", "footer", "figcaption"})
# A caption's expand or collapse control: "... [+]" (Forbes), "more", "Show less".
_TOGGLE = re.compile(
    r"^(?:\.{3}|…)?\s*(?:\[[+-]\]|more|less|(?:read|show|see)\s+(?:more|less))$", re.I
)


def _caption_parts(el, whole: str, parts: list[str], credits: list, top: bool) -> None:
    """The caption's words under ``el`` into ``parts``, its credit elements' into ``credits``.
    An element is a credit by its class or itemprop, its label ("Photo:"), or as a ``<small>``
    directly under the caption; one holding all of the caption's text is a wrapper unless it
    has no elements inside (``<span class="credit">Jane Doe</span>`` alone)."""
    parts.append(el.text or "")
    for child in el:
        if isinstance(child.tag, str):
            cls = child.get("class") or ""
            t = _text(child)
            # schema.org's copyrightHolder names the credit where the class does not (NYT)
            named = f"{cls} {child.get('itemprop') or ''} {child.tag}"
            if _HIDDEN.search(cls) or (child.tag in _CONTROLS and _TOGGLE.match(t)):
                pass
            elif (
                t
                and (t != whole or not len(child))
                and (
                    # under the caption's own lines, only a class that says so ("author" or
                    # "source" deeper down is a word of the caption: a review)
                    (_CLASS_CREDIT if top else _CLASS_CREDIT_LINE).search(named)
                    or _CREDIT_START.match(t)
                    or (top and _credit_line_below(child))
                )
            ):
                credits.append(clean_credit(t))
            else:
                # spans directly under the caption are its lines (caption, then credit)
                spaced = child.tag in _BLOCKS or (top and child.tag == "span")
                parts.append(" " if spaced else "")
                _caption_parts(child, whole, parts, credits, top=False)
        parts.append(child.tail or "")


def _credit_line_below(el) -> bool:
    """A ``<small>`` line of its own at the caption's end, after its other lines (Forbes), not
    small print inside the caption's sentence ("at 5 <small>a.m.</small>")."""
    before = el.getprevious()
    return (
        el.tag == "small"
        and el.getnext() is None
        and not (el.tail or "").strip()
        and before is not None
        and not (before.tail or "").strip()
    )


def _nearby_caption(img) -> tuple[str | None, str | None]:
    """Caption and credit of an image outside a ``<figure>``: elements whose class says so, in
    the nearest container (up to three levels up) that holds only this image."""
    node, levels = img, 0
    while levels < 3:
        node = node.getparent()
        if node is not None and node.tag in ("picture", "source"):
            continue  # the image's own wrappers (Express: a caption three levels up)
        levels += 1
        # (the same image again in a <noscript>, for readers without scripts, is one image)
        if node is None or len(node.xpath(".//img[not(ancestor::noscript)]")) > 1:
            return None, None
        caption = credit = written = None
        for el in node.iter():
            if not isinstance(el.tag, str) or el is img:
                continue
            cls = el.get("class") or ""
            if _HIDDEN.search(cls) or "more" in cls.split("-"):
                continue
            if credit is None and _CLASS_CREDIT_LINE.search(cls):
                credit = clean_credit(_text(el))
            elif caption is None and _is_caption_line(cls):
                cap_el = el.find('.//*[@class="caption-full"]')
                caption, written = caption_and_credit(cap_el if cap_el is not None else el)
        # a credit line of its own wins over one in the caption's words (Hearst)
        if caption or credit or written:
            return caption, credit or written
        if said := _says_the_alt(node, img):
            return split_credit(said)
    return None, None


#: What says an image's alt text without being its caption: the image, a link, a heading.
_NOT_A_CAPTION = frozenset({"img", "a", "h1", "h2", "h3", "h4", "h5", "h6"})


def _says_the_alt(node, img) -> str | None:
    """A line beside the image that says what its alt text says: a caption whatever its class
    (AppleInsider's ``<span class="minor2 small gray">``). Three words at least: not a label."""
    alt = " ".join((img.get("alt") or "").split()).rstrip(".").lower()
    if len(alt.split()) < 3:
        return None
    for el in node.iter():
        # a line of text of its own, not in a heading or a link that says it too (a headline,
        # "Read more stories": a review); ancestors only, as the node may be a whole article
        if (
            isinstance(el.tag, str)
            and not len(el)
            and el.tag not in _NOT_A_CAPTION
            and not any(a.tag in _NOT_A_CAPTION for a in el.iterancestors() if a is not node)
        ):
            text = _text(el)
            if text.rstrip(".").lower() == alt:
                return text
    return None


def _line_below(img) -> str | None:
    """An italic line printed right under a paragraph that holds only the image: its caption
    whatever its class, as WordPress pages write one (``<p><img></p><p><em>Light a Wish by OGE
    Group</em></p>``). A line of 40 words at most, all of it in the one ``<em>`` or ``<i>``,
    and not a note ("This article was updated ...", "Editor's note: ...")."""
    block = img
    for _ in range(3):
        block = block.getparent()
        if block is None:
            return None
        if block.tag in ("p", "div"):
            break
    else:
        return None
    if _text(block) or len(block.xpath(".//img[not(ancestor::noscript)]")) != 1:
        return None
    line = block.getnext()
    if line is None or line.tag != "p" or len(line) != 1 or line[0].tag not in ("em", "i"):
        return None
    text = _text(line)
    if not text or (line.text or "").strip() or (line[0].tail or "").strip():
        return None
    # an editor's note or a correction in italics under the picture is no caption (a review)
    return text if len(text.split()) <= 40 and not NOTE.match(text) else None


def _img_url(img, page_url: str) -> str | None:
    for attr in ("data-src", "data-lazy-src", "data-original", "src"):
        v = (img.get(attr) or "").strip()
        if v.startswith("{"):  # MSN: {"default": {"src": "//img-s-msn-com..."}, ...}
            v = _json_src(v)
        if v and not _PLACEHOLDER.search(v):
            return _join(page_url, v)
    srcset = img.get("data-srcset") or img.get("data-lazy-srcset") or img.get("srcset")
    candidates = [c.split() for c in (srcset or "").split(",") if c.strip()]
    if candidates:
        # the largest candidate of a srcset
        best = max(candidates, key=lambda c: _descriptor(c[1]) if len(c) > 1 else 0.0)
        return _join(page_url, best[0])
    return None


#: A lazy image's JSON ``data-src`` longer than this is not read (MSN's are ~600 characters).
_JSON_SRC_CHARS = 10_000


def _json_src(value: str) -> str:
    """The default rendition's address in a lazy image's JSON ``data-src``; "" if none."""
    if len(value) > _JSON_SRC_CHARS:
        return ""  # no renditions list is this long: not worth parsing
    try:
        src = json.loads(value)["default"]["src"]
    # (JSON nested a few thousand deep makes the parser recurse out of stack: a review)
    except (ValueError, KeyError, TypeError, RecursionError):
        return ""
    return src if isinstance(src, str) else ""


#: What holds no caption whatever its class says ("caption-toggle" buttons, "captioned" images).
_NOT_A_CAPTION_BOX = frozenset({"img", "a", "button", "input", "picture", "source"})


def _one_image(figure) -> bool:
    """Whether a figure shows one image (its copy for readers without scripts aside): a
    slideshow's captions are each its own slide's."""
    return len(figure.xpath(".//img[not(ancestor::noscript)]")) == 1


def _class(el) -> str:
    return (el.get("class") or "") if isinstance(el.tag, str) else ""


def _is_caption_line(cls: str) -> bool:
    return bool(
        _CLASS_CAPTION_LINE.search(cls)
        and not _CLASS_NOT_CAPTION_LINE.search(cls)
        and not _HIDDEN.search(cls)
    )


def _descriptor(text: str) -> float:
    """A srcset candidate's width or density ("800w", "1.5x"); 0 when it is not a number."""
    try:
        return float(re.sub(r"[^\d.]", "", text) or 0)
    except ValueError:  # "1.5.2x"
        return 0.0


def _join(page_url: str, url: str) -> str | None:
    try:
        return urljoin(page_url, url)
    except ValueError:  # "http://[::1": not a URL
        return None


def _looks_decorative(img, url: str) -> bool:
    for attr in ("width", "height"):
        v = (img.get(attr) or "").strip().rstrip("px")
        if v.isascii() and v.isdigit() and int(v) < 50:  # isdigit() alone takes "²"
            return True
    if _NOT_ARTICLE_CLASS.search(img.get("class") or ""):
        return True
    return bool(_NOT_ARTICLE_IMAGE.search(url)) or img.get("aria-hidden") == "true"


# A video player's poster image is no article image (Quanta's "image--video", "video__cover"):
# a class word naming a video, not a post's category or tag ("category-video-news").
_VIDEO = re.compile(r"(?:^|[_-])video(?:$|[_-])", re.I)
_NOT_A_PLAYER = ("category-", "tag-", "no-")
#: Where a video player's elements end: a WordPress post's <article> has "category-video-game".
_STORY = frozenset({"article", "main", "body"})


def _in_video_player(img) -> bool:
    """Whether the image is a video player's poster: a class naming a video on it or on one of
    the four elements around it, inside the story's own element."""
    for el in (img, *itertools.islice(img.iterancestors(), 4)):
        if el.tag in _STORY:
            return False
        if any(
            _VIDEO.search(word) and not word.startswith(_NOT_A_PLAYER)
            for word in (el.get("class") or "").split()
        ):
            return True
    return False


def _links_away(img, page_url: str) -> bool:
    """Whether the image is a link to another page: a related story's thumbnail, a video's
    poster. A link to the image itself, to this page, or to a page under it or naming it (its
    gallery, an image's own page) is not away."""
    link = next(img.iterancestors("a"), None)
    href = (link.get("href") or "").strip() if link is not None else ""
    if not href or href.startswith(("#", "javascript:")):
        return False
    target = _join(page_url, href)
    if target is None:
        return False
    try:
        to, page = urlsplit(target), urlsplit(page_url)
    except ValueError:
        return False
    if _IMAGE_FILE.search(to.path):
        return False
    if _PHOTO_SOURCE.search(to.hostname or ""):
        # the photo's own page where it was published (a review of the first version); links
        # to other sites stay away: social buttons, promotions, products (measured: counting
        # every other site's link as not away kept 36 such images to keep 10 product photos)
        return False
    here = page.path.rstrip("/")
    if here and to.path.startswith(here):
        return False
    parts = here.split("/")
    own = [
        s
        for i, s in enumerate(parts)
        if len(s) >= _OWN_SEGMENT and (i == len(parts) - 1 or any(c.isdigit() for c in s))
    ]
    return not any(s in to.path for s in own)


def article_images(containers, page_url: str) -> list[ImageRef]:
    """Images inside the article containers, in document order.

    Each ``<img>`` (or ``<picture>`` source) is resolved against the page URL; figure captions
    and credit lines are read from the enclosing ``<figure>``.
    """
    refs: dict[str, ImageRef] = {}
    for root in containers:
        # lazy-loading placeholders that are not <img> yet: <div data-src="...jpg"> in a figure
        lazy = root.xpath(
            ".//figure//*[not(self::img) and not(self::source) and @data-src and not(.//img)]"
        )
        for img in list(root.iter("img")) + lazy:
            url = _img_url(img, page_url)
            if not url:
                parent = img.getparent()
                source = parent.find("source") if parent is not None else None
                url = _img_url(source, page_url) if source is not None else None
            if not url or url in refs or _looks_decorative(img, url):
                continue
            if _links_away(img, page_url) or _in_video_player(img):
                continue
            if img.tag != "img" and not _IMAGE_FILE.search(url):
                continue
            ref = ImageRef(
                url=url, alt=(img.get("alt") or img.get("data-alt") or "").strip() or None
            )
            figure = next((a for a in img.iterancestors() if a.tag == "figure"), None)
            if figure is not None:
                cap = figure.find(".//figcaption")
                if cap is None and _one_image(figure):
                    # a caption element of another name (Rolling Stone's div.c-picture__caption)
                    cap = next(
                        (
                            e
                            for e in figure.iterdescendants()
                            if e.tag not in _NOT_A_CAPTION_BOX and _is_caption_line(_class(e))
                        ),
                        None,
                    )
                if cap is not None:
                    ref.caption, ref.credit = caption_and_credit(cap)
                if ref.credit is None:
                    # a credit line in the figure but outside its caption
                    for el in figure.iter():
                        cls = _class(el)
                        # a <cite> beside the caption is its credit (Vox Media's pages)
                        if (
                            _CLASS_CREDIT_LINE.search(cls) or el.tag == "cite"
                        ) and not _HIDDEN.search(cls):
                            if not any(a.tag == "figcaption" for a in el.iterancestors()):
                                ref.credit = clean_credit(_text(el))
                                break
                if ref.caption is None and ref.credit is None:
                    sib = figure.getnext()
                    if sib is not None and sib.tag == "figcaption":
                        ref.caption, ref.credit = caption_and_credit(sib)
            else:
                ref.caption, ref.credit = _nearby_caption(img)
                if ref.caption is None and ref.credit is None and (line := _line_below(img)):
                    ref.caption, ref.credit = split_credit(line)
            refs[url] = ref
    return list(refs.values())
