"""The archive's schema, as recorded migrations (applied by ``db.migrate``).

The schema is a public interface (researchers write SQL against it, auditors verify it): every
change is a new named migration appended to ``MIGRATIONS``, never an edit of an old one, and every
table and column is described in ``datasette-metadata.json``.
"""

from __future__ import annotations

import sqlite3
import urllib.parse

import sqlite_utils

from .refill import MINHASH_TABLES, fill_in_key_order, minhashed

SIGNED_TABLES = ("key_rotations", "captures", "articles", "claims", "image_uses")

_V1 = """
CREATE TABLE keys (
    key_id TEXT PRIMARY KEY,
    algorithm TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE captures (
    sha256 TEXT PRIMARY KEY,
    filename TEXT NOT NULL,
    format TEXT NOT NULL,
    bytes INTEGER NOT NULL,
    stored_path TEXT NOT NULL,
    records INTEGER,
    articles INTEGER,
    claims INTEGER,
    images INTEGER,
    skipped INTEGER,
    digest_failures INTEGER,
    wacz_signature TEXT,
    wacz_signer TEXT,
    wacz_problems TEXT,
    ingested_at TEXT NOT NULL,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id)
);
CREATE TABLE capture_records (
    capture_sha256 TEXT NOT NULL REFERENCES captures(sha256),
    member TEXT NOT NULL DEFAULT '',
    "offset" INTEGER NOT NULL,
    warc_record_id TEXT,
    type TEXT,
    url TEXT,
    captured_at TEXT,
    status INTEGER,
    mime_type TEXT,
    payload_bytes INTEGER,
    payload_sha256 TEXT,
    digest TEXT,
    role TEXT,
    note TEXT,
    PRIMARY KEY (capture_sha256, member, "offset")
);
CREATE TABLE articles (
    id TEXT PRIMARY KEY,
    capture_sha256 TEXT NOT NULL REFERENCES captures(sha256),
    warc_record_id TEXT NOT NULL,
    warc_offset INTEGER NOT NULL,
    warc_member TEXT NOT NULL DEFAULT '',
    url TEXT NOT NULL,
    captured_at TEXT,
    canonical_url TEXT,
    title TEXT,
    site_name TEXT,
    authors TEXT,
    published_at TEXT,
    language TEXT,
    section TEXT,
    text TEXT NOT NULL,
    html_sha256 TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id)
);
CREATE TABLE claims (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    position INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('statement', 'quote', 'note', 'caption')),
    text TEXT NOT NULL,
    text_sha256 TEXT NOT NULL,
    normalization TEXT NOT NULL,
    text_start INTEGER,
    text_end INTEGER,
    speaker TEXT,
    speaker_mention TEXT,
    cue TEXT,
    quote TEXT,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id)
);
CREATE TABLE images (
    sha256 TEXT PRIMARY KEY,
    mime_type TEXT,
    width INTEGER,
    height INTEGER,
    bytes INTEGER NOT NULL,
    phash TEXT,
    content BLOB NOT NULL
);
CREATE TABLE image_uses (
    id TEXT PRIMARY KEY,
    article_id TEXT NOT NULL REFERENCES articles(id),
    position INTEGER NOT NULL,
    url TEXT NOT NULL,
    image_sha256 TEXT REFERENCES images(sha256),
    image_warc_record_id TEXT,
    image_captured_at TEXT,
    alt TEXT,
    caption TEXT,
    credit TEXT,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id)
);
CREATE TABLE ledger (
    seq INTEGER PRIMARY KEY,
    leaf_hash TEXT NOT NULL,
    record_table TEXT NOT NULL,
    record_id TEXT NOT NULL,
    UNIQUE (record_table, record_id)
);
CREATE TABLE checkpoints (
    id INTEGER PRIMARY KEY,
    origin TEXT NOT NULL,
    tree_size INTEGER NOT NULL,
    root_hash TEXT NOT NULL,
    note TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id),
    created_at TEXT NOT NULL
);
CREATE TABLE key_rotations (
    id TEXT PRIMARY KEY,
    old_key_id TEXT NOT NULL REFERENCES keys(key_id),
    new_key_id TEXT NOT NULL REFERENCES keys(key_id),
    new_public_key TEXT NOT NULL,
    new_key_signature TEXT NOT NULL,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL REFERENCES keys(key_id)
);
CREATE TABLE claim_bands (
    band_key INTEGER NOT NULL,
    claim_id TEXT NOT NULL REFERENCES claims(id),
    PRIMARY KEY (band_key, claim_id)
) WITHOUT ROWID;
CREATE TABLE claim_links (
    claim_id TEXT NOT NULL REFERENCES claims(id),
    other_claim_id TEXT NOT NULL REFERENCES claims(id),
    relation TEXT NOT NULL CHECK (relation IN ('near', 'quote')),
    score REAL NOT NULL,
    PRIMARY KEY (claim_id, other_claim_id)
);
CREATE TABLE image_links (
    image_sha256 TEXT NOT NULL REFERENCES images(sha256),
    other_sha256 TEXT NOT NULL REFERENCES images(sha256),
    distance INTEGER NOT NULL,
    PRIMARY KEY (image_sha256, other_sha256)
);
CREATE TABLE changes (
    id INTEGER PRIMARY KEY,
    url TEXT NOT NULL,
    from_article_id TEXT NOT NULL REFERENCES articles(id),
    to_article_id TEXT NOT NULL REFERENCES articles(id),
    target TEXT NOT NULL CHECK (target IN ('claim', 'image')),
    change TEXT NOT NULL CHECK (change IN ('added', 'removed', 'changed')),
    old_id TEXT,
    new_id TEXT,
    old_text TEXT,
    new_text TEXT,
    score REAL
);
CREATE INDEX claim_bands_claim ON claim_bands(claim_id);
CREATE INDEX changes_url ON changes(url, from_article_id);
CREATE INDEX changes_to ON changes(to_article_id);
CREATE INDEX claim_links_other ON claim_links(other_claim_id);
CREATE INDEX image_links_other ON image_links(other_sha256);
CREATE INDEX images_phash ON images(phash);
CREATE INDEX capture_records_url ON capture_records(url);
CREATE INDEX articles_capture ON articles(capture_sha256);
CREATE INDEX articles_url ON articles(url);
CREATE INDEX articles_canonical_url ON articles(canonical_url);
CREATE INDEX claims_article ON claims(article_id, position);
CREATE INDEX claims_text_sha256 ON claims(text_sha256);
CREATE INDEX claims_speaker ON claims(speaker);
CREATE INDEX image_uses_article ON image_uses(article_id, position);
CREATE INDEX image_uses_image ON image_uses(image_sha256);
CREATE VIEW quotes AS
    SELECT claims.id AS claim_id, claims.speaker, claims.quote, claims.text, claims.cue,
           articles.site_name, articles.url, articles.captured_at, articles.id AS article_id
    FROM claims JOIN articles ON articles.id = claims.article_id
    WHERE claims.quote IS NOT NULL;
CREATE VIEW speakers AS
    SELECT claims.speaker, COUNT(*) AS claims, SUM(claims.kind = 'quote') AS quotes,
           COUNT(DISTINCT articles.site_name) AS outlets,
           MIN(articles.captured_at) AS first_captured_at,
           MAX(articles.captured_at) AS last_captured_at
    FROM claims JOIN articles ON articles.id = claims.article_id
    WHERE claims.speaker IS NOT NULL
    GROUP BY claims.speaker;
CREATE VIEW claim_appearances AS
    SELECT claims.text_sha256, COUNT(*) AS appearances,
           COUNT(DISTINCT articles.site_name) AS outlets,
           MIN(articles.captured_at) AS first_captured_at,
           MIN(claims.text) AS text
    FROM claims JOIN articles ON articles.id = claims.article_id
    GROUP BY claims.text_sha256;
"""


