"""The speaker_quotes canned query's SQL, run directly on the provenance test archive (its
paging over Datasette is tests/test_serve.py's; its page in a browser,
tests/test_browser_questions.py's)."""

from __future__ import annotations

import sqlite3

import pytest

from .conftest import canned_query
from .test_provenance import provenance_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return provenance_archive(tmp_path_factory.mktemp("quotes"))


def test_q2_speaker_quotes_counts_where_else_each_claim_appears(archive):
    """The canned query's `elsewhere`: other claims with the same text hash, plus near and
    quote links; computed here another way, for every speaker."""

    sql = canned_query("speaker_quotes")["sql"]
    conn = sqlite3.connect(archive)
    claims = conn.execute("SELECT id, text_sha256, speaker FROM claims").fetchall()
    links = [r[0] for r in conn.execute("SELECT claim_id FROM claim_links")]
    expected = {
        cid: sum(1 for o, h, _ in claims if h == sha and o != cid) + links.count(cid)
        for cid, sha, _ in claims
    }
    seen = 0
    for (speaker,) in conn.execute("SELECT DISTINCT speaker FROM claims WHERE speaker != ''"):
        cursor = conn.execute(sql, {"speaker": speaker, "from": "", "after": ""})
        names = [d[0] for d in cursor.description]
        for row in cursor.fetchall():
            row = dict(zip(names, row, strict=True))
            assert row["elsewhere"] == expected[row["claim_id"]], row
            seen += row["elsewhere"] > 0
    assert seen >= 2  # some of them appear elsewhere


def test_q2_a_whole_name_wins_over_a_part_of_another(archive, tmp_path):
    """speaker_quotes for "trump" on real news found the speaker named only "Trump" and none of
    "Donald Trump"'s claims (a researcher's review): a whole name, in any case, is that speaker;
    a part finds a speaker only when one name holds it. Its description now says so."""
    import shutil

    query = canned_query("speaker_quotes")
    assert "a whole name wins over a part" in query["description"]
    copy = tmp_path / "names.db"
    shutil.copy(archive, copy)
    conn = sqlite3.connect(copy)
    full = conn.execute("SELECT speaker FROM speaker_sites ORDER BY claims DESC").fetchone()[0]
    last = full.split()[-1]  # a speaker named by that part alone, beside the full name
    conn.execute(
        "INSERT INTO speaker_sites (speaker, site_name, claims, quotes) VALUES (?, 'X', 1, 0)",
        (last,),
    )
    conn.execute("UPDATE claims SET speaker = ? WHERE rowid = 1", (last,))

    def resolved(typed: str) -> set:
        return {
            r[1] for r in conn.execute(query["sql"], {"speaker": typed, "from": "", "after": ""})
        }

    assert resolved(last.lower()) == {last}
    assert resolved(full.split()[0].lower()) == {full}  # a part only one name holds


def test_q2_what_is_typed_is_text_not_a_pattern(archive, tmp_path):
    """speaker_quotes looks for a part of a name with LIKE, three times cheaper than lower()
    and instr() over every row of speaker_sites: a "%" or "_" typed is that character, not a
    wildcard; and a whole name in another case is found through an index (migration 0016),
    not by lower-casing every row."""
    import shutil

    sql = canned_query("speaker_quotes")["sql"]
    copy = tmp_path / "patterns.db"
    shutil.copy(archive, copy)
    conn = sqlite3.connect(copy)
    names = ["Ann_Lee", "AnnXLee", "50% Group", "Room 101", "Back\\Slash"]
    for rowid, name in enumerate(names, start=1):
        conn.execute(
            "INSERT INTO speaker_sites (speaker, site_name, claims, quotes) VALUES (?, 'X', 1, 0)",
            (name,),
        )
        conn.execute("UPDATE claims SET speaker = ? WHERE rowid = ?", (name, rowid))

    def resolved(typed: str) -> set:
        return {r[1] for r in conn.execute(sql, {"speaker": typed, "from": "", "after": ""})}

    assert resolved("n_l") == {"Ann_Lee"}  # as a wildcard "_" would match AnnXLee too
    assert resolved("0%") == {"50% Group"}  # "%" would match Room 101 too
    assert resolved("k\\s") == {"Back\\Slash"}
    assert resolved("nxl") == {"AnnXLee"}  # a part in another case, as before
    assert resolved("ANN_LEE") == {"Ann_Lee"}
    # a NUL ends a LIKE pattern ("%" then: every name), a long text is too complex a pattern
    # for SQLite (an error): both are part of no name, as with instr() (a review)
    assert resolved("\x00") == resolved("n\x00zzz") == resolved("n" * 300) == set()
    plan = [
        r[3]
        for r in conn.execute(
            f"EXPLAIN QUERY PLAN {sql}", {"speaker": "x", "from": "", "after": ""}
        )
    ]
    # searched, not scanned: a scan may read the same index for its narrow rows
    assert any(r.startswith("SEARCH") and "speaker_sites_nocase" in r for r in plan), plan
    # a page starts where the index says, not after every claim captured before it (a review:
    # among claims captured at one time, only the time narrowed the search)
    assert any("claims_speaker_time (speaker=? AND (captured_at,position)>" in r for r in plan)
