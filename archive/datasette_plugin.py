"""Datasette plugin shipped with the archive: image thumbnails and SQL functions for checking.

SQL functions (usable in any query in the browser):

- ``archive_normalize(text)``: the claim text normalisation (``archive-text/1``);
- ``archive_text_sha256(text)``: SHA-256 of the normalised text, as in ``claims.text_sha256``;
- ``archive_sha256(value)``: SHA-256 (hex) of a BLOB, or of a TEXT value's UTF-8 bytes;
- ``archive_verify(statement, signature, public_key_pem)``: 1 when the Ed25519 signature over the
  statement's UTF-8 bytes verifies with the key, else 0;
- ``archive_page_forms(url)``: the spellings of the page ``url`` names, as a JSON array
  (archive/pages.py), for ``json_each``: what page_history and page_changes look pages up by.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import sys
import traceback
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlencode

# Datasette's plugin scan, started by its first import, imports its own default plugins;
# begun from one of them (handle_exception) instead, it registered that one half-imported and
# hookless: every error page then failed
import datasette.plugins  # noqa: F401 - imported first
from datasette import handle_exception as error_pages
from datasette import hookimpl
from datasette.utils import tilde_decode, tilde_encode
from datasette.utils.asgi import BadRequest, Base400, Request, Response
from datasette.views.base import DatasetteError
from markupsafe import Markup, escape

from . import pages
from .datasette_asgi import CAPTURE_DOWNLOADS, FileDownload, ReaderRoutes, ResponseCache
from .datasette_paging import tie_first_pages
from .hashing import normalize_text, text_sha256
from .keys import load_public_key_pem, verify_signature

# Only raster types are served: an SVG could carry script.
SAFE_IMAGE_TYPES = {"image/jpeg", "image/png", "image/gif", "image/webp", "image/avif", "image/bmp"}


@lru_cache(maxsize=64)
def _public_key(pem: str):
    return load_public_key_pem(pem)


def archive_verify(statement, signature, public_key_pem):
    if not (statement and signature and public_key_pem):
        return 0
    try:
        key = _public_key(public_key_pem)
    except Exception:  # noqa: BLE001 - a bad key is a 0, not an error page
        return 0
    return int(verify_signature(key, signature, statement.encode("utf-8")))


def archive_sha256(value):
    # TEXT or BLOB only: bytes(5) is five zero bytes (and bytes(10**9) a gigabyte), not 5
    if isinstance(value, str):
        return hashlib.sha256(value.encode("utf-8")).hexdigest()
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    return None


def _on_text(fn):
    """A text function for SQL: NULL for anything but TEXT (a number was an error page)."""
    return lambda value: fn(value) if isinstance(value, str) else None


def _authorize(action, arg1, arg2, db_name, trigger):
    # PRAGMA database_list names the database's path on the server; Datasette allows it in
    # readers' SQL. Ignored, it lists nothing (Datasette's own call then finds no attachments).
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() == "database_list":
        return sqlite3.SQLITE_IGNORE
    return sqlite3.SQLITE_OK


#: Bytes of each database Datasette reads through a memory map when ``archive serve`` asks
#: for one (its plugin config ``mmap``; SQLite caps it, commonly at 2 GiB): pages then cost no
#: read() and no copy into SQLite's 2 MB page cache. At a million claims speaker_quotes' SQL
#: took 16 ms, 9 mapped. The price: an I/O error while reading the file (a failing disk, a
#: network file system, a file shrunk under the server) stops the server with SIGBUS where
#: it would be an error page; ``archive serve --no-mmap`` reads with read() calls instead.
MMAP_BYTES = 1 << 40


@hookimpl
def prepare_connection(conn, datasette):
    # only the served archive's own settings map it (under plain `datasette` a file may be
    # written as it is read), and --no-mmap unmaps it whatever SQLite was built to do
    mmap = (datasette.plugin_config("archive") or {}).get("mmap")
    if mmap is True or mmap is False:  # JSON's true and false, not "false"
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES if mmap else 0}")
    add_sql_functions(conn)


def add_sql_functions(conn) -> None:
    """The archive's SQL functions (this module's docstring), and the authorizer that hides
    the server's paths, on a connection: what Datasette's connections get."""
    conn.create_function("archive_normalize", 1, _on_text(normalize_text))
    conn.create_function("archive_page_forms", 1, pages.given_json, deterministic=True)
    conn.create_function("archive_text_sha256", 1, _on_text(text_sha256))
    conn.create_function("archive_sha256", 1, archive_sha256)
    conn.create_function("archive_verify", 3, archive_verify)
    conn.set_authorizer(_authorize)


def _thumb(datasette, database: str, sha: str, size: int = 120) -> Markup:
    href = datasette.urls.row(database, "images", sha)
    src = datasette.urls.path(f"/-/archive-image/{tilde_encode(database)}/{sha}")
    return Markup(
        f'<a href="{escape(href)}"><img src="{escape(src)}" alt="image {escape(sha[:12])}" '
        f'loading="lazy" style="max-width:{size}px;max-height:{size}px"></a>'
        f"<br><code>{escape(sha[:12])}…</code>"
    )


#: Columns that name a row: linked to it (claim -> article -> capture), in query results, views
#: and row pages alike.
ROW_LINKS = {
    "claim_id": "claims",
    "other_claim_id": "claims",
    "article_id": "articles",
    "from_article_id": "articles",
    "to_article_id": "articles",
    "capture_sha256": "captures",
    "image_use_id": "image_uses",
}


#: speaker_quotes' last row when more claims follow than a page shows: its next page's link
_MORE = re.compile(r"More claims follow: the next \d+ start after (\S+)\.")


def _query_link(datasette, database: str, query: str, text: str, **params) -> Markup:
    href = f"{datasette.urls.database(database)}/{query}?{urlencode(params)}"
    return Markup(f'<a href="{escape(href)}">{escape(text)}</a>')


def _onward(row, value: str, column: str, table: str | None, database: str, datasette):
    """On table and row pages, the question a value leads to (a researcher clicks on from a
    claim to everywhere it appears, from a speaker to what they said...), or None."""
    if table == "claims" and column == "text" and _has(row, "id"):
        where = _query_link(
            datasette, database, "claim_everywhere", "where else?", claim_id=row["id"]
        )
        return Markup(f"{escape(value)} <small>· {where}</small>")
    # (claim_everywhere and speaker_quotes name the speaker too: their rows have no table)
    if (table in ("speakers", "quotes", "speaker_sites", "claims") or table is None) and (
        column == "speaker"
    ):
        return _query_link(datasette, database, "speaker_quotes", value, speaker=value)
    if table == "articles" and column in ("url", "canonical_url"):
        history = _query_link(
            datasette, database, "page_history", "captures of this page", url=value
        )
        # a page names its own canonical URL: only a web address is made a link (a
        # "javascript:" one would run in the reader's browser)
        shown = (
            Markup(f'<a href="{escape(value)}">{escape(value)}</a>')
            if value.lower().startswith(("http://", "https://"))
            else escape(value)
        )
        return Markup(f"{shown} <small>· {history}</small>")
    if table == "articles" and column == "title" and _has(row, "id"):
        claims = _query_link(
            datasette, database, "claims_of_article", "its claims", article_id=row["id"]
        )
        check = _query_link(
            datasette, database, "check_records", "check its records", article_id=row["id"]
        )
        return Markup(f"{escape(value)} <small>· {claims} · {check}</small>")
    target = _linked_table(row, table, column)
    if target is not None:
        return Markup(f'<a href="{escape(datasette.urls.row(database, target, value))}">'
                      f"{escape(value)}</a>")  # fmt: skip
    if table == "claim_appearances" and column == "text_sha256":
        href = f"{datasette.urls.table(database, 'claims')}?{urlencode({'text_sha256': value})}"
        return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')
    if (
        table == "captures"
        and column == "stored_path"
        and _has(row, "sha256")
        and _captures_published(datasette)
    ):
        href = datasette.urls.path(
            f"{CAPTURE_DOWNLOADS}{tilde_encode(database)}/{Path(value).name}"
        )
        return Markup(f'{escape(value)} <small>· <a href="{escape(href)}">download</a></small>')
    return None


def _linked_table(row, table: str | None, column: str) -> str | None:
    """The table a record id names when another column of the row says which: a check_records
    row's record, a ledger entry's record, a change's claim or image use."""
    if column == "record_id" and _has(row, "record"):  # check_records: what each row is
        return {"article": "articles", "claim": "claims", "image use": "image_uses"}.get(
            row["record"]
        )
    if table == "ledger" and column == "record_id" and _has(row, "record_table"):
        return row["record_table"] if row["record_table"] in _LEDGER_TABLES else None
    if table == "changes" and column in ("old_id", "new_id") and _has(row, "target"):
        return {"claim": "claims", "image": "image_uses"}.get(row["target"])
    return None


