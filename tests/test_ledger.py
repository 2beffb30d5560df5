"""Issue 4: the tamper-evident ledger and its checkpoints, as `archive verify` checks them
(offline proofs and key rotation: tests/test_proofs.py)."""

from __future__ import annotations

import base64
import re
import shutil
import sqlite3

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from archive import checkpoint as cp
from archive import statements
from archive.cli import cli
from archive.ingest import Ingester
from archive.keys import Signer

from .conftest import DATA, FIXED_TIME


def run(*args):
    return CliRunner().invoke(cli, list(map(str, args)))


def edit(db, sql, params=()):
    conn = sqlite3.connect(db)
    conn.execute(sql, params)
    conn.commit()
    conn.close()


def first_checkpoint(db, columns: str) -> tuple:
    """``columns`` of the archive's first checkpoint row."""
    conn = sqlite3.connect(db)
    try:
        return conn.execute(f"SELECT {columns} FROM checkpoints ORDER BY id LIMIT 1").fetchone()
    finally:
        conn.close()


def failures(db, *extra):
    result = run("verify", "--db", db, *extra)
    assert result.exit_code == 1, result.output
    return [line for line in result.output.splitlines() if line.startswith("FAILED")]


def test_checkpoints_after_each_ingest(ledger_archive):
    db, pub = ledger_archive
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT tree_size, note FROM checkpoints ORDER BY id").fetchall()
    total = conn.execute("SELECT COUNT(*) FROM ledger").fetchone()[0]
    assert [r[0] for r in rows][-1] == total and len(rows) == 2
    note = (db.parent / "checkpoint").read_text()
    assert note == rows[-1][1]
    lines = note.split("\n")
    # the key's digits, then the first leaf's: two archives signed by one key differ (key review)
    (first_leaf,) = conn.execute("SELECT leaf_hash FROM ledger ORDER BY seq LIMIT 1").fetchone()
    origin = f"archive/56475aa75463474c/{first_leaf[:16]}"
    assert lines[0] == origin and lines[1] == str(total)
    assert lines[3] == "" and lines[4].startswith(f"\u2014 {origin} ")
    result = run("verify", "--db", db, "--public-key", pub)
    assert result.exit_code == 0, result.output
    assert f"Ledger: {total} entries, root " in result.output


def test_checkpoint_is_a_c2sp_signed_note(fixed_signer):
    c = cp.Checkpoint("example.com/log", 5, bytes(32))
    note = cp.sign(c, "example.com/log", fixed_signer)
    assert note.startswith(
        "example.com/log\n5\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\u2014 "
    )
    assert cp.verify(note, "example.com/log", fixed_signer.public_key) == c
    assert (
        cp.verify(note.replace("\n5\n", "\n6\n"), "example.com/log", fixed_signer.public_key)
        is None
    )
    vkey = cp.verifier_key("example.com/log", fixed_signer.public_key)
    assert re.fullmatch(r"example\.com/log\+[0-9a-f]{8}\+[A-Za-z0-9+/=]+", vkey)


def test_deleted_row_is_named(ledger_archive):
    db, _ = ledger_archive
    edit(db, "DELETE FROM claims WHERE id = '37988c58467bc4cf-5'")
    assert any(
        "entry for claims 37988c58467bc4cf-5, which is not in the archive" in f
        for f in failures(db)
    )


def test_inserted_forged_row(ledger_archive):
    db, _ = ledger_archive
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM claims WHERE id = '37988c58467bc4cf-0'").fetchone())
    article = dict(conn.execute("SELECT * FROM articles WHERE id = '37988c58467bc4cf'").fetchone())
    forger = Signer(Ed25519PrivateKey.generate())
    row.update(id="37988c58467bc4cf-77", position=77)
    data = statements.canonical(
        statements.build("claims", row, key_id=forger.key_id, signed_at=FIXED_TIME, article=article)
    )
    row.update(statement=data.decode(), signature=forger.sign(data), key_id=forger.key_id)
    conn.execute(
        f"INSERT INTO claims ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
        list(row.values()),
    )
    conn.commit()
    found = failures(db)
    assert any(
        f.startswith("FAILED claims 37988c58467bc4cf-77:")
        and "untrusted key" in f
        and "no ledger entry" in f
        for f in found
    )


