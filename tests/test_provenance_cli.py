"""The provenance commands given what researchers paste, and what they show of a change; the
quote-link benchmark on the same test archive (tests/test_provenance.py's)."""

from __future__ import annotations

import itertools
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from archive.cli import cli

from .test_provenance import URL, cli_json, provenance_archive

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    return provenance_archive(tmp_path_factory.mktemp("prov"))


def test_ids_and_urls_pasted_in_capitals_or_with_spaces_are_found(archive):
    """The canned queries take a pasted id in any case and a URL with spaces around it; trace,
    history, diff and prove said "no claim", "no captures of" or "no signed record" (a
    review)."""
    conn = sqlite3.connect(archive)
    (claim_id,) = conn.execute("SELECT id FROM claims WHERE id GLOB '*[a-f]*' LIMIT 1").fetchone()
    (image,) = conn.execute("SELECT sha256 FROM images LIMIT 1").fetchone()
    conn.close()
    runner = CliRunner()
    for args, expected in [
        (["trace", f" {claim_id.upper()}\n"], f"Claim {claim_id}:"),  # the id as stored
        (["trace", f"{image[:12].upper()} "], image),
        (["history", f" {URL}\n"], "article_id"),
        (["diff", f"{URL} "], "claim"),
        (["prove", f" {claim_id.upper()}"], f'"{claim_id}"'),
    ]:
        result = runner.invoke(cli, [*args, "--db", str(archive)])
        assert result.exit_code == 0 and expected in result.output, (args, result.output)


def test_an_id_of_another_kind_is_named_and_a_url_written_another_way_is_found(archive):
    """`trace <a capture's hash>` said "no image", `prove <an image's hash>` "no signed
    record", and `history` of the page's http:// URL "no captures of" it (a review): each now
    says which kind of id it was given, and a URL written another way finds the page."""
    conn = sqlite3.connect(archive)
    (capture,) = conn.execute("SELECT sha256 FROM captures LIMIT 1").fetchone()
    use, image = conn.execute(
        "SELECT id, image_sha256 FROM image_uses WHERE image_sha256 IS NOT NULL LIMIT 1"
    ).fetchone()
    (key,) = conn.execute("SELECT key_id FROM keys LIMIT 1").fetchone()
    conn.close()
    runner = CliRunner()
    for args, says in [
        (["trace", capture], f"{capture} is a capture file's SHA-256: trace takes a claim id or"),
        (["trace", use.upper()], f"{use} is an image use id: trace takes a claim id or an "
         f"image's SHA-256 (or its first digits) (its image: {image})"),
        (["trace", key], f"{key} is a key id: trace takes"),
        (["prove", image], f"{image} is an image's SHA-256: prove takes a signed record: a "
         f"capture's SHA-256, or an article, claim, image use or key rotation id (an image is "
         f"signed through its uses: `archive trace {image[:12]}` lists them)"),
        (["history", URL.replace("northshore", "southshore")], f"no captures of "
         f"{URL.replace('northshore', 'southshore')}"),
    ]:  # fmt: skip
        result = runner.invoke(cli, [*args, "--db", str(archive)])
        assert result.exit_code == 1, (args, result.output)
        assert result.output == f"Error: {says}\n" or (
            says in result.output and len(result.output.splitlines()) == 1
        ), (args, result.output)
    # the page's other spellings are the page (archive/pages.py): they find its captures
    expected = cli_json(archive, "history", URL)
    for other in (URL.replace("https:", "http:"), URL + "/", URL.removeprefix("https://"),
                  URL.replace(".example/", ".EXAMPLE:443/"), URL + "#top",
                  URL.replace("https://", "http://www.")):  # fmt: skip
        assert cli_json(archive, "history", other) == expected, other
        result = runner.invoke(cli, ["diff", other, "--db", str(archive)])
        assert result.exit_code == 0 and "claim" in result.output, (other, result.output)
    # nothing like it at all: as before; nor a URL Python cannot split (a traceback, a review)
    for url in ("https://elsewhere.example/x", "http://[::1", "http://]x/"):
        for command in ("history", "diff"):
            result = runner.invoke(cli, [command, url, "--db", str(archive)])
            assert result.output == f"Error: no captures of {url}\n", result.output
    result = runner.invoke(cli, ["diff", " ", "--db", str(archive)])
    assert result.output == "Error: give the page's URL\n", result.output


def test_a_capture_file_holding_the_page_twice_is_named_by_article_id():
    """`diff --from <a capture's whole hash>` of a file holding the page twice said "give more
    of ... a capture's hash", which cannot help (a review)."""
    from archive.errors import ArchiveError
    from archive.provenance import _resolve

    sha = "ab" * 32
    twice = [
        {"article_id": "a1", "capture_sha256": sha},
        {"article_id": "a2", "capture_sha256": sha},
    ]
    with pytest.raises(ArchiveError, match="holds the page more than once; give an article id"):
        _resolve(None, URL, sha.upper(), twice, -1)
    with pytest.raises(ArchiveError, match="give more of an article id or a capture's hash"):
        _resolve(None, URL, "ab", twice, -1)
    assert _resolve(None, URL, " A2 ", twice, -1) == "a2"


