"""`archive ingest`: the command, its progress bar, and the checks made before an archive is
opened or a key is made (a key the archive does not know, a database that cannot be made)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import click

from .capture_files import file_size
from .cli import (
    EXIT_FAILED,
    EXIT_OK,
    FilePath,
    _passphrase,
    cli,
    db_option,
    hold_while_writing,
    key_option,
    stop_status,
)
from .config import Limits, archive_db_path, default_key_path
from .dbfile import check_archive_file, unwritable_directory
from .errors import ArchiveError, KeyFileError, one_line, shortened
from .keys import generate_key, load_key, staged_by_rotation
from .trust import archive_signing_key, signing_refusal


@cli.command()
# readable=False: a file that cannot be read fails alone, in the run, not as a usage error
@click.argument("paths", nargs=-1, required=True, type=FilePath(readable=False))
@db_option
@key_option
@click.option(
    "--quiet",
    "-q",
    is_flag=True,
    help="No progress bar and no line per file; only warnings, errors and the summary.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=0),
    default=None,
    help="Extraction processes beside the one that signs and writes; 0 does everything in one "
    "process [default: the number of cores].",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    help="Run extraction on a Dask cluster (e.g. tcp://10.0.0.5:8786); signing and writing "
    "stay here.",
)
@click.option(
    "--max-payload-mb",
    type=click.IntRange(min=1),
    default=32,
    show_default=True,
    help="Largest decoded payload read (an image, a page); larger ones are skipped, with a "
    "warning for a page (decompression bombs, giant records). HTML pages over 16 MB are "
    "skipped whatever this is: extraction needs ~120 times a page's size in memory.",
)
@click.option(
    "--max-image-megapixels",
    type=click.IntRange(min=1),
    default=64,
    show_default=True,
    help="Images with more pixels are stored but not decoded.",
)
@click.option(
    "--strict",
    is_flag=True,
    help="A file that would go in with warnings (a WACZ that fails its own check, WARC "
    "digests that fail, a page skipped) fails instead, and nothing of it is kept: for scripts "
    "that read only the exit code.",
)
def ingest(
    paths,
    db_path,
    key_path,
    quiet,
    workers,
    scheduler,
    max_payload_mb,
    max_image_megapixels,
    strict,
):
    """Ingest WARC, ARC or WACZ capture files (or directories of them).

    A directory's files are read by name (.warc, .arc, .wacz, optionally .gz); WAT and WET
    files, derived from captures, are refused wherever given. Each file goes in whole, in one
    transaction, or not at all. Files already in the archive are skipped. A file (or a
    directory) that cannot be read fails alone; a problem with the archive itself (a full disk,
    a database that cannot be written, its lock held a minute by a command that commits
    nothing) stops the run there. The first ingest without a key creates one and says where.
    Files that killed runs left (temporary files of processes gone, stored copies no capture
    refers to) are removed, and named. On a terminal a bar shows how far through the files'
    bytes the ingest is, with the file being read.

    Example: archive ingest captures/*.warc.gz
    """
    from .capture_files import find_captures
    from .cluster import DaskExecutor
    from .ingest import Ingester
    from .parallel import default_workers, process_pool, stop_pool

    db_path = archive_db_path(db_path)  # a link followed: what lies beside it is the real file's
    key_path = key_path or default_key_path()
    files, others, unreadable = find_captures(paths)
    if not any(p.is_file() for p in files):
        # nothing to read: say so before a key or a database is created (a directory that
        # cannot be read is said to be that alone, not also empty: an archivist's review)
        refused = {Path(d) for d, _ in unreadable}
        raise click.ClickException(
            "; ".join(
                [
                    f"{p}: no capture files (.warc, .arc, .wacz, optionally .gz) in it"
                    if p.is_dir()
                    # a FIFO or a device exists: "no such file" said otherwise (the sweep)
                    else f"{p}: not a regular file"
                    if p.exists()
                    else f"{p}: no such file"
                    for p in map(Path, paths)
                    if p not in refused
                ]
                + [f"{d}: cannot be read ({why})" for d, why in unreadable]
            )
        )
    if scheduler is not None and not scheduler.strip():
        # an unset variable ("--scheduler $ADDRESS") must not turn into a local ingest
        raise click.ClickException("--scheduler: give the scheduler's address (tcp://HOST:PORT)")
    if scheduler is not None and workers is not None:
        # (it was ignored without a word)
        raise click.ClickException(
            "--workers and --scheduler: the cluster's workers extract with --scheduler; give "
            "one or the other"
        )
    cluster = None
    try:
        # first: a mistyped --db naming another program's file gets no key and no lock file
        check_archive_file(db_path)
        if problem := unwritable_directory(db_path):
            # before a key is made: a --db that cannot be made left a new key behind (sweep)
            raise click.ClickException(f"--db {db_path}: {problem}")
        if scheduler is not None:
            # first: a cluster that cannot work leaves nothing behind, not even a new key
            cluster = DaskExecutor(scheduler)
        signer = None
        if not key_path.exists():
            existing = archive_signing_key(db_path)
            if existing:
                # a mistyped --key or ARCHIVE_KEY must not start signing with a new key
                staged = staged_by_rotation(key_path.parent.resolve() / key_path.name)
                raise click.ClickException(
                    f"no signing key at {key_path}, and this archive is signed by {existing}: "
                    + (
                        # a rotation killed between its two renames (an archivist's review)
                        f"a key rotation left {staged[-1]} and stopped before putting it in "
                        f"place; if it holds {existing} (`archive keys show --key` it), move it "
                        f"to {key_path}"
                        if staged
                        else "give its key file with --key or ARCHIVE_KEY (a new key comes in "
                        "with `archive keys rotate`)"
                    )
                )
            try:
                signer = generate_key(key_path, os.environ.get("ARCHIVE_KEY_PASSPHRASE"))
                click.echo(f"Created a new signing key {signer.key_id} at {key_path}", err=True)
            except KeyFileError:
                if not key_path.exists():  # not made by another ingest a moment ago: why not
                    raise
                # another ingest created it a moment ago: use that one
        if signer is None:
            signer = load_key(key_path, _passphrase(key_path, prompt=True))
        refusal = signing_refusal(db_path, key_path, signer)
        if refusal:  # before the archive is opened: a refused ingest changes nothing
            raise KeyFileError(refusal)
        # taken once the key is in hand (a bad key leaves nothing behind), before the database
        # is opened or made
        hold_while_writing(db_path, creating=True)
        limits = Limits(
            max_payload_bytes=max_payload_mb << 20,
            max_image_pixels=max_image_megapixels * 1_000_000,
            max_html_bytes=min(Limits().max_html_bytes, max_payload_mb << 20),
        )
        ingester = Ingester(db_path, signer, limits)
        if ingester.db.created:
            # said, as a new key is: a --db on a disk not mounted, or mistyped, started a second
            # archive without a word (an archivist's review)
            click.echo(f"Created a new archive at {db_path}", err=True)
    except ArchiveError as e:
        if cluster is not None:
            cluster.shutdown()
        raise click.ClickException(str(e)) from None
    if ingester.swept:
        click.echo(
            f"Removed {len(ingester.swept)} file(s) that interrupted runs left: "
            + ", ".join(one_line(str(p)) for p in ingester.swept[:3])
            + (f", ... (in {ingester.swept[0].parent})" if ingester.swept[3:] else ""),
            err=True,
        )
    ingester.strict = strict
    if cluster is not None:
        ingester.executor = cluster
    else:
        ingester.executor = process_pool(default_workers() if workers is None else workers)

    for directory, why in unreadable:
        # a failure, as a file that cannot be read is: a script must not take the run for whole
        click.echo(
            f"Error: {one_line(str(directory))}: cannot be read ({why}); no captures were "
            "looked for in it",
            err=True,
        )
    if others:
        shown = ", ".join(one_line(str(p)) for p in others[:3]) + (", ..." if others[3:] else "")
        click.echo(
            f"Note: {len(others)} file(s) in the directories given are not captures by their "
            f"names (.warc, .arc, .wacz, optionally .gz) and were not read: {shown}",
            err=True,
        )
    results: list = []
    stop = interrupted = None
    broken = False
    try:
        broken, stop, interrupted = _ingest_files(ingester, files, results, quiet)
    finally:
        try:
            ingester.drop_ahead()  # a file started ahead whose turn did not come
        finally:
            # stopped however the loop ended (after an interrupt or an error, the records still
            # queued for the workers are not wanted): a second Ctrl-C that escaped it left the
            # workers alive, and the exit waited for them for ever (found in review)
            if ingester.executor is not None:
                # a run stopped by the archive (its database, the key, the clock) wants nothing
                # its workers hold either
                stop_pool(ingester.executor, cancel=broken or interrupted is not None or _raising())

    failed = sum(r.status == "failed" for r in results)
    done = [r for r in results if r.status == "ingested"]  # a failed file added nothing
    # a run stopped early says how far it got: "3 of 5 files"
    read = f"{len(results)} of " if len(results) < len(files) else ""
    # what went in with a warning (a WACZ that failed its own check, a record's length that
    # looks wrong, digests that failed) is counted: a batch's summary said nothing of them
    warned = sum(bool(r.warnings or r.digest_failures) for r in done)
    summary = (
        f"{read}{_n(len(files) if read else len(results), 'file')}: {len(done)} ingested"
        + (f" ({warned} with warnings)" if warned else "")
        + ", "
        f"{sum(r.status == 'already' for r in results)} already in the archive, {failed} failed; "
        + _counts(
            sum(r.articles for r in done), sum(r.claims for r in done), sum(r.images for r in done)
        )
        + f", {sum(r.skipped for r in done)} skipped"
        + (
            f"; {len(unreadable)} director{'y' if len(unreadable) == 1 else 'ies'} not read"
            if unreadable
            else ""
        )
    )
    try:
        click.echo(summary)
    except BrokenPipeError:
        raise  # `archive ingest ... | head`: quieted, as every command's
    except OSError as e:
        # the files are in the archive: the failure is the output's, not theirs (a stdout on a
        # full disk read as a failed ingest: an archivist's review)
        raise click.ClickException(
            f"standard output: {e.strerror or e}; the summary could not be written ({len(done)} "
            "ingested, which stay in the archive)"
        ) from None
    digest = [r for r in done if r.digest_failures]
    if digest:
        named = ", ".join(f"{one_line(r.path)} ({r.digest_failures})" for r in digest[:5])
        click.echo(
            f"Warning: {sum(r.digest_failures for r in digest)} records failed their WARC digest "
            f"check, in {named}{', ...' if digest[5:] else ''} (see capture_records.digest)",
            err=True,
        )
    if interrupted is not None:
        name = one_line(interrupted.path)
        status, word = stop_status(stop)
        click.echo(
            f"{word}: {name} was ingested just before it (in the summary above)"
            if interrupted.status == "ingested"
            else f"{word}: {name} was not ingested (nothing of it was kept)",
            err=True,
        )
        sys.exit(status)
    sys.exit(EXIT_FAILED if failed or broken or unreadable else EXIT_OK)


def _ingest_files(ingester, files: list[Path], results: list, quiet: bool):
    """Ingest ``files`` in turn, saying how each went, into ``results``: (whether the archive
    broke off the run, the interrupt that stopped it, and what it interrupted)."""
    from .ingest import FileResult

    broken, stop, interrupted = False, None, None
    sizes = [file_size(path) for path in files]
    with click.progressbar(
        length=max(1, sum(sizes)),  # bytes: a single large file shows its progress too
        label="Ingesting",
        file=sys.stderr,
        hidden=quiet or not sys.stderr.isatty(),
        item_show_func=lambda name: name,
        width=16,
    ) as bar:

        def say(line: str) -> None:
            if not bar.hidden:  # on the bar's own line it read "Ingesting [#--] 2%Error: ..."
                click.echo("\r\x1b[2K", nl=False, err=True)
            click.echo(shortened(line), err=True)  # a record's 100,000-character date, echoed

        for i, (path, size) in enumerate(zip(files, sizes, strict=True)):
            progress = _FileProgress(bar, _fit(one_line(path.name)), size)
            ingester.on_progress = None if bar.hidden else progress
            try:
                # the next file is started while this one is finished
                result = ingester.ingest_file(path, next_path=(files[i + 1 :] or [None])[0])
            except ArchiveError as e:  # the database, the key, the cluster: nothing more goes in
                say(f"Error: {e}")
                broken = True
                break
            except KeyboardInterrupt as e:  # its transaction was rolled back; the files before stay
                stop = e
                interrupted = ingester.interrupted()
                if interrupted is None or interrupted.path != str(path):  # before it began
                    interrupted = FileResult(path=str(path), status="failed")
                elif interrupted.status == "ingested":  # committed just before the interrupt
                    results.append(interrupted)
                break
            results.append(result)
            progress.done()
            for warning in result.warnings:
                say(f"Warning: {one_line(warning)}")
            if result.status == "failed":
                say(f"Error: {one_line(result.error)}")
            elif result.status == "already" and not quiet:
                say(f"Already in the archive: {one_line(str(path))}")
            elif result.status == "ingested" and not quiet and len(files) > 1:
                # a log (cron, a service) shows which files went in, not only how many
                say(
                    f"Ingested: {one_line(str(path))} "
                    f"({_counts(result.articles, result.claims, result.images)})"
                )
    return broken, stop, interrupted


def _raising() -> bool:
    """Whether an exception is on its way out of the ``finally`` block this is called from."""
    return sys.exc_info()[0] is not None


class _FileProgress:
    """Moves the bar through one file as its records are written: by bytes of the file, at
    most a hundred steps a file, its name shown beside the bar."""

    def __init__(self, bar, name: str, size: int):
        self.bar, self.name, self.size, self.counted = bar, name, size, 0

    def __call__(self, position: int) -> None:
        step = min(position, self.size) - self.counted
        if step > 0 and step * 100 >= self.size:
            self.bar.update(step, self.name)
            self.counted += step

    def done(self) -> None:
        self.bar.update(self.size - self.counted, self.name)
        self.counted = self.size


def _fit(name: str) -> str:
    """A file name cut to what the terminal has left beside a bar 16 wide (~48 columns): a
    longer line wraps, and every redraw leaves a row behind."""
    try:  # the bar is drawn on stderr, whatever stdout is
        columns = os.get_terminal_size(sys.stderr.fileno()).columns
    except OSError:
        columns = shutil.get_terminal_size().columns
    room = max(12, columns - 49)
    return name if len(name) <= room else "…" + name[-(room - 1) :]


def _n(count: int, word: str) -> str:
    """ "1 article", "24 claims" """
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def _counts(articles: int, claims: int, images: int) -> str:
    return f"{_n(articles, 'article')}, {_n(claims, 'claim')}, {_n(images, 'image')}"