def test_reordered_ledger(ledger_archive):
    db, _ = ledger_archive
    conn = sqlite3.connect(db)
    for a, b in ((3, -1), (4, 3), (-1, 4)):  # swap entries 3 and 4
        conn.execute("UPDATE ledger SET seq = ? WHERE seq = ?", (b, a))
    conn.commit()
    found = failures(db)
    assert any("root at size" in f and "does not match the ledger" in f for f in found)


def test_truncated_ledger(ledger_archive):
    db, _ = ledger_archive
    edit(db, "DELETE FROM ledger WHERE seq >= (SELECT MAX(seq) - 2 FROM ledger)")
    found = failures(db)
    assert any("(truncated ledger)" in f for f in found)
    assert any("no ledger entry" in f for f in found)


def test_forked_checkpoint(ledger_archive, fixed_signer):
    db, _ = ledger_archive
    conn = sqlite3.connect(db)
    origin, size = conn.execute("SELECT origin, tree_size FROM checkpoints ORDER BY id").fetchone()
    fork = cp.sign(cp.Checkpoint(origin, size, bytes(32)), origin, fixed_signer)
    conn.execute(
        "INSERT INTO checkpoints (origin, tree_size, root_hash, note, key_id, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (origin, size, bytes(32).hex(), fork, fixed_signer.key_id, FIXED_TIME),
    )
    conn.commit()
    assert any(f"fork: two different roots at tree size {size}" in f for f in failures(db))


def test_backdated_statement(ledger_archive, fixed_signer):
    """The key holder re-signs a record with an earlier time: the ledger order gives it away."""
    db, pub = ledger_archive
    conn = sqlite3.connect(db)
    conn.row_factory = sqlite3.Row
    row = dict(conn.execute("SELECT * FROM claims WHERE id = '37988c58467bc4cf-3'").fetchone())
    article = dict(conn.execute("SELECT * FROM articles WHERE id = '37988c58467bc4cf'").fetchone())
    data = statements.canonical(
        statements.build(
            "claims",
            row,
            key_id=fixed_signer.key_id,
            signed_at="2020-01-01T00:00:00Z",
            article=article,
        )
    )
    conn.execute(
        "UPDATE claims SET statement = ?, signature = ? WHERE id = ?",
        (data.decode(), fixed_signer.sign(data), row["id"]),
    )
    conn.commit()
    found = failures(db, "--public-key", pub)
    assert any(
        f.startswith("FAILED claims 37988c58467bc4cf-3:") and "backdated" in f for f in found
    )


def test_kept_checkpoint_detects_rewritten_history(ledger_archive, tmp_path):
    db, pub = ledger_archive
    kept = tmp_path / "kept-checkpoint"
    shutil.copy(db.parent / "checkpoint", kept)
    ok = run("verify", "--db", db, "--public-key", pub, "--checkpoint", kept)
    assert ok.exit_code == 0, ok.output
    assert "Kept checkpoint: consistent at size" in ok.output
    # Rebuild the history: drop the last capture's rows and ledger entries, re-checkpoint.
    conn = sqlite3.connect(db)
    conn.execute("DELETE FROM ledger WHERE seq = (SELECT MAX(seq) FROM ledger)")
    conn.commit()
    conn.close()
    assert any(
        "fewer entries than this checkpoint" in f
        for f in failures(db, "--public-key", pub, "--checkpoint", kept)
    )


def test_altered_capture_file_named(ledger_archive):
    db, _ = ledger_archive
    stored = sorted((db.parent / "captures").iterdir())[0]
    stored.write_bytes(stored.read_bytes()[:-10])
    assert any(f"stored capture altered: {stored}" in f for f in failures(db))


@pytest.mark.parametrize(
    "name, status, signer",
    [
        ("valid_signed_example_1.wacz", "verified", "btrix-sign-test.webrecorder.net"),
        ("invalid_signed_example_1.wacz", "failed", None),
        ("valid_example_2.wacz", "unsigned", None),
    ],
)
def test_wacz_signature_recorded_at_ingest(isolated_env, name, status, signer):
    result = run("ingest", DATA / "wacz" / name)
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(isolated_env / "records" / "archive.db")
    row = conn.execute("SELECT wacz_signature, wacz_signer, wacz_problems FROM captures").fetchone()
    assert row[:2] == (status, signer)
    if status == "failed":
        assert "untrusted root" in row[2]
        assert "WACZ check failed: untrusted root" in result.output
    assert run("verify").exit_code == 0


