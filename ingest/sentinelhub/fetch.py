"""Fetch SCL scenes for the loaded polygons from the Processing API and load them like `scl load`.

`plan_fetch` asks the Catalog API for the acquisitions over every group of touching cells (see
plan.py) and gives each cell the dates of the items whose footprints reach it. A (date, cell) is
left out when every polygon of the cell lies wholly inside a scene already fetched from this
endpoint for that date at this resolution, whatever its grid: the cell's own scene of an earlier
run, or a scene of the bounding-box plan sclzonal used before the lattice. The plan says what
the rest will cost (requests, pixels, processing units) before anything is requested.

`fetch_scenes` then requests the planned (date, cell) scenes, several at once (`threads`), each
one's responses (one per request window) checked and merged into one GeoTIFF, and loads them in
ascending (date, cell) order through `inspect_scl_file` + `load_scene` like any file given to
`scl load`: one scene, one transaction. `scene.reference` holds a key of the request (endpoint,
collection, date, CRS, resolution, box). A failure stops the run: nothing of the failing (date,
cell) is stored, everything before it in that order is, so a later run started at the last
loaded date (`--since-last`) misses nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import psycopg
import rasterio
from affine import Affine
from rasterio.windows import Window

from sclzonal.errors import UserError
from sclzonal.ingest import MAX_REQUEST_PIXELS
from sclzonal.ingest.scl_raster import DEFAULT_TILE_SIZE, SceneLoad, inspect_scl_file, load_scene, tile_rows
from sclzonal.ingest.sentinelhub.client import SentinelHub
from sclzonal.ingest.sentinelhub.cost import processing_units, quota_line
from sclzonal.ingest.sentinelhub.plan import (
    Cell,
    RequestTile,
    request_tiles,
    scene_reference,
    touching_groups,
)
from sclzonal.ingest.sentinelhub.retry import Stopped


@dataclass(frozen=True)
class FetchOptions:
    """What to fetch and how."""

    start: dt.date
    end: dt.date
    max_cloud: float | None = None
    max_request_pixels: int = MAX_REQUEST_PIXELS
    tile_size: int = DEFAULT_TILE_SIZE
    threads: int = 4


@dataclass(frozen=True)
class PlannedScene:
    """One (date, cell) to request: its windows, and what they cost."""

    day: dt.date
    cell: Cell
    reference: str
    tiles: tuple[RequestTile, ...]

    @property
    def pixels(self) -> int:
        """Pixels requested."""
        return sum(tile.width * tile.height for tile in self.tiles)

    @property
    def processing_units(self) -> float:
        """Processing units charged for its requests."""
        return sum(processing_units(tile.width, tile.height) for tile in self.tiles)

    def label(self) -> str:
        """Date and cell, for progress lines and errors."""
        return f"{self.day.isoformat()} {self.cell.label()}"


@dataclass
class CellPlan:
    """A cell's dates: those the catalog found, and which of them need a request."""

    cell: Cell
    dates: list[dt.date] = field(default_factory=list)
    scenes: list[PlannedScene] = field(default_factory=list)


@dataclass
class FetchPlan:
    """Every (date, cell) of a period, what is to be requested and what that costs."""

    cells: list[CellPlan]
    catalog_requests: int = 0

    def pairs(self) -> list[tuple[dt.date, Cell, PlannedScene | None]]:
        """Every (date, cell) found, in ascending order; None where nothing is to be requested."""
        found = []
        for plan in self.cells:
            planned = {scene.day: scene for scene in plan.scenes}
            found += [(day, plan.cell, planned.get(day)) for day in plan.dates]
        return sorted(found, key=lambda pair: (pair[0], pair[1].key))

    def scenes(self) -> list[PlannedScene]:
        """The (date, cell) scenes to request, in the order they are loaded."""
        return [scene for _, _, scene in self.pairs() if scene is not None]

    def figures(self) -> tuple[int, int, float]:
        """(requests, pixels, processing units) of the planned scenes."""
        scenes = self.scenes()
        return (sum(len(s.tiles) for s in scenes), sum(s.pixels for s in scenes),
                sum(s.processing_units for s in scenes))


