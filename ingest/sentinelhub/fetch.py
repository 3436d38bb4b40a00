"""Fetch SCL scenes for the loaded polygons from the Processing API and load them like `scl load`.

For every cluster (see ingest/sentinelhub_plan.py) the Catalog API lists the acquisition dates;
then, date by date in ascending order, each (date, cluster) not loaded yet is requested, its
responses (one per request window) are checked and merged into one GeoTIFF in a work folder,
and that file goes through `inspect_scl_file` + `load_scene` like any file given to `scl load`:
one scene, one transaction. `scene.reference` holds a deterministic key of the request (endpoint,
collection, date, CRS, resolution, box), so a request already loaded is never sent again.

Failures stop the run at once: nothing of the failing (date, cluster) is stored, everything
before it is, and because dates go in ascending order a later run started at the last loaded date
(`--since-last`) misses nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
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
from sclzonal.ingest.sentinelhub.plan import Cluster, RequestTile, request_tiles, scene_reference


@dataclass
class FetchReport:
    """What a fetch did."""

    clusters: int = 0
    dates: int = 0
    loaded: list[SceneLoad] = field(default_factory=list)
    already_loaded: int = 0
    requests: int = 0
    source: str = ""

    def summary(self) -> str:
        """Return the one-line summary the CLI prints."""
        return (f"{self.source}: {self.dates} dates over {self.clusters} clusters: "
                f"{len(self.loaded)} scenes loaded with {self.requests} requests, "
                f"{self.already_loaded} already loaded")


@dataclass(frozen=True)
class FetchOptions:
    """What to fetch and how."""

    start: dt.date
    end: dt.date
    max_cloud: float | None = None
    max_request_pixels: int = MAX_REQUEST_PIXELS
    tile_size: int = DEFAULT_TILE_SIZE


def last_fetched_date(conn: psycopg.Connection, source: str) -> dt.date | None:
    """Return the latest acquisition date loaded from an endpoint (scene.source), if any."""
    row = conn.execute(
        "SELECT max(acquired_on) FROM sclzonal.scene WHERE source = %s", (source,)
    ).fetchone()
    return row[0] if row else None


def _loaded_references(conn: psycopg.Connection, source: str, options: FetchOptions) -> set[str]:
    rows = conn.execute(
        "SELECT reference FROM sclzonal.scene WHERE source = %s AND acquired_on BETWEEN %s AND %s",
        (source, options.start, options.end),
    ).fetchall()
    return {str(reference) for (reference,) in rows}


def fetch_scenes(
    conn: psycopg.Connection,
    hub: SentinelHub,
    clusters: list[Cluster],
    options: FetchOptions,
    workdir: Path,
    *,
    on_plan: Callable[[int], object] | None = None,
    on_scene: Callable[[str, SceneLoad | None], object] | None = None,
) -> FetchReport:
    """Fetch and load every (date, cluster) of the period that is not loaded yet.

    `on_plan(n)` is called with the number of (date, cluster) pairs found; `on_scene(label,
    result)` after each, with None for one that was loaded before.
    """
    report = FetchReport(clusters=len(clusters))
    jobs: dict[dt.date, list[Cluster]] = {}
    for cluster in clusters:
        for day in hub.search_dates(cluster.lonlat_bounds, options.start, options.end,
                                    options.max_cloud):
            jobs.setdefault(day, []).append(cluster)
    report.dates = len(jobs)
    if on_plan is not None:
        on_plan(sum(len(found) for found in jobs.values()))
    known = _loaded_references(conn, hub.endpoint.source, options)
    for day in sorted(jobs):
        for cluster in jobs[day]:
            reference = scene_reference(hub.endpoint.base_url, day, cluster)
            label = f"{day.isoformat()} {cluster.label()}"
            if reference in known:
                report.already_loaded += 1
                if on_scene is not None:
                    on_scene(label, None)
                continue
            tiles = request_tiles(cluster, options.max_request_pixels)
            path = _download_scene(hub, cluster, tiles, day, reference, workdir, label)
            report.requests += len(tiles)
            scl = replace(inspect_scl_file(path, day), reference=reference)
            result = load_scene(conn, scl, tile_size=options.tile_size, source=hub.endpoint.source)
            path.unlink()
            if result.created:
                report.loaded.append(result)
            else:  # the same pixels and reference, loaded by another process meanwhile
                report.already_loaded += 1
            if on_scene is not None:
                on_scene(label, result if result.created else None)
    return report


def _download_scene(hub: SentinelHub, cluster: Cluster, tiles: list[RequestTile], day: dt.date,
                    reference: str, workdir: Path, label: str) -> Path:
    """Request every window of a (date, cluster) and merge the responses into one GeoTIFF."""
    stem = f"scl_{day.isoformat()}_epsg{cluster.epsg}_cluster{cluster.number}"
    path = workdir / f"{stem}.tif"
    left, _, _, top = cluster.bounds
    profile = {
        "driver": "GTiff", "width": cluster.width, "height": cluster.height, "count": 1,
        "dtype": "uint8", "crs": f"EPSG:{cluster.epsg}",
        "transform": Affine(cluster.resolution, 0, left, 0, -cluster.resolution, top),
        "tiled": True, "blockxsize": 256, "blockysize": 256, "compress": "deflate",
    }
    with rasterio.open(path, "w", **profile) as mosaic:
        mosaic.update_tags(ACQUISITION_DATE=day.isoformat(), SCLZONAL_REFERENCE=reference)
        for index, tile in enumerate(tiles, start=1):
            where = f"{label}, request {index}/{len(tiles)}"
            data = hub.fetch_tiff(tile.bounds, cluster.epsg, day, cluster.resolution)
            tile_path = workdir / f"{stem}_request{index}.tif"
            tile_path.write_bytes(data)
            block = _checked_response(tile_path, tile, cluster, day, where)
            mosaic.write(block, 1, window=Window(tile.col_off, tile.row_off, tile.width, tile.height))
            tile_path.unlink()
    return path


def _checked_response(path: Path, tile: RequestTile, cluster: Cluster, day: dt.date,
                      where: str) -> np.ndarray:
    """Check one response like `scl load` checks a file, plus its grid; return its pixels."""
    try:
        scl = inspect_scl_file(path, day)
    except UserError as exc:
        raise _unusable(where, path, exc) from None
    expected = (cluster.epsg, tile.width, tile.height, tile.bounds[0], tile.bounds[3],
                cluster.resolution, -cluster.resolution)
    found = (scl.srid, scl.width, scl.height, scl.upper_left_x, scl.upper_left_y,
             scl.pixel_size_x, scl.pixel_size_y)
    tolerance = cluster.resolution * 1e-6
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
