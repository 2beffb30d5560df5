"""The counts behind the ``speakers`` and ``claim_appearances`` views, kept as tables.

Both views used to count every claim each time they were read: at a million claims
``speakers`` took 1-5 s and ``claim_appearances``, sorted as published, passed the server's
time limit (docs/performance.md, tenth round). Now an ingest adds each capture's counts to
``speaker_sites`` (one row per speaker and outlet) and ``claim_texts`` (one row per distinct
claim text), and the views read those. Derived data, not signed: the same numbers the old
views counted, which ``rebuild`` (migration 0009) computes from the claims.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field


@dataclass
class _Speaker:
    claims: int = 0
    quotes: int = 0
    first: str | None = None
    last: str | None = None


@dataclass
class _Text:
    appearances: int = 0
    first: str | None = None
    claim_id: str = ""
    sites: set = field(default_factory=set)


def _earlier(a: str | None, b: str | None) -> str | None:
    return b if a is None or (b is not None and b < a) else a


def _later(a: str | None, b: str | None) -> str | None:
    return b if a is None or (b is not None and b > a) else a


class Summaries:
    """One capture's counts, gathered as its articles are written and added at ``finish``, in
    the capture's transaction."""

    def __init__(self, conn: sqlite3.Connection, capture_sha256: str):
        self.conn, self.capture = conn, capture_sha256
        self.speakers: dict[tuple[str, str | None], _Speaker] = {}
        self.texts: dict[str, _Text] = {}

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
            if site is not None:
                t.sites.add(site)

    def finish(self) -> None:
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
        for sha, t in self.texts.items():
            known = conn.execute("SELECT 1 FROM claim_texts WHERE text_sha256 = ?", (sha,))
            if known.fetchone() is None:
                conn.execute(
                    "INSERT INTO claim_texts (text_sha256, appearances, outlets, "
                    "first_captured_at, claim_id) VALUES (?, ?, ?, ?, ?)",
                    (sha, t.appearances, len(t.sites), t.first, t.claim_id),
                )
                continue
            # an outlet is new to this text unless an earlier capture had the text there
            new_sites = sum(
                conn.execute(
                    "SELECT 1 FROM claims c JOIN articles a ON a.id = c.article_id "
                    "WHERE c.text_sha256 = ? AND a.site_name = ? AND a.capture_sha256 != ? "
                    "LIMIT 1",
                    (sha, site, self.capture),
                ).fetchone()
                is None
                for site in t.sites
            )
            conn.execute(
                "UPDATE claim_texts SET appearances = appearances + :n, outlets = outlets + "
                ":sites, first_captured_at = min(coalesce(first_captured_at, :first), "
                "coalesce(:first, first_captured_at)) WHERE text_sha256 = :sha",
                {"n": t.appearances, "sites": new_sites, "first": t.first, "sha": sha},
            )


def rebuild(conn: sqlite3.Connection) -> None:
    """Both tables computed from every claim (migration 0009; the views' old queries)."""
    conn.execute("DELETE FROM speaker_sites")
    conn.execute("DELETE FROM claim_texts")
    conn.execute(
        "INSERT INTO speaker_sites (speaker, site_name, claims, quotes, first_captured_at, "
        "last_captured_at) SELECT c.speaker, a.site_name, count(*), sum(c.kind = 'quote'), "
        "min(a.captured_at), max(a.captured_at) FROM claims c JOIN articles a "
        "ON a.id = c.article_id WHERE c.speaker IS NOT NULL GROUP BY c.speaker, a.site_name"
    )
    conn.execute(
        "INSERT INTO claim_texts (text_sha256, appearances, outlets, first_captured_at, "
        "claim_id) SELECT g.*, (SELECT id FROM claims WHERE text_sha256 = g.text_sha256 "
        "ORDER BY rowid LIMIT 1) FROM (SELECT c.text_sha256, count(*), "
        "count(DISTINCT a.site_name), min(a.captured_at) FROM claims c JOIN articles a "
        "ON a.id = c.article_id GROUP BY c.text_sha256) g"
    )
