"""Issue 5 in a real browser: each provenance question answered on the multi-capture archive,
with a screenshot (shown in docs/provenance-questions.md; see test_browser.SCREENSHOTS)."""

from __future__ import annotations

import sqlite3
import urllib.parse

import pytest

from .server import serving
from .test_browser import SCREENSHOTS
from .test_provenance import A1, A2, CAPTURES, URL, B

pytestmark = [pytest.mark.slow, pytest.mark.browser]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from archive.ingest import Ingester
    from archive.keys import Signer

    db = tmp_path_factory.mktemp("questions") / "archive.db"
    ingester = Ingester(db, Signer(Ed25519PrivateKey.from_private_bytes(bytes(32))))
    for capture in CAPTURES:
        assert ingester.ingest_file(capture).status == "ingested"
    with serving(db) as base:
        yield base, db


def open_query(browser, base, query, shot, **params):
    page = browser.new_page(viewport={"width": 1500, "height": 900})
    page.goto(f"{base}/archive/{query}?{urllib.parse.urlencode(params)}")
    rows = page.locator("table.rows-and-columns tbody tr").evaluate_all(
        "trs => trs.map(tr => [...tr.querySelectorAll('td')].map(td => td.innerText.trim()))"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / shot), full_page=True)
    return page, rows


def test_q1_where_else_and_where_first(browser, served):
    base, _ = served
    page, rows = open_query(
        browser, base, "claim_everywhere", "q1-claim-everywhere.png", claim_id=f"{B}-1"
    )
    assert [r[0] for r in rows] == ["exact", "exact", "exact"]
    assert "Northshore Chronicle" in rows[0] and "2025-03-07T09:30:00Z" in rows[0]
    assert "Daily Herald Wire" in rows[-1]
    page.close()


def test_q2_what_a_person_is_quoted_as_saying(browser, served):
    base, _ = served
    page, rows = open_query(
        browser, base, "speaker_quotes", "q2-speaker-quotes.png", speaker="Elena Varga"
    )
    text = page.inner_text("table.rows-and-columns")
    assert "Closing this harbour is not something I will sign" in text
    assert "I am the daughter of Tomas Varga" in text
    assert {"Northshore Chronicle", "Daily Herald Wire"} <= {c for r in rows for c in r}
    # how many times elsewhere: a link to where (it was a bare count: eighth round's review)
    counts = page.locator('table.rows-and-columns td.col-elsewhere a[href*="claim_everywhere"]')
    assert counts.count() > 0
    assert int(counts.first.inner_text()) > 0
    counts.first.click()
    page.wait_for_load_state()
    assert "/archive/claim_everywhere?claim_id=" in page.url
    # the claim itself, then where else (claim_everywhere also follows its exact copies' links,
    # so it may list more than the count)
    assert page.locator("table.rows-and-columns tbody tr").count() > 1
    page.close()


def test_q2_a_prolific_speaker_s_claims_page_on(browser, sample_db, tmp_path):
    """A speaker quoted more than a page holds: 100 claims, then a last row that says more
    follow, which the reader clicks for the next 100 (1,000 at once, then "truncated", until
    the twenty-second round)."""
    from .test_serve import prolific

    expected = prolific(sample_db, tmp_path / "archive.db", claims=150)
    with serving(tmp_path / "archive.db") as base:
        page, rows = open_query(
            browser, base, "speaker_quotes", "q2-speaker-quotes-more.png", speaker="elena varga"
        )
        assert len(rows) == 101
        more = page.get_by_role("link", name=f"More claims follow: the next 100 start after "
                                f"{expected[99]}.")  # fmt: skip
        more.click()
        page.wait_for_load_state()
        ids = page.locator("table.rows-and-columns td.col-claim_id").all_inner_texts()
        assert [i.strip() for i in ids] == expected[100:]
        assert "More claims follow" not in page.inner_text("table.rows-and-columns")
        page.close()


def test_q3_where_else_the_photo_appears(browser, served):
    base, db = served
    (copy,) = (
        sqlite3.connect(db)
        .execute(f"SELECT image_sha256 FROM image_uses WHERE article_id = '{B}'")
        .fetchone()
    )
    page, rows = open_query(
        browser, base, "image_everywhere", "q3-image-everywhere.png", image_sha256=copy
    )
    assert [r[0] for r in rows] == ["near", "near", "exact"]
    text = page.inner_text("table.rows-and-columns")
    assert "Northshore Photo / Mara Lind" in text and "Daily Herald Wire / Staff" in text
    images = page.locator("table.rows-and-columns img")
    assert images.count() == 3
    page.close()


def test_q4_what_changed_between_captures(browser, served):
    base, _ = served
    page, rows = open_query(browser, base, "page_changes", "q4-page-changes.png", url=URL)
    kinds = sorted(r[2] for r in rows)
    assert kinds == ["added", "changed", "removed", "removed"]
    assert "reportedly" in page.inner_text("table.rows-and-columns")
    page.close()
    page, rows = open_query(browser, base, "page_history", "q4-page-history.png", url=URL)
    assert [r[1] for r in rows] == [A1, A2]
    # the first capture has no capture before it: no count, not 0 changes (a researcher's
    # review)
    assert [r[4] for r in rows] == ["", "4"], rows
    # the hashes and URLs wrap: they took the width the title needed, which wrapped a word a
    # line, each row ten lines tall (fourteenth round)
    title = page.locator("table.rows-and-columns tbody tr td.col-title").first.bounding_box()
    assert title["width"] > 250 and title["height"] < 100, title
    # the second capture's count of changes leads to them (nothing led on to the changes:
    # the newcomer's review)
    page.click(f'a[href^="/archive/changes?to_article_id={A2}&"]')
    page.wait_for_load_state()
    assert "reportedly" in page.inner_text("table.rows-and-columns")
    # what changed, on screen: the old and new texts sat past 1,264 px (a researcher's review)
    headers = page.locator("table.rows-and-columns th").all_inner_texts()
    names = [h.split()[0] for h in headers if h.strip()]
    assert names[:5] == ["id", "change", "target", "old_text", "new_text"], headers
    page.close()


def test_q5_check_records_in_the_browser(browser, served):
    base, _ = served
    page, rows = open_query(browser, base, "check_records", "q5-check-records.png", article_id=A1)
    # the article, its claims, its image uses
    assert [r[0] for r in rows] == ["article"] + ["claim"] * 24 + ["image use"] * 2, rows
    # hash_ok, matches_statement, verified
    assert all(r[3] == "1" and r[4] == "1" and r[5] == "1" for r in rows), rows[:3]
    page.close()
