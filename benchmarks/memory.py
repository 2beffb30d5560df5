"""Peak memory of ``archive ingest`` against capture size: does one big capture stream flat?

Builds one plain (uncompressed) WARC per size, of realistic article pages each carrying large
image payloads, so that most of the bytes are images: they are read, hashed, and re-read only
when an article uses them. Then runs the real ``archive ingest --workers 1`` (or ``--workers``)
on each, as a subprocess, and reports the peak memory of its process tree (perfutil.run_measured).

    .venv/bin/python benchmarks/memory.py --sizes 100,1000
    .venv/bin/python benchmarks/memory.py --sizes 100,1000 --image-kb 100   # 20 times the pages
    .venv/bin/python benchmarks/memory.py --sizes 100,1000 --image-kb 100 --quotes   # and quotes
    .venv/bin/python benchmarks/memory.py --sizes 100,1000 --photos   # make_corpus's pages

``--photos``: the capture is one file of ``make_corpus.py`` (10 pages a MB, one to three
decodable photos a page, drawn from a pool of 96 base photos with noise): the images get pHashes
and near links, which the random image bytes of ``build`` never do (a capture's near links were
held to its end until the twenty-eighth round: ~60 MB for 5,000 images of 50 near copies each).

Targets (issues 6 and 7): peak RSS < 300 MB whatever the size; the largest within 1.2x of the
smallest.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
from pathlib import Path

import make_corpus
from perfutil import ARCHIVE_CLI, archive_env, load_build_samples, run_measured, write_json

TEXT = make_corpus.default_text()


def build(
    path: Path, megabytes: int, seed: int = 7, image_kb: int = 2048, quotes: bool = False
) -> int:
    """A WARC of about ``megabytes`` MB: pages of ~40 sentences with two images of ``image_kb``
    KB each (2 MB: few pages, most bytes images; 100 KB: about 4,500 pages per GB, as news).
    With ``quotes``, two of each page's eight paragraphs are quotations, each said by one of
    make_corpus's 300 speakers (a few of them quoted often): the writer keeps the speakers'
    quotes for quote links (``archive/quote_links.py``), up to its bound.

    The sentences come from make_corpus's Markov chain (over the real articles when ../shared is
    there), so that linking sees news-like overlap: sentences drawn from a couple of dozen words
    would make every claim a near copy of every other, and memory would measure that instead.
    """
    bs = load_build_samples()
    gen = make_corpus.TextGen(random.Random(seed + 1), make_corpus.source_text(TEXT))
    rng = random.Random(seed + 2)
    speakers = make_corpus.Speakers(rng)
    pages = 0
    with open(path, "wb") as f:
        cw = bs.CaptureWriter(f, "2025-01-01T00:00:00Z", "memory benchmark", gzip=False)
        while f.tell() < megabytes << 20:
            pages += 1
            url = f"https://bench.example/news/{pages}.html"
            page = bs.Page(f"Story {pages}", "News", "Bench Daily", url, "2025-01-01T00:00:00Z")
            for n in range(8):
                if quotes and n % 4 == 1:
                    said = " ".join(gen.sentence() for _ in range(2)).rstrip(".")
                    text = f"“{said},” {speakers.pick()} {rng.choice(make_corpus.CUES)}."
                else:
                    text = " ".join(gen.sentence() for _ in range(5))
                page.blocks.append(("paragraph", text))
            images = {}
            for i in range(2):
                img = f"https://bench.example/img/{pages}-{i}.jpg"
                page.blocks.append(("figure", bs.Figure("Bench Photo / Staff", f"Photo {i}.", img)))
                # incompressible bytes behind a JPEG header: size without decoding cost
                images[img] = b"\xff\xd8\xff\xe0" + os.urandom(image_kb << 10)
            cw.exchange(url, "200 OK", "text/html; charset=utf-8", bs.render(page, "").encode())
            for img, data in images.items():
                cw.exchange(img, "200 OK", "image/jpeg", data)
    return pages


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000", help="capture sizes in MB [100,1000]")
    parser.add_argument("--json", default=None, help="write the results here")
    parser.add_argument("--workers", type=int, default=1, help="archive ingest --workers [1]")
    parser.add_argument(
        "--image-kb",
        type=int,
        default=2048,
        help="size of each page's two images [2048]; 100 gives news-like page counts",
    )
    parser.add_argument(
        "--quotes", action="store_true", help="two paragraphs a page are speakers' quotations"
    )
    parser.add_argument(
        "--photos",
        action="store_true",
        help="make_corpus.py's pages and photos (pHashes, near links) in one .warc.gz",
    )
    args = parser.parse_args(argv)
    results = []
    with tempfile.TemporaryDirectory(prefix="archive-memory-") as tmp:
        tmp = Path(tmp)
        for mb in map(int, args.sizes.split(",")):
            if args.photos:
                made = make_corpus.generate(
                    tmp / f"corpus-{mb}", 10 * mb, mb, 1, 7, quiet=True, text=TEXT
                )
                capture, pages = tmp / f"corpus-{mb}" / made["files"][0], made["pages"]
            else:
                capture = tmp / f"capture-{mb}.warc"
                pages = build(capture, mb, image_kb=args.image_kb, quotes=args.quotes)
            home = tmp / f"home-{mb}"
            run = run_measured(
                [ARCHIVE_CLI, "ingest", "--workers", str(args.workers), "-q", str(capture)],
                env=archive_env(home),
            )
            row = {
                "size_mb": round(capture.stat().st_size / 2**20),
                "pages": pages,
                "rc": run["rc"],
                "wall_s": run["wall_s"],
                "workers": args.workers,
                "image_kb": args.image_kb,
                "quotes": args.quotes,
                "photos": args.photos,
                "text": TEXT,
                "peak_tree_pss_mb": run.get("peak_tree_pss_mb"),
                "max_process_hwm_mb": run.get("max_process_hwm_mb"),
            }
            results.append(row)
            print(row, flush=True)
            capture.unlink()
    base = results[0]["max_process_hwm_mb"]
    for r in results:
        r["ratio_to_smallest"] = round(r["max_process_hwm_mb"] / base, 2)
    print(f"{'size MB':>8} {'pages':>6} {'wall s':>7} {'peak RSS MB':>12} {'x smallest':>10}")
    for r in results:
        print(
            f"{r['size_mb']:>8} {r['pages']:>6} {r['wall_s']:>7} {r['max_process_hwm_mb']:>12} "
            f"{r['ratio_to_smallest']:>10}"
        )
    if args.json:
        write_json(args.json, {"results": results})
    return 0 if all(r["rc"] == 0 for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
