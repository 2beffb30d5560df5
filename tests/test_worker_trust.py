"""What the coordinator takes from workers that are not its own processes (a cluster's): rows
only, checked against the record it read, with statements built here before signing."""

from __future__ import annotations

import sqlite3

import pytest
from click.testing import CliRunner

from archive.cli import cli

from .conftest import SAMPLE


def test_rows_from_an_untrusted_worker_are_rebuilt_and_checked(tmp_path, fixed_signer):
    """A cluster's workers send rows only: the coordinator builds the statements (so the result
    equals a local ingest) and refuses rows that belong to another record."""
    from concurrent.futures import ThreadPoolExecutor

    from archive.ingest import Ingester
    from archive.worker import process_record

    class Cluster:  # not a local process pool: untrusted, like a Dask client
        def __init__(self, tamper=False):
            self.pool = ThreadPoolExecutor(2)
            self.tamper = tamper

        def submit(self, fn, *args):
            def run():
                out = fn(*args)
                assert fn is process_record
                if self.tamper and out.rows:
                    out.rows[0].row["id"] = "0" * 16  # claims another article's id
                return out

            return self.pool.submit(run)

    clock = lambda: "2026-01-01T00:00:00Z"  # noqa: E731
    local = Ingester(tmp_path / "local.db", fixed_signer, clock=clock)
    remote = Ingester(tmp_path / "remote.db", fixed_signer, clock=clock, executor=Cluster())
    assert local.ingest_file(SAMPLE).status == remote.ingest_file(SAMPLE).status == "ingested"
    a, b = (sqlite3.connect(tmp_path / f"{n}.db") for n in ("local", "remote"))
    query = "SELECT id, statement, signature FROM claims ORDER BY id"
    assert a.execute(query).fetchall() == b.execute(query).fetchall()
    bad = Ingester(tmp_path / "bad.db", fixed_signer, clock=clock, executor=Cluster(tamper=True))
    result = bad.ingest_file(SAMPLE)
    assert result.status == "failed" and "a worker sent rows of another record" in result.error
    assert sqlite3.connect(tmp_path / "bad.db").execute(
        "SELECT COUNT(*) FROM claims"
    ).fetchone() == (0,)


class _ClusterLike:
    """Runs tasks here but is not a local process pool, so ingest treats its workers as a
    cluster's (rows only; statements built by the coordinator); ``tamper`` edits each result."""

    def __init__(self, tamper=None):
        self.tamper = tamper or (lambda result: result)

    def submit(self, fn, *args):
        import pickle

        from archive.parallel import _Done

        # through pickle both ways, as a cluster's results come
        result = pickle.loads(pickle.dumps(fn(*pickle.loads(pickle.dumps(args)))))
        return _Done(self.tamper(result))


@pytest.mark.parametrize("tampering", ["none", "record", "row", "claim id"])
def test_a_cluster_workers_results_must_be_about_the_record_sent(tmp_path, fixed_signer, tampering):
    """A cluster's worker returns rows only, and they must describe the record the coordinator
    read: the same record identity, payload hash, offset, URL and time, claim ids
    article-position (found in review: the check compared the worker's record with itself)."""
    from archive.ingest import Ingester
    from archive.worker import article_id

    def tamper(result):
        if result.role != "article":
            return result
        article = result.rows[0].row
        if tampering == "record":
            # another place in the file, with the article and claim ids made to fit it
            result.record.offset += 7
            article["id"] = article_id(article["capture_sha256"], result.record)
            article["warc_offset"] = result.record.offset
            for u in result.rows[1:]:
                u.row["article_id"] = article["id"]
                u.row["id"] = f"{article['id']}-{u.row['position']}"
            result.source["id"] = article["id"]
        elif tampering == "row":
            article["url"] = "https://elsewhere.example/"
        elif tampering == "claim id":
            result.rows[1].row["id"] = article["id"] + "-99"
        return result

    db = tmp_path / "records" / "archive.db"
    ingester = Ingester(db, fixed_signer, executor=_ClusterLike(tamper))
    result = ingester.ingest_file(SAMPLE)
    if tampering == "none":
        assert result.status == "ingested", result.error
        verify = CliRunner().invoke(cli, ["verify", "--db", str(db)])
        assert verify.exit_code == 0, verify.output
        return
    assert result.status == "failed"
    expected = "another record" if tampering == "record" else "a worker sent rows of another record"
    assert expected in result.error


@pytest.mark.parametrize("tampering", ["article hash", "claim text"])
def test_a_cluster_workers_text_must_match_its_hash(tmp_path, fixed_signer, tampering):
    """A worker on other code sent an article hash or a claim text that did not agree: the key
    signed it, verify failed it afterwards, and ingesting the file again found it already in
    the archive (found in the Dask review)."""
    from archive.ingest import Ingester

    def tamper(result):
        if result.role == "article":
            if tampering == "article hash":
                result.rows[0].row["text_sha256"] = "0" * 64
            else:
                result.rows[1].row["text"] += " (edited)"
        return result

    db = tmp_path / "records" / "archive.db"
    result = Ingester(db, fixed_signer, executor=_ClusterLike(tamper)).ingest_file(SAMPLE)
    assert result.status == "failed"
    assert "a worker sent text that does not match its hash" in result.error
    assert sqlite3.connect(db).execute("SELECT COUNT(*) FROM articles").fetchone() == (0,)
