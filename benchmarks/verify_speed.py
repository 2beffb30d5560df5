#!/usr/bin/env python3
"""``archive verify`` speed against raw Ed25519 verification of the same statements.

    .venv/bin/python benchmarks/verify_speed.py                      # reuse or build an archive
    .venv/bin/python benchmarks/verify_speed.py --db path/to/archive.db --json out.json

1. ``archive verify --no-files --no-sqlite-check --db <db>`` as a subprocess (``--workers``,
   default: one per core): wall time including start-up, CPU time, signed records/s. The two
   checks left out read the files as a whole, not records: the stored captures' hashes, and
   SQLite's ``PRAGMA quick_check`` of the database file. The second is then timed too: the same
   run without ``--no-sqlite-check`` (``verify_with_sqlite_check``), and its ratios.
2. Raw rate, in this process on one core: for every signed row (captures, articles, claims,
   image_uses, key_rotations), base64-decode ``signature`` and call cryptography's
   ``Ed25519PublicKey.verify`` over the UTF-8 bytes of ``statement``. Rows are read first;
   only the verify loop is timed. It is timed on the first 20,000 rows before the verify runs
   too (``raw_before``): this machine's speed drifts within minutes, so each ratio is also
   given against the mean of the two (``*_bracketed``).
3. Where verify's time goes: ``archive.verify.verify`` in this process under cProfile; the top
   functions by own time, and the cumulative time of the main steps.
4. Side by side (``side_by_side``): a worker's check of the first 20,000 claims
   (``checks.check_rows``) and raw Ed25519 over the same claims, alternated three times in this
   process, the fastest of each kept: verify's own work per record and the ratio a worker
   reaches, free of the drift between the runs above (this machine's speed moves ±15% within
   minutes). Run it on a quiet machine: another busy process makes any round slow.
5. Cores side by side (``raw_at_once``): raw Ed25519 over the first 20,000 rows in one process
   alone, then in one process per worker at once, alternated three times: whether the cores
   slow each other down (they share caches, and on a virtual machine perhaps a physical core),
   which would cap the per-core ratio below what a worker reaches alone.

Before any of it, the database file is read through once (``warm_s``), so that every run finds
it in the page cache, as the raw loop finds its statements in memory: a file left cold by other
work (the 3.2 GB growth archive an hour after it was built) kept verify's workers waiting on the
disk for its first seconds, which is the disk's speed, not verify's.

Target: verify >= 0.8 x the raw rate per core. Four ratios are reported: verify's rate over the
raw one-core rate; the same per core used (verify's rate divided by its worker count); CPU
efficiency (raw CPU per record over verify's CPU per record, start-up included), which does not
depend on how busy the machine is; and core use (verify's CPU seconds over its workers x its
wall time): the per-core ratio is the product of the last two.

The archive: ``--db``, else the one benchmarks/ingest.py kept (benchmarks/out/archive-for-verify),
else one built here from a corpus of ``--pages`` pages with ``archive ingest --workers 2``, with
cross-capture linking switched off in that subprocess (links are unsigned derived data that verify
does not read; leaving them out makes the archive quicker to build; see benchmarks/ingest.py,
variant ``nolinks``).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import json
import pstats
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ingest import NOLINKS  # noqa: E402
from perfutil import ARCHIVE_CLI, OUT, PYTHON, REPO, archive_env, machine, run_measured, write_json  # noqa: E402

sys.path.insert(0, str(REPO))
from archive.db import connect  # noqa: E402
from archive.keys import load_public_key_pem  # noqa: E402
from archive.schema import SIGNED_TABLES  # noqa: E402

KEPT = OUT / "archive-for-verify" / "records" / "archive.db"


def build_archive(pages: int, timeout: float) -> Path:
    import make_corpus

    corpus = OUT / f"verify-corpus-{pages}"
    if not (corpus / "manifest.json").exists():
        make_corpus.generate(corpus, pages, pages / 10, max(1, pages // 20), 7, quiet=True)
    home = OUT / "verify-home"
    shutil.rmtree(home, ignore_errors=True)
    # Links are unsigned derived data that verify does not read: built without them, quicker.
    res = run_measured(
        [PYTHON, "-c", NOLINKS, "ingest", "-q", "--workers", "2", str(corpus)],
        env=archive_env(home),
        timeout=timeout,
    )
    if res["rc"] != 0:
        raise SystemExit(f"ingest failed: {res['stderr'][-2000:]}")
    return home / "records" / "archive.db"


def warm(db: Path) -> float:
    """Read the database file through once (into the page cache); seconds taken."""
    start = time.perf_counter()
    with open(db, "rb") as f:
        while f.read(1 << 20):
            pass
    return round(time.perf_counter() - start, 2)


def signed_rows(db: Path) -> tuple[list[tuple], dict]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    keys = {
        kid: load_public_key_pem(pem)
        for kid, pem in conn.execute("SELECT key_id, public_key FROM keys")
    }
    rows = []
    for table in SIGNED_TABLES:
        rows += conn.execute(f"SELECT statement, signature, key_id FROM {table}").fetchall()
    conn.close()
    return rows, keys


def raw_rate(rows, keys) -> dict:
    start = time.perf_counter()
    ok = 0
    for stmt, sig, key_id in rows:
        keys[key_id].verify(base64.b64decode(sig), stmt.encode("utf-8"))  # raises if bad
        ok += 1
    wall = time.perf_counter() - start
    return {"records": ok, "wall_s": round(wall, 3), "records_per_s": round(ok / wall, 1)}


def side_by_side(db: Path, rows: int = 20000, rounds: int = 3) -> dict:
    """A worker's check of claims against raw Ed25519 over the same claims, alternated in this
    process a few seconds apart: verify's own work per record, free of the machine's drift
    between the runs above (start-up, the ledger, images and other tables left out)."""
    from archive import checks
    from archive.trust import archive_trust
    from archive.verify import _raw

    d = connect(db, create=False, upgrade=False)
    raw_keys = {kid: _raw(key) for kid, key in archive_trust(d, None).keys.items()}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)  # as a worker reads: plain text
    lo = conn.execute("SELECT min(rowid) FROM claims").fetchone()[0]
    if lo is None:
        return {}
    claims = conn.execute(
        "SELECT statement, signature, key_id FROM claims WHERE rowid BETWEEN ? AND ?",
        (lo, lo + rows - 1),
    ).fetchall()
    keys = {kid: load_public_key_pem(pem) for kid, pem in conn.execute(
        "SELECT key_id, public_key FROM keys")}  # fmt: skip
    check_us, raw_us = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        chunk = checks.check_rows(conn, "claims", lo, lo + rows - 1, raw_keys, {})
        check_us.append((time.perf_counter() - start) / len(claims) * 1e6)
        if chunk.verified != len(claims):
            raise SystemExit(f"side by side: {chunk.verified} of {len(claims)} claims verified")
        raw_us.append(1e6 / raw_rate(claims, keys)["records_per_s"])
    # the fastest of each: what another process or a slow spell added is left out
    return {
        "claims": len(claims),
        "check_us_per_record": [round(x, 1) for x in check_us],
        "raw_us_per_record": [round(x, 1) for x in raw_us],
        "ours_us_per_record": round(min(check_us) - min(raw_us), 1),
        "ratio": round(min(raw_us) / min(check_us), 3),
    }


_AT_ONCE: list[tuple] = []  # (key, signature bytes, statement bytes), inherited by the forks


def _raw_us() -> float:
    start = time.perf_counter()
    for key, signature, data in _AT_ONCE:
        key.verify(signature, data)
    return (time.perf_counter() - start) / len(_AT_ONCE) * 1e6


def raw_at_once(rows, keys, processes: int, rounds: int = 3) -> dict:
    """Raw Ed25519 in one process alone and in ``processes`` at once, alternated."""
    import multiprocessing

    _AT_ONCE[:] = [(keys[k], base64.b64decode(sig), st.encode("utf-8")) for st, sig, k in rows]
    alone, at_once = [], []
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        for _ in range(rounds):
            alone.append(pool.apply(_raw_us))
            # one call per process: each blocks its process, so they run at the same time
            at_once.append(max(pool.map(_raw_us_of, range(processes), chunksize=1)))
    _AT_ONCE.clear()
    return {
        "processes": processes,
        "alone_us": [round(x, 1) for x in alone],
        "at_once_us_slowest": [round(x, 1) for x in at_once],
        "slowdown": round(min(at_once) / min(alone), 3),
    }


def _raw_us_of(_: int) -> float:
    return _raw_us()


def profile(db: Path, top: int = 12) -> dict:
    from archive.verify import verify

    d = connect(db, create=False)
    prof = cProfile.Profile()
    start = time.perf_counter()
    prof.enable()
    report = verify(d, None, check_files=False)
    prof.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(prof)
    rows = []
    for (file, line, fn), (_cc, nc, tt, ct, _callers) in stats.stats.items():
        rows.append(
            {
                "function": f"{Path(file).name}:{line}({fn})",
                "calls": nc,
                "own_s": round(tt, 3),
                "cumulative_s": round(ct, 3),
            }
        )
    by_own = sorted(rows, key=lambda r: -r["own_s"])[:top]
    steps = {}
    for r in rows:
        for name in (
            "_rows",
            "_ledger",
            "_images",
            "_keys",
            "_content_problems",
            "canonical",
            "build",
            "parse",
            "verify_signature",
            "text_sha256",
            "query",
            "dumps",
            "leaf_hash",
            "root",
            "_checkpoints",
        ):
            if r["function"].endswith(f"({name})") and (
                "archive" in r["function"] or name in ("dumps", "query")
            ):
                steps.setdefault(name, []).append(r)
    text = io.StringIO()
    stats.stream = text
    stats.sort_stats("tottime").print_stats(top)
    return {
        "wall_s_profiled": round(wall, 3),
        "ok": report.ok,
        "top_own_time": by_own,
        "steps": {k: max(v, key=lambda r: r["cumulative_s"]) for k, v in steps.items()},
        "pstats": text.getvalue(),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path)
    ap.add_argument("--pages", type=int, default=500, help="pages when building an archive")
    ap.add_argument("--timeout", type=float, default=900)
    ap.add_argument("--json")
    ap.add_argument("--workers", type=int, default=None, help="archive verify --workers")
    args = ap.parse_args()
    db = args.db or (KEPT if KEPT.exists() else build_archive(args.pages, args.timeout))
    warm_s = warm(db)
    rows, keys = signed_rows(db)
    n = len(rows)
    print(f"archive {db}: {n:,} signed records (read through in {warm_s} s)", file=sys.stderr)
    sys.path.insert(0, str(REPO))
    from archive.parallel import default_workers

    workers = args.workers or default_workers()
    before = raw_rate(rows[:20000], keys)
    print(f"raw Ed25519 verify before: {before['records_per_s']} records/s", file=sys.stderr)
    runs = {}
    for name, extra in (("verify", ["--no-sqlite-check"]), ("verify_with_sqlite_check", [])):
        cmd = [ARCHIVE_CLI, "verify", "--no-files", *extra, "--workers", str(workers)]
        res = run_measured(
            [*cmd, "--db", str(db)], env=archive_env(OUT / "verify-env"), timeout=args.timeout
        )
        if res["rc"] != 0:  # a refusal (a migration not applied, say) measures nothing
            raise SystemExit(f"{' '.join(cmd[1:])} failed: {res['stderr'].strip()[-2000:]}")
        res["records_per_s"] = round(n / res["wall_s"], 1)
        res["summary"] = res.pop("stdout").strip().splitlines()[-8:]
        res.pop("stderr")
        print(
            f"{' '.join(cmd[1:])}: {res['wall_s']} s, {res['records_per_s']} records/s, "
            f"rc {res['rc']}",
            file=sys.stderr,
        )
        runs[name] = res
    res = runs["verify"]
    raw = raw_rate(rows, keys)
    print(f"raw Ed25519 verify: {raw['records_per_s']} records/s on one core", file=sys.stderr)
    prof = profile(db)
    print(prof["pstats"], file=sys.stderr)
    side = side_by_side(db)
    if side:
        print(
            f"side by side, {side['claims']:,} claims in one process: a worker's check "
            f"{side['check_us_per_record']} us a record, raw Ed25519 {side['raw_us_per_record']}: "
            f"{side['ratio']} x (verify's own work {side['ours_us_per_record']} us a record)",
            file=sys.stderr,
        )
    at_once = raw_at_once(rows[:20000], keys, workers) if workers > 1 else None
    if at_once:
        print(
            f"raw Ed25519 in {workers} processes at once: {at_once['slowdown']} x the time of "
            f"one alone ({at_once['alone_us']} us alone, {at_once['at_once_us_slowest']} at "
            "once)",
            file=sys.stderr,
        )
    ratio = round(res["records_per_s"] / raw["records_per_s"], 3)
    bracket = (raw["records_per_s"] + before["records_per_s"]) / 2
    per_core = round(ratio / workers, 3)
    cpu_eff = round((raw["wall_s"] / n) / (res["cpu_s"] / n), 3) if res.get("cpu_s") else None
    core_use = round(res["cpu_s"] / (workers * res["wall_s"]), 3) if res.get("cpu_s") else None
    out = {
        "machine": machine(),
        "db": str(db),
        "signed_records": n,
        "warm_s": warm_s,
        "workers": workers,
        "verify": res,
        "verify_with_sqlite_check": runs["verify_with_sqlite_check"],
        "raw": raw,
        "raw_before": before,
        "drift": round(raw["records_per_s"] / before["records_per_s"] - 1, 3),
        "ratio_per_core_used_bracketed": round(res["records_per_s"] / bracket / workers, 3),
        "ratio_to_raw_one_core": ratio,
        "ratio_per_core_used": per_core,
        "cpu_efficiency": cpu_eff,
        "core_use": core_use,
        "target_met_one_core": ratio >= 0.8,
        "target_met_per_core": per_core >= 0.8,
        "with_sqlite_check_ratio_per_core": round(
            runs["verify_with_sqlite_check"]["records_per_s"] / raw["records_per_s"] / workers, 3
        ),
        "side_by_side": side,
        "raw_at_once": at_once,
        "profile": {k: v for k, v in prof.items() if k != "pstats"},
    }
    print(
        f"verify/raw = {ratio} of one core; {per_core} per core used ({workers}), "
        f"{out['ratio_per_core_used_bracketed']} against the raw rate before and after; CPU "
        f"efficiency {cpu_eff}, core use {core_use} (target >= 0.8)",
        file=sys.stderr,
    )
    if args.json:
        write_json(args.json, out)
    print(json.dumps({k: v for k, v in out.items() if k not in ("profile",)}, indent=1))
    print(json.dumps(out["profile"]["top_own_time"][:5], indent=1))


if __name__ == "__main__":
    main()
