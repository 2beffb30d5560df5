"""Issue 7: extraction on a real Dask cluster (a scheduler and two workers on 127.0.0.1) gives
the same archive as a local ingest; the key never leaves the coordinator."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import DATA, SAMPLE
from .server import free_port

pytestmark = pytest.mark.slow

CAPTURES = [
    SAMPLE,
    *sorted((DATA / "provenance").glob("*.warc.gz")),
    DATA / "warc" / "example-iana.org-chunked.warc",
]
DASK = Path(sys.executable).with_name("dask")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    if not DASK.exists():
        pytest.fail("dask is not installed: pip install -e '.[test]'")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path_factory.mktemp("dask")
    # scratch space in the test's directory: dask's default left /tmp/dask-scratch-space behind
    env = {
        **os.environ,
        "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
        "DASK_TEMPORARY_DIRECTORY": str(logs),
    }
    procs = [
        subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=open(logs / "scheduler.log", "w"),
            stderr=subprocess.STDOUT,
            env=env,
        )
    ]
    time.sleep(2)
    for i in range(2):
        procs.append(
            subprocess.Popen(
                [
                    DASK,
                    "worker",
                    address,
                    "--nworkers",
                    "1",
                    "--nthreads",
                    "1",
                    "--no-dashboard",
                    "--host",
                    "127.0.0.1",
                    "--name",
                    f"w{i}",
                ],
                stdout=open(logs / f"worker{i}.log", "w"),
                stderr=subprocess.STDOUT,
                env=env,
            )
        )
    from distributed import Client

    with Client(address, timeout="30s") as client:
        client.wait_for_workers(2, timeout=60)
    yield address
    for p in reversed(procs):
        p.terminate()
    for p in procs:
        try:
            p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill()


def ingest(tmp_path, name, *extra):
    env = {
        **os.environ,
        "ARCHIVE_HOME": str(tmp_path / name),
        "ARCHIVE_KEY": str(tmp_path / "key.pem"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "archive", "ingest", *map(str, CAPTURES), *extra],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return tmp_path / name / "archive.db"


def content(db: Path) -> dict:
    """Every table's rows, with signing times blanked (they differ between runs)."""
    conn = sqlite3.connect(db)
    out = {}
    for table in (
        "captures",
        "articles",
        "claims",
        "image_uses",
        "images",
        "claim_links",
        "image_links",
        "changes",
        "claim_bands",
        "capture_records",
    ):
        cols = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")]
        drop = (
            {"signature", "ingested_at", "id"}
            if table == "changes"
            else {"signature", "ingested_at"}
        )
        rows = []
        for row in conn.execute(f"SELECT * FROM {table}"):
            d = dict(zip(cols, row, strict=True))
            for c in drop & d.keys():
                d.pop(c)
            if "statement" in d:
                stmt = json.loads(d["statement"])
                stmt.pop("signed_at")
                d["statement"] = stmt
            rows.append(json.dumps(d, sort_keys=True, default=str))
        out[table] = sorted(rows)
    return out


def test_cluster_ingest_equals_local(cluster, tmp_path):
    local = ingest(tmp_path, "local", "--workers", "0")
    remote = ingest(tmp_path, "dask", "--scheduler", cluster)
    a, b = content(local), content(remote)
    for table in a:
        assert a[table] == b[table], table
    assert sum(len(v) for v in a.values()) > 100
    verify = subprocess.run(
        [sys.executable, "-m", "archive", "verify", "--db", str(remote)],
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout


def test_unreachable_scheduler_is_one_line(tmp_path):
    env = {**os.environ, "ARCHIVE_HOME": str(tmp_path / "x"), "ARCHIVE_KEY": str(tmp_path / "k")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "archive",
            "ingest",
            str(SAMPLE),
            "--scheduler",
            f"tcp://127.0.0.1:{free_port()}",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "--scheduler tcp://127.0.0.1:" in errors[0]


# --------------------------------------------------------------------------------------------
# a cluster that cannot do the work: one line, nothing made, no wait without end (Dask review)


def _dask(logs: Path, name: str, *args, env=None) -> subprocess.Popen:
    return subprocess.Popen(
        [DASK, *args, "--no-dashboard"],
        stdout=open(logs / f"{name}.log", "w"),
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "DASK_DISTRIBUTED__WORKER__DAEMON": "False",
            "DASK_TEMPORARY_DIRECTORY": str(logs),
            **(env or {}),
        },
    )


@pytest.fixture
def lone_scheduler(tmp_path):
    """A scheduler of this test's own, without workers; ``start_worker(env)`` adds one."""
    import socket

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = tmp_path / "dask-logs"
    logs.mkdir()
    procs = [_dask(logs, "scheduler", "scheduler", "--host", "127.0.0.1", "--port", str(port))]
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.2)

    def start_worker(env=None):
        args = ["worker", address, "--nworkers", "1", "--nthreads", "1", "--host", "127.0.0.1"]
        procs.append(_dask(logs, f"worker{len(procs)}", *args, env=env))
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(len(procs) - 1, timeout=60)

    yield address, procs, start_worker
    for p in reversed(procs):
        p.kill()
        p.wait(timeout=15)