@dataclass
class FetchReport:
    """What a fetch did (or, for a dry run, would do)."""

    cells: int = 0
    dates: int = 0
    loaded: list[SceneLoad] = field(default_factory=list)
    already_loaded: int = 0
    requests: int = 0
    pixels: int = 0
    processing_units: float = 0.0
    catalog_requests: int = 0
    source: str = ""
    dry_run: bool = False
    planned_scenes: int = 0
    requests_per_minute: float = 0.0
    plan: FetchPlan | None = None

    def summary(self) -> str:
        """Return the one-line summary the CLI prints."""
        done = (f"{self.planned_scenes} scenes to load with {self.requests} requests" if self.dry_run
                else f"{len(self.loaded)} scenes loaded with {self.requests} requests")
        return (f"{self.source}{' (dry run)' if self.dry_run else ''}: {self.dates} dates over "
                f"{self.cells} cells: {done}, {self.already_loaded} already loaded; "
                f"{self.pixels:,} pixels, {self.processing_units:.3f} processing units, "
                f"{self.catalog_requests} catalog requests")

    def quota(self) -> str:
        """The run's requests (catalog included) and PU against the endpoint's monthly quota."""
        return quota_line(self.source, self.requests + self.catalog_requests,
                          self.processing_units, self.requests_per_minute)


def last_fetched_date(conn: psycopg.Connection, source: str) -> dt.date | None:
    """Return the latest acquisition date loaded from an endpoint (scene.source), if any."""
    row = conn.execute(
        "SELECT max(acquired_on) FROM sclzonal.scene WHERE source = %s", (source,)
    ).fetchone()
    return row[0] if row else None


def loaded_references(conn: psycopg.Connection, source: str, options: FetchOptions) -> set[str]:
    """Return the references of the scenes fetched from an endpoint in the period."""
    rows = conn.execute(
        "SELECT reference FROM sclzonal.scene WHERE source = %s AND acquired_on BETWEEN %s AND %s",
        (source, options.start, options.end)).fetchall()
    return {str(reference) for (reference,) in rows}


def covered_polygons(conn: psycopg.Connection, source: str, options: FetchOptions, resolution: float,
                     polygon_ids: list[int]) -> dict[dt.date, set[int]]:
    """Return, per date, the polygons lying wholly inside a scene of that date fetched from this
    endpoint at this resolution (on any grid)."""
    rows = conn.execute(
        """
        SELECT DISTINCT s.acquired_on, p.id
        FROM sclzonal.scene AS s
        JOIN sclzonal.scene_grid AS g ON g.id = s.grid_id
        JOIN sclzonal.polygon AS p ON p.geom && s.footprint
        WHERE s.source = %(source)s AND s.acquired_on BETWEEN %(start)s AND %(end)s
          AND g.pixel_size_x = %(res)s AND g.pixel_size_y = -%(res)s AND p.id = ANY(%(ids)s)
          AND ST_Covers(
                ST_MakeEnvelope(g.upper_left_x, g.upper_left_y + g.height * g.pixel_size_y,
                                g.upper_left_x + g.width * g.pixel_size_x, g.upper_left_y, g.srid),
                sclzonal.polygon_in_srid_or_null(p.geom, g.srid))
        """,
        {"source": source, "start": options.start, "end": options.end, "res": float(resolution),
         "ids": polygon_ids}).fetchall()
    covered: dict[dt.date, set[int]] = {}
    for day, polygon_id in rows:
        covered.setdefault(day, set()).add(int(polygon_id))
    return covered


