"""WACZ checks against real packages from py-wacz, Scoop and Browsertrix, and tampered copies."""

from __future__ import annotations

import base64
import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from archive.wacz_check import check_wacz

WACZ = Path(__file__).parent / "data" / "wacz"
# The AGPL Browsertrix packages are not copied here; they are read from ../shared if present.
SHARED_WACZ = Path(__file__).resolve().parents[1].parent / "shared" / "corpus" / "wacz"
needs_shared = pytest.mark.skipif(not SHARED_WACZ.is_dir(), reason="../shared is not present")

DOMAIN = "btrix-sign-test.webrecorder.net"


def rewrite(src: Path, dst: Path, edit) -> Path:
    """Copy a ZIP member by member, passing each (name, bytes) through ``edit``."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info))
            if data is not None:
                zout.writestr(info, data)
    return dst


def edit_digest(src: Path, dst: Path, change) -> Path:
    """Rewrite ``datapackage-digest.json`` after ``change(digest_dict)``."""

    def edit(name, data):
        if name != "datapackage-digest.json":
            return data
        digest = json.loads(data)
        change(digest)
        return json.dumps(digest, indent=2).encode()

    return rewrite(src, dst, edit)


def test_domain_signed_package_is_verified():
    result = check_wacz(WACZ / "valid_signed_example_1.wacz")
    assert result.status == "verified", result.problems
    assert result.signer == DOMAIN
    assert result.problems == []
    assert result.details["timestamp_signature"] == "valid"
    assert result.details["timestamp_time"] == "2022-01-18T19:00:12Z"
    assert result.details["domain_chain"].startswith("valid to pinned root")


def test_staging_root_is_untrusted():
    result = check_wacz(WACZ / "invalid_signed_example_1.wacz")
    assert result.status == "failed"
    assert result.signer is None
    assert len(result.problems) == 1
    assert result.problems[0].startswith("untrusted root")
    assert "(STAGING)" in result.problems[0]
    # The rest of the package is sound: only the trust anchor is wrong.
    assert result.details["digest"] == "ok"
    assert result.details["timestamp_signature"] == "valid"


@pytest.mark.parametrize(
    "name, digest", [("valid_example_1", "missing"), ("valid_example_2", "ok")]
)
def test_py_wacz_unsigned_packages(name, digest):
    result = check_wacz(WACZ / f"{name}.wacz")
    assert (result.status, result.problems, result.signer) == ("unsigned", [], None)
    assert result.details["digest"] == digest
    assert result.details["resources_checked"] == 4


def test_old_layout_hashes_are_checked(tmp_path):
    """WACZ 1.0.0 keeps hashes under "stats"; a changed WARC must still be caught."""
    bad = rewrite(WACZ / "valid_example_1.wacz", tmp_path / "bad.wacz", flip_warc_byte)
    result = check_wacz(bad)
    assert result.status == "failed"
    assert result.problems[0].startswith("hash mismatch for archive/example-collection.warc")


def test_scoop_package_is_unsigned_with_good_digest():
    result = check_wacz(WACZ / "scoop-example.com.wacz")
    assert (result.status, result.problems) == ("unsigned", [])
    assert result.details["signature"] == "absent"
    assert result.details["resources_checked"] == 5


def test_missing_resource_fails():
    result = check_wacz(WACZ / "invalid_example_1.wacz")
    assert result.status == "failed"
    assert "resource missing from ZIP: data/indexes/index.cdx.gz" in result.problems
    assert "ZIP member not listed in datapackage.json: data/archive/test.txt" in result.problems


def flip_warc_byte(name, data):
    if name.startswith("archive/") and ".warc" in name:
        return data[:100] + bytes([data[100] ^ 1]) + data[101:]
    return data


@pytest.mark.parametrize("name", ["valid_example_2", "valid_signed_example_1"])
def test_one_changed_warc_byte_fails(tmp_path, name):
    bad = rewrite(WACZ / f"{name}.wacz", tmp_path / "bad.wacz", flip_warc_byte)
    result = check_wacz(bad)
    assert result.status == "failed"
    assert result.signer is None
    assert len(result.problems) == 1
    assert result.problems[0].startswith("hash mismatch for archive/")


def test_changed_datapackage_breaks_digest(tmp_path):
    def edit(name, data):
        return (
            data.replace(b"Example Collection", b"Example Kollection")
            if name == ("datapackage.json")
            else data
        )

    result = check_wacz(rewrite(WACZ / "valid_example_2.wacz", tmp_path / "bad.wacz", edit))
    assert result.status == "failed"
    assert "does not match datapackage.json" in result.problems[0]
    assert result.details["digest"] == "mismatch"


def test_extra_unlisted_member_fails(tmp_path):
    bad = rewrite(WACZ / "valid_signed_example_1.wacz", tmp_path / "bad.wacz", lambda n, d: d)
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr("archive/extra.warc", b"WARC/1.0\r\n")
    result = check_wacz(bad)
    assert result.status == "failed"
    assert result.problems == ["ZIP member not listed in datapackage.json: archive/extra.warc"]


@pytest.mark.parametrize("evil", ["../evil.txt", "/etc/evil", "archive/../../evil", "C:/evil"])
def test_unsafe_member_paths_fail(tmp_path, evil):
    bad = rewrite(WACZ / "valid_example_2.wacz", tmp_path / "bad.wacz", lambda n, d: d)
    with zipfile.ZipFile(bad, "a") as zf:
        zf.writestr(zipfile.ZipInfo(evil), b"x")
    result = check_wacz(bad)
    assert result.status == "failed"
    assert result.problems == [f"unsafe path in ZIP ('..' component or absolute path): {evil!r}"]


def test_not_a_zip_fails(tmp_path):
    bad = tmp_path / "bad.wacz"
    bad.write_bytes(b"not a zip at all")
    result = check_wacz(bad)
    assert result.status == "failed"
    assert result.problems[0].startswith("not a readable ZIP file")


def test_wrong_domain_fails(tmp_path):
    def change(digest):
        digest["signedData"]["domain"] = "example.org"

    result = check_wacz(
        edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "b.wacz", change)
    )
    assert result.status == "failed"
    assert any(p.startswith("domain certificate is not for example.org") for p in result.problems)


def test_changed_signature_fails(tmp_path):
    def change(digest):
        sig = bytearray(base64.b64decode(digest["signedData"]["signature"]))
        sig[-1] ^= 1
        digest["signedData"]["signature"] = base64.b64encode(sig).decode()

    result = check_wacz(
        edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "b.wacz", change)
    )
    assert result.status == "failed"
    assert "signature does not verify with the domain certificate's key" in result.problems
    # The timestamp was over the original signature, so it no longer covers this one.
    assert "timestamp does not cover the signature (message imprint mismatch)" in result.problems


def test_changed_timestamp_token_fails(tmp_path):
    """Altering genTime inside the token must break the TSA's signature over it."""

    def change(digest):
        token = base64.b64decode(digest["signedData"]["timeSignature"])
        token = token.replace(b"20220118190012Z", b"20220118190013Z", 1)
        digest["signedData"]["timeSignature"] = base64.b64encode(token).decode()

    result = check_wacz(
        edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "b.wacz", change)
    )
    assert result.status == "failed"
    assert result.problems == [
        "timestamp signature does not cover its TSTInfo (message digest mismatch)"
    ]
    assert result.details["timestamp_signature"] == "invalid"


