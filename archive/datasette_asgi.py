"""ASGI middleware around the published Datasette: a cache of whole responses (the archive
does not change while it is served) and the routes a public archive needs that Datasette does
not have (server paths hidden, an article's rows in reading order), and file downloads."""

from __future__ import annotations

import asyncio
import os
import re
from collections import OrderedDict
from pathlib import Path
from urllib.parse import parse_qsl

from datasette.utils import tilde_decode
from datasette.utils.asgi import Response


class ResponseCache:
    """ASGI middleware: whole GET responses kept in memory, for immutable databases only.

    A published archive does not change while it is served (``archive serve`` opens it
    immutable), so every page and query result for a URL is the same for every reader. Serving
    repeats from memory is what lets a small machine take a crowd of readers.
    """

    def __init__(
        self,
        app,
        datasette,
        max_entries: int = 2048,
        max_body: int = 2 << 20,
        max_bytes: int = 64 << 20,
    ):
        self.app = app
        self.datasette = datasette
        self.entries: OrderedDict = OrderedDict()
        self.max_entries = max_entries
        self.max_body = max_body
        #: all bodies held, at most: each distinct query string is an entry, so without it a
        #: reader could fill max_entries x max_body (4 GiB)
        self.max_bytes = max_bytes
        self.bytes = 0

    def _cacheable(self, scope) -> bool:
        config = self.datasette.plugin_config("archive") or {}
        return (
            config.get("response_cache", True)
            and scope["type"] == "http"
            and scope["method"] in ("GET", "HEAD")
            # _internal is Datasette's own scratch database, not published data
            and all(
                not db.is_mutable
                for name, db in self.datasette.databases.items()
                if not name.startswith("_")
            )
            and not any(name == b"cookie" for name, _ in scope.get("headers", []))
            # downloads are streamed from their files (up to 2 MiB of each was kept)
            and not scope["path"].startswith(CAPTURE_DOWNLOADS)
        )

    async def __call__(self, scope, receive, send):
        if not self._cacheable(scope):
            return await self.app(scope, receive, send)
        # Datasette writes absolute links from the Host header: one host's page is not
        # another's (a request with a forged Host filled the cache with links elsewhere)
        # and from the scheme (uvicorn takes X-Forwarded-Proto from a proxy on 127.0.0.1)
        host = next((v for k, v in scope.get("headers", []) if k == b"host"), b"")
        key = (
            scope["method"],
            scope.get("scheme"),
            host,
            scope["path"],
            scope.get("query_string", b""),
        )
        hit = self.entries.get(key)
        if hit is not None:
            self.entries.move_to_end(key)
            start, body = hit
            await send(dict(start, headers=[*start["headers"], (b"x-archive-cache", b"hit")]))
            await send({"type": "http.response.body", "body": body})
            return
        captured: dict = {"start": None, "body": [], "size": 0, "ok": True}

        async def capture(message):
            if message["type"] == "http.response.start":
                captured["start"] = message
                # a cookie (Datasette's CSRF token) is one reader's: never replayed to others
                captured["ok"] = message["status"] == 200 and not any(
                    k.lower() == b"set-cookie" for k, _ in message.get("headers", [])
                )
            elif message["type"] == "http.response.body" and captured["ok"]:
                captured["body"].append(message.get("body", b""))
                captured["size"] += len(message.get("body", b""))
                if captured["size"] > self.max_body:  # not kept: stop holding a long stream
                    captured["ok"], captured["body"] = False, []
            await send(message)

        await self.app(scope, receive, capture)
        if captured["ok"] and captured["start"]:
            body = b"".join(captured["body"])
            earlier = self.entries.pop(key, None)  # two readers missed at once
            if earlier is not None:
                self.bytes -= len(earlier[1])
            self.entries[key] = (captured["start"], body)
            self.bytes += len(body)
            while self.entries and (
                len(self.entries) > self.max_entries or self.bytes > self.max_bytes
            ):
                _, (_, dropped) = self.entries.popitem(last=False)
                self.bytes -= len(dropped)


#: Where ``archive serve --captures`` sends the stored capture files (``datasette_plugin``).
CAPTURE_DOWNLOADS = "/-/archive-capture/"
#: Datasette's introspection pages that show where the database and the code sit on the server.
HIDDEN_PATHS = {"/-/databases", "/-/databases.json", "/-/threads", "/-/threads.json"}
#: Tables whose rows are an article's, in reading order by ``position``.
IN_READING_ORDER = {"claims", "image_uses"}


class ReaderRoutes:
    """ASGI middleware for two things Datasette's routes do not do for a public archive:
    hide the pages that name server paths (404), and show one article's claims or image uses in
    reading order. Datasette orders a table by its primary key, and claim ids sort as text
    (``…-1``, ``…-10``, ``…-2``); sorting the whole table by position would scan a million rows,
    so only an HTML page filtered by ``article_id`` and not sorted is sent to
    ``_sort=position``, which the (article_id, position) index serves."""

    def __init__(self, app, reject=None):
        self.app = app
        #: ``await reject(scope, receive, send, message)`` answers a reader's mistake (a 400)
        self.reject = reject

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http":
            path = scope["path"]
            if path in HIDDEN_PATHS:
                return await Response.text("Not found", status=404).asgi_send(send)
            mistake = self.reject and bad_date_parameter(path, scope.get("query_string", b""))
            if mistake:
                return await self.reject(scope, receive, send, mistake)
            parts = path.split("/")
            if len(parts) == 3 and parts[2] in IN_READING_ORDER and not parts[1].startswith("-"):
                query = scope.get("query_string", b"").decode("latin-1")
                names = {name for name, _ in parse_qsl(query, keep_blank_values=True)}
                if "article_id" in names and not names & {"_sort", "_sort_desc"}:
                    # relative: the same path, whatever it held (an absolute Location built
                    # from it could lead off the site: "/\\evil.example/claims")
                    location = f"?{query}&_sort=position"
                    return await Response.redirect(location).asgi_send(send)
        return await self.app(scope, receive, send)


