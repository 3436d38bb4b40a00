"""`sclzonal verdicts`: print or write the verdict of every polygon."""

from __future__ import annotations

from pathlib import Path

import click

from sclzonal.cli.support import ready_connection


@click.command("verdicts")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "geojson"]),
              default="table", show_default=True, help="Output format.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of standard output.")
@click.option("--limit", type=click.IntRange(1), help="Show at most this many rows (table only).")
@click.pass_context
def verdicts(ctx: click.Context, output_format: str, output: Path | None,
             limit: int | None) -> None:
    """Print or write the verdict of every polygon (sclzonal.polygon_verdict)."""
    from sclzonal.verdicts import as_csv, as_geojson, as_table, fetch_verdicts, write_atomically

    with ready_connection(ctx) as conn:
        rows = fetch_verdicts(conn, with_geometry=output_format == "geojson")
    if output_format == "table":
        text = as_table(rows, limit)
    elif output_format == "csv":
        text = as_csv(rows)
    else:
        text = as_geojson(rows)
    if output is None:
        click.echo(text, nl=False, color=True)  # data: escape sequences in names stay as they are
    else:
        write_atomically(output, text)
        click.echo(f"wrote {len(rows)} verdicts to {output}", err=True)
