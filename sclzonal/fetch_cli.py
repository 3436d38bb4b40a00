"""`sclzonal scl fetch` and `sclzonal ingest`: SCL from Sentinel Hub or CDSE, once or on a schedule.

Registered in sclzonal/cli.py. The work is in ingest/sentinelhub_plan.py (clusters, request
grids), ingest/sentinelhub_client.py (sentinelhub-py, credentials, retries) and
ingest/sentinelhub_fetch.py (catalog, requests, loading). Both commands hold the ingestion
advisory lock while they run: `scl fetch` waits for another run, `ingest` exits 0 saying so.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from db.connection import advisory_lock
from ingest import DEFAULT_TILE_SIZE, MAX_REQUEST_PIXELS
from sclzonal.cli_support import parse_option_date, progress, ready_connection
from sclzonal.errors import UserError

if TYPE_CHECKING:
    import psycopg

    from ingest.scl_raster import SceneLoad
    from ingest.sentinelhub_client import Endpoint
    from ingest.sentinelhub_fetch import FetchReport

# sentinelhub-py, rasterio and shapely are imported when a command runs, not when `sclzonal
# --help` lists the commands.


_SERVICE_OPTIONS = [
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


def _service_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_SERVICE_OPTIONS):
        command = option(command)
    return command


@dataclass(frozen=True)
class _Service:
    endpoint: str
    token_url: str | None
    profile: str | None
    max_cloud: float | None
    resolution: float
    cluster_gap: float
    max_request_pixels: int
    timeout_seconds: float
    max_wait_seconds: float
    retry_sleep_seconds: float
    tile_size: int


def _say_busy(then: str) -> Callable[[], None]:
    return lambda: click.echo(f"another ingestion run holds the lock; {then}", err=True)


def _utc_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _fetch(ctx: click.Context, conn: psycopg.Connection, service: _Service, endpoint: Endpoint,
           start: dt.date, end: dt.date) -> FetchReport:
    """Plan, search, request and load; print one line per (date, cluster) and a summary."""
    from ingest.sentinelhub_client import RetryPolicy, SentinelHub, resolve_credentials
    from ingest.sentinelhub_fetch import FetchOptions, fetch_scenes
    from ingest.sentinelhub_plan import plan_clusters

    if end < start:
        raise UserError(f"the period is empty: start {start.isoformat()} is after end {end.isoformat()}")
    credentials = resolve_credentials(service.profile)
    clusters = plan_clusters(conn, resolution=service.resolution,
                             gap_m=max(service.cluster_gap, 2 * service.resolution))
    policy = RetryPolicy(timeout_seconds=service.timeout_seconds,
                         max_wait_seconds=service.max_wait_seconds,
                         sleep_seconds=service.retry_sleep_seconds)
    options = FetchOptions(start=start, end=end, max_cloud=service.max_cloud,
                           max_request_pixels=service.max_request_pixels, tile_size=service.tile_size)
    workdir = Path(ctx.with_resource(tempfile.TemporaryDirectory(prefix="sclzonal-fetch-")))
    click.echo(f"{endpoint.source} ({endpoint.base_url}): {len(clusters)} clusters, "
               f"{start.isoformat()} to {end.isoformat()}", err=True)

    def notify(message: str) -> None:
        click.echo(f"sclzonal: {message}", err=True)

    with SentinelHub(endpoint, credentials, policy, notify) as hub, \
            progress(desc="fetching", unit=" scenes") as bar:
        def planned(total: int) -> None:
            bar.reset(total=total)

        def scene_done(label: str, result: SceneLoad | None) -> None:
            bar.update(1)
            if result is None:
                click.echo(f"{label}: already loaded")
            else:
                click.echo(f"{label}: loaded as scene {result.scene_id} ({result.tiles} tiles)")

        report = fetch_scenes(conn, hub, clusters, options, workdir, on_plan=planned,
                              on_scene=scene_done)
    click.echo(f"{endpoint.source}: {report.dates} dates over {report.clusters} clusters: "
               f"{len(report.loaded)} scenes loaded with {report.requests} requests, "
               f"{report.already_loaded} already loaded")
    return report


@click.command("fetch")
@click.option("--start", "start_text", metavar="YYYY-MM-DD",
              help="First acquisition date (needed unless --since-last finds earlier fetches).")
@click.option("--end", "end_text", metavar="YYYY-MM-DD", help="Last acquisition date; default: today.")
@click.option("--since-last", is_flag=True,
              help="Start at the last date already fetched from this endpoint (for schedules); "
                   "--start is used when nothing was fetched yet.")
@_service_options
@click.pass_context
def fetch(ctx: click.Context, start_text: str | None, end_text: str | None, since_last: bool,
          **settings: Any) -> None:
    """Fetch SCL for the loaded polygons from Sentinel Hub or CDSE and load it as scenes.

    The Catalog API lists the Sentinel-2 L2A acquisitions over each cluster of polygons; each
    (date, cluster) not loaded yet is requested from the Processing API (the SCL band, UINT8,
    NEAREST resampling, in the cluster's UTM zone) and loaded like `scl load` loads a file.
    Credentials: SH_CLIENT_ID and SH_CLIENT_SECRET, else --profile.
    """
    from ingest.sentinelhub_client import resolve_endpoint
    from ingest.sentinelhub_fetch import INGEST_LOCK_KEY, last_fetched_date

    service = _Service(**settings)
    endpoint = resolve_endpoint(service.endpoint, service.token_url)
    start = parse_option_date(start_text, "--start")
    end = parse_option_date(end_text, "--end") or _utc_today()
    if start is None and not since_last:
        raise UserError("give --start YYYY-MM-DD")
    with ready_connection(ctx) as conn, advisory_lock(conn, INGEST_LOCK_KEY, on_busy=_say_busy(
            "waiting for it")):
        if since_last:
            start = last_fetched_date(conn, endpoint.source) or start
        if start is None:
            raise UserError("give --start YYYY-MM-DD (nothing was fetched from this endpoint yet)")
        _fetch(ctx, conn, service, endpoint, start, end)


@click.command("ingest")
@click.option("--lookback-days", default=30, show_default=True, type=click.IntRange(0, 3650),
              help="On the first run (nothing fetched from this endpoint yet) start this many "
                   "days before today.")
@_service_options
@click.pass_context
def ingest_command(ctx: click.Context, lookback_days: int, **settings: Any) -> None:
    """Scheduled ingestion: fetch every acquisition since the last one fetched, then refresh.

    One run at a time: when another run holds the ingestion lock this one says so and exits 0.
    Scenes fetched before a failure are kept and counted; the exit code is then 1, and the next
    run starts again at the last date fetched. scripts/scheduled-ingest wraps this for cron,
    systemd and docker compose.
    """
    from ingest.sentinelhub_client import resolve_endpoint
    from ingest.sentinelhub_fetch import INGEST_LOCK_KEY, last_fetched_date
    from sclzonal.refresh import refresh as run_refresh

    service = _Service(**settings)
    endpoint = resolve_endpoint(service.endpoint, service.token_url)
    with ready_connection(ctx) as conn, advisory_lock(conn, INGEST_LOCK_KEY, wait=False, on_busy=_say_busy(
            "exiting without doing anything")) as held:
        if not held:
            return
        today = _utc_today()
        start = last_fetched_date(conn, endpoint.source) or (today - dt.timedelta(days=lookback_days))
        failure: UserError | None = None
        try:
            _fetch(ctx, conn, service, endpoint, start, today)
        except UserError as exc:
            failure = exc
        report = run_refresh(conn, on_wait=lambda: click.echo(
            "another refresh is running; waiting", err=True))
        click.echo(f"refresh: counted {report.pairs_counted} new polygon-scene pairs on "
                   f"{report.scenes} scenes")
        if failure is not None:
            raise failure
