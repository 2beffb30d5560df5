"""What ``archive serve`` exposes: no private key material in any page, file or export it
serves, and the network address and limits it serves with (issue 6; split from
test_robustness.py)."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from archive.ingest import Ingester

from .conftest import SAMPLE


def _secret_markers(signer) -> list[str]:
    from cryptography.hazmat.primitives import serialization

    raw = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    der = signer.private_key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    pem = signer.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    body = "".join(pem.decode().splitlines()[1:-1])
    return [
        "PRIVATE KEY",
        raw.hex(),
        raw.hex().upper(),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        base64.b64encode(der).decode(),
        body,
        body[:40],
    ]


def _fetch(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.read()
    except urllib.error.HTTPError as e:
        return e.read()


def _contains_secret(data: bytes, markers: list[str]) -> list[str]:
    return [m for m in markers if m.encode() in data]


@pytest.mark.slow
def test_nothing_served_contains_private_key_material(tmp_path):
    from archive.keys import generate_key

    from .server import get_json, serving

    key_path = tmp_path / "config" / "archive" / "signing-key.pem"
    signer = generate_key(key_path)
    db = tmp_path / "records" / "archive.db"
    Ingester(db, signer).ingest_file(SAMPLE)
    markers = _secret_markers(signer)
    from cryptography.hazmat.primitives import serialization

    raw = signer.private_key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    with serving(db) as base:
        urls = [
            f"{base}/",
            f"{base}/-/metadata.json",
            f"{base}/-/settings.json",
            f"{base}/-/databases.json",
            f"{base}/-/plugins.json",
            f"{base}/archive.json",
            f"{base}/archive",
        ]
        tables = get_json(f"{base}/archive.json")["tables"]
        names = [t["name"] for t in tables]
        assert {"keys", "captures", "claims", "images", "ledger", "checkpoints"} <= set(names)
        for name in names:
            urls.append(f"{base}/archive/{urllib.parse.quote(name)}.json?_size=max&_shape=array")
            urls.append(f"{base}/archive/{urllib.parse.quote(name)}?_size=max")
        urls.append(f"{base}/archive.db")
        seen = 0
        for url in urls:
            data = _fetch(url)
            seen += len(data)
            assert _contains_secret(data, markers) == [], url
            assert raw not in data, url
        # the public key is there (auditors need it); the private one is not
        keys = get_json(f"{base}/archive/keys.json?_shape=array")
        assert keys[0]["public_key"] == signer.public_key_pem
    assert seen > 100_000  # the pages and the database download really were read


def _listening_addresses(port: int) -> list[str]:
    """Local addresses listening on ``port``, from /proc/net/tcp and tcp6."""
    found = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            local, state = line.split()[1], line.split()[3]
            addr, p = local.split(":")
            if state == "0A" and int(p, 16) == port:  # 0A = LISTEN
                found.append(addr)
    return found


@pytest.mark.slow
def test_serve_binds_loopback_and_enforces_limits(tmp_path, fixed_signer):
    """Bound to 127.0.0.1 by default; the time limit and the row limit really apply."""
    from .server import get_json, serving

    db = tmp_path / "records" / "archive.db"
    Ingester(db, fixed_signer).ingest_file(SAMPLE)
    with serving(db) as base:
        port = int(base.rsplit(":", 1)[1])
        assert _listening_addresses(port) == ["0100007F"]  # 127.0.0.1 only, no tcp6, no 0.0.0.0
        many = "with recursive n(i) as (select 1 union all select i + 1 from n where i < 5000) "
        data = get_json(f"{base}/archive.json?sql={urllib.parse.quote(many + 'select i from n')}")
        assert len(data["rows"]) == 1000 and data["truncated"] is True
        slow = (
            "with recursive n(i) as (select 1 union all select i + 1 from n where i < 1000000000)"
            " select count(*) from n"
        )
        url = f"{base}/archive.json?sql={urllib.parse.quote(slow)}"
        body = json.loads(_fetch(url))
        assert body["ok"] is False
        assert "SQL query took too long" in body["error"]


@pytest.mark.slow
@pytest.mark.parametrize("options, mapped", [((), True), (("--no-mmap",), False)])
def test_serve_reads_the_archive_through_a_memory_map_unless_told_not_to(
    tmp_path, fixed_signer, options, mapped
):
    """Mapped, the heaviest canned query is faster at a million claims (docs/performance.md);
    --no-mmap reads instead, so that an I/O error is an error page, not the server's end. Seen
    from outside: the file among the served process's mappings."""
    from .server import get_json, serving

    db = tmp_path / "records" / "archive.db"
    Ingester(db, fixed_signer).ingest_file(SAMPLE)
    with serving(db, *options) as base:
        assert get_json(f"{base}/archive/claims.json?_shape=array")  # pages read
        port = base.rsplit(":", 1)[1]
        (pid,) = [
            p.name
            for p in Path("/proc").iterdir()
            if p.name.isdigit() and f"\0--port\0{port}\0".encode() in _read(p / "cmdline")
        ]
        maps = (Path("/proc") / pid / "maps").read_text()
        assert (str(db.resolve()) in maps) is mapped, maps


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError:  # a process that ended meanwhile
        return b""


def test_the_plugin_has_its_hooks_when_imported_before_datasette(sample_db):
    """A script that imports the plugin module before Datasette (as a benchmark's may) got no
    hooks: Datasette's imports scanned the entry points, which registered the module half-
    imported. A fresh interpreter for each import order, the served archive's config each."""
    import subprocess
    import sys

    for first in ("archive.datasette_plugin", "datasette.app"):
        code = (
            f"import asyncio, {first}\n"
            "from datasette.app import Datasette\n"
            f"ds = Datasette(immutables=[{str(sample_db)!r}],\n"
            "               metadata={'plugins': {'archive': {'mmap': True}}})\n"
            "db = ds.get_database('archive')\n"
            "print(*asyncio.run(db.execute_fn(lambda conn: (\n"
            "    conn.execute(\"SELECT archive_sha256('a')\").fetchone()[0][:8],\n"
            "    conn.execute('PRAGMA mmap_size').fetchone()[0]))))\n"
            # an error page (Datasette's own plugin that makes it was left hookless too)
            "print(asyncio.run(ds.client.get('/no-such-page')).status_code)\n"
            "from datasette.plugins import pm\n"
            "pm.check_pending()  # no attribute taken for a hook that Datasette has not\n"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[0] == "ca978112", (first, done)  # SHA-256 of "a"
        assert int(done.stdout.split()[1]) > 0, (first, done)
        assert done.stdout.split()[2] == "404", (first, done)
