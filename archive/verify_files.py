"""``archive verify``'s checks of the stored capture files: each against its signed hash, and
with ``--captures`` each read again and compared with what ingest recorded of its records.

Both report into verify's ``Report`` and say how far they are through the files' bytes with
``progress(stage, done, total)``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from .capture_check import check_capture
from .capture_files import file_size
from .checks import in_worker
from .db_checks import database_file
from .hashing import file_sha256
from .parallel import process_pool, stop_pool

#: ``progress(stage, done, total)``: how far a stage of verify is (archive/verify.py)
Progress = Callable[[str, int, int], None]


def check_capture_files(db, report, progress: Progress) -> None:
    """Each capture's stored file hashed again against the capture's signed hash; notes for
    stored files no capture refers to."""
    home = _home(db)
    rows = db.execute("SELECT sha256, stored_path FROM captures ORDER BY rowid").fetchall()
    total = sum(file_size(home / stored) for _, stored in rows if isinstance(stored, str))
    done, used = 0, set()
    for sha, stored in rows:
        if not isinstance(stored, str):
            report.count("capture files", "failed")
            report.fail("capture files", sha, "stored_path is not UTF-8 text")
            continue
        path = home / stored
        used.add(path.name)
        if not in_captures(home, path, sha):
            # where ingest keeps it and serve --captures finds it: nowhere else
            report.count("capture files", "failed")
            report.fail(
                "capture files",
                sha,
                f"stored_path {stored!r} is not a file named by its hash in captures/",
            )
        elif not path.exists():
            report.count("capture files", "failed")
            report.fail(
                "capture files",
                sha,
                f"stored capture missing: {path} (checking the database alone? add --no-files)",
            )
        elif file_sha256(path) != sha:
            report.count("capture files", "failed")
            report.fail("capture files", sha, f"stored capture altered: {path}")
        else:
            report.count("capture files", "verified")
        done += file_size(path)
        progress("capture files", min(done, total), total)
    # A copy is made before its ingest's transaction and removed if that fails; a killed
    # ingest leaves it behind (the next ingest removes it).
    stored = home / "captures"
    for path in sorted(stored.iterdir()) if stored.is_dir() else []:
        if path.is_file() and path.name not in used:
            report.notes.append(
                f"{path}: a stored file no capture refers to (left by an interrupted "
                "ingest, or one still running): not verified, not needed by the archive"
            )


def check_capture_records(db, report, workers: int, progress: Progress) -> None:
    """Each stored capture read again, and its capture_records rows and counts compared
    (archive/capture_check.py); a file that is missing or outside captures/ is
    ``check_capture_files``' to report."""
    db_file = database_file(db.conn)
    home = _home(db)
    todo = []
    for sha, stored in db.execute("SELECT sha256, stored_path FROM captures ORDER BY rowid"):
        path = home / stored if isinstance(stored, str) else None
        if path is not None and in_captures(home, path, sha) and path.is_file():
            todo.append((sha, str(path)))
    sizes = [file_size(Path(path)) for _, path in todo]
    total, done, found = sum(sizes), 0, []
    pool = None
    if workers > 1 and len(todo) > 1 and db_file:
        pool = process_pool(min(workers, len(todo)))
    try:
        tasks = [
            pool.submit(in_worker, db_file, check_capture, path, sha) if pool else (path, sha)
            for sha, path in todo
        ]
        for task, size in zip(tasks, sizes, strict=True):
            found.append(task.result() if pool else check_capture(db.conn, *task))
            done += size
            progress("capture records", done, total)
    finally:
        if pool:
            stop_pool(pool, cancel=True)
    report.counts.setdefault("capture records", {"verified": 0, "failed": 0, "unsigned": 0})
    for (sha, _), problems in zip(todo, found, strict=True):
        report.count("capture records", "failed" if problems else "verified")
        for problem in problems:
            report.fail("capture records", sha, problem)
    for sha, rows in db.execute(
        "SELECT capture_sha256, count(*) FROM capture_records WHERE capture_sha256 "
        "NOT IN (SELECT sha256 FROM captures) GROUP BY capture_sha256"
    ):  # no file to compare them with: rows no ingest left
        report.count("capture records", "failed")
        report.fail("capture records", str(sha), f"{rows} rows of a capture not held")


def in_captures(home: Path, path: Path, sha: str) -> bool:
    """``path`` is in ``home``'s captures/ (which may be a link to a larger disk), itself no
    link out of it, and named by the capture's hash."""
    try:
        stored = (home / "captures").resolve()
        return (
            isinstance(sha, str) and path.resolve().parent == stored and path.name.startswith(sha)
        )
    except (OSError, ValueError):  # a NUL byte in it, a loop of links: not where ingest keeps it
        return False


def _home(db) -> Path:
    db_file = database_file(db.conn)
    return Path(db_file).parent if db_file else Path(".")
