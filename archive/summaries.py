"""The counts behind the ``speakers`` and ``claim_appearances`` views, kept as tables.

Both views used to count every claim each time they were read: at a million claims
``speakers`` took 1-5 s and ``claim_appearances``, sorted as published, passed the server's
time limit (docs/performance.md, tenth round). Now an ingest adds each capture's counts to
``speaker_sites`` (one row per speaker and outlet) and ``claim_texts`` (one row per distinct
claim text), and the views read those. Derived data, not signed: the same numbers the old
views counted, which ``rebuild`` (migration 0009) computes from the claims.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass


@dataclass
class _Speaker:
    claims: int = 0
    quotes: int = 0
    first: str | None = None
    last: str | None = None


@dataclass(slots=True)
class _Text:
    appearances: int = 0
    first: str | None = None
    claim_id: str = ""
    # most texts are on one site: a frozenset shared by all of them, a set of their own from
    # the second (an empty set is 216 bytes, two fifths of what a text held took)
    sites: frozenset | set = frozenset()


def _earlier(a: str | None, b: str | None) -> str | None:
    return b if a is None or (b is not None and b < a) else a


def _later(a: str | None, b: str | None) -> str | None:
    return b if a is None or (b is not None and b > a) else a


class Summaries:
    """One capture's counts, gathered as its articles are written and added to the tables, in
    the capture's transaction, at ``finish`` and whenever ``flush_at`` texts or speakers are
    held. The additions are sums, minimums and unions, so adding a capture in parts gives the
    same rows as adding it at once; held whole, one entry per distinct claim text, a capture of
    200,000 claims took ~105 MB of the writer's memory (``benchmarks/memory.py``)."""

    #: texts (or speakers and sites) held before they are added: ~290 bytes a text (its hash
    #: and first claim id ~200 of it)
    flush_at = 20_000

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.speakers: dict[tuple[str, str | None], _Speaker] = {}
        self.texts: dict[str, _Text] = {}
        self._one_site: dict[str, frozenset] = {}

    def article(self, article: dict, claims: list[dict]) -> None:
        """Count one article's claims (rows as written: ``speaker``, ``kind``, ...)."""
        site, at = article.get("site_name"), article.get("captured_at")
        for claim in claims:
            if claim.get("speaker") is not None:
                s = self.speakers.setdefault((claim["speaker"], site), _Speaker())
                s.claims += 1
                s.quotes += claim.get("kind") == "quote"
                s.first, s.last = _earlier(s.first, at), _later(s.last, at)
            t = self.texts.get(claim["text_sha256"])
            if t is None:
                t = self.texts[claim["text_sha256"]] = _Text(claim_id=claim["id"])
            t.appearances += 1
            t.first = _earlier(t.first, at)
            if site is not None and site not in t.sites:
                if not t.sites:
                    one = self._one_site.get(site)
                    if one is None:
                        one = self._one_site[site] = frozenset((site,))
                    t.sites = one
                elif isinstance(t.sites, frozenset):
                    t.sites = {*t.sites, site}
                else:
                    t.sites.add(site)
        if len(self.texts) >= self.flush_at or len(self.speakers) >= self.flush_at:
            self.finish()

    def finish(self) -> None:
        """Add the counts held to ``speaker_sites`` and ``claim_texts``, and let them go."""
        self._add_speakers()
        self._add_texts()
        self.speakers, self.texts = {}, {}

    def _add_speakers(self) -> None:
        conn = self.conn
        for (speaker, site), s in self.speakers.items():
            row = {"speaker": speaker, "site": site, "claims": s.claims, "quotes": s.quotes,
                   "first": s.first, "last": s.last}  # fmt: skip
            # min() and max() of SQLite are NULL when either side is: coalesce each side
            updated = conn.execute(
                "UPDATE speaker_sites SET claims = claims + :claims, quotes = quotes + :quotes, "
                "first_captured_at = min(coalesce(first_captured_at, :first), "
                "coalesce(:first, first_captured_at)), last_captured_at = "
                "max(coalesce(last_captured_at, :last), coalesce(:last, last_captured_at)) "
                "WHERE speaker = :speaker AND site_name IS :site",
                row,
            ).rowcount
            if not updated:
                conn.execute(
                    "INSERT INTO speaker_sites (speaker, site_name, claims, quotes, "
                    "first_captured_at, last_captured_at) "
                    "VALUES (:speaker, :site, :claims, :quotes, :first, :last)",
                    row,
                )

    def _add_texts(self) -> None:
        conn = self.conn
        for sha, t in self.texts.items():
            known = conn.execute(
                "SELECT site_names FROM claim_texts WHERE text_sha256 = ?", (sha,)
            ).fetchone()
            if known is None:
                conn.execute(
                    "INSERT INTO claim_texts (text_sha256, appearances, outlets, "
                    "first_captured_at, claim_id, site_names) VALUES (?, ?, ?, ?, ?, ?)",
                    (sha, t.appearances, len(t.sites), t.first, t.claim_id, site_list(t.sites)),
                )
                continue
            # the text's publications so far are on its row: a new one is known without
            # reading the text's other claims (a wire story's thousands: found in review)
            names = set(json.loads(known[0]))
            conn.execute(
                "UPDATE claim_texts SET appearances = appearances + :n, outlets = :outlets, "
                "site_names = :names, first_captured_at = min(coalesce(first_captured_at, "
                ":first), coalesce(:first, first_captured_at)) WHERE text_sha256 = :sha",
                {
                    "n": t.appearances,
                    "outlets": len(names | t.sites),
                    "names": site_list(names | t.sites),
                    "first": t.first,
                    "sha": sha,
                },
            )