def test_diff_names_the_image_when_a_photo_is_swapped_under_the_same_caption(archive, tmp_path):
    """A photo replaced under the same caption showed as two identical lines, and one with no
    caption or credit as "None" (a review): each side now names its image."""
    import shutil

    db = tmp_path / "swapped.db"
    shutil.copy(archive, db)
    conn = sqlite3.connect(db)
    captures = [r[0] for r in conn.execute(
        "SELECT id FROM articles WHERE url = ? ORDER BY captured_at, id", (URL,))]  # fmt: skip
    use, old_image = conn.execute(
        "SELECT id, image_sha256 FROM image_uses WHERE article_id = ? AND image_sha256 IS NOT NULL "
        "ORDER BY position LIMIT 1",
        (captures[-1],),
    ).fetchone()
    other = "f" * 64
    conn.execute("UPDATE image_uses SET image_sha256 = ?, caption = NULL, credit = NULL "
                 "WHERE id = ?", (other, use))  # fmt: skip
    conn.commit()
    conn.close()
    result = CliRunner().invoke(cli, ["diff", URL, "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert f"(no caption or credit) [{other}]" in result.output, result.output
    assert "None" not in result.output, result.output
    changes = cli_json(db, "diff", URL)["changes"]
    assert {c["new_image"] for c in changes if c["target"] == "image"} >= {other}
    assert old_image in {c["old_image"] for c in changes if c["target"] == "image"}


def test_the_quote_link_benchmark_finds_the_links_ingest_wrote(archive, tmp_path):
    """benchmarks/quote_links.py runs the quote pass again over every article as if each were
    new: each quote link is then found once from each side, as ingest wrote it (both ways)."""
    out = tmp_path / "quote-links.json"
    result = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "quote_links.py", "--db", archive,
         "--articles", "1000", "--runs", "1", "--json", out],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    (found,) = json.loads(out.read_text())["runs"]
    conn = sqlite3.connect(archive)
    (written,) = conn.execute(
        "SELECT count(*) FROM claim_links WHERE relation = 'quote'"
    ).fetchone()
    conn.close()
    assert found["links"] == written > 0, found


def test_the_writer_memory_benchmark_samples_a_real_ingest(tmp_path):
    """benchmarks/writer_memory.py ingests a capture in its own process and samples the
    writer's memory as it goes: each sample has its RSS, malloc's and SQLite's memory, and the
    capture goes in whole."""
    from .conftest import SAMPLE

    out = tmp_path / "writer-memory.json"
    result = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "writer_memory.py", SAMPLE, "--every", "1",
         "--home", tmp_path / "home", "--json", out, "--peaks", "2"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(out.read_text())
    assert found["rc"] == 0 and len(found["samples"]) >= 2, found
    assert [s["records"] for s in found["samples"]] == list(range(1, len(found["samples"]) + 1))
    for sample in found["samples"]:
        assert sample["rss_mb"] > 10 and sample["sqlite_mb"] > 0 and sample["malloc_in_use_mb"] > 0
        assert sample["rss_anon_mb"] + sample["rss_file_mb"] == pytest.approx(sample["rss_mb"], 0.2)
        assert sample["py_arenas"] > 0 and 0 < sample["py_in_use_mb"] <= sample["py_arenas"]
    assert found["end"]["peak_rss_mb"] >= max(s["peak_rss_mb"] for s in found["samples"])
    # the last two new highs of the RSS, each with the stack that reached it
    assert len(found["peaks"]) == 2 and all(high["stack"] for high in found["peaks"]), found
    assert found["peaks"][0]["rss_mb"] < found["peaks"][1]["rss_mb"]
    conn = sqlite3.connect(tmp_path / "home" / "records" / "archive.db")
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] >= 1
    conn.close()


def test_writer_memory_growth_stops_the_ingest_and_names_what_grew(tmp_path):
    """``--growth K``: K tracemalloc snapshots, then the ingest is stopped (nothing of it kept);
    the sites listed are those whose memory never fell and grew in all (real allocations of a
    function made to grow, in this process)."""
    import importlib.util
    import tracemalloc

    from .conftest import SAMPLE

    out = tmp_path / "growth.json"
    result = subprocess.run(
        [sys.executable, ROOT / "benchmarks" / "writer_memory.py", SAMPLE, "--every", "1",
         "--growth", "2", "--home", tmp_path / "home", "--json", out],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    found = json.loads(out.read_text())
    assert found["rc"] == 0 and len(found["samples"]) == 2
    conn = sqlite3.connect(tmp_path / "home" / "records" / "archive.db")
    assert conn.execute("SELECT count(*) FROM articles").fetchone()[0] == 0
    conn.close()

    spec = importlib.util.spec_from_file_location("wm", ROOT / "benchmarks" / "writer_memory.py")
    wm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wm)
    kept, cycling, snapshots = [], [], []

    def grow(n):
        kept.extend(bytes(100) + i.to_bytes(4) for i in range(n))

    tracemalloc.start(2)
    try:
        for step in range(4):
            grow(1000)
            cycling[:] = [str(i) * 20 for i in range(3000 if step % 2 else 10)]  # up and down
            snapshots.append(tracemalloc.take_snapshot())
    finally:
        tracemalloc.stop()
    growing = wm._growing(snapshots)
    assert growing and all(a <= b for a, b in itertools.pairwise(growing[0]["mb"]))
    assert any("kept.extend" in line for line in growing[0]["where"]), growing[0]
    assert not any("cycling[:]" in line for site in growing for line in site["where"])


