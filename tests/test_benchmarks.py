"""The extraction harnesses run in CI on a small slice (issue 3); skipped without ../shared."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import SHARED

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHARED / "corpus" / "extraction").exists(), reason="no ../shared"),
]


def run(script: str, *args, tmp_path) -> dict:
    out = tmp_path / "result.json"
    result = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / script, *args, "--json", out],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())


def test_main_text_slice(tmp_path):
    results = run("extraction.py", "--limit", "20", "--no-reference", tmp_path=tmp_path)
    assert results["pages"] == 20 and results["not_articles"] == 0
    # measured 0.986 on this slice; a drop below 0.97 is a regression worth a look
    assert results["tools"]["ours"]["f1"] >= 0.97


def test_quotes_captions_credits(tmp_path):
    s = run("quotes.py", tmp_path=tmp_path)["summary"]
    # the issue 3 targets, on the labelled set (development-set numbers: see docs/extraction.md)
    assert s["quote_recall"] >= 0.95
    assert s["speaker_accuracy"] >= 0.85
    assert s["caption_accuracy"] >= 0.9
    assert s["credit_accuracy"] >= 0.9


@pytest.mark.parametrize(
    "labels, speakers, captions, credits",
    [
        ("", 0.85, 0.8, 0.75),
        ("-2", 0.75, 0.6, 0.45),
        ("-3", 0.55, 0.75, 0.5),
        ("-4", 0.65, 0.75, 0.85),
        ("-5", 0.8, 0.95, 0.95),
        ("-6", 0.6, 0.85, 0.75),
        ("-7", 0.8, 0.6, 0.85),  # 9 pages; scored by its totals only, not tuned on
    ],
)
def test_the_held_out_pages_are_scored(tmp_path, labels, speakers, captions, credits):
    """benchmarks/gold-heldout and -2 to -7: 12 pages each (9 in the seventh), labelled blind by
    the same rules (docs/extraction.md, "Held-out pages"; all but the seventh tuned on since).
    Floors a little under the figures measured in the twenty-third round."""
    gold = ROOT / "benchmarks" / f"gold-heldout{labels}"
    s = run("quotes.py", "--gold", gold, tmp_path=tmp_path)["summary"]
    assert s["quote_recall"] >= 0.9 and s["speaker_accuracy"] >= speakers
    assert s["caption_accuracy"] >= captions and s["credit_accuracy"] >= credits


def test_page_cost_times_each_step_within_the_worker_s_time(tmp_path):
    """benchmarks/page_cost.py (issue 7): the steps it times lie inside the worker's time."""
    r = run("page_cost.py", "--limit", "5", "--passes", "1", tmp_path=tmp_path)
    steps = {name: row["ms"] for name, row in r["steps_ms"].items()}
    assert r["pages"] == 5 and r["articles"] == 5
    assert r["steps_ms"]["claims and speakers"]["calls"] == 5
    whole = steps["extract_article (all of it)"] + steps["_prepare_article (all of it)"]
    assert steps["trafilatura main text"] + steps["claims and speakers"] < whole
    assert whole <= r["worker_ms"] + 0.01  # (each is rounded)
    assert (
        0 < r["ours_ms"] < r["worker_ms"] and r["third_party_ms"] > steps["trafilatura main text"]
    )
    assert abs(r["ratio"] - r["floor_ms"] / r["worker_ms"]) < 0.01