def _fts(table: str, columns: list[str]) -> str:
    """FTS5 index kept in step with ``table`` by triggers (the layout sqlite-utils uses)."""
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    fts = f"{table}_fts"
    return f"""
CREATE VIRTUAL TABLE {fts} USING FTS5({cols}, content=[{table}]);
CREATE TRIGGER {table}_ai AFTER INSERT ON {table} BEGIN
  INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {new});
END;
CREATE TRIGGER {table}_ad AFTER DELETE ON {table} BEGIN
  INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES('delete', old.rowid, {old});
END;
CREATE TRIGGER {table}_au AFTER UPDATE ON {table} BEGIN
  INSERT INTO {fts} ({fts}, rowid, {cols}) VALUES('delete', old.rowid, {old});
  INSERT INTO {fts} (rowid, {cols}) VALUES (new.rowid, {new});
END;
"""


def _run_script(db: sqlite_utils.Database, script: str) -> None:
    # executescript() would COMMIT the migration's transaction: run statement by statement.
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            db.conn.execute(buffer)
            buffer = ""


def _v1(db: sqlite_utils.Database) -> None:
    _run_script(db, _V1)
    for table, columns in FTS_COLUMNS.items():
        _run_script(db, _fts(table, columns))


_V2 = """
ALTER TABLE claims ADD COLUMN captured_at TEXT;
UPDATE claims SET captured_at =
    (SELECT captured_at FROM articles WHERE articles.id = claims.article_id);
CREATE INDEX claims_speaker_time ON claims(speaker, captured_at, position);
"""


