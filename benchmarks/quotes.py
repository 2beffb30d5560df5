#!/usr/bin/env python3
"""Quotes, speakers, captions and credits: our real ingest against a hand-labelled set.

The pages labelled in ``benchmarks/gold/<page id>.json`` (rules: benchmarks/gold/README.md) are
taken from the article-extraction-benchmark corpus (``html/<page id>.html.gz``), wrapped into a
WARC, ingested with the library's own ``Ingester`` into a fresh database signed by a fresh key,
and the ``claims`` and ``image_uses`` rows that ingest stored are scored against the labels.

    .venv/bin/python benchmarks/quotes.py
    .venv/bin/python benchmarks/quotes.py --json quotes-results.json   # per-page details
    .venv/bin/python benchmarks/quotes.py --misses                      # list every miss

Scoring (every text compared after ``archive.hashing.normalize_text``, then cut into ``\\w+``
tokens, so punctuation, quote marks and case never matter):

* **quote recall**: a gold quote is *found* when (a) its token sequence occurs in one claim's
  ``quote`` column, or in the text of one claim of kind ``quote``; or (b) it has at least 4
  tokens and at least 80% of its 4-token shingles occur in the quote texts (``quote`` column,
  and text for kind ``quote``) of the page's claims together: a quote split over several
  sentence claims. A gold quote shorter than 4 tokens can only be found by (a), in a ``quote``
  column, so that two words somewhere in a sentence do not count.
* **quote precision**: claims of kind ``quote`` that match a gold quote (they helped find one,
  or their ``quote`` column shares a 4-token shingle with a gold quote, or contains a short one)
  over all claims of kind ``quote`` on the labelled pages.
* **speaker accuracy**, over found quotes with a gold speaker: the claim that covers most of
  the gold quote (the first one on ties) has ``speaker`` equal to the gold speaker. The
  lenient variant accepts the same last name (last word, suffixes such as Jr. dropped).
* **caption / credit accuracy**, per gold image with a caption (credit): the image use of the
  same URL (query string and scheme ignored; else the one with the same caption) has exactly
  that caption (credit). Gold images with no URL in the captured HTML are reported apart.
  **Credit precision**: image uses with a credit whose credit equals their gold image's credit.
"""

from __future__ import annotations

import argparse
import json
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from extraction import DEFAULT_CORPUS, ingest_shard  # noqa: E402

from archive.hashing import normalize_text  # noqa: E402

GOLD = HERE / "gold"
SHINGLE = 4
COVER = 0.8
_SUFFIX = {"jr", "sr", "ii", "iii", "iv"}


def tokens(text: str | None) -> list[str]:
    return re.findall(r"\w+", normalize_text(text or ""))


def shingles(toks: list[str]) -> set[tuple[str, ...]]:
    return {tuple(toks[i : i + SHINGLE]) for i in range(len(toks) - SHINGLE + 1)}


def contains(hay: list[str], needle: list[str]) -> bool:
    if not needle or len(needle) > len(hay):
        return False
    return f" {' '.join(needle)} " in f" {' '.join(hay)} "


def same(a: str | None, b: str | None) -> bool:
    return normalize_text(a or "") == normalize_text(b or "")


def surname(name: str | None) -> str | None:
    words = [w for w in tokens(name) if w not in _SUFFIX]
    return words[-1] if words else None


