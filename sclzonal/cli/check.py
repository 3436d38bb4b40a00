"""`sclzonal check`: compare what sclzonal stored with another source of the same numbers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import click

from sclzonal.cli.output import CliProgress
from sclzonal.cli.sentinelhub_options import connection_options, settings_from
from sclzonal.cli.support import parse_option_date, ready_connection


@click.group("check")
def check() -> None:
    """Cross-check stored counts with another source.

    \b
    Examples:
      sclzonal check statistical --endpoint cdse --sample 20
    """


@check.command("statistical")
@click.option("--sample", type=click.IntRange(1, 10000), required=True, metavar="N",
              help="How many polygons (with stored observations in the period) to check, chosen "
                   "at random.")
@click.option("--start", "start_text", metavar="YYYY-MM-DD",
              help="First acquisition date to compare; default: the earliest stored.")
@click.option("--end", "end_text", metavar="YYYY-MM-DD",
              help="Last acquisition date to compare; default: the latest stored.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random choice: the same seed picks the same polygons.")
@connection_options
@click.pass_context
def statistical(ctx: click.Context, sample: int, start_text: str | None, end_text: str | None,
                seed: int, **options: Any) -> None:
    """Compare stored class counts with Sentinel Hub's Statistical API, per polygon and date.

    For N random polygons, each stored observation (the scene used for the polygon on a date)
    is set against the API's histogram of SCL for the polygon and day, on the scene's own pixel
    grid: equal; different (by how many pixels, and whether that is the edge rule: the API also
    counting pixels the outline crosses); or not comparable (a scene loaded from a file, or no
    data from the API that day). One request per polygon and grid.

    \b
    Examples:
      sclzonal check statistical --endpoint cdse --sample 20
      sclzonal check statistical --endpoint cdse --sample 5 --start 2024-06-01 --end 2024-06-30
      sclzonal check statistical --sample 50 --seed 7
    """
    from sclzonal.flows import check_statistical
    from sclzonal.ingest.sentinelhub.crosscheck import summary

    settings = settings_from(options)
    settings.resolve_endpoint()  # a bad --endpoint is refused before connecting
    start = parse_option_date(start_text, "--start") or dt.date(1, 1, 1)
    end = parse_option_date(end_text, "--end") or dt.date(9999, 12, 31)
    with ready_connection(ctx) as conn:
        comparisons = check_statistical(conn, settings, sample=sample, start=start, end=end,
                                        seed=seed, progress=CliProgress())
    for comparison in comparisons:
        click.echo(comparison.line())
    click.echo(summary(comparisons))