def _v2(db: sqlite_utils.Database) -> None:
    """A speaker's claims in time order without reading every article: the speaker_quotes
    question at a million claims. ``captured_at`` is the article's, copied (not signed)."""
    _run_script(db, _V2)


#: Full-text columns, indexed per capture by :func:`index_text` (see 0004).
FTS_COLUMNS = {"claims": ["text", "speaker", "quote"], "articles": ["title", "text"]}


def _v3(db: sqlite_utils.Database) -> None:
    """Band keys made with FNV-1a in NumPy (shingles and bands), twice as fast as the CRC-32 per
    shingle and BLAKE2b per band they replace. Derived data: recomputed from the claims' text.
    Linking now looks bands up by key only, so the index by claim goes."""
    conn = db.conn
    conn.execute("DROP INDEX IF EXISTS claim_bands_claim")
    conn.execute("DELETE FROM claim_bands")
    tables = {"claim_bands": MINHASH_TABLES["claim_bands"]}
    fill_in_key_order(conn, tables, minhashed(conn, tuple(tables)))


def _v4(db: sqlite_utils.Database) -> None:
    """Full-text indexes filled once per capture (:func:`index_text`) instead of by a trigger
    per row: three times cheaper, in the same transaction. The update and delete triggers stay,
    so an edited row (which verify reports) still matches its index."""
    for table in FTS_COLUMNS:
        db.conn.execute(f"DROP TRIGGER IF EXISTS {table}_ai")


_V5 = """
CREATE TABLE claim_minhash (
    claim_id TEXT PRIMARY KEY REFERENCES claims(id),
    shingles INTEGER NOT NULL,
    signature BLOB NOT NULL
) WITHOUT ROWID;
"""


def _v5(db: sqlite_utils.Database) -> None:
    """Each claim's compact MinHash signature, so that linking estimates a candidate's similarity
    before scoring it exactly (most band matches are not near). Derived from the claim's text."""
    conn = db.conn
    _run_script(db, _V5)
    tables = {"claim_minhash": MINHASH_TABLES["claim_minhash"]}
    fill_in_key_order(conn, tables, minhashed(conn, tuple(tables)))


def index_text(conn: sqlite3.Connection, table: str, after_rowid: int) -> None:
    """Add the rows of ``table`` after ``after_rowid`` (one capture's) to its full-text index."""
    cols = ", ".join(FTS_COLUMNS[table])
    conn.execute(
        f"INSERT INTO {table}_fts (rowid, {cols}) SELECT rowid, {cols} FROM {table} "
        "WHERE rowid > ?",
        (after_rowid,),
    )


def max_rowid(conn: sqlite3.Connection, table: str) -> int:
    return conn.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {table}").fetchone()[0]


_V6 = """
CREATE TABLE ledger_frontier (
    height INTEGER PRIMARY KEY,
    hash TEXT NOT NULL
);
"""


def _v6(db: sqlite_utils.Database) -> None:
    """The ledger's Merkle frontier, stored by each ingest, so that the next one appends
    without reading every leaf (that took seconds and ~100 bytes of memory per ledger entry).
    Filled by the next ingest (which rebuilds it from the leaves once)."""
    _run_script(db, _V6)


def _v7(db: sqlite_utils.Database) -> None:
    """Band keys recomputed where an earlier hash family made them (the commit that fixed the
    MinHash permutations changed every key but added no migration, so an archive that had 0003
    kept keys no lookup finds: found in the seventh round's upgrade review). It sampled the
    keys and ran 0003's recomputation when one was missing. Nothing to do since 0008: migrations
    run in order, so 0008 always follows it, and 0008 recomputes every key (the two ran in
    turn, twice the work, on an archive older than both)."""


def _v8(db: sqlite_utils.Database) -> None:
    """Claims' MinHash over their distinctive 5-grams: the common ones (" the ", "said "...,
    ``common_shingles.py``) left out, so that unrelated sentences stop meeting in a band through
    them (about 3 times fewer false candidates, the near pairs found as before). Both derived
    tables, band keys and compact signatures, recomputed in one pass over the claims."""
    conn = db.conn
    conn.execute("DELETE FROM claim_bands")
    conn.execute("DELETE FROM claim_minhash")
    fill_in_key_order(conn, MINHASH_TABLES, minhashed(conn, tuple(MINHASH_TABLES)))


