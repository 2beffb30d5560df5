"""Check a WACZ package: resource hashes, the datapackage digest, and its signature.

Layers, as in the WACZ spec and webrecorder's py-wacz / authsign:

1. every ``datapackage.json`` resource matches its ZIP member (hash and size);
2. ``datapackage-digest.json`` holds the hash of the exact ``datapackage.json`` bytes;
3. its ``signedData`` signs that hash string, either with an anonymous ECDSA P-384 key
   (ArchiveWeb.page) or with a Let's Encrypt domain certificate plus an RFC 3161 timestamp
   (authsign), judged at the timestamp's time because those certificates are short-lived.

It fails closed: anything that cannot be checked is a problem, and any problem means ``failed``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import functools
import hashlib
import json
import re
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from cryptography.x509.verification import DNSName, PolicyBuilder, Store, VerificationError

from . import capture_files
from .capture_files import too_many_members

# SHA-256 fingerprints of the pinned roots. Let's Encrypt production only (ISRG Root X1, X2);
# the staging roots are deliberately absent. The TSA root is freetsa.org's, as authsign pins it.
DOMAIN_ROOTS = {
    "96bcec06264976f37460779acf28c5a7cfe8a3c0aae11a8ffcee05c0bddf08c6",  # ISRG Root X1
    "69729b8e15a86efc177a57afb7171dfc64add28c2fca8cf1507e34453ccb1470",  # ISRG Root X2
}
TSA_ROOTS = {"a6379e7cecc05faa3cbf076013d745e327bbbaa38c0b9af22469d4701d18aabc"}  # freetsa.org

# authsign's own policy: a fresh signing certificate, and a timestamp taken right after signing.
CERT_WINDOW = dt.timedelta(days=7)
STAMP_WINDOW = dt.timedelta(minutes=10)

RESOURCE_HASHES = {"sha256", "sha384", "sha512"}  # weaker ones cannot vouch for content
MAX_PROBLEMS = 100  # named, of a package's problems; the rest counted
MAX_JSON = 16 * 1024 * 1024  # metadata files are small; refuse to inflate a bomb into memory
CHUNK = 1 << 16

_HASH_OIDS = {
    "2.16.840.1.101.3.4.2.1": "sha256",
    "2.16.840.1.101.3.4.2.2": "sha384",
    "2.16.840.1.101.3.4.2.3": "sha512",
}
_RSA_OIDS = {f"1.2.840.113549.1.1.{n}" for n in (1, 11, 12, 13)}  # rsaEncryption, sha*WithRSA
_ECDSA_OIDS = {f"1.2.840.10045.4.3.{n}" for n in (2, 3, 4)}  # ecdsa-with-SHA256/384/512
_OID_SIGNED_DATA = "1.2.840.113549.1.7.2"
_OID_TST_INFO = "1.2.840.113549.1.9.16.1.4"
_OID_CONTENT_TYPE = "1.2.840.113549.1.9.3"
_OID_MESSAGE_DIGEST = "1.2.840.113549.1.9.4"


@dataclass
class WaczCheck:
    """Result of :func:`check_wacz`: ``status`` is "verified", "failed" or "unsigned"."""

    status: str
    signer: str | None = None
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def check_wacz(path: str | Path) -> WaczCheck:
    """Check the WACZ at ``path``; never raises for a bad package, it reports it as failed.

    ``verified`` needs every resource to match, the digest to match and a valid signature;
    ``unsigned`` means the content is consistent but nothing vouches for who made it.
    """
    problems: list[str] = []
    details: dict[str, Any] = {}
    signer = None
    try:
        signer = _check(Path(path), problems, details)
    except _Malformed as exc:
        problems.append(str(exc))
    except Exception as exc:  # a malformed package must become a failure, never a pass or a crash
        problems.append(f"could not check package: {type(exc).__name__}: {exc}")
    if len(problems) > MAX_PROBLEMS:  # all are stored: a crafted list gave 119,000 of them
        left = len(problems) - MAX_PROBLEMS
        problems[MAX_PROBLEMS:] = [f"... and {left:,} more problems"]
    if problems and signer:
        details["claimed_signer"] = signer  # named for the report, but not vouched for
    status = "failed" if problems else "verified" if signer else "unsigned"
    return WaczCheck(status, signer if status == "verified" else None, problems, details)


def _check(path: Path, problems: list[str], details: dict[str, Any]) -> str | None:
    if too_many := too_many_members(path):
        problems.append(too_many)
        return None
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        problems.append(f"not a readable ZIP file: {exc}")
        return None
    with zf:
        infos = zf.infolist()
        most = capture_files.MAX_MEMBERS
        if len(infos) > most:
            problems.append(f"{len(infos):,} ZIP members, more than the {most:,} read")
            return None
        names = [i.filename for i in infos]
        members = set(names)  # looked up once per resource: a list made that quadratic
        for name in filter(_unsafe_name, names):
            problems.append(f"unsafe path in ZIP ('..' component or absolute path): {name!r}")
        for name, n in sorted(Counter(names).items()):
            if n > 1:
                problems.append(f"duplicate ZIP member (ambiguous content): {name!r}")
        for info in infos:
            # a name ending in "/" is a directory, yet the entry can hold bytes: no digest
            # covers them, and a reader that drops the slash would read them
            if info.is_dir() and (info.file_size or info.compress_size):
                problems.append(f"a directory entry that holds data: {info.filename!r}")
        if problems:
            return None  # nothing in a hostile archive is worth reading further
        if "datapackage.json" not in members:
            problems.append("datapackage.json missing")
            return None
        dp_bytes = _read_small(zf, "datapackage.json")
        package = _json(dp_bytes, "datapackage.json")
        if not isinstance(package, dict) or not isinstance(package.get("resources"), list):
            problems.append("datapackage.json has no resources list")
            return None
        details["wacz_version"] = package.get("wacz_version")
        _check_resources(zf, names, members, package, problems, details)
        return _check_digest(zf, members, dp_bytes, package, problems, details)


def _unsafe_name(name: str) -> bool:
    # Backslashes and drive letters become separators or roots when extracted on Windows.
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name) or "\\" in name:
        return True
    return ".." in PurePosixPath(name).parts


def _read_small(zf: zipfile.ZipFile, name: str) -> bytes:
    with zf.open(name) as fh:
        data = fh.read(MAX_JSON + 1)
    if len(data) > MAX_JSON:
        raise ValueError(f"{name} is larger than {MAX_JSON} bytes")
    return data


class _Malformed(ValueError):
    """A package's metadata that cannot be read as the spec has it: its message names what."""


