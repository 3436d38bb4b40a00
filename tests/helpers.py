"""Test helpers: run the CLI, write synthetic rasters, count pixels independently with numpy."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer

from sclzonal.cli import main


def run_cli(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> tuple[int, str, str]:
    """Run `sclzonal --database-url URL ARGS` in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    code = main(["--database-url", database_url, *args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


DEFAULT_TRANSFORM = Affine(20, 0, 500000, 0, -20, 5100000)


def write_raster(
    path: Path,
    array: np.ndarray,
    *,
    crs: str | None = "EPSG:32633",
    transform: Affine = DEFAULT_TRANSFORM,
    date: dt.date | None = None,
    tags: dict[str, str] | None = None,
) -> Path:
    """Write a GeoTIFF (bands first when 3-D) with optional CRS and ACQUISITION_DATE tag."""
    bands = array if array.ndim == 3 else array[np.newaxis]
    with rasterio.open(
        path, "w", driver="GTiff", width=bands.shape[2], height=bands.shape[1],
        count=bands.shape[0], dtype=bands.dtype, crs=crs, transform=transform,
    ) as dataset:
        dataset.write(bands)
        all_tags = dict(tags or {})
        if date is not None:
            all_tags["ACQUISITION_DATE"] = date.isoformat()
        if all_tags:
            dataset.update_tags(**all_tags)
    return path


def pixel_centre_counts(raster: Path, geometry_4326: Any) -> Counter[int]:
    """Count the raster's classes whose pixel centres lie inside a polygon given in EPSG:4326.

    Independent of PostGIS: the polygon's edges are cut to 0.01 degree as the definition says
    (sql/polygon_projection.sql), projected with pyproj, the pixel centres are tested with
    shapely.contains_xy, and the values are tallied with numpy.
    """
    with rasterio.open(raster) as dataset:
        values = dataset.read(1)
        polygon = into_raster_crs(geometry_4326, dataset.crs.to_wkt())
        transform = dataset.transform
    rows, cols = np.mgrid[0 : values.shape[0], 0 : values.shape[1]]
    xs = transform.c + (cols + 0.5) * transform.a
    ys = transform.f + (rows + 0.5) * transform.e
    inside = shapely.contains_xy(polygon, xs, ys)
    tally = np.bincount(values[inside].astype(np.int64), minlength=12)
    return Counter({k: int(v) for k, v in enumerate(tally) if v})


MAX_EDGE_DEGREES = 0.01
"""The definition's longest edge kept whole before a polygon goes into a raster's CRS."""


def into_raster_crs(geometry_4326: Any, crs: str) -> Any:
    """A polygon stored in EPSG:4326 in a raster's CRS, by the definition's rule: edges cut to
    0.01 degree (shapely's segmentize), then every corner transformed with pyproj."""
    to_raster = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    return shapely.transform(shapely.segmentize(geometry_4326, MAX_EDGE_DEGREES),
                             lambda xy: np.column_stack(to_raster.transform(xy[:, 0], xy[:, 1])))


def stored_counts(conn: psycopg.Connection, polygon_id: int, scene_id: int) -> Counter[int]:
    """Return the class counts stored by refresh for one pair."""
    rows = conn.execute(
        "SELECT class, pixels FROM sclzonal.stored_class_counts WHERE polygon_id = %s AND scene_id = %s",
        (polygon_id, scene_id),
    ).fetchall()
    return Counter({int(k): int(v) for k, v in rows})


def definition_differences(conn: psycopg.Connection) -> int:
    """Rows in which the stored counts (stored_class_counts) and the definition view
    (zonal_class_counts, ST_Clip + ST_ValueCount) differ, both ways."""
    row = conn.execute(
        """
        SELECT count(*) FROM (
            (SELECT polygon_id, scene_id, class, pixels FROM sclzonal.stored_class_counts
             EXCEPT SELECT polygon_id, scene_id, class, pixels FROM sclzonal.zonal_class_counts)
            UNION ALL
            (SELECT polygon_id, scene_id, class, pixels FROM sclzonal.zonal_class_counts
             EXCEPT SELECT polygon_id, scene_id, class, pixels FROM sclzonal.stored_class_counts)
        ) AS d
        """).fetchone()
    return int(row[0]) if row else -1


def empty_database(conn: psycopg.Connection) -> None:
    """Delete every polygon and scene and all that hangs on them; leave rules and classes as they are.

    TRUNCATE ... CASCADE also empties the tables that refer to these (tiles, stored counts, pixel
    maps); the verdict views are refreshed so that they are empty too, not a picture of the last test.
    """
    conn.execute("TRUNCATE sclzonal.scene, sclzonal.scene_grid, sclzonal.polygon CASCADE")
    conn.execute("SELECT sclzonal.refresh_polygon_verdict()")
    if not conn.autocommit:
        conn.commit()


def table_counts(conn: psycopg.Connection) -> dict[str, int]:
    """Return the row count of every sclzonal table (to prove nothing was written)."""
    tables = ["polygon", "scene", "scene_grid", "scene_tile", "counted_pair", "pixel_map"]
    return {
        table: int(conn.execute(f"SELECT count(*) FROM sclzonal.{table}").fetchone()[0])  # type: ignore[index]
        for table in tables
    }


def database_snapshot(conn: psycopg.Connection) -> dict[str, str]:
    """Return a digest of every row of every sclzonal table (to prove nothing at all changed)."""
    tables = ["polygon", "scene", "scene_grid", "scene_tile", "counted_pair", "pixel_map"]
    return {table: str(conn.execute(
        f"SELECT count(*) || ':' || coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '')"
        f" FROM sclzonal.{table} AS t").fetchone()) for table in tables}


def cli_ok(database_url: str, *args: str) -> None:
    """Run the CLI in-process and fail the test when it does not exit 0."""
    code = main(["--database-url", database_url, *args])
    assert code == 0, f"sclzonal {' '.join(args)} exited {code}"


def write_polygons(path: Path, polygons: list[Any], crs: str, *, driver: str = "GPKG",
                   ids: list[int] | None = None, layer: str | None = None) -> Path:
    """Write polygons (already in `crs`) with an integer `fid_text` and a `name` field."""
    import fiona
    from shapely.geometry import mapping

    schema = {"geometry": "Unknown", "properties": {"ident": "int", "name": "str"}}
    options: dict[str, Any] = {"layer": layer} if layer else {}
    with fiona.open(path, "w", driver=driver, crs=crs, schema=schema, **options) as sink:
        for index, polygon in enumerate(polygons):
            ident = ids[index] if ids else index + 1
            sink.write({"geometry": None if polygon is None else mapping(polygon),
                        "properties": {"ident": ident, "name": f"polygon {ident}"}})
    return path


def to_crs(geometry: Any, source: str, target: str) -> Any:
    """Return a shapely geometry transformed between two CRSs (x/y order)."""
    transformer = Transformer.from_crs(source, target, always_xy=True)
    return shapely.transform(
        geometry, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1]))
    )


