#!/usr/bin/env python3
"""Main-text extraction benchmark: our real ingest against the public article-extraction-benchmark.

The pages of scrapinghub/article-extraction-benchmark (181 news pages, ``html/*.html.gz``, and
their article bodies, ``ground-truth.json``) are wrapped into real WARC files, ingested with the
library's own ``Ingester`` into a fresh database signed by a fresh key, and the ``articles.text``
that ingest stored is scored against the ground truth. Plain trafilatura (default, and
``favor_precision=True``) is scored on the same pages as reference lines.

Scoring is the benchmark's own (``evaluate.py`` there): ``\\w+`` tokens, 4-token shingles as
multisets, per page TP/FP/FN, per page precision and recall, each averaged over the pages where
it is defined, and F1 of the two averages. See docs/extraction.md.

    .venv/bin/python benchmarks/extraction.py              # all pages
    .venv/bin/python benchmarks/extraction.py --limit 20   # quick slice (first 20 ids)
    .venv/bin/python benchmarks/extraction.py --json results.json
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "extraction"

# -- scoring (as scrapinghub/article-extraction-benchmark evaluate.py) ----------------------------

_TOKEN_RE = re.compile(r"\w+", re.UNICODE | re.MULTILINE | re.IGNORECASE | re.DOTALL)


def tokenize(text: str | None) -> list[str]:
    return _TOKEN_RE.findall(text or "")


def shingles(text: str | None, n: int = 4) -> Counter:
    """Multiset of n-token shingles; a text shorter than n tokens is one short shingle."""
    tokens = tokenize(text)
    return Counter(
        tuple(tokens[i : i + n]) for i in range(max(1, len(tokens) - n + 1)) if tokens[i : i + n]
    )


def tp_fp_fn(true: str | None, pred: str | None) -> tuple[int, int, int]:
    t, p = shingles(true), shingles(pred)
    tp = sum((t & p).values())
    return tp, sum(p.values()) - tp, sum(t.values()) - tp


def precision_score(tp: float, fp: float, fn: float) -> float | None:
    """None where the benchmark leaves the page out of the precision mean (nothing predicted)."""
    if tp + fp == 0:
        return None
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fp)


def recall_score(tp: float, fp: float, fn: float) -> float | None:
    """None where the benchmark leaves the page out of the recall mean (empty ground truth)."""
    if tp + fn == 0:
        return None
    if fp == fn == 0:
        return 1.0
    return tp / (tp + fn)


def page_score(true: str | None, pred: str | None) -> dict:
    tp, fp, fn = tp_fp_fn(true, pred)
    return {
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "precision": precision_score(tp, fp, fn),
        "recall": recall_score(tp, fp, fn),
        "exact": tokenize(true) == tokenize(pred),
    }


def summarize(scores: list[dict]) -> dict:
    """Average precision and recall over pages (each where defined), F1 of the averages.

    ``precision_strict`` / ``f1_strict`` also count a page with nothing predicted as precision 0
    (the benchmark leaves such pages out of the precision mean; their recall is 0 either way).
    """
    ps = [s["precision"] for s in scores if s["precision"] is not None]
    rs = [s["recall"] for s in scores if s["recall"] is not None]
    precision = sum(ps) / len(ps) if ps else 0.0
    recall = sum(rs) / len(rs) if rs else 0.0
    strict_ps = [0.0 if s["precision"] is None else s["precision"] for s in scores]
    precision_strict = sum(strict_ps) / len(strict_ps) if strict_ps else 0.0
    return {
        "pages": len(scores),
        "empty": sum(s["tp"] + s["fp"] == 0 for s in scores),
        "precision": precision,
        "recall": recall,
        "f1": _f1(precision, recall),
        "accuracy": sum(s["exact"] for s in scores) / len(scores) if scores else 0.0,
        "precision_strict": precision_strict,
        "f1_strict": _f1(precision_strict, recall),
    }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


# -- corpus and WARC ------------------------------------------------------------------------------


def load_corpus(corpus: Path, limit: int | None) -> dict[str, dict]:
    """``{page id: {"url", "articleBody"}}`` for the pages that have HTML, sorted by id."""
    truth = json.loads((corpus / "ground-truth.json").read_text(encoding="utf-8"))
    ids = sorted(k for k in truth if (corpus / "html" / f"{k}.html.gz").is_file())
    missing = sorted(set(truth) - set(ids))
    if missing:
        print(f"warning: {len(missing)} ground-truth pages have no HTML file", file=sys.stderr)
    if limit is not None:
        ids = ids[:limit]
    pages, urls = {}, set()
    for k in ids:
        url = truth[k].get("url") or f"https://example.com/{k}.html"
        if url in urls:  # rows are matched back by URL: keep it unique
            url = f"https://example.com/{k}.html"
        urls.add(url)
        pages[k] = {"url": url, "articleBody": truth[k].get("articleBody", "")}
    return pages


def read_html(corpus: Path, page_id: str) -> bytes:
    with gzip.open(corpus / "html" / f"{page_id}.html.gz", "rb") as f:
        return f.read()


def write_warc(path: Path, corpus: Path, pages: list[tuple[str, str]]) -> None:
    """One ``response`` record per page (HTTP 200, text/html; charset=utf-8), streamed."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(path, "wb") as out:
        writer = WARCWriter(out, gzip=True)
        for page_id, url in pages:
            payload = read_html(corpus, page_id)
            headers = StatusAndHeaders(
                "200 OK",
                [
                    ("Content-Type", "text/html; charset=utf-8"),
                    ("Content-Length", str(len(payload))),
                ],
                protocol="HTTP/1.1",
            )
            record = writer.create_warc_record(
                url, "response", payload=io.BytesIO(payload), http_headers=headers
            )
            writer.write_record(record)


