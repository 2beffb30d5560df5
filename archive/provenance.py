"""The researchers' questions, answered from the database: where else, who said it, what changed.

Each function returns plain dicts (the same rows the canned queries in datasette-metadata.json
show), so the CLI can print them as tables or JSON.
"""

from __future__ import annotations

import re

from . import pages
from .changes import article_changes
from .errors import ArchiveError

#: What ``archive trace`` takes as an image: its SHA-256 or the start of it (eight or more hex
#: digits, as a page or a table shows them shortened, and as the canned query image_everywhere
#: takes them); a claim id has a dash.
IMAGE_REF = re.compile(r"[0-9a-fA-F]{8,64}")  # whole: fullmatch (``$`` allows a newline)
TRACE_TAKES = "a claim id or an image's SHA-256 (or its first digits)"


#: Each kind of id the archive gives: (table, column, what it is), for telling someone who
#: gave one kind where another was asked for which kind they gave.
_KINDS = (
    ("claims", "id", "a claim id"),
    ("articles", "id", "an article id"),
    ("image_uses", "id", "an image use id"),
    ("images", "sha256", "an image's SHA-256"),
    ("captures", "sha256", "a capture file's SHA-256"),
    ("key_rotations", "id", "a key rotation id"),
    ("keys", "key_id", "a key id"),
)


def wrong_kind(conn, ref: str, command: str, takes: str) -> str | None:
    """A line saying which kind of id ``ref`` is, when ``command`` takes another kind ("<ref> is
    an image use id: trace takes ... (its image: <sha>)"); None when it names nothing here."""
    ref = ref.strip().lower()
    found = next(
        (
            (table, what)
            for table, column, what in _KINDS
            if conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (ref,)).fetchone()
        ),
        None,
    )
    if found is None:
        return None
    table, what = found
    hint = ""
    if table == "image_uses":
        (sha,) = conn.execute("SELECT image_sha256 FROM image_uses WHERE id = ?", (ref,)).fetchone()
        hint = f" (its image: {sha})" if sha else " (its image was not captured)"
    elif table == "articles":
        has = conn.execute("SELECT 1 FROM claims WHERE article_id = ? LIMIT 1", (ref,)).fetchone()
        hint = f" (its claims are {ref}-0, {ref}-1, ...)" if has else " (it has no claims)"
    elif table == "images" and command != "trace":
        hint = f" (an image is signed through its uses: `archive trace {ref[:12]}` lists them)"
    return f"{ref} is {what}: {command} takes {takes}{hint}"


def _rows(conn, sql: str, params=()) -> list[dict]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur]


#: Everywhere a claim appears: its exact copies (same text_sha256), then the claims linked to
#: any of them and every exact copy of those (a near or quote link is made between one copy of
#: each text and the copies a new claim was compared with: each copy stands for all). Also the
#: canned query claim_everywhere (a test keeps the two equal).
CLAIM_EVERYWHERE = (
    "with me as (select text_sha256 as sha from claims "
    "where id = lower(trim(:claim_id, char(32, 9, 10, 13, 160)))), "
    "same as (select id from claims where text_sha256 = (select sha from me)) "
    "select 'exact' as match, 1.0 as score, a.captured_at as captured_at, a.site_name, a.url, "
    "c.text, c.speaker, c.id as claim_id, a.id as article_id from claims c "
    "join articles a on a.id = c.article_id where c.id in same "
    "union all "
    "select l.relation, max(l.score), a.captured_at, a.site_name, a.url, c.text, c.speaker, "
    "c.id, a.id from claim_links l join claims t on t.id = l.other_claim_id "
    "join claims c on c.text_sha256 = t.text_sha256 join articles a on a.id = c.article_id "
    "where l.claim_id in same and c.text_sha256 != (select sha from me) "
    "group by c.id, l.relation "
    "order by captured_at, claim_id"
)


def trace_claim(conn, claim_id: str) -> dict:
    """Everywhere a claim appears: exact (same normalised text) and near (scored), by time."""
    claim_id = claim_id.strip().lower()  # ids are lower-case; a pasted one may not be
    claim = _rows(conn, "SELECT * FROM claims WHERE id = ?", (claim_id,))
    if not claim:
        short = re.fullmatch(r"[0-9a-f]{1,7}", claim_id) is not None
        raise ArchiveError(
            wrong_kind(conn, claim_id, "trace", TRACE_TAKES)
            or f"no claim '{claim_id}'"
            + (" (an image is named by 8 or more digits of its SHA-256)" if short else "")
        )
    rows = _rows(conn, CLAIM_EVERYWHERE, {"claim_id": claim_id})
    return {
        "claim": _public(claim[0]),
        "first_seen": rows[0] if rows else None,
        "appearances": rows,
    }


def image_sha256(conn, ref: str) -> str:
    """The SHA-256 of the one image whose hash is or starts with ``ref``."""
    ref = ref.strip().lower()
    found = [
        sha
        for (sha,) in conn.execute(
            # a range, not LIKE: the primary key's index finds it at any size
            "SELECT sha256 FROM images WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT 2",
            (ref, ref + "g"),
        )
    ]
    if not found:
        raise ArchiveError(
            wrong_kind(conn, ref, "trace", TRACE_TAKES)
            or f"no image {ref}" + ("" if len(ref) == 64 else "...")
        )
    if len(found) > 1:
        raise ArchiveError(f"{ref}... names more than one image: give more of its SHA-256")
    return found[0]