#: The canned queries' parameters that are compared with ISO 8601 times (``captured_at``) as
#: text: a date typed otherwise, such as 08/03/2025, would compare as text and show every row.
DATE_PARAMETERS = {"speaker_quotes": ("from",)}
#: A time as the archive writes them (WARC-Dates), or its beginning: 2025, 2025-03,
#: 2025-03-08, 2025-03-08T14, 2025-03-08T14:30, 2025-03-08T14:30:05, 2025-03-08T14:30:05Z and
#: 2025-03-08T14:30:05.250Z (WARC/1.1 allows fractions; a time shown may be typed back as it
#: is shown)
_ISO_TIME_PREFIX = re.compile(
    r"[0-9]{4}(-[0-9]{2}(-[0-9]{2}(T[0-9]{2}(:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?Z?)?)?)?)?)?"
)


def bad_date_parameter(path: str, query_string: bytes) -> str | None:
    """What is wrong with a date a canned query's URL gives (see DATE_PARAMETERS), or None."""
    parts = path.split("/")
    if len(parts) != 3:
        return None
    # the name as Datasette reads it: "speaker~5Fquotes" is speaker_quotes (found in review)
    name = tilde_decode(parts[2].removesuffix(".json").removesuffix(".csv"))
    wanted = DATE_PARAMETERS.get(name)
    if not wanted:
        return None
    for key, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True):
        # the query trims the value as it trims its other parameters
        typed = value.strip(" \t\n\r\xa0")
        if key in wanted and typed and not _ISO_TIME_PREFIX.fullmatch(typed):
            return (
                f"{key}: give a date or time year first, as the archive stores them "
                f"(2025-03-08, or 2025-03-08T14:30:00Z), not {typed!r}"
            )
    return None


#: One range of bytes (RFC 9110 14.1.2): "first-last", "first-" or "-suffix length"
#: (at most 19 digits: larger than any file, and int() refuses over 4,300: found in review)
_BYTE_RANGE = re.compile(
    r"\s*bytes\s*=\s*([0-9]{0,19})\s*-\s*([0-9]{0,19})\s*", re.ASCII | re.IGNORECASE
)


def byte_range(header: str | None, size: int) -> tuple[int, int] | None | bool:
    """The one byte range a ``Range`` header asks of a file of ``size`` bytes (RFC 9110 14.2),
    as (first, last) inclusive; None: send the whole file (no header, one we do not read, or
    several ranges, which a server may answer whole); False: not satisfiable (416)."""
    match = _BYTE_RANGE.fullmatch(header or "")
    if not match or not any(match.groups()):
        return None
    first, last = (int(g) if g else None for g in match.groups())
    if first is None:  # "-n": the last n bytes
        return (max(size - last, 0), size - 1) if last and size else False
    if last is not None and last < first:  # not a valid range: the header is ignored
        return None
    if first >= size:
        return False
    return first, size - 1 if last is None else min(last, size - 1)


class FileDownload:
    """A file sent as a download, 1 MiB at a time read in a thread (Datasette's own sends 4 KiB
    at a time: a gigabyte capture took 250,000 reads). At most the size it had when opened; no
    body for HEAD; the reading stops when the reader goes (the server's send returns quietly
    then, and a HEAD or an abandoned download read the whole file: found in review).

    One byte range (``Range: bytes=...``) is sent as a 206, so that a download of a large
    capture that stopped goes on where it stopped (``curl -C -``, browsers, ``wget -c``). The
    files are immutable (named by their hash), so ``etag`` never changes for a name; an
    ``If-Range`` that is not it gets the whole file, as RFC 9110 asks."""

    def __init__(
        self,
        path: Path,
        headers: dict[str, str],
        receive,
        head: bool = False,
        range_header: str | None = None,
        if_range: str | None = None,
        etag: str | None = None,
    ):
        self.path, self.headers, self.receive, self.head = path, headers, receive, head
        self.range_header, self.if_range, self.etag = range_header, if_range, etag

    async def _gone(self) -> None:
        while (await self.receive())["type"] != "http.disconnect":
            pass

    async def _start(self, send, status: int, headers: dict[str, str]) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            }
        )

    async def asgi_send(self, send) -> None:
        with open(self.path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            headers = {**self.headers, "accept-ranges": "bytes"}
            if self.etag:
                headers["etag"] = self.etag
            wanted = None
            # RFC 9110 14.2: Range is for GET only (a HEAD answers as the whole file's GET would)
            if not self.head and (
                self.if_range is None or (self.etag and self.if_range.strip() == self.etag)
            ):
                wanted = byte_range(self.range_header, size)
            if wanted is False:
                headers.update({"content-range": f"bytes */{size}", "content-length": "0"})
                await self._start(send, 416, headers)
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            status, start, left = 200, 0, size
            if wanted:
                start, end = wanted
                status, left = 206, end - start + 1
                headers["content-range"] = f"bytes {start}-{end}/{size}"
            headers["content-length"] = str(left)
            await self._start(send, status, headers)
            if self.head or not left:
                await send({"type": "http.response.body", "body": b"", "more_body": False})
                return
            f.seek(start)
            gone = asyncio.ensure_future(self._gone())
            try:
                while left and not gone.done():
                    chunk = await asyncio.to_thread(f.read, min(left, 1 << 20))
                    if not chunk:  # the file shrank while it was sent: the reader sees it cut
                        return
                    left -= len(chunk)
                    await send({"type": "http.response.body", "body": chunk, "more_body": left > 0})
            finally:
                gone.cancel()
