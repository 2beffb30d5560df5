"""The ``archive`` command: parses options, calls the library, prints. Nothing else lives here."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import sqlite3
import sys
import threading
from pathlib import Path

import click

from . import __version__, stops
from .config import archive_db_path, default_db_path
from .db import connect
from .dbfile import check_archive_file
from .errors import ArchiveError, one_line, printable, shortened
from .keys import key_is_encrypted
from .stops import Terminated

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def stop_status(e: KeyboardInterrupt) -> tuple[int, str]:
    """The exit status and word for a stop: 130 and "Interrupted" for Ctrl-C (128 + SIGINT, as
    shells report it), 143 and "Terminated" for SIGTERM, 129 and "Hangup" for SIGHUP."""
    return (e.status, e.word) if isinstance(e, Terminated) else (128 + signal.SIGINT, "Interrupted")


class ArchiveGroup(click.Group):
    """Ctrl-C ends any command with status 130, SIGTERM with 143, SIGHUP with 129, and one word,
    not click's "Aborted!" and 1: a script running many ingests can tell a stop from a failure."""

    def invoke(self, ctx):
        _utf8_output()
        # signal handlers can only be set in the main thread (the CLI run from a thread: none)
        main = threading.current_thread() is threading.main_thread()
        stops.reset()
        # a signal the process was started ignoring (`archive ingest ... &` from a script
        # ignores Ctrl-C) stays ignored
        previous = {
            s: signal.signal(s, stops.stop)
            for s in stops.SIGNALS
            if main and signal.getsignal(s) != signal.SIG_IGN
        }
        try:
            try:
                done = super().invoke(ctx)
            except click.exceptions.Exit:
                stops.check()  # a stop a library swallowed near the end is still a stop
                raise
            stops.check()
            return done
        except KeyboardInterrupt as e:
            stop = e
        except (OSError, UnicodeError, OverflowError, sqlite3.Error) as e:
            # what the commands do not expect of their input (a name too long for the file
            # system, a path under a file, bytes that are not text, a number too large): one
            # line, not a traceback (found in review); a database error no command expected
            # (a full disk under `keys rotate`: an archivist's review)
            if isinstance(e, BrokenPipeError):  # `archive export | head`: click's main
                raise  # quiets the pipe and exits 1, as before
            raise click.ClickException(_unexpected(e, ctx.meta.get(_DB))) from None
        except ArchiveError as e:  # one a command did not turn into its own line
            raise click.ClickException(shortened(printable(str(e)))) from None
        except click.ClickException as e:
            e.message = shortened(printable(e.message))  # a path in bytes that are not UTF-8
            raise
        except click.Abort as e:
            # click's prompts turn Ctrl-C (and an end of input) into Abort themselves
            if not isinstance(e.__context__, KeyboardInterrupt):
                raise
            stop = e.__context__
        finally:
            try:  # a second signal here must not leave a stop noted for whatever runs next
                for s, handler in previous.items():
                    signal.signal(s, handler)
            finally:
                stops.reset()
        status, word = stop_status(stop)
        click.echo(word, err=True)
        ctx.exit(status)


def _utf8_output() -> None:
    """Standard output in UTF-8 whatever the locale says, as files written with -o are (an
    export or a proof to stdout under a Latin-1 locale failed part-way, blaming "a value that
    is not text": an archivist's review); messages on standard error in the locale's encoding,
    what it cannot show escaped rather than failing."""
    for stream, how in ((sys.stdout, {"encoding": "utf-8"}), (sys.stderr, {})):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding != "utf8" and hasattr(stream, "reconfigure"):
            with contextlib.suppress(ValueError, OSError):  # (already written to: left)
                stream.reconfigure(errors="backslashreplace", **how)


def _unexpected(e: BaseException, db: Path | None = None) -> str:
    """One line for an error no command expected; ``db``, the command's archive database, is
    named in a database error."""
    if isinstance(e, FileExistsError | NotADirectoryError) and e.filename is not None:
        if Path(e.filename).is_file() or not Path(e.filename).parent.is_dir():
            return f"{e.filename}: a file is where a directory would be"
    if isinstance(e, OSError) and e.strerror:
        where = f"{e.filename}: " if e.filename is not None else ""
        return f"{where}{e.strerror}"
    if isinstance(e, sqlite3.Error):  # the commands name the file where it matters
        where = f"{db}: " if db is not None else ""
        # (Python's message quotes the bytes, which print as garbage)
        column = re.match(r"Could not decode to UTF-8 column '([^']*)'", str(e))
        if column:
            return (
                f"{where}the archive database holds bytes that are not UTF-8 text in a "
                f"{column[1]!r} column (altered, or the file is damaged): `archive verify` "
                "names the rows"
            )
        text = one_line(str(e))[:200]
        damaged = any(word in text for word in ("malformed", "corrupt", "not a database"))
        return f"{where or 'the archive database: '}{text}" + (
            "; `archive verify` checks it" if damaged else ""
        )
    if isinstance(e, UnicodeError):
        return f"a value that is not text ({type(e).__name__}: {str(e)[:200]})"
    if isinstance(e, OverflowError):
        return f"a number too large ({str(e)[:200]})"
    return str(e)[:300]


