"""Run the pure extraction step in parallel while the writer keeps input order.

Anything with ``submit(fn, *args) -> future`` and ``future.result()`` will do: a
``concurrent.futures`` process pool on one machine, or a Dask ``distributed.Client`` on a
cluster. The window bounds how many records are in flight, so memory stays flat.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import logging
import multiprocessing
import os
import re
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import CancelledError, ProcessPoolExecutor
from pathlib import Path

from .errors import ArchiveError, ClusterError


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
    return _ForkingPool(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=_worker_start,
        initargs=(os.getpid(),),
    )


class _ForkingPool(ProcessPoolExecutor):
    """Forks its workers with Ctrl-C and SIGTERM held back until all are forked. A signal that
    arrived during a fork ran its handler in the fork's after-fork hooks (logging's), where
    Python ignores exceptions: the ingest went on to its end as if never stopped (seen in a
    test on a busy machine). Held, it is raised once every process is forked and known."""

    def _launch_processes(self):
        with signals_held():
            super()._launch_processes()


_STOPS = (signal.SIGINT, signal.SIGTERM)


@contextlib.contextmanager
def signals_held(meanwhile: Callable[[int], object] | None = None):
    """Hold Ctrl-C and SIGTERM back while the block runs (calling ``meanwhile(signal number)``
    as each comes), then act on the first that came: its handler, or its default action. Only
    the main thread can set handlers: elsewhere, nothing is held."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    held: list[int] = []

    def hold(signum, frame):
        held.append(signum)
        if meanwhile is not None:
            meanwhile(signum)

    # a signal the process ignores (an ingest started in the background by a script) stays so
    previous = {s: signal.signal(s, hold) for s in _STOPS if signal.getsignal(s) != signal.SIG_IGN}
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
    """Shut ``executor`` down (``cancel``: drop the work still queued). A pool interrupted while
    it started (Ctrl-C as its processes were forked, before its manager thread ran) cannot be:
    Python 3.11 joins the thread it never started and raises, or, interrupted between two
    forks, forgets the processes forked so far, which then keep the exit waiting for ever. Any
    process still alive after the shutdown is killed."""
    processes = _processes_of(executor)  # the shutdown forgets them
    # A Ctrl-C (or a SIGTERM) while the pool stops means "now": the workers are killed, not
    # waited for, and the signal is acted on once they are. It used to escape the shutdown
    # before the workers were killed, and the exit then waited for ever for workers that ignore
    # both signals.
    try:
        with signals_held(meanwhile=lambda signum: _kill(processes)):
            with contextlib.suppress(RuntimeError):
                executor.shutdown(cancel_futures=cancel)
    finally:
        _kill(processes)


def _processes_of(executor) -> list:
    """A local pool's worker processes (none for a Dask client)."""
    return list((getattr(executor, "_processes", None) or {}).values())


def _kill(processes) -> None:
    for process in processes:
        with contextlib.suppress(Exception):  # one gone already
            if process.is_alive():
                process.kill()


_PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _worker_start(parent: int) -> None:
    # Ctrl-C in a terminal signals the whole process group: the parent stops the run, and each
    # worker's own KeyboardInterrupt traceback helped no one.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # SIGTERM too (a service manager signals the whole group): the parent stops the run and
    # shuts the pool down. Its handler, forked with it, printed a traceback in each idle worker;
    # dying at once, a worker could leave the pool's queues locked and the parent hung.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # A worker that outlives a killed parent keeps what it inherited, the lock that keeps
    # `archive serve` off a database being written among it: die with the parent (Linux).
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # not Linux: no such guard
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def _source_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


#: taken when this module is imported: a worker that stays up keeps the code it loaded, whatever
#: its files say later
_FINGERPRINT = _source_fingerprint()


def code_fingerprint() -> str:
    """SHA-256 over the source of this ``archive`` package as this process loaded it: a
    cluster worker must run the same code as the coordinator (a worker one commit behind
    dropped a paragraph, and nothing said so; the version number had not changed)."""
    return _FINGERPRINT


