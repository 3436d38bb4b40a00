"""The jobs sclzonal does, each in one place: load SCL files, fetch from Sentinel Hub, ingest.

The CLI commands and the demo call these; they print nothing themselves. What they have to say
while they run goes to a `Progress` (bars and lines), so a caller decides where it shows: the
CLI's progress bars and stderr, or nowhere. Libraries (GDAL, sentinelhub-py) are imported when a
job runs, so that importing this module stays cheap.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import psycopg

from sclzonal.db.connection import JobBusy, job_lock
from sclzonal.errors import UserError
from sclzonal.ingest import DEFAULT_TILE_SIZE, MAX_REQUEST_PIXELS

if TYPE_CHECKING:
    from sclzonal.counting.refresh import RefreshReport
    from sclzonal.ingest.scl_raster import SceneLoad, SclFile
    from sclzonal.ingest.sentinelhub.client import Endpoint
    from sclzonal.ingest.sentinelhub.crosscheck import Comparison
    from sclzonal.ingest.sentinelhub.fetch import FetchReport


class Bar(Protocol):
    """A progress bar: what `Progress.bar` returns (tqdm's interface, the part used here)."""

    def update(self, n: float = 1) -> object:
        """Advance by n."""

    def reset(self, total: float | None = None) -> object:
        """Start again with a new total."""


class Progress(Protocol):
    """Where a job reports while it runs."""

    def bar(self, *, desc: str, unit: str, total: int | None = None) -> AbstractContextManager[Bar]:
        """Return a progress bar for one step."""

    def note(self, message: str) -> None:
        """Say something about the run (on stderr in the CLI)."""


class _NullBar:
    def update(self, n: float = 1) -> object:
        return None

    def reset(self, total: float | None = None) -> object:
        return None


class Silent:
    """A Progress that shows nothing."""

    def bar(self, *, desc: str, unit: str, total: int | None = None) -> AbstractContextManager[Bar]:
        """Return a bar that shows nothing."""
        return nullcontext(_NullBar())

    def note(self, message: str) -> None:
        """Say nothing."""


@dataclass(frozen=True)
class LoadedFile:
    """One SCL file `load_scl_files` handled."""

    name: str
    scene: SceneLoad


def load_scl_files(conn: psycopg.Connection, paths: Sequence[Path], *, explicit_date: dt.date | None = None,
                   tile_size: int = DEFAULT_TILE_SIZE, replace: bool = False,
                   progress: Progress | None = None) -> list[LoadedFile]:
    """Check every file, then load each as one scene (one transaction per scene).

    GeoTIFFs and Sen2Cor products (`.SAFE` folder or `.zip`). Nothing is stored when any file
    would be refused: with several files, all pixels are checked first, and so is whether the
    database would take each (another file of an acquisition already loaded needs `replace`).
    """
    progress = progress or Silent()
    # The server loads its raster library (tens of milliseconds) while this process loads GDAL.
    warm_up = threading.Thread(target=_warm_up, args=(conn,), daemon=True)
    warm_up.start()
    from sclzonal.ingest.scene_identity import check_new_scenes, drop_tables_of_deleted_scenes
    from sclzonal.ingest.scl_raster import check_pixels, load_scene
    from sclzonal.ingest.sen2cor import inspect_scl_input, source_of

    with ExitStack() as stack:
        checked: list[SclFile] = [scl_file for path in paths
                                  for scl_file in inspect_scl_input(path, explicit_date, stack)]
        if len(checked) > 1:
            # A bad file later in the list must not leave the earlier ones loaded. (A single file
            # is checked while it loads, and rolled back on a bad value.)
            with progress.bar(desc="checking", unit=" files", total=len(checked)) as bar:
                for scl_file in checked:
                    check_pixels(scl_file, tile_size)
                    bar.update(1)
        warm_up.join()
        check_new_scenes(conn, [(scl_file, source_of(scl_file)) for scl_file in checked], replace)
        loaded = []
        for scl_file in checked:
            with progress.bar(desc=scl_file.path.name, unit=" rows", total=scl_file.height) as bar:
                scene = load_scene(conn, scl_file, tile_size=tile_size, source=source_of(scl_file),
                                   on_rows=bar.update, replace=replace)
            loaded.append(LoadedFile(str(scl_file.reference or scl_file.path), scene))
        if any(file.scene.replaced for file in loaded):
            drop_tables_of_deleted_scenes(conn)
    return loaded


def _warm_up(conn: psycopg.Connection) -> None:
    try:
        conn.execute("SELECT postgis_raster_lib_version()")
    except psycopg.Error:
        pass  # only a head start: the load itself reports a database that does not answer


@dataclass(frozen=True)
class FetchSettings:
    """How to reach Sentinel Hub or CDSE and what to ask it for (the options of `scl fetch`)."""

    endpoint: str = "sentinelhub"
    token_url: str | None = None
    profile: str | None = None
    max_cloud: float | None = None
    resolution: float = 20.0
    cell_size: int = 500
    max_request_pixels: int = MAX_REQUEST_PIXELS
    timeout_seconds: float = 120.0
    max_wait_seconds: float = 300.0
    retry_sleep_seconds: float = 5.0
    tile_size: int = DEFAULT_TILE_SIZE
    threads: int = 4
    requests_per_minute: float = 300.0

    def resolve_endpoint(self) -> Endpoint:
        """Return the endpoint these settings name (its URLs and scene source)."""
        from sclzonal.ingest.sentinelhub.client import resolve_endpoint

        return resolve_endpoint(self.endpoint, self.token_url)


def utc_today() -> dt.date:
    """Return today's date in UTC (acquisition dates are UTC dates)."""
    return dt.datetime.now(dt.UTC).date()


def fetch_scl(conn: psycopg.Connection, settings: FetchSettings, *, start: dt.date | None,
              end: dt.date | None = None, since_last: bool = False, dry_run: bool = False,
              on_scene: Callable[[str, SceneLoad | None], object] | None = None,
              progress: Progress | None = None, workdir: Path | None = None) -> FetchReport:
    """Fetch SCL for the loaded polygons and load each (date, cell) as a scene.

    Holds the ingestion lock (waits for another run). With `since_last`, starts at the last
    date already fetched from the endpoint (or `start` when nothing was). With `dry_run`, asks
    only the catalog and returns the plan and its cost, sending no Processing request (and
    taking no lock: it writes nothing).
    """
    from sclzonal.ingest.sentinelhub.fetch import last_fetched_date

    progress = progress or Silent()
    endpoint = settings.resolve_endpoint()
    end = end or utc_today()
    if start is None and not since_last:
        raise UserError("give --start YYYY-MM-DD")
    with nullcontext() if dry_run else job_lock(
            conn, "ingest",
            on_busy=lambda: progress.note("another ingestion run holds the lock; waiting for it")):
        if since_last:
            start = last_fetched_date(conn, endpoint.source) or start
        if start is None:
            raise UserError("give --start YYYY-MM-DD (nothing was fetched from this endpoint yet)")
        return _fetch(conn, settings, endpoint, start, end, on_scene, progress, workdir, dry_run)


@dataclass
class IngestReport:
    """What a scheduled ingestion run did."""

    ran: bool = False
    fetch: FetchReport | None = None
    refresh: RefreshReport | None = None
    failure: str | None = None


class IngestBusy(JobBusy):
    """Another ingestion run held the lock past the wait limit; `report` says nothing ran."""

    def __init__(self, message: str, report: IngestReport) -> None:
        super().__init__(message)
        self.report = report


def ingest(conn: psycopg.Connection, settings: FetchSettings, *, lookback_days: int = 30,
           on_scene: Callable[[str, SceneLoad | None], object] | None = None,
           progress: Progress | None = None, wait_seconds: float = 0) -> IngestReport:
    """Fetch every acquisition since the last one fetched, then refresh; one run at a time.

    When another run holds the ingestion lock, waits `wait_seconds` for it, then raises
    IngestBusy (its report: nothing ran), so a scheduled run that could not run is an error its
    scheduler sees. Its refresh waits for a refresh that is running. A fetch that fails
    part-way keeps what it loaded, which is counted; the failure is raised after the refresh.
    """
    from sclzonal.counting.refresh import refresh
    from sclzonal.ingest.sentinelhub.fetch import last_fetched_date

    progress = progress or Silent()
    endpoint = settings.resolve_endpoint()
    report = IngestReport()
    with ExitStack() as stack:
        try:
            stack.enter_context(job_lock(
                conn, "ingest", wait_seconds=wait_seconds, on_busy=lambda: progress.note(
                    f"another ingestion run holds the lock; waiting up to {wait_seconds:g} s")))
        except JobBusy as exc:
            raise IngestBusy(str(exc), report) from None
        report.ran = True
        today = utc_today()
        start = last_fetched_date(conn, endpoint.source) or (today - dt.timedelta(days=lookback_days))
        failure: UserError | None = None
        try:
            report.fetch = _fetch(conn, settings, endpoint, start, today, on_scene, progress, None,
                                  False)
        except UserError as exc:
            failure = exc
            report.failure = str(exc)
        report.refresh = refresh(conn, on_wait=lambda: progress.note("another refresh is running; waiting"))
        if failure is not None:
            raise IngestFailed(failure, report) from failure
    return report


class IngestFailed(UserError):
    """A scheduled run whose fetch failed after the refresh counted what it had loaded."""

    def __init__(self, failure: UserError, report: IngestReport) -> None:
        super().__init__(str(failure))
        self.report = report


def _fetch(conn: psycopg.Connection, settings: FetchSettings, endpoint: Endpoint, start: dt.date,
           end: dt.date, on_scene: Callable[[str, SceneLoad | None], object] | None,
           progress: Progress, workdir: Path | None, dry_run: bool) -> FetchReport:
    """Plan, search, then request and load (the caller holds the ingestion lock), or only plan."""
    import tempfile

    from sclzonal.ingest.sentinelhub.client import RetryPolicy, SentinelHub, resolve_credentials
    from sclzonal.ingest.sentinelhub.fetch import FetchOptions, fetch_scenes, plan_fetch, report_of
    from sclzonal.ingest.sentinelhub.plan import Lattice, plan_cells

    if end < start:
        raise UserError(f"the period is empty: start {start.isoformat()} is after end {end.isoformat()}")
    credentials = resolve_credentials(settings.profile)
    lattice = Lattice(resolution=settings.resolution, cell_pixels=settings.cell_size,
                      margin_pixels=max(1, settings.cell_size // 20))
    cells = plan_cells(conn, lattice)
    policy = RetryPolicy(timeout_seconds=settings.timeout_seconds,
                         max_wait_seconds=settings.max_wait_seconds,
                         sleep_seconds=settings.retry_sleep_seconds)
    options = FetchOptions(start=start, end=end, max_cloud=settings.max_cloud,
                           max_request_pixels=settings.max_request_pixels, tile_size=settings.tile_size,
                           threads=settings.threads)
    progress.note(f"{endpoint.source} ({endpoint.base_url}): {len(cells)} cells, "
                  f"{start.isoformat()} to {end.isoformat()}")
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sclzonal-fetch-")))
        hub = stack.enter_context(SentinelHub(endpoint, credentials, policy,
                                              lambda message: progress.note(f"sclzonal: {message}"),
                                              requests_per_minute=settings.requests_per_minute))
        with progress.bar(desc="catalog", unit=" searches") as searches:
            plan = plan_fetch(conn, hub, cells, options,
                              on_searches=lambda total: searches.reset(total=total),
                              on_searched=lambda: searches.update(1))
        if dry_run:
            report = report_of(plan, endpoint.source)
        else:
            bar = stack.enter_context(progress.bar(desc="fetching", unit=" scenes",
                                                   total=len(plan.pairs())))

            def scene_done(label: str, result: SceneLoad | None) -> None:
                bar.update(1)
                if on_scene is not None:
                    on_scene(label, result)

            report = fetch_scenes(conn, hub, plan, options, workdir, on_scene=scene_done)
    report.requests_per_minute = settings.requests_per_minute
    return report


def check_statistical(conn: psycopg.Connection, settings: FetchSettings, *, sample: int,
                      start: dt.date, end: dt.date, seed: int = 0,
                      progress: Progress | None = None) -> list[Comparison]:
    """Compare the stored counts of `sample` random polygons with the Statistical API's."""
    from sclzonal.ingest.sentinelhub.client import RetryPolicy, SentinelHub, resolve_credentials
    from sclzonal.ingest.sentinelhub.crosscheck import cross_check, sample_observations

    progress = progress or Silent()
    if end < start:
        raise UserError(f"the period is empty: start {start.isoformat()} is after end {end.isoformat()}")
    endpoint = settings.resolve_endpoint()
    credentials = resolve_credentials(settings.profile)
    observations = sample_observations(conn, sample, start, end, seed)
    if not observations:
        raise UserError(f"no stored observations between {start.isoformat()} and {end.isoformat()}: "
                        "run `sclzonal refresh` after loading or fetching scenes")
    policy = RetryPolicy(timeout_seconds=settings.timeout_seconds,
                         max_wait_seconds=settings.max_wait_seconds,
                         sleep_seconds=settings.retry_sleep_seconds)
    with SentinelHub(endpoint, credentials, policy, lambda message: progress.note(f"sclzonal: {message}"),
                     requests_per_minute=settings.requests_per_minute) as hub:
        return cross_check(conn, hub, observations)
