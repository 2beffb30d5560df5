#!/usr/bin/env python3
"""Ingest throughput and memory against the extraction floor, on one synthetic corpus.

    .venv/bin/python benchmarks/ingest.py --pages 200 --target-mb 20 --files 4 --json out.json
    .venv/bin/python benchmarks/ingest.py --sizes 50,200,500 --variant nolinks --workers 2

One run measures, on the same corpus (benchmarks/make_corpus.py, reused when it exists; or, with
``--real``, the 181 real article pages of ../shared/corpus/extraction in one WARC.gz):

- ``floor``: warcio iterating over the files plus trafilatura's ``bare_extraction`` with the
  settings archive/extract.py uses and trafilatura's metadata, once per HTML response
  (precision mode), single process: trafilatura's stock extraction of an article, the floor of
  every round;
- ``main_text_floor``: the same without trafilatura's metadata, the call ingest makes since
  the thirteenth round (it then asks trafilatura's metadata functions for only the fields an
  article reads, archive/extract.py ``_page_metadata``): a stricter floor, also reported;
- ``floor_with_fallback``: the same plus the second, balanced-mode call that archive/extract.py
  makes when precision mode finds under ``FALLBACK_BELOW_CHARS`` characters (our main-text
  extractor is that two-call configuration; both floors are reported);
- ``process_floor``: the same floor as a fresh process (``python benchmarks/ingest.py --floor-only
  FILES``), timed from outside like the ingest runs: interpreter start-up and imports included,
  as they are in every ``archive ingest`` run. On the 181 real pages they are ~0.3 s of ~3 s,
  so the ingest runs are also compared with it (``ratio_to_process_floor``), on equal terms;
- ``archive ingest --workers 0`` (everything in one process), ``--workers 1`` (one extraction
  process beside the writer) and ``--workers 2``, as subprocesses, each with a fresh
  ARCHIVE_HOME and XDG_CONFIG_HOME, timed, with CPU seconds and the peak memory of the whole
  process tree (see perfutil.py: RSS sum, PSS sum, largest single-process VmHWM).

Variants of the ingest command (``--variants``, all measured the same way):

- ``cli``: the real ``archive ingest``, unchanged;
- ``nolinks``: ``archive ingest`` with ``archive.ingest.Linker`` replaced by a no-op in the
  subprocess: everything except computing cross-capture links (an experiment that shows what
  the rest of the pipeline costs).

The floor is measured again after the runs (``after_pages_per_s``; ``drift``, the second over
the first): this machine's speed drifts within minutes, so each run is also set against the
mean of the two (``ratio_to_floor_bracketed``).

A run that exceeds ``--timeout`` is killed and reported as timed out, with the articles that
were committed by then (one transaction per capture file).

``--sizes`` builds corpora of those sizes (10 pages per MB, ``--files`` files each, so each file
grows with the corpus), runs the floor and one variant at ``--workers`` on each, and plots
throughput and peak memory against corpus size (``--plot``, default docs/performance.png).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import make_corpus  # noqa: E402
from perfutil import (  # noqa: E402
    ARCHIVE_CLI,
    OUT,
    PYTHON,
    REPO,
    archive_env,
    machine,
    pyplot,
    run_measured,
    save_figure,
    write_json,
)

NOLINKS = (
    "import sys, archive.ingest as m\n"
    "class Linker:\n"
    "    def __init__(self, conn): pass\n"
    "    def article(self, *a): pass\n"
    "    def finish(self, *a): pass\n"
    "m.Linker = Linker\n"
    "from archive.cli import cli; sys.argv[0] = 'archive'; cli()"
)


def corpus(pages: int, target_mb: float, files: int, seed: int) -> tuple[Path, dict]:
    """The corpus for these parameters, built once and reused."""
    text = make_corpus.default_text()
    out = OUT / f"corpus-p{pages}-mb{target_mb:g}-f{files}-s{seed}-{text}"
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        return out, json.loads(manifest_path.read_text())
    print(f"building corpus {out.name} ...", file=sys.stderr)
    return out, make_corpus.generate(out, pages, target_mb, files, seed, quiet=True, text=text)


def files_of(out: Path) -> list[Path]:
    return sorted(out.glob("corpus-*.warc.gz"))


def real_corpus() -> tuple[Path, dict]:
    """The 181 real article pages of ../shared/corpus/extraction in one WARC.gz, built once."""
    import extraction

    out = OUT / "corpus-real-181"
    manifest_path = out / "manifest.json"
    if manifest_path.exists():
        return out, json.loads(manifest_path.read_text())
    if not (extraction.DEFAULT_CORPUS / "ground-truth.json").is_file():
        sys.exit(f"--real needs {extraction.DEFAULT_CORPUS} (../shared)")
    out.mkdir(parents=True, exist_ok=True)
    pages = extraction.load_corpus(extraction.DEFAULT_CORPUS, None)
    path = out / "corpus-000.warc.gz"
    extraction.write_warc(
        path, extraction.DEFAULT_CORPUS, [(k, p["url"]) for k, p in pages.items()]
    )
    manifest = {
        "pages": len(pages),
        "files": [path.name],
        "text": "real",
        "bytes": path.stat().st_size,
        "mb": round(path.stat().st_size / 2**20, 1),
        "source": "../shared/corpus/extraction (181 real article pages, HTML only)",
    }
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return out, manifest


def floor(paths: list[Path]) -> dict:
    """warcio + trafilatura.bare_extraction on the HTML responses, one process, with
    archive/extract.py's settings; given the HTML text, trafilatura parses it. Two calls a page,
    each timed apart: with trafilatura's metadata (the floor of every round, trafilatura's stock
    extraction of an article), and without it (``main_text``: the call ingest makes since the
    thirteenth round, which then asks trafilatura for only the metadata fields it reads). The
    balanced-mode second call is timed apart too (and taken on the pages where
    archive/extract.py's rule takes it)."""
    import trafilatura
    from warcio.archiveiterator import ArchiveIterator

    sys.path.insert(0, str(REPO))
    from archive.extract import (
        FALLBACK_BELOW_CHARS,
        TRAFILATURA_SETTINGS,
        _blocks_from_body,
        _body_chars,
        _trafilatura,
    )

    pages = fallbacks = 0
    fallback_s = with_metadata_s = main_text_s = 0.0
    start = time.perf_counter()
    cpu_start = time.process_time()
    for path in paths:
        with open(path, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type != "response" or rec.http_headers is None:
                    continue
                ctype = rec.http_headers.get_header("Content-Type") or ""
                if not ctype.startswith("text/html") or rec.http_headers.get_statuscode() != "200":
                    continue
                html = rec.content_stream().read().decode("utf-8", "replace")
                url = rec.rec_headers.get_header("WARC-Target-URI")
                t = time.perf_counter()
                trafilatura.bare_extraction(
                    html, url=url, with_metadata=True, favor_precision=True, **TRAFILATURA_SETTINGS
                )
                with_metadata_s += time.perf_counter() - t
                t = time.perf_counter()
                doc = _trafilatura(html, url, favor_precision=True)
                main_text_s += time.perf_counter() - t
                pages += 1
                # archive/extract.py's own rule decides (its cost left out of the floor)
                t = time.perf_counter()
                body = doc.body if doc is not None else None
                chars = _body_chars(_blocks_from_body(body)) if body is not None else 0
                if chars < FALLBACK_BELOW_CHARS:
                    _trafilatura(html, url, favor_precision=False)
                    fallbacks += 1
                fallback_s += time.perf_counter() - t
    wall = time.perf_counter() - start
    return {
        "pages": pages,
        "wall_s": round(wall - fallback_s - main_text_s, 3),
        "cpu_s": round(time.process_time() - cpu_start - fallback_s - main_text_s, 3),
        "fallback_calls": fallbacks,
        "with_fallback_wall_s": round(wall - main_text_s, 3),
        "main_text_wall_s": round(wall - fallback_s - with_metadata_s, 3),
        # the parts, for process_floor
        "fallback_calls_s": round(fallback_s, 3),
        "main_text_calls_s": round(main_text_s, 3),
    }


def process_floor(paths: list[Path], timeout: float) -> dict:
    """:func:`floor` in a fresh process, timed from outside (start-up and imports included)."""
    cmd = [PYTHON, str(Path(__file__).resolve()), "--floor-only", *map(str, paths)]
    res = run_measured(cmd, timeout=timeout)
    inside = json.loads(res["stdout"])
    # the child also makes the main-text-only and fallback calls (timed apart inside it): left
    # out, as in floor()
    wall = res["wall_s"] - inside["main_text_calls_s"]
    return {
        "wall_s": round(wall - inside["fallback_calls_s"], 3),
        "with_fallback_wall_s": round(wall, 3),
    }


def _committed(db: Path) -> dict:
    if not db.exists():
        return {"articles": 0, "captures": 0}
    conn = sqlite3.connect(str(db), timeout=5)  # read-write: rolls back a killed run
    try:
        return {
            "articles": conn.execute("SELECT COUNT(*) FROM articles").fetchone()[0],
            "captures": conn.execute("SELECT COUNT(*) FROM captures").fetchone()[0],
            "claims": conn.execute("SELECT COUNT(*) FROM claims").fetchone()[0],
        }
    except sqlite3.Error:
        return {"articles": 0, "captures": 0}
    finally:
        conn.close()


def run_ingest(corpus_dir: Path, workers: int, variant: str, timeout: float, keep: Path | None):
    home = OUT / f"home-{variant}-{workers}w"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    env = archive_env(home)
    db = home / "records" / "archive.db"
    args = ["ingest", "--workers", str(workers), "-q", str(corpus_dir)]
    cmd = [PYTHON, "-c", NOLINKS, *args] if variant == "nolinks" else [ARCHIVE_CLI, *args]
    res = run_measured(cmd, env=env, timeout=timeout)
    res.update({"variant": variant, "workers": workers, "committed": _committed(db)})
    res["summary"] = (res.pop("stdout", "") or "").strip()
    res["stderr"] = (res.get("stderr") or "")[-2000:]
    if db.exists():
        res["db_mb"] = round(db.stat().st_size / 2**20, 1)
    if keep is not None and db.exists() and not res["timed_out"]:
        shutil.rmtree(keep, ignore_errors=True)
        shutil.copytree(home, keep)
    shutil.rmtree(home, ignore_errors=True)
    return res


def rates(res: dict, manifest: dict, pages_total: int) -> dict:
    done = pages_total if not res.get("timed_out") else res["committed"]["articles"]
    wall = res["wall_s"]
    mb = manifest["bytes"] / 2**20 * (done / pages_total if pages_total else 0)
    return {
        "pages_done": done,
        "pages_per_s": round(done / wall, 2),
        "mb_per_s": round(mb / wall, 2),
    }


def main_run(args) -> dict:
    if args.real:
        out, manifest = real_corpus()
    else:
        out, manifest = corpus(args.pages, args.target_mb, args.files, args.seed)
    paths = files_of(out)
    result = {"machine": machine(), "corpus": manifest, "corpus_dir": str(out), "runs": []}
    print(
        f"corpus: {manifest['pages']} pages, {manifest['mb']} MB in {len(paths)} files",
        file=sys.stderr,
    )
    fl = floor(paths)
    fl.update(
        variant="floor",
        pages_per_s=round(fl["pages"] / fl["wall_s"], 2),
        mb_per_s=round(manifest["bytes"] / 2**20 / fl["wall_s"], 2),
        with_fallback_pages_per_s=round(fl["pages"] / fl["with_fallback_wall_s"], 2),
        main_text_pages_per_s=round(fl["pages"] / fl["main_text_wall_s"], 2),
    )
    pf = process_floor(paths, args.timeout)
    fl["process_wall_s"] = pf["wall_s"]
    fl["process_pages_per_s"] = round(fl["pages"] / pf["wall_s"], 2)
    fl["process_with_fallback_pages_per_s"] = round(fl["pages"] / pf["with_fallback_wall_s"], 2)
    result["floor"] = fl
    print(
        f"floor: {fl['pages_per_s']} pages/s ({fl['with_fallback_pages_per_s']} with the "
        f"{fl['fallback_calls']} fallback calls), {fl['mb_per_s']} MB/s, cpu {fl['cpu_s']} s; "
        f"main text alone (no metadata) {fl['main_text_pages_per_s']} pages/s",
        file=sys.stderr,
    )
    print(
        f"floor as a process (start-up and imports included): {fl['process_pages_per_s']} "
        f"pages/s ({fl['process_with_fallback_pages_per_s']} with the fallback calls)",
        file=sys.stderr,
    )
    for variant in args.variants.split(","):
        by_workers = {}
        for workers in (0, 1, 2):
            keep = OUT / "archive-for-verify" if workers == 1 and not args.real else None
            res = run_ingest(out, workers, variant, args.timeout, keep)
            res.update(rates(res, manifest, manifest["pages"]))
            res["ratio_to_floor"] = round(res["pages_per_s"] / fl["pages_per_s"], 3)
            res["ratio_to_floor_with_fallback"] = round(
                res["pages_per_s"] / fl["with_fallback_pages_per_s"], 3
            )
            res["ratio_to_main_text_floor"] = round(
                res["pages_per_s"] / fl["main_text_pages_per_s"], 3
            )
            res["ratio_to_process_floor"] = round(res["pages_per_s"] / fl["process_pages_per_s"], 3)
            res["ratio_to_process_floor_with_fallback"] = round(
                res["pages_per_s"] / fl["process_with_fallback_pages_per_s"], 3
            )
            if not res["timed_out"] and res.get("cpu_s"):
                res["cpu_per_page_ms"] = round(res["cpu_s"] / manifest["pages"] * 1000, 2)
            result["runs"].append(res)
            by_workers[workers] = res
            print(
                f"{variant} {workers}w: {res['pages_per_s']} pages/s, {res['mb_per_s']} MB/s, "
                f"x{res['ratio_to_floor']} floor (x{res['ratio_to_floor_with_fallback']} with "
                f"fallback, x{res['ratio_to_main_text_floor']} main text alone, "
                f"x{res['ratio_to_process_floor']} as a process), "
                f"peak tree PSS {res.get('peak_tree_pss_mb')} MB, cpu "
                f"{res.get('cpu_s')} s" + (" TIMED OUT" if res["timed_out"] else ""),
                file=sys.stderr,
            )
        if by_workers[1]["pages_per_s"]:
            ratio = by_workers[2]["pages_per_s"] / by_workers[1]["pages_per_s"]
            by_workers[2]["ratio_2w_1w"] = round(ratio, 3)
            print(f"{variant}: 2 workers / 1 worker = x{ratio:.2f}", file=sys.stderr)
    # This machine's speed drifts by 15-20% within minutes (thirteenth and fourteenth rounds):
    # the floor again after the runs says how much, and the runs are also set against the
    # mean of the two floors, which brackets them
    after = floor(paths)
    fl["after_pages_per_s"] = round(after["pages"] / after["wall_s"], 2)
    fl["drift"] = round(fl["after_pages_per_s"] / fl["pages_per_s"], 3)
    bracket = (fl["pages_per_s"] + fl["after_pages_per_s"]) / 2
    for res in result["runs"]:
        res["ratio_to_floor_bracketed"] = round(res["pages_per_s"] / bracket, 3)
    runs = ", ".join(
        f"{r['variant']} {r['workers']}w x{r['ratio_to_floor_bracketed']}" for r in result["runs"]
    )
    print(
        f"floor after the runs: {fl['after_pages_per_s']} pages/s (x{fl['drift']} the first); "
        f"against their mean: {runs}",
        file=sys.stderr,
    )
    return result


def sweep(args) -> dict:
    sizes = [float(s) for s in args.sizes.split(",")]
    result = {
        "machine": machine(),
        "variant": args.variant,
        "workers": args.workers,
        "files": args.files,
        "points": [],
    }
    for mb in sizes:
        pages = int(mb * 10)
        out, manifest = corpus(pages, mb, args.files, args.seed)
        fl = floor(files_of(out)) if not args.no_floor else None
        res = run_ingest(out, args.workers, args.variant, args.timeout, None)
        res.update(rates(res, manifest, pages))
        point = {
            "mb": manifest["mb"],
            "pages": pages,
            "file_mb": round(manifest["mb"] / args.files, 1),
            "floor_pages_per_s": round(fl["pages"] / fl["wall_s"], 2) if fl else None,
            **res,
        }
        result["points"].append(point)
        print(
            f"{mb:g} MB: {res['pages_per_s']} pages/s, {res['mb_per_s']} MB/s, peak tree PSS "
            f"{res.get('peak_tree_pss_mb')} MB, RSS {res.get('peak_tree_rss_mb')} MB, max "
            f"process {res.get('max_process_hwm_mb')} MB"
            + (" TIMED OUT" if res["timed_out"] else ""),
            file=sys.stderr,
        )
        if not args.keep_corpora:
            shutil.rmtree(out, ignore_errors=True)
    if args.plot:
        plot(result, Path(args.plot))
    return result


def plot(result: dict, path: Path) -> None:
    plt = pyplot()
    if plt is None:
        return

    pts = [p for p in result["points"] if not p.get("timed_out")]
    xs = [p["mb"] for p in pts]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
    a1.plot(
        xs,
        [p["mb_per_s"] for p in pts],
        "o-",
        label=f"ingest ({result['variant']}, {result['workers']} workers)",
    )
    if all(p.get("floor_pages_per_s") for p in pts):
        a1.plot(
            xs,
            [p["floor_pages_per_s"] * p["mb"] / p["pages"] for p in pts],
            "s--",
            label="floor (warcio + trafilatura, 1 process)",
        )
    a1.set_xlabel("corpus size (MB)")
    a1.set_ylabel("throughput (MB/s)")
    a1.set_ylim(bottom=0)
    a1.legend(fontsize=8)
    a1.set_title("Ingest throughput")
    a2.plot(xs, [p["peak_tree_pss_mb"] for p in pts], "o-", label="peak tree PSS")
    a2.plot(xs, [p["peak_tree_rss_mb"] for p in pts], "s--", label="peak tree RSS (sum)")
    a2.plot(xs, [p["max_process_hwm_mb"] for p in pts], "^:", label="largest process VmHWM")
    a2.axhline(300, color="red", lw=0.8, label="300 MB target")
    a2.set_xlabel("corpus size (MB)")
    a2.set_ylabel("MB")
    a2.set_ylim(bottom=0)
    a2.legend(fontsize=8)
    a2.set_title("Peak memory")
    fig.suptitle(
        f"archive ingest, {result['machine']['cores']} cores, {result['machine']['date']}",
        fontsize=9,
    )
    save_figure(fig, path)


def profile_ingest(corpus_dir: Path, links: bool, top: int = 15) -> str:
    """cProfile of an in-process, one-process ingest of the first corpus file (fresh archive)."""
    import cProfile
    import io
    import pstats

    sys.path.insert(0, str(REPO))
    import archive.ingest as ingest_module
    from archive.keys import generate_key

    if not links:

        class NoLinks:
            def __init__(self, conn):
                pass

            def article(self, *args):
                pass

            def finish(self, *args):
                pass

        ingest_module.Linker = NoLinks
    home = OUT / "profile-home"
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    ingester = ingest_module.Ingester(home / "archive.db", generate_key(home / "key.pem"))
    prof = cProfile.Profile()
    prof.enable()
    result = ingester.ingest_file(files_of(corpus_dir)[0])
    prof.disable()
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    text.write(f"{result.status}: {result.articles} articles, {result.claims} claims\n")
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top + 10)
    shutil.rmtree(home, ignore_errors=True)
    return text.getvalue()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--pages", type=int, default=2000)
    p.add_argument("--target-mb", type=float, default=200)
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--variants", default="cli", help="comma-separated: cli,nolinks")
    p.add_argument(
        "--real", action="store_true", help="the 181 real article pages (../shared) as corpus"
    )
    p.add_argument("--timeout", type=float, default=600, help="seconds per ingest run")
    p.add_argument("--sizes", help="comma-separated corpus sizes in MB: run the sweep")
    p.add_argument("--variant", default="cli", help="the sweep's ingest variant")
    p.add_argument("--workers", type=int, default=2, help="the sweep's worker count")
    p.add_argument("--no-floor", action="store_true", help="sweep: skip the floor")
    p.add_argument("--keep-corpora", action="store_true")
    p.add_argument("--plot", default=str(REPO / "docs" / "performance.png"))
    p.add_argument("--json", help="write the results here")
    p.add_argument(
        "--profile",
        choices=["links", "nolinks"],
        help="only cProfile an in-process ingest of the corpus's first file, and print it",
    )
    p.add_argument("--floor-only", nargs="+", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.floor_only:  # the process floor's child: the floor, as JSON
        print(json.dumps(floor(args.floor_only)))
        return
    if args.profile:
        if args.real:
            out, _ = real_corpus()
        else:
            out, _ = corpus(args.pages, args.target_mb, args.files, args.seed)
        print(profile_ingest(out, links=args.profile == "links"))
        return
    result = sweep(args) if args.sizes else main_run(args)
    if args.json:
        write_json(args.json, result)
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1)[:6000])


if __name__ == "__main__":
    main()