def _json(data: bytes, name: str):
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise _Malformed(f"{name} is not valid JSON: {exc}") from None


def _text(signed: dict, key: str) -> str:
    """``signedData[key]``, which must be a string (base64, PEM or a date)."""
    value = signed.get(key)
    if not isinstance(value, str):
        missing = value is None
        raise _Malformed(f"signedData.{key} is {'missing' if missing else 'not a string'}")
    return value


def _base64(signed: dict, key: str) -> bytes:
    try:
        return base64.b64decode(_text(signed, key), validate=True)
    except binascii.Error:
        raise _Malformed(f"signedData.{key} is not base64") from None


def _check_resources(zf, names, members, package, problems, details) -> None:
    listed = {"datapackage.json", "datapackage-digest.json"}
    checked = 0
    for res in package["resources"]:
        if not isinstance(res, dict) or not isinstance(res.get("path"), str):
            problems.append(f"resource without a path: {res!r:.80}")
            continue
        rpath = res["path"]
        if rpath in listed:
            # listed twice: each entry would hash the member again (100,000 entries of one
            # large member took an hour, found in review)
            problems.append(f"resource listed twice in datapackage.json: {rpath}")
            continue
        listed.add(rpath)
        # WACZ 1.1 writes "hash": "sha256:<hex>" and "bytes"; 1.0.0 wrote "hashing" + "stats".
        stats = res.get("stats") if isinstance(res.get("stats"), dict) else {}
        declared = res.get("hash")
        if declared is None and isinstance(stats.get("hash"), str):
            declared = f"{res.get('hashing')}:{stats['hash']}"
        size = res.get("bytes", stats.get("bytes"))
        if not isinstance(declared, str) or ":" not in declared:
            problems.append(f"resource has no hash: {rpath}")
            continue
        algo, _, want = declared.partition(":")
        if rpath not in members:
            problems.append(f"resource missing from ZIP: {rpath}")
        elif algo not in RESOURCE_HASHES:
            problems.append(f"unsupported hash algorithm {algo!r} for resource {rpath}")
        if rpath not in members or algo not in RESOURCE_HASHES:
            continue
        got, count = _hash_member(zf, rpath, algo, size if isinstance(size, int) else None)
        if isinstance(size, int) and count != size:
            problems.append(f"size mismatch for {rpath}: declared {size}, found {count}+")
        elif got != want.lower():
            problems.append(f"hash mismatch for {rpath}: declared {algo}:{want}, found {got}")
        checked += 1
    details["resources_checked"] = checked
    for name in names:
        # Unlisted members are not covered by any hash, so a signature would not vouch for them.
        if not name.endswith("/") and name not in listed:
            problems.append(f"ZIP member not listed in datapackage.json: {name}")
    if package.get("profile") == "multi-wacz-package":
        details["nested_packages"] = "not-checked (only their hashes in the outer package)"


