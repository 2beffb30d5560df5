"""Writers take turns at the archive's write lock (archive/turns.py): real processes."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time

import pytest

from .test_robustness import FILLER, article_html, http_response, run_cli, warc_file

pytestmark = pytest.mark.slow


def test_a_second_ingest_gets_in_between_another_s_files(isolated_env, tmp_path, monkeypatch):
    """An ingest of file after file kept a second ingest out until its minute of waiting ran
    out, though it committed every few seconds (SQLite's wait lets a writer in only by chance
    between another's transactions: a review). The second now goes in at the first's next
    commit, and a wait runs out only after a minute without a commit by anyone."""
    import archive.db

    db = tmp_path / "records" / "archive.db"
    files = []
    for i in range(12):  # each file's transaction long beside the moment between two
        pages = [
            http_response(
                f"https://x.example/{i}/{j}.html",
                article_html(f"Ferry terminal, part {i}.{j}", [f"Part {i}.{j} of it.", *FILLER]),
            )
            for j in range(25)
        ]
        files.append(warc_file(tmp_path / f"f{i:02d}.warc.gz", pages))
    assert run_cli("ingest", "--workers", "0", files[0])[0] == 0  # the key and the archive
    first = subprocess.Popen(
        [sys.executable, "-m", "archive", "ingest", "--workers", "0", "-q", *files[1:-1]],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        conn = sqlite3.connect(db, timeout=30)
        while conn.execute("SELECT count(*) FROM captures").fetchone()[0] < 3:
            assert first.poll() is None, first.communicate()[0]
            time.sleep(0.05)
        # a short wait: SQLite's own busy wait (before the turns) ran out between two of the
        # first's files at 1 s and at 3 s; 1 s was also shorter than one file's transaction on
        # a busy machine (the CI failed once)
        monkeypatch.setattr(archive.db, "LOCK_WAIT_SECONDS", 3)
        code, out = run_cli("ingest", "--workers", "0", files[-1])
        assert code == 0, out
    finally:
        output = first.communicate(timeout=120)[0].decode()
    assert first.returncode == 0, output
    order = [name for (name,) in conn.execute("SELECT filename FROM captures ORDER BY rowid")]
    assert len(order) == 12
    # it went in while the first ingest still had files to go
    assert order.index(files[-1].name) < order.index(files[-2].name), order


def test_a_stopped_waiter_is_given_way_once_not_before_every_file(
    tmp_path, fixed_signer, monkeypatch
):
    """A waiting writer that never comes (a process stopped with Ctrl-Z) made every other writer
    give way for the whole let-in time before each of its transactions: 2 s a file (a review).
    It is given way once, then not until another writer commits."""
    import archive.turns as turns
    from archive.ingest import Ingester

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer)
    waiter = subprocess.Popen(  # holds the waiting byte, as a stopped waiter does
        [sys.executable, "-c", (
            "import fcntl, os, sys, time\n"
            f"fd = os.open({str(db.with_name('.archive.db.turns'))!r}, os.O_RDWR | os.O_CREAT)\n"
            f"fcntl.lockf(fd, fcntl.LOCK_SH, 1, {turns.WAITING_BYTE})\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n"
        )],
        stdout=subprocess.PIPE,
    )  # fmt: skip
    try:
        assert waiter.stdout.readline() == b"held\n"
        naps = []
        real_sleep = time.sleep
        # turns' own naps, not every sleep in the process
        monkeypatch.setattr(turns, "sleep", lambda s: naps.append(s) or real_sleep(s))
        for i in range(4):
            page = article_html(f"Ferry terminal, part {i}", [f"Part {i} of it.", *FILLER])
            capture = warc_file(tmp_path / f"f{i}.warc.gz", [http_response(f"https://x/{i}", page)])
            assert ingester.ingest_file(capture).status == "ingested"
    finally:
        waiter.kill()
        waiter.wait()
    episode = turns.LET_IN_SECONDS / (turns.POLL_MS / 1000)
    assert 0 < len(naps) <= episode + 2, len(naps)
