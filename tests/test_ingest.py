"""Ingest semantics: transactional, idempotent, and clear about bad input."""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from pathlib import Path

import pytest
import sqlite_utils
from click.testing import CliRunner

from archive.cli import cli

from .conftest import DATA, SAMPLE

WARCS = sorted((DATA / "warc").iterdir())


def dump(db: Path) -> list[str]:
    conn = sqlite3.connect(db)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def ingest(*args):
    return CliRunner().invoke(cli, ["ingest", *map(str, args)])


def corrupt_copy(tmp_path: Path) -> Path:
    """The sample with a damaged gzip member near its end: early records read fine."""
    data = bytearray(SAMPLE.read_bytes())
    # The last gzip member is the 404 favicon response; damage the one before it (an image).
    members = [i for i in range(len(data) - 1) if data[i] == 0x1F and data[i + 1] == 0x8B]
    target = members[-3] + 40
    data[target : target + 64] = b"\x00" * 64
    bad = tmp_path / "damaged.warc.gz"
    bad.write_bytes(bytes(data))
    return bad


def test_first_ingest_creates_key_and_says_where(isolated_env):
    result = ingest(SAMPLE)
    assert result.exit_code == 0, result.output
    key = isolated_env / "config" / "archive" / "signing-key.pem"
    assert "Created a new signing key ed25519:" in result.output and str(key) in result.output
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    # a new archive is said too (a --db on a disk not mounted, or mistyped, started a second
    # archive without a word: an archivist's review); the second ingest is into that one
    assert result.output.count("Created a new archive at ") == 1
    again = ingest(SAMPLE)
    assert again.exit_code == 0 and "Created a new archive" not in again.output, again.output
    assert (
        "1 file: 1 ingested, 0 already in the archive, 0 failed; 1 article, 24 claims, "
        "2 images, 2 skipped" in result.output
    )


def test_reingest_is_a_no_op(isolated_env):
    assert ingest(SAMPLE).exit_code == 0
    db = isolated_env / "records" / "archive.db"
    before = file_hash(db)
    result = ingest(SAMPLE)
    assert result.exit_code == 0
    assert f"Already in the archive: {SAMPLE}" in result.output
    assert "0 ingested, 1 already in the archive" in result.output
    assert file_hash(db) == before


def test_capture_copied_unchanged(isolated_env):
    ingest(SAMPLE)
    stored = isolated_env / "records" / "captures" / f"{file_hash(SAMPLE)}.warc.gz"
    assert stored.read_bytes() == SAMPLE.read_bytes()


def test_failing_file_leaves_archive_exactly_as_it_was(isolated_env, tmp_path):
    good = DATA / "warc" / "example.warc.gz"
    assert ingest(good).exit_code == 0
    db = isolated_env / "records" / "archive.db"
    captures = isolated_env / "records" / "captures"
    before, files_before = dump(db), sorted(captures.iterdir())
    bad = corrupt_copy(tmp_path)
    result = ingest(bad)
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1
    assert lines[0].startswith(f"Error: {bad} at offset ")
    assert "Traceback" not in result.output
    assert dump(db) == before
    assert sorted(captures.iterdir()) == files_before


def test_other_files_still_go_in(isolated_env, tmp_path):
    bad = corrupt_copy(tmp_path)
    result = ingest(bad, SAMPLE)
    assert result.exit_code == 1
    assert "2 files: 1 ingested, 0 already in the archive, 1 failed" in result.output
    db = sqlite_utils.Database(isolated_env / "records" / "archive.db")
    assert [r["filename"] for r in db["captures"].rows] == [SAMPLE.name]


def test_directory_of_captures(isolated_env):
    result = ingest(DATA)
    names = {p.name for p in DATA.rglob("*") if p.suffix in (".gz", ".warc", ".arc", ".wacz")}
    assert f"{len(names)} files:" in result.output


@pytest.mark.parametrize("path", WARCS, ids=[p.name for p in WARCS])
def test_real_warcio_files_ingest_or_fail_in_one_line(isolated_env, path):
    result = ingest(path)
    assert "Traceback" not in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    if result.exit_code:
        assert len(errors) == 1 and str(path) in errors[0]
    else:
        assert not errors
    verify = CliRunner().invoke(cli, ["verify"])
    if (isolated_env / "records" / "archive.db").exists():
        assert verify.exit_code == 0, verify.output