def _hash_member(zf, name: str, algo: str, limit: int | None) -> tuple[str, int]:
    hasher = hashlib.new(algo)
    count = 0
    with zf.open(name) as fh:
        while chunk := fh.read(CHUNK):
            count += len(chunk)
            if limit is not None and count > limit:
                break  # already wrong; don't inflate the rest of a possible bomb
            hasher.update(chunk)
    return hasher.hexdigest(), count


def _check_digest(zf, members, dp_bytes, package, problems, details) -> str | None:
    if "datapackage-digest.json" not in members:
        details["digest"] = "missing"
        return None
    digest = _json(_read_small(zf, "datapackage-digest.json"), "datapackage-digest.json")
    if not isinstance(digest, dict):
        problems.append("datapackage-digest.json is not a JSON object")
        return None
    expected = "sha256:" + hashlib.sha256(dp_bytes).hexdigest()
    if digest.get("hash") != expected:
        problems.append(
            f"datapackage-digest.json hash {digest.get('hash')!r} does not match "
            f"datapackage.json ({expected})"
        )
        details["digest"] = "mismatch"
    else:
        details["digest"] = "ok"
    signed = digest.get("signedData")
    if signed is None:
        details["signature"] = "absent"
        return None
    if not isinstance(signed, dict):
        problems.append("signedData is not a JSON object")
        return None
    if signed.get("hash") != expected:
        problems.append("signedData hash is not the hash of datapackage.json")
    if signed.get("created") != package.get("created"):
        problems.append(
            f"signedData created {signed.get('created')!r} differs from datapackage.json "
            f"created {package.get('created')!r}"
        )
    if "domainCert" in signed:
        return _check_domain(signed, problems, details)
    if "publicKey" in signed:
        return _check_anonymous(signed, problems, details)
    problems.append("signedData has neither publicKey nor domainCert")
    return None


def _check_anonymous(signed, problems, details) -> str | None:
    key = serialization.load_der_public_key(_base64(signed, "publicKey"))
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp384r1":
        problems.append("anonymous public key is not ECDSA P-384")
        return None
    spki = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signer = f"anonymous key {hashlib.sha256(spki).hexdigest()[:16]}"
    raw = _base64(signed, "signature")
    if len(raw) != 96:  # WebCrypto writes P-384 signatures as raw r||s, 48 bytes each
        problems.append(f"anonymous signature is {len(raw)} bytes, expected 96 (raw r||s)")
        return signer
    der = encode_dss_signature(int.from_bytes(raw[:48], "big"), int.from_bytes(raw[48:], "big"))
    # ArchiveWeb.page signs with SHA-256 even on P-384 (checked against its own packages).
    if not _verifies(key, der, str(signed.get("hash")).encode("ascii"), "sha256"):
        problems.append("anonymous signature does not verify with its public key")
    details["signature"] = "anonymous ECDSA P-384"
    details["identity"] = "not established: anyone can make a key"
    return signer


