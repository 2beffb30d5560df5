#!/usr/bin/env python3
"""Where one ingest's time goes: start-up, the stream of records, finishing.

    .venv/bin/python benchmarks/timeline.py                      # the 181 real pages
    .venv/bin/python benchmarks/timeline.py --workers 1,2 --runs 3 --json out.json
    .venv/bin/python benchmarks/timeline.py --capture path/to/file.warc.gz

Each run is a fresh Python process (so imports count) that ingests one capture into a new
archive with the library the CLI uses and a process pool of ``--workers``, and stamps: imports
done; the first article back from the workers; the last; ingest finished (links, full-text
index, checkpoint, commit); and the ingest's CPU seconds in the writer and in the workers
(each worker's whole life, start-up included). The stream (first article to last) divided by
the articles after the first is the steady-state cost per page, which a longer capture
approaches; ``benchmarks/ingest.py`` times whole runs.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfutil import OUT, PYTHON, REPO, machine, write_json  # noqa: E402

# Runs in the child process: argv = [workers, capture, home].
CHILD = """
import time
T0 = time.perf_counter()
import json, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
import archive.ingest as ingest
from archive.keys import Signer
from archive.parallel import process_pool
from archive.reading import Reading
T1 = time.perf_counter()
marks = []
stream = Reading.__iter__
def stamped(self):
    for result in stream(self):
        if result.role == "article":
            marks.append(time.perf_counter())
        yield result
Reading.__iter__ = stamped
workers, capture, home = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ingester = ingest.Ingester(home + "/archive.db", Signer(Ed25519PrivateKey.generate()))
ingester.executor = process_pool(workers)
T2 = time.perf_counter()
C2 = time.process_time()
result = ingester.ingest_file(capture)
T3 = time.perf_counter()
C3 = time.process_time()
ingester.executor.shutdown()
import resource
workers_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"status": result.status, "articles": result.articles,
    "imports_s": T1 - T0, "setup_s": T2 - T1, "first_result_s": marks[0] - T2,
    "stream_s": marks[-1] - marks[0], "finish_s": T3 - marks[-1], "total_s": T3 - T0,
    "writer_cpu_s": C3 - C2, "workers_cpu_s": workers_cpu.ru_utime + workers_cpu.ru_stime}))
"""


def run(workers: int, capture: Path, home: Path) -> dict:
    home.mkdir(parents=True, exist_ok=True)
    for old in home.glob("archive.db*"):
        old.unlink()
    out = subprocess.run(
        [PYTHON, "-c", CHILD, str(workers), str(capture), str(home)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=True,
    )
    row = json.loads(out.stdout.strip().splitlines()[-1])
    row = {k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}
    row["workers"] = workers
    row["stream_ms_per_page"] = round(row["stream_s"] * 1000 / max(1, row["articles"] - 1), 2)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", help="a capture file [the 181 real pages, built once]")
    parser.add_argument("--workers", default="1,2", help="worker counts [1,2]")
    parser.add_argument("--runs", type=int, default=3, help="runs per worker count [3]")
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args(argv)
    if args.capture:
        capture = Path(args.capture)
    else:
        from ingest import real_corpus

        corpus, _ = real_corpus()
        capture = next(corpus.glob("*.warc.gz"))
    rows = []
    for _ in range(args.runs):
        for workers in map(int, args.workers.split(",")):
            row = run(workers, capture, OUT / "timeline-home")
            rows.append(row)
            print(
                f"{workers} worker(s): imports {row['imports_s']} s, first result "
                f"{row['first_result_s']} s, stream {row['stream_s']} s "
                f"({row['stream_ms_per_page']} ms/page), finish {row['finish_s']} s, "
                f"total {row['total_s']} s; CPU: writer {row['writer_cpu_s']} s, "
                f"workers {row['workers_cpu_s']} s",
                flush=True,
            )
    if args.json:
        write_json(args.json, {"machine": machine(), "capture": str(capture), "runs": rows})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