def _ingest_here(*args) -> tuple[int, list[str]]:
    from click.testing import CliRunner

    from archive.cli import cli

    result = CliRunner().invoke(cli, ["ingest", str(SAMPLE), *args])
    return result.exit_code, [line for line in result.output.splitlines() if "Error" in line]


@pytest.mark.parametrize(
    "address, why",
    [
        ("", "--scheduler: give the scheduler's address (tcp://HOST:PORT)"),
        ("foo", "--scheduler foo: not a scheduler address (tcp://HOST:PORT or tls://HOST:PORT)"),
        ("http://127.0.0.1:8786", "not a scheduler address"),
        ("tls://127.0.0.1:8786", "tls:// needs the client's certificate"),
        ("tcp://a..b:8786", "--scheduler tcp://a..b:8786: cannot connect"),
        # a port past 65535 wrapped round to another one (74226 reached 8690: a review)
        ("tcp://127.0.0.1:74226", "not a scheduler address"),
        ("tcp://127.0.0.1:0", "not a scheduler address"),
    ],
)
def test_a_scheduler_address_that_cannot_work_is_one_line(isolated_env, address, why):
    """An empty --scheduler ran a local ingest; "foo" or http:// gave a 60-line traceback after
    20 s."""
    code, errors = _ingest_here("--scheduler", address)
    assert code == 1 and len(errors) == 1 and why in errors[0], errors
    assert not (isolated_env / "records").exists() and not (isolated_env / "config").exists()


def test_tls_settings_and_workers_that_cannot_work_are_one_line(isolated_env, tmp_path):
    """tls:// with a certificate and no CA waited 20 s, then printed a traceback; a CA path
    mistyped said "No such file or directory" without naming it; --workers beside --scheduler
    was ignored without a word (a review)."""
    import dask

    cert = tmp_path / "client.pem"
    cert.write_text("not checked here")
    address = "tls://127.0.0.1:8786"
    with dask.config.set({"distributed.comm.tls.client.cert": str(cert)}):
        code, errors = _ingest_here("--scheduler", address)
        assert code == 1 and errors == [
            f"Error: --scheduler {address}: tls:// needs the client's certificate, key and CA "
            "in Dask's configuration: DASK_DISTRIBUTED__COMM__TLS__CA_FILE is not set "
            "(docs/scaling.md)"
        ], errors
        with dask.config.set({"distributed.comm.tls.ca-file": str(tmp_path / "ca.pem")}):
            code, errors = _ingest_here("--scheduler", address)
    assert code == 1 and errors == [
        f"Error: --scheduler {address}: DASK_DISTRIBUTED__COMM__TLS__CA_FILE: no file at "
        f"{tmp_path / 'ca.pem'}"
    ], errors
    code, errors = _ingest_here("--scheduler", "tcp://127.0.0.1:8786", "--workers", "7")
    assert code == 1 and errors == [
        "Error: --workers and --scheduler: the cluster's workers extract with --scheduler; give "
        "one or the other"
    ], errors
    assert not (isolated_env / "records").exists() and not (isolated_env / "config").exists()


def test_a_scheduler_without_workers_is_refused(isolated_env, lone_scheduler, monkeypatch):
    """With no worker the ingest waited forever, holding the archive's write lock."""
    from archive.cluster import DaskExecutor

    monkeypatch.setattr(DaskExecutor, "WAIT_SECONDS", 3)
    address, _, _ = lone_scheduler
    code, errors = _ingest_here("--scheduler", address)
    assert (code, errors) == (1, [f"Error: --scheduler {address}: no worker joined in 3 s"])
    assert not (isolated_env / "records").exists() and not (isolated_env / "config").exists()


