"""Run the pure extraction step in parallel while the writer keeps input order.

Anything with ``submit(fn, *args) -> future`` and ``future.result()`` will do: a
``concurrent.futures`` process pool on one machine, or a Dask ``distributed.Client`` on a
cluster. The window bounds how many records are in flight, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import InvalidStateError, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from multiprocessing.connection import wait

from . import stops


class _Done:
    """A finished result, for items not worth sending to a worker."""

    def __init__(self, value):
        self.value = value

    def result(self, timeout=None):  # (a local pool's results are waited for with one)
        return self.value

    def cancel(self) -> bool:
        return False


class OrderedMap:
    """Iterate over ``fn(item, *args)`` for each item, in order.

    Items for which ``remote(item)`` is true go to ``executor`` (when there is one); the rest run
    here. At most ``window`` items, and about ``max_bytes`` of them by ``size``, are in flight
    (always at least one), so memory stays flat whatever the records hold. ``start()`` sends the
    first window before any result is asked for: an ingest starts the next capture file's
    records while it finishes this one's (archive/ingest.py).
    """

    def __init__(
        self,
        fn: Callable,
        items: Iterable,
        *args,
        executor=None,
        remote: Callable[[object], bool] = lambda item: True,
        window: int = 32,
        size: Callable[[object], int] = lambda item: 0,
        max_bytes: int = 16 << 20,
    ):
        self._fn, self._args, self._items = fn, args, iter(items)
        self._executor, self._remote, self._size = executor, remote, size
        # without an executor, each result is made when it is asked for, not a window ahead
        self._window = window if executor is not None else 1
        self._max_bytes = max_bytes
        self._pending: deque = deque()
        self._in_flight = 0
        self._ended = False

    def _full(self) -> bool:
        pending = len(self._pending)
        return pending >= self._window or (self._in_flight > self._max_bytes and pending > 1)

    def _send(self) -> None:
        """Send the next item (or run it here), or note that there are no more."""
        try:
            item = next(self._items)
        except StopIteration:
            self._ended = True
            return
        n = self._size(item)
        if self._executor is not None and self._remote(item):
            future = self._executor.submit(self._fn, item, *self._args)
        else:
            future = _Done(self._fn(item, *self._args))
        self._pending.append((future, n))
        self._in_flight += n

    def start(self) -> None:
        """Send items until the window is full, before any result is asked for."""
        while not self._ended and not self._full():
            self._send()

    def close(self) -> None:
        """Drop what is still in flight (what has not started is cancelled) and stop reading
        the items: a generator is closed now, not when the garbage collector finds it."""
        for future, _ in self._pending:
            future.cancel()
        self._pending.clear()
        self._in_flight, self._ended = 0, True
        close = getattr(self._items, "close", None)
        if close is not None:
            close()

    def __iter__(self) -> OrderedMap:
        return self

    def __next__(self):
        while not self._ended and not self._full():
            self._send()
        if not self._pending:
            raise StopIteration
        future, n = self._pending.popleft()
        self._in_flight -= n
        return _result(future, self._executor)


def _result(future, executor):
    """``future.result()``; with a local pool, unless one of its workers died while it wrote a
    large result: the half it left in the result pipe kept the pool's manager thread waiting
    for the rest, blind to the death, and the result never came (the stop path's hang, in the
    middle of a run: an OOM kill). Then the other workers are killed and the pipe let go, and
    the result is the pool's BrokenProcessPool."""
    processes = _processes_of(executor)
    if not processes:  # no pool here (a cluster's futures wait in their own way), or none
        return future.result()
    while True:
        try:
            return future.result(timeout=1)
        except FutureTimeout:
            if any(map(_died, processes)):
                _kill(processes)
                _release_results(executor, processes)


def default_workers() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def process_pool(workers: int) -> ProcessPoolExecutor | None:
    """A pool of ``workers`` extraction processes beside the writer, or None for all the work in
    this one process (``workers`` 0)."""
    if workers <= 0:
        return None
    # fork: workers start in milliseconds and inherit the imported extractor
    return _ForkingPool(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )


class _ForkingPool(ProcessPoolExecutor):
    """Forks its workers with the stopping signals held back until all are forked. A signal that
    arrived during a fork ran its handler in the fork's after-fork hooks (logging's), where
    Python ignores exceptions: the ingest went on to its end as if never stopped (seen in a
    test on a busy machine). Held, it is raised once every process is forked and known."""

    def _launch_processes(self):
        with signals_held():
            super()._launch_processes()


