"""The shared scenario end to end, against its gold file (skipped without ../shared)."""

from __future__ import annotations

import json

import pytest
import sqlite_utils
from click.testing import CliRunner

from archive.cli import cli
from archive.hashing import normalize_text

from .conftest import SCENARIO, SCENARIO_GOLD, needs_shared

pytestmark = needs_shared


@pytest.fixture
def scenario(ingester, db_path):
    result = ingester.ingest_file(SCENARIO)
    assert result.status == "ingested", result.error
    return sqlite_utils.Database(db_path), json.loads(SCENARIO_GOLD.read_text())


def test_article_metadata(scenario):
    db, gold = scenario
    articles = list(db["articles"].rows)
    assert len(articles) == 1
    a = articles[0]
    assert a["title"] == gold["article"]["title"]
    assert a["site_name"] == gold["article"]["site_name"]
    assert a["published_at"].startswith(gold["article"]["published"])
    assert a["url"] == gold["article"]["url"]
    assert a["captured_at"] == gold["article"]["captured"]
    assert a["section"] == gold["article"]["section"]


def test_every_gold_claim_with_kind_and_speaker(scenario):
    db, gold = scenario
    claims = {normalize_text(c["text"]): c for c in db["claims"].rows}
    for g in gold["claims"]:
        found = claims.get(normalize_text(g["text"]))
        assert found is not None, f"missing claim: {g['text']}"
        assert found["kind"] in g.get("kind_any", [g["kind"]]), g["text"]
        assert found["speaker"] in g.get("speaker_any", [g["speaker"]]), g["text"]


def test_claims_in_reading_order(scenario):
    db, gold = scenario
    order = [normalize_text(c["text"]) for c in db["claims"].rows_where(order_by="position")]
    positions = [order.index(normalize_text(g["text"])) for g in gold["claims"]]
    assert positions == sorted(positions)


def test_no_not_claims(scenario):
    db, gold = scenario
    texts = [normalize_text(c["text"]) for c in db["claims"].rows]
    allowed = {normalize_text(t) for t in gold["optional_claims"]} | {
        normalize_text(c["text"]) for c in gold["claims"]
    }
    for bad in gold["not_claims"]:
        assert not any(normalize_text(bad) in t for t in texts), bad
    assert set(texts) <= allowed, set(texts) - allowed
    assert len(texts) == len(set(texts)), "a claim emitted twice"


def test_quotes_attributed_to_the_son(scenario):
    db, gold = scenario
    for q in gold["quotes"]:
        rows = [c for c in db["claims"].rows if c["quote"] and q["quote"] in c["quote"]]
        assert len(rows) == 1, (q["quote"], rows)
        assert rows[0]["speaker"] == q["speaker"]
        assert rows[0]["speaker"] != q.get("not_speaker")
        assert rows[0]["kind"] == "quote"


def test_images_with_credit_and_caption(scenario):
    db, gold = scenario
    uses = list(db["image_uses"].rows_where(order_by="position"))
    assert len(uses) == len(gold["images"]) == 2
    for use, g in zip(uses, gold["images"], strict=True):
        assert use["url"] == g["url"]
        assert use["credit"] == g["credit"]
        assert use["caption"] == g["caption"]
        image = db["images"].get(use["image_sha256"])
        assert (image["width"], image["height"]) == (g["width"], g["height"])
    urls = {u["url"] for u in uses}
    assert not urls & set(gold["not_images"])


def test_scenario_verifies_with_the_cli(tmp_path):
    runner = CliRunner()
    result = runner.invoke(cli, ["ingest", str(SCENARIO)])
    assert result.exit_code == 0, result.output
    assert "1 article" in result.output
    result = runner.invoke(cli, ["verify"])
    assert result.exit_code == 0, result.output
    assert "OK: everything verifies" in result.output
