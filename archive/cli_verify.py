"""``archive verify``, ``archive prove`` and ``archive verify-proof``: the auditor's commands."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import sys
from pathlib import Path

import click

from .cli import (
    EXIT_FAILED,
    EXIT_OK,
    FilePath,
    cli,
    db_option,
    output_option,
    output_stream,
    read_text,
    text_value,
)
from .config import default_db_path
from .db import connect
from .errors import ArchiveError, one_line


def _trusted_pem(public_key: Path | None, trust: str | None, db) -> str | None:
    """The PEM to pin: a file, or a key id from the database the user has checked elsewhere
    (an empty one is an error, never "nothing pinned")."""
    from .keys import load_public_key_pem
    from .trust import stored_key_pem

    if public_key is not None and trust is not None:
        # one key is pinned: a --trust beside a --public-key was ignored, and a mistyped id
        # passed unnoticed (found in review)
        raise click.UsageError("give --public-key or --trust, not both")
    if public_key is not None:
        pem = read_text(public_key, "--public-key")
        load_public_key_pem(pem, f"--public-key {public_key}")
        return pem
    return None if trust is None else stored_key_pem(db, trust)


@cli.command()
@db_option
@click.option(
    "--public-key",
    type=FilePath(exists=True, dir_okay=False, regular=True),
    help="Trust only this public key (PEM), and keys it rotated to.",
)
@click.option("--trust", metavar="KEY_ID", help="Trust only this key id (and its rotations).")
@click.option(
    "--checkpoint",
    "checkpoint_file",
    type=FilePath(exists=True, dir_okay=False, regular=True),
    help="A checkpoint kept earlier: check that the archive still extends it.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.option("--no-files", is_flag=True, help="Skip re-hashing the stored capture files.")
@click.option(
    "--no-sqlite-check",
    is_flag=True,
    help="Skip SQLite's checks of the database file (PRAGMA integrity_check: damaged pages, "
    "also in the indexes the row checks do not read, and every index's entries against its "
    "table) and of its full-text search indexes against their tables (FTS5's "
    "integrity-check).",
)
@click.option(
    "--derived",
    is_flag=True,
    help="Also recount the counts the speakers and claim_appearances views show (the tables "
    "speaker_sites and claim_texts, derived and not signed) from the signed claims, and compare "
    "(7 s at 690,000 claims, beside the other checks).",
)
@click.option(
    "--captures",
    is_flag=True,
    help="Also read every stored capture file again and compare what ingest recorded of its "
    "records (capture_records: types, ids, URLs, times, statuses, payload hashes, digest "
    "results; the captures' record counts: derived from the file and not signed) with what the "
    "file says (warcio's pace: ~150 MB/s a core).",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Processes checking signed rows [default: the number of cores].",
)
def verify(
    db_path,
    public_key,
    trust,
    checkpoint_file,
    as_json,
    no_files,
    no_sqlite_check,
    derived,
    captures,
    workers,
):
    """Re-derive every hash and statement and check every signature, the ledger and checkpoints.

    Prints verified / failed / unsigned per table and names every failure. Exit code 0 only
    when everything verifies. Notes (not failures) name stored files that no capture refers to,
    as an interrupted ingest leaves them. On a terminal, a bar shows how far each long stage
    is: the signed rows, the checks of the database as a whole, then the stored files.

    Example: archive verify --public-key archive-key.pub --checkpoint kept-checkpoint.txt
    """
    from .parallel import default_workers
    from .verify import verify as run_verify

    db_path = db_path or default_db_path()
    if captures and no_files:
        raise click.ClickException("--captures reads the stored capture files: not with --no-files")
    bars = _StageBars(hidden=not sys.stderr.isatty())
    try:
        db = connect(db_path, upgrade=False)
        pem = _trusted_pem(public_key, trust, db)
        note = read_text(checkpoint_file, "--checkpoint") if checkpoint_file else None
        report = run_verify(
            db,
            pem,
            check_files=not no_files,
            checkpoint_note=note,
            workers=workers or default_workers(),
            check_sqlite=not no_sqlite_check,
            check_derived=derived,
            check_captures=captures,
            progress=bars,
        )
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    except sqlite3.DatabaseError as e:
        raise click.ClickException(f"{db_path}: the database is damaged ({e})") from None
    finally:
        bars.close()  # before any message: it would be written on the bar's line
    if as_json:
        click.echo(json.dumps(report.as_dict(), indent=2))
    else:
        click.echo(f"Trust: {report.trust}")
        width = max([14, *map(len, report.counts)])  # "capture records" is 15
        for table, c in report.counts.items():
            click.echo(
                f"{table:{width}} {c['verified']:7} verified {c['failed']:5} failed "
                f"{c['unsigned']:5} unsigned"
            )
        ledger = report.ledger
        click.echo(f"Ledger: {ledger.get('entries', 0)} entries, root {ledger.get('root', '')}")
        if "outside_checkpoint" in ledger:
            click.echo(f"Kept checkpoint: {ledger['outside_checkpoint']}")
        for failure in report.failures:
            click.echo(f"FAILED {failure}")
        for note in report.notes:
            click.echo(f"Note: {note}")
        click.echo("OK: everything verifies" if report.ok else f"{len(report.failures)} problems")
    sys.exit(EXIT_OK if report.ok else EXIT_FAILED)


class _StageBars:
    """On a terminal, a bar for each long stage of verify as it comes: the signed rows, the
    checks of the database as a whole (SQLite's may run on after the rows), the stored files
    hashed, then (``--captures``) read again."""

    LABELS = {
        "records": "Checking records",
        "database": "Database checks",
        "capture files": "Hashing files",
        "capture records": "Reading captures",
    }

    def __init__(self, hidden: bool):
        self.hidden, self.stage, self.done = hidden, None, 0
        self._bars = contextlib.ExitStack()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.hidden:
            return
        if stage != self.stage:
            self.close()
            self.stage, self.done = stage, 0
            self.bar = self._bars.enter_context(
                click.progressbar(
                    length=max(1, total),
                    label=self.LABELS[stage].ljust(16),  # the bars one under another
                    file=sys.stderr,
                    width=16,
                )
            )
        if done > self.done:
            self.bar.update(done - self.done)
            self.done = done

    def close(self) -> None:
        self._bars.close()


@cli.command()
@click.argument("record", callback=text_value)
@db_option
@output_option("the proof ")
def prove(record, db_path, output):
    """Write a self-contained proof for one record (claim, article, image use, capture).

    The proof holds the statement, its signature, the public key, an inclusion proof, the
    signed checkpoint and the archive's key rotations; `archive verify-proof` checks it without
    the database.

    Example: archive prove 37988c58467bc4cf-9 -o claim.proof.json
    """
    from .proofs import make_proof

    try:
        db = connect(db_path or default_db_path(), upgrade=False)
        proof = make_proof(db.conn, record)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    with output_stream(output) as out:
        out.write(json.dumps(proof, indent=2, ensure_ascii=False) + "\n")


@cli.command("verify-proof")
@click.argument("proof_file", type=FilePath(exists=True, dir_okay=False, regular=True))
@click.option(
    "--public-key",
    required=True,
    type=FilePath(exists=True, dir_okay=False, regular=True),
    help="The archive's public key (PEM), obtained from its owner.",
)
def verify_proof(proof_file, public_key):
    """Check a proof from `archive prove`, with no database.

    Example: archive verify-proof claim.proof.json --public-key archive-key.pub
    """
    from .keys import load_public_key_pem
    from .proofs import check_proof, checkpoint_signer, follow_rotations

    pem = read_text(public_key, "--public-key")
    try:
        load_public_key_pem(pem, f"--public-key {public_key}")  # the key's fault, not the proof's
        proof = json.loads(read_text(proof_file, "proof"))
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.ClickException(f"{proof_file}: not JSON ({e})") from None
    except RecursionError:
        raise click.ClickException(f"{proof_file}: JSON nested too deeply to be a proof") from None
    problems = (
        check_proof(proof, pem)
        if isinstance(proof, dict)
        else ["malformed proof: not a JSON object"]
    )
    for problem in problems:  # one line each: a proof's text may hold a newline and "OK"
        click.echo(f"FAILED {one_line(problem)}")
    if problems:
        sys.exit(EXIT_FAILED)
    signer = checkpoint_signer(proof, *follow_rotations(proof, load_public_key_pem(pem)))
    click.echo(
        f"OK: {proof['record_table']} {proof['record_id']} is entry {proof['leaf_index']} of "
        f"{proof['tree_size']} in a checkpoint signed by {signer}"
        + (f" (the record by {proof['key_id']})" if signer != proof["key_id"] else "")
    )
    unplaced = [r for r in proof.get("rotations", []) if "leaf_index" not in r]
    if unplaced:
        click.echo(
            f"Note: {len(unplaced)} key rotation(s) in the proof carry no leaf index (a proof "
            "made before they did): whether a retired key signed after its rotation was not "
            "checked"
        )
