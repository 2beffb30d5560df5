#!/usr/bin/env python3
"""Where the writer's memory goes during one ingest, sampled every few thousand records.

    .venv/bin/python benchmarks/writer_memory.py path/to/capture.warc --every 4000
    .venv/bin/python benchmarks/writer_memory.py capture.warc --json benchmarks/out/wm.json

Runs ``archive ingest --workers 1 -q`` in this process (the CLI itself, into a fresh archive
under ``--home``) and, every ``--every`` records the writer takes, notes: its RSS (peak,
anonymous and file-backed); Python's small-object arenas and the bytes in use in them
(``sys._debugmallocstats``); glibc's malloc heap in use and free, and its mapped blocks
(``mallinfo2``); SQLite's own memory (``sqlite3_memory_used``); and the size of what the
writer holds on purpose (the capture's counts, the shingle cache, the band rows waiting, the
run's quotes as estimated). Linux with glibc and a shared libsqlite3 only (what this machine
has).

``--growth K``: what grows, by the line that allocated it. Under tracemalloc (two frames a
trace, so ~5 times slower), a snapshot at each of the first K samples, then the ingest is
stopped (and rolled back); printed are the allocation sites whose memory never fell from one
snapshot to the next and grew by 50 KB or more in all, the largest growth first. Comparing two
snapshots does not find a slow growth: the bounded structures cycle through ~15 MB between
samples. This is how the reader's record ids were found (docs/performance-history.md,
twenty-seventh round):

    .venv/bin/python benchmarks/writer_memory.py capture-1000.warc --every 5000 --growth 4

``--peaks N``: where the peak is reached. A thread reads the RSS every few milliseconds and,
at each new high (1 MB above the last), notes the main thread's stack; the last N are printed
and kept. A transient at one step shows here and not in the samples (which come between
records): this is how a capture's image links, all held to its end, were found (~60 MB;
docs/performance-history.md, twenty-eighth round):

    .venv/bin/python benchmarks/writer_memory.py capture.warc.gz --peaks 5

A capture to try: ``benchmarks/memory.py`` builds them (``--image-kb 100``, news-like pages).
"""

from __future__ import annotations

import argparse
import ctypes
import itertools
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import traceback
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from perfutil import OUT, REPO, archive_env, write_json  # noqa: E402

sys.path.insert(0, str(REPO))
from archive import ingest, similarity  # noqa: E402
from archive.cli import cli  # noqa: E402


class _Mallinfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _probes():
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _Mallinfo2
    sqlite = ctypes.CDLL("libsqlite3.so.0")  # the one Python's sqlite3 module is linked to
    sqlite.sqlite3_memory_used.restype = ctypes.c_int64
    return libc.mallinfo2, sqlite.sqlite3_memory_used


def _status_mb() -> dict[str, float]:
    """Peak RSS so far, RSS, and its anonymous and file-backed parts (a mapped file's pages
    count in RSS)."""
    fields = {
        "VmHWM:": "peak_rss_mb",
        "VmRSS:": "rss_mb",
        "RssAnon:": "rss_anon_mb",
        "RssFile:": "rss_file_mb",
    }
    with open("/proc/self/status") as status:
        rows = (line.split() for line in status)
        return {fields[r[0]]: round(int(r[1]) / 1024, 1) for r in rows if r[0] in fields}


class PeakWatch:
    """Notes the main thread's stack at each new high of this process's RSS (``step_mb`` above
    the last), read every ``every`` seconds by a thread of its own, until stopped."""

    def __init__(self, step_mb: float = 1.0, every: float = 0.003, frames: int = 12):
        self.step_mb, self.every, self.frames = step_mb, every, frames
        self.highs: list[dict] = []  # {"s", "rss_mb", "stack"}: the stack innermost last
        self._main = threading.main_thread().ident
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def start(self) -> PeakWatch:
        self._start = time.perf_counter()
        self._thread.start()
        return self

    def stop(self) -> list[dict]:
        self._stop.set()
        self._thread.join()
        return self.highs

    def _watch(self) -> None:
        page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
        top = 0.0
        with open("/proc/self/statm") as statm:
            while not self._stop.wait(self.every):
                statm.seek(0)
                rss = int(statm.read().split()[1]) * page_mb
                if rss < top + self.step_mb:
                    continue
                top = rss
                frame = sys._current_frames().get(self._main)
                stack = traceback.extract_stack(frame)[-self.frames :] if frame else []
                self.highs.append(
                    {
                        "s": round(time.perf_counter() - self._start, 3),
                        "rss_mb": round(rss, 1),
                        "stack": [f"{f.filename}:{f.lineno} {f.name}" for f in stack],
                    }
                )


