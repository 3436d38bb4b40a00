"""Ties: polygons whose corners and edges lie exactly on pixel centres, counted by the scanline
rule and by ST_Clip (GDAL's rasteriser in PostGIS).

The corners lie on half-pixel steps, exact in binary floating point, as are the grid's origin and
pixel size, so the edges pass exactly through centres. Named cases, then random polygons drawn on
that lattice inside the raster: every one gets the same pixels from both. A polygon that only
touches a tile of a scene gets nothing from that tile in the definition view, where ST_Clip alone
would rasterise the line they share.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely
import shapely.affinity
from affine import Affine

from sclzonal.counting.pixel_spans import Grid, pixel_spans
from tests.helpers import cli_ok, write_polygons, write_raster

GRID = Grid(32633, 500000.0, 5100000.0, 20.0, -20.0, 12, 10)
RASTER = ("ST_AddBand(ST_MakeEmptyRaster(%(width)s, %(height)s, %(x)s, %(y)s, %(sx)s, %(sy)s, 0, 0,"
          " %(srid)s), '8BUI'::text, 1, 255)")


def _st_clip_pixels(conn: psycopg.Connection, geometry: shapely.Geometry) -> int:
    row = conn.execute(
        "SELECT coalesce(sum((vc).count), 0) FROM (SELECT ST_ValueCount(ST_Clip(" + RASTER + ", 1,"
        " ST_GeomFromWKB(%(wkb)s, %(srid)s), true), 1, true) AS vc) AS c",
        {"width": GRID.width, "height": GRID.height, "x": GRID.upper_left_x, "y": GRID.upper_left_y,
         "sx": GRID.pixel_size_x, "sy": GRID.pixel_size_y, "srid": GRID.srid,
         "wkb": shapely.to_wkb(geometry)}).fetchone()
    return int(row[0]) if row else -1


@pytest.mark.parametrize("wkt", [
    "POLYGON((2.5 3.5, 6.5 3.5, 6.5 7.5, 2.5 7.5, 2.5 3.5))",  # a box on centre lines
    "POLYGON((2.5 3.5, 2.5 7.5, 6.5 7.5, 6.5 3.5, 2.5 3.5))",  # the same, the other way round
    "POLYGON((4.5 2.5, 6.5 4.5, 4.5 6.5, 2.5 4.5, 4.5 2.5))",  # corners on centres
    "POLYGON((1 1, 9 1, 9 2.5, 5 2.5, 5 6.5, 1 6.5, 1 1))",  # a notch with edges on centre lines
    # a base on a row of centres, the apex less than half a pixel above: only the base's centre
    "POLYGON((6.5 3.5, 7.5 3.5, 6.5 4, 6.5 3.5))",
    "POLYGON((6.5 3.5, 6 3.5, 6.5 4, 6.5 3.5))",
])
def test_named_ties(conn: psycopg.Connection, wkt: str) -> None:
    geometry = _onto_grid(shapely.from_wkt(wkt))
    assert _scanline_pixels(geometry) == _st_clip_pixels(conn, geometry) > 0


def test_a_sliver_whose_only_edge_on_a_row_of_centres_holds_none() -> None:
    # the horizontal edge lies on a row of centres between two of them, no row crosses it
    geometry = _onto_grid(shapely.from_wkt("POLYGON((6.6 3.5, 7.4 3.5, 7 3.8, 6.6 3.5))"))
    assert _scanline_pixels(geometry) == 0


def test_random_lattice_polygons_inside_the_raster(conn: psycopg.Connection) -> None:
    rng = np.random.default_rng(20261202)
    compared = 0
    differing = []
    for attempt in range(400):
        geometry = _random_lattice_polygon(rng, attempt % 3)
        inner = shapely.box(0.5, 0.5, GRID.width - 0.5, GRID.height - 0.5)
        if not geometry.is_valid or geometry.area == 0 or not inner.contains(geometry):
            continue
        on_grid = _onto_grid(geometry)
        ours, clip = _scanline_pixels(on_grid), _st_clip_pixels(conn, on_grid)
        compared += 1
        if ours != clip:
            differing.append((geometry.wkt, ours, clip))
    assert compared > 200
    assert not differing, differing[:5]


def _random_lattice_polygon(rng: np.random.Generator, kind: int) -> shapely.Geometry:
    if kind == 0:  # a few corners anywhere on the half-pixel lattice
        corners = rng.integers(0, [2 * GRID.width + 1, 2 * GRID.height + 1], size=(rng.integers(3, 7), 2))
        return shapely.Polygon(corners / 2)
    if kind == 1:  # a small right triangle with a corner on the lattice
        x, y = rng.integers(2, 2 * GRID.width - 2) / 2, rng.integers(2, 2 * GRID.height - 2) / 2
        dx, dy = rng.choice([-1, -0.5, 0.5, 1]), rng.choice([-1, -0.5, 0.5, 1])
        return shapely.Polygon([(x, y), (x + dx, y), (x, y + dy)])
    centre = rng.integers(8, [2 * GRID.width - 7, 2 * GRID.height - 7]) / 2  # star-shaped
    angles = np.sort(rng.uniform(0, 2 * math.pi, rng.integers(5, 10)))
    radii = rng.integers(1, 7, len(angles)) / 2
    corners = np.round(2 * (centre + np.c_[radii * np.cos(angles), radii * np.sin(angles)])) / 2
    return shapely.Polygon(corners)


def _onto_grid(geometry: shapely.Geometry) -> shapely.Geometry:
    """Map a shape drawn in pixels (rows counted upward from the bottom) onto GRID."""
    return shapely.affinity.affine_transform(
        geometry, [GRID.pixel_size_x, 0, 0, -GRID.pixel_size_y, GRID.upper_left_x,
                   GRID.upper_left_y + GRID.height * GRID.pixel_size_y])


def _scanline_pixels(geometry: shapely.Geometry) -> int:
    spans = pixel_spans(np.array([geometry], dtype=object), GRID)
    return int((spans.col_end - spans.col_start).sum())


def test_a_polygon_touching_a_tile_gets_none_of_its_pixels(database_url: str, conn: psycopg.Connection,
                                                           tmp_path: Path) -> None:
    # A geographic scene of 2 x 2 tiles whose pixel size (1/1024 degree) and origin are exact in
    # binary, so a field whose bottom edge runs along the border between the tile rows keeps it
    # exactly through loading; the field covers the top tiles' pixels and none below.
    pixel = 1 / 1024
    array = np.full((32, 32), 4, dtype=np.uint8)
    raster = write_raster(tmp_path / "scene.tif", array, crs="EPSG:4326",
                          transform=Affine(pixel, 0, 15.0, 0, -pixel, 46.0), date=dt.date(2026, 7, 1))
    field = shapely.box(15.0 + 4 * pixel, 46.0 - 16 * pixel, 15.0 + 12 * pixel, 46.0 - 10 * pixel)
    write_polygons(tmp_path / "field.geojson", [field], "EPSG:4326", driver="GeoJSON")
    cli_ok(database_url, "polygons", "load", str(tmp_path / "field.geojson"))
    cli_ok(database_url, "scl", "load", "--tile-size", "16", str(raster))
    row = conn.execute("SELECT sum(pixels) FROM sclzonal.zonal_class_counts").fetchone()
    assert row is not None and row[0] == 8 * 6
    cli_ok(database_url, "refresh")
    stored = conn.execute("SELECT sum(pixels) FROM sclzonal.stored_class_counts").fetchone()
    assert stored is not None and stored[0] == 8 * 6