@contextlib.contextmanager
def output_stream(path: Path | None):
    """Standard output, or ``path`` written whole or not at all: a temporary file beside it,
    renamed into place only when everything was written (an error leaves no partial file)."""
    if path is None:
        if sys.stdout is None:  # started with it closed (`>&-`)
            raise click.ClickException("standard output is closed: give -o FILE")
        try:
            yield sys.stdout
            sys.stdout.flush()  # a full disk behind `> file` fails here, not at exit
        except BrokenPipeError:  # `archive export | head`: ArchiveGroup quiets it
            raise
        except OSError as e:
            raise click.ClickException(f"standard output: {e.strerror or e}") from None
        return
    if not path.name:
        raise click.ClickException("-o: an empty path")
    if refusal := _precious(path):
        raise click.ClickException(f"{path}: {refusal}; not overwritten (choose another -o)")
    if path.is_symlink() or (path.exists() and not path.is_file()):
        # a pipe, a device, /dev/fd/N, a link: written through, as a shell would
        try:
            with open(path, "w", encoding="utf-8", newline="") as f:
                yield f
        except OSError as e:
            raise click.ClickException(f"{path}: {e.strerror or e}") from None
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        try:
            with open(tmp, "w", encoding="utf-8", newline="") as f:
                yield f
            if path.exists():
                shutil.copymode(path, tmp)  # the file replaced keeps its permissions
            os.replace(tmp, path)
        except OSError as e:
            raise click.ClickException(f"{path}: {e.strerror or e}") from None
    finally:
        tmp.unlink(missing_ok=True)


def _precious(path: Path) -> str | None:
    """What ``path`` holds that an output must never replace: an SQLite database (an archive)
    or a private key (`export -o archive.db`, `keys export -o signing-key.pem` replaced them:
    found in review)."""
    from .keys import file_head, holds_private_key

    if (file_head(path, 16) or b"") == b"SQLite format 3\x00":
        return "an SQLite database"
    if holds_private_key(path):
        return "a private key file"
    return None


def hold_while_writing(db_path: Path, creating: bool = False) -> None:
    """Keep ``archive serve`` off the archive until this command ends: it writes. ``creating``:
    the command may make the archive (the first ingest), so the lock is taken even before the
    database exists (serve could otherwise open it while it is being filled)."""
    from .serve import hold_for_writing

    if creating:
        db_path.parent.mkdir(parents=True, exist_ok=True)
    if creating or db_path.exists():
        lock = hold_for_writing(db_path)
        click.get_current_context().call_on_close(lambda: os.close(lock))