def _check_domain(signed, problems, details) -> str | None:
    domain = signed.get("domain")
    if not isinstance(domain, str) or not domain:
        problems.append("signedData has no domain")
        return None
    domain = domain.lower()  # as certificates name it (and wacz_signer is looked up)
    certs = x509.load_pem_x509_certificates(_text(signed, "domainCert").encode("ascii"))
    leaf = certs[0]
    sig_b64 = _text(signed, "signature")
    sig = _base64(signed, "signature")
    details["signature"] = "domain certificate ECDSA"
    key = leaf.public_key()
    if not (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"):
        # what authsign makes, and what docs/verification.md promises
        problems.append("the domain certificate's key is not ECDSA P-256")
    elif not _verifies(key, sig, str(signed.get("hash")).encode("ascii"), "sha256"):
        problems.append("signature does not verify with the domain certificate's key")
    if domain.lower() not in _cert_names(leaf):
        problems.append(f"domain certificate is not for {domain} (names: {_cert_names(leaf)})")
    when = _check_timestamp(signed, sig_b64, problems, details)
    created = dt.datetime.fromisoformat(str(signed.get("created")))
    if created.tzinfo is None:
        created = created.replace(tzinfo=dt.UTC)
    if when is None:
        details["domain_chain"] = "not-checked: no signing time"
        return domain
    # One second of slack: "created" and genTime may be rounded differently.
    if not created - dt.timedelta(seconds=1) <= when <= created + STAMP_WINDOW:
        problems.append(f"timestamp {when:%Y-%m-%dT%H:%M:%SZ} not within {STAMP_WINDOW} of created")
    if not created - CERT_WINDOW <= leaf.not_valid_before_utc <= created:
        problems.append(f"domain certificate not issued within {CERT_WINDOW} before signing")
    roots = _pinned_roots()
    if not roots:
        problems.append("pinned Let's Encrypt roots not found in the certifi bundle")
        return domain
    verifier = PolicyBuilder().store(Store(roots)).time(when).build_server_verifier(DNSName(domain))
    try:
        verifier.verify(leaf, certs[1:])
        details["domain_chain"] = f"valid to pinned root at {when:%Y-%m-%dT%H:%M:%SZ}"
    except VerificationError as exc:
        subjects = {r.subject for r in roots}
        if any(c.issuer in subjects or c.subject in subjects for c in certs):
            problems.append(f"domain certificate chain invalid at signing time: {exc}")
        else:
            last = certs[-1]
            short = " (an intermediate left out?)" if last.issuer != last.subject else ""
            problems.append(
                "untrusted root: domain certificate chain ends at "
                f"'{last.issuer.rfc4514_string()}', not a pinned Let's Encrypt root{short}"
            )
    return domain


def _cert_names(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
        return [n.lower() for n in san.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return [str(a.value).lower() for a in cns]


@functools.cache
def _pinned_roots() -> list[x509.Certificate]:
    # Pick pinned roots out of certifi by DER fingerprint, loading only those certificates
    # (some other roots in the bundle make cryptography warn).
    try:
        import certifi
    except ImportError:
        return []
    text = Path(certifi.where()).read_text("ascii")
    found = []
    for body in re.findall(r"-----BEGIN CERTIFICATE-----(.*?)-----END", text, re.S):
        der = base64.b64decode("".join(body.split()))
        if hashlib.sha256(der).hexdigest() in DOMAIN_ROOTS:
            found.append(x509.load_der_x509_certificate(der))
    return found


def _verifies(key, signature: bytes, data: bytes, algo: str) -> bool:
    """Whether ``signature`` over ``data`` verifies with an RSA (PKCS#1 v1.5) or EC key."""
    hash_alg = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}[algo]()
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, data, ec.ECDSA(hash_alg))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, data, padding.PKCS1v15(), hash_alg)
        else:
            return False
    except Exception:  # InvalidSignature, or a malformed signature: both mean "no"
        return False
    return True