def plan_fetch(conn: psycopg.Connection, hub: SentinelHub, cells: list[Cell], options: FetchOptions,
               on_searches: Callable[[int], object] = lambda total: None,
               on_searched: Callable[[], object] = lambda: None) -> FetchPlan:
    """Ask the catalog for every cell's dates and plan the (date, cell) scenes not held yet.

    `on_searches(n)` is told how many catalog searches there are, `on_searched()` after each.
    """
    plans = [CellPlan(cell) for cell in cells]
    if cells:
        boxes = np.array([plan.cell.lonlat_footprint.bounds for plan in plans])
        groups = touching_groups(boxes)
        on_searches(len(groups))
        for group in groups:
            area = (float(boxes[group, 0].min()), float(boxes[group, 1].min()),
                    float(boxes[group, 2].max()), float(boxes[group, 3].max()))
            items = hub.search_items(area, options.start, options.end, options.max_cloud)
            for index in group:
                footprint = plans[index].cell.lonlat_footprint
                plans[index].dates = sorted({day for day, geometry in items
                                             if geometry is None or geometry.intersects(footprint)})
            on_searched()
    # A cell's own scene of a date holds all its polygons (they lie in its box): only the other
    # (date, cell) pairs need the geometric test, which finds scenes of other grids
    held = loaded_references(conn, hub.endpoint.source, options)
    pending = [(plan, day, scene_reference(hub.endpoint.base_url, day, plan.cell))
               for plan in plans for day in plan.dates]
    pending = [(plan, day, reference) for plan, day, reference in pending if reference not in held]
    ids = sorted({pid for plan, _, _ in pending for pid in plan.cell.polygon_ids})
    covered = covered_polygons(conn, hub.endpoint.source, options, cells[0].resolution, ids) if ids else {}
    for plan, day, reference in pending:
        if not set(plan.cell.polygon_ids) <= covered.get(day, set()):
            plan.scenes.append(PlannedScene(day, plan.cell, reference,
                                            tuple(request_tiles(plan.cell, options.max_request_pixels))))
    return FetchPlan(plans, catalog_requests=hub.client.answered["catalog"])


def report_of(plan: FetchPlan, source: str) -> FetchReport:
    """Return a dry run's report: the plan's figures, nothing loaded."""
    pairs = plan.pairs()
    requests, pixels, units = plan.figures()
    return FetchReport(cells=len(plan.cells), dates=len({day for day, _, _ in pairs}),
                       already_loaded=sum(scene is None for *_, scene in pairs), requests=requests,
                       pixels=pixels, processing_units=units, catalog_requests=plan.catalog_requests,
                       source=source, dry_run=True, planned_scenes=len(plan.scenes()), plan=plan)


def fetch_scenes(
    conn: psycopg.Connection,
    hub: SentinelHub,
    plan: FetchPlan,
    options: FetchOptions,
    workdir: Path,
    *,
    on_scene: Callable[[str, SceneLoad | None], object] | None = None,
) -> FetchReport:
    """Request the planned scenes (`options.threads` at a time) and load them in order.

    `on_scene(label, result)` is called for every (date, cell) in order, with None for one that
    was held before.
    """
    pairs = plan.pairs()
    report = FetchReport(cells=len(plan.cells), dates=len({day for day, _, _ in pairs}),
                         catalog_requests=plan.catalog_requests, source=hub.endpoint.source,
                         planned_scenes=len(plan.scenes()), plan=plan)
    waiting = iter(plan.scenes())
    running: deque[tuple[PlannedScene, Future[Path]]] = deque()
    failed = threading.Event()

    def fetch_one(scene: PlannedScene) -> Path:
        # after a failure no scene is started: those under way finish, so the ones before the
        # failure (in load order) are loaded, and the failure is raised when its turn comes
        if failed.is_set():
            raise Stopped("an earlier request failed")
        try:
            return _download_scene(hub, scene, workdir)
        except BaseException:
            failed.set()
            raise

    with ThreadPoolExecutor(max_workers=options.threads, thread_name_prefix="sclzonal-fetch") as pool:
        try:
            for day, cell, planned in pairs:
                if planned is None:
                    report.already_loaded += 1
                    if on_scene is not None:
                        on_scene(f"{day.isoformat()} {cell.label()}", None)
                    continue
                while len(running) < 2 * options.threads and (item := next(waiting, None)):
                    running.append((item, pool.submit(fetch_one, item)))
                scene, download = running.popleft()
                path = download.result()
                report.requests += len(scene.tiles)
                report.pixels += scene.pixels
                report.processing_units += scene.processing_units
                result = _load(conn, scene, path, options, hub.endpoint.source)
                if result.created:
                    report.loaded.append(result)
                else:  # the same pixels and reference, loaded by another process meanwhile
                    report.already_loaded += 1
                if on_scene is not None:
                    on_scene(scene.label(), result if result.created else None)
        except BaseException:
            hub.client.stop()
            for _, download in running:
                download.cancel()
            raise
    return report