def test_changed_tsa_signature_fails(tmp_path):
    """The TSA's RSA signature is the last element of the token: flip its last byte."""

    def change(digest):
        token = bytearray(base64.b64decode(digest["signedData"]["timeSignature"]))
        token[-1] ^= 1
        digest["signedData"]["timeSignature"] = base64.b64encode(token).decode()

    result = check_wacz(
        edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "b.wacz", change)
    )
    assert result.status == "failed"
    assert result.problems == [
        "timestamp token signature does not verify with the timestamp certificate"
    ]


def test_created_must_match(tmp_path):
    def change(digest):
        digest["signedData"]["created"] = "2022-01-19T19:00:12Z"

    result = check_wacz(
        edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "b.wacz", change)
    )
    assert result.status == "failed"
    assert result.problems[0].startswith("signedData created '2022-01-19T19:00:12Z' differs")


def anon_signed(src: Path, dst: Path, key, sign_key=None) -> Path:
    """Add an ArchiveWeb.page-style anonymous P-384 signature to an unsigned package."""
    with zipfile.ZipFile(src) as zf:
        package = json.loads(zf.read("datapackage.json"))
    package["created"] = "2024-01-01T00:00:00.000Z"
    dp = json.dumps(package).encode()
    hash_ = "sha256:" + hashlib.sha256(dp).hexdigest()
    r, s = decode_dss_signature((sign_key or key).sign(hash_.encode(), ec.ECDSA(hashes.SHA256())))
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed = {
        "hash": hash_,
        "signature": base64.b64encode(r.to_bytes(48, "big") + s.to_bytes(48, "big")).decode(),
        "publicKey": base64.b64encode(spki).decode(),
        "created": package["created"],
    }
    digest = json.dumps({"path": "datapackage.json", "hash": hash_, "signedData": signed})
    files = {"datapackage.json": dp, "datapackage-digest.json": digest.encode()}
    return rewrite(src, dst, lambda name, data: files.get(name, data))


