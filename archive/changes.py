"""What changed between consecutive captures of one page (the ``changes`` table): claims and
image uses removed, added, or changed (a sentence reworded, paired by the same similarity as
near links). A page is its canonical URL, or its URL when it has none, in any of its
spellings (archive/pages.py: http or https, www. or not, a slash at the end or not). Computed
at ingest (``links.Linker.finish``) and on demand (``archive diff``); derived data, not signed.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict

from . import pages
from .similarity import bands_many, is_near, scores


def page_of(conn, article_id: str) -> str:
    """The page an article is a capture of: its canonical URL, else the URL captured at."""
    (url,) = conn.execute(
        "SELECT COALESCE(canonical_url, url) FROM articles WHERE id = ?", (article_id,)
    ).fetchone()
    return url


def timeline(conn, url: str) -> list[str]:
    """The captures of the page ``url`` (any of its spellings, archive/pages.py), oldest first.
    Written so that the indexes on canonical_url and url serve it."""
    spelled = pages.forms(url)
    marks = pages.in_list(spelled)
    return [
        a
        for (a,) in conn.execute(
            f"SELECT id FROM articles WHERE canonical_url IN {marks} "
            f"OR (canonical_url IS NULL AND url IN {marks}) ORDER BY captured_at, id",
            spelled * 2,
        )
    ]


def link_versions(conn, article_ids: list[str]) -> None:
    """Fit a capture's new articles into their pages' timelines. Each page's captures, in time
    order, are diffed pair by consecutive pair, once; a pair that a new capture now sits between
    is no longer consecutive, and its rows go. (A capture may hold several versions of a page.)
    Each pair's rows carry the later capture's page URL."""
    new = set(article_ids)
    found: dict[str, str] = {}  # page key -> the page as one new article spells it
    for article_id in article_ids:
        url = page_of(conn, article_id)
        found.setdefault(pages.key(url), url)
    for url in found.values():
        pairs = list(itertools.pairwise(timeline(conn, url)))
        consecutive = set(pairs)
        spelled = pages.forms(url)
        stale = [
            pair
            for pair in conn.execute(
                "SELECT DISTINCT from_article_id, to_article_id FROM changes "
                f"WHERE url IN {pages.in_list(spelled)}",
                spelled,
            )
            if pair not in consecutive
        ]
        for old, later in stale:
            conn.execute(
                "DELETE FROM changes WHERE from_article_id = ? AND to_article_id = ?", (old, later)
            )
        for old, later in pairs:
            if old in new or later in new:
                diff_articles(conn, page_of(conn, later), old, later)


def diff_joined_pages(conn, joined) -> None:
    """Diff again, as one timeline each, the pages whose spellings ``joined(urls)`` says were
    pages of their own before (``urls``: a page's spellings in the archive). For the migrations
    that widen what one page is (archive/schema.py)."""
    # from the two URL indexes, not the table: an article's row holds its whole text
    url_of = dict(conn.execute("SELECT rowid, url FROM articles"))
    url_of.update(
        conn.execute("SELECT rowid, canonical_url FROM articles WHERE canonical_url IS NOT NULL")
    )
    spelled: dict[str, set[str]] = {}
    captures: dict[str, list[int]] = {}
    for rowid, url in url_of.items():
        page = pages.key(url)
        spelled.setdefault(page, set()).add(url)
        captures.setdefault(page, []).append(rowid)
    for page, urls in spelled.items():
        if len(urls) > 1 and joined(urls):  # (a URL that is not one is a page alone)
            urls = sorted(urls)
            conn.execute(f"DELETE FROM changes WHERE url IN {pages.in_list(urls)}", urls)
            # one by one: a page captured more times than SQLite takes parameters
            find = "SELECT id FROM articles WHERE rowid = ?"
            ids = [conn.execute(find, (rowid,)).fetchone()[0] for rowid in captures[page]]
            link_versions(conn, ids)


#: Removed x added sentences scored pair by pair at most, in one diff; past it, the pairs come
#: from LSH bands, as links do (a live blog's two captures with 1,200 changed sentences each
#: took 40 s pair by pair; a sentence under ``MIN_CHARS`` is then never paired).
EXHAUSTIVE_PAIRS = 40_000


def _changes(old: list[tuple], new: list[tuple]):
    """(change, old, new, score) for two lists of (id, text, key): unchanged keys drop out,
    counted (a sentence the page had twice and now has once was removed once), and the rest pair
    up as 'changed' when similar, else 'removed' / 'added'."""
    gone, came = _unmatched(old, new), _unmatched(new, old)
    candidates = _pair_candidates(gone, came)
    paired = set()
    for o in gone:
        best, best_score = None, 0.0
        for n in candidates(o):
            if n[0] in paired or not o[1] or not n[1]:
                continue
            jaccard, containment = scores(o[1], n[1])
            if is_near(jaccard, containment) and max(jaccard, containment) > best_score:
                best, best_score = n, max(jaccard, containment)
        if best:
            paired.add(best[0])
            yield "changed", o, best, round(best_score, 3)
        else:
            yield "removed", o, None, None
    for n in came:
        if n[0] not in paired:
            yield "added", None, n, None


def _pair_candidates(gone: list[tuple], came: list[tuple]):
    """For each removed item, the added ones worth scoring, in their order: all of them, or in
    a long diff those that share an LSH band with it."""
    if len(gone) * len(came) <= EXHAUSTIVE_PAIRS:
        return lambda o: came
    by_key: defaultdict[int, list[int]] = defaultdict(list)
    for i, keys in enumerate(bands_many([n[1] or "" for n in came])):
        for key in keys:
            by_key[key].append(i)
    gone_keys = dict(zip((o[0] for o in gone), bands_many([o[1] or "" for o in gone]), strict=True))

    def candidates(o):
        return [came[i] for i in sorted({i for key in gone_keys[o[0]] for i in by_key[key]})]

    return candidates


def _unmatched(these: list[tuple], others: list[tuple]) -> list[tuple]:
    """The items of ``these`` whose key ``others`` has fewer times (the later ones go)."""
    left = Counter(o[2] for o in others)
    out = []
    for item in these:
        if left[item[2]]:
            left[item[2]] -= 1
        else:
            out.append(item)
    return out


def image_shown(conn, url: str, at: str) -> tuple[str, str, str] | None:
    """(sha256, WARC record id, captured at) of the file of the image ``url`` that a page
    captured at ``at`` showed, as best the archive knows: the latest capture of it at or before
    ``at``, else the first after (not the latest of all: a photo replaced later is not what the
    page showed). None if the archive holds no capture of it."""
    return conn.execute(
        "SELECT payload_sha256, warc_record_id, captured_at FROM capture_records "
        "WHERE url = :url AND role = 'image' AND payload_sha256 IN "
        "(SELECT sha256 FROM images) ORDER BY coalesce(captured_at > :at, 1), "
        "CASE WHEN captured_at <= :at THEN captured_at END DESC, captured_at LIMIT 1",
        {"url": url, "at": at},
    ).fetchone()


def article_changes(conn, old_id: str, new_id: str) -> list[dict]:
    """What changed from one capture of a page (article ``old_id``) to another (``new_id``)."""

    def claims(aid):
        return conn.execute(
            "SELECT id, text, text_sha256 FROM claims WHERE article_id = ? ORDER BY position",
            (aid,),
        ).fetchall()

    def uses(aid):
        (at,) = conn.execute("SELECT captured_at FROM articles WHERE id = ?", (aid,)).fetchone()
        return [
            (i, " / ".join(filter(None, [cap, credit])), f"{sha or shown(url, at)}|{cap}|{credit}")
            for i, cap, credit, sha, url in conn.execute(
                "SELECT id, caption, credit, image_sha256, url FROM image_uses "
                "WHERE article_id = ? ORDER BY position",
                (aid,),
            )
        ]

    def shown(url, at):
        # a use written when the archive held no capture of its image: the file it holds now
        found = image_shown(conn, url, at)
        return found[0] if found else url

    found = []
    for target, old, new in (
        ("claim", claims(old_id), claims(new_id)),
        ("image", uses(old_id), uses(new_id)),
    ):
        for change, o, n, score in _changes(old, new):
            found.append(
                {
                    "from_article_id": old_id,
                    "to_article_id": new_id,
                    "target": target,
                    "change": change,
                    "old_id": o and o[0],
                    "new_id": n and n[0],
                    "old_text": o and o[1],
                    "new_text": n and n[1],
                    "score": score,
                }
            )
    return found


def diff_articles(conn, url: str, old_id: str, new_id: str) -> None:
    """Store the changes between two consecutive captures of the page ``url``."""
    for c in article_changes(conn, old_id, new_id):
        conn.execute(
            "INSERT INTO changes (url, from_article_id, to_article_id, target, change, old_id, "
            "new_id, old_text, new_text, score) VALUES (:url, :from_article_id, "
            ":to_article_id, :target, :change, :old_id, :new_id, :old_text, :new_text, :score)",
            {"url": url, **c},
        )
