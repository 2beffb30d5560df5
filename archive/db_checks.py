"""Checks of the archive database beyond its signed rows (archive/checks.py checks those): the
file itself (SQLite's integrity_check), its schema against what the migrations make, the full-text
indexes, the counts ingest keeps, and the stored images. Each runs in ``archive verify``."""

from __future__ import annotations

import contextlib
import functools
import itertools
import sqlite3

import sqlite_utils

from .db import migrate
from .hashing import sha256_hex
from .schema import FTS_COLUMNS
from .summaries import RECOUNTS


def check_structure(conn) -> list[str]:
    """SQLite's own check of the database file (``PRAGMA integrity_check``): damaged or
    misplaced pages, in tables the row checks never read too (full-text indexes, the ledger's
    indexes), and every index's entries against its table's rows. ``quick_check`` leaves the
    last out, and an index rebuilt with other speakers passed it: Datasette reads speaker_quotes
    through that index (a review; 4.6 s against 1.4 s warm for a 840 MB archive). What it
    reports (at most 20 problems); [] when the file is sound."""
    try:
        found = [row[0] for row in conn.execute("PRAGMA integrity_check(20)")]
    except sqlite3.DatabaseError as e:
        return [str(e)]
    if found == ["ok"]:
        return []
    # one problem a line (a row can hold several, under a "*** in database main ***" line:
    # they were printed without their FAILED prefix, an archivist's review)
    lines = (line.strip() for row in found for line in str(row).splitlines())
    return [line for line in lines if line and not line.startswith("***")]


def database_file(conn: sqlite3.Connection) -> str | None:
    """The database file behind ``conn`` (None in memory): worker processes open it read-only."""
    for _, name, file in conn.execute("PRAGMA database_list"):
        if name == "main":
            return file or None
    return None


def check_search_indexes(conn) -> tuple[int, list[tuple[str, str]]]:
    """Each full-text index against its table, by FTS5's own ``integrity-check``: (how many
    match, (name, what is wrong) for those that do not). An index written on purpose (a claim found
    under words it does not hold, or not found) passes SQLite's page check; this finds it. A
    virtual table the archive does not make is named too (Datasette would search the first
    index over a table it finds, had the metadata not named them).

    The check is an INSERT, which a read-only connection refuses, so it runs on a copy of the
    index's shadow tables in the connection's temporary database, over a view of the table:
    nothing is written to the archive (2.5 s at 690,000 claims, in a worker beside the row
    checks). On ``conn`` itself, in its snapshot: a second connection waited for an ingest
    waiting to commit, a minute each (a review)."""
    verified, problems = 0, []
    for (name,) in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE 'CREATE VIRTUAL TABLE%'"
    ):
        if name not in {f"{table}_fts" for table in FTS_COLUMNS}:
            problems.append((name, "a virtual table the archive does not make"))
    for table, columns in FTS_COLUMNS.items():
        fts, cols = f"{table}_fts", ", ".join(columns)
        # a name of its own each time: a damaged index's copy may not drop
        copy = f"archive_check_{next(_copies)}_{table}_fts"
        reading = True
        try:
            conn.execute(f"CREATE TEMP VIEW {copy}_rows AS SELECT rowid, {cols} FROM main.{table}")
            conn.execute(
                f"CREATE VIRTUAL TABLE temp.{copy} USING fts5({cols}, content={copy}_rows)"
            )
            new = set(conn.execute(f"SELECT k, v FROM temp.{copy}_config"))
            kept = set(conn.execute(f"SELECT k, v FROM main.{fts}_config"))
            for shadow in ("data", "idx", "docsize"):
                conn.execute(f"DELETE FROM temp.{copy}_{shadow}")
                conn.execute(f"INSERT INTO temp.{copy}_{shadow} SELECT * FROM main.{fts}_{shadow}")
            reading = False
            if kept != new:  # (a version no FTS5 reads fails every search; a rank reorders)
                problems.append((fts, "its configuration is not that of the index ingest makes"))
                continue
            conn.execute(f"INSERT INTO temp.{copy} ({copy}, rank) VALUES ('integrity-check', 1)")
            verified += 1
        except sqlite3.DatabaseError as e:
            if reading or "malformed" not in str(e):
                problems.append((fts, f"could not be checked ({e})"))
            else:
                problems.append(
                    (
                        fts,
                        f"does not match {table}: a search finds rows under words they do not "
                        "hold, or misses rows (FTS5's integrity-check)",
                    )
                )
        finally:
            with contextlib.suppress(sqlite3.DatabaseError):
                conn.execute(f"DROP TABLE IF EXISTS temp.{copy}")
            with contextlib.suppress(sqlite3.DatabaseError):
                conn.execute(f"DROP VIEW IF EXISTS temp.{copy}_rows")
    return verified, problems


#: numbers for the copies' names
_copies = itertools.count()