def test_anonymous_signature_verifies(tmp_path):
    key = ec.generate_private_key(ec.SECP384R1())
    result = check_wacz(anon_signed(WACZ / "valid_example_2.wacz", tmp_path / "a.wacz", key))
    assert result.status == "verified", result.problems
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert result.signer == f"anonymous key {hashlib.sha256(spki).hexdigest()[:16]}"


def test_anonymous_signature_by_other_key_fails(tmp_path):
    key, other = ec.generate_private_key(ec.SECP384R1()), ec.generate_private_key(ec.SECP384R1())
    bad = anon_signed(WACZ / "valid_example_2.wacz", tmp_path / "a.wacz", key, sign_key=other)
    result = check_wacz(bad)
    assert result.status == "failed"
    assert result.problems == ["anonymous signature does not verify with its public key"]


@needs_shared
def test_browsertrix_anonymous_package_is_verified():
    result = check_wacz(SHARED_WACZ / "browsertrix-anon-signed.wacz")
    assert result.status == "verified", result.problems
    assert result.signer == "anonymous key 6eabd7fc334a134a"
    assert result.details["signature"] == "anonymous ECDSA P-384"


@needs_shared
def test_browsertrix_anonymous_package_tampered_fails(tmp_path):
    src = SHARED_WACZ / "browsertrix-anon-signed.wacz"
    result = check_wacz(rewrite(src, tmp_path / "bad.wacz", flip_warc_byte))
    assert result.status == "failed"
    assert result.problems == [
        "hash mismatch for archive/data.warc.gz: declared "
        "sha256:50ddacb5eaeb8482517723132d8d11c837b8eefa99533b183eddb1c6937aa51e, found "
        + hashlib.sha256(
            flip_warc_byte("archive/data.warc.gz", read(src, "archive/data.warc.gz"))
        ).hexdigest()
    ]


def read(path: Path, name: str) -> bytes:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name)


@needs_shared
def test_browsertrix_multi_wacz_outer_package_is_unsigned():
    result = check_wacz(SHARED_WACZ / "browsertrix-multi-wacz.wacz")
    assert (result.status, result.problems) == ("unsigned", [])
    assert result.details["resources_checked"] == 2
    assert result.details["nested_packages"].startswith("not-checked")


def test_a_directory_entry_holding_a_warc_fails_and_is_not_read(tmp_path):
    """A ZIP entry named "archive/x.warc/" is a directory, yet it can hold bytes: the check
    skipped it (directories are never listed) and the reader, dropping the slash, ingested it,
    so a signed package carrying an added, unsigned WARC was recorded as verified (found in
    review)."""
    from archive.reader import CaptureReader

    signed = tmp_path / "signed.wacz"
    signed.write_bytes((WACZ / "valid_signed_example_1.wacz").read_bytes())
    assert check_wacz(signed).status == "verified"
    body = b"<html><body>FORGED ARTICLE</body></html>"
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n\r\n" % len(body)
    warc = (
        (
            b"WARC/1.0\r\nWARC-Type: response\r\n"
            b"WARC-Record-ID: <urn:uuid:00000000-0000-0000-0000-000000000001>\r\n"
            b"WARC-Target-URI: https://example.com/forged\r\nWARC-Date: 2020-01-01T00:00:00Z\r\n"
            b"Content-Type: application/http; msgtype=response\r\nContent-Length: %d\r\n\r\n"
            % len(http + body)
        )
        + http
        + body
        + b"\r\n\r\n"
    )
    with zipfile.ZipFile(signed, "a") as z:
        z.writestr("archive/forged.warc/", warc)
    check = check_wacz(signed)
    assert check.status == "failed"
    assert "a directory entry that holds data: 'archive/forged.warc/'" in check.problems
    assert not [r for r in CaptureReader(signed) if r.member.endswith("/")]


