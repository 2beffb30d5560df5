"""Build sample WARC captures from an article written as plain text.

Usage: python examples/build_samples.py [--seed FILE] [--out DIR]

By default from examples/sample-article.txt (a sample written for this project, so that everyone
builds the same captures); `--seed ../shared/scenario/seed-article.txt` builds them from the
project's seed article where that is available.

The text format is the one of the project's seed article: the headline on the first line, then
the section, "Get short URL" and the site name; then paragraphs, bullet items ("  • "), quotes
(lines starting with “), figures (a "© Credit" line followed by the caption line), subheadings
(short lines without closing punctuation), an editorial note ("*...") and "Leave a Reply".

The capture looks like a crawler's: warcinfo, request/response pairs, the page, its stylesheet,
its photos (JPEGs made here, with the real credits and captions around them) and a 404 favicon.
Record ids and dates are derived from the inputs, so the same input gives the same bytes.
"""

from __future__ import annotations

import argparse
import copy
import html
import io
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image, ImageDraw
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "scenario" / "seed-article.txt"
FALLBACK = Path(__file__).with_name("sample-article.txt")


@dataclass
class Figure:
    credit: str
    caption: str
    url: str = ""


@dataclass
class Page:
    title: str
    section: str
    site_name: str
    url: str
    published: str
    blocks: list = field(default_factory=list)  # (kind, text) or ("figure", Figure)


def parse_article(text: str, url: str, published: str) -> Page:
    lines = [line.rstrip() for line in text.splitlines()]
    content = [line for line in lines if line.strip()]
    title, section, _short_url, site_name = content[:4]
    page = Page(title, section, site_name, url, published)
    rest = content[4:]
    i = 0
    while i < len(rest):
        line = rest[i].strip()
        if line.startswith("•"):
            page.blocks.append(("item", line.lstrip("• ").strip()))
        elif line.startswith("©") and i + 1 < len(rest):
            page.blocks.append(("figure", Figure(line.lstrip("© ").strip(), rest[i + 1].strip())))
            i += 1
        elif line.startswith("“"):
            page.blocks.append(("quote", line))
        elif line.startswith("*"):
            page.blocks.append(("note", line))
        elif line == "Leave a Reply":
            pass
        elif len(line.split()) <= 10 and line[-1:] not in '.:!"”':
            page.blocks.append(("heading", line))
        else:
            page.blocks.append(("paragraph", line))
        i += 1
    return page


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:40]


def render(page: Page, image_dir: str) -> str:
    e = html.escape
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{e(page.title)} - {e(page.site_name)}</title>",
        f'<meta property="og:title" content="{e(page.title)}">',
        f'<meta property="og:site_name" content="{e(page.site_name)}">',
        f'<meta property="article:published_time" content="{e(page.published)}">',
        f'<meta property="article:section" content="{e(page.section)}">',
        f'<link rel="canonical" href="{e(page.url)}">',
        '<link rel="stylesheet" href="/css/site.css">',
        "</head><body>",
        f'<header class="site-header"><a href="/">{e(page.site_name)}</a>',
        '<nav><a href="/world/">World</a> <a href="/business/">Business</a> '
        '<a href="/multimedia/">Multimedia</a></nav></header>',
        "<main><article>",
        f'<div class="article__category"><a href="/section/">{e(page.section)}</a></div>',
        f'<h1 class="article__title">{e(page.title)}</h1>',
        '<div class="article__share"><a href="#" class="short-url">Get short URL</a></div>',
        f'<div class="article__info"><span class="article__source">{e(page.site_name)}</span>',
        f'<time datetime="{e(page.published)}">{e(page.published[:10])}</time></div>',
    ]
    items: list[str] = []

    def flush():
        if items:
            out.append("<ul>" + "".join(f"<li>{e(t)}</li>" for t in items) + "</ul>")
            items.clear()

    for kind, value in page.blocks:
        if kind == "item":
            items.append(value)
            continue
        flush()
        if kind == "paragraph":
            out.append(f"<p>{e(value)}</p>")
        elif kind == "quote":
            out.append(f"<blockquote><p>{e(value)}</p></blockquote>")
        elif kind == "heading":
            out.append(f"<h2>{e(value)}</h2>")
        elif kind == "note":
            out.append(f'<p class="article__note">{e(value)}</p>')
        elif kind == "figure":
            out.append(
                f'<figure class="article__photo"><img src="{e(value.url)}" alt="{e(value.caption)}"'
                ' width="960" height="640"><figcaption>'
                f'<span class="photo__copyright">© {e(value.credit)}</span>'
                f'<span class="photo__caption">{e(value.caption)}</span></figcaption></figure>'
            )
    flush()
    out += [
        "</article>",
        '<section class="comments"><h3>Leave a Reply</h3><form><textarea name="comment" '
        'placeholder="Write a comment"></textarea><button>Post</button></form></section>',
        "</main>",
        f"<footer><p>&copy; {page.published[:4]} {e(page.site_name.split()[0])}. All rights "
        'reserved.</p><a href="/docs/terms.html">Terms of use</a> '
        '<a href="/docs/privacy.html">Privacy policy</a></footer>',
        "</body></html>",
    ]
    return "\n".join(out) + "\n"