def _obmalloc_mb() -> dict[str, float]:
    """Python's small-object allocator: its 1 MiB arenas, and the bytes in use in them (none
    while tracemalloc hooks the allocator, or with ``PYTHONMALLOC=malloc``).

    ``sys._debugmallocstats`` writes to the C stderr only, so fd 2 goes to a file for it.
    """
    with tempfile.TemporaryFile("w+") as out:
        saved = os.dup(2)
        sys.stderr.flush()
        os.dup2(out.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    if "# arenas allocated current" not in text:
        return {}

    def figure(name: str) -> int:
        return int(re.search(rf"# {name} += +([\d,]+)", text)[1].replace(",", ""))

    return {
        "py_arenas": figure("arenas allocated current"),
        "py_in_use_mb": round(figure("bytes in allocated blocks") / 2**20, 1),
        "py_free_mb": round(figure("bytes in available blocks") / 2**20, 1),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("capture", type=Path)
    ap.add_argument("--every", type=int, default=4000, help="records between samples [4000]")
    ap.add_argument("--home", type=Path, default=OUT / "writer-memory-home")
    ap.add_argument("--json", help="write the samples here")
    ap.add_argument("--growth", type=int, metavar="K", help="snapshots to compare (see above)")
    ap.add_argument("--peaks", type=int, metavar="N", help="stacks at the last N new highs")
    args = ap.parse_args()
    snapshots: list[tracemalloc.Snapshot] = []
    mallinfo, sqlite_used = _probes()
    samples: list[dict] = []
    take = ingest.Ingester._take
    taken = itertools.count(1)

    def sampled(self, *a, **k):
        n = next(taken)
        if n % args.every == 0:
            info, summaries = mallinfo(), self.summaries
            samples.append(
                {
                    "records": n,
                    **_status_mb(),
                    **_obmalloc_mb(),
                    "malloc_in_use_mb": round(info.uordblks / 2**20, 1),
                    "malloc_free_mb": round(info.fordblks / 2**20, 1),
                    "malloc_mapped_mb": round(info.hblkhd / 2**20, 1),
                    "sqlite_mb": round(sqlite_used() / 2**20, 1),
                    "counts_held": len(summaries.texts) if summaries else 0,
                    "shingle_sets_cached": len(similarity._CACHE),
                    "band_rows_waiting": len(self.linker.rows),
                    "quotes_held_mb": round(self.quotes.held / 2**20, 1),
                }
            )
            print(samples[-1], file=sys.stderr, flush=True)
            if args.growth:
                snapshots.append(tracemalloc.take_snapshot())
                if len(snapshots) == args.growth:
                    raise KeyboardInterrupt  # enough: the ingest rolls back and stops
        return take(self, *a, **k)

    ingest.Ingester._take = sampled
    shutil.rmtree(args.home, ignore_errors=True)
    env = archive_env(args.home)  # this process is the archive command: its environment
    os.environ.clear()
    os.environ.update(env)
    if args.growth:
        tracemalloc.start(2)
    watch = PeakWatch().start() if args.peaks else None
    try:
        cli.main(["ingest", "--workers", "1", "-q", str(args.capture)], standalone_mode=False)
        code = 0
    except SystemExit as e:  # the command's own exit, with its status
        code = e.code or 0
    finally:
        ingest.Ingester._take = take
        tracemalloc.stop()
        peaks = watch.stop()[-args.peaks :] if watch else []
    end = _status_mb()  # the peak over the whole run, its end included
    print({"end": end}, file=sys.stderr)
    growing = _growing(snapshots) if args.growth else []
    for site in growing[:10]:
        print(f"+{site['grew_mb']} MB {site['mb']}", *site["where"], sep="\n    ")
    for high in peaks:
        print(f"{high['s']} s: {high['rss_mb']} MB", *high["stack"][-6:], sep="\n    ")
    if args.growth and code == 130 and len(snapshots) == args.growth:
        code = 0  # stopped on purpose
    if args.json:
        write_json(
            args.json,
            {"capture": str(args.capture), "rc": code, "samples": samples, "end": end,
             "growing": growing, "peaks": peaks},
        )  # fmt: skip
    return code


def _growing(snapshots: list) -> list[dict]:
    """Allocation sites (two frames) whose memory never fell from one snapshot to the next,
    and grew by 50 KB or more in all (a set grows in steps: not at every snapshot)."""
    ours = [tracemalloc.Filter(False, tracemalloc.__file__)]
    sizes = [
        {s.traceback: s.size for s in snap.filter_traces(ours).statistics("traceback")}
        for snap in snapshots
    ]
    found = []
    for where in set().union(*sizes):
        held = [by_site.get(where, 0) for by_site in sizes]
        if held[-1] - held[0] >= 50_000 and all(b >= a for a, b in itertools.pairwise(held)):
            mb = [round(n / 2**20, 2) for n in held]
            found.append({"grew_mb": round(mb[-1] - mb[0], 2), "mb": mb, "where": where.format()})
    return sorted(found, key=lambda site: -site["grew_mb"])


if __name__ == "__main__":
    raise SystemExit(main())