def test_a_worker_on_other_code_is_refused(isolated_env, lone_scheduler, tmp_path):
    """A worker one commit behind dropped a paragraph the coordinator's code keeps, and
    nothing said so (the version number was the same)."""
    import shutil

    import archive

    other = tmp_path / "other"
    shutil.copytree(Path(archive.__file__).parent, other / "archive")
    with open(other / "archive" / "claims.py", "a") as f:
        f.write("\n# another version\n")
    address, _, start_worker = lone_scheduler
    start_worker({"PYTHONPATH": str(other)})
    code, errors = _ingest_here("--scheduler", address)
    assert code == 1 and len(errors) == 1, errors
    assert "runs other code than this process (archive source " in errors[0]
    assert not (isolated_env / "records" / "archive.db").exists()


def test_a_worker_with_another_version_of_the_extractor_is_refused(
    isolated_env, lone_scheduler, tmp_path
):
    """A worker with the same archive code and an older trafilatura (which the requirements
    allow) signed 150 claims where the others found 184, and the check of the code passed (a
    review). The versions of the libraries extraction uses are compared too."""
    import importlib.metadata

    other = tmp_path / "older"
    info = other / "trafilatura-2.0.0.dist-info"  # found first on the worker's path
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: trafilatura\nVersion: 2.0.0\n")
    address, _, start_worker = lone_scheduler
    start_worker({"PYTHONPATH": str(other)})
    code, errors = _ingest_here("--scheduler", address)
    here = importlib.metadata.version("trafilatura")
    assert code == 1 and len(errors) == 1, errors
    assert f"runs other code than this process (trafilatura 2.0.0, here {here})" in errors[0]
    assert not (isolated_env / "records" / "archive.db").exists()


def test_losing_the_scheduler_is_an_error_not_a_wait(lone_scheduler, monkeypatch):
    """The scheduler killed mid-ingest: two files failed with a two-line "unexpected
    FutureCancelledError", then the next waited forever."""
    from archive.cluster import DaskExecutor
    from archive.errors import ClusterError

    monkeypatch.setattr(DaskExecutor, "POLL_SECONDS", 1)
    address, procs, start_worker = lone_scheduler
    start_worker()
    executor = DaskExecutor(address)
    future = executor.submit(time.sleep, 60)
    time.sleep(1)
    procs[0].kill()
    started = time.monotonic()
    with pytest.raises(ClusterError, match=f"--scheduler {address}: "):
        future.result()
    assert time.monotonic() - started < 30
    executor.shutdown()


def test_code_loaded_before_its_files_changed_is_still_other_code(tmp_path, monkeypatch):
    """A worker that stays up keeps the modules it loaded: hashing the files on disk when asked
    said "same code" after the shared checkout was updated (Dask review)."""
    import archive.cluster as cluster

    loaded = cluster.code_fingerprint()
    monkeypatch.setattr(cluster, "_source_fingerprint", lambda: "changed on disk")
    assert cluster.code_fingerprint() == loaded


def test_a_record_that_kills_workers_fails_its_file_not_the_run(tmp_path, fixed_signer):
    """A page that crashes the extractor makes Dask give up on its task (KilledWorker): that is
    the file's failure, not the cluster's, and the next file goes in."""
    from distributed import KilledWorker

    from archive.cluster import DaskExecutor
    from archive.errors import ArchiveError, ClusterError

    class Dead:
        def result(self, timeout=None):
            raise KilledWorker("process_record-1", "tcp://127.0.0.1:1", 3)

        def done(self):
            return True

    executor = DaskExecutor.__new__(DaskExecutor)
    executor.address = "tcp://127.0.0.1:1"
    with pytest.raises(ArchiveError) as e:
        executor.wait(Dead())
    assert not isinstance(e.value, ClusterError)
    assert "a record of this file made every cluster worker that took it die" in str(e.value)


def test_a_connection_reset_while_gathering_is_the_cluster_s_failure():
    """The scheduler killed while a result was on its way: distributed's CommClosedError (an
    OSError) was counted as the file's failure, with its own error line, before "lost the
    scheduler" (a review). It is the cluster's, one line."""
    from distributed.comm import CommClosedError

    from archive.cluster import DaskExecutor
    from archive.errors import ClusterError

    class Reset:
        def result(self, timeout=None):
            raise CommClosedError("in <TCP (closed) ConnectionPool.gather>: Connection reset")

        def done(self):
            return True

    executor = DaskExecutor.__new__(DaskExecutor)
    executor.address = "tcp://127.0.0.1:1"
    with pytest.raises(ClusterError, match="^--scheduler tcp://127.0.0.1:1: lost the scheduler$"):
        executor.wait(Reset())
