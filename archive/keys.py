"""Ed25519 signing keys: create, load safely, identify, and sign.

Private keys are PKCS#8 PEM files, mode 0600, optionally encrypted with a passphrase (``pkcs8``:
PBKDF2-HMAC-SHA256 at 600,000 iterations, AES-256-CBC). They are
never written into the database or ``records/``; only public keys are (the ``keys`` table).

A key id is ``ed25519:`` followed by the first 16 hex digits of SHA-256 over the raw 32-byte
public key, so anyone holding the public key can recompute it.
"""

from __future__ import annotations

import base64
import datetime
import glob
import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from . import pkcs8
from .durable import sync_directory
from .errors import KeyFileError

ALGORITHM = "ed25519"


def key_id_for(public_key: Ed25519PublicKey) -> str:
    """A key's id: ``ed25519:`` and the first 16 hex digits of SHA-256 over its 32 raw bytes."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return f"{ALGORITHM}:{hashlib.sha256(raw).hexdigest()[:16]}"


def public_key_pem(public_key: Ed25519PublicKey) -> str:
    return public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode("ascii")


def load_public_key_pem(data: str | bytes, source: str = "public key") -> Ed25519PublicKey:
    if isinstance(data, str):
        data = data.encode("ascii", "replace")
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError as e:
        raise KeyFileError(f"{source}: not a PEM public key ({e})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeyFileError(f"{source}: not an Ed25519 public key")
    return key


def verify_signature(public_key: Ed25519PublicKey, signature_b64: str, message: bytes) -> bool:
    """True when ``signature_b64`` (standard base64 of 64 bytes, as :func:`canonical_base64`
    says) signs ``message``."""
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        if not canonical_base64(signature, signature_b64):
            return False
        public_key.verify(signature, message)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def canonical_base64(data: bytes, text: str) -> bool:
    """``text`` is the one standard base64 spelling of ``data``. A decoder ignores the unused
    bits of the last character: "...CR==" decodes as "...CQ==" does, so a signature's text
    could be altered and still verify (an auditor's review)."""
    return base64.b64encode(data).decode("ascii") == text


def rotation_message(old_key_id: str, new_key_id: str) -> bytes:
    """What a new key signs to prove possession when a rotation introduces it."""
    return f"archive-key-rotation/1\n{old_key_id}\n{new_key_id}\n".encode()


@dataclass
class Signer:
    """Holds the private key. Signing happens here and nowhere else (one signer, one writer)."""

    private_key: Ed25519PrivateKey

    @property
    def public_key(self) -> Ed25519PublicKey:
        return self.private_key.public_key()

    @property
    def key_id(self) -> str:
        return key_id_for(self.public_key)

    @property
    def public_key_pem(self) -> str:
        return public_key_pem(self.public_key)

    def sign(self, message: bytes) -> str:
        """Ed25519 signature over ``message``, as standard base64."""
        return base64.b64encode(self.private_key.sign(message)).decode("ascii")


_EXISTS = (
    "a key already exists here (an archive's signing key is changed with `archive keys "
    "rotate`; `archive keys generate --force` makes a new key file, keeping the old one beside "
    "it)"
)


def generate_key(path: str | Path, passphrase: str | None = None, force: bool = False) -> Signer:
    """Create a new Ed25519 key at ``path`` (mode 0600, parent directories 0700), on disk (synced)
    before this returns: an archive may record the key as its own right after."""
    path = Path(path)
    if path.is_symlink() and not path.exists():
        raise KeyFileError(
            f"{path}: a link to {os.readlink(path)}, which does not exist; remove the link or "
            "point it at the key file"
        )
    if not path.name:
        raise KeyFileError("an empty key path")
    if path.exists() and not force:
        raise KeyFileError(f"{path}: {_EXISTS}")
    if force:
        check_replaceable(path)
    private_key = Ed25519PrivateKey.generate()
    pem = private_pem(private_key, passphrase)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            # not replacing: a key that appeared meanwhile (two first ingests at once) is never
            # overwritten, something may already have signed with it
            _place(path, pem, replace=force)
        except FileExistsError:
            raise KeyFileError(f"{path}: {_EXISTS}") from None
    except OSError as e:
        why = e.strerror or str(e)
        if isinstance(e, FileExistsError | NotADirectoryError) and not path.parent.is_dir():
            why = "a file is where its directory would be"
        raise KeyFileError(f"{path}: cannot write the key file ({why})") from None
    return Signer(private_key)


def replace_key_file(path: str | Path, passphrase: str | None = None) -> tuple[Signer, Path | None]:
    """A new key at ``path`` (``archive keys generate --force``), the key there before kept
    beside it as ``<name>.replaced-<UTC time>``, 0600 from its creation: nothing is lost, as
    the key an archive signed with may be needed to rotate from. Returns the new key and where
    the old one is kept (None when there was none)."""
    path = Path(path)
    check_replaceable(path)  # first: what would not be replaced is not copied
    kept = None
    if path.is_file():
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        kept = path.with_name(f"{path.name}.replaced-{stamp}")
        try:
            # a new file, 0600 from its creation (a copy made with the umask's mode, then
            # chmod, was readable by others for a moment)
            write_private(kept, path.read_bytes())
        except OSError as e:
            raise KeyFileError(f"{kept}: could not keep the old key ({e})") from None
    try:
        return generate_key(path, passphrase, force=True), kept
    except KeyFileError:
        if kept:
            kept.unlink()
        raise


def change_passphrase(
    path: str | Path, passphrase: str | None, new_passphrase: str | None
) -> Signer:
    """Write the key at ``path`` again, the same key, under ``new_passphrase`` (None: not
    encrypted): a new file, 0600 and synced, read back as the same key, then renamed over the
    old one, so that no moment leaves the key unreadable. A link is followed: the file it names
    is replaced. Also how a key file written before ``pkcs8`` gets its stronger protection."""
    path = Path(path)
    if path.is_symlink():
        path = path.resolve()
    signer = load_key(path, passphrase)
    pem = private_pem(signer.private_key, new_passphrase)

    def same_key(written: Path) -> None:
        if load_key(written, new_passphrase).key_id != signer.key_id:
            raise KeyFileError(f"{path}: the key written again did not read back; unchanged")

    try:
        _place(path, pem, replace=True, check=same_key)
    except OSError as e:
        raise KeyFileError(f"{path}: cannot write the key file ({e.strerror or e})") from None
    return signer


def weak_protection(path: str | Path) -> str | None:
    """A warning when a key file's passphrase costs little to guess: PBKDF2 with fewer than
    ``pkcs8.WEAK_BELOW`` iterations (files written before ``pkcs8``: 2,048)."""
    count = pkcs8.iterations(file_head(Path(path), 1 << 16) or b"")
    if count is None or count >= pkcs8.WEAK_BELOW:
        return None
    return (
        f"{path}: its passphrase is protected by {count:,} PBKDF2 iterations only, cheap to "
        f"guess if the file is stolen; `archive keys passphrase` writes it with "
        f"{pkcs8.ITERATIONS:,}"
    )


def private_pem(private_key: Ed25519PrivateKey, passphrase: str | None) -> bytes:
    """The key file's bytes: PKCS #8 PEM, encrypted under ``passphrase`` if there is one
    (``pkcs8.encrypt``: PBES2, PBKDF2-HMAC-SHA256 at 600,000 iterations, AES-256-CBC)."""
    if not passphrase:
        return private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    try:
        secret = passphrase.encode("utf-8")
    except UnicodeEncodeError:  # bytes the environment held that are not UTF-8
        raise KeyFileError("the passphrase is not UTF-8 text") from None
    if len(secret) > 1023:  # OpenSSL's limit for PEM encryption
        raise KeyFileError("the passphrase is longer than 1,023 bytes, the most PEM can use")
    return pkcs8.encrypt(private_key, secret)


def _place(path: Path, pem: bytes, replace: bool, check=None) -> None:
    """Put a key file at ``path`` whole: written (0600, synced) under a temporary name,
    ``check(temporary path)`` if given, then renamed over what is at ``path`` (``replace``) or
    linked where nothing is (``FileExistsError`` if something is), and the directory synced."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a stale one (same pid): removed, never written through
    try:
        # in the try: a full disk left the empty (or part-written) file behind
        write_private(tmp, pem)
        if check is not None:
            check(tmp)
        (os.replace if replace else os.link)(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    sync_directory(path.parent)


def write_private(path: Path, data: bytes) -> None:
    """Write a new file readable by its owner only, from its creation, and sync it: O_EXCL and
    O_NOFOLLOW refuse a file or link someone planted there instead of writing into it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def load_key(path: str | Path, passphrase: str | None = None) -> Signer:
    """Load a private key, refusing files that group or others can read (as ssh does)."""
    path = Path(path)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        if path.is_symlink():
            raise KeyFileError(
                f"{path}: a link to {os.readlink(path)}, which does not exist"
            ) from None
        raise KeyFileError(
            f"{path}: no signing key here (create one: archive keys generate)"
        ) from None
    if stat.S_ISDIR(mode):
        raise KeyFileError(f"{path}: a directory, not a key file")
    if not stat.S_ISREG(mode) and not anonymous_pipe(path):
        # a named FIFO waits for a writer forever, a device is no key file; ARCHIVE_KEY is not
        # checked by the option's type (found in review)
        raise KeyFileError(f"{path}: not a regular file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO) and stat.S_ISREG(mode):
        raise KeyFileError(
            f"{path}: permissions {stat.S_IMODE(mode):04o} are too open; a private key must be "
            f"readable by its owner only (fix: chmod 600 {path})"
        )
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise KeyFileError(f"{path}: a directory, not a key file") from None
    except OSError as e:
        raise KeyFileError(f"{path}: cannot read the key file ({e.strerror})") from None
    if b"-----BEGIN PUBLIC KEY-----" in data and b"PRIVATE KEY-----" not in data:
        raise KeyFileError(f"{path}: a public key; signing needs the private key file")
    if b"-----BEGIN OPENSSH PRIVATE KEY-----" in data:
        raise KeyFileError(
            f"{path}: an OpenSSH key file; make a signing key with `archive keys generate`"
        )
    encrypted = b"ENCRYPTED" in data
    if encrypted and not passphrase:
        raise KeyFileError(
            f"{path}: the key is passphrase-protected; set ARCHIVE_KEY_PASSPHRASE or enter it"
        )
    try:
        password = passphrase.encode("utf-8") if passphrase and encrypted else None
    except UnicodeEncodeError:
        raise KeyFileError(f"{path}: the passphrase given is not UTF-8 text") from None
    try:
        key = serialization.load_pem_private_key(data, password=password)
    except ValueError as e:
        # (damage to the encrypted bytes themselves also reads as a wrong passphrase)
        msg = (
            "wrong passphrase"
            if encrypted and ("password" in str(e).lower() or _decrypts(data))
            else f"a damaged or unreadable key file ({_unreadable(e)})"
            if encrypted
            else f"not a PEM private key ({_unreadable(e)})"
        )
        raise KeyFileError(f"{path}: {msg}") from None
    except TypeError as e:
        raise KeyFileError(f"{path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: not an Ed25519 private key")
    return Signer(key)


def _decrypts(data: bytes) -> bool:
    """Whether an encrypted key file is whole: other passphrases get as far as decrypting it,
    and are refused for it. A wrong passphrase passes the cipher's padding check about once in
    256 tries, and the bytes it decrypts to then fail as "Could not deserialize key data", as
    a damaged file does (test_keys.py failed so about once in 400 runs)."""
    for probe in (b"\x00not-the-passphrase-1", b"\x00not-the-passphrase-2"):
        try:
            serialization.load_pem_private_key(data, password=probe)
        except ValueError as e:
            if "password" in str(e).lower():
                return True
        except TypeError:
            return False
    return False


def _unreadable(e: ValueError) -> str:
    """Why cryptography could not load a key file, in a few words: its messages run to a
    paragraph and a URL."""
    text = str(e)
    if "MalformedFraming" in text or "Unable to load PEM" in text:
        return "no complete -----BEGIN/-----END block in it"
    if "ASN.1" in text or "deserialize" in text:
        return "the key data between its BEGIN and END lines is damaged"
    return text.split(". ")[0][:120]


def staged_by_rotation(path: str | Path) -> list[Path]:
    """New key files a rotation left beside ``path`` (``<name>.new-<pid>``): one stopped after
    its commit and before its renames put the new key in place. Oldest first (by the time
    written, not the pid: the last is the latest rotation's)."""
    path = Path(path)
    try:
        return sorted(path.parent.glob(f"{glob.escape(path.name)}.new-*"), key=_written)
    except OSError:
        return []


def _written(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # gone meanwhile
        return 0.0


def anonymous_pipe(path: str | Path) -> bool:
    """Whether ``path`` is a pipe a process hands over (``<(...)``, ``/dev/stdin`` in a pipeline:
    Linux names them ``pipe:[N]``), which has a writer, unlike a named FIFO nobody writes to."""
    try:
        return stat.S_ISFIFO(os.stat(path).st_mode) and "pipe:[" in os.path.realpath(path)
    except OSError:
        return False


def file_head(path: Path, size: int) -> bytes | None:
    """The first bytes of a regular file (never opened otherwise: a FIFO would wait)."""
    try:
        if not path.is_file():
            return None
        with open(path, "rb") as f:
            return f.read(size)
    except OSError:
        return None


def holds_private_key(path: str | Path) -> bool:
    """Whether ``path`` is a regular file that begins as a PEM private key (what an output must
    not overwrite). The first line decides: a text quoting a key further on is not one."""
    head = file_head(Path(path), 200)
    first = head.lstrip().split(b"\n", 1)[0] if head else b""
    return first.startswith(b"-----BEGIN ") and first.rstrip().endswith(b"PRIVATE KEY-----")


def check_replaceable(path: str | Path) -> None:
    """Refuse what ``keys generate --force`` must not replace: it replaces (keeping it beside)
    nothing or a regular file that is empty or begins as PEM (a key, or one damaged or cut
    short), never a database, a device or anything else (it replaced /dev/null and an
    archive's database: found in review)."""
    path = Path(path)
    if not path.exists():
        return
    head = file_head(path, 200)
    if head is None or (head.strip() and not head.lstrip().startswith(b"-----BEGIN ")):
        raise KeyFileError(f"{path}: not a key file; not replaced (choose another path)")


def key_is_encrypted(path: str | Path) -> bool:
    # only a regular file is looked into: a FIFO would wait here, before load_key refuses it
    return b"ENCRYPTED" in (file_head(Path(path), 1 << 16) or b"")
