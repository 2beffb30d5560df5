"""``archive verify --captures``: each stored capture file read again, and what ingest recorded
of its records compared with what the file says.

``capture_records`` (every record's type, id, URL, time, HTTP status, media type, payload size
and hash, and digest check) and the captures' record counts are derived from the file at
ingest and not signed: edited, nothing else would show it. The file itself is checked against
its signed hash by ``archive verify``; re-reading it here re-derives the rest. The role and note
of a record (what extraction made of it) are not: re-extracting is the ingest's work.
"""

from __future__ import annotations

import sqlite3

from .config import Limits
from .errors import ArchiveError
from .hashing import sha256_hex
from .reader import CaptureReader

#: What is compared of each record: capture_records' columns, and the reader's fields.
COLUMNS = (
    "warc_record_id", "type", "url", "captured_at", "status", "mime_type", "digest",
)  # fmt: skip
#: At most this many differences are named per capture (then how many more).
MAX_NAMED = 5
#: The smallest payload cap ingest takes (``--max-payload-mb 1``): a payload the file holds
#: within it was read and hashed by any ingest, so a row without its hash was edited.
READ_AT_ANY_CAP = 1 << 20


def check_capture(conn: sqlite3.Connection, path: str, sha: str) -> list[str]:
    """What differs between the stored capture file at ``path`` and the rows ingest wrote for
    capture ``sha``: [] when they agree. A payload hash and size are compared where ingest
    recorded one (a payload over the cap it ran with has none)."""
    rows = conn.execute(
        f'SELECT member, "offset", {", ".join(COLUMNS)}, payload_bytes, payload_sha256 '
        "FROM capture_records WHERE capture_sha256 = ?",
        (sha,),
    )
    recorded = {(r[0], r[1]): r[2:] for r in rows}
    records, failures = conn.execute(
        "SELECT records, digest_failures FROM captures WHERE sha256 = ?", (sha,)
    ).fetchone()
    # the largest payload ingest held is read again whole (its cap may have been raised); an
    # edited size of another type is compared below, not used here
    largest = max(
        (r[-2] for r in recorded.values() if r[-1] is not None and type(r[-2]) is int),
        default=0,
    )
    limits = Limits(max_payload_bytes=max(Limits().max_payload_bytes, largest))
    problems: list[str] = []
    seen = failed = 0
    reader = CaptureReader(path, limits)
    try:
        for record in reader:
            seen += 1
            failed += record.digest == "failed"
            where = f"{record.member}!{record.offset}" if record.member else str(record.offset)
            kept = recorded.pop((record.member, record.offset), None)
            if kept is None:
                problems.append(f"record at {where}: in the file, not in capture_records")
                continue
            found = (
                record.record_id,
                record.type,
                record.uri or None,
                record.date,
                record.status,
                record.mime_type,
                record.digest,
            )
            for name, was, now in zip(COLUMNS, kept[: len(COLUMNS)], found, strict=True):
                if was != now:
                    problems.append(f"record at {where}: {name} is {was!r}, the file says {now!r}")
            size, payload_sha = kept[len(COLUMNS) :]
            read = record.payload is not None
            if payload_sha is not None:
                now_sha = sha256_hex(record.payload) if read else None
                if (size, payload_sha) != (record.payload_bytes, now_sha):
                    problems.append(f"record at {where}: payload_sha256 or payload_bytes differ")
            elif read and len(record.payload) <= READ_AT_ANY_CAP:
                problems.append(
                    f"record at {where}: no payload_sha256, though every ingest reads its "
                    f"{len(record.payload):,}-byte payload"
                )
            elif size is not None and size != record.payload_bytes:
                problems.append(f"record at {where}: payload_bytes differs")
            record.payload = None  # one payload at a time
    except (ArchiveError, OSError) as e:
        return [f"the stored file cannot be read again: {e}"]
    for member, offset in sorted(recorded, key=str):  # (edited keys may be of any type)
        where = f"{member}!{offset}" if member else str(offset)
        problems.append(f"record at {where}: in capture_records, not in the file")
    if records != seen:
        problems.append(f"captures.records is {records!r}, the file holds {seen} records")
    if failures != failed:
        problems.append(f"captures.digest_failures is {failures!r}, the file's is {failed}")
    if len(problems) > MAX_NAMED:
        problems[MAX_NAMED:] = [f"... and {len(problems) - MAX_NAMED} more"]
    return problems
