"""Issue 5's exports (PROV-JSON, ClaimReview, CSV, JSONL) of the multi-capture test archive
of tests/test_provenance.py: what they say, and only what the archive knows."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3

import pytest
from click.testing import CliRunner

from archive.cli import cli

from .test_provenance import A1, B, provenance_archive


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return provenance_archive(tmp_path_factory.mktemp("prov"))


def test_exports(archive, tmp_path):
    prov = cli_json_export(archive, "prov-json")
    assert f"archive:claim/{B}-3" in prov["entity"]
    assert any(
        r["prov:agent"] == "archive:speaker/Elena%20Varga" for r in prov["wasAttributedTo"].values()
    )
    # a speaker is an agent of no stated type: the archive does not know a person from an
    # institution (every speaker was a prov:Person: found in review); no nulls in PROV-JSON
    assert prov["agent"]["archive:speaker/Elena%20Varga"] == {"prov:label": "Elena Varga"}
    publisher = prov["agent"]["archive:publisher/Northshore%20Chronicle"]
    assert publisher["prov:type"] == {"$": "prov:Organization", "type": "prov:QUALIFIED_NAME"}
    article = prov["entity"][f"archive:article/{A1}"]
    assert article["archive:captured_at"]["type"] == "xsd:dateTime"
    assert "null" not in json.dumps(prov)
    reviews = cli_json_export(archive, "claimreview")
    reused = next(r for r in reviews if r["claimReviewed"].startswith("Despite the regional"))
    appearances = reused["itemReviewed"]["appearance"]
    # each page once, at its first capture (page A's recapture repeated it: found in review)
    assert [a["publisher"]["name"] for a in appearances] == [
        "Northshore Chronicle",
        "Daily Herald Wire",
    ]
    assert len({a["url"] for a in appearances}) == len(appearances)
    # dated by the page's publication, not by its capture
    published = (
        sqlite3.connect(archive)
        .execute("SELECT published_at FROM articles WHERE id = ?", (A1,))
        .fetchone()[0]
    )
    assert appearances[0]["datePublished"] == published
    assert all("dateCreated" not in a for a in appearances)
    out = CliRunner().invoke(cli, ["export", "--db", str(archive), "--format", "csv"]).output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert (
        len(rows) == sqlite3.connect(archive).execute("SELECT COUNT(*) FROM claims").fetchone()[0]
    )
    jl = (
        CliRunner()
        .invoke(cli, ["export", "--db", str(archive), "--format", "jsonl", "--table", "image_uses"])
        .output
    )
    assert len(jl.splitlines()) == 5 and json.loads(jl.splitlines()[0])["credit"]


def cli_json_export(db, fmt):
    result = CliRunner().invoke(cli, ["export", "--db", str(db), "--format", fmt])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_exports_say_only_what_the_archive_knows(archive, tmp_path):
    """Found in review: the ClaimReview export named the first speaker as the author of words
    others were also quoted as saying, passed on a page's date as written ("1 May 2025,
    08:00"), and PROV ids made by replacing spaces merged distinct publishers."""
    import shutil

    db = tmp_path / "copy.db"
    shutil.copy(archive, db)
    conn = sqlite3.connect(db)
    sha, text = conn.execute(
        "SELECT text_sha256, text FROM claims WHERE id = ?", (f"{A1}-0",)
    ).fetchone()
    others = conn.execute(
        "SELECT id FROM claims WHERE text_sha256 = ? AND article_id = ?", (sha, B)
    ).fetchall()
    assert others, "the fixture reuses this sentence in B"
    conn.execute("UPDATE claims SET speaker = 'Alice Marsh' WHERE text_sha256 = ?", (sha,))
    conn.execute("UPDATE claims SET speaker = 'Beth Quarry' WHERE id = ?", others[0])
    conn.execute("UPDATE articles SET published_at = '1 May 2025, 08:00' WHERE id = ?", (B,))
    conn.execute("UPDATE articles SET site_name = 'Smith & Sons (Wire), Inc.' WHERE id = ?", (A1,))
    conn.execute("UPDATE articles SET site_name = 'Smith_&_Sons_(Wire),_Inc.' WHERE id = ?", (B,))
    conn.commit()
    review = next(r for r in cli_json_export(db, "claimreview") if r["claimReviewed"] == text)
    assert "author" not in review["itemReviewed"]  # two speakers: neither is the author
    dates = [a.get("datePublished") for a in review["itemReviewed"]["appearance"]]
    assert len(dates) == 2 and dates[1] is None  # not an ISO 8601 date: left out
    prov = cli_json_export(db, "prov-json")
    publishers = {k: v["prov:label"] for k, v in prov["agent"].items() if "publisher/" in k}
    assert {"Smith & Sons (Wire), Inc.", "Smith_&_Sons_(Wire),_Inc."} <= set(publishers.values())
    assert len(set(publishers.values())) == len(publishers)  # one id per name, none merged
    assert all(re.fullmatch(r"archive:publisher/[A-Za-z0-9%._~-]+", k) for k in publishers)


