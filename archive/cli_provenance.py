"""``archive trace|history|diff|export``: the provenance questions from the command line."""

from __future__ import annotations

import json

import click

from .cli import cli, db_option, output_option, output_stream, text_value
from .config import default_db_path
from .db import connect
from .errors import ArchiveError


def _table(rows: list[dict], columns: list[str], width: int = 60, whole=()) -> None:
    """Print rows as an aligned text table, cutting long cells (but not the ``whole``
    columns': a URL cut short may lose what tells it from another)."""

    def cell(v, cut=True):
        s = "" if v is None else str(v)
        return s if len(s) <= width or not cut else s[: width - 1] + "…"

    cells = [[cell(r.get(c), c not in whole) for c in columns] for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    click.echo("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    click.echo("  ".join("-" * w for w in widths))
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def json_option(fn):
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(fn)


def _open(db_path):
    try:
        return connect(db_path or default_db_path(), upgrade=False)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None


@cli.command()
@click.argument("record", callback=text_value)
@db_option
@json_option
def trace(record, db_path, as_json):
    """Where else a claim (by id) or an image (by SHA-256) appears, and where it appeared first.

    An image may be named by the first digits of its SHA-256 (eight or more), as pages show it.

    Exact reuse (same normalised text, same image bytes) and near reuse (a scored link: reworded
    or trimmed text, a quotation framed differently, a resized or recompressed photo).

    Example: archive trace 37988c58467bc4cf-9
    """
    from .provenance import IMAGE_REF, trace_claim, trace_image

    record = record.strip()  # pasted with a newline or spaces around it
    db = _open(db_path)
    try:
        result = (
            trace_image(db.conn, record)
            if IMAGE_REF.fullmatch(record)
            else trace_claim(db.conn, record)
        )
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    if "claim" in result:
        click.echo(f"Claim {result['claim']['id']}: {result['claim']['text']}")  # as stored
        cols = ["match", "score", "captured_at", "site_name", "claim_id", "text"]
    else:
        image = result["image"]
        click.echo(f"Image {image['sha256']} ({image['width']}x{image['height']})")
        click.echo(f"Credits seen: {'; '.join(result['credits']) or 'none'}")
        cols = ["match", "distance", "captured_at", "site_name", "credit", "caption"]
    first = result["first_seen"]
    if first:
        click.echo(f"First seen: {first['captured_at']} at {first['site_name']}")
    _table(result["appearances"], cols)


@cli.command()
@click.argument("url", callback=text_value)
@db_option
@json_option
def history(url, db_path, as_json):
    """Every capture of a page, oldest first, with how much changed.

    URL is the page's canonical URL or the URL any of its captures was made at, in any
    spelling: http or https, with www. or without it, a slash at the end or not, the host in
    any case; a link with tracking parameters (utm_source, fbclid...) finds the page without
    them too. When a capture was made at another URL (a tracking parameter, a syndicated copy
    naming this page as its canonical URL), each one's URL is shown too.

    Example: archive history https://example.com/news/story.html
    """
    from .provenance import history as page_history

    db = _open(db_path)
    try:
        rows = page_history(db.conn, url)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
    else:
        columns = ["captured_at", "article_id", "claims", "changes_since_previous", "title"]
        if any(r["url"] != url.strip() for r in rows):  # captured elsewhere too: say where
            columns.append("url")
        _table(rows, columns, whole=("url",))


@cli.command()
@click.argument("url", callback=text_value)
@db_option
@click.option(
    "--from",
    "old",
    metavar="CAPTURE",
    callback=text_value,
    help="Article id or capture SHA-256, or the start of either.",
)
@click.option(
    "--to",
    "new",
    metavar="CAPTURE",
    callback=text_value,
    help="Article id or capture SHA-256, or the start of either.",
)
@json_option
def diff(url, db_path, old, new, as_json):
    """What changed between two captures of a page: claims and images added, removed, changed.

    URL is the page, as `archive history` takes it. Without --from/--to, compares the last
    two captures.

    Example: archive diff https://example.com/news/story.html
    """
    from .provenance import diff as page_diff

    db = _open(db_path)
    try:
        result = page_diff(db.conn, url, old, new)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(result, indent=2, ensure_ascii=False))
        return
    click.echo(f"{url}: {result['from']} -> {result['to']}")
    if result["from_url"] != result["to_url"]:
        click.echo(f"  captured at {result['from_url']} -> {result['to_url']}")
    for c in result["changes"]:
        mark = {"added": "+", "removed": "-", "changed": "~"}[c["change"]]
        if c["change"] == "changed":
            click.echo(f"~ {c['target']} (similarity {c['score']})")
            click.echo(f"  - {_side(c, 'old')}")
            click.echo(f"  + {_side(c, 'new')}")
        else:
            click.echo(f"{mark} {c['target']}: {_side(c, 'new' if mark == '+' else 'old')}")
    if not result["changes"]:
        click.echo("No changes.")


def _side(change: dict, side: str) -> str:
    """One side of a change as a line: a claim's text; an image's caption and credit, and
    which image it is."""
    text = change[f"{side}_text"]
    if change["target"] != "image":
        return text
    return f"{text or '(no caption or credit)'} [{change[f'{side}_image']}]"


@cli.command()
@db_option
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["prov-json", "claimreview", "csv", "jsonl"]),
    required=True,
    help="Output format.",
)
@click.option(
    "--table", default="claims", show_default=True, help="Table to export (csv and jsonl)."
)
@output_option()
def export(db_path, fmt, table, output):
    """Export for other tools: W3C PROV-JSON, schema.org ClaimReview, CSV or JSON lines.

    Example: archive export --format prov-json -o archive.prov.json
    """
    from click.core import ParameterSource

    from .export import write

    given = click.get_current_context().get_parameter_source("table")
    if fmt in ("prov-json", "claimreview") and given is not ParameterSource.DEFAULT:
        # ignored, it would pass for an export of that table
        raise click.UsageError(
            f"--table applies to csv and jsonl; {fmt} exports the whole archive in one document"
        )
    db = _open(db_path)
    try:
        with output_stream(output) as out:
            write(db.conn, fmt, out, table)
    except ArchiveError as e:
        raise click.ClickException(str(e)) from None
