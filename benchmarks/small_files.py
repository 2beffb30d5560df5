#!/usr/bin/env python3
"""What a capture file costs beyond its pages: the same pages in many small files against one.

    .venv/bin/python benchmarks/small_files.py --json benchmarks/out/small-files.json
    .venv/bin/python benchmarks/small_files.py --pages 100 --files 100 --runs 3

Two corpora of the same ``--pages`` pages (``make_corpus.py``, same seed): one in ``--files``
files (one page each by default) and one in a single file. Each is ingested into a fresh archive
with ``archive ingest --workers N`` as a subprocess, ``--runs`` times, the two alternated (this
machine's speed drifts within minutes). Reported: wall and CPU seconds, pages/s, and the cost of
a file beyond its pages, ``(wall of many - wall of one) / (files - 1)``, from the medians.

Archivists' tools (ArchiveWeb.page, Browsertrix, single-page captures) often make one small WARC
or WACZ per page; each file is a transaction of its own, with its own commit, links and counts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_corpus  # noqa: E402
from perfutil import ARCHIVE_CLI, OUT, archive_env, machine, run_measured, write_json  # noqa: E402


def corpus(pages: int, files: int, seed: int) -> Path:
    out = OUT / f"small-files-p{pages}-f{files}-s{seed}"
    if not (out / "manifest.json").exists():
        make_corpus.generate(out, pages, pages / 50, files, seed, quiet=True, text="news")
    return out


def ingest(corpus_dir: Path, workers: int, timeout: float) -> dict:
    home = OUT / "small-files-home"
    shutil.rmtree(home, ignore_errors=True)
    files = sorted(str(p) for p in corpus_dir.glob("corpus-*.warc.gz"))
    res = run_measured(
        [ARCHIVE_CLI, "ingest", "-q", "--workers", str(workers), *files],
        env=archive_env(home),
        timeout=timeout,
    )
    if res["rc"] != 0:
        raise SystemExit(f"ingest failed: {res['stderr'][-2000:]}")
    res.pop("stderr")
    res["summary"] = res.pop("stdout").strip().splitlines()[-1]
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pages", type=int, default=100)
    ap.add_argument("--files", type=int, default=100, help="files of the many-files corpus")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--json")
    args = ap.parse_args()
    corpora = {
        "many": corpus(args.pages, args.files, args.seed),
        "one": corpus(args.pages, 1, args.seed),
    }
    runs: dict[str, list[dict]] = {"many": [], "one": []}
    for i in range(args.runs):
        for name, path in corpora.items():
            res = ingest(path, args.workers, args.timeout)
            runs[name].append(res)
            print(
                f"run {i + 1} {name}: {res['wall_s']} s wall, {res['cpu_s']} s CPU",
                file=sys.stderr,
            )
    medians = {
        name: {
            "wall_s": round(statistics.median(r["wall_s"] for r in rs), 3),
            "cpu_s": round(statistics.median(r["cpu_s"] for r in rs), 3),
        }
        for name, rs in runs.items()
    }
    for m in medians.values():
        m["pages_per_s"] = round(args.pages / m["wall_s"], 1)
    extra = (medians["many"]["wall_s"] - medians["one"]["wall_s"]) / max(1, args.files - 1)
    out = {
        "machine": machine(),
        "pages": args.pages,
        "files": args.files,
        "workers": args.workers,
        "medians": medians,
        "per_file_beyond_its_pages_ms": round(extra * 1000, 1),
        "many_over_one_wall": round(medians["many"]["wall_s"] / medians["one"]["wall_s"], 2),
        "runs": runs,
    }
    if args.json:
        write_json(args.json, out)
    print(
        f"{args.files} files: {medians['many']['wall_s']} s; 1 file: {medians['one']['wall_s']} s; "
        f"{out['per_file_beyond_its_pages_ms']} ms a file beyond its pages",
        file=sys.stderr,
    )
    print({k: v for k, v in out.items() if k not in ("runs", "machine")})


if __name__ == "__main__":
    main()