_LEDGER_TABLES = {"captures", "articles", "claims", "image_uses", "key_rotations"}


def _has(row, name: str) -> bool:
    try:
        return row is not None and row[name] is not None
    except (IndexError, KeyError):
        return False


@hookimpl
def render_cell(row, value, column, table, database, datasette):
    expanded = isinstance(value, dict)  # a foreign key with its label: Datasette links it
    if expanded:
        value = value.get("value")
    if (
        column == "changes_since_previous"
        and isinstance(value, int)
        and value > 0
        and _has(row, "article_id")
    ):
        # page_history's count leads to the changes into that capture (question 4), with the
        # columns that say what changed: the whole table put the texts off screen (review)
        href = f"{datasette.urls.table(database, 'changes')}?" + urlencode(
            [("to_article_id", row["article_id"])]
            + [("_col", c) for c in ("change", "target", "old_text", "new_text", "score")]
        )
        return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')
    if column == "elsewhere" and isinstance(value, int) and value > 0 and _has(row, "claim_id"):
        # speaker_quotes' count leads to where (question 1), as page_history's does to changes
        return _query_link(
            datasette, database, "claim_everywhere", str(value), claim_id=row["claim_id"]
        )
    if (
        column == "text"
        and table is None
        and isinstance(value, str)
        and _has(row, "speaker")
        and not _has(row, "claim_id")
        and (more := _MORE.fullmatch(value))
    ):
        # the next page starts after the last claim shown; `from` is behind it already
        return _query_link(
            datasette, database, "speaker_quotes", value, speaker=row["speaker"], after=more[1]
        )
    if value is None and column == "image_sha256" and _has(row, "url"):
        # no file of this image in the archive: say so, and lead on to the other pages that
        # show the same address (a row page that said only "none" was a dead end: review)
        href = f"{datasette.urls.table(database, 'image_uses')}?{urlencode({'url': row['url']})}"
        return Markup(
            f'<em>no file captured</em> <small>· <a href="{escape(href)}">every use of this '
            "address</a></small>"
        )
    if not isinstance(value, str):
        return None
    if len(value) == 64 and (
        (table == "images" and column == "sha256") or column in ("image_sha256", "other_sha256")
    ):
        thumb = _thumb(datasette, database, value)
        if table == "images":  # the image's own page: where else it appears
            where = _query_link(
                datasette, database, "image_everywhere", "where else?", image_sha256=value
            )
            return Markup(f"{thumb}<br><small>{where}</small>")
        return thumb
    onward = _onward(row, value, column, table, database, datasette)
    if onward is not None:
        return onward
    if column in ROW_LINKS and not expanded:  # query results, views, and row pages
        href = datasette.urls.row(database, ROW_LINKS[column], value)
        return Markup(f'<a href="{escape(href)}">{escape(value)}</a>')
    return None