def test_the_writer_signs_only_statements(tmp_path, fixed_signer):
    """SignedWriter.append refuses bytes that are not a statement: prepared rows come from
    workers, and the archive key must never sign, say, a checkpoint body."""
    import pytest

    from archive.db import connect
    from archive.ledger import SignedWriter, Unsigned, prepare

    db = connect(tmp_path / "a.db")
    writer = SignedWriter(db.conn, fixed_signer, tmp_path / "a.db", clock=lambda: FIXED)
    writer.begin()
    try:
        row = {
            "sha256": "ab" * 32,
            "filename": "x.warc",
            "format": "warc",
            "bytes": 1,
            "stored_path": "captures/x.warc",
            "ingested_at": FIXED,
        }
        real = prepare("captures", row, key_id=fixed_signer.key_id, signed_at=FIXED)
        body = b"archive/56475aa75463474c\n1\nq6hzIB0n3Og9Y9rTL2w/jzPdX2MrRm4NK7n+b0xg5zQ=\n"
        forged = Unsigned("captures", dict(row), body, real.leaf, fixed_signer.key_id, FIXED)
        with pytest.raises(ValueError, match="other than a statement"):
            writer.append([forged])
        # a column name is SQL text: a row key that is not a column of the table is refused
        # (found in review: a key could carry SQL into the INSERT)
        sneaky = dict(row, **{'bytes") VALUES (1) --': 1})
        injected = prepare("captures", sneaky, key_id=fixed_signer.key_id, signed_at=FIXED)
        with pytest.raises(ValueError, match="has no column"):
            writer.append([injected])
        writer.append([real])  # the same row with its real statement is signed and stored
        stored = db.conn.execute("SELECT statement FROM captures").fetchall()
        assert stored == [(real.statement.decode(),)]
    finally:
        writer.rollback()


FIXED = "2026-01-01T00:00:00Z"


def test_gap_in_the_ledger_is_reported_once(ledger_archive):
    db, _ = ledger_archive
    edit(db, "DELETE FROM ledger WHERE seq = 3")
    found = failures(db)
    gaps = [f for f in found if "sequence gap" in f]
    assert gaps == ["FAILED ledger 4: sequence gap: expected entry 3"], found
    assert any("no ledger entry" in f for f in found)  # the row whose entry went


THIRD = DATA / "warc" / "example-resource.warc.gz"


def stored_frontier_root(db) -> tuple[int, str]:
    from archive import merkle

    conn = sqlite3.connect(db)
    nodes = conn.execute("SELECT height, hash FROM ledger_frontier ORDER BY height DESC")
    frontier = merkle.Frontier.from_nodes((h, bytes.fromhex(x)) for h, x in nodes)
    return frontier.size, frontier.root().hex()


def test_the_next_ingest_appends_from_the_stored_frontier(
    ledger_archive, fixed_signer, monkeypatch
):
    """Each ingest stores the ledger's Merkle frontier: a new process appends from it without
    reading a single leaf, and the checkpoints it signs still verify."""
    from archive import ledger

    db, pub = ledger_archive
    conn = sqlite3.connect(db)
    size, root = conn.execute(
        "SELECT tree_size, root_hash FROM checkpoints ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert stored_frontier_root(db) == (size, root)

    def no_leaves(*args, **kwargs):
        raise AssertionError("read the ledger's leaves")

    monkeypatch.setattr(ledger, "ledger_leaves", no_leaves)
    fresh = Ingester(db, fixed_signer, clock=lambda: FIXED_TIME)  # as a new process would
    assert fresh.ingest_file(THIRD).status == "ingested"
    monkeypatch.undo()
    result = run("verify", "--db", db, "--public-key", pub)
    assert result.exit_code == 0, result.output
    size, root = conn.execute(
        "SELECT tree_size, root_hash FROM checkpoints ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert stored_frontier_root(db) == (size, root)


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE ledger_frontier SET hash = printf('%064d', 0) "
        "WHERE height = (SELECT MAX(height) FROM ledger_frontier)",
        "INSERT INTO ledger_frontier VALUES (-1, 'ab')",  # cannot be a frontier
        "UPDATE ledger_frontier SET hash = 'not hex'",
        "INSERT INTO ledger_frontier VALUES (40, 'ab')",  # covers more than the ledger
        "INSERT INTO ledger_frontier VALUES (1000000000, 'ab')",  # no such tree
        "DELETE FROM ledger_frontier",  # as in an archive from before migration 0006
    ],
)
def test_a_frontier_the_checkpoint_does_not_vouch_for_is_rebuilt(
    ledger_archive, fixed_signer, damage
):
    db, pub = ledger_archive
    edit(db, damage)
    fresh = Ingester(db, fixed_signer, clock=lambda: FIXED_TIME)
    assert fresh.ingest_file(THIRD).status == "ingested"
    result = run("verify", "--db", db, "--public-key", pub)
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(db)
    latest = conn.execute(
        "SELECT tree_size, root_hash FROM checkpoints ORDER BY id DESC LIMIT 1"
    ).fetchone()
    assert stored_frontier_root(db) == latest