def test_writer_memory_peaks_name_the_step_that_took_the_memory():
    """``PeakWatch`` notes the main thread's stack at each new high of the RSS: a function
    that takes 64 MB is named (how a capture's image links held to its end were found)."""
    import importlib.util
    import time

    spec = importlib.util.spec_from_file_location("wm", ROOT / "benchmarks" / "writer_memory.py")
    wm = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(wm)

    def take_a_lot():
        block = b"x" * (64 << 20)  # written: its pages are in the RSS
        time.sleep(0.2)  # the watcher reads every 3 ms
        return len(block)

    watch = wm.PeakWatch().start()
    time.sleep(0.05)
    take_a_lot()
    highs = watch.stop()
    assert highs and highs[-1]["stack"][-1].endswith(" take_a_lot"), highs[-3:]
    assert highs[-1]["rss_mb"] - highs[0]["rss_mb"] > 50, highs


def _photo_captures(tmp_path) -> list[Path]:
    """Three captures of a page with one photo: the first with the photo's file, the second
    without it, the third with another file at the same URL, under the same caption."""
    import io

    from PIL import Image

    from .test_robustness import FILLER, article_html, http_response, warc_file

    def png(shade: int) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (shade, 90, 160)).save(buf, "PNG")
        return buf.getvalue()

    src, url = "https://ferry.example/photo.png", "https://ferry.example/story"
    page = article_html("Ferry terminal", FILLER, figures=[(src, "The terminal", "A. Photo")])
    files = []
    for n, photo in [(1, png(10)), (2, None), (3, png(200))]:
        responses = [http_response(url, page)]
        if photo:
            responses.append(http_response(src, photo, "image/png"))
        dates = {uri: {"WARC-Date": f"2025-03-0{n}T09:00:00Z"} for uri, *_ in responses}
        files.append(warc_file(tmp_path / f"{n}.warc.gz", responses, warc_headers=dates))
    return files


def test_a_capture_without_the_photo_file_is_not_a_changed_photo(tmp_path, fixed_signer):
    """The page's second capture holds no file of its photo, and was ingested first, when the
    archive had none: it read as a "changed image" (same caption, score 1.0) from the first
    capture (browser review). It is the file the archive holds at that URL, as ingest chooses
    one; the photo that did change, in the third capture, still shows."""
    from archive.ingest import Ingester

    first, second, third = _photo_captures(tmp_path)
    db = tmp_path / "archive.db"
    ingester = Ingester(db, fixed_signer)
    for path in (second, first, third):
        assert ingester.ingest_file(path).status == "ingested"
    conn = sqlite3.connect(db)
    ids = [a for (a,) in conn.execute("SELECT id FROM articles ORDER BY captured_at")]
    hashless = conn.execute("SELECT article_id FROM image_uses WHERE image_sha256 IS NULL")
    assert [a for (a,) in hashless] == [ids[1]]
    image_changes = (
        "SELECT from_article_id, to_article_id, change FROM changes WHERE target = 'image'"
    )
    assert conn.execute(image_changes).fetchall() == [(ids[1], ids[2], "changed")]
    for old, new in [(ids[0], ids[1]), (ids[1], ids[2])]:
        shown = cli_json(db, "diff", "https://ferry.example/story", "--from", old, "--to", new)
        assert [c["change"] for c in shown["changes"] if c["target"] == "image"] == (
            [] if old == ids[0] else ["changed"]
        )

    # an archive from before 0015 holds the first pair's image change: upgrade drops it
    kept = conn.execute("SELECT * FROM changes WHERE from_article_id = ?", (ids[1],)).fetchall()
    conn.execute(
        "INSERT INTO changes (url, from_article_id, to_article_id, target, change, old_text, "
        "new_text, score) VALUES (?, ?, ?, 'image', 'changed', 'x', 'x', 1.0)",
        ("https://ferry.example/story", ids[0], ids[1]),
    )
    conn.execute("DELETE FROM migrations WHERE name = '0015_image_file_missing_is_not_a_change'")
    conn.commit()
    result = CliRunner().invoke(cli, ["upgrade", "--db", str(db)])
    assert result.exit_code == 0 and "0015_image_file_missing_is_not_a_change" in result.output
    assert conn.execute(image_changes).fetchall() == [(ids[1], ids[2], "changed")]
    rediffed = conn.execute("SELECT * FROM changes WHERE from_article_id = ?", (ids[1],))
    assert [r[1:] for r in rediffed] == [r[1:] for r in kept]
