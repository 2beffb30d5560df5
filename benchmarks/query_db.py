"""The synthetic million-claim archive that benchmarks/query_speed.py (and quote_links.py)
measure queries on.

The database is created with ``archive.db.connect`` (the real schema, indexes, views and FTS
triggers), then filled FAST by inserting rows directly with sqlite3 (full-text indexes filled at
the end with ``archive.schema.index_text``, as ingest does per capture): ~40,000 articles across 50
sites (10% of them later captures of an earlier page, with ``changes`` rows), 25 claims per
article on average, speakers drawn Zipf-like from a few hundred names, 10% of claims repeating
the text of a claim in another article (same ``text_sha256``), ~2% of claims with ``near``
links, 2.5 image uses per article (10% sharing a photo), some ``image_links``.

Not real, and said so in the results: ``statement`` columns are JSON of realistic length built
with json.dumps (not RFC 8785) and ``signature`` columns are placeholders, EXCEPT the claims of
the articles used as ``check_records`` parameters, which are really Ed25519-signed with the key in
the ``keys`` table (so ``archive_verify`` does its real work). ``images.content`` is a 16-byte
placeholder, ``claim_bands`` and ``ledger`` are empty (no canned query reads them).
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_corpus import Speakers, TextGen  # noqa: E402
from perfutil import REPO  # noqa: E402

sys.path.insert(0, str(REPO))
from archive.db import connect  # noqa: E402
from archive.hashing import NORMALIZATION, text_sha256  # noqa: E402
from archive.keys import Signer  # noqa: E402
from archive.schema import FTS_COLUMNS, index_text  # noqa: E402
from archive.summaries import rebuild as rebuild_counts  # noqa: E402

KINDS = ["statement"] * 70 + ["quote"] * 20 + ["caption"] * 8 + ["note"] * 2


def _hex(rng: random.Random, n: int) -> str:
    return f"{rng.getrandbits(n * 4):0{n}x}"


def build(path: Path, n_claims: int, n_articles: int, seed: int, signed_articles: int) -> dict:
    """Create and fill the database; return what the parameter pickers need."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    connect(path).conn.close()  # the real schema, indexes and triggers
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -1000000")
    conn.execute("BEGIN")
    rng = random.Random(seed)
    gen = TextGen(random.Random(seed + 1))
    speakers = Speakers(random.Random(seed + 2), n=400)
    signer = Signer(Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"bench").digest()))
    key_id = signer.key_id
    conn.execute(
        "INSERT INTO keys VALUES (?, 'ed25519', ?, '2024-01-01T00:00:00Z')",
        (key_id, signer.public_key_pem),
    )
    sites = [(f"Site {i:02d} News", f"site{i:02d}.example") for i in range(50)]
    n_captures = max(1, n_articles // 20)
    captures = [_hex(rng, 64) for _ in range(n_captures)]
    for i, sha in enumerate(captures):
        stmt = json.dumps(
            {
                "statement": "archive-statement/1",
                "type": "capture",
                "sha256": sha,
                "filename": f"crawl-{i}.warc.gz",
                "key_id": key_id,
            }
        )
        conn.execute(
            "INSERT INTO captures (sha256, filename, format, bytes, stored_path, records, articles,"
            " claims, images, skipped, digest_failures, ingested_at, statement, signature, key_id)"
            " VALUES (?, ?, 'warc', ?, ?, 100, 20, 500, 50, 10, 0, '2024-12-01T00:00:00Z',"
            " ?, ?, ?)",
            (sha, f"crawl-{i}.warc.gz", 10**7, f"captures/{sha}.warc.gz", stmt, "x" * 88, key_id),
        )
    signed = set(rng.sample(range(n_articles), min(signed_articles, n_articles)))
    per_article = n_claims / n_articles
    recent: list[tuple[str, str]] = []  # (text, sha) of earlier claims, for exact reuse
    recapture_urls: list[str] = []
    pages: list[tuple[str, str, str]] = []  # (url, article_id, captured_at)
    out = {
        "article_ids": [],
        "signed_article_ids": [],
        "reused_claim_ids": [],
        "claim_ids": [],
        "image_shas": [],
        "recaptured_urls": [],
        "urls": [],
    }
    claim_rows = 0
    image_pool: list[str] = []
    start = time.perf_counter()
    for a in range(n_articles):
        site_name, domain = sites[
            min(49, int(rng.paretovariate(1.2)) - 1) if rng.random() < 0.5 else rng.randrange(50)
        ]
        recapture = pages and rng.random() < 0.10
        if recapture:
            url, prev_id, prev_at = rng.choice(pages)
            domain_url = url
        else:
            domain_url = f"https://{domain}/2024/story-{a}.html"
        captured_at = (
            f"2024-{1 + a * 12 // n_articles:02d}-{1 + rng.randrange(28):02d}T"
            f"{rng.randrange(24):02d}:{rng.randrange(60):02d}:00Z"
        )
        if recapture and captured_at <= prev_at:
            captured_at = prev_at[:-3] + "30Z" if prev_at[-3:] != "30Z" else prev_at
        article_id = _hex(rng, 16)
        capture = captures[a * n_captures // n_articles]
        n = max(3, int(rng.gauss(per_article, per_article / 3)))
        texts = []
        for pos in range(n):
            kind = rng.choice(KINDS)
            if recent and rng.random() < 0.10:
                text, sha = rng.choice(recent)
                reused = True
            else:
                text = gen.sentence(8, 30)
                sha = text_sha256(text)
                reused = False
                if rng.random() < 0.02:
                    recent.append((text, sha))
                    if len(recent) > 5000:
                        recent.pop(rng.randrange(len(recent)))
            speaker = quote = cue = mention = None
            if kind == "quote" or (kind == "statement" and rng.random() < 0.08):
                speaker = speakers.pick()
                mention = speaker.split()[-1]
                cue = rng.choice(["said", "told reporters", "added", "wrote"])
                quote = text[: max(20, len(text) * 3 // 4)]
            claim_id = f"{article_id}-{pos}"
            in_text = kind != "caption"
            start_off = sum(len(t) + 1 for t in texts) if in_text else None
            if in_text:
                texts.append(text)
            row = {
                "id": claim_id,
                "article_id": article_id,
                "position": pos,
                "kind": kind,
                "text": text,
                "text_sha256": sha,
                "normalization": NORMALIZATION,
                "text_start": start_off,
                "text_end": start_off + len(text) if in_text else None,
                "speaker": speaker,
                "speaker_mention": mention,
                "cue": cue,
                "quote": quote,
            }
            body = {
                "statement": "archive-statement/1",
                "type": "claim",
                "key_id": key_id,
                "signed_at": captured_at,
                **row,
                "source": {
                    "capture_sha256": capture,
                    "warc_member": "",
                    "warc_offset": a,
                    "warc_record_id": f"<urn:uuid:{article_id}>",
                    "url": domain_url,
                    "captured_at": captured_at,
                },
            }
            stmt = json.dumps(body, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
            sig = signer.sign(stmt.encode("utf-8")) if a in signed else "placeholder"
            conn.execute(
                "INSERT INTO claims (id, article_id, position, kind, text, text_sha256, "
                "normalization, text_start, text_end, speaker, speaker_mention, cue, quote, "
                "captured_at, statement, signature, key_id) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    claim_id,
                    article_id,
                    pos,
                    kind,
                    text,
                    sha,
                    NORMALIZATION,
                    row["text_start"],
                    row["text_end"],
                    speaker,
                    mention,
                    cue,
                    quote,
                    captured_at,  # as ingest writes it: speaker_quotes orders and filters by it
                    stmt,
                    sig,
                    key_id,
                ),
            )
            claim_rows += 1
            if reused and len(out["reused_claim_ids"]) < 5000:
                out["reused_claim_ids"].append(claim_id)
            if rng.random() < 0.001:
                out["claim_ids"].append(claim_id)
        text = "\n".join(texts)
        title = gen.title()
        stmt = json.dumps(
            {
                "statement": "archive-statement/1",
                "type": "article",
                "id": article_id,
                "url": domain_url,
                "title": title,
                "captured_at": captured_at,
                "html_sha256": _hex(rng, 64),
                "text_sha256": _hex(rng, 64),
            }
        )
        conn.execute(
            "INSERT INTO articles (id, capture_sha256, warc_record_id, warc_offset, warc_member, "
            "url, captured_at, canonical_url, title, site_name, authors, published_at, language, "
            "section, text, html_sha256, text_sha256, statement, signature, key_id) "
            "VALUES (?,?,?,?,'',?,?,?,?,?,'[]',?,'en','World',?,?,?,?,?,?)",
            (
                article_id,
                capture,
                f"<urn:uuid:{article_id}>",
                a,
                domain_url,
                captured_at,
                domain_url,
                title,
                site_name,
                captured_at,
                text,
                _hex(rng, 64),
                hashlib.sha256(text.encode()).hexdigest(),
                stmt,
                "x" * 88,
                key_id,
            ),
        )
        if recapture:
            recapture_urls.append(domain_url)
            for k in range(rng.randint(1, 6)):
                conn.execute(
                    "INSERT INTO changes (url, from_article_id, to_article_id, target, change, "
                    "old_id, new_id, old_text, new_text, score) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (
                        domain_url,
                        prev_id,
                        article_id,
                        "claim",
                        rng.choice(["added", "changed"]),
                        f"{prev_id}-{k}",
                        f"{article_id}-{k}",
                        gen.sentence(),
                        gen.sentence(),
                        0.8,
                    ),
                )
        else:
            pages.append((domain_url, article_id, captured_at))
        # image uses: 2.5 per article; 10% reuse a photo already in the archive
        for pos in range(rng.choice([1, 2, 2, 3, 3, 4])):
            if image_pool and rng.random() < 0.10:
                sha = rng.choice(image_pool)
            else:
                sha = _hex(rng, 64)
                conn.execute(
                    "INSERT INTO images (sha256, mime_type, width, height, bytes, phash, content) "
                    "VALUES (?, 'image/jpeg', 960, 640, ?, ?, ?)",
                    (sha, rng.randint(30000, 200000), _hex(rng, 16), b"placeholder-jpeg"),
                )
                image_pool.append(sha)
                if len(image_pool) > 20 and rng.random() < 0.02:
                    other = rng.choice(image_pool[:-1])
                    for x, y in ((sha, other), (other, sha)):
                        conn.execute(
                            "INSERT OR IGNORE INTO image_links VALUES (?, ?, ?)",
                            (x, y, rng.randint(2, 10)),
                        )
            use_id = f"{article_id}-i{pos}"
            conn.execute(
                "INSERT INTO image_uses (id, article_id, position, url, image_sha256, "
                "image_warc_record_id, image_captured_at, alt, caption, credit, statement, "
                "signature, key_id) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    use_id,
                    article_id,
                    pos,
                    f"https://{domain}/img/{a}-{pos}.jpg",
                    sha,
                    f"<urn:uuid:{use_id}>",
                    captured_at,
                    gen.sentence(4, 10),
                    gen.sentence(6, 14),
                    f"{rng.choice(['Reuters', 'AFP', 'AP'])} / {speakers.pick()}",
                    json.dumps({"type": "image_use", "id": use_id, "image_sha256": sha}),
                    "x" * 88,
                    key_id,
                ),
            )
            if rng.random() < 0.05:
                out["image_shas"].append(sha)
        if rng.random() < 0.01:
            out["article_ids"].append(article_id)
        if a in signed:
            out["signed_article_ids"].append(article_id)
        if rng.random() < 0.01:
            out["urls"].append(domain_url)
        if a % 5000 == 4999:
            print(
                f"  {a + 1} articles, {claim_rows} claims, {time.perf_counter() - start:.0f} s",
                file=sys.stderr,
            )
    # near links between claims: ~2% of claims
    ids = conn.execute("SELECT id FROM claims WHERE rowid % 50 = 0").fetchall()
    for (cid,) in ids:
        other = rng.choice(ids)[0]
        if other != cid:
            for x, y in ((cid, other), (other, cid)):
                conn.execute("INSERT OR IGNORE INTO claim_links VALUES (?, ?, 'near', 0.8)", (x, y))
    for table in FTS_COLUMNS:  # as ingest does, once per capture: here once for everything
        index_text(conn, table, 0)
    rebuild_counts(conn)  # what ingest keeps for the speakers and claim_appearances views
    conn.execute("COMMIT")
    # no ANALYZE: the archive does not run it either, so the planner works without statistics
    out["recaptured_urls"] = recapture_urls[:2000]
    out["speaker_samples"] = [
        r[0]
        for r in conn.execute(
            "SELECT speaker FROM claims WHERE speaker IS NOT NULL AND rowid % 97 = 0 LIMIT 2000"
        )
    ]
    out["top_speaker"] = conn.execute(
        "SELECT speaker, COUNT(*) FROM claims WHERE speaker IS NOT NULL GROUP BY 1 "
        "ORDER BY 2 DESC LIMIT 1"
    ).fetchone()
    counts = {
        t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
        for t in ("articles", "claims", "images", "image_uses", "claim_links", "changes")
    }
    conn.close()
    out["counts"] = counts
    out["build_s"] = round(time.perf_counter() - start, 1)
    out["db_mb"] = round(path.stat().st_size / 2**20, 1)
    return out
