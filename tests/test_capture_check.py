"""``archive verify --captures`` (archive/capture_check.py): each stored capture read again,
and what ingest recorded of its records compared with the file (split from test_verify.py)."""

from __future__ import annotations

import re
import sqlite3


def test_verify_captures_reads_each_file_again_and_names_what_ingest_recorded_otherwise(
    ledger_archive, copy_db
):
    """capture_records and the captures' record counts are derived from the file and not
    signed: edited, verify said OK (left from the eleventh round). --captures reads each stored
    file again and compares; without it they are not looked at."""
    from click.testing import CliRunner

    from archive.cli import cli

    db = copy_db(ledger_archive[0])

    def verify(*extra) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["verify", "--db", str(db), *extra])
        return result.exit_code, result.output

    code, out = verify("--captures")
    assert code == 0 and re.search(r"^capture records\s+2 verified\s+0 failed", out, re.M), out
    # in one column with the rest ("capture records" is the longest name: it was one off)
    assert len({line.index(" verified") for line in out.splitlines() if " verified" in line}) == 1
    conn = sqlite3.connect(db)
    sha, member, offset, url = conn.execute(
        'SELECT capture_sha256, member, "offset", url FROM capture_records '
        "WHERE payload_sha256 IS NOT NULL AND type = 'response' AND role != 'article' "
        "ORDER BY rowid LIMIT 1"
    ).fetchone()
    key = 'WHERE capture_sha256 = ? AND member = ? AND "offset" = ?'
    conn.execute(f"UPDATE capture_records SET url = 'https://elsewhere.example/' {key}",
                 (sha, member, offset))  # fmt: skip
    conn.execute(f"UPDATE capture_records SET digest = 'failed', payload_sha256 = ? {key}",
                 ("0" * 64, sha, member, offset))  # fmt: skip
    gone = conn.execute(
        'SELECT "offset" FROM capture_records WHERE capture_sha256 = ? ORDER BY "offset" DESC',
        (sha,),
    ).fetchone()[0]
    conn.execute('DELETE FROM capture_records WHERE capture_sha256 = ? AND "offset" = ?',
                 (sha, gone))  # fmt: skip
    conn.execute("UPDATE captures SET records = records + 5 WHERE sha256 = ?", (sha,))
    conn.execute(  # rows of a capture the archive does not hold
        'INSERT INTO capture_records (capture_sha256, "offset") VALUES (?, 0)', ("f" * 64,)
    )
    conn.commit()
    conn.close()
    code, out = verify()
    assert code == 0, out  # not signed: only --captures looks
    code, out = verify("--captures")
    assert code == 1, out
    failed = [line for line in out.splitlines() if line.startswith("FAILED capture records")]
    assert all(line.startswith(f"FAILED capture records {sha}: ") for line in failed[:-1]), out
    said = "\n".join(failed)
    assert f"record at {offset}: url is 'https://elsewhere.example/', the file says {url!r}" in said
    assert f"record at {offset}: digest is 'failed', the file says 'passed'" in said
    assert f"record at {offset}: payload_sha256 or payload_bytes differ" in said
    assert f"record at {gone}: in the file, not in capture_records" in said
    assert "captures.records is" in said
    assert f"FAILED capture records {'f' * 64}: 1 rows of a capture not held" in out, out
    assert re.search(r"^capture records\s+1 verified\s+2 failed", out, re.M), out
    code, out = verify("--captures", "--no-files")
    assert code == 1 and "--captures reads the stored capture files" in out, out
    # a hash removed where any ingest would have made one (it passed), and a size of another
    # type (a traceback): found in review
    other = copy_db(ledger_archive[0])
    conn = sqlite3.connect(other)
    sha, offset, size = conn.execute(
        'SELECT capture_sha256, "offset", payload_bytes FROM capture_records '
        "WHERE payload_sha256 IS NOT NULL AND role != 'article' ORDER BY rowid LIMIT 1"
    ).fetchone()
    conn.execute(
        "UPDATE capture_records SET payload_sha256 = NULL, payload_bytes = NULL "
        'WHERE capture_sha256 = ? AND "offset" = ?',
        (sha, offset),
    )
    conn.execute(
        "UPDATE capture_records SET payload_bytes = 'abc' WHERE rowid = (SELECT min(rowid) "
        "FROM capture_records WHERE payload_sha256 IS NOT NULL AND capture_sha256 != ?)",
        (sha,),
    )
    conn.commit()
    conn.close()
    db = other
    code, out = verify("--captures")
    assert code == 1 and "Traceback" not in out, out
    said = "\n".join(line for line in out.splitlines() if line.startswith("FAILED"))
    assert (
        f"record at {offset}: no payload_sha256, though every ingest reads its {size:,}-byte "
        "payload" in said
    ), out
    assert "payload_sha256 or payload_bytes differ" in said, out