_V9 = """
CREATE TABLE speaker_sites (
    speaker TEXT NOT NULL,
    site_name TEXT,
    claims INTEGER NOT NULL,
    quotes INTEGER NOT NULL,
    first_captured_at TEXT,
    last_captured_at TEXT
);
CREATE UNIQUE INDEX speaker_sites_speaker ON speaker_sites(speaker, site_name);
CREATE TABLE claim_texts (
    text_sha256 TEXT PRIMARY KEY,
    appearances INTEGER NOT NULL,
    outlets INTEGER NOT NULL,
    first_captured_at TEXT,
    claim_id TEXT NOT NULL,
    site_names TEXT NOT NULL
);
CREATE INDEX claim_texts_appearances ON claim_texts(appearances);
DROP VIEW speakers;
CREATE VIEW speakers AS
    SELECT speaker, SUM(claims) AS claims, SUM(quotes) AS quotes,
           COUNT(DISTINCT site_name) AS outlets,
           MIN(first_captured_at) AS first_captured_at,
           MAX(last_captured_at) AS last_captured_at
    FROM speaker_sites
    GROUP BY speaker;
CREATE INDEX claims_quoted ON claims(speaker) WHERE quote IS NOT NULL;
CREATE INDEX claims_kind ON claims(kind, id, speaker, cue);
CREATE INDEX claims_cue ON claims(cue);
DROP VIEW quotes;
CREATE VIEW quotes AS
    SELECT claims.id AS claim_id, claims.speaker, claims.quote, claims.text, claims.cue,
           (SELECT site_name FROM articles WHERE articles.id = claims.article_id) AS site_name,
           (SELECT url FROM articles WHERE articles.id = claims.article_id) AS url,
           claims.captured_at, claims.article_id
    FROM claims
    WHERE claims.quote IS NOT NULL;
DROP VIEW claim_appearances;
CREATE VIEW claim_appearances AS
    SELECT text_sha256, appearances, outlets, first_captured_at,
           (SELECT text FROM claims WHERE claims.id = claim_texts.claim_id) AS text
    FROM claim_texts;
"""


def _v9(db: sqlite_utils.Database) -> None:
    """The speakers and claim_appearances views read counts an ingest keeps
    (``summaries.py``) instead of counting every claim when read: at a million claims they took
    1-5 s, and claim_appearances passed the server's time limit. quotes has an index of its
    own, and the claims table's facets kind and cue theirs (each ran out of Datasette's 200 ms
    on every claims page). Same columns, same numbers; claim_appearances' text is now the first
    claim's with that hash (it was the least, and claims of one hash have the same text but for
    spacing, case and quote marks)."""
    from .summaries import rebuild

    # The views' other columns by subqueries, not joins: a count of a view (every table page
    # shows one) then reads one index (claim_appearances 1.2 s and quotes 0.4 s at a million
    # claims with the joins). quotes' captured_at is the claim's copy of its article's.
    _run_script(db, _V9)
    rebuild(db.conn)


def _v10(db: sqlite_utils.Database) -> None:
    """The claims sorted by speaker open at a million claims: Datasette's pages order the
    speaker's ties by claim id (the first page too, since archive/datasette_paging.py), which
    the index on the speaker alone could not give: 1.8 s for the first page, 0.7 s for the next,
    sorting the 730,000 claims with no speaker. The index holds the id too, and still serves
    every lookup by speaker."""
    _run_script(
        db,
        "DROP INDEX IF EXISTS claims_speaker;\n"
        "CREATE INDEX claims_speaker ON claims(speaker, id);\n",
    )


def _v11(db: sqlite_utils.Database) -> None:
    """``speaker_sites`` holds one row per speaker and publication, a NULL ``site_name`` too:
    the unique index on ``(speaker, site_name)`` let rows with no site name repeat, as SQLite's
    NULLs are distinct, so a repeated row inflated the speakers view unrefused. Indexed by the
    name with NULL as the empty string instead. An archive that holds a repeat (ingest never
    writes one) has its counts recomputed from the claims first."""
    from .summaries import rebuild

    conn = db.conn
    repeated = conn.execute(
        "SELECT 1 FROM speaker_sites GROUP BY speaker, coalesce(site_name, '') "
        "HAVING count(*) > 1 LIMIT 1"
    ).fetchone()
    if repeated:
        rebuild(conn)
    _run_script(
        db,
        "DROP INDEX speaker_sites_speaker;\n"
        "CREATE UNIQUE INDEX speaker_sites_speaker\n"
        "    ON speaker_sites(speaker, coalesce(site_name, ''));\n",
    )