def trace_image(conn, sha256: str) -> dict:
    """Everywhere an image appears, exactly or as a near copy, with caption and credit.
    ``sha256`` may be the start of the hash (see ``image_sha256``)."""
    sha256 = image_sha256(conn, sha256)
    image = _rows(
        conn,
        "SELECT sha256, mime_type, width, height, bytes, phash FROM images WHERE sha256 = ?",
        (sha256,),
    )
    rows = _rows(
        conn,
        "SELECT 'exact' AS match, 0 AS distance, a.captured_at AS captured_at, a.site_name, "
        "a.url AS page_url, "
        "u.caption, u.credit, u.image_sha256, u.id AS image_use_id FROM image_uses u "
        "JOIN articles a ON a.id = u.article_id WHERE u.image_sha256 = ? "
        "UNION ALL "
        "SELECT 'near', l.distance, a.captured_at, a.site_name, a.url, u.caption, u.credit, "
        "u.image_sha256, u.id FROM image_links l JOIN image_uses u "
        "ON u.image_sha256 = l.other_sha256 JOIN articles a ON a.id = u.article_id "
        "WHERE l.image_sha256 = ? ORDER BY captured_at, image_use_id",
        (sha256, sha256),
    )
    credits = sorted({r["credit"] for r in rows if r["credit"]})
    return {
        "image": image[0],
        "first_seen": rows[0] if rows else None,
        "credits": credits,
        "appearances": rows,
    }


def history(conn, url: str) -> list[dict]:
    """Every capture of a page, oldest first: ``url`` is its canonical URL or the URL of any
    of its captures (one captured at ``…?mod=hp`` names the canonical URL all of them share).
    Each capture's own URL is given: a copy elsewhere naming this page as canonical (as a
    syndicated copy does) is one of them."""
    url = url.strip()  # pasted with a newline or spaces around it, as the canned query allows
    if not url:
        raise ArchiveError("give the page's URL")
    typed = pages.given(url)
    canonical = conn.execute(
        f"SELECT DISTINCT canonical_url FROM articles WHERE url IN {pages.in_list(typed)} "
        "AND canonical_url IS NOT NULL",
        typed,
    )
    page = list(dict.fromkeys(typed + [f for (c,) in canonical for f in pages.forms(c)]))
    marks = pages.in_list(page)
    rows = _rows(
        conn,
        "SELECT a.id AS article_id, a.captured_at, a.capture_sha256, a.title, "
        "(SELECT COUNT(*) FROM claims WHERE article_id = a.id) AS claims, "
        "(SELECT COUNT(*) FROM changes WHERE to_article_id = a.id) AS changes_since_previous, "
        f"a.url FROM articles a WHERE a.canonical_url IN {marks} OR a.url IN {marks} "
        "ORDER BY a.captured_at, a.id",
        page * 2,
    )
    if not rows:
        raise ArchiveError(f"no captures of {url}")
    rows[0]["changes_since_previous"] = None  # the first capture: none before it, not 0 changes
    return rows


def _resolve(conn, url: str, ref: str | None, captures: list[dict], default: int) -> str:
    if ref is None:
        return captures[default]["article_id"]
    ref = ref.strip().lower()  # ids are lower-case hex; a pasted one may not be
    exact = [c for c in captures if ref in (c["article_id"], c["capture_sha256"])]
    found = exact or [
        c
        for c in captures
        if ref and (c["capture_sha256"].startswith(ref) or c["article_id"].startswith(ref))
    ]
    if len(found) > 1:
        # one capture file can hold the page twice: then only an article id names one
        whole = all(c["capture_sha256"] == ref for c in found)
        raise ArchiveError(
            f"{ref!r} names {len(found)} captures of {url}: "
            + (
                "that capture file holds the page more than once; give an article id "
                "(`archive history URL` lists them)"
                if whole
                else "give more of an article id or a capture's hash"
            )
        )
    if not found:
        raise ArchiveError(
            f"no capture of {url} matches {ref!r} (an article id or a capture's SHA-256, or the "
            "start of either: `archive history URL` lists them)"
        )
    return found[0]["article_id"]


def diff(conn, url: str, old: str | None = None, new: str | None = None) -> dict:
    """Changes between two captures of a page (default: the last two)."""
    url = url.strip()
    captures = history(conn, url)
    if len(captures) < 2 and not (old and new):
        raise ArchiveError(f"only one capture of {url}: nothing to compare")
    old_id = _resolve(conn, url, old, captures, -2)
    new_id = _resolve(conn, url, new, captures, -1)
    changes = article_changes(conn, old_id, new_id)
    for c in changes:
        if c["target"] == "image":
            # which image, not only its caption and credit: a photo swapped under the same
            # caption showed as two identical lines
            c["old_image"], c["new_image"] = (
                _image_of(conn, c["old_id"]),
                _image_of(conn, c["new_id"]),
            )
    url_of = {c["article_id"]: c["url"] for c in captures}
    return {
        "url": url,
        "from": old_id,
        "to": new_id,
        # each capture's own URL: a syndicated copy that names the page as its canonical URL
        # is one of its captures, and its changes are not the outlet's own edits
        "from_url": url_of[old_id],
        "to_url": url_of[new_id],
        "changes": changes,
    }


def _image_of(conn, use_id: str | None) -> str | None:
    """An image use's image: its SHA-256, else (not captured) its URL."""
    if use_id is None:
        return None
    found = conn.execute(
        "SELECT COALESCE(image_sha256, url) FROM image_uses WHERE id = ?", (use_id,)
    ).fetchone()
    return found and found[0]


def _public(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in ("statement", "signature")}