# -- the tools ------------------------------------------------------------------------------------


def ingest_shard(workdir: str, shard: int, corpus: str, pages: list[tuple[str, str]]) -> dict:
    """Write one WARC, ingest it with a fresh key into a fresh database; texts by URL."""
    from archive.ingest import Ingester
    from archive.keys import generate_key

    base = Path(workdir) / f"shard{shard}"
    base.mkdir(parents=True, exist_ok=True)
    warc = base / "pages.warc.gz"
    write_warc(warc, Path(corpus), pages)
    signer = generate_key(base / "key.pem")
    ingester = Ingester(base / "archive.db", signer)
    started = time.perf_counter()
    result = ingester.ingest_file(warc)
    seconds = time.perf_counter() - started
    ingester.db.conn.close()
    if result.status != "ingested":
        raise RuntimeError(f"ingest of {warc} {result.status}: {result.error}")
    return {
        "db": str(base / "archive.db"),
        "seconds": seconds,
        "articles": result.articles,
        "skipped": result.skipped,
    }


def read_ours(db_path: str) -> dict[str, str]:
    """``{url: articles.text}`` from an ingested database (captions are not part of the text)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        return dict(conn.execute("SELECT url, text FROM articles"))
    finally:
        conn.close()


def reference_texts(corpus: str, page_ids: list[str]) -> dict[str, dict]:
    """Plain trafilatura on the same HTML (decoded as ingest decodes it), two settings."""
    import trafilatura

    from archive.extract import decode_html

    out = {}
    for page_id in page_ids:
        html = decode_html(read_html(Path(corpus), page_id), "utf-8")
        out[page_id] = {
            "trafilatura": trafilatura.extract(html) or "",
            "trafilatura_precision": trafilatura.extract(html, favor_precision=True) or "",
        }
    return out


# -- main -----------------------------------------------------------------------------------------

TOOLS = [
    ("ours", "ours: ingest articles.text"),
    ("trafilatura", "trafilatura.extract (default)"),
    ("trafilatura_precision", "trafilatura.extract favor_precision"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_CORPUS,
        help="ground-truth.json and html/*.html.gz (default: %(default)s)",
    )
    parser.add_argument("--limit", type=int, help="only the first N pages, sorted by id")
    parser.add_argument("--json", type=Path, metavar="OUT", help="write the results as JSON here")
    parser.add_argument(
        "--jobs",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="worker processes (default: %(default)s)",
    )
    parser.add_argument(
        "--no-reference", action="store_true", help="skip the trafilatura reference lines"
    )
    parser.add_argument(
        "--keep",
        type=Path,
        metavar="DIR",
        help="build the WARCs and databases in DIR and keep them",
    )
    parser.add_argument("--worst", type=int, default=10, help="list the N worst pages (ours)")
    args = parser.parse_args(argv)

    corpus = args.corpus.resolve()
    if not (corpus / "ground-truth.json").is_file():
        parser.error(f"{corpus}: no ground-truth.json here (use --corpus)")
    pages = load_corpus(corpus, args.limit)
    if not pages:
        parser.error("no pages")
    ids = list(pages)
    jobs = max(1, args.jobs)
    started = time.perf_counter()

    tmp = None
    if args.keep:
        if args.keep.exists() and any(args.keep.iterdir()):
            parser.error(f"{args.keep}: --keep needs a new or empty directory")
        args.keep.mkdir(parents=True, exist_ok=True)
        workdir = str(args.keep.resolve())
    else:
        tmp = tempfile.TemporaryDirectory(prefix="archive-extraction-bench-")
        workdir = tmp.name
    try:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            shards = [[(k, pages[k]["url"]) for k in ids[i::jobs]] for i in range(jobs)]
            ingests = [
                pool.submit(ingest_shard, workdir, i, str(corpus), shard)
                for i, shard in enumerate(shards)
                if shard
            ]
            refs = []
            if not args.no_reference:
                chunk = max(1, len(ids) // (4 * jobs))
                refs = [
                    pool.submit(reference_texts, str(corpus), ids[i : i + chunk])
                    for i in range(0, len(ids), chunk)
                ]
            ours: dict[str, dict] = {}
            ingest_seconds = 0.0
            for f in ingests:
                r = f.result()
                ingest_seconds += r["seconds"]
                ours.update(read_ours(r["db"]))
            reference: dict[str, dict] = {}
            for f in refs:
                reference.update(f.result())
    finally:
        if tmp is not None:
            tmp.cleanup()
    elapsed = time.perf_counter() - started

    per_page: dict[str, dict] = {}
    scores: dict[str, list[dict]] = {name: [] for name, _ in TOOLS}
    for k in ids:
        truth = pages[k]["articleBody"]
        row = ours.get(pages[k]["url"])  # not an article: empty prediction
        preds = {"ours": row or ""}
        if not args.no_reference:
            preds.update(reference[k])
        entry = {"url": pages[k]["url"], "article": row is not None}
        for name, pred in preds.items():
            s = page_score(truth, pred)
            scores[name].append(s)
            if name == "ours":
                entry[name] = {x: s[x] for x in ("precision", "recall", "tp", "fp", "fn")}
        per_page[k] = entry

    results = {
        "corpus": str(corpus),
        "pages": len(ids),
        "limit": args.limit,
        "date": time.strftime("%Y-%m-%d"),
        "cpus": os.cpu_count(),
        "jobs": jobs,
        "seconds": round(elapsed, 1),
        "ingest_seconds": round(ingest_seconds, 1),
        "not_articles": sum(not e["article"] for e in per_page.values()),
        "tools": {name: summarize(s) for name, s in scores.items() if s},
        "per_page": per_page,
    }

    print(
        f"{len(ids)} pages from {corpus}; {results['not_articles']} not classified as "
        f"articles by ingest; {elapsed:.1f}s wall ({jobs} jobs)"
    )
    print(f"{'tool':<44} {'precision':>9} {'recall':>7} {'F1':>6} {'F1 strict':>9} {'empty':>5}")
    for name, label in TOOLS:
        m = results["tools"].get(name)
        if m:
            print(
                f"{label:<44} {m['precision']:>9.4f} {m['recall']:>7.4f} {m['f1']:>6.4f} "
                f"{m['f1_strict']:>9.4f} {m['empty']:>5}"
            )
    if args.worst:

        def f1_of(e):
            p, r = e["ours"]["precision"], e["ours"]["recall"]
            return _f1(p or 0.0, r or 0.0)

        worst = sorted(per_page.items(), key=lambda kv: f1_of(kv[1]))[: args.worst]
        print(f"\nworst {len(worst)} pages (ours):")
        for k, e in worst:
            p, r = e["ours"]["precision"], e["ours"]["recall"]
            print(
                f"  {k[:12]}  F1={f1_of(e):.3f}  P={'-' if p is None else f'{p:.3f}'}  "
                f"R={r:.3f}  {'' if e['article'] else '(not an article) '}{e['url'][:70]}"
            )
    if args.json:
        args.json.write_text(
            json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