def _v12(db: sqlite_utils.Database) -> None:
    """A page is one page in any of its spellings since this migration (archive/pages.py: http
    or https, the host's case, a default port, a fragment, a slash at the end of the path). The
    captures of a page whose canonical URL (else URL) changed spelling between them were pages
    of their own in ``changes``: those pages alone are diffed again, as one timeline. (Run
    after 0013 was written, it joins hosts with ``www.`` and without it too, which 0013 then
    diffs again: the same rows.)"""
    from .changes import diff_joined_pages

    diff_joined_pages(db.conn, lambda urls: len(urls) > 1)


def _v13(db: sqlite_utils.Database) -> None:
    """A host with ``www.`` and without it is one host since this migration (archive/pages.py,
    as the Internet Archive's URL canonicaliser has it): the pages whose captures name both are
    diffed again, as one timeline; no other page is touched."""
    from .changes import diff_joined_pages

    def both(urls: set[str]) -> bool:
        try:
            hosts = {urllib.parse.urlsplit(u).netloc.lower().rpartition("@")[2] for u in urls}
        except ValueError:  # not a URL ("http://[::1", from a page's canonical link)
            return False
        return len({h.startswith("www.") for h in hosts}) > 1

    diff_joined_pages(db.conn, both)


def _v14(db: sqlite_utils.Database) -> None:
    """The claims filtered by cue (a facet of every claims page) open at a million claims:
    Datasette pages them in id order, which the index of the cue alone could not give (the
    62,000 claims cued "said" sorted for each page: 0.07-0.23 s warm, 9 s cold), and their kind
    and speaker facets read each such claim's row. As ``claims_kind`` (0009), the index holds
    the id, the kind and the speaker too, and serves every lookup by cue as before."""
    _run_script(
        db,
        "DROP INDEX IF EXISTS claims_cue;\n"
        "CREATE INDEX claims_cue ON claims(cue, id, kind, speaker);\n",
    )


def _v15(db: sqlite_utils.Database) -> None:
    """An image use written when the archive held no capture of its image's file (only its
    URL) is, in ``changes``, the file the archive now holds at that URL, as ingest would choose
    it (``changes.image_shown``): it read as a "changed image" with the same caption, or as
    one removed and one added. The pairs of captures with an image change beside such a use
    are diffed again; no other row is touched."""
    from .changes import diff_articles

    conn = db.conn
    pairs = conn.execute(
        "SELECT DISTINCT url, from_article_id, to_article_id FROM changes AS c "
        "WHERE target = 'image' AND EXISTS (SELECT 1 FROM image_uses AS u "
        "WHERE u.article_id IN (c.from_article_id, c.to_article_id) AND u.image_sha256 IS NULL)"
    ).fetchall()
    for url, old, new in pairs:
        conn.execute(
            "DELETE FROM changes WHERE from_article_id = ? AND to_article_id = ?", (old, new)
        )
        diff_articles(conn, url, old, new)


def _v16(db: sqlite_utils.Database) -> None:
    """speaker_quotes finds a name typed in another case (``elena varga``) by an index instead
    of lower-casing every row of ``speaker_sites`` (2-4 ms of each request at 16,000 rows).
    ``NOCASE`` folds ASCII letters only, as SQLite's ``lower()`` did."""
    _run_script(db, "CREATE INDEX speaker_sites_nocase ON speaker_sites(speaker COLLATE NOCASE);\n")


#: (name, function) in order. Append only.
MIGRATIONS = [
    ("0001_initial", _v1),
    ("0002_claims_captured_at", _v2),
    ("0003_fnv_band_keys", _v3),
    ("0004_fts_per_capture", _v4),
    ("0005_claim_minhash", _v5),
    ("0006_ledger_frontier", _v6),
    ("0007_band_keys_checked", _v7),
    ("0008_minhash_without_common_shingles", _v8),
    ("0009_speaker_and_text_counts", _v9),
    ("0010_claims_by_speaker_and_id", _v10),
    ("0011_speaker_sites_one_row_without_site", _v11),
    ("0012_one_page_in_any_spelling", _v12),
    ("0013_www_is_the_same_host", _v13),
    ("0014_claims_by_cue_and_id", _v14),
    ("0015_image_file_missing_is_not_a_change", _v15),
    ("0016_speakers_in_any_case", _v16),
]
