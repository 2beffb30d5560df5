"""Migrations: an older archive is upgraded by ``ingest`` or ``archive upgrade`` (its derived
data recomputed where a migration says so), never by a command that only reads, and a newer
one is refused (split from test_ingest.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from click.testing import CliRunner

from archive.cli import cli

from .conftest import DATA, SAMPLE
from .test_ingest import file_hash


def older_archive(db: Path, signer, sql: str) -> Path:
    """The sample captured into a new archive at ``db``, then ``sql`` run on it by hand: how an
    older version's archive (or a newer one's) is made here."""
    from archive.ingest import Ingester

    assert Ingester(db, signer).ingest_file(SAMPLE).status == "ingested"
    conn = sqlite3.connect(db)
    conn.executescript(sql)
    conn.close()
    return db


def test_migration_0003_recomputes_band_keys(tmp_path, fixed_signer):
    """An archive with the old (CRC-32) band keys gets FNV-1a ones, from the claims' text."""
    from archive.db import connect
    from archive.ingest import Ingester
    from archive.similarity import bands

    db = tmp_path / "old.db"
    assert Ingester(db, fixed_signer).ingest_file(SAMPLE).status == "ingested"
    conn = sqlite3.connect(db)
    expected = sorted(conn.execute("SELECT band_key, claim_id FROM claim_bands"))
    assert expected
    conn.executescript(
        "UPDATE claim_bands SET band_key = band_key / 2; "
        "DELETE FROM migrations WHERE name = '0003_fnv_band_keys';"
    )
    conn.close()
    migrated = connect(db)
    assert sorted(migrated.execute("SELECT band_key, claim_id FROM claim_bands")) == expected
    text = migrated.execute("SELECT text FROM claims WHERE id = ?", (expected[0][1],)).fetchone()
    assert expected[0][0] in bands(text[0])


def test_migration_0002_fills_captured_at_on_an_old_archive(tmp_path, fixed_signer):
    """An archive made before 0002 gets claims.captured_at from its articles when opened."""
    from archive.db import MIGRATIONS, applied_migrations, connect

    # an archive of schema 0001: without the column, its index and the migration row
    db = older_archive(
        tmp_path / "old.db",
        fixed_signer,
        # quotes read claims.captured_at since 0009: here it reads the article's, as before
        "DROP VIEW quotes; CREATE VIEW quotes AS SELECT claims.id AS claim_id, "
        "articles.captured_at FROM claims JOIN articles ON articles.id = claims.article_id; "
        "DROP INDEX claims_speaker_time; ALTER TABLE claims DROP COLUMN captured_at; "
        "DELETE FROM migrations WHERE name = '0002_claims_captured_at';",
    )
    migrated = connect(db)
    assert applied_migrations(migrated) == [name for name, _ in MIGRATIONS]
    rows = migrated.execute(
        "SELECT DISTINCT c.captured_at = a.captured_at FROM claims c "
        "JOIN articles a ON a.id = c.article_id"
    ).fetchall()
    assert rows == [(1,)]
    # the view as 0009 leaves it (0009 is recorded here, so it did not run again): verify
    # compares the schema with what the migrations make
    (view,) = (
        sqlite3.connect(older_archive(tmp_path / "new.db", fixed_signer, ""))
        .execute("SELECT sql FROM sqlite_master WHERE name = 'quotes'")
        .fetchone()
    )
    migrated.execute("DROP VIEW quotes")
    migrated.execute(view)
    result = CliRunner().invoke(cli, ["verify", "--db", str(db)])
    assert result.exit_code == 0, result.output


