"""A capture file's records on their way through the workers: read here, sent in file order a
window at a time (``parallel.OrderedMap``), and each result checked to be about the record that
was sent. Started before the file's transaction when it is the next file (archive/ingest.py)."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator

from . import stops
from .config import Limits
from .errors import CaptureError
from .hashing import sha256_hex
from .parallel import OrderedMap
from .reader import CaptureReader
from .worker import Context, Processed, identity, payload_size, process_record, worth_sending


class Reading:
    """Iterate over the results of one capture file's records, in file order."""

    def __init__(
        self,
        reader: CaptureReader,
        limits: Limits,
        context: Context,
        executor=None,
        on_end: Callable[[Reading], None] | None = None,
    ):
        """``on_end(reading)``: called once the last record is sent. Without trusted workers
        (``context.statements`` off: a cluster), payloads are hashed here too, and a result
        must have the same hash."""
        self.reader = reader
        #: its last record is sent
        self.ended = False
        # What each record is, as read here, in order: a worker's result must be about it.
        self._sent: deque[tuple] = deque()
        self._hash_here = not context.statements
        self._on_end = on_end
        self.results = OrderedMap(
            process_record,
            self._tracked(),
            limits,
            context,
            executor=executor,
            remote=worth_sending,
            size=payload_size,
        )

    def _tracked(self):
        for r in self.reader:
            stops.check()  # a Ctrl-C that warcio's bare except: clauses took for their own error
            payload_sha = sha256_hex(r.payload) if self._hash_here and r.payload else None
            self._sent.append((identity(r), payload_sha))
            yield r
        self.ended = True
        if self._on_end is not None:
            self._on_end(self)

    def close(self) -> None:
        """Stop: the records still in flight are dropped and the capture file is closed now
        (a reading refers to itself through its records, so it is not freed at once)."""
        self.results.close()

    def start(self) -> None:
        """Send the first records before any result is asked for (``OrderedMap.start``)."""
        self.results.start()

    def __iter__(self) -> Iterator[Processed]:
        for p in self.results:
            stops.check()
            expected, payload_sha = self._sent.popleft()
            if identity(p.record) != expected or (
                payload_sha is not None and p.payload_sha256 != payload_sha
            ):
                raise CaptureError(
                    self.reader.name, "a worker returned another record", expected[0]
                )
            yield p