def test_a_zip_of_very_many_members_is_refused_before_it_is_read(tmp_path, monkeypatch):
    from archive import capture_files

    monkeypatch.setattr(capture_files, "MAX_MEMBERS", 10)
    many = tmp_path / "many.wacz"
    with zipfile.ZipFile(many, "w") as z:
        z.writestr("datapackage.json", json.dumps({"resources": []}))
        for i in range(10):
            z.writestr(f"{i}/", b"")
    check = check_wacz(many)
    assert check.status == "failed"
    assert check.problems == ["11 ZIP members, more than the 10 read"]


def test_a_domain_signature_by_a_key_other_than_ecdsa_p256_fails(tmp_path):
    """docs/verification.md says the package signature is ECDSA P-256 (what authsign makes):
    a certificate with an RSA key, whose signature verifies, is refused as such."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, DOMAIN)])
    now = datetime.datetime(2022, 1, 1, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=365))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(DOMAIN)]), critical=False)
        .sign(key, hashes.SHA256())
    )

    def change(digest):
        signed = digest["signedData"]
        signed["domainCert"] = cert.public_bytes(serialization.Encoding.PEM).decode()
        sig = key.sign(signed["hash"].encode("ascii"), padding.PKCS1v15(), hashes.SHA256())
        signed["signature"] = base64.b64encode(sig).decode()

    rsa_signed = edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "rsa.wacz", change)
    result = check_wacz(rsa_signed)
    assert result.status == "failed"
    assert "the domain certificate's key is not ECDSA P-256" in result.problems


def test_the_problems_of_a_package_are_capped_and_counted(tmp_path):
    """All of a package's problems are stored: a crafted one listed 119,000 (a review, which
    also found each resource looked up in a list of the members: 20,000 resources missing from
    99,000 members took 53 s, 1.5 s since they are a set)."""
    big = tmp_path / "big.wacz"
    resources = [{"path": f"archive/missing-{i}.warc", "hash": "sha256:00"} for i in range(2_000)]
    with zipfile.ZipFile(big, "w") as z:
        z.writestr("datapackage.json", json.dumps({"resources": resources}))
        for i in range(1_000):
            z.writestr(f"e/{i}", b"")
    check = check_wacz(big)
    assert check.status == "failed" and len(check.problems) == 101
    assert check.problems[0] == "resource missing from ZIP: archive/missing-0.warc"
    assert check.problems[-1] == f"... and {2_000 + 1_000 - 100:,} more problems"


@pytest.mark.parametrize(
    ("change", "said"),
    [
        (lambda d: d["signedData"].pop("timeSignature"), "signedData.timeSignature is missing"),
        (lambda d: d["signedData"].update(signature=5), "signedData.signature is not a string"),
        (lambda d: d["signedData"].update(signature="@@"), "signedData.signature is not base64"),
        (lambda d: d["signedData"].update(domainCert=[]), "signedData.domainCert is not a string"),
    ],
)
def test_a_malformed_signature_field_is_named(tmp_path, change, said):
    """Wrong types or missing fields said "IndexError: index out of range" or Python's own
    words, naming no field (a review)."""
    result = check_wacz(
        edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "b.wacz", change)
    )
    assert result.status == "failed" and result.problems == [said], result.problems


def test_metadata_that_is_not_json_is_named_and_a_domain_is_recorded_in_lower_case(tmp_path):
    bad = rewrite(
        WACZ / "valid_signed_example_1.wacz",
        tmp_path / "bad.wacz",
        lambda name, data: b"\xff{" if name == "datapackage-digest.json" else data,
    )
    (problem,) = check_wacz(bad).problems
    assert problem.startswith("datapackage-digest.json is not valid JSON: "), problem

    def shout(digest):
        digest["signedData"]["domain"] = DOMAIN.upper()

    loud = check_wacz(edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "l.wacz", shout))
    assert loud.status == "verified" and loud.signer == DOMAIN, loud.problems


def test_a_domain_chain_without_its_intermediate_says_so(tmp_path):
    from cryptography import x509
    from cryptography.hazmat.primitives.serialization import Encoding

    def leaf_only(digest):
        pem = digest["signedData"]["domainCert"].encode()
        leaf = x509.load_pem_x509_certificates(pem)[0]
        digest["signedData"]["domainCert"] = leaf.public_bytes(Encoding.PEM).decode()

    result = check_wacz(
        edit_digest(WACZ / "valid_signed_example_1.wacz", tmp_path / "b.wacz", leaf_only)
    )
    assert result.status == "failed"
    assert any("(an intermediate left out?)" in p for p in result.problems), result.problems
