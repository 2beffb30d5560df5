"""Fixtures: every test gets its own data home, config directory and database (real files)."""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive.ingest import Ingester
from archive.keys import Signer

DATA = Path(__file__).parent / "data"
SAMPLE = DATA / "lakeport-A-2025-03-07.warc.gz"
SECOND = DATA / "warc" / "example-iana.org-chunked.warc"  # a second capture, another page
SHARED = Path(__file__).resolve().parents[2] / "shared"
SCENARIO = SHARED / "scenario" / "panjshir-A-2021-08-23.warc.gz"
SCENARIO_GOLD = SHARED / "scenario" / "panjshir-A.gold.json"

needs_shared = pytest.mark.skipif(not SCENARIO.exists(), reason="../shared is not present")

FIXED_TIME = "2026-01-01T00:00:00Z"
CHROMIUM = "/usr/bin/chromium"

# A suite started in the background (`make test &`, nohup, some CI runners) inherits SIGINT
# ignored, and so would every process the Ctrl-C tests start: they would not stop. A handler
# set here is reset to the default in each child at exec (an ignored signal stays ignored).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
# SIGHUP as well under nohup; the suite itself still lives on when its terminal closes.
if hasattr(signal, "SIGHUP") and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, lambda signum, frame: None)


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Move the data home, config dir and key into the test's temporary directory."""
    monkeypatch.setenv("ARCHIVE_HOME", str(tmp_path / "records"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("ARCHIVE_DB", "ARCHIVE_KEY", "ARCHIVE_KEY_PASSPHRASE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.fixture
def fixed_signer() -> Signer:
    """A key from a fixed seed: signatures are reproducible byte for byte."""
    return Signer(Ed25519PrivateKey.from_private_bytes(bytes(range(32))))


@pytest.fixture
def db_path(tmp_path) -> Path:
    return tmp_path / "records" / "archive.db"


@pytest.fixture
def ingester(db_path, fixed_signer) -> Ingester:
    return Ingester(db_path, fixed_signer, clock=lambda: FIXED_TIME)


@pytest.fixture
def sample_db(ingester, db_path):
    """The sample capture ingested with the fixed key and clock."""
    result = ingester.ingest_file(SAMPLE)
    assert result.status == "ingested", result.error
    return db_path


@pytest.fixture
def ledger_archive(ingester, db_path, fixed_signer, tmp_path):
    """Two captures ingested (two checkpoints), the public key exported: the ledger and proof
    tests' archive."""
    for capture in (SAMPLE, SECOND):
        assert ingester.ingest_file(capture).status == "ingested"
    pub = tmp_path / "pub.pem"
    pub.write_text(fixed_signer.public_key_pem)
    return db_path, pub


@pytest.fixture
def copy_db(tmp_path):
    """Copy a database (and its captures/) to a new directory, for tampering with."""

    def copy(src: Path) -> Path:
        dest_dir = tmp_path / f"copy{len(list(tmp_path.glob('copy*')))}"
        shutil.copytree(src.parent, dest_dir)
        return dest_dir / src.name

    return copy


@pytest.fixture(scope="session")
def browser(tmp_path_factory):
    """Debian's Chromium driven by playwright (no browser download), shared by the browser tests."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (make test-tools)")
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-home")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            # its crash reports and settings under the test's directory, not the user's home
            env={
                **os.environ,
                "HOME": str(profile),
                "XDG_CONFIG_HOME": str(profile / ".config"),
                "XDG_CACHE_HOME": str(profile / ".cache"),
            },  # fmt: skip
            # the machine has no network: background connections would only fail
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """``archive serve`` running on the sample capture's archive: (base URL, database)."""
    from .server import serving

    db = tmp_path_factory.mktemp("serve") / "archive.db"
    Ingester(db, Signer(Ed25519PrivateKey.generate())).ingest_file(SAMPLE)
    with serving(db) as base:
        yield base, db


@pytest.fixture(scope="module")
def captures(tmp_path_factory) -> list[Path]:
    """The crash and signal tests' captures: four of six distinct pages each (crash_support)."""
    from .crash_support import stress_captures

    return stress_captures(tmp_path_factory.mktemp("stress-captures"))


@pytest.fixture
def key(tmp_path) -> Path:
    """A signing key file of the test's own (the crash and signal tests pass it by path)."""
    from archive.keys import generate_key

    path = tmp_path / "config" / "archive" / "signing-key.pem"
    generate_key(path)
    return path


def canned_query(name: str) -> dict:
    """A canned query of datasette-metadata.json (title, description, sql), as `archive serve`
    publishes it."""
    from archive.serve import metadata_path

    return json.loads(metadata_path().read_text())["databases"]["archive"]["queries"][name]