def read_text(path: Path, what: str) -> str:
    """A text file the user named, or one clear line saying why it cannot be read."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise click.ClickException(f"{what} {path}: not a UTF-8 text file") from None
    except OSError as e:
        raise click.ClickException(f"{what} {path}: {e.strerror or e}") from None


class FilePath(click.Path):
    """A path option or argument: never empty (``Path("")`` is the current directory, so
    `ingest ""` ingested it), and, where the command reads the file whole (``regular``), a
    regular file (a FIFO made the command wait forever). Both found in review."""

    def __init__(self, *args, regular: bool = False, **kwargs):
        super().__init__(*args, path_type=Path, **kwargs)
        self.regular = regular

    def convert(self, value, param, ctx):
        from .keys import anonymous_pipe

        if value == "":
            self.fail("an empty path", param, ctx)
        path = super().convert(value, param, ctx)
        # a pipe a process hands over (<(cat key.pub), /dev/stdin) has a writer: read it
        if self.regular and path.exists() and not path.is_file() and not anonymous_pipe(path):
            self.fail(f"{path}: not a regular file", param, ctx)
        return path


def output_option(what: str = ""):
    """``-o/--output FILE``: written whole or not at all (``output_stream``)."""
    return click.option(
        "-o",
        "--output",
        type=FilePath(dir_okay=False),
        help=f"Write {what}here instead of standard output.",
    )


#: ctx.meta's key for the command's archive database (shared by nested contexts): named in a
#: database error no command expected (ArchiveGroup.invoke)
_DB = "archive.db"


def _remember_db(ctx: click.Context, param, value):
    ctx.meta[_DB] = Path(value) if value is not None else default_db_path()  # as given
    return value


def text_value(ctx, param, value):
    r"""A click callback for an argument compared with the archive's text (an id, a URL): bytes
    that are not UTF-8 as ``\xff`` (SQLite refused the surrogates Python keeps them as, in a
    message naming no argument); nothing in the archive holds such bytes."""
    return None if value is None else printable(value)


def db_option(fn):
    return click.option(
        "--db",
        "db_path",
        type=FilePath(dir_okay=False, regular=True),
        default=None,
        callback=_remember_db,
        help="Archive database [env ARCHIVE_DB; default: $ARCHIVE_HOME/archive.db, else "
        "records/archive.db]",
    )(fn)


def key_option(fn):
    return click.option(
        "--key",
        "key_path",
        # readable=False: a key file that cannot be read is one line (load_key), as through
        # ARCHIVE_KEY, not a usage error
        type=FilePath(dir_okay=False, regular=True, readable=False),
        default=None,
        help="Private signing key [env ARCHIVE_KEY; default: ~/.config/archive/signing-key.pem]; "
        "a passphrase-protected key's passphrase comes from ARCHIVE_KEY_PASSPHRASE, or is asked "
        "for",
    )(fn)


def _passphrase(path: Path, prompt: bool) -> str | None:
    value = os.environ.get("ARCHIVE_KEY_PASSPHRASE")
    if value is None and prompt and key_is_encrypted(path) and sys.stdin.isatty():
        value = click.prompt(f"Passphrase for {path}", hide_input=True, err=True)
    return value


@click.group(cls=ArchiveGroup)
@click.version_option(__version__, prog_name="archive")
def cli():
    """Offline archival and provenance for news articles.

    Example: archive ingest captures/ && archive verify && archive serve
    """


@cli.command()
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind to.")
@click.option(
    "--port",
    default=8001,
    show_default=True,
    type=click.IntRange(0, 65535),
    help="Port to listen on (0: one the system chooses, printed by the server as it starts).",
)
@click.option(
    "--metadata",
    type=FilePath(exists=True, dir_okay=False, regular=True),
    help="Datasette metadata file [default: the project's datasette-metadata.json].",
)
@click.option(
    "--no-cache", is_flag=True, help="Do not keep responses in memory (for measuring queries)."
)
@click.option(
    "--no-mmap",
    is_flag=True,
    help="Read the database with read() calls, not through a memory map: slower (at a million "
    "claims the heaviest canned query takes up to 1.5 x as long), but an I/O error (a failing "
    "disk, a network file system) is then an error page, not the end of the server.",
)
@click.option(
    "--captures",
    is_flag=True,
    help="Also publish the stored capture files for download (a link beside each in the "
    "captures table), so that readers can check them too. A capture holds every exchange its "
    "crawler recorded, request headers (cookies) included: publish only what may be public.",
)
def serve(db_path, host, port, metadata, no_cache, no_mmap, captures):
    """Publish the archive read-only with Datasette.

    The database is opened immutable, with a SQL time limit and a row limit; no canned query
    writes. Binds to 127.0.0.1 unless told otherwise. Immutable means the file must not change
    while it is served: an ingest into it is refused until serve stops (and serve waits for no
    ingest: it refuses to start while one runs). One serve at a time per archive file: a
    second is refused too (serve a copy to publish it twice).

    Example: archive serve --port 8001
    """
    from .serve import check_port, datasette_command, hold_for_serving

    db_path = db_path or default_db_path()
    try:
        connect(db_path, upgrade=False).conn.close()
        check_port(host, port)
        # kept by the Datasette process this one becomes
        # beside the real file, which writers reaching it through a link lock too; Datasette
        # is given the path as given, whose name is the site's (/archive/...)
        unlocked = hold_for_serving(archive_db_path(db_path)) is None
        args = datasette_command(
            db_path,
            host=host,
            port=port,
            metadata=metadata,
            cache=not no_cache,
            captures=captures,
            mmap=not no_mmap,
        )
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    shown = f"[{host}]" if ":" in host else host  # an IPv6 address, as URLs write it
    where = f"http://{shown}:{port}/" if port else f"{shown}, on a port the system chooses"
    click.echo(f"Serving {db_path} read-only at {where}", err=True)
    if unlocked:
        click.echo(
            f"Note: {db_path.parent} is on a read-only file system: served without the lock "
            "that keeps ingests out (none can write it there)",
            err=True,
        )
    os.execv(args[0], args)


@cli.command()
@db_option
def upgrade(db_path):
    """Bring an archive an older version wrote up to this version's schema.

    Applies the migrations it lacks (listed in docs/design.md), in one transaction. This
    writes to the database file: the commands that only read (verify, serve, export,
    trace...) refuse an archive that needs it rather than change it. Ingest and `keys rotate`
    upgrade by themselves.

    Example: archive upgrade --db copy-of-published/archive.db
    """
    from .db import upgrade as run_upgrade

    db_path = archive_db_path(db_path)
    try:
        check_archive_file(db_path)  # no lock file left beside another program's database
        hold_while_writing(db_path)
        done = run_upgrade(db_path)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    click.echo(f"{db_path}: " + (f"applied {', '.join(done)}" if done else "already up to date"))


# Command groups live in their own modules; importing them registers their commands.
from . import cli_ingest, cli_keys, cli_provenance, cli_verify  # noqa: E402, F401
