"""Run the pure extraction step in parallel while the writer keeps input order.

Anything with ``submit(fn, *args) -> future`` and ``future.result()`` will do: a
``concurrent.futures`` process pool on one machine, or a Dask ``distributed.Client`` on a
cluster. The window bounds how many records are in flight, so memory stays flat.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor


class _Done:
    """A finished result, for items not worth sending to a worker."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def ordered_map(
    fn: Callable,
    items: Iterable,
    *args,
    executor=None,
    remote: Callable[[object], bool] = lambda item: True,
    window: int = 32,
    size: Callable[[object], int] = lambda item: 0,
    max_bytes: int = 16 << 20,
) -> Iterator:
    """Yield ``fn(item, *args)`` for each item, in order.

    Items for which ``remote(item)`` is true go to ``executor`` (when there is one); the rest run
    here. At most ``window`` items, and about ``max_bytes`` of them by ``size``, are in flight
    (always at least one), so memory stays flat whatever the records hold.
    """
    if executor is None:
        for item in items:
            yield fn(item, *args)
        return
    pending: deque = deque()
    in_flight = 0
    for item in items:
        n = size(item)
        if remote(item):
            pending.append((executor.submit(fn, item, *args), n))
        else:
            pending.append((_Done(fn(item, *args)), n))
        in_flight += n
        while len(pending) >= window or (in_flight > max_bytes and len(pending) > 1):
            future, n = pending.popleft()
            in_flight -= n
            yield future.result()
    while pending:
        yield pending.popleft()[0].result()


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` extraction processes beside the writer, or None for all the work in
    this one process (``workers`` 0)."""
    if workers <= 0:
        return None
    # fork: workers start in milliseconds and inherit the imported extractor
    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_start(parent: int) -> None:
    # Ctrl-C in a terminal signals the whole process group: the parent stops the run, and each
    # worker's own KeyboardInterrupt traceback helped no one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A worker that outlives a killed parent keeps what it inherited, the lock that keeps
    # `archive serve` off a database being written among it: die with the parent (Linux).
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: no such guard
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


class DaskExecutor:
    """Extraction on a Dask distributed cluster: workers extract and hash, nothing else.

    Records go to the workers and plain data comes back; the key and the database stay in this
    process, which signs and writes.
    """

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError as e:
            raise RuntimeError("--scheduler needs Dask: pip install 'archive[cluster]'") from e
        self.client = Client(address, set_as_default=False, timeout="10s")

    def submit(self, fn, *args):
        # pure=False: no hashing of large payloads into task keys
        return self.client.submit(fn, *args, pure=False)

    def shutdown(self) -> None:
        self.client.close()
