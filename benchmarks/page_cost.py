#!/usr/bin/env python3
"""Where an extraction worker's time goes on real pages, step by step, beside the floor.

    .venv/bin/python benchmarks/page_cost.py --json benchmarks/out/page-cost.json
    .venv/bin/python benchmarks/page_cost.py --limit 20 --passes 1

For each of the 181 real article pages of ../shared/corpus/extraction, in this one process:

- the floor's call (benchmarks/ingest.py): ``trafilatura.bare_extraction`` with its metadata,
  precision mode, archive/extract.py's settings, on the page's HTML text;
- then what an ingest worker does with the page (``archive.worker``: ``extract_article``, then
  ``_prepare_article``: claims' MinHash, the rows and their statements), with each step's
  function wrapped in a timer.

A pass is the floor over all the pages, then the worker over all of them; passes alternate, so
the machine's drift, which moves whole runs by 10-15% here, falls on both alike. (Not page by
page: trafilatura and htmldate keep caches of strings, which the floor's call on a page would
fill for the worker's.) The report takes the least of each (``--passes``, default 3), in ms a
page; the first pass also pays one-time set-up (trafilatura loads justext's stoplists on its
first rescue call, ~0.2 s), reported as ``first_pass_ms``. Timers, not cProfile: a wrapper
costs about a microsecond a call, where cProfile slows every Python call. What a worker process
adds beyond this (unpickling the record, pickling the result, start-up) is not here:
benchmarks/timeline.py has it.

``third_party`` is the time inside trafilatura and lxml (the parse, both main-text calls and the
metadata functions ``_page_metadata`` calls); ``ours`` is the rest of the worker's time.
``ratio`` is the floor over the worker: what ``--workers 1`` would reach against the floor if
the worker process cost nothing beyond its pages and the writer kept up.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import extraction  # noqa: E402
from perfutil import REPO, machine, write_json  # noqa: E402

sys.path.insert(0, str(REPO))
import trafilatura  # noqa: E402

from archive import extract, worker  # noqa: E402
from archive.reader import Record  # noqa: E402

#: trafilatura's metadata functions, as archive/extract.py imported them
METADATA = [
    "examine_meta",
    "extract_meta_json",
    "extract_title",
    "extract_author",
    "extract_url",
    "find_date",
    "extract_sitename",
    "extract_catstags",
]
#: (module, function, step name): our steps, each timed on its own
OURS = [
    (extract, "_marked", "page marks (meta, JSON-LD, <article>)"),
    (extract, "_blocks_from_body", "blocks from trafilatura's body"),
    (extract, "later_chunks", "later body chunks"),
    (extract, "article_containers", "image containers"),
    (extract, "article_images", "images, captions, credits"),
    (extract, "split_claims", "claims and speakers"),
    (worker, "minhash_bands", "MinHash and band keys"),
    (worker, "prepare", "statements and ledger leaves"),
]

TIMES: Counter = Counter()
CALLS: Counter = Counter()


def _timed(module, name: str, step: str | Callable[..., str]) -> None:
    """Time ``module.name`` as ``step`` (or the step ``step(*args, **kwargs)`` names)."""
    inner = getattr(module, name)

    def timed(*args, **kwargs):
        start = time.perf_counter()
        try:
            return inner(*args, **kwargs)
        finally:
            label = step if isinstance(step, str) else step(*args, **kwargs)
            TIMES[label] += time.perf_counter() - start
            CALLS[label] += 1

    setattr(module, name, timed)


def _trafilatura_step(tree, url, favor_precision) -> str:
    return "trafilatura main text" if favor_precision else "trafilatura fallback (balanced)"


def instrument() -> list[str]:
    """Wrap every step; the names of those counted as third-party time."""
    third_party = ["parse (lxml)", "trafilatura main text", "trafilatura fallback (balanced)"]
    _timed(extract, "load_html", "parse (lxml)")
    _timed(extract, "_trafilatura", _trafilatura_step)
    for name in METADATA:
        step = f"trafilatura metadata: {name}"
        _timed(extract, name, step)
        third_party.append(step)
    for module, name, step in OURS:
        _timed(module, name, step)
    _timed(worker, "extract_article", "extract_article (all of it)")
    _timed(worker, "_prepare_article", "_prepare_article (all of it)")
    return third_party


def record(url: str) -> Record:
    """The fields of a record ``_prepare_article`` reads."""
    r = Record.__new__(Record)
    r.record_id, r.offset, r.member, r.uri = "<urn:uuid:0>", 0, 0, url
    r.date = "2026-01-01T00:00:00Z"
    return r


def one_pass(pages: list[tuple[str, str]]) -> dict:
    context = worker.Context("0" * 64, "0" * 16, "2026-01-01T00:00:00Z")
    TIMES.clear()
    CALLS.clear()
    articles = 0
    start = time.perf_counter()
    for html, url in pages:
        trafilatura.bare_extraction(
            html, url=url, with_metadata=True, favor_precision=True, **extract.TRAFILATURA_SETTINGS
        )
    floor_s = time.perf_counter() - start
    start = time.perf_counter()
    for html, url in pages:
        article = worker.extract_article(html, url)
        if article is not None:
            worker._prepare_article(worker.Processed(record=record(url)), article, context)
            articles += 1
    worker_s = time.perf_counter() - start
    return {
        "floor_s": floor_s,
        "worker_s": worker_s,
        "articles": articles,
        "steps": dict(TIMES),
        "calls": dict(CALLS),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=extraction.DEFAULT_CORPUS)
    parser.add_argument("--limit", type=int, help="only the first N pages")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if not (args.corpus / "ground-truth.json").is_file():
        sys.exit(f"no corpus at {args.corpus} (../shared/corpus/extraction)")
    corpus = extraction.load_corpus(args.corpus, args.limit)
    pages = [
        (extraction.read_html(args.corpus, k).decode("utf-8", "replace"), page["url"])
        for k, page in corpus.items()
    ]
    third_party = instrument()
    passes = [one_pass(pages) for _ in range(max(1, args.passes))]
    best = min(passes, key=lambda p: p["worker_s"])
    floor_s = min(p["floor_s"] for p in passes)
    n = len(pages)

    def ms(seconds: float) -> float:
        return round(seconds * 1000 / n, 2)

    theirs = sum(best["steps"].get(step, 0.0) for step in third_party)
    result = {
        "machine": machine(),
        "pages": n,
        "articles": best["articles"],
        "passes": len(passes),
        "first_pass_ms": {"floor": ms(passes[0]["floor_s"]), "worker": ms(passes[0]["worker_s"])},
        "floor_ms": ms(floor_s),
        "worker_ms": ms(best["worker_s"]),
        "third_party_ms": ms(theirs),
        "ours_ms": ms(best["worker_s"] - theirs),
        "ratio": round(floor_s / best["worker_s"], 3),
        "steps_ms": {
            step: {"ms": ms(s), "calls": best["calls"][step]}
            for step, s in sorted(best["steps"].items(), key=lambda kv: -kv[1])
        },
    }
    width = max(map(len, result["steps_ms"]))
    print(f"{n} pages, {result['articles']} articles, least of {len(passes)} passes (ms a page):")
    for step, row in result["steps_ms"].items():
        print(f"  {step:<{width}}  {row['ms']:7.2f}  ({row['calls']} calls)")
    print(
        f"worker {result['worker_ms']} ms a page (trafilatura and lxml "
        f"{result['third_party_ms']}, ours {result['ours_ms']}); the floor's call "
        f"{result['floor_ms']}: floor / worker = {result['ratio']}"
    )
    if args.json:
        write_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