def test_known_bad_files_fail_with_the_reason(isolated_env):
    result = ingest(DATA / "warc" / "example-bad-non-chunked.warc.gz")
    assert "gzip is not record-chunked" in result.output
    result = ingest(DATA / "warc" / "example-wrong-chunks.warc.gz")
    assert "at offset 0: truncated (or its gzip members split records)" in result.output


@pytest.mark.parametrize("suffix", [".warc.gz", ".warc"])
def test_a_cut_off_capture_fails_and_leaves_the_archive_as_it_was(isolated_env, tmp_path, suffix):
    """A capture cut inside a record (a copy stopped half-way) is refused, not half-read:
    warcio itself stops quietly at the end of the bytes."""
    assert ingest(SAMPLE).exit_code == 0
    db = isolated_env / "records" / "archive.db"
    before = file_hash(db)
    data = SAMPLE.read_bytes() if suffix == ".warc.gz" else gzip.decompress(SAMPLE.read_bytes())
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 3])
    result = ingest(cut)
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and f"{cut} at offset" in errors[0], result.output
    assert "truncated" in errors[0] and "bytes short of its Content-Length" in errors[0]
    assert file_hash(db) == before
    assert len(list((isolated_env / "records" / "captures").iterdir())) == 1


def test_digest_failure_is_recorded(isolated_env):
    result = ingest(DATA / "warc" / "example-trunc.warc")
    assert result.exit_code == 0
    assert "records failed their WARC digest check" in result.output
    # the summary counts what went in with warnings (a batch's said "0 failed" and no more:
    # an archivist's review), a WACZ that failed its own check among them
    assert "1 file: 1 ingested (1 with warnings), " in result.output
    both = ingest(DATA / "wacz" / "invalid_signed_example_1.wacz", SAMPLE)
    assert both.exit_code == 0
    assert "2 files: 2 ingested (1 with warnings), " in both.output, both.output
    db = sqlite_utils.Database(isolated_env / "records" / "archive.db")
    assert (
        db.execute("select count(*) from capture_records where digest = 'failed'").fetchone()[0]
        == 1
    )


def test_chunked_and_arc_are_read(isolated_env):
    assert ingest(DATA / "warc" / "example-iana.org-chunked.warc").exit_code == 0
    assert ingest(DATA / "warc" / "example.arc.gz").exit_code == 0
    db = sqlite_utils.Database(isolated_env / "records" / "archive.db")
    formats = {r["format"] for r in db["captures"].rows}
    assert formats == {"warc", "arc"}
    assert db.execute("select count(*) from articles").fetchone()[0] == 1


def test_empty_and_not_a_capture(isolated_env, tmp_path):
    empty = tmp_path / "empty.warc.gz"
    empty.write_bytes(b"")
    html = tmp_path / "page.warc.gz"
    html.write_bytes(gzip.compress(b"<!doctype html><html><body>hello</body></html>"))
    result = ingest(empty, html, tmp_path / "missing.warc")
    assert result.exit_code == 1
    assert f"Error: {empty}: empty file" in result.output
    assert (
        f"Error: {html} at offset 0: not a WARC or ARC file: it begins '<!doctype html>"
        in result.output
    )
    assert f"Error: {tmp_path / 'missing.warc'}: no such file" in result.output


def test_nothing_to_ingest_creates_nothing(isolated_env, tmp_path):
    (tmp_path / "empty-dir").mkdir()
    for args, message in (
        ([tmp_path / "missing.warc"], f"{tmp_path / 'missing.warc'}: no such file"),
        ([tmp_path / "empty-dir"], f"{tmp_path / 'empty-dir'}: no capture files"),
    ):
        result = ingest(*args)
        assert result.exit_code == 1
        assert result.output.startswith(f"Error: {message}"), result.output
    assert not (isolated_env / "records").exists()
    assert not (isolated_env / "config" / "archive" / "signing-key.pem").exists()


