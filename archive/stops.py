"""Ctrl-C, SIGTERM and SIGHUP, each a ``KeyboardInterrupt`` that no library can lose.

Python raises a signal's exception wherever the main thread happens to be, and a library's bare
``except:`` there takes it for its own error and carries on: warcio's header decoding did (the
ingest then ran to its end and exited 0, fifteenth round), and warcio and others have more such
clauses. So the handlers here also note the stop, and :func:`check` raises it again: ingest
calls it at each record read and written, before each commit, at each file's start and after a
file fails, and every command as it ends.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat

#: The signals that stop a command: Ctrl-C; SIGTERM (``timeout``, systemd, ``kill``); SIGHUP,
#: a terminal or ssh session gone (none on Windows).
SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_WORDS = {"SIGINT": "Interrupted", "SIGTERM": "Terminated", "SIGHUP": "Hangup"}

_stopped: int | None = None  # the signal that stopped the command


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, stopping a command as Ctrl-C does: the file being ingested rolled
    back, a summary of the others, one line. Without it the process died where it stood,
    saying nothing (and a dropped ssh session left the write lock to the kernel)."""

    def __init__(self, *args, signum: int = signal.SIGTERM):
        super().__init__(*args)
        self.status, self.word = 128 + signum, word(signum)


def word(signum: int) -> str:
    """How a stop by ``signum`` is reported: "Interrupted", "Terminated" or "Hangup"."""
    return _WORDS.get(signal.Signals(signum).name, "Stopped")


def _stop_for(signum: int) -> KeyboardInterrupt:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum=signum)


def stop(signum, frame) -> None:
    """The handler for the :data:`SIGNALS`: note the stop, and raise it."""
    global _stopped
    _stopped = signum
    if signum == getattr(signal, "SIGHUP", None):
        _away_from_the_terminal()
    raise _stop_for(signum)


def _away_from_the_terminal() -> None:
    """A hung-up terminal fails every write (EIO): the command's last words (the summary,
    "Hangup") ended in a traceback and status 1 (a review). Standard output and error, when
    they are a terminal (a character device: ``isatty`` fails on a hung-up one), go to the
    null device instead; pipes and files keep them."""
    try:
        null = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                if stat.S_ISCHR(os.fstat(fd).st_mode):
                    os.dup2(null, fd)
    finally:
        os.close(null)


def check() -> None:
    """Raise the stop that came (a fresh exception of its kind), if one came since
    :func:`reset`: the first was swallowed somewhere, or is on its way up."""
    if _stopped is not None:
        raise _stop_for(_stopped)


def reset() -> None:
    """Forget any stop (a command's start and end: tests run many in one process)."""
    global _stopped
    _stopped = None
