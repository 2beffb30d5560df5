"""What the crash and signal tests share: captures of distinct pages, a key, the ingest command
and a check of the archive they leave."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import random
import re
import sqlite3
import sys
from pathlib import Path

from .test_robustness import consistency_problems, run_cli

ROOT = Path(__file__).resolve().parent.parent
PAGES = 6  # article pages per capture (each with two images)


def build_samples():
    spec = importlib.util.spec_from_file_location(
        "build_samples", ROOT / "examples" / "build_samples.py"
    )
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("build_samples", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def big_capture(bs, path: Path, n: int, pages: int) -> Path:
    """A capture of ``pages`` distinct article pages, each with two images.

    The sentences are random words from the sample article, so pages do not repeat each other
    (identical articles would measure the near-duplicate linker, not crash safety).
    """
    rng = random.Random(n)
    words = sorted(set(re.findall(r"[a-z]{3,}", bs.FALLBACK.read_text(encoding="utf-8").lower())))
    date = f"2025-03-{n + 1:02d}T09:30:00Z"

    def sentence() -> str:
        return " ".join(rng.choice(words) for _ in range(rng.randint(10, 18))).capitalize() + "."

    with open(path, "wb") as f:
        cw = bs.CaptureWriter(f, date, f"stress capture {n}")
        for k in range(pages):
            url = f"https://northshore.example/2025/03/{n:02d}/story-{k}.html"
            page = bs.Page(
                f"Story {n}.{k}: {sentence()[:40]}",
                "News",
                "Northshore Daily",
                url,
                "2025-03-07T08:00:00+00:00",
            )
            for i in range(6):
                page.blocks.append(("paragraph", " ".join(sentence() for _ in range(3))))
                if i in (1, 4):
                    fig = bs.Figure(
                        "Ann Lee", sentence(), f"https://northshore.example/img/{n}/{k}/{i}.jpg"
                    )
                    page.blocks.append(("figure", fig))
                    jpeg = bs.make_jpeg(f"{n}.{k}.{i}", size=(160, 100), quality=60)
                    cw.exchange(fig.url, "200 OK", "image/jpeg", jpeg)
            cw.exchange(url, "200 OK", "text/html; charset=utf-8", bs.render(page, "").encode())
    return path


def stress_captures(out: Path) -> list[Path]:
    """Four captures of ``PAGES`` distinct article pages each, written into ``out``."""
    bs = build_samples()
    return [big_capture(bs, out / f"stress-{n}.warc.gz", n, pages=PAGES) for n in range(4)]


def ingest_cmd(db: Path, files) -> list[str]:
    return [
        sys.executable,
        "-m",
        "archive",
        "ingest",
        "--quiet",
        "--workers",
        "2",
        "--db",
        str(db),
        *map(str, files),
    ]


def ingest_env(key: Path) -> dict:
    return {**os.environ, "ARCHIVE_KEY": str(key), "PYTHONPATH": str(ROOT)}


def check_archive(db: Path, *, complete_with=None) -> None:
    """verify passes; no partial capture; nothing half-written is visible as a capture."""
    if not db.exists():
        return
    code, output = run_cli("verify", "--db", db)
    assert code == 0, output
    assert consistency_problems(db) == []
    captures_dir = db.parent / "captures"
    conn = sqlite3.connect(db)
    rows = {Path(p).name for (p,) in conn.execute("SELECT stored_path FROM captures")}
    conn.close()
    visible = (
        {p.name for p in captures_dir.iterdir() if not p.name.startswith(".")}
        if captures_dir.exists()
        else set()
    )
    for name in visible:
        # a file under a capture name is always a whole copy: its name is its hash
        data = (captures_dir / name).read_bytes()
        assert name.startswith(hashlib.sha256(data).hexdigest()), f"partial copy {name}"
    if complete_with is not None:
        assert rows == visible == {f"{sha256_of(p)}.warc.gz" for p in complete_with}


def sha256_of(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
