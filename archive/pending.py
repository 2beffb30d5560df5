"""A capture's images and its articles' image uses, kept until the capture's last record is
read: an article's image may come after it in the file. In temporary tables of the writer's
connection, not in memory, so that memory stays flat in the pages per capture."""

from __future__ import annotations

import json
import sqlite3

from .figures import ImageRef
from .images import ImageInfo
from .reader import Record
from .worker import Processed


class PendingImages:
    """A capture's images (the first record of each URL) and its articles' image uses waiting to
    be written, in temporary tables of the writer's connection: on disk, part of the capture's
    transaction, private to this connection."""

    _IMAGE = ("sha256", "record_id", "date", "member", "offset", "mime_type", "width", "height")
    _IMAGE += ("bytes", "note", "phash")
    _MARKS = ", ".join("?" * (1 + len(_IMAGE)))  # the url, then those

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS pending_images (url TEXT PRIMARY KEY, "
            + ", ".join(f'"{c}"' for c in self._IMAGE)
            + ")"
        )
        conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS pending_uses (article TEXT, position INTEGER, "
            "url TEXT, alt TEXT, caption TEXT, credit TEXT)"
        )
        self.close()

    def image(self, p: Processed) -> None:
        r, info = p.record, p.image
        self.conn.execute(
            f"INSERT OR IGNORE INTO pending_images VALUES ({self._MARKS})",
            (r.uri, p.payload_sha256, r.record_id, r.date, r.member, r.offset, info.mime_type)
            + (info.width, info.height, info.bytes, info.note, p.phash),
        )

    def uses(self, article: dict, refs: list[ImageRef]) -> None:
        data = json.dumps(article, ensure_ascii=False)
        self.conn.executemany(
            "INSERT INTO pending_uses VALUES (?, ?, ?, ?, ?, ?)",
            [(data, i, ref.url, ref.alt, ref.caption, ref.credit) for i, ref in enumerate(refs)],
        )

    def found(self, url: str) -> Processed | None:
        """The image record this capture holds for ``url``, as the writer needs it."""
        row = self.conn.execute(
            f"SELECT {', '.join(self._IMAGE)} FROM pending_images WHERE url = ?", (url,)
        ).fetchone()
        if row is None:
            return None
        sha, record_id, date, member, offset, mime, width, height, size, note, phash_ = row
        record = Record(offset, member, record_id, "response", url, date, mime_type=mime)
        info = ImageInfo(sha, mime, width, height, size, note)
        return Processed(record, sha, "image", image=info, phash=phash_)

    def all_uses(self):
        """(article, position, ref) of every use, in the order the articles came."""
        last = 0
        while True:
            batch = self.conn.execute(
                "SELECT rowid, * FROM pending_uses WHERE rowid > ? ORDER BY rowid LIMIT 500",
                (last,),
            ).fetchall()
            if not batch:
                return
            for _, article, position, url, alt, caption, credit in batch:
                yield json.loads(article), position, ImageRef(url, alt, caption, credit)
            last = batch[-1][0]

    def close(self) -> None:
        self.conn.execute("DELETE FROM pending_images")
        self.conn.execute("DELETE FROM pending_uses")
