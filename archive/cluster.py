"""Extraction on a Dask distributed cluster (``archive ingest --scheduler``): the executor the
ingest hands records to, which checks the cluster before use (its address, a worker, the same
``archive`` code on every worker) and watches it while waiting (a lost scheduler, or no
workers for a minute, is a :class:`ClusterError`)."""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import logging
import platform
import re
import socket
import threading
import time
import unicodedata
from concurrent.futures import CancelledError
from pathlib import Path

from .errors import ArchiveError, ClusterError

#: The libraries whose versions change what a worker extracts from a page or an image: the
#: extractor and what it parses, dates and decodes with; the image decoder and the pHash's maths
RESULT_LIBRARIES = (
    "trafilatura", "lxml", "lxml_html_clean", "htmldate", "dateparser", "justext", "courlan",
    "charset-normalizer", "Pillow", "imagehash", "numpy", "scipy", "PyWavelets",
)  # fmt: skip


def _source_fingerprint() -> str:
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def _fingerprint() -> dict[str, str]:
    found = {
        "archive source": _source_fingerprint(),
        # NFKC (the claim text normalisation) follows Python's Unicode data; a patch release
        # changes neither it nor what extraction does (3.11.2 and 3.11.7 were refused)
        "Python": f"{'.'.join(platform.python_version_tuple()[:2])} "
        f"(Unicode {unicodedata.unidata_version})",
    }
    for name in RESULT_LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


#: taken when this module is imported: a worker that stays up keeps the code it loaded, whatever
#: its files say later
_FINGERPRINT = _fingerprint()


def code_fingerprint() -> dict[str, str]:
    """What a worker's results depend on, as this process loaded it: SHA-256 over this
    ``archive`` package's source, and the versions of Python and of ``RESULT_LIBRARIES``. A
    cluster worker must match the coordinator: a worker one commit behind dropped a paragraph,
    and one with an older trafilatura (which the project's requirements allow) signed 150
    claims where the others found 184, and nothing said so."""
    return dict(_FINGERPRINT)


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
        import dask

        self.address = address
        _check_address(address)
        # its own log lines (a lost connection, a closed client; asyncio's "Task exception was
        # never retrieved" after the workers were lost) would break the one-line errors: every
        # failure here is a ClusterError that says what happened
        for name in ["distributed", "asyncio", *logging.root.manager.loggerDict]:
            if name.startswith(("distributed", "asyncio")):
                logging.getLogger(name).setLevel(logging.CRITICAL)
        dask.config.set(
            {
                # distributed keeps the last 1,000 messages sent on each connection, for its
                # developers: the records' payloads, ~1 GB at most (the coordinator grew with
                # the file: a review). The scheduler and workers keep theirs: docs/scaling.md
                "distributed.admin.low-level-log-length": 0,
                # a record is up to the payload cap (32 MiB): a page, not a graph to warn of
                "distributed.admin.large-graph-warning-threshold": "1GiB",
            }
        )
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
        for worker, found in sorted(theirs.items()):
            if found == mine:
                continue
            self.shutdown()
            if not isinstance(found, dict):  # an archive from before versions were compared
                found = {"archive source": str(found)}
            # (a worker on a later version may compare more than this one does)
            what = next(k for k in [*mine, *found] if found.get(k) != mine.get(k))
            there, here = found.get(what, "not compared"), mine.get(what, "not compared")
            if what == "archive source":
                there, here = there[:12], here[:12]
            raise ClusterError(
                f"--scheduler {self.address}: worker {worker} runs other code than this "
                f"process ({what} {there}, here {here}); install the same versions on every "
                "worker (what a worker extracts depends on them)"
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
        from distributed.comm import CommClosedError

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
            except CommClosedError:
                # the scheduler's connection reset mid-gather: the cluster's failure, not the
                # file's (it was counted a failed file, then "lost the scheduler" followed)
                raise ClusterError(f"--scheduler {self.address}: lost the scheduler") from None
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
    if not m or not 0 < int(m["port"]) < 65536:  # a larger port wrapped round to another
        raise ClusterError(
            f"--scheduler {address}: not a scheduler address (tcp://HOST:PORT or tls://HOST:PORT)"
        )
    if m["scheme"] == "tls":
        import dask

        for setting, variable, needed in [
            ("client.cert", "DASK_DISTRIBUTED__COMM__TLS__CLIENT__CERT", True),
            ("ca-file", "DASK_DISTRIBUTED__COMM__TLS__CA_FILE", True),
            # (the key may be in the certificate's file)
            ("client.key", "DASK_DISTRIBUTED__COMM__TLS__CLIENT__KEY", False),
        ]:
            # each named and checked here: the CA missing gave a 20 s wait and a traceback
            named = dask.config.get(f"distributed.comm.tls.{setting}", None)
            if not named and not needed:
                continue
            if not named:
                raise ClusterError(
                    f"--scheduler {address}: tls:// needs the client's certificate, key and CA "
                    f"in Dask's configuration: {variable} is not set (docs/scaling.md)"
                )
            if not Path(named).is_file():
                raise ClusterError(f"--scheduler {address}: {variable}: no file at {named}")
    try:
        socket.create_connection((m["host"].strip("[]"), int(m["port"])), timeout=10).close()
    except (OSError, UnicodeError, ValueError) as e:  # "a..b": IDNA refuses the empty label
        raise ClusterError(f"--scheduler {address}: cannot connect ({e})") from None


class _ClusterFuture:
    def __init__(self, executor: DaskExecutor, future):
        self._executor, self._future = executor, future

    def result(self):
        return self._executor.wait(self._future)

    def cancel(self) -> None:
        # a reading stopped (an error, a stop) cancels what it still has in flight: without
        # this, an AttributeError there hid the error that stopped it (found this round)
        self._future.cancel()


def _reason(e: BaseException) -> str:
    """An exception in one line, without the traceback distributed attaches to some."""
    text = " ".join(str(e).split()) or type(e).__name__
    return text[:200]
