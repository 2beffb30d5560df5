"""Ctrl-C and SIGTERM, each a ``KeyboardInterrupt`` that no library can lose.

Python raises a signal's exception wherever the main thread happens to be, and a library's bare
``except:`` there takes it for its own error and carries on: warcio's header decoding did (the
ingest then ran to its end and exited 0, fifteenth round), and warcio and others have more such
clauses. So the handlers here also note the stop, and :func:`check` raises it again: ingest
calls it at each record read and written, before each commit, at each file's start and after a
file fails, and every command as it ends.
"""

from __future__ import annotations

import signal

_stopped: type[KeyboardInterrupt] | None = None


class Terminated(KeyboardInterrupt):
    """SIGTERM (``timeout``, systemd, ``kill``), stopping a command as Ctrl-C does: the file
    being ingested rolled back, a summary of the others, one line. Without it the process died
    where it stood, saying nothing."""

    def __init__(self, *args):
        super().__init__(*args)
        self.status, self.word = 128 + signal.SIGTERM, "Terminated"


def stop(signum, frame) -> None:
    """The handler for SIGINT and SIGTERM: note the stop, and raise it."""
    global _stopped
    _stopped = Terminated if signum == signal.SIGTERM else KeyboardInterrupt
    raise _stopped()


def check() -> None:
    """Raise the stop that came (a fresh exception of its kind), if one came since
    :func:`reset`: the first was swallowed somewhere, or is on its way up."""
    if _stopped is not None:
        raise _stopped()


def reset() -> None:
    """Forget any stop (a command's start and end: tests run many in one process)."""
    global _stopped
    _stopped = None
