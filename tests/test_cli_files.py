"""Files the CLI reads and writes for the user: unreadable inputs are one clear line, outputs are
written whole or not at all, and keep what they are (a link, a pipe, a file's permissions)."""

from __future__ import annotations

import base64
import json

from archive.similarity import PERMUTATIONS

from .test_robustness import error_lines, run_cli


def test_cli_file_errors_are_one_line_and_leave_no_partial_file(sample_db, fixed_signer, tmp_path):
    """Files the user names that cannot be read or written, and bad export tables: one clear
    line, exit 1, no traceback, and no partial or emptied output file (found in review)."""
    binary = tmp_path / "binary.pem"
    binary.write_bytes(b"\xff\xfe\x00 not text")
    pub = tmp_path / "pub.pem"
    pub.write_text(fixed_signer.public_key_pem)
    nowhere = tmp_path / "no-such-dir" / "out.txt"
    kept = tmp_path / "kept.csv"
    kept.write_text("what was there\n")
    code, out = run_cli("prove", "37988c58467bc4cf-1", "--db", sample_db, "-o", tmp_path / "p.json")
    assert code == 0, out
    cases = [
        (["verify", "--db", sample_db, "--public-key", binary], "not a UTF-8 text file"),
        (["verify", "--db", sample_db, "--checkpoint", binary], "not a UTF-8 text file"),
        (["verify-proof", tmp_path / "p.json", "--public-key", binary], "not a UTF-8 text file"),
        (["export", "--db", sample_db, "--format", "csv", "-o", nowhere], str(nowhere)),
        (["prove", "37988c58467bc4cf-1", "--db", sample_db, "-o", nowhere], str(nowhere)),
        (["export", "--db", sample_db, "--format", "csv", "--table", "claims; x", "-o", kept],
         "no table 'claims; x'"),
    ]  # fmt: skip
    for args, message in cases:
        code, out = run_cli(*args)
        assert code == 1, (args, out)
        assert error_lines(out) and message in error_lines(out)[0], (args, out)
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----\n")
    code, out = run_cli("verify-proof", tmp_path / "p.json", "--public-key", garbage)
    assert code == 1 and error_lines(out)[0].startswith(f"Error: --public-key {garbage}"), out
    assert "malformed proof" not in out  # the key's fault, not the proof's
    assert kept.read_text() == "what was there\n"
    assert not list(tmp_path.glob(".*.tmp"))
    # BLOBs other than image bytes are exported as base64 text
    code, out = run_cli(
        "export", "--db", sample_db, "--format", "jsonl", "--table", "claim_minhash"
    )
    assert code == 0, out
    row = json.loads(out.splitlines()[0])
    assert len(base64.b64decode(row["signature"])) == 2 * PERMUTATIONS  # 16 bits each


def test_output_files_keep_what_they_are(sample_db, tmp_path):
    """-o writes a regular file whole or not at all, keeping its permissions; a link, a pipe or
    /dev/fd/N is written through, as a shell would (found in review)."""
    import stat

    existing = tmp_path / "claims.csv"
    existing.write_text("old\n")
    existing.chmod(0o640)
    code, out = run_cli("export", "--db", sample_db, "--format", "csv", "-o", existing)
    assert code == 0, out
    assert existing.read_text().startswith("id,") and stat.S_IMODE(existing.stat().st_mode) == 0o640
    target = tmp_path / "target.csv"
    target.write_text("")
    link = tmp_path / "link.csv"
    link.symlink_to(target)
    code, out = run_cli("export", "--db", sample_db, "--format", "csv", "-o", link)
    assert code == 0, out
    assert link.is_symlink() and target.read_text().startswith("id,")
    assert not list(tmp_path.glob(".*.tmp"))
