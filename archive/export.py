"""Export the archive for other tools: W3C PROV-JSON, schema.org ClaimReview, CSV, JSON lines."""

from __future__ import annotations

import base64
import csv
import datetime
import json
import re
from collections.abc import Iterator
from urllib.parse import quote

from .errors import ArchiveError

FORMATS = ("prov-json", "claimreview", "csv", "jsonl")


def _rows(conn, sql: str, params=()) -> Iterator[dict]:
    cur = conn.execute(sql, params)
    names = [d[0] for d in cur.description]
    for row in cur:
        yield dict(zip(names, row, strict=True))


def _qualified(name: str) -> dict:
    """A PROV-JSON qualified name as an attribute value (a bare string is a literal)."""
    return {"$": name, "type": "prov:QUALIFIED_NAME"}


def _agent_id(kind: str, name: str) -> str:
    """A qualified name for a publisher or speaker: the name percent-encoded, so that distinct
    names stay distinct and every character is one PROV-N can write."""
    return f"archive:{kind}/{quote(name, safe='')}"


#: ISO 8601 dates and times (what schema.org's Date and DateTime take); pages give others too
_ISO_DATE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})?)?"
)


#: The Unix epoch's first moment: with year 1 (.NET's DateTime.MinValue) and year 0, what pages
#: carry for "no date". As a ClaimReview's datePublished they would make a claim ancient.
_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


def _iso_date(text: str | None) -> str | None:
    """``text`` when it is an ISO 8601 date (or date and time) that exists and is not a
    placeholder (a year before 1000, or the epoch's first moment in any time zone), else None."""
    text = (text or "").strip()
    if not _ISO_DATE.fullmatch(text) or text < "1000":
        return None
    try:  # a real day and time: not 2025-13-45, nor 24:61
        if len(text) == 10:
            moment = datetime.datetime.combine(datetime.date.fromisoformat(text), datetime.time())
        else:
            moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.replace(tzinfo=moment.tzinfo or datetime.UTC) == _EPOCH:
        return None
    return text


def _present(attributes: dict) -> dict:
    """PROV-JSON has no null: an attribute without a value is left out."""
    return {k: v for k, v in attributes.items() if v is not None}


def prov_json(conn) -> dict:
    """W3C PROV-JSON: captures, articles, claims and images as entities; derivations between them;
    attribution of claims to their speakers; the ingest as an activity by the archive's key."""
    doc: dict = {
        "prefix": {"archive": "urn:archive:", "schema": "https://schema.org/"},
        "entity": {},
        "agent": {},
        "activity": {},
        "wasDerivedFrom": {},
        "wasAttributedTo": {},
        "wasGeneratedBy": {},
        "wasAssociatedWith": {},
    }
    n = 0

    def rel(kind: str, body: dict) -> None:
        nonlocal n
        n += 1
        doc[kind][f"_:{kind}{n}"] = _present(body)

    for key in _rows(conn, "SELECT key_id, created_at FROM keys"):
        doc["agent"][f"archive:key/{key['key_id']}"] = {
            "prov:type": _qualified("prov:SoftwareAgent")
        }
    for c in _rows(conn, "SELECT sha256, filename, ingested_at, key_id FROM captures"):
        cid = f"archive:capture/{c['sha256']}"
        doc["entity"][cid] = _present({"prov:label": c["filename"], "archive:sha256": c["sha256"]})
        act = f"archive:ingest/{c['sha256']}"
        doc["activity"][act] = _present({"prov:startTime": c["ingested_at"]})
        rel("wasAssociatedWith", {"prov:activity": act, "prov:agent": f"archive:key/{c['key_id']}"})
    for a in _rows(
        conn,
        "SELECT id, url, title, captured_at, capture_sha256, site_name, text_sha256 FROM articles",
    ):
        aid = f"archive:article/{a['id']}"
        doc["entity"][aid] = _present(
            {
                "prov:label": a["title"],
                "prov:location": a["url"],
                "archive:captured_at": a["captured_at"]
                and {"$": a["captured_at"], "type": "xsd:dateTime"},
                "archive:text_sha256": a["text_sha256"],
            }
        )
        rel(
            "wasDerivedFrom",
            {
                "prov:generatedEntity": aid,
                "prov:usedEntity": f"archive:capture/{a['capture_sha256']}",
            },
        )
        rel(
            "wasGeneratedBy",
            {"prov:entity": aid, "prov:activity": f"archive:ingest/{a['capture_sha256']}"},
        )
        if a["site_name"]:
            org = _agent_id("publisher", a["site_name"])
            doc["agent"][org] = {
                "prov:type": _qualified("prov:Organization"),
                "prov:label": a["site_name"],
            }
            rel("wasAttributedTo", {"prov:entity": aid, "prov:agent": org})
    for c in _rows(conn, "SELECT id, article_id, text, text_sha256, kind, speaker FROM claims"):
        cid = f"archive:claim/{c['id']}"
        doc["entity"][cid] = _present(
            {
                "prov:value": c["text"],
                "archive:kind": c["kind"],
                "archive:text_sha256": c["text_sha256"],
            }
        )
        rel(
            "wasDerivedFrom",
            {"prov:generatedEntity": cid, "prov:usedEntity": f"archive:article/{c['article_id']}"},
        )
        if c["speaker"]:
            # a person, a group or an institution: the archive does not know which
            speaker = _agent_id("speaker", c["speaker"])
            doc["agent"][speaker] = {"prov:label": c["speaker"]}
            rel("wasAttributedTo", {"prov:entity": cid, "prov:agent": speaker})
    for u in _rows(
        conn,
        "SELECT id, article_id, image_sha256, url, caption, credit "
        "FROM image_uses WHERE image_sha256 IS NOT NULL",
    ):
        iid = f"archive:image/{u['image_sha256']}"
        doc["entity"].setdefault(iid, _present({"prov:location": u["url"]}))
        rel(
            "wasDerivedFrom",
            {
                "prov:generatedEntity": f"archive:article/{u['article_id']}",
                "prov:usedEntity": iid,
                "archive:caption": u["caption"],
                "archive:credit": u["credit"],
            },
        )
    return doc


