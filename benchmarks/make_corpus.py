#!/usr/bin/env python3
"""Build a synthetic but realistic news corpus as WARC.gz files, for the ingest benchmarks.

    .venv/bin/python benchmarks/make_corpus.py                       # 2,000 pages, ~200 MB
    .venv/bin/python benchmarks/make_corpus.py --pages 500 --target-mb 50 --files 4 --out /tmp/c

Each page is an article rendered with ``examples/build_samples.py`` (``render``, ``Page``,
``Figure``, ``CaptureWriter``), from one of 50 sites: 400-1,500 words of text made by a bigram
Markov chain plus a word pool. The chain learns from the 181 real article texts of
``../shared/corpus/extraction`` when they are there (``--text news``, the default then), so the
sentences are as varied as real news; else from ``examples/sample-article.txt`` alone
(``--text sample``), whose one article makes far more self-similar text; one word in ten comes
from the pool. Paragraphs, subheadings,
quotes in “ ” with attributions (``“...,” Name said.``, ``Name said: “...”``), block quotes,
bullet lists, and 1-4 figures with a credit and a caption (fewer when the byte budget per page
is small). Each figure has its own JPEG: a pool of base photos (``make_jpeg`` plus noise, 30-200 KB)
is rendered once and every use gets unique bytes by a JPEG comment segment naming the page, so
no two images share a SHA-256 and generation stays fast. Image sizes are chosen so the corpus
lands on ``--target-mb``; images are most of the bytes.

Deterministic: the same arguments give the same bytes. Streams to disk: one page at a time.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import re
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfutil import REPO, load_build_samples  # noqa: E402

bs = load_build_samples()

KB = 1024
MIN_IMAGE, MAX_IMAGE = 30 * KB, 200 * KB

FIRST = (
    "Elena Tomas Maria Jonas Aisha Pavel Lucia Omar Ingrid Rafael Chen Amara Viktor Sofia Malik "
    "Hannah Dmitri Noor Carlos Yuki Fatima Lars Beatriz Kwame Olga Samuel Leila Marco Greta "
    "Ibrahim "
    "Ana Felix Rosa Arjun Mei Tariq Clara Nikolai Zainab Pedro Helga Daniel Esther Hugo Priya"
).split()
LAST = (
    "Varga Novak Okafor Lindqvist Haddad Moreau Petrov Santos Kowalski Nakamura Osei Jansen "
    "Rahman Costa Schneider Ivanova Mensah Duarte Berg Kaya Fischer Abadi Morales Horvat Eriksen "
    "Bakr Silva Dubois Tanaka Nyambura Keller Almeida Popescu Laine Rossi Weber Quinn Farah"
).split()
ROLES = (
    "the mayor|the minister|a spokesperson for the council|the harbour master|an economist|"
    "the police chief|a local fisherman|the opposition leader|a union representative|"
    "the regional governor|a hospital director|the company's chief executive"
).split("|")
CUES = ["said", "said", "said", "told reporters", "added", "explained", "wrote", "insisted"]
AGENCIES = ["Reuters", "AFP", "AP Photo", "EPA", "Getty Images", "Staff photographer", "Handout"]
SECTIONS = ["World", "Europe", "Politics", "Business", "Science", "Health", "Local", "Sport"]
POOL = (
    "council harbour ministry government court ruling budget election inspectors port fleet "
    "residents protest agreement tariff investment hospital school bridge railway energy prices "
    "drought flood storm report committee parliament negotiations contract shipment customs "
    "border migrants union strike wages pension reform statement spokesperson officials police "
    "investigation evidence witnesses judge appeal deadline talks delegation region coast valley "
    "capital province district village market exports imports inflation growth forecast "
    "airport terminal runway airline passengers tourism hotel festival museum library theatre "
    "orchestra stadium league coach transfer season championship vaccine clinic patients nurses "
    "doctors surgery waiting list ambulance satellite telescope laboratory researchers study "
    "climate emissions carbon turbines solar grid battery factory workers layoffs shareholders "
    "merger acquisition startup software encryption privacy regulator watchdog fine lawsuit "
    "prosecutor verdict sentence prison amnesty ceasefire troops convoy refugees aid shelter "
    "harvest wheat fertiliser cattle fisheries quota subsidy mortgage rent housing tenants "
    "landlord tram metro cyclists pedestrians highway toll tunnel ferry cargo freight warehouse "
    "retailers shoppers consumers households savings bonds currency exchange rate deficit surplus "
    "ambassador embassy summit treaty sanctions envoy referendum ballot turnout candidates "
    "coalition "
    "cabinet resignation scandal audit minister mayor governor senator councillor volunteers "
    "charity donations museum archive manuscript painting exhibition gallery composer novelist"
).split()


def _words(text: str) -> list[str]:
    return re.findall(r"[\w’'-]+[.,;:!?]?", text)


NEWS = REPO.parent / "shared" / "corpus" / "extraction" / "ground-truth.json"


def default_text() -> str:
    return "news" if NEWS.exists() else "sample"


def source_text(kind: str) -> str:
    """The text the chain learns from: ``news`` (181 real articles) or ``sample`` (one)."""
    if kind == "news":
        if not NEWS.exists():
            sys.exit(
                f"--text news learns from {NEWS}, which is not here (../shared); use --text sample"
            )
        truth = json.loads(NEWS.read_text(encoding="utf-8"))
        return "\n".join(truth[k]["articleBody"] for k in sorted(truth))
    return (REPO / "examples" / "sample-article.txt").read_text(encoding="utf-8")


class TextGen:
    """Bigram Markov chain over source text, with words from a pool mixed in."""

    def __init__(self, rng: random.Random, text: str | None = None):
        self.rng = rng
        text = text if text is not None else source_text("sample")
        words = [w for w in _words(text) if not w[0].isdigit()]
        self.chain: dict[str, list[str]] = {}
        for a, b in zip(words, words[1:], strict=False):
            self.chain.setdefault(a.lower(), []).append(b)
        self.starts = [w for w in words if w[0].isupper() and w[-1] not in ".,;:!?"] or words

    def sentence(self, lo: int = 8, hi: int = 28) -> str:
        rng = self.rng
        n = rng.randint(lo, hi)
        word = rng.choice(self.starts).strip(".,;:!?")
        out = [word]
        while len(out) < n:
            if rng.random() < 0.1:
                word = rng.choice(POOL)
            else:
                nxt = self.chain.get(word.lower())
                word = rng.choice(nxt) if nxt else rng.choice(POOL)
            out.append(word.strip(".;:!?") if len(out) < n - 1 else word.strip(".,;:!?"))
        s = " ".join(out).replace(" ,", ",")
        return s[0].upper() + s[1:] + "."

    def title(self) -> str:
        return self.sentence(6, 12).rstrip(".").title()


class Speakers:
    """A few hundred names, used with a Zipf-like frequency (a few people are quoted a lot)."""

    def __init__(self, rng: random.Random, n: int = 300):
        names = sorted({f"{first} {last}" for first in FIRST for last in LAST})
        rng.shuffle(names)
        self.names = names[:n]
        self.weights = [1 / (k + 1) ** 1.1 for k in range(n)]
        self.rng = rng

    def pick(self) -> str:
        return self.rng.choices(self.names, self.weights)[0]


def _sites(rng: random.Random, n: int = 50) -> list[tuple[str, str]]:
    stems = ["Chronicle", "Herald", "Times", "Post", "Courier", "Gazette", "Observer", "Tribune"]
    places = [
        "Northshore",
        "Lakeport",
        "Riverbend",
        "Eastvale",
        "Harborview",
        "Westmark",
        "Pinecrest",
        "Silverton",
        "Oakridge",
        "Brookfield",
        "Stonehaven",
        "Fairmont",
        "Clearwater",
    ]
    sites = []
    for i in range(n):
        name = f"{places[i % len(places)]} {stems[(i * 5 + i // len(places)) % len(stems)]}"
        domain = re.sub(r"[^a-z]", "", name.lower()) + f"{i}.example"
        sites.append((name, domain))
    return sites


def _jpeg_with_comment(base: bytes, comment: str) -> bytes:
    """The same JPEG with a COM segment after SOI: unique bytes, same pixels."""
    data = comment.encode("utf-8")[:60000]
    return base[:2] + b"\xff\xfe" + (len(data) + 2).to_bytes(2, "big") + data + base[2:]


def image_pool(rng: random.Random, n: int = 96) -> list[bytes]:
    """Base photos of 30-200 KB, sorted by size."""
    sizes = [(640, 427), (800, 533), (960, 640), (1200, 800)]
    pool = []
    for i in range(n):
        size = sizes[i % len(sizes)]
        sigma = 4 + (i * 7) % 60
        im = Image.open(io.BytesIO(bs.make_jpeg(f"pool {i}", size=size))).convert("RGB")
        noise = Image.effect_noise(size, sigma).convert("RGB")
        im = Image.blend(im, noise, 0.25)
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=rng.choice([75, 80, 85]))
        data = buf.getvalue()
        if MIN_IMAGE <= len(data) <= MAX_IMAGE:
            pool.append(data)
    pool.sort(key=len)
    return pool


def _nearest(pool: list[bytes], target: int) -> bytes:
    lo, hi = 0, len(pool) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if len(pool[mid]) < target:
            lo = mid + 1
        else:
            hi = mid
    return pool[lo]


def make_page(rng, gen: TextGen, speakers: Speakers, site, index: int, n_figures: int):
    site_name, domain = site
    day = 1 + index % 28
    month = 1 + (index // 28) % 12
    published = (
        f"2024-{month:02d}-{day:02d}T{rng.randint(5, 21):02d}:{rng.randint(0, 59):02d}:00+00:00"
    )
    title = gen.title()
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:50]
    url = f"https://{domain}/2024/{month:02d}/{day:02d}/{slug}-{index}.html"
    page = bs.Page(title, rng.choice(SECTIONS), site_name, url, published)
    target_words = rng.randint(400, 1500)
    words = 0
    figure_at = sorted(rng.sample(range(2, 40), n_figures))
    blocks = 0
    figures = []
    while words < target_words:
        r = rng.random()
        if blocks and figure_at and blocks >= figure_at[0]:
            figure_at.pop(0)
            person = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
            fig = bs.Figure(f"{rng.choice(AGENCIES)} / {person}", gen.sentence(6, 16))
            fig.url = f"https://{domain}/img/{index}/{len(figures)}-{slug[:24]}.jpg"
            page.blocks.append(("figure", fig))
            figures.append(fig)
        elif r < 0.50:
            text = " ".join(gen.sentence() for _ in range(rng.randint(2, 5)))
            page.blocks.append(("paragraph", text))
            words += len(text.split())
        elif r < 0.72:
            name = speakers.pick()
            said = gen.sentence(6, 20).rstrip(".")
            cue = rng.choice(CUES)
            form = rng.random()
            if form < 0.5:
                text = f"“{said},” {name} {cue}."
            elif form < 0.8:
                text = f"{name}, {rng.choice(ROLES)}, {cue}: “{said}.”"
            else:
                text = f"“{said},” {cue} {name}. {gen.sentence()}"
            page.blocks.append(("paragraph", text))
            words += len(text.split())
        elif r < 0.80:
            text = f"“{gen.sentence(10, 24)}”"
            page.blocks.append(("quote", text))
            words += len(text.split())
        elif r < 0.90:
            for _ in range(rng.randint(3, 5)):
                text = gen.sentence(6, 16)
                page.blocks.append(("item", text))
                words += len(text.split())
        else:
            page.blocks.append(("heading", gen.sentence(3, 7).rstrip(".")))
        blocks += 1
    while figure_at:  # a short article: the remaining figures at the end
        figure_at.pop(0)
        fig = bs.Figure(f"{rng.choice(AGENCIES)}", gen.sentence(6, 16))
        fig.url = f"https://{domain}/img/{index}/{len(figures)}-{slug[:24]}.jpg"
        page.blocks.append(("figure", fig))
        figures.append(fig)
    return page, figures, words


_EXTRA = (
    '<aside class="related"><h3>More from {site}</h3><ul>{links}</ul></aside>\n'
    '<script type="application/ld+json">{ld}</script>\n'
    "<script>window.dataLayer=window.dataLayer||[];function gtag(){{dataLayer.push(arguments)}}"
    "gtag('js',new Date());gtag('config','G-{n:08d}');</script>\n"
)


def render_page(page, rng, gen: TextGen) -> bytes:
    """The article as build_samples renders it, plus the furniture of a real page."""
    html = bs.render(page, "")
    links = "".join(
        f'<li><a href="/2024/{i:02d}/story-{rng.randint(1, 99999)}.html">{gen.title()}</a></li>'
        for i in range(1, rng.randint(5, 10))
    )
    ld = json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": page.title,
            "datePublished": page.published,
            "publisher": {"@type": "Organization", "name": page.site_name},
        }
    )
    extra = _EXTRA.format(site=page.site_name, links=links, ld=ld, n=rng.randint(0, 10**8))
    return html.replace("</main>", "</main>\n" + extra, 1).encode("utf-8")


def generate(
    out: Path,
    pages: int = 2000,
    target_mb: float = 200,
    files: int = 10,
    seed: int = 7,
    quiet: bool = False,
    text: str = "sample",
) -> dict:
    """Write the corpus to ``out``; return its manifest (also written as ``manifest.json``)."""
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("corpus-*.warc.gz"):
        old.unlink()
    rng = random.Random(seed)
    gen = TextGen(random.Random(seed + 1), source_text(text))
    speakers = Speakers(random.Random(seed + 2))
    sites = _sites(rng)
    pool = image_pool(random.Random(seed + 3))
    target = int(target_mb * 1024 * 1024)
    files = max(1, min(files, pages))
    written_before = 0  # bytes of finished files
    stats = {"images": 0, "image_bytes": 0, "html_bytes": 0, "words": 0, "figures_hist": {}}
    start = time.perf_counter()
    paths = []
    page_no = 0
    html_estimate = 6 * KB  # compressed HTML + WARC headers per page; refined as we go
    for fi in range(files):
        path = out / f"corpus-{fi:03d}.warc.gz"
        paths.append(path)
        n_here = pages // files + (1 if fi < pages % files else 0)
        with open(path, "wb") as f:
            cw = bs.CaptureWriter(f, "2024-06-01T00:00:00Z", f"benchmark corpus file {fi}")
            for _ in range(n_here):
                before = f.tell()
                left = pages - page_no
                budget = (target - written_before - f.tell()) / left - html_estimate
                max_n = int(max(1, min(4, budget // MIN_IMAGE)))
                n_fig = rng.randint(1, max_n)
                page, figures, words = make_page(
                    rng, gen, speakers, rng.choice(sites), page_no, n_fig
                )
                cw.date = f"{page.published[:10]}T{rng.randint(10, 23):02d}:00:00Z"
                body = render_page(page, rng, gen)
                cw.exchange(page.url, "200 OK", "text/html; charset=utf-8", body)
                html_end = f.tell()
                shares = [rng.uniform(0.5, 1.5) for _ in figures]
                for fig, share in zip(figures, shares, strict=True):
                    want = max(budget, MIN_IMAGE * len(figures)) * share / sum(shares)
                    want = min(MAX_IMAGE, max(MIN_IMAGE, want))
                    data = _jpeg_with_comment(_nearest(pool, int(want)), fig.url)
                    cw.exchange(fig.url, "200 OK", "image/jpeg", data)
                    stats["images"] += 1
                    stats["image_bytes"] += len(data)
                if page_no % 25 == 0:  # site furniture: a stylesheet and a missing favicon
                    origin = re.match(r"^https?://[^/]+", page.url).group(0)
                    cw.exchange(
                        f"{origin}/css/site.css",
                        "200 OK",
                        "text/css",
                        b"body{font-family:serif}\n" * 40,
                    )
                    cw.exchange(
                        f"{origin}/favicon.ico", "404 Not Found", "text/html", b"<h1>Not found</h1>"
                    )
                html_estimate = 0.9 * html_estimate + 0.1 * (html_end - before)
                stats["html_bytes"] += len(body)
                stats["words"] += words
                key = str(len(figures))
                stats["figures_hist"][key] = stats["figures_hist"].get(key, 0) + 1
                page_no += 1
                if not quiet and page_no % 500 == 0:
                    print(
                        f"  {page_no}/{pages} pages, {(written_before + f.tell()) / 2**20:.0f} MB",
                        file=sys.stderr,
                    )
            written_before += f.tell()
    total = sum(p.stat().st_size for p in paths)
    manifest = {
        "pages": pages,
        "files": [p.name for p in paths],
        "seed": seed,
        "text": text,
        "target_mb": target_mb,
        "bytes": total,
        "mb": round(total / 2**20, 1),
        "images": stats["images"],
        "image_mb": round(stats["image_bytes"] / 2**20, 1),
        "image_share": round(stats["image_bytes"] / total, 3),
        "html_mb_uncompressed": round(stats["html_bytes"] / 2**20, 1),
        "avg_words": round(stats["words"] / max(pages, 1)),
        "figures_per_page": dict(sorted(stats["figures_hist"].items())),
        "seconds": round(time.perf_counter() - start, 1),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--target-mb", type=float, default=200)
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "out" / "corpus")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument(
        "--text", choices=["news", "sample"], default=default_text(), help="what the chain learns"
    )
    args = parser.parse_args()
    manifest = generate(
        args.out, args.pages, args.target_mb, args.files, args.seed, args.quiet, args.text
    )
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