def site_list(names) -> str:
    """``claim_texts.site_names``: the publications as a JSON array, sorted, as SQLite's JSON
    functions write it (compact, UTF-8)."""
    return json.dumps(sorted(names), ensure_ascii=False, separators=(",", ":"))


#: Each table's columns and their counts from every claim (the views' old queries): what
#: migration 0009 filled the tables with, and what ``verify --derived`` compares them with
#: (``site_names`` in the order of the rows: sorted apart).
RECOUNTS = {
    "speaker_sites": (
        "speaker, site_name, claims, quotes, first_captured_at, last_captured_at",
        "SELECT c.speaker, a.site_name, count(*), sum(c.kind = 'quote'), min(a.captured_at), "
        "max(a.captured_at) FROM claims c JOIN articles a ON a.id = c.article_id "
        "WHERE c.speaker IS NOT NULL GROUP BY c.speaker, a.site_name",
    ),
    "claim_texts": (
        "text_sha256, appearances, outlets, first_captured_at, site_names, claim_id",
        "SELECT g.*, (SELECT id FROM claims WHERE text_sha256 = g.text_sha256 ORDER BY rowid "
        "LIMIT 1) FROM (SELECT c.text_sha256, count(*), count(DISTINCT a.site_name), "
        "min(a.captured_at), json_group_array(DISTINCT a.site_name) FILTER "
        "(WHERE a.site_name IS NOT NULL) FROM claims c JOIN articles a ON a.id = c.article_id "
        "GROUP BY c.text_sha256) g",
    ),
}


def rebuild(conn: sqlite3.Connection) -> None:
    """Both tables computed from every claim (migration 0009; the views' old queries)."""
    for table, (columns, recount) in RECOUNTS.items():
        conn.execute(f"DELETE FROM {table}")
        conn.execute(f"INSERT INTO {table} ({columns}) {recount}")
    # json_group_array's order is the rows'; several names are sorted as ingest keeps them
    several = conn.execute("SELECT text_sha256, site_names FROM claim_texts WHERE outlets > 1")
    conn.executemany(
        "UPDATE claim_texts SET site_names = ? WHERE text_sha256 = ?",
        [(site_list(json.loads(names)), sha) for sha, names in several.fetchall()],
    )