def test_parallel_ingest_gives_the_same_archive(tmp_path, fixed_signer):
    from archive.ingest import Ingester
    from archive.parallel import process_pool

    dumps = []
    for workers in (0, 1, 2):
        db = tmp_path / f"w{workers}" / "archive.db"
        pool = process_pool(workers)
        ingester = Ingester(db, fixed_signer, clock=lambda: "2026-01-01T00:00:00Z", executor=pool)
        for capture in (SAMPLE, DATA / "warc" / "example-iana.org-chunked.warc"):
            assert ingester.ingest_file(capture).status == "ingested"
        if pool:
            pool.shutdown()
        # every row but the migrations' own timestamps
        dumps.append([x for x in dump(db) if "INSERT INTO" in x and '"migrations"' not in x])
    assert dumps[0] == dumps[1] == dumps[2]


def test_full_text_index_is_filled_per_capture(tmp_path, fixed_signer):
    """Claims and articles are searchable after ingest, the index passes FTS5's own integrity
    check, and an archive from before 0004 (insert triggers) loses only the triggers."""
    from archive.db import connect
    from archive.ingest import Ingester

    db = tmp_path / "a.db"
    ingester = Ingester(db, fixed_signer)
    assert ingester.ingest_file(SAMPLE).status == "ingested"
    conn = sqlite3.connect(db)
    triggers = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")}
    assert "claims_ai" not in triggers and {"claims_ad", "claims_au"} <= triggers
    # an old archive: put the insert trigger back and forget 0004
    conn.executescript(
        "CREATE TRIGGER claims_ai AFTER INSERT ON claims BEGIN INSERT INTO claims_fts "
        "(rowid, text, speaker, quote) VALUES (new.rowid, new.text, new.speaker, new.quote); END;"
        "DELETE FROM migrations WHERE name = '0004_fts_per_capture';"
    )
    conn.close()
    ingester = Ingester(db, fixed_signer)  # migrates
    assert ingester.ingest_file(DATA / "warc" / "example-iana.org-chunked.warc").status == (
        "ingested"
    )
    c = connect(db).conn
    for table in ("claims", "articles"):
        c.execute(f"INSERT INTO {table}_fts({table}_fts) VALUES ('integrity-check')")
        indexed = c.execute(f"SELECT COUNT(*) FROM {table}_fts").fetchone()[0]
        assert indexed == c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] > 0
    hits = c.execute(
        "SELECT c.id FROM claims_fts JOIN claims c ON c.rowid = claims_fts.rowid "
        "WHERE claims_fts MATCH 'harbour'"
    ).fetchall()
    assert hits


def test_band_rows_written_in_batches_give_the_same_links(tmp_path, fixed_signer, monkeypatch):
    """The linker holds band rows and writes them sorted, flushing when it holds many: however
    often it flushes, the archive gets the same bands and the same links."""
    from archive.ingest import Ingester
    from archive.links import Linker

    captures = [SAMPLE, *sorted((DATA / "provenance").glob("*.warc.gz"))]
    tables = {}
    for flush_rows in (20_000, 7):
        monkeypatch.setattr(Linker, "flush_rows", flush_rows)
        db = tmp_path / f"f{flush_rows}.db"
        ingester = Ingester(db, fixed_signer, clock=lambda: "2026-01-01T00:00:00Z")
        for capture in captures:
            assert ingester.ingest_file(capture).status == "ingested"
        conn = sqlite3.connect(db)
        tables[flush_rows] = [
            sorted(conn.execute(f"SELECT * FROM {t}")) for t in ("claim_bands", "claim_links")
        ]
        conn.close()
    assert tables[7] == tables[20_000]
    assert tables[7][0] and tables[7][1]  # bands and links exist


@pytest.mark.parametrize("into", [1, 5, 20, 60])
def test_a_capture_cut_inside_a_gzip_member_header_fails(isolated_env, tmp_path, into):
    """Cut a few bytes into a record's gzip member (before its payload), warcio stops as if
    the file had ended there: the bytes left over after the last whole record make it fail
    (found in review: such cuts were 'ingested', a photo silently lost)."""
    data = SAMPLE.read_bytes()
    members = [i for i in range(len(data) - 2) if data[i : i + 3] == b"\x1f\x8b\x08"]
    start = members[len(members) // 2]
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: start + into])
    result = ingest(cut)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: {cut} at offset "), result.output
    assert "truncated or damaged" in errors[0] or "damaged or cut-off record" in errors[0]
    assert not (isolated_env / "records" / "captures").exists() or not list(
        (isolated_env / "records" / "captures").iterdir()
    )


