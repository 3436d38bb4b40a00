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
    click.option("--cluster-gap", default=2000.0, show_default=True, type=click.FloatRange(0),
                 metavar="METRES",
                 help="Polygons closer than this are fetched in one request area; groups farther "
                      "apart are fetched separately, without the land between them."),
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
]
SETTING_NAMES = ("endpoint", "token_url", "profile", "max_cloud", "resolution", "cluster_gap",
                 "max_request_pixels", "timeout_seconds", "max_wait_seconds", "retry_sleep_seconds",
                 "tile_size")


def sentinelhub_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared Sentinel Hub options to a command."""
    for option in reversed(_OPTIONS):
        command = option(command)
    return command


def settings_from(options: dict[str, Any]) -> FetchSettings:
    """Return the FetchSettings of a command's shared Sentinel Hub options (removing them)."""
    return FetchSettings(**{name: options.pop(name) for name in SETTING_NAMES})


def scene_printer(as_json: bool) -> Callable[[str, Any], None]:
    """Return what prints each (date, cluster) of a fetch: on stdout, or with --json as a note."""

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