async def _serve_image(request, datasette):
    database = tilde_decode(request.url_vars["database"])
    sha = request.url_vars["sha256"]
    try:
        db = datasette.get_database(database)
    except KeyError:
        return Response.text("Not found", status=404)
    result = await db.execute(
        "select mime_type, content from images where sha256 = :sha", {"sha": sha}
    )
    row = result.first()
    if row is None or row["mime_type"] not in SAFE_IMAGE_TYPES:
        return Response.text("Not found", status=404)
    return Response(
        bytes(row["content"]),
        content_type=row["mime_type"],
        headers={
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'",
            "Cache-Control": "public, max-age=31536000, immutable",
        },
    )


def _captures_published(datasette) -> bool:
    return bool((datasette.plugin_config("archive") or {}).get("captures"))


async def _serve_capture(request, datasette, receive):
    """A stored capture file (WARC, ARC or WACZ) as a download, when `archive serve --captures`
    publishes them, at its stored name (`curl -O` keeps it: `verify` finds it by that name):
    only a file the captures table names, inside the database's captures/."""
    name = request.url_vars["name"]
    try:
        db = datasette.get_database(tilde_decode(request.url_vars["database"]))
    except KeyError:
        return Response.text("Not found", status=404)
    if not _captures_published(datasette) or not db.path:
        return Response.text("Not found", status=404)
    row = (
        await db.execute("select stored_path from captures where sha256 = :sha", {"sha": name[:64]})
    ).first()
    home = Path(db.path).resolve().parent
    stored = (home / "captures").resolve()  # captures/ may be a link to a larger disk
    path = (home / row["stored_path"]).resolve() if row else None
    # a stored_path edited to lead elsewhere, a file that is a link out of captures/: not served
    if path is None or path.parent != stored or path.name != name or not path.is_file():
        return Response.text("Not found", status=404)
    return FileDownload(
        path,
        {
            "content-type": "application/octet-stream",
            # the name is the route's: hex digits and dots only, nothing to escape
            "content-disposition": f'attachment; filename="{name}"',
            "x-content-type-options": "nosniff",
        },
        receive,
        head=request.method == "HEAD",
        range_header=request.headers.get("range"),
        if_range=request.headers.get("if-range"),
        # the stored name holds the file's hash: the same name is always the same bytes
        etag=f'"{name}"',
    )