@pytest.mark.parametrize("cut", [1, 4, 8, 10])
def test_a_capture_cut_inside_its_last_gzip_trailer_fails(isolated_env, tmp_path, cut):
    """The last bytes of a .warc.gz are the last member's end: the record's closing CRLFs and
    the gzip trailer (CRC-32 and length). warcio reads on without them: such a file was
    ingested and verified (found in review; `gzip -t` says "unexpected end of file")."""
    data = SAMPLE.read_bytes()
    path = tmp_path / "cut.warc.gz"
    path.write_bytes(data[:-cut])
    result = ingest(path)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "the file ends inside the last record's gzip member" in errors[0]
    assert not (isolated_env / "records" / "captures").exists() or not list(
        (isolated_env / "records" / "captures").iterdir()
    )
    assert ingest(SAMPLE).exit_code == 0  # the whole file is fine


def test_arc_records_get_ids_derived_from_the_file(tmp_path, fixed_signer):
    """ARC has no record ids and warcio's conversion makes up a random one on each read: signed
    statements carried a different warc_record_id on every ingest of the same file (found in
    review). Now the id is <offset:N>, which anyone can derive from the file."""
    from archive.ingest import Ingester

    ids = []
    for n in range(2):
        db = tmp_path / f"a{n}" / "archive.db"
        assert Ingester(db, fixed_signer).ingest_file(DATA / "warc" / "example.arc.gz").status == (
            "ingested"
        )
        conn = sqlite3.connect(db)
        rows = conn.execute(
            'SELECT warc_record_id, "offset" FROM capture_records ORDER BY "offset"'
        ).fetchall()
        assert rows and all(rid == f"<offset:{offset}>" for rid, offset in rows), rows
        ids.append(rows + conn.execute("SELECT warc_record_id, statement FROM articles").fetchall())
    assert ids[0] == ids[1]
    # an ARC file is known by its content, whatever its name says, and after an empty gzip
    # member (the first member alone was read: found in review)
    named = tmp_path / "named-as-a.warc.gz"
    named.write_bytes(gzip.compress(b"") + (DATA / "warc" / "example.arc.gz").read_bytes())
    db = tmp_path / "named" / "archive.db"
    assert Ingester(db, fixed_signer).ingest_file(named).status == "ingested"
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT format FROM captures").fetchall() == [("arc",)]
    ids = conn.execute("SELECT warc_record_id FROM capture_records").fetchall()
    assert ids and all(rid.startswith("<offset:") for (rid,) in ids)


def test_claims_sorted_by_speaker_read_an_index(sample_db):
    """Datasette orders a sorted table's ties by the key (archive/datasette_paging.py makes the
    first page do so too): sorted by speaker, the claims are read in the order of an index
    (migration 0010), not sorted whole (1.8 s at a million claims)."""
    conn = sqlite3.connect(sample_db)
    for sql in (
        "SELECT id FROM claims ORDER BY speaker, id LIMIT 51",
        "SELECT id FROM claims WHERE (speaker > 'A' OR (speaker = 'A' AND id > 'x')) "
        "ORDER BY speaker, id LIMIT 51",
    ):
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "claims_speaker" in plan and "TEMP B-TREE" not in plan, plan


def test_claims_filtered_by_cue_read_an_index(sample_db):
    """A cue's claims (the cue facet's link) come in id order, the next page's too, and their
    kind and speaker facets, from one index (migration 0014): with the cue alone indexed, each
    page sorted every claim cued "said" (0.07-0.23 s at a million claims, 9 s cold)."""
    conn = sqlite3.connect(sample_db)
    for sql in (
        "SELECT * FROM claims WHERE cue = 'said' ORDER BY id LIMIT 51",
        "SELECT * FROM claims WHERE cue = 'said' AND id > 'x' ORDER BY id LIMIT 51",
        "SELECT kind, count(*) FROM claims WHERE cue = 'said' GROUP BY kind",
        "SELECT speaker, count(*) FROM claims WHERE cue = 'said' GROUP BY speaker",
    ):
        plan = " ".join(row[3] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}"))
        assert "INDEX claims_cue" in plan and "ORDER BY" not in plan, plan
        assert "GROUP BY" not in sql or "COVERING INDEX claims_cue" in plan, plan


