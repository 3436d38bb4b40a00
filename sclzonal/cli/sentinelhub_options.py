"""The options `scl fetch` and `ingest` share: endpoint, credentials, request and retry settings."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from sclzonal.cli.output import note
from sclzonal.flows import FetchSettings
from sclzonal.ingest import DEFAULT_TILE_SIZE, MAX_REQUEST_PIXELS

_OPTIONS = [
    click.option("--endpoint", default="sentinelhub", show_default=True, envvar="SCLZONAL_ENDPOINT",
                 metavar="sentinelhub|cdse|URL",
                 help="Sentinel Hub, the Copernicus Data Space Ecosystem (cdse), or the base URL of "
                      "another Processing API deployment; default also from $SCLZONAL_ENDPOINT."),
    click.option("--token-url", metavar="URL",
                 help="OAuth token URL of a custom --endpoint; default: URL/oauth/token."),
    click.option("--profile", metavar="NAME",
                 help="sentinelhub configuration profile holding the credentials, used when "
                      "SH_CLIENT_ID and SH_CLIENT_SECRET are not both set."),
    click.option("--max-cloud", type=click.FloatRange(0, 100), metavar="PERCENT",
                 help="Only dates with a catalog item of at most this cloud cover "
                      "(eo:cloud_cover); default: every date."),
    click.option("--resolution", default=20.0, show_default=True, type=click.FloatRange(1, 1000),
                 help="Pixel size in metres, in the UTM zone of each area (SCL's own: 20)."),
    click.option("--cell-size", default=500, show_default=True, type=click.IntRange(16, 10000),
                 metavar="PIXELS",
                 help="Side of the request lattice's cells (plus a margin of 1/20 on each side); "
                      "only cells holding polygons are fetched. Keep it fixed: another size is "
                      "another lattice (scenes held already are not fetched again)."),
    click.option("--max-request-pixels", default=MAX_REQUEST_PIXELS, show_default=True,
                 type=click.IntRange(16, MAX_REQUEST_PIXELS),
                 help="Largest width or height of one request; bigger areas are split into a "
                      "grid of requests and merged into one scene."),
    click.option("--timeout-seconds", default=120.0, show_default=True,
                 type=click.FloatRange(0.1), help="Wait this long for an answer before retrying."),
    click.option("--max-wait-seconds", default=300.0, show_default=True, type=click.FloatRange(0),
                 help="Give up on a request whose retries (after 5xx, 429 or timeouts) would "
                      "take longer than this."),
    click.option("--retry-sleep-seconds", default=5.0, show_default=True,
                 type=click.FloatRange(0),
                 help="First wait before retrying (grows threefold); also the wait after a 429 "
                      "without Retry-After."),
    click.option("--tile-size", default=DEFAULT_TILE_SIZE, show_default=True,
                 type=click.IntRange(16, 4096), help="Stored tile width and height in pixels."),
    click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 32),
                 help="Processing requests under way at once."),
    click.option("--requests-per-minute", default=300.0, show_default=True,
                 type=click.FloatRange(0), metavar="N",
                 help="Start at most this many requests a minute, retries included (CDSE's free "
                      "tier allows 300); 0: no limit."),
]
SETTING_NAMES = ("endpoint", "token_url", "profile", "max_cloud", "resolution", "cell_size",
                 "max_request_pixels", "timeout_seconds", "max_wait_seconds", "retry_sleep_seconds",
                 "tile_size", "threads", "requests_per_minute")


CONNECTION_NAMES = ("endpoint", "token_url", "profile", "timeout_seconds", "max_wait_seconds",
                    "retry_sleep_seconds", "requests_per_minute")
"""The options of commands that talk to the service but fetch nothing (`check statistical`)."""


def sentinelhub_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared Sentinel Hub options to a command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def connection_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add only the options saying where and how to reach the service."""
    for name, option in reversed(list(zip(SETTING_NAMES, _OPTIONS, strict=True))):
        if name in CONNECTION_NAMES:
            command = option(command)
    return command


def settings_from(options: dict[str, Any]) -> FetchSettings:
    """Return the FetchSettings of a command's shared Sentinel Hub options (removing them)."""
    return FetchSettings(**{name: options.pop(name) for name in SETTING_NAMES if name in options})


def scene_printer(as_json: bool) -> Callable[[str, Any], None]:
    """Return what prints each (date, cell) of a fetch: on stdout, or with --json as a note."""

    def scene_line(label: str, result: Any) -> None:
        if result is None:
            line = f"{label}: already loaded"
        else:
            line = f"{label}: loaded as scene {result.scene_id} ({result.tiles} tiles)"
        if as_json:
            note(line)
        else:
            click.echo(line)

    return scene_line


def plan_lines(report: Any) -> list[str]:
    """Return a dry run's plan, one line per cell: the dates found and what they would cost."""
    lines = []
    for cell_plan in report.plan.cells if report.plan is not None else []:
        scenes = cell_plan.scenes
        dates = ", ".join(day.isoformat() for day in cell_plan.dates) or "none"
        units = sum(scene.processing_units for scene in scenes)
        lines.append(f"{cell_plan.cell.label()}: dates {dates}; to request {len(scenes)}: "
                     f"{sum(len(scene.tiles) for scene in scenes)} requests, "
                     f"{sum(scene.pixels for scene in scenes):,} pixels, {units:.3f} PU")
    return lines
