"""Scenes and fields across the antimeridian and around a pole are found and counted right.

Expected counts come from shapely.contains_xy over the pixel centres with the field as drawn, in
the raster's CRS: no EPSG:4326 step, so they do not depend on how sclzonal stores the field.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import shapely
from affine import Affine
from pyproj import Transformer
from shapely import box

from tests.helpers import definition_differences, run_cli, stored_counts, write_polygons, write_raster

DAY = dt.date(2024, 6, 1)
CLASSES = np.random.default_rng(3).integers(1, 12, (100, 100)).astype(np.uint8)


def _scene_at(crs: str, x: float, y: float, tmp_path: Path, name: str) -> tuple[Path, Affine]:
    """A 100 x 100 px scene at 20 m in `crs` centred on (x, y) of that CRS."""
    transform = Affine(20, 0, round(x / 20) * 20 - 1000, 0, -20, round(y / 20) * 20 + 1000)
    return write_raster(tmp_path / f"{name}.tif", CLASSES, crs=crs, transform=transform,
                        date=DAY), transform


def _drawn_count(field: Any, transform: Affine) -> dict[int, int]:
    rows, cols = np.mgrid[0:100, 0:100]
    xs, ys = transform.c + (cols + 0.5) * transform.a, transform.f + (rows + 0.5) * transform.e
    inside = shapely.contains_xy(field, xs, ys)
    tally = np.bincount(CLASSES[inside], minlength=12)
    return {k: int(v) for k, v in enumerate(tally) if v}


def _load(capsys: pytest.CaptureFixture[str], url: str, *commands: list[str]) -> None:
    for command in commands:
        code, _, err = run_cli(capsys, url, *command)
        assert code == 0, (command, err)


@pytest.mark.parametrize("crs", ["EPSG:32660", "EPSG:32601"])  # UTM zones 60 and 1, at 17 S
def test_a_field_across_the_antimeridian(capsys: pytest.CaptureFixture[str], database_url: str,
                                         empty_conn: psycopg.Connection, tmp_path: Path,
                                         crs: str) -> None:
    x, y = Transformer.from_crs("EPSG:4326", crs, always_xy=True).transform(180.0, -17.0)
    raster, transform = _scene_at(crs, x, y, tmp_path, "fiji")
    field = box(x - 613.3, y - 407.7, x + 571.1, y + 393.9)  # straddles 180 degrees
    fields = write_polygons(tmp_path / "fields.gpkg", [field], crs)
    elsewhere = write_polygons(tmp_path / "europe.gpkg", [box(14.5, 46.0, 14.51, 46.01)], "EPSG:4326")
    _load(capsys, database_url, ["polygons", "load", str(fields)],
          ["polygons", "load", str(elsewhere)], ["scl", "load", str(raster)])
    (footprint,) = empty_conn.execute("SELECT ST_NumGeometries(footprint) FROM sclzonal.scene"
                                      ).fetchone() or (0,)
    assert footprint == 2  # one part on each side of 180 degrees
    kind, parts, west, east = empty_conn.execute(
        "SELECT GeometryType(geom), ST_NumGeometries(geom), ST_XMin(geom), ST_XMax(geom)"
        " FROM sclzonal.polygon WHERE source = 'fields'").fetchone() or ("", 0, 0, 0)
    assert (kind, parts) == ("MULTIPOLYGON", 2) and west == pytest.approx(-180) \
        and east == pytest.approx(180)
    code, _, err = run_cli(capsys, database_url, "refresh")
    assert code == 0 and "cannot be counted" not in err
    ids = dict(empty_conn.execute("SELECT source, id FROM sclzonal.polygon"))
    (scene_id,) = empty_conn.execute("SELECT id FROM sclzonal.scene").fetchone() or (0,)
    assert stored_counts(empty_conn, ids["fields"], scene_id) == _drawn_count(field, transform)
    assert empty_conn.execute("SELECT count(*) FROM sclzonal.counted_pair WHERE polygon_id = %s",
                              (ids["europe"],)).fetchone() == (0,)  # not even looked at
    assert empty_conn.execute("SELECT verdict FROM sclzonal.polygon_verdict WHERE polygon_id = %s",
                              (ids["europe"],)).fetchone() == ("no_pixels",)


def test_a_field_near_the_south_pole_in_a_polar_scene(
        capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
        tmp_path: Path) -> None:
    raster, transform = _scene_at("EPSG:3031", 0.0, 0.0, tmp_path, "pole")  # the pole in the middle
    field = box(113.3, 217.9, 689.1, 781.7)  # a few hundred metres from the pole, not around it
    fields = write_polygons(tmp_path / "polar.gpkg", [field], "EPSG:3031")
    _load(capsys, database_url, ["polygons", "load", str(fields)], ["scl", "load", str(raster)],
          ["refresh"])
    south = empty_conn.execute("SELECT ST_YMin(footprint), ST_XMin(footprint), ST_XMax(footprint)"
                               " FROM sclzonal.scene").fetchone()
    assert south == (-90, -180, 180)  # every longitude, down to the pole
    (polygon_id,) = empty_conn.execute("SELECT id FROM sclzonal.polygon").fetchone() or (0,)
    (scene_id,) = empty_conn.execute("SELECT id FROM sclzonal.scene").fetchone() or (0,)
    expected = _drawn_count(field, transform)
    assert sum(expected.values()) > 500
    assert stored_counts(empty_conn, polygon_id, scene_id) == expected


@pytest.mark.parametrize(("crs", "with_hole"), [("EPSG:3031", False), ("EPSG:3031", True),
                                                ("EPSG:3413", False)])  # south; north pole
def test_a_field_around_a_pole(capsys: pytest.CaptureFixture[str], database_url: str,
                               empty_conn: psycopg.Connection, tmp_path: Path, crs: str,
                               with_hole: bool) -> None:
    raster, transform = _scene_at(crs, 0.0, 0.0, tmp_path, "pole")  # the pole in the middle
    field = box(-713.3, -517.9, 889.1, 781.7)  # the pole inside, off its centre
    if with_hole:  # a hole beside the pole, which stays outside it
        field = field.difference(box(207.7, 113.1, 611.9, 503.3))
    fields = write_polygons(tmp_path / "polar.gpkg", [field], crs)
    _load(capsys, database_url, ["polygons", "load", str(fields)], ["scl", "load", str(raster)],
          ["refresh"])
    (polygon_id, area) = empty_conn.execute(
        f"SELECT id, ST_Area(ST_Transform(geom, {crs.split(':')[1]})) FROM sclzonal.polygon"
    ).fetchone() or (0, 0.0)
    assert area == pytest.approx(field.area, rel=1e-4)
    (scene_id,) = empty_conn.execute("SELECT id FROM sclzonal.scene").fetchone() or (0,)
    expected = _drawn_count(field, transform)
    assert sum(expected.values()) > 2000
    assert stored_counts(empty_conn, polygon_id, scene_id) == expected
    assert definition_differences(empty_conn) == 0
