"""Sorted table pages that hold every row once.

Datasette 0.65 pages a sorted table by keyset: the second page on is ``order by <column>,
<primary key>`` after the last row's (value, key), but the first page is ``order by <column>``
alone, so rows that tie on the column come in whatever order SQLite reads them, not by key.
The pages after it then skip some rows and repeat others: a CSV export of the claims sorted by
speaker held 36,905 of 68,898 rows, with no error (found in a researcher's review). The first
page's query is given the same tie-break as the pages after it.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from datasette.utils import detect_primary_keys, escape_sqlite

# Datasette's table query (views/table.py): "select <columns> from <table> <where>order by
# <column>[ desc] limit <n>". The later pages' order has a ", <key>" and does not match.
_NAME = r"(\[[^\]]+\]|\S+)"  # as escape_sqlite writes it
_FIRST_PAGE = re.compile(
    rf"^(select .+? from {_NAME} (?:where .+ )?order by {_NAME}(?: desc)?) (limit \d+)$", re.S
)


def tie_breaks(conn) -> dict[str, str]:
    """For each table, by its name as Datasette writes it in SQL, what its later pages order
    ties by: its primary key, else its rowid."""
    ties = {}
    for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        pks = detect_primary_keys(conn, name)
        ties[escape_sqlite(name)] = ", ".join(map(escape_sqlite, pks)) if pks else "rowid"
    return ties


def _from_table_view() -> bool:
    """Whether Datasette's table view built this query (a few calls up the stack, with no
    query view between: the table view runs canned queries through it): a reader's own SQL,
    however alike, is run as written (reviews found a UNION of theirs broken by the
    tie-break, through ?sql= and then through a canned query)."""
    frame = sys._getframe(2)
    for _ in range(10):
        if frame is None:
            return False
        where = Path(frame.f_code.co_filename).parts[-2:]
        if where == ("views", "database.py"):
            return False
        if where == ("views", "table.py"):
            return True
        frame = frame.f_back
    return False


def with_tie_break(sql: str, ties: dict[str, str]) -> str:
    """``sql`` with the tie-break added if it is the first page of a sorted table."""
    match = _FIRST_PAGE.match(sql)
    if match is None or match.group(2) not in ties:
        return sql
    tie = ties[match.group(2)]
    if match.group(3) == tie:  # sorted by the key itself
        return sql
    return f"{match.group(1)}, {tie} {match.group(4)}"


async def tie_first_pages(datasette) -> None:
    """Have each database of ``datasette`` run its tables' first sorted pages with the
    tie-break (its ``execute`` wrapped, for this server only)."""
    for db in list(datasette.databases.values()):
        if db.is_memory:
            continue
        ties = await db.execute_fn(tie_breaks)
        execute = db.execute

        async def tied(sql, *args, _execute=execute, _ties=ties, **kwargs):
            if _from_table_view():
                sql = with_tie_break(sql, _ties)
            return await _execute(sql, *args, **kwargs)

        db.execute = tied
