"""`sclzonal verdicts`: print or write the verdict of every polygon."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

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
@click.option("--from", "from_date", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Verdicts over a period starting this day (with --to; default: the first "
                   "observation): sclzonal.polygon_verdict_between.")
@click.option("--to", "to_date", type=click.DateTime(["%Y-%m-%d"]), metavar="YYYY-MM-DD",
              help="Verdicts over a period ending this day, inclusive (default: the last "
                   "observation).")
@click.pass_context
def verdicts(ctx: click.Context, output_format: str, output: Path | None,
             limit: int | None, from_date: dt.datetime | None, to_date: dt.datetime | None) -> None:
    """Print or write the verdict of every polygon (sclzonal.polygon_verdict), by polygon id.

    Without --from/--to: as of each polygon's latest evaluated observation, as stored by the
    last `sclzonal refresh`. With them: computed now over the period, with the number of
    observations, of clear observations, and the share of observations each rule held on
    (rule_held_shares). CSV has every column; GeoJSON adds the geometry (EPSG:4326). Rows are
    streamed (memory stays bounded for any number of polygons); a file is written whole or not
    at all.

    \b
    Examples:
      sclzonal verdicts --limit 20
      sclzonal verdicts --from 2024-06-01 --to 2024-06-30
      sclzonal verdicts --format csv --output verdicts.csv
      sclzonal verdicts --format geojson --output verdicts.geojson
      sclzonal verdicts --format csv --limit 100 | head
    """
    from sclzonal.verdicts import (
        PERIOD_TABLE_COLUMNS,
        TABLE_COLUMNS,
        as_table,
        csv_chunks,
        geojson_chunks,
        iter_verdicts,
        write_atomically,
    )

    period = None
    if from_date is not None or to_date is not None:
        first = from_date.date() if from_date is not None else dt.date.min
        last = to_date.date() if to_date is not None else dt.date.max
        if first > last:
            raise click.BadParameter(f"--from {first.isoformat()} is after --to {last.isoformat()}",
                                     param_hint="'--from'")
        period = (first, last)
    written = 0

    def counted(rows: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        nonlocal written
        for row in rows:
            written += 1
            yield row

    with ready_connection(ctx) as conn:
        # Rows are streamed from the server; the table counts the verdicts of all polygons, so
        # it reads every row, and keeps only those it shows.
        rows = counted(iter_verdicts(conn, with_geometry=output_format == "geojson",
                                     limit=None if output_format == "table" else limit,
                                     period=period))
        chunks: Iterable[str]
        if output_format == "table":
            chunks = [as_table(rows, limit, PERIOD_TABLE_COLUMNS if period else TABLE_COLUMNS)]
        elif output_format == "csv":
            chunks = csv_chunks(rows)
        else:
            chunks = geojson_chunks(rows)
        if output is None:
            for chunk in chunks:  # data: escape sequences in names stay as they are
                click.echo(chunk, nl=False, color=True)
        else:
            write_atomically(output, chunks)
    if output is not None:
        note(f"wrote {written} verdicts to {output}")
