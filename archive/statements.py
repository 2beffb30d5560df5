"""Statements: the canonical, signed description of every record. The unit of trust.

A statement is a JSON object serialised with RFC 8785 (JSON Canonicalization Scheme) into UTF-8
bytes. Those exact bytes are stored in the row's ``statement`` column, signed with Ed25519
(``signature``, base64) and appended to the ledger. Each statement is *derived from its row*:
``verify`` rebuilds it from the row's columns and compares the bytes, so editing any signed column
breaks the match, and editing the statement breaks the signature.

The field lists below are the public contract documented in ``docs/provenance.md``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import rfc8785

VERSION = "archive-statement/1"

#: Row columns copied into each kind's statement, in addition to the fixed fields.
FIELDS = {
    "captures": ["sha256", "filename", "format", "bytes", "wacz_signature", "wacz_signer"],
    "articles": [
        "id",
        "capture_sha256",
        "warc_record_id",
        "warc_offset",
        "warc_member",
        "url",
        "captured_at",
        "canonical_url",
        "title",
        "site_name",
        "authors",
        "published_at",
        "language",
        "section",
        "html_sha256",
        "text_sha256",
    ],
    "claims": [
        "id",
        "article_id",
        "position",
        "kind",
        "text",
        "text_sha256",
        "normalization",
        "text_start",
        "text_end",
        "speaker",
        "speaker_mention",
        "cue",
        "quote",
    ],
    "image_uses": [
        "id",
        "article_id",
        "position",
        "url",
        "image_sha256",
        "image_warc_record_id",
        "image_captured_at",
        "alt",
        "caption",
        "credit",
    ],
    "key_rotations": ["id", "old_key_id", "new_key_id", "new_public_key", "new_key_signature"],
}

#: The statement "type" for each table.
TYPES = {
    "captures": "capture",
    "articles": "article",
    "claims": "claim",
    "image_uses": "image_use",
    "key_rotations": "key_rotation",
}

#: Where a record came from, copied from its article (claims and image uses).
SOURCE_FIELDS = [
    "capture_sha256",
    "warc_member",
    "warc_offset",
    "warc_record_id",
    "url",
    "captured_at",
]


def now_utc() -> str:
    """Signing time: RFC 3339, UTC, whole seconds, ``Z`` suffix."""
    return datetime.now(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(table: str, row: dict, *, key_id: str, signed_at: str, article: dict | None = None):
    """The statement (a dict) for a row of ``table``. ``article`` is needed for claims/uses."""
    body = {
        "statement": VERSION,
        "type": TYPES[table],
        "key_id": key_id,
        "signed_at": signed_at,
    }
    for name in FIELDS[table]:
        value = row.get(name)
        if name == "authors" and isinstance(value, str):
            value = json.loads(value)
        body[name] = value
    if table in ("claims", "image_uses"):
        if article is None:
            raise ValueError(f"a {TYPES[table]} statement needs its article")
        body["source"] = {name: article[name] for name in SOURCE_FIELDS}
    return body


def canonical(statement: dict) -> bytes:
    """RFC 8785 canonical bytes of a statement.

    Statements hold only ASCII keys, strings, integers, booleans and nulls. For such values
    RFC 8785 output is exactly ``json.dumps`` with sorted keys, no spaces and UTF-8 (the same
    escapes; code-point order equals UTF-16 order for ASCII keys), which is four times faster;
    anything else goes through the ``rfc8785`` library. tests/test_statements.py checks that the
    two agree.
    """
    if _plain(statement):
        return json.dumps(
            statement, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
        ).encode("utf-8")
    return rfc8785.dumps(statement)


_SAFE_INT = 2**53 - 1


def _plain(value) -> bool:
    """Only ASCII-keyed dicts, lists, strings, safe integers, booleans and nulls?

    A loop, not a recursion, with exact type checks: it runs for every statement signed or
    verified. Anything else (floats, str subclasses...) goes to the rfc8785 library.
    """
    stack = [value]
    while stack:
        v = stack.pop()
        kind = type(v)
        if kind is dict:
            for k in v:
                if type(k) is not str or not k.isascii():
                    return False
            items = v.values()
        elif kind is list:
            items = v
        else:
            items = (v,)
        for x in items:
            t = type(x)
            if t is str or x is None or t is bool:
                continue
            if t is int:
                if not -_SAFE_INT <= x <= _SAFE_INT:
                    return False
            elif t is dict or t is list:
                stack.append(x)
            else:
                return False
    return True


def parse(statement_text: str) -> dict:
    """A stored statement's fields (JSON); what it says is checked by whoever reads them."""
    return json.loads(statement_text)
