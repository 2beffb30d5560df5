"""Load test for ``archive serve``: many concurrent clients against the canned queries and tables.

Builds a throwaway archive from the shared scenario capture (or the project's sample), starts
``archive serve`` on a free loopback port, and runs ``--clients`` keep-alive HTTP/1.1 clients
(plain asyncio sockets, no extra dependency) for ``--seconds``. Every client loops over the
canned queries in datasette-metadata.json (with parameters taken from the archive), the table
pages and their JSON. Reports requests/s, latency percentiles and errors.

    .venv/bin/python benchmarks/serve_load.py --clients 200 --seconds 30

Exit code 1 when there were errors, or p95 is over ``--p95-ms`` (default 200).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT.parent / "shared" / "scenario" / "panjshir-A-2021-08-23.warc.gz"
SAMPLE = ROOT / "tests" / "data" / "lakeport-A-2025-03-07.warc.gz"

#: how a canned query's parameter is filled from the archive
PARAM_SQL = {
    "article_id": "SELECT id FROM articles ORDER BY captured_at LIMIT 1",
    "claim_id": "SELECT id FROM claims ORDER BY article_id, position LIMIT 1",
    "speaker": "SELECT speaker FROM claims WHERE speaker IS NOT NULL GROUP BY speaker "
    "ORDER BY count(*) DESC LIMIT 1",
    "image_sha256": "SELECT image_sha256 FROM image_uses WHERE image_sha256 IS NOT NULL LIMIT 1",
    "url": "SELECT COALESCE(canonical_url, url) FROM articles LIMIT 1",
    "text_sha256": "SELECT text_sha256 FROM claims LIMIT 1",
}


def build_archive(capture: Path, home: Path) -> Path:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.ingest import Ingester
    from archive.keys import Signer

    db = home / "archive.db"
    result = Ingester(db, Signer(Ed25519PrivateKey.generate())).ingest_file(capture)
    if result.status != "ingested":
        raise SystemExit(f"could not ingest {capture}: {result.error}")
    return db


def request_paths(db: Path) -> list[str]:
    """Every canned query with real parameters, the table pages and their JSON, a row page."""
    metadata = json.loads((ROOT / "datasette-metadata.json").read_text(encoding="utf-8"))
    conn = sqlite3.connect(db)
    paths = ["/", "/archive"]
    for name, query in metadata["databases"]["archive"].get("queries", {}).items():
        params = {}
        for param in sorted(set(re.findall(r"(?<!:):(\w+)", query["sql"]))):
            row = conn.execute(PARAM_SQL[param]).fetchone() if param in PARAM_SQL else None
            params[param] = row[0] if row and row[0] is not None else "x"
        q = urllib.parse.urlencode(params)
        paths += [f"/archive/{name}?{q}", f"/archive/{name}.json?{q}&_shape=array"]
    for table in ("claims", "articles", "image_uses", "captures", "capture_records", "images"):
        paths += [f"/archive/{table}", f"/archive/{table}.json?_shape=array"]
    paths += [
        "/archive/claims?kind=quote&_facet=speaker",
        "/archive/claims.json?_search=Massoud&_shape=array",
    ]
    claim = conn.execute("SELECT id FROM claims LIMIT 1").fetchone()
    if claim:
        paths.append(f"/archive/claims/{claim[0]}")
    conn.close()
    return paths


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(db: Path, port: int) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "archive", "serve", "--db", str(db), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/-/versions.json", timeout=2)
            return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("archive serve did not start")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one HTTP/1.1 response; (status, keep the connection)."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    else:
        await reader.read()  # until close
        return status, False
    return status, headers.get("connection", "").lower() != "close"


async def client(port: int, paths: list[str], stop: float, stats: dict, seed: int) -> None:
    rng = random.Random(seed)
    reader = writer = None
    while time.monotonic() < stop:
        path = rng.choice(paths)
        start = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                "User-Agent: serve_load\r\n\r\n".encode()
            )
            await writer.drain()
            status, keep = await asyncio.wait_for(_read_response(reader), timeout=30)
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as e:
            stats["errors"][type(e).__name__] = stats["errors"].get(type(e).__name__, 0) + 1
            if writer is not None:
                writer.close()
            reader = writer = None
            continue
        elapsed = time.monotonic() - start
        stats["latencies"].append(elapsed)
        stats["by_path"].setdefault(path, []).append(elapsed)
        if status != 200:
            key = f"HTTP {status} {path.split('?')[0]}"
            stats["errors"][key] = stats["errors"].get(key, 0) + 1
        if not keep:
            writer.close()
            reader = writer = None
    if writer is not None:
        writer.close()


async def run_load(port: int, paths: list[str], clients: int, seconds: float) -> dict:
    stats = {"latencies": [], "errors": {}, "by_path": {}}
    start = time.monotonic()
    stop = start + seconds
    await asyncio.gather(*(client(port, paths, stop, stats, n) for n in range(clients)))
    stats["elapsed"] = time.monotonic() - start
    return stats


def percentile(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=200, help="concurrent clients [200]")
    parser.add_argument("--seconds", type=float, default=30, help="how long [30]")
    parser.add_argument("--capture", type=Path, default=None, help="capture to serve")
    parser.add_argument("--p95-ms", type=float, default=200, help="p95 target in ms [200]")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 2000 or not 0 < args.seconds <= 600:
        parser.error("--clients must be 1..2000 and --seconds 0..600")
    capture = args.capture or (SCENARIO if SCENARIO.exists() else SAMPLE)
    with tempfile.TemporaryDirectory(prefix="serve-load-") as tmp:
        db = build_archive(capture, Path(tmp))
        paths = request_paths(db)
        port = free_port()
        proc = start_server(db, port)
        try:
            # one pass first: every URL must answer 200 before it is timed
            for path in paths:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
                    r.read()
            stats = asyncio.run(run_load(port, paths, args.clients, args.seconds))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    lat = sorted(stats["latencies"])
    errors = sum(stats["errors"].values())
    result = {
        "capture": capture.name,
        "clients": args.clients,
        "seconds": round(stats["elapsed"], 1),
        "urls": len(paths),
        "requests": len(lat),
        "requests_per_s": round(len(lat) / stats["elapsed"], 1),
        "p50_ms": round(percentile(lat, 50) * 1000, 1),
        "p95_ms": round(percentile(lat, 95) * 1000, 1),
        "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round((lat[-1] if lat else float("nan")) * 1000, 1),
        "errors": errors,
        "error_kinds": stats["errors"],
        "slowest": {
            path: round(percentile(sorted(v), 95) * 1000, 1)
            for path, v in sorted(
                stats["by_path"].items(), key=lambda kv: -percentile(sorted(kv[1]), 95)
            )[:5]
        },
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(
            f"{result['capture']}: {result['clients']} clients x {result['seconds']} s over "
            f"{result['urls']} URLs on {result['cpus']} CPUs\n"
            f"{result['requests']} requests, {result['requests_per_s']} req/s; latency p50 "
            f"{result['p50_ms']} ms, p95 {result['p95_ms']} ms, p99 {result['p99_ms']} ms, max "
            f"{result['max_ms']} ms; errors {errors} {stats['errors'] or ''}"
        )
        for path, p95 in result["slowest"].items():
            print(f"  p95 {p95:8.1f} ms  {path[:110]}")
    return 1 if errors or result["p95_ms"] > args.p95_ms else 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