# --- RFC 3161 timestamp: just enough DER to check the token (RFC 5652 SignedData) ---


class _El(NamedTuple):
    tag: int
    head: int  # offset of the tag byte
    body: int  # offset of the content
    end: int


def _el(data: bytes, pos: int, limit: int) -> _El:
    tag, length = data[pos], data[pos + 1]
    body = pos + 2
    if tag & 0x1F == 0x1F:
        raise ValueError("unexpected high-number DER tag")
    if length & 0x80:
        n = length & 0x7F
        if not 0 < n <= 4:
            raise ValueError("bad DER length")
        length = int.from_bytes(data[body : body + n], "big")
        body += n
    if body + length > limit:
        raise ValueError("DER element overruns its container")
    return _El(tag, pos, body, body + length)


def _kids(data: bytes, el: _El, tag: int | None = None) -> list[_El]:
    if tag is not None and el.tag != tag:
        raise ValueError(f"expected DER tag {tag:#x}, found {el.tag:#x}")
    out, pos = [], el.body
    while pos < el.end:
        out.append(_el(data, pos, el.end))
        pos = out[-1].end
    return out


def _oid(data: bytes, el: _El) -> str:
    if el.tag != 0x06:
        raise ValueError("expected an OID")
    parts, value = [], 0
    for byte in data[el.body : el.end]:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(value)
            value = 0
    first = min(parts[0] // 40, 2)
    return ".".join(str(p) for p in [first, parts[0] - 40 * first, *parts[1:]])


def _val(data: bytes, el: _El, tag: int | None = None) -> bytes:
    if tag is not None and el.tag != tag:
        raise ValueError(f"expected DER tag {tag:#x}, found {el.tag:#x}")
    return data[el.body : el.end]


def _check_timestamp(signed, sig_b64: str, problems, details) -> dt.datetime | None:
    data = _base64(signed, "timeSignature")
    root = _el(data, 0, len(data))
    top = _kids(data, root, 0x30)
    token = root
    if top[0].tag == 0x30:  # a TimeStampResp: PKIStatusInfo, then the token
        status = int.from_bytes(_val(data, _kids(data, top[0])[0], 0x02), "big")
        if status not in (0, 1):
            problems.append(f"timestamp response status {status} (not granted)")
            return None
        token = top[1]
    info = _kids(data, token, 0x30)
    if _oid(data, info[0]) != _OID_SIGNED_DATA:
        raise ValueError("timestamp token is not CMS SignedData")
    sd = _kids(data, _kids(data, info[1], 0xA0)[0], 0x30)
    encap = _kids(data, sd[2], 0x30)
    if _oid(data, encap[0]) != _OID_TST_INFO:
        raise ValueError("timestamp token does not hold a TSTInfo")
    tst_el = _kids(data, encap[1], 0xA0)[0]
    if tst_el.tag != 0x04:
        raise ValueError("TSTInfo is not a primitive OCTET STRING")
    tst = _val(data, tst_el)
    tst_info = _kids(tst, _el(tst, 0, len(tst)), 0x30)
    imprint = _kids(tst, tst_info[2], 0x30)
    algo = _HASH_OIDS.get(_oid(tst, _kids(tst, imprint[0], 0x30)[0]))
    # authsign timestamps the base64 text of the signature, not its decoded bytes.
    if (
        algo is None
        or _val(tst, imprint[1], 0x04) != hashlib.new(algo, sig_b64.encode("ascii")).digest()
    ):
        problems.append("timestamp does not cover the signature (message imprint mismatch)")
    gen = re.fullmatch(rb"(\d{14})(?:\.(\d{1,6}))?Z", _val(tst, tst_info[4], 0x18))
    if not gen:
        raise ValueError("timestamp genTime is not a GeneralizedTime")
    when = dt.datetime.strptime(gen[1].decode(), "%Y%m%d%H%M%S").replace(
        tzinfo=dt.UTC, microsecond=int((gen[2] or b"0").ljust(6, b"0"))
    )
    details["timestamp_time"] = f"{when:%Y-%m-%dT%H:%M:%SZ}"
    tsa_certs = x509.load_pem_x509_certificates(str(signed.get("timestampCert")).encode("ascii"))
    before = len(problems)
    if _check_tsa_signature(data, sd[-1], tst, tsa_certs[0], problems):
        _check_tsa_chain(tsa_certs, when, problems)
    details["timestamp_signature"] = "valid" if len(problems) == before else "invalid"
    return when


def _check_tsa_signature(data: bytes, infos: _El, tst: bytes, cert, problems) -> bool:
    signer_infos = _kids(data, infos, 0x31)
    if len(signer_infos) != 1:
        problems.append("timestamp token must have exactly one signer")
        return False
    si = _kids(data, signer_infos[0], 0x30)
    sid, algo = si[1], _HASH_OIDS.get(_oid(data, _kids(data, si[2], 0x30)[0]))
    # The signer is named by issuer and serial (SubjectKeyIdentifier form is not supported).
    issuer, serial = _kids(data, sid, 0x30)
    if (data[issuer.head : issuer.end], int.from_bytes(_val(data, serial, 0x02), "big")) != (
        cert.issuer.public_bytes(),
        cert.serial_number,
    ):
        problems.append("timestamp token was not signed by the given timestamp certificate")
        return False
    if si[3].tag != 0xA0 or algo is None:
        problems.append("timestamp token lacks signed attributes or uses an unsupported digest")
        return False
    attrs: dict[str, list[_El]] = {}
    for attr in _kids(data, si[3]):
        oid_el, values = _kids(data, attr, 0x30)
        attrs[_oid(data, oid_el)] = _kids(data, values, 0x31)
    content_type = attrs.get(_OID_CONTENT_TYPE, [])
    if len(content_type) != 1 or _oid(data, content_type[0]) != _OID_TST_INFO:
        problems.append("timestamp signed attributes have the wrong content type")
    digests = [_val(data, v) for v in attrs.get(_OID_MESSAGE_DIGEST, [])]
    if digests != [hashlib.new(algo, tst).digest()]:
        problems.append("timestamp signature does not cover its TSTInfo (message digest mismatch)")
    sig_alg = _oid(data, _kids(data, si[4], 0x30)[0])
    # The signature covers the signed attributes re-tagged as a SET (RFC 5652 section 5.4).
    signed_attrs = b"\x31" + data[si[3].head + 1 : si[3].end]
    key = cert.public_key()
    ok = sig_alg in (_RSA_OIDS if isinstance(key, rsa.RSAPublicKey) else _ECDSA_OIDS)
    if not (ok := ok and _verifies(key, _val(data, si[5], 0x04), signed_attrs, algo)):
        problems.append("timestamp token signature does not verify with the timestamp certificate")
    return ok


def _check_tsa_chain(certs: list[x509.Certificate], when: dt.datetime, problems) -> None:
    eku = [e.value for e in certs[0].extensions if e.oid == ExtensionOID.EXTENDED_KEY_USAGE]
    if not eku or ExtendedKeyUsageOID.TIME_STAMPING not in eku[0]:
        problems.append("timestamp certificate is not for time stamping")
    for i, cert in enumerate(certs):
        if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
            problems.append(f"timestamp chain certificate {i} not valid at {when:%Y-%m-%d}")
        issuer = certs[min(i + 1, len(certs) - 1)]
        try:
            cert.verify_directly_issued_by(issuer)
            if i and not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca:
                raise ValueError("issuer is not a CA")
        except Exception as exc:  # bad signature, name mismatch, missing constraints
            problems.append(f"timestamp certificate chain broken at certificate {i}: {exc}")
            return
    if certs[-1].fingerprint(hashes.SHA256()).hex() not in TSA_ROOTS:
        problems.append(
            f"untrusted timestamp root: '{certs[-1].subject.rfc4514_string()}' is not pinned"
        )
