#!/usr/bin/env python3
"""Quote linking against a large archive: one capture's pass over its speakers' quotes.

    .venv/bin/python benchmarks/quote_links.py                     # the query benchmark's database
    .venv/bin/python benchmarks/quote_links.py --db path/to/archive.db --articles 200 --runs 3
    .venv/bin/python benchmarks/quote_links.py --max-mb 32   # the run's quotes bounded lower

A capture's quotes are linked to every quote of the same speaker the archive holds whose
words contain them or are contained in them (``quote_links.link_quotes``). A prolific speaker's
quotes are many: in benchmarks/query_speed.py's million-claim database the most quoted speaker
has 49,282 quotes, and a capture of 200 pages brings hundreds more.

This takes ``--articles`` articles with quotes from the database (chosen with ``--seed``) as if
``--captures`` captures had just brought them, and runs the quote pass over them as an ingest
run does (one ``quote_links.QuoteIndex`` for the run, begun at each capture), with the links
collected instead of written: wall time,
quotes compared, links found, and a digest of the links (two versions of the code must find the
same). Read-only: the database is not changed. To compare with older code, run this file with
``PYTHONPATH`` set to a worktree of it.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfutil import OUT, machine, write_json  # noqa: E402


def articles_with_quotes(conn, n: int, seed: int) -> list[str]:
    ids = [
        a
        for (a,) in conn.execute(
            "SELECT DISTINCT article_id FROM claims WHERE quote IS NOT NULL AND speaker IS NOT NULL"
        )
    ]
    return random.Random(seed).sample(sorted(ids), min(n, len(ids)))


def run(db: Path, articles: list[str], captures: int, max_mb: float | None = None) -> dict:
    try:
        from archive import quote_links as links
    except ImportError:  # the code before the nineteenth round: in archive/links.py
        from archive import links

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    found = []
    named = "add_link" if hasattr(links, "add_link") else "_add_link"
    real = getattr(links, named)
    setattr(links, named, lambda conn, a, b, relation, score: found.append((a, b, round(score, 9))))
    link_quotes = getattr(links, "link_quotes", None) or links._link_quotes
    # the quotes held: one index for the run since the sixteenth round (QuoteIndex), one for
    # each capture in the code before (_Quotes: run this file against a worktree of it)
    per_run = getattr(links, "QuoteIndex", None)
    size = -(-len(articles) // captures)
    try:
        quotes = per_run(conn) if per_run else None
        if max_mb is not None:
            quotes.max_bytes = int(max_mb * 2**20)
        start = time.perf_counter()
        for first in range(0, len(articles), size):
            if per_run:
                quotes.begin(conn)
            else:
                quotes = links._Quotes(conn)
            for article_id in articles[first : first + size]:
                link_quotes(conn, article_id, quotes)
            if per_run:
                quotes.finish()
        wall = time.perf_counter() - start
    finally:
        setattr(links, named, real)
        conn.close()
    digest = hashlib.sha256(json.dumps(sorted(found)).encode()).hexdigest()[:16]
    return {"wall_s": round(wall, 3), "links": len(found), "links_digest": digest}


# Runs in a fresh process: argv = [db, shape, quotes]. What holding them costs, against the
# index's own estimate (``QuoteIndex.held``), with nothing dropped.
MEMORY = """
import json, sqlite3, sys
from archive.quote_links import QuoteIndex, _SpeakerQuotes


def rss():  # now, not the peak: loading the rows may have peaked higher than they stay
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


db, shape, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])
conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
rows = conn.execute("SELECT speaker, quote FROM claims WHERE quote IS NOT NULL "
                    "AND speaker IS NOT NULL LIMIT ?", (limit,)).fetchall()
index = QuoteIndex()
index.max_bytes = 1 << 40
before = rss()
for n, (speaker, quote) in enumerate(rows):
    if shape == "three a speaker":
        speaker = f"{speaker} {n // 3}"
    found = index.by_speaker.get(speaker)
    if found is None:
        found = index.by_speaker[speaker] = _SpeakerQuotes(0)
        index.held += found.size
    index._hold(speaker, found, ((n, quote),))
grown = (rss() - before) * 1024
print(json.dumps({"shape": shape, "quotes": len(rows), "speakers": len(index.by_speaker),
                  "estimate_mb": round(index.held / 2**20, 1),
                  "rss_growth_mb": round(grown / 2**20, 1)}))
"""


def memory(db: Path, quotes: int) -> list[dict]:
    """What the run's quote index takes against its estimate: the database's speakers as they
    are, and the same quotes spread three a speaker (most speakers in news are quoted a few
    times, and each speaker has containers of its own)."""
    import subprocess

    from perfutil import PYTHON

    found = []
    for shape in ("as in the database", "three a speaker"):
        out = subprocess.run(
            [PYTHON, "-c", MEMORY, str(db), shape, str(quotes)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        found.append(json.loads(out.stdout))
    return found


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--db", type=Path, default=OUT / "query" / "archive.db")
    p.add_argument("--articles", type=int, default=200)
    p.add_argument("--captures", type=int, default=1, help="the articles as this many captures")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", help="write the results here")
    p.add_argument(
        "--max-mb", type=float, help="bound the run's quote index at this (its estimate)"
    )
    p.add_argument(
        "--memory", type=int, metavar="QUOTES", help="also measure holding this many quotes"
    )
    args = p.parse_args()
    if not args.db.exists():
        raise SystemExit(f"{args.db}: no database (build it with benchmarks/query_speed.py)")
    conn = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    articles = articles_with_quotes(conn, args.articles, args.seed)
    marks = ", ".join("?" * len(articles))
    speakers, held = conn.execute(
        "SELECT count(*), sum(n) FROM (SELECT count(*) AS n FROM claims WHERE quote IS NOT NULL "
        "AND speaker IN (SELECT speaker FROM claims WHERE quote IS NOT NULL AND speaker IS NOT "
        f"NULL AND article_id IN ({marks})) GROUP BY speaker)",
        articles,
    ).fetchone()
    conn.close()
    runs = [run(args.db, articles, args.captures, args.max_mb) for _ in range(args.runs)]
    print(f"{len(articles)} articles quoting {speakers} speakers, who have {held:,} quotes")
    for r in runs:
        print(f"  {r['wall_s']} s, {r['links']} links ({r['links_digest']})")
    out = {
        "machine": machine(),
        "db": str(args.db),
        "articles": len(articles),
        "captures": args.captures,
        "max_mb": args.max_mb,
        "speakers": speakers,
        "their_quotes_in_the_archive": held,
        "runs": runs,
        "best_wall_s": min(r["wall_s"] for r in runs),
    }
    if args.memory:
        out["memory"] = memory(args.db, args.memory)
        for m in out["memory"]:
            print(f"{m['quotes']:,} quotes, {m['shape']} ({m['speakers']:,} speakers): "
                  f"estimated {m['estimate_mb']} MB, RSS grew {m['rss_growth_mb']} MB")  # fmt: skip
    if args.json:
        write_json(args.json, out)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