def test_an_image_captured_elsewhere_is_the_capture_nearest_before_the_page(tmp_path, fixed_signer):
    """A page whose capture lacks its image takes the image from a capture already in the
    archive: the latest one at or before the page's capture, else the first after. It took the
    latest of all, so a page's signed image use could name a photo captured after it, and
    depended on the order the captures came in (found in review)."""
    import io

    from PIL import Image

    from archive.ingest import Ingester

    from .test_robustness import FILLER, article_html, http_response, warc_file

    def png(shade: int) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", (40, 30), (shade, 90, 160)).save(buf, "PNG")
        return buf.getvalue()

    src = "https://x.example/photo.png"
    page = article_html("Ferry terminal", FILLER, figures=[(src, "The terminal", "A. Photo")])
    url = "https://x.example/a.html"

    def capture(name: str, at: str, responses) -> Path:
        dates = {uri: {"WARC-Date": at} for uri, *_ in responses}
        return warc_file(tmp_path / name, responses, warc_headers=dates)

    # the photo with a page that shows it (an image no page uses is not kept)
    early = capture(
        "early.warc.gz",
        "2025-03-01T00:00:00Z",
        [http_response(url + "?e", page), http_response(src, png(10), "image/png")],
    )
    late = capture(
        "late.warc.gz",
        "2025-03-20T00:00:00Z",
        [http_response(url + "?l", page), http_response(src, png(200), "image/png")],
    )
    page_at = capture("page.warc.gz", "2025-03-10T00:00:00Z", [http_response(url, page)])
    before = capture("before.warc.gz", "2025-02-01T00:00:00Z", [http_response(url + "?b", page)])
    ingester = Ingester(tmp_path / "a.db", fixed_signer)
    for path in (early, late, page_at, before):
        assert ingester.ingest_file(path).status == "ingested"
    uses = dict(
        ingester.conn.execute(
            "SELECT a.captured_at, u.image_captured_at FROM image_uses u "
            "JOIN articles a ON a.id = u.article_id"
        ).fetchall()
    )
    assert uses == {
        "2025-03-01T00:00:00Z": "2025-03-01T00:00:00Z",  # their own captures' photos
        "2025-03-20T00:00:00Z": "2025-03-20T00:00:00Z",
        "2025-03-10T00:00:00Z": "2025-03-01T00:00:00Z",  # not the later capture of the 20th
        "2025-02-01T00:00:00Z": "2025-03-01T00:00:00Z",  # none before: the first after
    }


def test_strict_fails_what_would_go_in_with_warnings_and_keeps_nothing_of_it(
    isolated_env, tmp_path
):
    """An edited or failing WACZ, or a WARC with failed digests, goes in "with warnings" and
    exit 0: a script that reads only the exit code accepts it (an archivist's review).
    `--strict` fails such a file instead; the archive is as it was, the good files go in."""
    assert ingest(SAMPLE).exit_code == 0
    db = isolated_env / "records" / "archive.db"
    before = file_hash(db)
    failing = DATA / "wacz" / "invalid_signed_example_1.wacz"
    digests = DATA / "warc" / "example-trunc.warc"
    result = ingest("--strict", failing, digests)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 2, result.output
    assert errors[0].startswith(f"Error: {failing}: WACZ check failed: ")
    assert errors[0].endswith(" (--strict)")
    assert errors[1].startswith(f"Error: {digests} at offset ") and errors[1].endswith(
        " (--strict)"
    )
    assert errors[1].count(str(digests)) == 1  # named once
    assert "Warning:" not in result.output  # said in the error, not again
    assert "2 files: 0 ingested, 0 already in the archive, 2 failed" in result.output
    assert file_hash(db) == before
    assert len(list((isolated_env / "records" / "captures").iterdir())) == 1
    # without it, as before: both go in with warnings
    result = ingest(failing, digests)
    assert result.exit_code == 0 and "2 ingested (2 with warnings)" in result.output
