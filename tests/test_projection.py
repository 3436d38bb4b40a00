"""Polygons into a raster's CRS: long edges stay where they are, and a polygon PROJ cannot
transform never stops the counting of the others.

Expected counts come from shapely.contains_xy over the pixel centres, with the polygon's edges
sampled every few metres before pyproj transforms them: the true shape of an edge that is
straight in the CRS it was drawn in, independent of sclzonal's own densifying.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from shapely import box

from tests.helpers import pixel_centre_counts, run_cli, stored_counts, write_polygons, write_raster

DAY = dt.date(2024, 6, 1)


def _densely(polygon: Any, source: str, target: str, step: float) -> Any:
    """The polygon in `target`, its edges sampled every `step` (source units) first."""
    transformer = Transformer.from_crs(source, target, always_xy=True)
    return shapely.transform(shapely.segmentize(polygon, step),
                             lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _scene_below(lon: float, lat: float, metres_below: float, tmp_path: Path) -> tuple[Path, Affine]:
    """A 100 x 100 px scene at 20 m (UTM 33N) whose top edge lies `metres_below` the point
    (negative: above it), centred on it east-west."""
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True).transform(lon, lat)
    transform = Affine(20, 0, round(x / 20) * 20 - 1000, 0, -20, round((y - metres_below) / 20) * 20)
    path = write_raster(tmp_path / "scl.tif", np.full((100, 100), 4, np.uint8), transform=transform,
                        date=DAY)
    return path, transform


def _load(capsys: pytest.CaptureFixture[str], url: str, *args: list[str]) -> None:
    for arguments in args:
        code, _, err = run_cli(capsys, url, *arguments)
        assert code == 0, (arguments, err)


def test_a_box_two_degrees_wide_covers_the_scene_under_its_edge(
        capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
        tmp_path: Path) -> None:
    # The bottom edge of the box is the parallel 45 N, from 14 E to 16 E. In UTM 33N it sags
    # south of the straight line between its ends by about 500 m in the middle: the scene, whose
    # bottom lies 200 m north of the parallel, is inside the box, but its lower rows are outside
    # a box made of the four corners alone.
    field = box(14.0, 45.0, 16.0, 46.2)
    raster, _ = _scene_below(15.0, 45.0, -2200, tmp_path)
    corners_only = shapely.transform(field, lambda xy: np.column_stack(Transformer.from_crs(
        "EPSG:4326", "EPSG:32633", always_xy=True).transform(xy[:, 0], xy[:, 1])))
    with rasterio.open(raster) as dataset:
        left, bottom = dataset.bounds.left, dataset.bounds.bottom
    assert not corners_only.contains(shapely.Point(left + 1000, bottom + 10))  # what the test means
    _load(capsys, database_url, ["polygons", "load", str(write_polygons(
        tmp_path / "box.gpkg", [field], "EPSG:4326"))], ["scl", "load", str(raster)], ["refresh"])
    (polygon_id, wkb), = empty_conn.execute("SELECT id, ST_AsBinary(geom) FROM sclzonal.polygon")
    (scene_id,), = empty_conn.execute("SELECT id FROM sclzonal.scene")
    true_shape = _densely(shapely.from_wkb(bytes(wkb)), "EPSG:4326", "EPSG:32633", 0.0005)
    with rasterio.open(raster) as dataset:
        rows, cols = np.mgrid[0:100, 0:100]
        grid = dataset.transform
    xs, ys = grid.c + (cols + 0.5) * grid.a, grid.f + (rows + 0.5) * grid.e
    assert int(shapely.contains_xy(true_shape, xs, ys).sum()) == 10000
    assert stored_counts(empty_conn, polygon_id, scene_id) == {4: 10000}
    assert empty_conn.execute("SELECT class, pixels FROM sclzonal.zonal_class_counts").fetchall() \
        == [(4, 10000)]
    # the scene sees a sliver of the box: partially observed, coverage = 10,000 / expected
    assert empty_conn.execute("SELECT verdict FROM sclzonal.polygon_verdict").fetchone() == \
        ("partially_observed",)
    expected, coverage = empty_conn.execute(
        "SELECT expected_pixels, coverage FROM sclzonal.zonal_class_summary").fetchone() or (0, 0)
    assert expected > 10000 * 1000 and coverage == pytest.approx(10000 / expected)


def test_a_long_edge_drawn_in_utm_stays_straight_in_utm(
        capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
        tmp_path: Path) -> None:
    # A 160 km wide field drawn in UTM 33N; its top edge is straight there. The scene lies 100 m
    # below that edge, in the middle. The load cuts the edge before it goes to EPSG:4326, so
    # the counting, which cuts edges in EPSG:4326, finds it where it was drawn (had the load
    # kept only the corners, the edge would come back hundreds of metres south).
    raster, transform = _scene_below(15.0, 46.0, 0, tmp_path)
    top = transform.f + 100
    field_utm = box(transform.c - 80000, top - 30000, transform.c + 80000, top)
    _load(capsys, database_url, ["polygons", "load", str(write_polygons(
        tmp_path / "utm.gpkg", [field_utm], "EPSG:32633"))], ["scl", "load", str(raster)],
          ["refresh"])
    (polygon_id, wkb), = empty_conn.execute("SELECT id, ST_AsBinary(geom) FROM sclzonal.polygon")
    (scene_id,), = empty_conn.execute("SELECT id FROM sclzonal.scene")
    assert stored_counts(empty_conn, polygon_id, scene_id) == {4: 10000}
    assert pixel_centre_counts(raster, shapely.from_wkb(bytes(wkb))) == {4: 10000}


BAD_BOX = box(0.0, -5.0, 105.0, 47.0)  # reaches the equator 90 degrees east of UTM 33's meridian


def test_a_polygon_proj_cannot_transform_stops_no_one(
        capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
        tmp_path: Path) -> None:
    raster, transform = _scene_below(15.0, 46.0, 0, tmp_path)
    x, y = transform.c, transform.f
    good = shapely.transform(box(x + 200, y - 600, x + 600, y - 200), lambda xy: np.column_stack(
        Transformer.from_crs("EPSG:32633", "EPSG:4326", always_xy=True).transform(xy[:, 0], xy[:, 1])))
    fields = write_polygons(tmp_path / "fields.gpkg", [good, BAD_BOX], "EPSG:4326", ids=[1, 2])
    _load(capsys, database_url, ["polygons", "load", str(fields), "--id-field", "ident"],
          ["scl", "load", str(raster)])
    code, out, err = run_cli(capsys, database_url, "refresh", "--json")
    assert code == 0, err
    report = json.loads(out)
    ids = dict(empty_conn.execute("SELECT source_fid, id FROM sclzonal.polygon"))
    bad_id = ids["2"]
    assert [(u["polygon_id"], u["source_fid"], u["epsg"]) for u in report["uncountable"]] == \
        [(bad_id, "2", 32633)]
    assert "outside of projection domain" in report["uncountable"][0]["reason"]
    assert f"polygon {bad_id} (fields 2) on EPSG:32633: transform: Point outside" in err
    verdicts = dict(empty_conn.execute("SELECT source_fid, verdict FROM sclzonal.polygon_verdict"))
    assert verdicts == {"1": "vegetation", "2": "not_countable"}
    problem = empty_conn.execute("SELECT problem FROM sclzonal.polygon_verdict WHERE source_fid = '2'"
                                 ).fetchone()
    assert problem is not None and "(EPSG:32633): transform: Point outside" in problem[0]
    # the definition view passes it over too, and agrees with the stored counts
    assert empty_conn.execute("SELECT DISTINCT polygon_id FROM sclzonal.zonal_class_counts"
                              ).fetchall() == [(ids["1"],)]
    code, out, _ = run_cli(capsys, database_url, "explain", "--source-fid", "2")
    assert code == 0 and "cannot be counted on grid" in out
    # a new geometry is tried again, and counted
    empty_conn.execute("UPDATE sclzonal.polygon SET geom = ST_Multi(ST_Translate(ST_GeomFromWKB(%s,"
                       " 4326), 0.001, 0)) WHERE id = %s", (shapely.to_wkb(good), bad_id))
    code, out, err = run_cli(capsys, database_url, "refresh")
    assert code == 0 and "cannot be counted" not in err
    assert dict(empty_conn.execute("SELECT source_fid, verdict FROM sclzonal.polygon_verdict")) == \
        {"1": "vegetation", "2": "vegetation"}
