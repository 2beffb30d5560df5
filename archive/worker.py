"""The pure half of ingest, run in worker processes (or on a Dask cluster): one record in, what
it contributes out. Hashes the payload; for an image, its size and pHash; for an HTML page, the
article, its claims, their MinHash, and the rows to sign with their canonical statements and
ledger leaves (everything but the signatures, which stay with the writer: archive/ingest.py).
Plain, picklable data in and out.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np

from . import statements
from .config import Limits
from .extract import Article, decode_html, extract_article
from .figures import ImageRef
from .hashing import NORMALIZATION, article_text_sha256, sha256_hex, text_sha256
from .images import ImageInfo, image_info
from .ledger import Unsigned, prepare
from .reader import Record
from .similarity import minhash_bands, phash


@dataclass(frozen=True)
class Context:
    """What a worker needs to prepare statements: the capture, the signing key's id and the
    transaction's signing time (public values; the key itself stays with the writer)."""

    capture_sha256: str
    key_id: str
    signed_at: str
    #: prepare statements? Not on a cluster: the coordinator rebuilds them from the rows anyway
    statements: bool = True


@dataclass
class Processed:
    """The pure result for one record: what it is, and, for an article, its rows ready to sign."""

    record: Record
    payload_sha256: str | None = None
    role: str = "skipped"  # article | image | page | skipped | other
    note: str | None = None
    rows: list[Unsigned] = field(default_factory=list)  # the article, then its claims
    bands: list[tuple[int, str]] = field(default_factory=list)  # (band key, claim id)
    #: (claim id, text, shingle hashes, how many the MinHash is over, compact MinHash signature)
    #: of each claim long enough
    hashed: list[tuple[str, str, np.ndarray, int, bytes]] = field(default_factory=list)
    images: list[ImageRef] = field(default_factory=list)  # the article's image references
    source: dict | None = None  # the article's id and source fields, for its image uses
    image: ImageInfo | None = None  # an image's size, read from its header
    phash: str | None = None  # an image's perceptual hash


#: The note of a page whose extraction raised: kept as a page, and warned about.
NOT_EXTRACTED = "not extracted"


def process_record(record: Record, limits: Limits, context: Context) -> Processed:
    """Hash a record's payload and, for an HTML page, extract the article and prepare its signed
    rows (everything but the signature). Pure and picklable: runs in a worker."""
    out = Processed(record=record)
    if record.type not in ("response", "resource", "revisit"):
        out.role, out.note = "other", None
        return out
    if record.payload is None:
        out.note = record.skip_reason
        return out
    payload, record.payload = record.payload, None  # released: memory stays flat
    out.payload_sha256 = sha256_hex(payload)
    if record.is_image:
        out.role = "image"
        out.image = image_info(payload, out.payload_sha256, record.mime_type, limits)
        # no perceptual hash for an image whose size is unknown or over the pixel cap
        out.phash = phash(payload) if out.image.width else None
    elif record.is_html:
        if len(payload) > limits.max_html_bytes:
            out.note = f"HTML larger than the {limits.max_html_bytes:,}-byte cap"
            return out
        try:
            article = extract_article(decode_html(payload, record.charset), record.uri)
            if article is not None:
                _prepare_article(out, article, context)
        except MemoryError:
            raise  # the machine's limit, not the page's fault: the file fails and can be retried
        except Exception as e:  # noqa: BLE001 - one page's HTML must not fail its whole file
            # an extraction bug on hostile HTML: the page is kept as a page, says why, and the
            # ingest warns (see NOT_EXTRACTED)
            payload_sha256 = out.payload_sha256
            out = Processed(record=record, payload_sha256=payload_sha256, role="page")
            out.note = f"{NOT_EXTRACTED} ({type(e).__name__}: {str(e)[:200]})"
            return out
        if article is None:
            out.role, out.note = "page", "HTML page without an article"
        else:
            out.role = "article"
    return out


def _prepare_article(out: Processed, a: Article, context: Context) -> None:
    r = out.record
    row = {
        "id": article_id(context.capture_sha256, r),
        "capture_sha256": context.capture_sha256,
        "warc_record_id": r.record_id,
        "warc_offset": r.offset,
        "warc_member": r.member,
        "url": r.uri,
        "captured_at": r.date,
        "canonical_url": a.canonical_url,
        "title": a.title,
        "site_name": a.site_name,
        "authors": json.dumps(a.authors, ensure_ascii=False),
        "published_at": a.published_at,
        "language": a.language,
        "section": a.section,
        "text": a.text,
        "html_sha256": out.payload_sha256,
        "text_sha256": article_text_sha256(a.text),
    }
    sign_as = {"key_id": context.key_id, "signed_at": context.signed_at}
    make = prepare if context.statements else _unprepared
    out.rows.append(make("articles", row, **sign_as))
    hashed = minhash_bands([c.text for c in a.claims])
    for i, c in enumerate(a.claims):
        claim = {
            "id": f"{row['id']}-{c.position}",
            "article_id": row["id"],
            "position": c.position,
            "kind": c.kind,
            "text": c.text,
            "text_sha256": text_sha256(c.text),
            "normalization": NORMALIZATION,
            "text_start": c.text_start,
            "text_end": c.text_end,
            "speaker": c.speaker,
            "speaker_mention": c.speaker_mention,
            "cue": c.cue,
            "quote": c.quote,
            "captured_at": row["captured_at"],  # the article's, for time-ordered queries
        }
        out.rows.append(make("claims", claim, article=row, **sign_as))
        if hashed.signatures[i] is not None:
            out.bands.extend((key, claim["id"]) for key in hashed.keys[i])
            # the writer stores the signature and scores link candidates with the shingles:
            # sent, not computed again there
            out.hashed.append(
                (claim["id"], c.text, hashed.hashes[i], hashed.sizes[i], hashed.signatures[i])
            )
    out.images = a.images
    # only what an image use's statement needs: not the article's text
    out.source = {k: row[k] for k in ("id", *statements.SOURCE_FIELDS)}


def _unprepared(table: str, row: dict, *, key_id: str, signed_at: str, article=None) -> Unsigned:
    return Unsigned(table, row, b"", b"", key_id, signed_at)


def worth_sending(record: Record) -> bool:
    """Pages and images are worth a trip to a worker (extraction, image decoding); the rest
    is cheaper to hash here than to pickle."""
    return (record.is_html or record.is_image) and record.payload is not None


def payload_size(record: Record) -> int:
    return len(record.payload) if record.payload is not None else 0


def identity(record: Record) -> tuple:
    """What a record is, for checking that a worker's result is about it."""
    return (record.offset, record.member, record.record_id, record.uri, record.date, record.type)


def article_id(capture_sha256: str, record: Record) -> str:
    """An article's id: the first 16 hex digits of SHA-256 over its capture's hash, the WACZ
    member and the record's offset, joined by newlines."""
    # By position, not WARC-Record-ID: real files repeat record ids.
    key = f"{capture_sha256}\n{record.member}\n{record.offset}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
