"""Shared helpers for the performance benchmarks (benchmarks/ingest.py, verify_speed.py,
query_speed.py, make_corpus.py): paths, fresh archive environments, and a process-tree memory
monitor.

Peak memory of a command is measured by polling ``/proc`` every 50 ms for the command's whole
process tree (the command and every descendant, e.g. ingest's worker pool):

- ``peak_tree_rss_mb``: the largest sum of VmRSS over the tree seen at one poll. Forked workers
  share copy-on-write pages with their parent, so this sum counts shared pages more than once:
  an upper bound.
- ``peak_tree_pss_mb``: the largest sum of Pss (``/proc/<pid>/smaps_rollup``) at one poll: shared
  pages divided among the processes sharing them, so the tree's real footprint.
- ``max_process_hwm_mb``: the largest VmHWM (the kernel's own peak RSS) of any single process of
  the tree; catches short peaks between polls, per process.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "benchmarks"
OUT = BENCH / "out"  # git-ignored
VENV_BIN = REPO / ".venv" / "bin"
PYTHON = str(VENV_BIN / "python") if (VENV_BIN / "python").exists() else sys.executable
ARCHIVE_CLI = str(VENV_BIN / "archive") if (VENV_BIN / "archive").exists() else "archive"


def load_build_samples():
    """examples/build_samples.py as a module (render, make_jpeg, CaptureWriter, Page, Figure)."""
    name = "archive_examples_build_samples"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "examples" / "build_samples.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def archive_env(home: Path) -> dict:
    """Environment for an ``archive`` subprocess with its own data home and key directory."""
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_DB", "ARCHIVE_KEY")}
    env["ARCHIVE_HOME"] = str(home / "records")
    env["XDG_CONFIG_HOME"] = str(home / "config")
    env.pop("ARCHIVE_KEY_PASSPHRASE", None)
    return env


def machine() -> dict:
    mem_gb = None
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gb": mem_gb,
        "cpu": cpu,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in Path(path).rglob("*") if p.is_file())


# -- process-tree memory -------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may hold spaces and parentheses: the ppid follows the last ")"
        rest = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(rest[1]), []).append(int(entry))
    return children


def _tree(root: int) -> list[int]:
    children = _children_map()
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _status_kb(pid: int, *fields: str) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in fields:
                    out[key] = int(line.split()[1])
    except OSError:
        pass
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeMonitor:
    """Polls the memory of ``pid`` and all its descendants until stopped."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak_rss_kb = 0
        self.peak_pss_kb = 0
        self.max_hwm_kb = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> TreeMonitor:
        self._thread.start()
        return self

    def _poll(self) -> None:
        pids = _tree(self.pid)
        rss = pss = 0
        for pid in pids:
            st = _status_kb(pid, "VmRSS", "VmHWM")
            rss += st.get("VmRSS", 0)
            self.max_hwm_kb = max(self.max_hwm_kb, st.get("VmHWM", 0))
            pss += _pss_kb(pid)
        self.peak_rss_kb = max(self.peak_rss_kb, rss)
        self.peak_pss_kb = max(self.peak_pss_kb, pss)
        self.max_processes = max(self.max_processes, len(pids))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self.interval)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()
        return {
            "peak_tree_rss_mb": round(self.peak_rss_kb / 1024, 1),
            "peak_tree_pss_mb": round(self.peak_pss_kb / 1024, 1),
            "max_process_hwm_mb": round(self.max_hwm_kb / 1024, 1),
            "max_processes": self.max_processes,
        }


def run_measured(cmd: list[str], env: dict | None = None, timeout: float = 3600) -> dict:
    """Run ``cmd``, timing it and watching its process tree's memory; killed after ``timeout``."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = loadavg()
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        start_new_session=True,  # its own process group: a timeout ends the workers too
    )
    monitor = TreeMonitor(proc.pid).start()
    timed_out = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        import signal

        timed_out = True
        mem = monitor.stop()  # before the kill: the peak of the run, not of its end
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    wall = time.perf_counter() - start
    if not timed_out:
        mem = monitor.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "cmd": cmd,
        "rc": proc.returncode,
        "wall_s": round(wall, 3),
        # CPU seconds of the command and its reaped descendants (the pool workers): less
        # sensitive than wall time to other load on the machine
        "cpu_s": round(cpu, 3),
        "loadavg_before_after": [load_before, loadavg()],
        "timed_out": timed_out,
        "stdout": stdout,
        "stderr": stderr,
        **mem,
    }


def loadavg() -> float:
    """The 1-minute load average: other work on the machine during a measurement."""
    try:
        with open("/proc/loadavg") as f:
            return float(f.read().split()[0])
    except OSError:
        return -1.0


def built_once(path: Path, build, *args) -> Path:
    """``path``, made by ``build(path, *args)`` unless it exists (a benchmark's fixture)."""
    if not path.exists():
        print(f"building {path.name} ...", file=sys.stderr)
        build(path, *args)
    return path


def write_json(path: Path | str, data) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def pyplot():
    """matplotlib's pyplot (Agg), or None, said, when matplotlib is not installed: a benchmark
    keeps its results and leaves out only the plot (growth.py stopped at it, after its run)."""
    try:
        import matplotlib
    except ImportError:
        print(
            "no plot: matplotlib is not installed (.venv/bin/pip install matplotlib)",
            file=sys.stderr,
        )
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path: Path) -> None:
    """Lay out and write a matplotlib figure (PNG), creating its folder; say where."""
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    print(f"wrote {path}", file=sys.stderr)