# claim_texts.site_names sorted, as ingest writes it (a recount lists the publications in the
# order of the rows)
_SORTED_SITES = (
    "CASE WHEN outlets > 1 AND json_valid(site_names) THEN (SELECT json_group_array(value) "
    "FROM (SELECT value FROM json_each(site_names) ORDER BY value)) ELSE site_names END"
)


def check_derived_counts(conn) -> list[tuple[str, int, list[tuple[str, str]]]]:
    """The counts each ingest keeps (``speaker_sites``, ``claim_texts``: what the ``speakers``
    and ``claim_appearances`` views show), recounted from the signed claims and compared: for
    each table, (its name, how many rows match, (row, what is wrong) for the others). Derived,
    not signed: without this, one altered count passed verify (6.6 s at 690,000 claims)."""
    found = []
    for table, (columns, recount) in RECOUNTS.items():
        key = columns.split(",")[0] if table == "claim_texts" else "speaker, site_name"
        shown = columns.replace("site_names", f"{_SORTED_SITES} AS site_names")
        counted = f"archive_check_{next(_copies)}_{table}"

        # each distinct row with how many times it is there: a row stored twice (a NULL
        # site_name escapes the unique index) doubled a speaker's counts unseen by EXCEPT
        rows = f"SELECT *, count(*) FROM (SELECT {shown} FROM {{}}) GROUP BY {columns}".format
        try:
            conn.execute(f"CREATE TEMP TABLE {counted} ({columns})")
            conn.execute(f"INSERT INTO {counted} {recount}")
            stored, again = rows(f"main.{table}"), rows(f"temp.{counted}")
            missing = conn.execute(f"SELECT {key} FROM ({again} EXCEPT {stored})").fetchall()
            extra = conn.execute(f"SELECT {key} FROM ({stored} EXCEPT {again})").fetchall()
            total = conn.execute(f"SELECT count(*) FROM temp.{counted}").fetchone()[0]
        except sqlite3.Error as e:  # the table dropped or its columns changed: named, not fatal
            found.append((table, 0, [("-", f"could not be recounted and compared ({e})")]))
            continue
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute(f"DROP TABLE IF EXISTS temp.{counted}")
        wrong = {row: "differs from the claims' recount" for row in missing}
        for row in extra:
            wrong.setdefault(row, "is not in the claims' recount, or is there more than once")
        problems = [(" / ".join(str(v) for v in row), why) for row, why in wrong.items()]
        found.append((table, total - len(missing), problems))
    return found


def check_images(conn) -> tuple[int, list[tuple[str, str]]]:
    """Each stored image against its SHA-256 and its length: (how many match, (hash, problem)
    for those that don't)."""
    verified, altered = 0, []
    for sha, content, size in conn.execute("SELECT sha256, content, bytes FROM images"):
        if not isinstance(content, bytes) or sha256_hex(content) != sha:
            altered.append((sha, "content does not match sha256"))
        elif size != len(content):
            altered.append((sha, f"bytes is {size}, the content's length {len(content)}"))
        else:
            verified += 1
    return verified, altered


def schema_problems(conn: sqlite3.Connection) -> list[tuple[str, str]]:
    """(name, problem) for each table, view or trigger of the database that is not as the
    archive's migrations make it: missing, added, or defined otherwise. A view redefined in the
    file (``quotes`` giving every quote to someone else) changed what Datasette shows while
    every signed row stayed intact (an auditor's review). Indexes are left out: one more or
    less changes no result."""
    expected, found = _expected_schema(), _schema_of(conn)
    problems = []
    for name in sorted(expected.keys() | found.keys()):
        want, got = expected.get(name), found.get(name)
        if want == got:
            continue
        kind = (want or got)[0]
        if got is None:
            problems.append((name, f"{kind} missing: the archive's migrations create it"))
        elif want is None:
            shown = (got[1] or name)[:80]
            problems.append((name, f"{kind} added: not one of the archive's (`{shown}`)"))
        else:
            problems.append((name, f"{kind} defined otherwise than the archive's migrations "
                                   f"define it (`{(got[1] or '')[:80]}`)"))  # fmt: skip
    return problems


@functools.cache
def _expected_schema() -> dict[str, tuple[str, str | None]]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        migrate(sqlite_utils.Database(conn))
        return _schema_of(conn)
    finally:
        conn.close()


#: The full-text indexes' own tables, which FTS5 makes: their definitions are SQLite's, and may
#: differ between the SQLite that made the archive and the one that checks it (their contents
#: are checked with the indexes, check_search_indexes).
_FTS_SHADOWS = frozenset(
    f"{table}_fts_{part}"
    for table in FTS_COLUMNS
    for part in ("data", "idx", "docsize", "config", "content")
)


def _schema_of(conn: sqlite3.Connection) -> dict[str, tuple[str, str | None]]:
    return {
        name: (kind, None if name in _FTS_SHADOWS else sql)
        for kind, name, sql in conn.execute(
            "SELECT type, name, sql FROM sqlite_master "
            "WHERE type IN ('table', 'view', 'trigger') AND name NOT LIKE 'sqlite!_%' ESCAPE '!'"
        )
    }
