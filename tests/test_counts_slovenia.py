"""Class counts of the real Slovenian SCL rasters against an independent numpy pixel-centre count."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import fiona
import numpy as np
import psycopg
import pytest
import rasterio
import rasterio.features
import shapely
import shapely.geometry

from tests.helpers import definition_differences, pixel_centre_counts, run_cli, stored_counts


@pytest.fixture
def loaded(capsys: pytest.CaptureFixture[str], database_url: str, slovenia: Path) -> Path:
    code, _, err = run_cli(capsys, database_url, "polygons", "load", str(slovenia / "LULC.gpkg"),
                           "--name-field", "LULC_NAME")
    assert code == 0, err
    tifs = sorted(str(p) for p in slovenia.glob("SCL_*.tif"))
    code, _, err = run_cli(capsys, database_url, "scl", "load", "--tile-size", "32", *tifs)
    assert code == 0, err
    code, _, err = run_cli(capsys, database_url, "refresh")
    assert code == 0, err
    return slovenia


def test_every_polygon_and_date_matches_numpy(conn: psycopg.Connection, loaded: Path) -> None:
    polygons = conn.execute(
        "SELECT id, ST_AsBinary(geom) FROM sclzonal.polygon ORDER BY id").fetchall()
    scenes = conn.execute(
        "SELECT id, acquired_on FROM sclzonal.scene ORDER BY acquired_on").fetchall()
    assert len(polygons) == 88 and len(scenes) == 6
    compared = nonzero = 0
    for scene_id, acquired_on in scenes:
        raster = loaded / f"SCL_{acquired_on.isoformat()}.tif"
        for polygon_id, wkb in polygons:
            expected = pixel_centre_counts(raster, shapely.from_wkb(bytes(wkb)))
            assert stored_counts(conn, polygon_id, scene_id) == expected, (polygon_id, acquired_on)
            compared += 1
            nonzero += bool(expected)
    assert compared == 88 * 6
    assert nonzero > 400  # most polygons reach into the raster


def test_stored_counts_equal_the_live_view(conn: psycopg.Connection, loaded: Path) -> None:
    differences = definition_differences(conn)
    total = conn.execute("SELECT count(*) FROM sclzonal.stored_class_counts").fetchone()
    assert differences == 0
    assert total is not None and total[0] > 500


def test_class_zero_and_snow_are_counted(conn: psycopg.Connection, loaded: Path) -> None:
    """Class 0 (no data; the files even tag 0 as their nodata) and class 11 (snow) are counted like
    any other class: per date, the stored pixels of each equal GDAL's pixel-centre rasterize of the
    source polygons (the GeoPackage, in the rasters' CRS) over the file's values."""
    stored = {day: (int(zero), int(snow)) for day, zero, snow in conn.execute(
        "SELECT s.acquired_on, coalesce(sum(c.pixels) FILTER (WHERE c.class = 0), 0),"
        " coalesce(sum(c.pixels) FILTER (WHERE c.class = 11), 0)"
        " FROM sclzonal.scene AS s LEFT JOIN sclzonal.stored_class_counts AS c ON c.scene_id = s.id"
        " GROUP BY s.acquired_on")}
    with fiona.open(loaded / "LULC.gpkg") as source:
        polygons_crs = source.crs
        polygons = [shapely.geometry.shape(feature.geometry) for feature in source]
    expected = {}
    for raster in sorted(loaded.glob("SCL_*.tif")):
        with rasterio.open(raster) as dataset:
            assert dataset.crs == polygons_crs and dataset.nodata == 0
            values, transform = dataset.read(1), dataset.transform
        # how many polygons hold each pixel's centre (a pixel in two polygons counts twice)
        inside = np.zeros(values.shape, dtype=np.int64)
        for polygon in polygons:
            inside += rasterio.features.rasterize([(polygon, 1)], out_shape=values.shape, transform=transform,
                                                  all_touched=False, dtype="uint8")
        day = dt.date.fromisoformat(raster.stem.removeprefix("SCL_"))
        expected[day] = (int(inside[values == 0].sum()), int(inside[values == 11].sum()))
    assert stored == expected
    assert all(zero > 0 for zero, _ in expected.values())
    assert sum(snow for _, snow in expected.values()) > 0


def test_summary_shares_follow_counts(conn: psycopg.Connection, loaded: Path) -> None:
    rows = conn.execute(
        """
        SELECT class_4, clear_pixels, total_pixels, clear_share, vegetation_share,
               class_0 + class_1 + class_3 + class_8 + class_9 + class_10 AS not_clear
        FROM sclzonal.zonal_class_summary WHERE total_pixels > 0
        """
    ).fetchall()
    assert rows
    for class_4, clear, total, clear_share, vegetation_share, not_clear in rows:
        assert clear + not_clear == total
        assert clear_share == pytest.approx(clear / total)
        if clear:
            assert vegetation_share == pytest.approx(class_4 / clear)