def hold_job_lock(database_url: str, job: str) -> psycopg.Connection:
    """Open a connection whose open transaction holds the lock of `job` (close it to release)."""
    holder = psycopg.connect(database_url)
    holder.execute(f"LOCK TABLE sclzonal.{job}_lock IN SHARE ROW EXCLUSIVE MODE")  # type: ignore[arg-type]
    return holder


def job_lock_is_held(conn: psycopg.Connection, job: str) -> bool:
    """True when some session holds the lock of `job` (sclzonal.<job>_lock)."""
    row = conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'relation' AND granted"
                       " AND relation = to_regclass(%s) AND mode = 'ShareRowExclusiveLock'",
                       (f"sclzonal.{job}_lock",)).fetchone()
    return bool(row and row[0])


def verdict_differences(conn: psycopg.Connection) -> int:
    """Rows in which the verdict tables (polygon_verdict, polygon_month_verdict, kept by
    `refresh` polygon by polygon) and their definition views differ, both ways."""
    total = 0
    for table in ("polygon_verdict", "polygon_month_verdict"):
        row = conn.execute(
            f"""
            SELECT count(*) FROM (
                (SELECT * FROM sclzonal.{table} EXCEPT SELECT * FROM sclzonal.{table}_view)
                UNION ALL
                (SELECT * FROM sclzonal.{table}_view EXCEPT SELECT * FROM sclzonal.{table})
            ) AS d
            """).fetchone()
        total += int(row[0]) if row else -1
    return total
