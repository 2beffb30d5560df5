#!/usr/bin/env python3
"""Ingest throughput as the archive grows: does linking each new capture stay cheap at scale?

    .venv/bin/python benchmarks/growth.py --pages 6000 --files 30 --json benchmarks/out/growth.json

Builds (or reuses) a make_corpus.py corpus of ``--files`` WARC.gz files, then ingests them one
after another into one archive, in this process, with the library the CLI uses
(``archive.ingest.Ingester`` and ``archive.parallel.process_pool(--workers)``), timing each file.
Each new file's claims are linked to everything already in the archive, so the per-file time
shows how linking (band lookups, candidate scoring) and the inserts grow with the archive.
Reports, per file: pages/s, claims in the archive before it, links made, the writer's RSS
after it and its peak so far (this process; the workers are apart), and what the run keeps in
the writer across files (the speakers' quotes, as estimated, and the pHashes); and plots pages/s
against claims in the archive (``--plot``). The archive is kept in benchmarks/out/growth-home
for benchmarks/verify_speed.py (``--db``).
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import corpus, files_of  # noqa: E402
from perfutil import OUT, REPO, machine, pyplot, save_figure, write_json  # noqa: E402

sys.path.insert(0, str(REPO))
from archive.ingest import Ingester  # noqa: E402
from archive.keys import generate_key  # noqa: E402
from archive.parallel import process_pool  # noqa: E402


def count(db: Path, table: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
    finally:
        conn.close()


def writer_memory_mb() -> dict:
    """This process's (the writer's) RSS now and its peak so far, from /proc."""
    fields = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"writer_rss_mb": fields.get("VmRSS"), "writer_hwm_mb": fields.get("VmHWM")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=6000)
    ap.add_argument("--target-mb", type=float, default=120)
    ap.add_argument("--files", type=int, default=30)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("--plot", default=str(REPO / "docs" / "growth.png"))
    args = ap.parse_args()

    out, manifest = corpus(args.pages, args.target_mb, args.files, args.seed)
    home = OUT / "growth-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    db = home / "records" / "archive.db"
    pool = process_pool(args.workers)
    ingester = Ingester(db, generate_key(home / "key.pem"), executor=pool)
    points = []
    paths = files_of(out)
    run_start = time.perf_counter()
    for i, path in enumerate(paths):
        before = count(db, "claims")
        links_before = count(db, "claim_links")
        start = time.perf_counter()
        # as `archive ingest` does: the next file is started while this one is finished (its
        # time here then includes the next file's hashing, copying and first records)
        result = ingester.ingest_file(path, next_path=(paths[i + 1 :] or [None])[0])
        wall = time.perf_counter() - start
        if result.status != "ingested":
            sys.exit(f"{path}: {result.status} {result.error}")
        point = {
            "file": path.name,
            "claims_before": before,
            "pages": result.articles,
            "claims": result.claims,
            "wall_s": round(wall, 3),
            "pages_per_s": round(result.articles / wall, 2),
            "claim_links_added": count(db, "claim_links") - links_before,
            **writer_memory_mb(),
            # what the run keeps in the writer across files (bounded): their share of its memory
            "quotes_held_mb": round(ingester.quotes.held / 2**20, 1),
            "phashes_held": ingester.phashes.size,
        }
        points.append(point)
        print(point, file=sys.stderr, flush=True)
    total = time.perf_counter() - run_start
    if pool:
        pool.shutdown()
    result = {
        "machine": machine(),
        "corpus": manifest,
        "workers": args.workers,
        "total_wall_s": round(total, 2),
        "pages_per_s": round(sum(p["pages"] for p in points) / total, 2),
        "db_mb": round(db.stat().st_size / 2**20, 1),
        "points": points,
    }
    if args.json:
        write_json(args.json, result)
    if args.plot:
        plot(result, Path(args.plot))


def plot(result: dict, path: Path) -> None:
    plt = pyplot()
    if plt is None:
        return

    pts = result["points"]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot([p["claims_before"] / 1000 for p in pts], [p["pages_per_s"] for p in pts], "o-")
    ax.set_xlabel("claims already in the archive (thousands)")
    ax.set_ylabel("pages/s for the next capture file")
    ax.set_ylim(bottom=0)
    ax.set_title(
        f"Ingest as the archive grows ({result['workers']} workers, "
        f"{result['machine']['cores']} cores, {result['machine']['date']})",
        fontsize=9,
    )
    save_figure(fig, path)


if __name__ == "__main__":
    main()