def make_jpeg(label: str, size=(960, 640), quality: int = 85) -> bytes:
    """A stand-in photo: a deterministic gradient with shapes, different for each label."""
    seed = sum(label.encode()) % 255
    im = Image.new("RGB", size)
    draw = ImageDraw.Draw(im)
    w, h = size
    for y in range(0, h, 4):
        draw.rectangle([0, y, w, y + 4], fill=((seed + y) % 256, (2 * seed + y // 2) % 256, 120))
    for k in range(6):
        x = (seed * (k + 3) * 37) % w
        y = (seed * (k + 5) * 23) % h
        draw.ellipse([x, y, x + w // 5, y + h // 5], fill=((k * 40) % 256, 200, (seed * k) % 256))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


class CaptureWriter:
    """Writes request/response pairs like a crawler, with deterministic ids."""

    def __init__(self, f, date: str, description: str, gzip: bool = True):
        self.writer = WARCWriter(f, gzip=gzip)
        self.date = date
        info = self.writer.create_warcinfo_record(
            "sample.warc.gz",
            {
                "software": "archive examples/build_samples.py",
                "format": "WARC File Format 1.1",
                "description": description,
            },
        )
        self._fix(info, "warcinfo")
        self.writer.write_record(info)

    def _fix(self, record, key: str) -> None:
        record.rec_headers.replace_header("WARC-Date", self.date)
        rid = uuid.uuid5(uuid.NAMESPACE_URL, f"{key} {self.date}")
        record.rec_headers.replace_header("WARC-Record-ID", f"<urn:uuid:{rid}>")

    def exchange(self, url: str, status: str, content_type: str, body: bytes) -> None:
        path = re.sub(r"^https?://[^/]+", "", url) or "/"
        host = re.match(r"^https?://([^/]+)", url).group(1)
        req_headers = StatusAndHeaders(
            f"GET {path} HTTP/1.1",
            [("Host", host), ("User-Agent", "archive-sample-crawler/1.0")],
            is_http_request=True,
        )
        req = self.writer.create_warc_record(url, "request", http_headers=req_headers)
        resp_headers = StatusAndHeaders(
            status,
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
            protocol="HTTP/1.1",
        )
        resp = self.writer.create_warc_record(
            url, "response", payload=io.BytesIO(body), http_headers=resp_headers
        )
        self._fix(req, f"request {url}")
        self._fix(resp, f"response {url}")
        req.rec_headers.replace_header(
            "WARC-Concurrent-To", resp.rec_headers.get_header("WARC-Record-ID")
        )
        self.writer.write_record(req)
        self.writer.write_record(resp)


def write_capture(path: Path, page: Page, date: str, images: dict[str, bytes]) -> None:
    """One capture of ``page`` at ``date`` (WARC-Date), with its images (url -> bytes)."""
    origin = re.match(r"^https?://[^/]+", page.url).group(0)
    with open(path, "wb") as f:
        cw = CaptureWriter(f, date, f"Sample capture of {page.url}")
        cw.exchange(page.url, "200 OK", "text/html; charset=utf-8", render(page, "").encode())
        cw.exchange(f"{origin}/css/site.css", "200 OK", "text/css", b"body{font-family:serif}\n")
        for url, data in images.items():
            cw.exchange(url, "200 OK", "image/jpeg", data)
        cw.exchange(f"{origin}/favicon.ico", "404 Not Found", "text/html", b"<h1>Not found</h1>")


#: (url, published, captured, file name) for the project's seed article and for our own sample.
EDITIONS = {
    "seed": (
        "https://sputniknews.com/20210823/who-is-ahmad-massoud-1083674410.html",
        "2021-08-23T09:12:00+00:00",
        "2021-08-23T10:05:00Z",
        "panjshir-A-2021-08-23.warc.gz",
    ),
    "sample": (
        "https://northshore.example/2025/03/07/who-is-elena-varga.html",
        "2025-03-07T08:00:00+00:00",
        "2025-03-07T09:30:00Z",
        "lakeport-A-2025-03-07.warc.gz",
    ),
}


def build(seed: Path, out: Path) -> list[Path]:
    """Sample captures of an article (the seed article, or our own sample without it):

    1. the article as first captured;
    2. the same page captured a day later, with one sentence edited, a list item of two
       sentences removed, one sentence added;
    3. another outlet's story that reuses two sentences and the photo caption verbatim, quotes
       a trimmed part of the article's quotation, and runs a resized, recompressed copy of its
       first photo under a different credit.
    """
    out.mkdir(parents=True, exist_ok=True)
    edition = "seed" if seed.name == SEED.name else "sample"
    url, published, captured, name = EDITIONS[edition]
    page = parse_article(seed.read_text(encoding="utf-8"), url, published)
    origin = re.match(r"^https?://[^/]+", url).group(0)
    images = {}
    for n, (kind, fig) in enumerate(page.blocks):
        if kind == "figure":
            fig.url = f"{origin}/img/{n:04d}/{_slug(fig.caption)[:24]}.jpg"
            images[fig.url] = make_jpeg(fig.caption)
    first = out / name
    write_capture(first, page, captured, images)

    later = copy.deepcopy(page)
    paragraphs = [i for i, (k, _) in enumerate(later.blocks) if k == "paragraph"]
    items = [i for i, (k, _) in enumerate(later.blocks) if k == "item"]
    i = paragraphs[0]
    later.blocks[i] = ("paragraph", _edit_second_sentence(later.blocks[i][1]))
    del later.blocks[items[-1]]
    later.blocks.insert(
        len(later.blocks) - 1,
        (
            "paragraph",
            "Officials said on Tuesday that talks between the two sides would resume "
            "next week in a neutral location.",
        ),
    )
    when = _next_day(captured)
    second = out / name.replace(captured[:10], when[:10])
    write_capture(second, later, when, images)

    when = _next_day(captured, hours=30)
    third = out / name.replace("-A-", "-B-").replace(captured[:10], when[:10])
    other, other_images = _other_outlet(page, images)
    write_capture(third, other, when, other_images)
    return [first, second, third]


def _edit_second_sentence(text: str) -> str:
    """A stealth edit: one word added to the paragraph's second sentence."""
    sentences = re.split(r"(?<=[.!?])\s+", text)
    words = sentences[1].split()
    words.insert(3, "reportedly")
    sentences[1] = " ".join(words)
    return " ".join(sentences)


def _next_day(stamp: str, hours: int = 24) -> str:
    from datetime import datetime, timedelta

    t = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ") + timedelta(hours=hours)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _other_outlet(page: Page, images: dict[str, bytes]) -> tuple[Page, dict[str, bytes]]:
    """Another outlet's story built from ``page``: verbatim reuse, a trimmed quote, a resized
    and recompressed photo with a different credit."""
    site = "Daily Herald Wire"
    url = "https://heraldwire.example/world/" + _slug(page.title) + ".html"
    other = Page(f"{page.title.split(',')[0]}: What We Know", "World", site, url, page.published)
    item = next(t for k, t in page.blocks if k == "item")
    quote = next(t for k, t in page.blocks if k == "quote")
    words = quote.rsplit("”", 1)
    speaker = words[1].strip(" ,.").split()[0] if len(words) > 1 else "He"
    part = words[0].strip("“").split(";")[-1].strip()
    paragraph = next(t for k, t in page.blocks if k == "paragraph")
    fig = next(f for k, f in page.blocks if k == "figure")
    copy_url = "https://heraldwire.example/media/" + _slug(fig.caption)[:20] + "-small.jpg"
    im = Image.open(io.BytesIO(images[fig.url]))
    im = im.resize((im.width * 3 // 4, im.height * 3 // 4))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=60)
    other.blocks = [
        (
            "paragraph",
            "Here is a short summary of the situation as it stands, compiled from "
            "local reports and statements made over the past days.",
        ),
        ("paragraph", re.split(r"(?<=[.!?])\s+", paragraph)[0]),
        ("paragraph", item),
        ("quote", f"“{part[0].upper() + part[1:]}”, {speaker} told reporters."),
        ("figure", Figure(f"{site} / Staff", fig.caption, copy_url)),
        (
            "paragraph",
            "Analysts expect the dispute to continue for several more weeks, and "
            "neither side has signalled that it is ready to back down.",
        ),
    ]
    return other, {copy_url: buf.getvalue()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, default=FALLBACK)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("captures"))
    args = parser.parse_args()
    for path in build(args.seed, args.out):
        print(path)


if __name__ == "__main__":
    main()