@contextlib.contextmanager
def signals_held(meanwhile: Callable[[int], object] | None = None):
    """Hold the stopping signals (``stops.SIGNALS``) back while the block runs (calling
    ``meanwhile(signal number)`` as each comes), then act on the first that came: its handler,
    or its default action. Only the main thread can set handlers: elsewhere, nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum, frame):
        held.append(signum)
        if meanwhile is not None:
            meanwhile(signum)

    # a signal the process ignores (an ingest started in the background by a script) stays so
    previous = {
        s: signal.signal(s, hold) for s in stops.SIGNALS if signal.getsignal(s) != signal.SIG_IGN
    }
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    if held:
        handler = previous[held[0]]
        if callable(handler):
            handler(held[0], None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(held[0])


def kill_workers(executor) -> None:
    """Kill the processes left in a pool a worker's death broke. The others may wait forever on
    a queue the dead one held locked, and Python 3.11's pool waits for them to exit before its
    shutdown returns (3.12 kills them itself): the ingest hung."""
    _kill(_processes_of(executor))


def stop_pool(executor, cancel: bool = False) -> None:
    """Shut ``executor`` down (``cancel``: drop the work queued and in hand, its workers killed
    at once). A pool interrupted while
    it started (Ctrl-C as its processes were forked, before its manager thread ran) cannot be:
    Python 3.11 joins the thread it never started and raises, or, interrupted between two
    forks, forgets the processes forked so far, which then keep the exit waiting for ever. Any
    process still alive after the shutdown is killed."""
    processes = _processes_of(executor)  # the shutdown forgets them
    with _quiet_cancelled_futures():
        if cancel:
            # nothing in hand is wanted: a shutdown waits for the records the workers hold,
            # and a worker stuck in one (spinning in a library's allocator under a memory
            # limit) kept the first Ctrl-C or SIGTERM from stopping the ingest, and the write
            # lock held (an archivist's review); only a second signal stopped it
            _kill(processes)
            _release_results(executor, processes)
        # A Ctrl-C (or a SIGTERM) while the pool stops means "now": the workers are killed,
        # not waited for, and the signal is acted on once they are. It used to escape the
        # shutdown before the workers were killed, and the exit then waited for ever for
        # workers that ignore both signals.
        try:
            with signals_held(meanwhile=lambda signum: _kill(processes)):
                with contextlib.suppress(RuntimeError):
                    executor.shutdown(cancel_futures=cancel)
        finally:
            _kill(processes)


@contextlib.contextmanager
def _quiet_cancelled_futures():
    """Python 3.11's pool, broken by its workers' kill, sets an exception on each future in
    hand, and one already cancelled raises InvalidStateError in its manager thread, which
    printed a traceback (3.12 lets it go). Harmless: the shutdown joins that thread, so the
    error is let go while the pool stops, and any other thread's error is printed as ever."""
    previous = threading.excepthook

    def hook(args):
        if not (
            isinstance(args.exc_value, InvalidStateError)
            and type(args.thread).__name__ == "_ExecutorManagerThread"
        ):
            previous(args)

    threading.excepthook = hook
    try:
        yield
    finally:
        threading.excepthook = previous


def _processes_of(executor) -> list:
    """A local pool's worker processes (none for a Dask client)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def _release_results(executor, processes) -> None:
    """Once the killed ``processes`` are gone, close this process's own copy of the pipe they
    sent results on. A worker killed while writing a large result left half of it there, and
    the pool's manager thread waited for the rest for ever, as this process also holds the
    pipe's writing end: the shutdown joined that thread, and the ingest hung on SIGTERM (seen
    once in CI, 1 run in 14 by hand). With no writer left, its read ends, the pool counts as
    broken and the shutdown returns."""
    deadline = time.monotonic() + 5
    for process in processes:
        with contextlib.suppress(Exception):  # one already reaped and closed
            wait([process.sentinel], max(0.0, deadline - time.monotonic()))
    writer = getattr(getattr(executor, "_result_queue", None), "_writer", None)
    if writer is not None:
        with contextlib.suppress(OSError):
            writer.close()


def _died(process) -> bool:
    try:
        return process.exitcode is not None
    except ValueError:  # closed: the pool's shutdown is done with it
        return True


def _kill(processes) -> None:
    for process in processes:
        with contextlib.suppress(Exception):  # one gone already
            if process.is_alive():
                process.kill()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_start(parent: int) -> None:
    # Ctrl-C in a terminal signals the whole process group, as do a service manager's SIGTERM
    # and a closed terminal's SIGHUP: the parent stops the run and shuts the pool down. A
    # worker's own KeyboardInterrupt traceback helped no one; the parent's handler, forked with
    # it, printed one in each idle worker; and dying at once, a worker could leave the pool's
    # queues locked and the parent hung.
    for signum in stops.SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    # A worker that outlives a killed parent keeps what it inherited, the lock that keeps
    # `archive serve` off a database being written among it: die with the parent (Linux).
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: no such guard
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)
