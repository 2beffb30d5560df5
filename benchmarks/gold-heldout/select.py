#!/usr/bin/env python3
"""Print the held-out pages the rule in README.md picks: the first 10 English pages (by page id,
the 27 labelled ones left out) with at least 3 quotation spans, then the first 2 with none.
``--set N``: the Nth set's (benchmarks/gold-heldout-N; ``--second`` and ``--third`` are 2 and
3), the pages of the sets before it left out too: ``--set 4`` picks the next set to label.

    .venv/bin/python benchmarks/gold-heldout/select.py [--set N] [--all]
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parents[2] / "shared" / "corpus" / "extraction" / "ground-truth.json"
STOP = set(
    "the and of to a in is that for it with was on as are be this by at he she they have has "
    "from said".split()
)
SPANS = re.compile(r'“[^“”"]*[”"]|"[^"“”]*[”"]')


def english(body: str) -> bool:
    words = re.findall(r"[a-z]+", body.lower())
    return len(words) >= 50 and sum(w in STOP for w in words) / len(words) >= 0.20


def main() -> None:
    truth = json.loads(CORPUS.read_text(encoding="utf-8"))
    number = 3 if "--third" in sys.argv else 2 if "--second" in sys.argv else 1
    if "--set" in sys.argv:
        number = int(sys.argv[sys.argv.index("--set") + 1])
    sets = ["gold", "gold-heldout", *(f"gold-heldout-{n}" for n in range(2, number))][:number]
    labelled = {p.stem for d in sets for p in (HERE.parent / d).glob("*.json")}
    rows = [
        (pid, english(truth[pid]["articleBody"]), len(SPANS.findall(truth[pid]["articleBody"])))
        for pid in sorted(truth)
        if pid not in labelled
    ]
    if "--all" in sys.argv:
        for pid, is_english, spans in rows:
            print(pid[:10], is_english, spans, truth[pid]["url"][:70])
    quoted = [r for r in rows if r[1] and r[2] >= 3][:10]
    unquoted = [r for r in rows if r[1] and r[2] == 0][:2]
    for pid, _, spans in quoted + unquoted:
        print(pid, spans, truth[pid]["url"])


if __name__ == "__main__":
    main()