# -- checks each of which no test broke before (a mutation audit found them: each check could
# -- be switched off and the suite still passed)


def test_an_edited_or_foreign_checkpoint_is_named(ledger_archive, tmp_path):
    db, pub = ledger_archive
    first, note, key_id, root_hash = first_checkpoint(db, "id, note, key_id, root_hash")
    body, _, signature = note.partition("\n\n")
    blob = bytearray(base64.b64decode(signature.rsplit(" ", 1)[1]))
    blob[-1] ^= 1  # the signature no longer verifies
    forged = f"{body}\n\n{signature.rsplit(' ', 1)[0]} {base64.b64encode(bytes(blob)).decode()}\n"
    edit(db, "UPDATE checkpoints SET note = ? WHERE id = ?", (forged, first))
    assert f"FAILED checkpoints {first}: signature does not verify" in failures(
        db, "--public-key", pub
    )
    # its columns alone edited, the note intact: the column is named, and the ledger, which
    # matches the signed root, is not said to have changed (an auditor's review)
    edit(db, "UPDATE checkpoints SET note = ? WHERE id = ?", (note, first))
    edit(
        db, "UPDATE checkpoints SET root_hash = 'ab' || substr(root_hash, 3) WHERE id = ?", (first,)
    )
    assert failures(db, "--public-key", pub) == [
        f"FAILED checkpoints {first}: root_hash differs from the root its note signs"
    ]
    edit(db, "UPDATE checkpoints SET root_hash = ? WHERE id = ?", (root_hash, first))
    edit(db, "UPDATE checkpoints SET tree_size = tree_size - 1 WHERE id = ?", (first,))
    assert failures(db, "--public-key", pub) == [
        f"FAILED checkpoints {first}: tree_size differs from the size its note signs"
    ]
    edit(db, "UPDATE checkpoints SET tree_size = tree_size + 1 WHERE id = ?", (first,))
    # the note's signature in another base64 spelling of its bytes (the spare bits of its
    # last character): not the signature (a review: notes took it while rows did not)
    line = note.rstrip("\n").rsplit(" ", 1)[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    pad = len(line) - len(line.rstrip("="))
    last = line[-pad - 1]
    respelled = line[: -pad - 1] + alphabet[alphabet.index(last) ^ 1] + "=" * pad
    assert base64.b64decode(respelled) == base64.b64decode(line) and respelled != line
    edit(db, "UPDATE checkpoints SET note = replace(note, ?, ?) WHERE id = ?",
         (line, respelled, first))  # fmt: skip
    assert f"FAILED checkpoints {first}: signature does not verify" in failures(
        db, "--public-key", pub
    )
    edit(db, "UPDATE checkpoints SET note = ?, key_id = 'ed25519:ffffffffffffffff'", (note,))
    found = failures(db, "--public-key", pub)
    assert any("signed by an unknown or untrusted key ed25519:ffffffffffffffff" in f for f in found)
    assert key_id != "ed25519:ffffffffffffffff"


def test_entries_appended_after_the_latest_checkpoint_are_named(ledger_archive):
    db, pub = ledger_archive
    conn = sqlite3.connect(db)
    (latest,) = conn.execute("SELECT max(id) FROM checkpoints").fetchone()
    (entries,) = conn.execute("SELECT count(*) FROM ledger").fetchone()
    (before,) = conn.execute(
        "SELECT tree_size FROM checkpoints WHERE id < ? ORDER BY id DESC LIMIT 1", (latest,)
    ).fetchone()
    conn.execute("DELETE FROM checkpoints WHERE id = ?", (latest,))
    conn.commit()
    conn.close()
    found = failures(db, "--public-key", pub)
    assert any(
        f"latest checkpoint covers {before} entries, the ledger has {entries}" in f for f in found
    )


def test_kept_checkpoint_of_another_history_or_key_is_named(ledger_archive, fixed_signer, tmp_path):
    """The kept checkpoint and the archive agree on the size but not on the root (history
    rewritten in place, every signature remade by the key holder); or the kept note is signed
    by a key the auditor does not trust."""
    db, pub = ledger_archive
    origin, size, note = first_checkpoint(db, "origin, tree_size, note")
    other_history = tmp_path / "other-history"
    other_history.write_text(cp.sign(cp.Checkpoint(origin, size, bytes(32)), origin, fixed_signer))
    found = failures(db, "--public-key", pub, "--checkpoint", other_history)
    assert found == [
        f"FAILED --checkpoint {size}: the archive's first entries no longer match this "
        "checkpoint: history was rewritten"
    ]
    foreign = tmp_path / "foreign"
    stranger = Signer(Ed25519PrivateKey.generate())
    foreign.write_text(cp.sign(cp.parse(note)[0], origin, stranger))
    found = failures(db, "--public-key", pub, "--checkpoint", foreign)
    assert f"FAILED --checkpoint {size}: not signed by a trusted key" in found
    # ... of more entries than the archive holds: the cut is named too (a ledger cut off before
    # a key rotation takes the rotation that trusted the key with it: an auditor's review)
    beyond = tmp_path / "beyond"
    beyond.write_text(cp.sign(cp.Checkpoint(origin, 10_000, bytes(32)), origin, stranger))
    found = failures(db, "--public-key", pub, "--checkpoint", beyond)
    assert (
        "FAILED --checkpoint 10000: not signed by a trusted key, and the archive now has fewer "
        "entries than it: entries were removed (the key rotation to the key that signed it "
        "among them?)"
    ) in found
    # another archive's checkpoint, signed by the same key: named as such, not as a rewrite
    elsewhere = tmp_path / "elsewhere"
    other = "archive/56475aa75463474c/0123456789abcdef"
    elsewhere.write_text(cp.sign(cp.Checkpoint(other, size, bytes(32)), other, fixed_signer))
    found = failures(db, "--public-key", pub, "--checkpoint", elsewhere)
    assert found == [
        f"FAILED --checkpoint {size}: a checkpoint of another log ({other}), not of this "
        f"archive ({origin})"
    ]


def test_an_edited_ledger_leaf_is_named(ledger_archive):
    db, pub = ledger_archive
    edit(
        db,
        "UPDATE ledger SET leaf_hash = ? WHERE record_table = 'claims' AND record_id = ?",
        ("00" * 32, "37988c58467bc4cf-6"),
    )
    found = failures(db, "--public-key", pub)
    assert any(f.startswith("FAILED claims 37988c58467bc4cf-6:") and "leaf" in f for f in found), (
        found
    )


def test_a_row_naming_another_key_than_its_statement_is_named(ledger_archive, fixed_signer):
    db, _ = ledger_archive
    conn = sqlite3.connect(db)
    other = Signer(Ed25519PrivateKey.generate())
    conn.execute(
        "INSERT INTO keys (key_id, algorithm, public_key, created_at) VALUES (?, ?, ?, ?)",
        (other.key_id, "ed25519", other.public_key_pem, FIXED_TIME),
    )
    conn.execute("UPDATE claims SET key_id = ? WHERE id = '37988c58467bc4cf-7'", (other.key_id,))
    conn.commit()
    found = failures(db)
    assert any(
        f.startswith("FAILED claims 37988c58467bc4cf-7:")
        and "key_id differs from the statement's" in f
        for f in found
    ), found