def url_key(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return parts.netloc.lower() + parts.path


def load_gold(gold_dir: Path) -> dict[str, dict]:
    return {
        p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(gold_dir.glob("*.json"))
    }


def read_db(db_path: str) -> dict[str, dict]:
    """``{url: {"claims": [...], "images": [...]}}`` from an ingested database."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    out = {}
    try:
        for art in conn.execute("SELECT id, url FROM articles"):
            claims = [
                dict(r)
                for r in conn.execute(
                    "SELECT position, kind, text, quote, speaker, speaker_mention FROM claims "
                    "WHERE article_id = ? ORDER BY position",
                    (art["id"],),
                )
            ]
            images = [
                dict(r)
                for r in conn.execute(
                    "SELECT position, url, caption, credit FROM image_uses WHERE article_id = ? "
                    "ORDER BY position",
                    (art["id"],),
                )
            ]
            out[art["url"]] = {"claims": claims, "images": images}
    finally:
        conn.close()
    return out


# -- scoring ----------------------------------------------------------------------------------


def score_quotes(gold_quotes: list[dict], claims: list[dict]) -> tuple[list[dict], dict]:
    quote_claims = [c for c in claims if c["kind"] == "quote" or c["quote"]]
    cand = []  # (claim, tokens of the quote column, tokens of all its quote text)
    for c in quote_claims:
        qtok = tokens(c["quote"])
        alltok = tokens(
            " ".join(filter(None, [c["quote"], c["text"] if c["kind"] == "quote" else None]))
        )
        cand.append((c, qtok, tokens(c["text"]) if c["kind"] == "quote" else [], alltok))
    used: set[int] = set()
    rows = []
    for g in gold_quotes:
        gt = tokens(g["quote"])
        row = {
            "quote": g["quote"],
            "speaker": g["speaker"],
            "found": False,
            "how": None,
            "claims": [],
            "claim_speaker": None,
            "speaker_ok": None,
            "surname_ok": None,
        }
        best = None
        hits = [
            (len(qtok or ttok), c)
            for c, qtok, ttok, _ in cand
            if (
                contains(qtok, gt)
                if len(gt) < SHINGLE
                else (contains(qtok, gt) or contains(ttok, gt))
            )
        ]
        if hits:  # the tightest: a short gold quote can occur inside a longer, different one
            best = min(hits, key=lambda h: (h[0], h[1]["position"]))[1]
            row.update(found=True, how="one claim", claims=[best["position"]])
        if best is None and len(gt) >= SHINGLE:
            gs = shingles(gt)
            cover: Counter = Counter()
            covered: set = set()
            for c, _, _, alltok in cand:
                hit = gs & shingles(alltok)
                if hit:
                    cover[c["position"]] = len(hit)
                    covered |= hit
            if gs and len(covered) / len(gs) >= COVER:
                pos = sorted(cover, key=lambda p: (-cover[p], p))
                best = next(c for c, *_ in cand if c["position"] == pos[0])
                row.update(found=True, how=f"{len(cover)} claims", claims=sorted(cover))
            elif cover:
                row["partial"] = round(len(covered) / len(gs), 2)
        if best is not None:
            used.update(row["claims"])
            row["claim_speaker"] = best["speaker"]
            row["claim_mention"] = best["speaker_mention"]
            if g["speaker"]:
                row["speaker_ok"] = same(best["speaker"], g["speaker"])
                row["surname_ok"] = surname(best["speaker"]) == surname(g["speaker"])
        rows.append(row)
    # precision over claims of kind quote
    gold_sh = (
        set().union(*[shingles(tokens(g["quote"])) for g in gold_quotes]) if gold_quotes else set()
    )
    short = [tokens(g["quote"]) for g in gold_quotes if len(tokens(g["quote"])) < SHINGLE]
    fps = []
    tp = 0
    for c, qtok, _, alltok in cand:
        if c["kind"] != "quote":
            continue
        if (
            c["position"] in used
            or shingles(qtok or alltok) & gold_sh
            or any(contains(qtok, s) for s in short)
        ):
            tp += 1
        else:
            fps.append({"position": c["position"], "text": c["text"], "quote": c["quote"]})
    return rows, {"quote_claims": tp + len(fps), "matched": tp, "false_positives": fps}


def score_images(gold_images: list[dict], uses: list[dict]) -> tuple[list[dict], dict]:
    by_url = {url_key(u["url"]): u for u in uses}
    rows, matched_uses = [], {}
    for g in gold_images:
        u = by_url.get(url_key(g.get("url"))) if g.get("url") else None
        if u is None and g.get("caption"):
            u = next((x for x in uses if x["caption"] and same(x["caption"], g["caption"])), None)
        row = {
            "url": g.get("url"),
            "caption": g.get("caption"),
            "credit": g.get("credit"),
            "found": u is not None,
            "got_url": u and u["url"],
            "got_caption": u and u["caption"],
            "got_credit": u and u["credit"],
        }
        row["caption_ok"] = bool(u) and same(u["caption"], g.get("caption"))
        row["credit_ok"] = bool(u) and same(u["credit"], g.get("credit"))
        if u is not None:
            matched_uses[u["position"]] = g
        rows.append(row)
    credited = [u for u in uses if u["credit"]]
    credit_tp = sum(
        1
        for u in credited
        if u["position"] in matched_uses
        and same(u["credit"], matched_uses[u["position"]].get("credit"))
    )
    captioned = [u for u in uses if u["caption"]]
    caption_tp = sum(
        1
        for u in captioned
        if u["position"] in matched_uses
        and same(u["caption"], matched_uses[u["position"]].get("caption"))
    )
    extra = {
        "uses": len(uses),
        "with_credit": len(credited),
        "credit_tp": credit_tp,
        "with_caption": len(captioned),
        "caption_tp": caption_tp,
        "wrong_credits": [
            u["credit"]
            for u in credited
            if not (
                u["position"] in matched_uses
                and same(u["credit"], matched_uses[u["position"]].get("credit"))
            )
        ],
    }
    return rows, extra


def ratio(a: int, b: int) -> float | None:
    return a / b if b else None


def fmt(x: float | None) -> str:
    return "   -  " if x is None else f"{x:6.3f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--gold", type=Path, default=GOLD)
    parser.add_argument("--json", type=Path, metavar="OUT", help="write per-page details here")
    parser.add_argument("--misses", action="store_true", help="print every miss")
    args = parser.parse_args(argv)

    gold = load_gold(args.gold)
    if not gold:
        parser.error(f"{args.gold}: no labelled pages")
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="archive-quotes-bench-") as tmp:
        r = ingest_shard(
            tmp, 0, str(args.corpus.resolve()), [(k, g["url"]) for k, g in gold.items()]
        )
        ours = read_db(r["db"])
    seconds = time.perf_counter() - started

    pages, totals = {}, Counter()
    for k, g in gold.items():
        row = ours.get(g["url"], {"claims": [], "images": []})
        q, qx = score_quotes(g["quotes"], row["claims"])
        im, ix = score_images(g["images"], row["images"])
        pages[k] = {
            "url": g["url"],
            "article": g["url"] in ours,
            "quotes": q,
            "quote_precision": qx,
            "images": im,
            "image_uses": ix,
        }
        t = totals
        t["gold_quotes"] += len(q)
        t["found"] += sum(x["found"] for x in q)
        t["quote_claims"] += qx["quote_claims"]
        t["quote_tp"] += qx["matched"]
        t["spk_n"] += sum(x["speaker_ok"] is not None for x in q)
        t["spk_ok"] += sum(bool(x["speaker_ok"]) for x in q)
        t["spk_lenient"] += sum(bool(x["surname_ok"]) for x in q)
        t["spk_gold"] += sum(bool(x["speaker"]) for x in q)
        t["img_gold"] += len(im)
        t["img_nourl"] += sum(not x["url"] for x in im)
        t["img_found"] += sum(x["found"] for x in im)
        for kind in ("caption", "credit"):
            for x in im:
                if x[kind]:
                    t[f"{kind}_n"] += 1
                    t[f"{kind}_ok"] += x[f"{kind}_ok"]
                    if x["url"]:
                        t[f"{kind}_n_url"] += 1
                        t[f"{kind}_ok_url"] += x[f"{kind}_ok"]
        t["uses_credit"] += ix["with_credit"]
        t["uses_credit_tp"] += ix["credit_tp"]
        t["uses_caption"] += ix["with_caption"]
        t["uses_caption_tp"] += ix["caption_tp"]

    t = totals
    summary = {
        "quote_recall": ratio(t["found"], t["gold_quotes"]),
        "quote_precision": ratio(t["quote_tp"], t["quote_claims"]),
        "speaker_accuracy": ratio(t["spk_ok"], t["spk_n"]),
        "speaker_accuracy_surname": ratio(t["spk_lenient"], t["spk_n"]),
        "speaker_accuracy_of_all_attributed": ratio(t["spk_ok"], t["spk_gold"]),
        "caption_accuracy": ratio(t["caption_ok"], t["caption_n"]),
        "credit_accuracy": ratio(t["credit_ok"], t["credit_n"]),
        "caption_accuracy_with_url": ratio(t["caption_ok_url"], t["caption_n_url"]),
        "credit_accuracy_with_url": ratio(t["credit_ok_url"], t["credit_n_url"]),
        "image_found": ratio(t["img_found"], t["img_gold"]),
        "caption_precision": ratio(t["uses_caption_tp"], t["uses_caption"]),
        "credit_precision": ratio(t["uses_credit_tp"], t["uses_credit"]),
    }
    results = {
        "date": time.strftime("%Y-%m-%d"),
        "pages": len(gold),
        "seconds": round(seconds, 1),
        "counts": dict(t),
        "summary": summary,
        "per_page": pages,
    }

    print(
        f"{len(gold)} labelled pages, {t['gold_quotes']} gold quotes, {t['img_gold']} gold images "
        f"({t['img_nourl']} without URL); ingest {seconds:.1f}s"
    )
    print(
        f"\n{'page':<10} {'site':<24} {'quotes':>6} {'found':>5} {'q.claims':>8} {'FP':>3} "
        f"{'spk ok':>6} {'images':>6} {'cap ok':>6} {'cred ok':>7}"
    )
    for k, p in pages.items():
        q = p["quotes"]
        site = urlsplit(p["url"]).netloc.removeprefix("www.")[:24]
        spk = [x for x in q if x["speaker_ok"] is not None]
        qp, im = p["quote_precision"], p["images"]
        cap = [x["caption_ok"] for x in im if x["caption"]]
        cred = [x["credit_ok"] for x in im if x["credit"]]
        print(
            f"{k[:10]} {site:<24} {len(q):>6} {sum(x['found'] for x in q):>5} "
            f"{qp['quote_claims']:>8} {len(qp['false_positives']):>3} "
            f"{sum(x['speaker_ok'] for x in spk):>3}/{len(spk):<2} {len(im):>6} "
            f"{sum(cap):>3}/{len(cap):<2} {sum(cred):>4}/{len(cred):<2}"
            f"{'' if p['article'] else '  (not an article)'}"
        )
    targets = {
        "quote_recall": 0.95,
        "speaker_accuracy": 0.85,
        "caption_accuracy": 0.9,
        "credit_accuracy": 0.9,
    }
    print(f"\n{'metric':<38} {'value':>6}  {'n':>9}  target")
    rows = [
        ("quote_recall", f"{t['found']}/{t['gold_quotes']}"),
        ("quote_precision", f"{t['quote_tp']}/{t['quote_claims']}"),
        ("speaker_accuracy", f"{t['spk_ok']}/{t['spk_n']}"),
        ("speaker_accuracy_surname", f"{t['spk_lenient']}/{t['spk_n']}"),
        ("speaker_accuracy_of_all_attributed", f"{t['spk_ok']}/{t['spk_gold']}"),
        ("caption_accuracy", f"{t['caption_ok']}/{t['caption_n']}"),
        ("caption_accuracy_with_url", f"{t['caption_ok_url']}/{t['caption_n_url']}"),
        ("credit_accuracy", f"{t['credit_ok']}/{t['credit_n']}"),
        ("credit_accuracy_with_url", f"{t['credit_ok_url']}/{t['credit_n_url']}"),
        ("image_found", f"{t['img_found']}/{t['img_gold']}"),
        ("caption_precision", f"{t['uses_caption_tp']}/{t['uses_caption']}"),
        ("credit_precision", f"{t['uses_credit_tp']}/{t['uses_credit']}"),
    ]
    for name, n in rows:
        tgt = targets.get(name)
        verdict = ""
        if tgt is not None:
            verdict = f">= {tgt} " + ("ok" if (summary[name] or 0) >= tgt else "MISSED")
        print(f"{name:<38} {fmt(summary[name])}  {n:>9}  {verdict}")

    if args.misses:
        for k, p in pages.items():
            for x in p["quotes"]:
                if not x["found"]:
                    print(f"MISS   {k[:8]} {x['quote'][:90]!r} partial={x.get('partial')}")
                elif x["speaker_ok"] is False:
                    print(
                        f"SPEAKER {k[:8]} gold={x['speaker']!r} got={x['claim_speaker']!r} "
                        f"mention={x.get('claim_mention')!r} {x['quote'][:50]!r}"
                    )
            for fp in p["quote_precision"]["false_positives"]:
                print(f"FP     {k[:8]} {fp['text'][:110]!r}")
            for x in p["images"]:
                if not (x["caption_ok"] and x["credit_ok"]):
                    gold_cap, got_cap = (x["caption"] or "")[:40], (x["got_caption"] or "")[:40]
                    print(
                        f"IMAGE  {k[:8]} found={x['found']} cap_ok={x['caption_ok']} "
                        f"cred_ok={x['credit_ok']} gold=({gold_cap!r}, {x['credit']!r}) "
                        f"got=({got_cap!r}, {x['got_credit']!r})"
                    )
            for c in p["image_uses"]["wrong_credits"]:
                print(f"CREDIT {k[:8]} extra/wrong credit {c!r}")
    if args.json:
        args.json.write_text(
            json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
