"""`sclzonal scl`: load SCL rasters from files (GeoTIFF, Sen2Cor) or fetch them from Sentinel Hub."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from sclzonal.cli import json_reports
from sclzonal.cli.json_reports import json_option
from sclzonal.cli.output import CliProgress, note
from sclzonal.cli.sentinelhub_options import plan_lines, scene_printer, sentinelhub_options, settings_from
from sclzonal.cli.support import parse_option_date, ready_connection
from sclzonal.ingest import DEFAULT_TILE_SIZE


@click.group("scl")
def scl() -> None:
    """Load Sentinel-2 Scene Classification (SCL) rasters.

    \b
    Examples:
      sclzonal scl load SCL_2024-06-05.tif
      sclzonal scl fetch --endpoint cdse --start 2024-06-01 --end 2024-06-30
    """


@scl.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--date", "date_text", metavar="YYYY-MM-DD",
              help="Acquisition date; default: the ACQUISITION_DATE tag, else a date in the name.")
@click.option("--tile-size", default=DEFAULT_TILE_SIZE, show_default=True,
              type=click.IntRange(16, 4096), help="Tile width and height in pixels.")
@click.option("--replace", is_flag=True,
              help="Replace a scene of the same grid, date and source loaded from another file "
                   "(refused without this).")
@json_option("scl load")
@click.pass_context
def load(ctx: click.Context, paths: Sequence[Path], date_text: str | None,
         tile_size: int, replace: bool, as_json: bool) -> None:
    """Load single-band SCL GeoTIFFs (any CRS) as scenes; a file loaded before changes nothing.

    A Sen2Cor L2A product (`.SAFE` folder or its `.zip`) loads its 20 m SCL image (JPEG 2000),
    dated by the product name. Another file for a scene already loaded (same grid, date and
    source) is refused unless --replace is given. When several files are given, all are checked
    before any is stored.

    \b
    Examples:
      sclzonal scl load SCL_2024-06-05.tif SCL_2024-06-20.tif
      sclzonal scl load --date 2024-06-05 scene.tif
      sclzonal scl load S2A_MSIL2A_20240605T100031_N0510_R122_T33TVM_20240605T130202.SAFE
      sclzonal scl load --replace SCL_2024-06-05_reprocessed.tif
      sclzonal -q scl load --json SCL_*.tif
    """
    from sclzonal.flows import load_scl_files

    explicit = parse_option_date(date_text, "--date")
    with ready_connection(ctx) as conn:
        loaded = load_scl_files(conn, paths, explicit_date=explicit, tile_size=tile_size,
                                replace=replace, progress=CliProgress())
    if as_json:
        json_reports.emit(json_reports.scl_load(loaded))
        return
    for item in loaded:
        scene = item.scene
        state = f"loaded as scene {scene.scene_id} ({scene.tiles} tiles)" if scene.created \
            else f"already loaded as scene {scene.scene_id}, unchanged"
        if scene.replaced:
            state += f", replacing scene {', '.join(map(str, scene.replaced))}"
        click.echo(f"{item.name}: {scene.acquired_on.isoformat()}: {state}")


@scl.command("fetch")
@click.option("--start", "start_text", metavar="YYYY-MM-DD",
              help="First acquisition date (needed unless --since-last finds earlier fetches).")
@click.option("--end", "end_text", metavar="YYYY-MM-DD", help="Last acquisition date; default: today.")
@click.option("--since-last", is_flag=True,
              help="Start at the last date already fetched from this endpoint (for schedules); "
                   "--start is used when nothing was fetched yet.")
@click.option("--dry-run", is_flag=True,
              help="Ask only the catalog; print the plan per cell and its cost (requests, pixels, "
                   "processing units, against the endpoint's monthly quota); load nothing.")
@sentinelhub_options
@json_option("scl fetch")
@click.pass_context
def fetch(ctx: click.Context, start_text: str | None, end_text: str | None, since_last: bool,
          dry_run: bool, as_json: bool, **options: Any) -> None:
    """Fetch SCL for the loaded polygons from Sentinel Hub or CDSE and load it as scenes.

    Each polygon belongs to one cell of a fixed lattice in its UTM zone, on the Sentinel-2
    pixel grid of --resolution. The Catalog API lists the Sentinel-2 L2A acquisitions over the
    cells; each (date, cell) whose polygons no scene of that date holds yet is requested from
    the Processing API (the SCL band, UINT8, NEAREST resampling), several at once, and loaded
    like `scl load` loads a file. Credentials: SH_CLIENT_ID and SH_CLIENT_SECRET, else --profile.

    \b
    Examples:
      sclzonal scl fetch --endpoint cdse --start 2024-04-01 --end 2024-09-30 --dry-run
      sclzonal scl fetch --endpoint cdse --start 2024-06-01 --end 2024-06-30 --max-cloud 60
      sclzonal scl fetch --profile cdse --endpoint cdse --since-last --start 2024-01-01
      sclzonal scl fetch --start 2024-06-01 --resolution 10 --threads 8 --json
    """
    from sclzonal.flows import fetch_scl

    settings = settings_from(options)
    settings.resolve_endpoint()  # a bad --endpoint is refused before connecting
    start = parse_option_date(start_text, "--start")
    end = parse_option_date(end_text, "--end")
    with ready_connection(ctx) as conn:
        report = fetch_scl(conn, settings, start=start, end=end, since_last=since_last,
                           dry_run=dry_run, on_scene=scene_printer(as_json), progress=CliProgress())
    if as_json:
        json_reports.emit(json_reports.fetch(report))
        return
    if dry_run:
        for line in plan_lines(report):
            click.echo(line)
        click.echo(report.summary())
        click.echo(report.quota())
    else:
        click.echo(report.summary())
        note(report.quota())
