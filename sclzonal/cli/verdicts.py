"""`sclzonal verdicts`: print or write the verdict of every polygon."""

from __future__ import annotations

from pathlib import Path

import click

from sclzonal.cli.output import note
from sclzonal.cli.support import ready_connection


@click.command("verdicts")
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "geojson"]),
              default="table", show_default=True, help="Output format.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of standard output.")
@click.option("--limit", type=click.IntRange(1),
              help="At most this many polygons, the lowest ids first (every format; the table "
                   "still ends with the count per verdict of all polygons).")
@click.pass_context
def verdicts(ctx: click.Context, output_format: str, output: Path | None,
             limit: int | None) -> None:
    """Print or write the verdict of every polygon (sclzonal.polygon_verdict), by polygon id.

    CSV has every column; GeoJSON adds the geometry (EPSG:4326). A file is written whole or
    not at all.

    \b
    Examples:
      sclzonal verdicts --limit 20
      sclzonal verdicts --format csv --output verdicts.csv
      sclzonal verdicts --format geojson --output verdicts.geojson
      sclzonal verdicts --format csv --limit 100 | head
    """
    from sclzonal.verdicts import as_csv, as_geojson, as_table, fetch_verdicts, write_atomically

    with ready_connection(ctx) as conn:
        # The table counts the verdicts of all polygons, so it reads every row.
        rows = fetch_verdicts(conn, with_geometry=output_format == "geojson",
                              limit=None if output_format == "table" else limit)
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
        note(f"wrote {len(rows)} verdicts to {output}")
