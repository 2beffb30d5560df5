#!/usr/bin/env python3
"""What a large ledger costs each command that appends to it or proves from it.

    .venv/bin/python benchmarks/ledger_scale.py --leaves 5000000

Builds (once, under benchmarks/out/) an archive database whose ledger already holds
``--leaves`` entries (random leaf hashes: only the Merkle tree is exercised), then, each in a
fresh process as from the command line, measures wall time and peak RSS (VmHWM) of:

- ``first ingest``: ``archive ingest`` of a small sample capture (the first append to this
  ledger by any process);
- ``next ingest``: ``archive ingest`` of another sample capture (what every later ingest costs);
- ``prove``: ``archive prove`` of one of its claims (an inclusion proof in the whole tree).

Each ingest writes a few dozen records: everything beyond that is the ledger's cost. The
database is copied fresh from the built one for each run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfutil import (  # noqa: E402
    ARCHIVE_CLI,
    OUT,
    REPO,
    archive_env,
    built_once,
    machine,
    run_measured,
    write_json,
)

SAMPLES = [
    REPO / "examples" / "captures" / "panjshir-A-2021-08-23.warc.gz",
    REPO / "examples" / "captures" / "panjshir-A-2021-08-24.warc.gz",
]


def build(path: Path, leaves: int) -> None:
    sys.path.insert(0, str(REPO))
    from archive.db import connect

    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    conn = connect(tmp).conn
    conn.execute("BEGIN")
    conn.executemany(
        "INSERT INTO ledger (seq, leaf_hash, record_table, record_id) VALUES (?, ?, 'claims', ?)",
        ((i, os.urandom(32).hex(), f"synthetic-{i}") for i in range(leaves)),
    )
    conn.execute("COMMIT")
    conn.close()
    os.replace(tmp, path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--leaves", type=int, default=5_000_000)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    built = built_once(OUT / f"ledger-{args.leaves}.db", build, args.leaves)
    home = OUT / "ledger-home"
    shutil.rmtree(home, ignore_errors=True)
    (home / "records").mkdir(parents=True)
    shutil.copy(built, home / "records" / "archive.db")
    env = archive_env(home)
    runs = {}
    for name, sample in (("first ingest", SAMPLES[0]), ("next ingest", SAMPLES[1])):
        res = run_measured([ARCHIVE_CLI, "ingest", "--workers", "0", "-q", str(sample)], env=env)
        if res["rc"] != 0:
            sys.exit(f"{name} failed: {res.get('stderr')}")
        runs[name] = res
    conn = sqlite3.connect(home / "records" / "archive.db")
    claim = conn.execute("SELECT id FROM claims ORDER BY rowid DESC LIMIT 1").fetchone()[0]
    conn.close()
    runs["prove"] = run_measured([ARCHIVE_CLI, "prove", claim], env=env)
    keep = ("wall_s", "cpu_s", "max_process_hwm_mb", "rc")
    result = {
        "machine": machine(),
        "leaves": args.leaves,
        "runs": {k: {f: v.get(f) for f in keep} for k, v in runs.items()},
    }
    shutil.rmtree(home, ignore_errors=True)
    if args.json:
        write_json(args.json, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()