def test_commands_that_read_never_migrate_an_older_archive(tmp_path, fixed_signer):
    """verify, serve, export, trace... only read: an archive an older version wrote is refused
    with what to run, and the file stays byte for byte as it was; `archive upgrade` migrates."""
    from archive.db import MIGRATIONS

    db = older_archive(
        tmp_path / "records" / "archive.db",
        fixed_signer,
        "DROP TABLE ledger_frontier; DELETE FROM migrations WHERE name = '0006_ledger_frontier';",
    )
    before = file_hash(db)
    for args in (
        ["verify"],
        ["trace", "37988c58467bc4cf-1"],
        ["export", "--format", "csv", "--table", "claims"],
        ["prove", "37988c58467bc4cf-1"],
    ):
        result = CliRunner().invoke(cli, [*args, "--db", str(db)])
        assert result.exit_code == 1, (args, result.output)
        assert "written by an older version of archive (not applied: 0006_ledger_frontier)" in (
            result.output
        ), result.output
        assert f"archive upgrade --db {db}" in result.output
        assert file_hash(db) == before, args
    result = CliRunner().invoke(cli, ["upgrade", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert result.output == f"{db}: applied 0006_ledger_frontier\n"
    result = CliRunner().invoke(cli, ["upgrade", "--db", str(db)])
    assert result.output == f"{db}: already up to date\n"
    conn = sqlite3.connect(db)
    assert [n for (n,) in conn.execute("SELECT name FROM migrations ORDER BY name")] == [
        name for name, _ in MIGRATIONS
    ]
    result = CliRunner().invoke(cli, ["verify", "--db", str(db)])
    assert result.exit_code == 0, result.output
    # not an archive at all (another program's database): said so, nothing added to it, not
    # even by a command that writes
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)")
    before = file_hash(other)
    key = tmp_path / "key.pem"
    for args in (["verify"], ["upgrade"], ["ingest", str(SAMPLE), "--key", str(key)]):
        result = CliRunner().invoke(cli, [*args, "--db", str(other)])
        assert result.exit_code == 1 and "not an archive database" in result.output, args
        assert file_hash(other) == before, args
        assert not (tmp_path / "captures").exists(), args
    # nor a key made (the next ingest into the real archive signed with it: second review), nor
    # a lock file left beside the other program's database
    assert not key.exists() and not (tmp_path / ".other.db.lock").exists()


def test_stale_band_keys_are_recomputed_by_the_upgrade(tmp_path, fixed_signer):
    """The MinHash fix changed every band key without a migration: an archive that had 0003
    kept keys no lookup finds, and its claims silently got no near links from later captures
    (found in the seventh round's upgrade review). 0007 recomputed them; 0008 now does, for
    every archive older than it."""
    from archive.ingest import Ingester

    db = older_archive(
        tmp_path / "old.db",
        fixed_signer,
        "UPDATE claim_bands SET band_key = band_key / 2; DELETE FROM migrations WHERE name IN "
        "('0007_band_keys_checked', '0008_minhash_without_common_shingles');",
    )
    later = DATA / "provenance" / "lakeport-A-2025-03-08.warc.gz"
    assert Ingester(db, fixed_signer).ingest_file(later).status == "ingested"
    conn = sqlite3.connect(db)
    near = conn.execute("SELECT count(*) FROM claim_links WHERE relation = 'near'").fetchone()
    assert near[0] > 0


def test_migration_0008_recomputes_band_keys_and_signatures_in_one_pass(tmp_path, fixed_signer):
    """The MinHash now leaves common 5-grams out: an older archive's band keys and compact
    signatures (made over every 5-gram) are recomputed, and equal what an ingest now writes."""
    import archive.db

    fresh = sqlite3.connect(older_archive(tmp_path / "new.db", fixed_signer, ""))
    bands = sorted(fresh.execute("SELECT band_key, claim_id FROM claim_bands"))
    minhash = sorted(fresh.execute("SELECT claim_id, shingles, signature FROM claim_minhash"))
    assert bands and minhash
    db = older_archive(
        tmp_path / "old.db",
        fixed_signer,
        "UPDATE claim_bands SET band_key = band_key / 2; "
        "UPDATE claim_minhash SET shingles = shingles + 9, signature = zeroblob(126); "
        "DELETE FROM migrations WHERE name = '0008_minhash_without_common_shingles';",
    )
    assert archive.db.upgrade(db) == ["0008_minhash_without_common_shingles"]
    conn = sqlite3.connect(db)
    assert sorted(conn.execute("SELECT band_key, claim_id FROM claim_bands")) == bands
    assert sorted(conn.execute("SELECT claim_id, shingles, signature FROM claim_minhash")) == (
        minhash
    )


def test_an_archive_older_than_0007_recomputes_its_band_keys_once(
    tmp_path, fixed_signer, monkeypatch
):
    """0007 recomputed every band key (the keys it sampled were never the new ones), then 0008
    recomputed them all again: 0007 now leaves them to 0008 (session review)."""
    import archive.db
    import archive.schema

    fresh = sqlite3.connect(older_archive(tmp_path / "new.db", fixed_signer, ""))
    bands = sorted(fresh.execute("SELECT band_key, claim_id FROM claim_bands"))
    db = older_archive(
        tmp_path / "old.db",
        fixed_signer,
        "UPDATE claim_bands SET band_key = band_key / 2; DELETE FROM migrations WHERE name IN "
        "('0007_band_keys_checked', '0008_minhash_without_common_shingles');",
    )

    def recompute(db):
        raise AssertionError("0007 recomputed the keys 0008 recomputes")

    monkeypatch.setattr(archive.schema, "_v3", recompute)
    assert archive.db.upgrade(db) == [
        "0007_band_keys_checked",
        "0008_minhash_without_common_shingles",
    ]
    assert sorted(sqlite3.connect(db).execute("SELECT band_key, claim_id FROM claim_bands")) == (
        bands
    )


def test_an_archive_a_newer_version_wrote_is_refused_with_its_path(tmp_path, fixed_signer):
    """ "database has migrations this version does not know (...); upgrade archive" named no
    file, and read like advice to run `archive upgrade` (upgrade review)."""

    db = older_archive(
        tmp_path / "records" / "archive.db",
        fixed_signer,
        "INSERT INTO migrations VALUES ('0099_future', '2030-01-01T00:00:00Z')",
    )
    before = file_hash(db)
    for args in (["upgrade"], ["verify"], ["export", "--format", "csv", "--table", "claims"]):
        result = CliRunner().invoke(cli, [*args, "--db", str(db)])
        assert result.exit_code == 1, (args, result.output)
        assert result.output.splitlines()[-1] == (
            f"Error: {db}: written by a newer version of archive (migrations this one does not "
            "know: 0099_future); use that version or a newer one"
        ), args
        assert file_hash(db) == before
