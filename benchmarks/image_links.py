#!/usr/bin/env python3
"""Image linking against a large archive: time and memory of one capture's near-copy pass.

    .venv/bin/python benchmarks/image_links.py --images 1000000 --new 200

Builds (once, under benchmarks/out/) an archive database holding ``--images`` images with random
pHashes (no payloads: only the pHash pass is measured), then runs the link pass of one capture
that brought ``--new`` of them, in a fresh process per run, and reports its wall time and how
much the process's peak RSS grew during it. The pass reads every pHash of the archive once per
capture, so its time grows with the archive; its memory should not.

Then the same pass as the captures after the first of an ingest run make it (fourteenth
round): with the run's ``image_links.PhashIndex``, which reads the archive's pHashes once
(``load_s``, the first capture's cost) and keeps them in memory (``held_rss_growth_mb``), so
that each later capture's pass (``held_wall_s``) compares in memory instead of reading them
all again.
``held_same_links`` compares the two passes' links; the pHashes here are random, so there are
few or none (tests/test_similarity.py checks the two ways agree on clustered ones).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfutil import OUT, PYTHON, REPO, built_once, machine, write_json  # noqa: E402

CHILD = """
import json, resource, sqlite3, sys, time
from archive import image_links
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
new = json.loads(sys.argv[2])
conn.execute("BEGIN")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
image_links.link_images(conn, new)
wall = time.perf_counter() - start
grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
made = set(conn.execute("SELECT * FROM image_links"))
conn.execute("DELETE FROM image_links")
index = image_links.PhashIndex()
start = time.perf_counter()
index.refresh(conn)
load = time.perf_counter() - start
start = time.perf_counter()
image_links.link_images(conn, new, index=index)
held = time.perf_counter() - start
held_grew = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before - grew
same = set(conn.execute("SELECT * FROM image_links")) == made
conn.execute("ROLLBACK")
print(json.dumps({"wall_s": round(wall, 3), "rss_growth_mb": round(grew / 1024, 1),
                  "links": len(made), "load_s": round(load, 3), "held_wall_s": round(held, 4),
                  "held_rss_growth_mb": round(held_grew / 1024, 1), "held_same_links": same}))
"""


def build(path: Path, images: int) -> None:
    sys.path.insert(0, str(REPO))
    from archive.db import connect

    conn = connect(path).conn
    rnd = random.Random(images)
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO images (sha256, bytes, content, phash) VALUES (?, 0, x'', ?)",
        ((f"{i:064x}", f"{rnd.getrandbits(64):016x}") for i in range(images)),
    )
    conn.execute("COMMIT")
    conn.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=1_000_000)
    p.add_argument("--new", type=int, default=200, help="images the capture brought")
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    path = built_once(OUT / f"image-links-{args.images}.db", build, args.images)
    new = json.dumps([f"{i:064x}" for i in range(args.images - args.new, args.images)])
    runs = []
    for _ in range(args.runs):
        out = subprocess.run(
            [PYTHON, "-c", CHILD, str(path), new],
            check=True,
            capture_output=True,
            text=True,
            cwd=REPO,
        )
        runs.append(json.loads(out.stdout))
    result = {"machine": machine(), "images": args.images, "new": args.new, "runs": runs}
    if args.json:
        write_json(args.json, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