def test_only_real_iso_dates_are_published():
    from archive.export import _iso_date

    assert _iso_date(" 2025-03-07 ") == "2025-03-07"
    assert _iso_date("2025-03-07T09:30:00+00:00") == "2025-03-07T09:30:00+00:00"
    for bad in ("۱۴۰۳-۱۲-۱۷", "2025-13-45", "1 May 2025, 08:00", "Friday", "", None,
                "2025-03-07T99:99:99+99:99", "2025-03-07T24:61Z", "2025-03-07 10:00",
                # placeholders pages give for "no date" (ClaimReview took the first: a review)
                "0001-01-01T00:00:00Z", "0001-01-01", "0000-01-01", "1970-01-01",
                "1970-01-01T00:00:00Z", "1970-01-01T00:00:00+00:00", "0999-12-31",
                # the same moment in other time zones (a review)
                "1970-01-01T01:00:00+01:00", "1969-12-31T19:00:00-05:00"):  # fmt: skip
        assert _iso_date(bad) is None, bad
    # a real date near them stays
    for good in ("1970-01-02", "1970-01-01T09:30:00Z", "1000-05-01", "1999-12-31",
                 "1970-01-01T00:00:00+01:00", "2025-03-07T00:00:00"):  # fmt: skip
        assert _iso_date(good) == good


def test_export_table_is_found_in_any_case_and_refused_where_it_does_nothing(archive, tmp_path):
    """`--table` was ignored by prov-json and claimreview (an export that looked like one of
    that table), and `--table Claims` said "no table" (SQL finds it in any case): a review."""
    runner = CliRunner()
    lower = runner.invoke(cli, ["export", "--db", str(archive), "--format", "csv"])
    upper = runner.invoke(
        cli, ["export", "--db", str(archive), "--format", "csv", "--table", "CLAIMS"]
    )
    assert upper.exit_code == 0 and upper.output == lower.output and "text_sha256" in upper.output
    for fmt in ("prov-json", "claimreview"):
        out = tmp_path / f"x.{fmt}"
        result = runner.invoke(
            cli, ["export", "--db", str(archive), "--format", fmt, "--table", "images", "-o", out]
        )
        assert result.exit_code == 2 and not out.exists(), result.output
        assert f"--table applies to csv and jsonl; {fmt} exports the whole archive" in (
            result.output
        )
    result = runner.invoke(
        cli, ["export", "--db", str(archive), "--format", "jsonl", "--table", "claim"]
    )
    assert result.exit_code == 1 and result.output.startswith("Error: no table 'claim' (tables")
    assert " claims, " in result.output and "claims_fts" not in result.output, result.output


def test_claimreview_orders_pages_captured_in_the_same_second(tmp_path):
    """firstAppearance among pages captured in the same second was the database's order of
    the moment (a review): by URL now, then claim id."""
    from archive.export import claim_review

    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE articles (id, url, captured_at, site_name, published_at)")
    conn.execute("CREATE TABLE claims (id, article_id, text_sha256, text, speaker, kind)")
    for n, url in enumerate(["https://z.example/", "https://a.example/", "https://m.example/"]):
        conn.execute(
            "INSERT INTO articles VALUES (?, ?, '2025-03-07T10:00:00Z', NULL, '0001-01-01')",
            (f"a{n}", url),
        )
        conn.execute(
            "INSERT INTO claims VALUES (?, ?, 'h', 'Same words.', NULL, 'statement')",
            (f"a{n}-0", f"a{n}"),
        )
    (review,) = claim_review(conn)
    claim = review["itemReviewed"]
    assert claim["firstAppearance"] == {"@type": "CreativeWork", "url": "https://a.example/"}
    assert [a["url"] for a in claim["appearance"]] == [
        "https://a.example/", "https://m.example/", "https://z.example/"
    ]  # fmt: skip


def test_an_export_of_altered_bytes_says_so_in_words(sample_db, tmp_path):
    """A value that is not UTF-8 text (a damaged page, or bytes altered) stopped the export
    with Python's message quoting them, garbage on the terminal, and naming nothing to do (an
    archivist's review), and named the database (since the fourteenth round)."""
    conn = sqlite3.connect(sample_db)
    conn.execute("UPDATE claims SET speaker = CAST(X'3337FFFE' AS TEXT) WHERE rowid = 3")
    conn.commit()
    conn.close()
    for form in ("csv", "jsonl", "prov-json", "claimreview"):
        out = tmp_path / f"export.{form}"
        args = ["export", "--db", str(sample_db), "--format", form, "-o", str(out)]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 1 and not out.exists(), result.output
        assert result.output.splitlines() == [
            (
                f"Error: {sample_db}: the archive database holds bytes that are not UTF-8 text "
                "in a 'speaker' column (altered, or the file is damaged): `archive verify` names "
                "the rows"
            )
        ], form


def test_output_is_utf_8_under_a_locale_that_is_not(sample_db):
    """Under a Latin-1 locale, `export` and `trace` to standard output failed on the first
    curly quote with "a value that is not text", after part of the export was written (an
    archivist's review). Standard output is UTF-8 whatever the locale, as -o files are; a
    message the locale cannot show is escaped."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "latin-1"}
    for args in (["export", "--format", "jsonl"], ["trace", "37988c58467bc4cf-9"]):
        done = subprocess.run(
            [sys.executable, "-m", "archive", *args, "--db", str(sample_db)],
            capture_output=True, env=env, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert "“I am the daughter of Tomas Varga" in done.stdout.decode("utf-8"), args
    done = subprocess.run(
        [sys.executable, "-m", "archive", "trace", "“nothing”", "--db", str(sample_db)],
        capture_output=True, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 1 and b"Error: no claim '\\u201cnothing\\u201d'" in done.stderr