class DaskExecutor:
    """Extraction on a Dask distributed cluster: workers extract and hash, nothing else.

    Records go to the workers and plain data comes back; the key and the database stay in this
    process, which signs and writes. Every failure of the cluster is a :class:`ClusterError`:
    one line, and the run stops (a cluster without workers waited forever, holding the
    archive's write lock).
    """

    #: how long to wait for a first worker, and for one to come back when all are gone
    WAIT_SECONDS = 60
    #: how often a wait for a result looks at the cluster
    POLL_SECONDS = 5

    def __init__(self, address: str):
        try:
            from distributed import Client
        except ImportError as e:
            raise ClusterError("--scheduler needs Dask: pip install 'archive[cluster]'") from e
        self.address = address
        _check_address(address)
        # its own log lines (a lost connection, a closed client) would break the one-line
        # errors: every failure here is a ClusterError that says what happened
        for name in ["distributed", *logging.root.manager.loggerDict]:
            if name.startswith("distributed"):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        self.client = _connect(Client, address, self.WAIT_SECONDS)
        try:
            self.client.wait_for_workers(1, timeout=self.WAIT_SECONDS)
        except Exception:  # noqa: BLE001 - distributed's TimeoutError, or the scheduler gone
            self.shutdown()
            raise ClusterError(
                f"--scheduler {address}: no worker joined in {self.WAIT_SECONDS} s"
            ) from None
        self._check_code()

    def _check_code(self) -> None:
        mine = code_fingerprint()
        try:
            theirs = self.client.run(code_fingerprint)
        except Exception as e:  # noqa: BLE001 - a worker that cannot import archive
            self.shutdown()
            raise ClusterError(
                f"--scheduler {self.address}: a worker cannot run archive ({_reason(e)})"
            ) from None
        other = sorted(worker for worker, found in theirs.items() if found != mine)
        if other:
            self.shutdown()
            raise ClusterError(
                f"--scheduler {self.address}: worker {other[0]} runs other archive code than "
                f"this process (source {theirs[other[0]][:12]}, here {mine[:12]}); install the "
                "same version on every worker"
            )

    def submit(self, fn, *args):
        # pure=False: no hashing of large payloads into task keys
        try:
            return _ClusterFuture(self, self.client.submit(fn, *args, pure=False))
        except Exception as e:  # noqa: BLE001 - a closed client after the scheduler was lost
            raise ClusterError(f"--scheduler {self.address}: {_reason(e)}") from None

    def wait(self, future):
        """``future``'s result; a :class:`ClusterError` when the cluster cannot give it."""
        from distributed import KilledWorker

        alone_since = None
        while True:
            try:
                return future.result(timeout=self.POLL_SECONDS)
            except TimeoutError:
                if future.done():
                    raise  # the task's own
            except KilledWorker:
                # the record, not the cluster: the file fails, the run goes on
                raise ArchiveError(
                    f"--scheduler {self.address}: a record of this file made every cluster "
                    "worker that took it die (a page the extractor crashes on)"
                ) from None
            except CancelledError as e:
                raise ClusterError(f"--scheduler {self.address}: {_reason(e)}") from None
            workers = None
            if self.client.status == "running":
                # a scheduler that stops answering (stopped, not gone) must not hang the run
                answer = _within(self.WAIT_SECONDS, self.client.nthreads)
                workers = answer[0] if answer and isinstance(answer[0], dict) else None
            if workers is None:
                raise ClusterError(f"--scheduler {self.address}: lost the scheduler")
            if workers:
                alone_since = None
            elif alone_since is None:
                alone_since = time.monotonic()
            elif time.monotonic() - alone_since > self.WAIT_SECONDS:
                raise ClusterError(
                    f"--scheduler {self.address}: no workers left for {self.WAIT_SECONDS} s"
                )

    def shutdown(self, wait: bool = True, cancel_futures: bool = False) -> None:
        """As ``Executor.shutdown``; closing the client cancels whatever it still runs."""
        with contextlib.suppress(Exception):
            self.client.close(timeout=10)


def _within(seconds: float, fn) -> list:
    """``[fn()]``, ``[the exception it raised]``, or ``[]`` when it took longer than
    ``seconds``: it runs in a thread of its own, left behind (distributed's calls can wait
    without end on a scheduler that stopped, or on a server that is not one)."""
    found: list = []

    def run():
        try:
            found.append(fn())
        except Exception as e:  # noqa: BLE001 - the caller says what failed
            found.append(e)

    thread = threading.Thread(target=run, daemon=True, name="archive-dask-call")
    thread.start()
    thread.join(seconds)
    return found


def _connect(client_class, address: str, seconds: float):
    """A client of the scheduler at ``address``, with a deadline: against a server that is not
    a Dask scheduler, distributed's own timeout never fires (it waited 11 minutes on an HTTP
    server)."""
    made = _within(seconds, lambda: client_class(address, set_as_default=False, timeout="10s"))
    if not made:
        raise ClusterError(f"--scheduler {address}: no Dask scheduler answered in {seconds} s")
    if isinstance(made[0], Exception):
        raise ClusterError(f"--scheduler {address}: cannot connect ({_reason(made[0])})")
    return made[0]


#: What ``--scheduler`` takes: Dask's tcp:// or tls:// address, or host:port (tcp)
_ADDRESS = re.compile(
    r"^(?:(?P<scheme>tcp|tls)://)?(?P<host>\[[0-9a-fA-F:]+\]|[\w.\-]+):(?P<port>\d{1,5})$"
)


def _check_address(address: str) -> None:
    """Refuse what distributed's client would fail on slowly or with a traceback (a malformed
    address, an unreachable host, tls:// without certificates), before making one."""
    m = _ADDRESS.match(address)
    if not m:
        raise ClusterError(
            f"--scheduler {address}: not a scheduler address (tcp://HOST:PORT or tls://HOST:PORT)"
        )
    if m["scheme"] == "tls":
        import dask

        if not dask.config.get("distributed.comm.tls.client.cert", None):
            raise ClusterError(
                f"--scheduler {address}: tls:// needs the client's certificate, key and CA in "
                "Dask's configuration (DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT, "
                "..._CLIENT__KEY, DASK_DISTRIBUTED__COMM__TLS__CA_FILE; docs/scaling.md)"
            )
    try:
        socket.create_connection((m["host"].strip("[]"), int(m["port"])), timeout=10).close()
    except (OSError, UnicodeError, ValueError) as e:  # "a..b": IDNA refuses the empty label
        raise ClusterError(f"--scheduler {address}: cannot connect ({e})") from None


class _ClusterFuture:
    def __init__(self, executor: DaskExecutor, future):
        self._executor, self._future = executor, future

    def result(self):
        return self._executor.wait(self._future)


def _reason(e: BaseException) -> str:
    """An exception in one line, without the traceback distributed attaches to some."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]
