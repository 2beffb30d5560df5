"""Image links (``image_links``): near copies of an image by pHash distance (exact copies need
none: equal SHA-256). Run from ``links.Linker`` when a capture's image uses are written."""

from __future__ import annotations

import numpy as np

from .db import select_in
from .similarity import MAX_IMAGE_LINKS, NEAR_PHASH_DISTANCE


class PhashIndex:
    """The archive's image pHashes, held in memory across the captures of one ingest run (16
    bytes an image: 16 MB at a million), so that linking a capture's images costs a comparison
    in memory, not a read of every pHash from the database: at a million images that read took
    1.2 s a capture, which a run of one-page captures paid for every page.

    :meth:`refresh` reads the images added since (by this transaction, or by other processes'
    committed ones: rowids only grow, as images are never deleted); :meth:`forget` empties it
    after a rollback, whose rows it may hold (and a refresh that finds the last image it holds
    changed starts again). Past ``max_images`` it holds nothing and
    ``link_images`` reads the database each time, as without it: memory stays bounded.
    """

    max_images = 4_000_000

    def __init__(self) -> None:
        self.too_many = False  # the archive holds more than max_images: nothing kept
        self.forget()

    def forget(self) -> None:
        self.rowids = np.empty(0, np.int64)
        self.values = np.empty(0, np.uint64)
        self.size = 0
        self.upto = 0  # the images read: every rowid up to this

    def refresh(self, conn, chunk: int = 1 << 14) -> bool:
        """Read what was added since; False when the archive holds too many to keep."""
        if self.too_many:
            return False
        if self.size:  # the last image held is still there as it was, or start again
            row = conn.execute(
                "SELECT phash FROM images WHERE rowid = ?", (int(self.rowids[self.size - 1]),)
            ).fetchone()
            if row is None or row[0] is None or int(row[0], 16) != int(self.values[self.size - 1]):
                self.forget()
        last = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM images").fetchone()[0]
        rows = conn.execute(
            "SELECT rowid, phash FROM images WHERE rowid > ? AND rowid <= ? "
            "AND phash IS NOT NULL ORDER BY rowid",
            (self.upto, last),
        )
        while batch := rows.fetchmany(chunk):
            rowids, values = _phash_arrays(batch)
            end = self.size + len(batch)
            if end > self.max_images:
                self.forget()
                self.too_many = True
                return False
            if end > len(self.rowids):  # room doubles: appends cost nothing on average
                room = max(end, 2 * len(self.rowids), chunk)
                self.rowids = _grown(self.rowids, self.size, room)
                self.values = _grown(self.values, self.size, room)
            self.rowids[self.size : end] = rowids
            self.values[self.size : end] = values
            self.size = end
        self.upto = last
        return True

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        return self.rowids[: self.size], self.values[: self.size]


def _grown(array: np.ndarray, size: int, room: int) -> np.ndarray:
    grown = np.empty(room, array.dtype)
    grown[:size] = array[:size]
    return grown


def _phash_arrays(batch: list[tuple[int, str]]) -> tuple[np.ndarray, np.ndarray]:
    rowids = np.fromiter((r for r, _ in batch), dtype=np.int64, count=len(batch))
    values = np.fromiter((int(v, 16) for _, v in batch), dtype=np.uint64, count=len(batch))
    return rowids, values


def link_images(
    conn, shas: list[str], chunk: int = 1 << 14, index: PhashIndex | None = None
) -> None:
    """Near copies of each new image by pHash distance: its ``MAX_IMAGE_LINKS`` nearest.

    Compared with NumPy against the archive's pHashes: those ``index`` holds (the run's
    :class:`PhashIndex`, refreshed first), else one pass over the database's, ``chunk`` at a
    time, so that memory stays flat in the size of the archive (a list of every pHash took ~100
    bytes an image). The cap keeps a photo reused a thousand times from making a million
    links (its copies are found from any one). The new images are taken ``GROUP`` at a time
    and their links written as they are found, so that memory stays flat in the capture's
    size too (held to its end, 5,000 images' links took ~60 MB).
    """
    held = None  # whether the index holds the archive's pHashes: asked once, if any is new
    for start in range(0, len(shas), GROUP):
        new = []
        for sha in shas[start : start + GROUP]:
            found = conn.execute(
                "SELECT rowid, phash FROM images WHERE sha256 = ?", (sha,)
            ).fetchone()
            if found and found[1]:
                new.append((sha, found[0], int(found[1], 16)))
        if new:
            if held is None:
                held = index is not None and index.refresh(conn, chunk)
            _link_group(conn, new, chunk, index if held else None)


#: new images compared at once: without the run's index, each group is a pass over every
#: pHash in the database
GROUP = 4096
#: links written at once
LINKS_AT_ONCE = 10_000


def _link_group(
    conn, new: list[tuple[str, int, int]], chunk: int, index: PhashIndex | None
) -> None:
    """Link ``new`` images ((sha256, rowid, pHash) each) to their nearest, against the pHashes
    ``index`` holds, else those of the database."""
    if index is not None:
        batches = [index.arrays()]
    else:
        rows = conn.execute("SELECT rowid, phash FROM images WHERE phash IS NOT NULL")
        batches = (_phash_arrays(batch) for batch in iter(lambda: rows.fetchmany(chunk), []))
    mine = np.array([value for _, _, value in new], dtype=np.uint64)
    my_rowids = np.array([rowid for _, rowid, _ in new], dtype=np.int64)
    # per new image: (distance, rowid) of its nearest so far, at most MAX_IMAGE_LINKS
    nearest = [(np.empty(0, np.uint8), np.empty(0, np.int64)) for _ in new]
    for rowids, values in batches:
        for i in range(len(new)):
            distance = np.bitwise_count(values ^ mine[i])
            near = np.flatnonzero((distance <= NEAR_PHASH_DISTANCE) & (rowids != my_rowids[i]))
            if near.size:
                d = np.concatenate([nearest[i][0], distance[near]])
                r = np.concatenate([nearest[i][1], rowids[near]])
                # nearest first, then the earliest stored
                keep = np.lexsort((r, d))[:MAX_IMAGE_LINKS]
                nearest[i] = (d[keep], r[keep])
    links = []
    for (sha, _, _), (distances, rowids) in zip(new, nearest, strict=True):
        others = _image_shas(conn, rowids.tolist())
        for d, rowid in zip(distances.tolist(), rowids.tolist(), strict=True):
            links += [(sha, others[rowid], d), (others[rowid], sha, d)]
        if len(links) >= LINKS_AT_ONCE:
            _insert(conn, links)
            links = []
    _insert(conn, links)


def _insert(conn, links: list[tuple[str, str, int]]) -> None:
    conn.executemany(
        "INSERT OR IGNORE INTO image_links (image_sha256, other_sha256, distance) VALUES (?, ?, ?)",
        links,
    )


def _image_shas(conn, rowids: list[int]) -> dict[int, str]:
    return dict(select_in(conn, "SELECT rowid, sha256 FROM images WHERE rowid IN ({})", rowids))