def _load(conn: psycopg.Connection, scene: PlannedScene, path: Path, options: FetchOptions,
          source: str) -> SceneLoad:
    scl = replace(inspect_scl_file(path, scene.day), reference=scene.reference)
    result = load_scene(conn, scl, tile_size=options.tile_size, source=source)
    path.unlink()
    return result


def _download_scene(hub: SentinelHub, scene: PlannedScene, workdir: Path) -> Path:
    """Request every window of a (date, cell) and merge the responses into one GeoTIFF."""
    cell, day, tiles, key = scene.cell, scene.day, scene.tiles, scene.cell.key
    stem = f"scl_{day.isoformat()}_epsg{cell.epsg}_{key.level}_{key.col}_{key.row}"
    path = workdir / f"{stem}.tif"
    left, _, _, top = cell.bounds
    profile = {
        "driver": "GTiff", "width": cell.width, "height": cell.height, "count": 1,
        "dtype": "uint8", "crs": f"EPSG:{cell.epsg}",
        "transform": Affine(cell.resolution, 0, left, 0, -cell.resolution, top),
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as mosaic:
        mosaic.update_tags(ACQUISITION_DATE=day.isoformat(), SCLZONAL_REFERENCE=scene.reference)
        for index, tile in enumerate(tiles, start=1):
            where = f"{scene.label()}, request {index}/{len(tiles)}"
            data = hub.fetch_tiff(tile.bounds, cell.epsg, day, cell.resolution)
            tile_path = workdir / f"{stem}_request{index}.tif"
            tile_path.write_bytes(data)
            block = _checked_response(tile_path, tile, cell, day, where)
            mosaic.write(block, 1, window=Window(tile.col_off, tile.row_off, tile.width, tile.height))
            tile_path.unlink()
    return path


def _checked_response(path: Path, tile: RequestTile, cell: Cell, day: dt.date,
                      where: str) -> np.ndarray:
    """Check one response like `scl load` checks a file, plus its grid; return its pixels."""
    try:
        scl = inspect_scl_file(path, day)
    except UserError as exc:
        raise _unusable(where, path, exc) from None
    expected = (cell.epsg, tile.width, tile.height, tile.bounds[0], tile.bounds[3],
                cell.resolution, -cell.resolution)
    found = (scl.srid, scl.width, scl.height, scl.upper_left_x, scl.upper_left_y,
             scl.pixel_size_x, scl.pixel_size_y)
    tolerance = cell.resolution * 1e-6
    if found[:3] != expected[:3] or not all(
            math.isclose(a, b, abs_tol=tolerance) for a, b in zip(found[3:], expected[3:], strict=True)):
        raise UserError(f"{where}: the response's grid {found} is not the one requested {expected}")
    try:
        ((_, block),) = tile_rows(scl, scl.height)  # one block: every row, values checked
    except UserError as exc:
        raise _unusable(where, path, exc) from None
    return block


def _unusable(where: str, path: Path, exc: UserError) -> UserError:
    return UserError(f"{where}: the response is not a usable SCL GeoTIFF: "
                     f"{str(exc).replace(str(path) + ': ', '')}")