#: Mistakes in a URL that Datasette 0.65 answers as its own failure (500): the reader's, 400.
_READER_MISTAKES = ("Cannot sort table by ", "Cannot use _sort and _sort_desc")


class MethodNotAllowed(Base400):
    status = 405


def _reader_mistake(request, exception) -> Base400 | None:
    """What Datasette 0.65 answers with a 500 (its own failure) that is the reader's mistake in
    the URL, as a 4xx saying which parameter; None for anything else."""
    if request.method == "POST" and (
        (isinstance(exception, AttributeError) and "asgi_send" in str(exception))
        or (isinstance(exception, AssertionError) and "only POST to a canned" in str(exception))
    ):  # Datasette's own failures on a POST to a read-only canned query, or to a table
        return MethodNotAllowed("These pages are read-only: use GET")
    args = request.args
    frames = traceback.extract_tb(exception.__traceback__)
    if "_through" in args and any(
        Path(f.filename).parts[-2:] == ("datasette", "filters.py") for f in frames
    ):
        return BadRequest(
            "_through must be JSON naming a table, a column and a value that link to this "
            "table, as the links Datasette writes have it"
        )
    if isinstance(exception, ValueError) and "invalid literal for int()" in str(exception):
        for name in ("_timelimit", "_next"):  # _next may be a key, not a number: _timelimit first
            value = args.get(name)
            if value is not None and not value.lstrip("-").isdigit():
                return BadRequest(f"{name} must be a whole number, not {value!r}")
    if (
        isinstance(exception, sqlite3.IntegrityError)
        and "datatype mismatch" in str(exception)
        and (args.get("_next") or "").isdigit()
    ):  # an offset past SQLite's 64-bit integers
        return BadRequest(f"_next {args['_next']!r} is not a place on this page's list")
    if "_search" in args and "fts5: syntax error" in str(exception):
        # a lone quote mark (pasted with a quotation): Datasette's "Invalid SQL" page
        return BadRequest(
            "_search: give words to look for (quote marks alone find nothing; a phrase goes "
            'between them: "harbour closure")'
        )
    return None


@hookimpl
def handle_exception(datasette, request, exception):
    if (
        isinstance(exception, DatasetteError)
        and exception.status == 500
        and str(exception.message).startswith(_READER_MISTAKES)
    ):
        exception.status = 400
    mistake = _reader_mistake(request, exception)
    if mistake is None:
        return None  # Datasette's own handler renders the error page, with its status
    respond = error_pages.handle_exception(datasette, request, mistake)
    if not isinstance(mistake, MethodNotAllowed):
        return respond

    async def with_allow():
        response = await respond()
        response.headers["Allow"] = "GET, HEAD"  # RFC 9110: a 405 names what is allowed
        return response

    return with_allow


@hookimpl
def startup(datasette):
    async def tie():
        await tie_first_pages(datasette)

    return tie


@hookimpl
def register_routes():
    return [
        (r"^/-/archive-image/(?P<database>[^/]+)/(?P<sha256>[0-9a-f]{64})$", _serve_image),
        (
            f"^{CAPTURE_DOWNLOADS}" + r"(?P<database>[^/]+)/(?P<name>[0-9a-f]{64}(\.[a-z0-9]+)*)$",
            _serve_capture,
        ),
    ]


@hookimpl
def asgi_wrapper(datasette):
    async def reject(scope, receive, send, message: str) -> None:
        # Datasette's own error page (or JSON, for a .json URL), as for its own 400s
        respond = error_pages.handle_exception(
            datasette, Request(scope, receive), BadRequest(message)
        )
        await (await respond()).asgi_send(send)

    def wrap(app):
        return ReaderRoutes(ResponseCache(app, datasette), reject)

    return wrap


def _registered_whole() -> None:
    """Imported before Datasette, this module is registered by Datasette's entry-point scan
    while it is still half-imported (its ``datasette`` imports start the scan), and pluggy
    finds hooks only as they are at registration: none. Registered again once whole, the
    hooks apply, as when Datasette imports it first (``archive serve``)."""
    from datasette.plugins import pm

    module = sys.modules[__name__]
    if pm.is_registered(module):
        name = pm.get_name(module)
        pm.unregister(module)
        pm.register(module, name=name)


_registered_whole()