def claim_review(conn) -> list[dict]:
    """schema.org ClaimReview-shaped JSON-LD: each distinct claim with its appearances.

    No rating is given: the archive records where a claim appeared, it does not judge it. The
    claim's author is its speaker when every appearance names the same one (untyped: a person,
    a group or an institution); each page appears once, at its first capture.
    """
    out: dict[str, dict] = {}
    speakers: dict[str, set[str]] = {}
    for r in _rows(
        conn,
        "SELECT c.text_sha256, c.text, c.speaker, a.url, a.captured_at, a.site_name, "
        "a.published_at FROM claims c JOIN articles a ON a.id = c.article_id "
        # ties (pages captured in the same second) in a fixed order: firstAppearance is the
        # same in every export
        "WHERE c.kind IN ('statement', 'quote') ORDER BY a.captured_at, a.url, c.id",
    ):
        item = out.setdefault(
            r["text_sha256"],
            {
                "@context": "https://schema.org",
                "@type": "ClaimReview",
                "identifier": f"sha256:{r['text_sha256']}",
                "claimReviewed": r["text"],
                "itemReviewed": {"@type": "Claim", "appearance": [], "firstAppearance": None},
            },
        )
        claim = item["itemReviewed"]
        speakers.setdefault(r["text_sha256"], set()).add(r["speaker"] or "")
        if any(a["url"] == r["url"] for a in claim["appearance"]):
            continue  # a later capture of a page it already appears on
        # the page's own publication date when it gives one as a date (a capture is not a
        # creation); appearances come in capture order, and the first is firstAppearance
        appearance = {"@type": "CreativeWork", "url": r["url"]}
        if published := _iso_date(r["published_at"]):
            appearance["datePublished"] = published
        if r["site_name"]:
            appearance["publisher"] = {"@type": "Organization", "name": r["site_name"]}
        claim["appearance"].append(appearance)
        claim["firstAppearance"] = claim["firstAppearance"] or appearance
    for sha, item in out.items():
        (speaker,) = speakers[sha] if len(speakers[sha]) == 1 else ("",)
        if speaker:
            item["itemReviewed"]["author"] = {"name": speaker}
    return list(out.values())


def write(conn, fmt: str, out, table: str = "claims") -> None:
    """Write the export in ``fmt`` to the text stream ``out``."""
    if fmt == "prov-json":
        json.dump(prov_json(conn), out, indent=2, ensure_ascii=False)
        out.write("\n")
    elif fmt == "claimreview":
        json.dump(claim_review(conn), out, indent=2, ensure_ascii=False)
        out.write("\n")
    else:
        # as SQL names them: in any case
        known = {
            name.lower(): name
            for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view')"
            )
        }
        if table.lower() not in known:
            listed = sorted(n for n in known.values() if "_fts" not in n and n != "migrations")
            raise ArchiveError(f"no table {table!r} (tables and views: {', '.join(listed)})")
        table = known[table.lower()]
        cols = [r[1] for r in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]
        cols = [c for c in cols if c != "content"]  # image bytes do not belong in text exports
        quoted = ", ".join(f'"{c}"' for c in cols)
        # other BLOBs (claim_minhash.signature) as base64 text
        rows = (
            [base64.b64encode(v).decode("ascii") if isinstance(v, bytes) else v for v in row]
            for row in conn.execute(f'SELECT {quoted} FROM "{table}"')
        )
        if fmt == "csv":
            writer = csv.writer(out)
            writer.writerow(cols)
            writer.writerows(rows)
        else:
            for row in rows:
                out.write(json.dumps(dict(zip(cols, row, strict=True)), ensure_ascii=False) + "\n")
