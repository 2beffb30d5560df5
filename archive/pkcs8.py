"""Passphrase-encrypted PKCS #8 key files whose passphrase is costly to guess.

cryptography writes an encrypted PKCS #8 file (``BestAvailableEncryption``) with PBES2 at 2,048
iterations of PBKDF2-HMAC-SHA256 (OpenSSL's old default): ~0.3 ms a guess on one core, so a
stolen key file's passphrase falls to a dictionary in minutes. It offers no way to ask for more
for PKCS #8. This module writes the same structure, every field standard, at
:data:`ITERATIONS`:

    EncryptedPrivateKeyInfo (RFC 5958) ::= SEQUENCE {
        SEQUENCE { id-PBES2 (RFC 8018),
                   SEQUENCE { SEQUENCE { id-PBKDF2,
                                         SEQUENCE { salt OCTET STRING (16 random bytes),
                                                    iterationCount INTEGER,
                                                    SEQUENCE { hmacWithSHA256, NULL } } },
                              SEQUENCE { aes256-CBC, iv OCTET STRING (16 random bytes) } } },
        encryptedData OCTET STRING }  -- AES-256-CBC, PKCS #7 padding, of the PrivateKeyInfo

The primitives are cryptography's; only the DER around them is spelled out here. Any PKCS #8
reader opens the result: cryptography's ``load_pem_private_key`` (what ``keys.load_key`` uses)
and ``openssl pkey`` (tests/test_keys.py checks both).
"""

from __future__ import annotations

import base64
import os
import textwrap

from cryptography.hazmat.primitives import hashes, padding, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

# OWASP's figure for PBKDF2-HMAC-SHA256 (2023): ~75 ms a try on this project's machines,
# paid once per command that loads the key
ITERATIONS = 600_000
# below this a file's protection is reported as weak (``archive keys show``)
WEAK_BELOW = 100_000

_PBES2 = "1.2.840.113549.1.5.13"
_PBKDF2 = "1.2.840.113549.1.5.12"
_HMAC_SHA256 = "1.2.840.113549.2.9"
_AES256_CBC = "2.16.840.1.101.3.4.1.42"
_LABEL = "ENCRYPTED PRIVATE KEY"
_SEQUENCE, _INTEGER, _OCTETS, _NULL, _OID = 0x30, 0x02, 0x04, 0x05, 0x06


def encrypt(private_key: Ed25519PrivateKey, secret: bytes, iterations: int = ITERATIONS) -> bytes:
    """The key as an ``ENCRYPTED PRIVATE KEY`` PEM file, encrypted under ``secret``."""
    salt, iv = os.urandom(16), os.urandom(16)
    kek = PBKDF2HMAC(hashes.SHA256(), 32, salt, iterations).derive(secret)
    padder = padding.PKCS7(128).padder()
    plain = private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    padded = padder.update(plain) + padder.finalize()
    encryptor = Cipher(algorithms.AES(kek), modes.CBC(iv)).encryptor()
    data = encryptor.update(padded) + encryptor.finalize()
    kdf = _seq(
        _oid(_PBKDF2),
        _seq(_tlv(_OCTETS, salt), _integer(iterations), _seq(_oid(_HMAC_SHA256), _tlv(_NULL))),
    )
    algorithm = _seq(_oid(_PBES2), _seq(kdf, _seq(_oid(_AES256_CBC), _tlv(_OCTETS, iv))))
    body = base64.b64encode(_seq(algorithm, _tlv(_OCTETS, data))).decode("ascii")
    lines = "\n".join(textwrap.wrap(body, 64))
    return f"-----BEGIN {_LABEL}-----\n{lines}\n-----END {_LABEL}-----\n".encode("ascii")


def iterations(pem: bytes) -> int | None:
    """The PBKDF2 iteration count of an encrypted PKCS #8 PEM file; None for any other file
    (not encrypted, another key-derivation function such as scrypt, or not readable)."""
    try:
        body = pem.split(f"-----BEGIN {_LABEL}-----".encode(), 1)[1]
        der = base64.b64decode(body.split(b"-----END", 1)[0])
        algorithm = _children(_children(der)[0])
        if _value(algorithm[0]) != _oid(_PBES2)[2:]:
            return None
        kdf = _children(_children(algorithm[1])[0])
        if _value(kdf[0]) != _oid(_PBKDF2)[2:]:
            return None
        count = _children(kdf[1])[1]
        return int.from_bytes(_value(count), "big") if count[0] == _INTEGER else None
    except (IndexError, ValueError):
        return None


def _tlv(tag: int, value: bytes = b"") -> bytes:
    n = len(value)
    if n < 0x80:
        length = bytes([n])
    else:  # the long form: how many bytes the length takes, then the length
        size = n.to_bytes((n.bit_length() + 7) // 8, "big")
        length = bytes([0x80 | len(size)]) + size
    return bytes([tag]) + length + value


def _seq(*parts: bytes) -> bytes:
    return _tlv(_SEQUENCE, b"".join(parts))


def _integer(n: int) -> bytes:
    return _tlv(_INTEGER, n.to_bytes(n.bit_length() // 8 + 1, "big"))  # room for a 0 sign bit


def _oid(dotted: str) -> bytes:
    first, second, *rest = (int(part) for part in dotted.split("."))
    out = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        while arc := arc >> 7:
            chunk.append(0x80 | (arc & 0x7F))
        out += bytes(reversed(chunk))
    return _tlv(_OID, bytes(out))


def _children(element: bytes) -> list[bytes]:
    """The elements inside a DER SEQUENCE, each whole (tag, length, value)."""
    if element[0] != _SEQUENCE:
        raise ValueError("not a SEQUENCE")
    value, out = _value(element), []
    while value:
        end = _header(value)[1]
        out.append(value[:end])
        value = value[end:]
    return out


def _value(element: bytes) -> bytes:
    start, end = _header(element)
    return element[start:end]


def _header(element: bytes) -> tuple[int, int]:
    """Where an element's value starts and ends."""
    first = element[1]
    if first < 0x80:
        start, n = 2, first
    else:
        start = 2 + (first & 0x7F)
        n = int.from_bytes(element[2:start], "big")
    if start + n > len(element):
        raise ValueError("cut short")
    return start, start + n
