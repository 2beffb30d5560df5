"""Known-answer tests: the exact bytes that are hashed and signed, pinned."""

from __future__ import annotations

import base64
import hashlib

from archive import statements
from archive.hashing import normalize_text, text_sha256

ARTICLE = {
    "id": "37988c58467bc4cf",
    "capture_sha256": "56bf4c2310d741f505f0b82e35eb5e00a508528bb7b7c6cfc1ad18f0837d7d8a",
    "warc_member": "",
    "warc_offset": 759,
    "warc_record_id": "<urn:uuid:66e5172b-a393-544d-abca-b59987d0d44b>",
    "url": "https://northshore.example/2025/03/07/who-is-elena-varga.html",
    "captured_at": "2025-03-07T09:30:00Z",
}
TEXT = (
    "“I am the daughter of Tomas Varga; closing this harbour is not something I will sign”, "
    "Varga said."
)
CLAIM = {
    "id": "37988c58467bc4cf-9",
    "article_id": "37988c58467bc4cf",
    "position": 9,
    "kind": "quote",
    "text": TEXT,
    "text_sha256": "95b48323b8b9673aa2f1f0926e388c8a76323c50ece16815f532da6467a85a7e",
    "normalization": "archive-text/1",
    "text_start": 1061,
    "text_end": 1159,
    "speaker": "Elena Varga",
    "speaker_mention": "Varga",
    "cue": "said",
    "quote": "I am the daughter of Tomas Varga; closing this harbour is not something I will sign",
}
EXPECTED = (
    '{"article_id":"37988c58467bc4cf","cue":"said","id":"37988c58467bc4cf-9",'
    '"key_id":"ed25519:56475aa75463474c","kind":"quote","normalization":"archive-text/1",'
    '"position":9,"quote":"I am the daughter of Tomas Varga; closing this harbour is not '
    'something I will sign","signed_at":"2026-01-01T00:00:00Z","source":{"capture_sha256":'
    '"56bf4c2310d741f505f0b82e35eb5e00a508528bb7b7c6cfc1ad18f0837d7d8a","captured_at":'
    '"2025-03-07T09:30:00Z","url":"https://northshore.example/2025/03/07/who-is-elena-varga.html",'
    '"warc_member":"","warc_offset":759,"warc_record_id":'
    '"<urn:uuid:66e5172b-a393-544d-abca-b59987d0d44b>"},"speaker":"Elena Varga",'
    '"speaker_mention":"Varga","statement":"archive-statement/1","text":"'
    + TEXT.replace('"', '\\"')
    + '","text_end":1159,"text_sha256":'
    '"95b48323b8b9673aa2f1f0926e388c8a76323c50ece16815f532da6467a85a7e","text_start":1061,'
    '"type":"claim"}'
).encode("utf-8")
EXPECTED_SHA256 = "e78b6571f86933be422bce5f25c2e95732455e7e1c0ad5b1c88de47f62fcbd4a"
EXPECTED_SIGNATURE = (
    "9JcIgXRILHI2bFhSrtg+arGU2LpOmW+7rwzzvmiHh9CMUXTikBPOeX41CarNgVFEMf8/G9XWrVtJwP/nJJkmDA=="
)


def test_normalization_known_answer():
    assert normalize_text("  “Surrender”\u00a0is NOT—part of\tmy ‘vocabulary’  ") == (
        "\"surrender\" is not-part of my 'vocabulary'"
    )
    assert text_sha256(TEXT) == CLAIM["text_sha256"]
    assert text_sha256(TEXT) == hashlib.sha256(normalize_text(TEXT).encode("utf-8")).hexdigest()


def test_normalization_equals_the_rules_as_written():
    """normalize_text takes shortcuts (no NFKC or folds for ASCII text, the folds by regex,
    whitespace by str.split): it must give exactly what the rules as written give."""
    import random
    import re
    import unicodedata

    from archive.hashing import _FOLD

    def full(text):
        text = unicodedata.normalize("NFKC", text).translate(_FOLD)
        return re.sub(r"\s+", " ", text).strip().casefold()

    rng = random.Random(5)
    alphabet = [chr(i) for i in range(128)] + [" "] * 20 + list("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f")
    unicode = list("\u00a0\u2003\u3000\u2028\u0085éÉßİﬁ①Ａｂ\u0301\u00b4“”‘’«»—–−\uff0d\u2033")
    samples = ["".join(rng.choices(alphabet, k=rng.randint(0, 60))) for _ in range(3000)]
    samples += [
        "".join(rng.choices(alphabet + unicode * 4, k=rng.randint(0, 60))) for _ in range(3000)
    ]
    samples += ["  Mixed CASE\x1fwith\x0bodd  spaces ", "", " ", "ABC`DEF"]
    for text in samples:
        assert normalize_text(text) == full(text), repr(text)


def test_claim_statement_bytes_hash_and_signature(fixed_signer):
    assert fixed_signer.key_id == "ed25519:56475aa75463474c"
    stmt = statements.build(
        "claims",
        CLAIM,
        key_id=fixed_signer.key_id,
        signed_at="2026-01-01T00:00:00Z",
        article=ARTICLE,
    )
    data = statements.canonical(stmt)
    assert data == EXPECTED
    assert hashlib.sha256(data).hexdigest() == EXPECTED_SHA256
    # Ed25519 is deterministic: the same key and bytes give the same signature.
    assert fixed_signer.sign(data) == EXPECTED_SIGNATURE
    fixed_signer.public_key.verify(base64.b64decode(EXPECTED_SIGNATURE), data)


def test_ingest_writes_the_known_statement(sample_db):
    import sqlite_utils

    row = sqlite_utils.Database(sample_db)["claims"].get("37988c58467bc4cf-9")
    assert row["statement"].encode("utf-8") == EXPECTED
    assert row["signature"] == EXPECTED_SIGNATURE


def test_canonical_form_is_rfc8785():
    # keys sorted by UTF-16 code units, no whitespace, non-ASCII kept as UTF-8
    data = statements.canonical({"b": 1, "a": "é\n", "A": None, "\u20ac": True})
    assert data == '{"A":null,"a":"é\\n","b":1,"€":true}'.encode()


def _values():
    from hypothesis import strategies as st

    leaf = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
        st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), inner, max_size=4),
        ),
        max_leaves=20,
    )


def test_fast_canonical_form_equals_rfc8785():
    """The json.dumps path used for plain statements gives exactly the rfc8785 library's bytes."""
    import rfc8785
    from hypothesis import given, settings
    from hypothesis import strategies as st

    @settings(max_examples=300, deadline=None)
    @given(st.dictionaries(st.text(alphabet=st.characters(max_codepoint=127)), _values()))
    def check(value):
        assert statements._plain(value)
        assert statements.canonical(value) == rfc8785.dumps(value)

    check()
    # and what is not plain goes to the library
    assert statements.canonical({"é": 1.5}) == rfc8785.dumps({"é": 1.5})


def test_fast_path_takes_only_what_json_dumps_writes_as_rfc8785_does():
    from archive.statements import _plain

    plain = [{"a": 1}, {"a": [1, {"b": None}]}, "x", [], {"a": True}, {"a": -(2**53 - 1)}]
    other = [{"a": 1.0}, {"é": 1}, {"a": [1, {"b": 2**60}]}, 1.5, {1: 2}, {"a": (1,)}]
    assert all(_plain(v) for v in plain)
    assert not any(_plain(v) for v in other)
