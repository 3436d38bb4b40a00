"""Polygon geometry stays valid whoever writes it: the database repairs or refuses, like the load."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely
from affine import Affine
from shapely import MultiPolygon, box

from tests.helpers import cli_ok, pixel_centre_counts, stored_counts, to_crs, write_polygons, write_raster

TRANSFORM = Affine(20, 0, 500000, 0, -20, 5100000)


def _utm_box(col: int, row: int, size: int) -> shapely.Polygon:
    x, y = 500000 + col * 20, 5100000 - row * 20
    return box(x, y - size * 20, x + size * 20, y)


# Two 40 x 40 px squares overlapping by 20 x 20 px: 2,800 pixels, not 3,200 - 800 (even-odd).
SQUARES = MultiPolygon([_utm_box(10, 10, 40), _utm_box(30, 30, 40)])


@pytest.fixture
def loaded(empty_conn: psycopg.Connection, database_url: str, tmp_path: Path) -> dict[str, object]:
    raster = write_raster(tmp_path / "scl.tif", np.full((100, 100), 4, np.uint8), transform=TRANSFORM,
                          date=dt.date(2024, 6, 1))
    fields = write_polygons(tmp_path / "fields.gpkg", [to_crs(_utm_box(70, 70, 5), "EPSG:32633",
                                                              "EPSG:4326")], "EPSG:4326")
    cli_ok(database_url, "polygons", "load", str(fields))
    cli_ok(database_url, "scl", "load", str(raster))
    cli_ok(database_url, "refresh")
    (polygon_id,) = empty_conn.execute("SELECT id FROM sclzonal.polygon").fetchone() or (0,)
    (scene_id,) = empty_conn.execute("SELECT id FROM sclzonal.scene").fetchone() or (0,)
    return {"conn": empty_conn, "url": database_url, "raster": raster, "polygon": polygon_id,
            "scene": scene_id}


def test_overlapping_squares_written_by_sql_are_repaired_and_counted_once(
        loaded: dict[str, object]) -> None:
    conn, url = loaded["conn"], loaded["url"]
    assert isinstance(conn, psycopg.Connection) and isinstance(url, str)
    squares = to_crs(SQUARES, "EPSG:32633", "EPSG:4326")
    assert not squares.is_valid
    conn.execute("UPDATE sclzonal.polygon SET geom = ST_GeomFromText(%s, 4326) WHERE id = %s",
                 (squares.wkt, loaded["polygon"]))
    valid, kind, wkb = conn.execute("SELECT ST_IsValid(geom), GeometryType(geom), ST_AsBinary(geom)"
                                    " FROM sclzonal.polygon").fetchone() or (None, None, None)
    assert (valid, kind) == (True, "MULTIPOLYGON")
    cli_ok(url, "refresh")
    stored = stored_counts(conn, loaded["polygon"], loaded["scene"])  # type: ignore[arg-type]
    assert stored == {4: 2800}
    assert pixel_centre_counts(loaded["raster"], shapely.from_wkb(bytes(wkb))) == stored  # type: ignore[arg-type]
    live = conn.execute("SELECT class, pixels FROM sclzonal.zonal_class_counts").fetchall()
    assert live == [(4, 2800)]


def test_an_invalid_insert_is_repaired(loaded: dict[str, object]) -> None:
    conn = loaded["conn"]
    assert isinstance(conn, psycopg.Connection)
    bowtie = "POLYGON((14.50 46.00, 14.51 46.01, 14.51 46.00, 14.50 46.01, 14.50 46.00))"
    conn.execute("INSERT INTO sclzonal.polygon (source, source_fid, geom)"
                 " VALUES ('sql', 'bowtie', ST_Multi(ST_GeomFromText(%s, 4326)))", (bowtie,))
    row = conn.execute("SELECT ST_IsValid(geom), ST_NumGeometries(geom), ST_Area(geom)"
                       " FROM sclzonal.polygon WHERE source_fid = 'bowtie'").fetchone()
    assert row is not None and row[:2] == (True, 2) and row[2] == pytest.approx(0.00005)


@pytest.mark.parametrize("wkt", [
    "MULTIPOLYGON(((14.5 46, 14.51 46, 14.52 46, 14.5 46)))",  # all corners on one line
    "MULTIPOLYGON(((14.5 46, 14.51 46.01, 14.5 46, 14.51 46.01, 14.5 46)))",  # folded back
])
def test_a_geometry_without_area_is_refused_naming_the_polygon(loaded: dict[str, object], wkt: str) -> None:
    conn = loaded["conn"]
    assert isinstance(conn, psycopg.Connection)
    before = conn.execute("SELECT ST_AsText(geom) FROM sclzonal.polygon").fetchone()
    with pytest.raises(psycopg.errors.CheckViolation,
                       match=rf"polygon {loaded['polygon']} \(source 'fields', source_fid '1'\): its "
                             "geometry has no area once made valid"):
        conn.execute("UPDATE sclzonal.polygon SET geom = ST_GeomFromText(%s, 4326) WHERE id = %s",
                     (wkt, loaded["polygon"]))
    assert conn.execute("SELECT ST_AsText(geom) FROM sclzonal.polygon").fetchone() == before


def test_writing_the_same_geometry_again_keeps_the_counts(loaded: dict[str, object]) -> None:
    conn = loaded["conn"]
    assert isinstance(conn, psycopg.Connection)
    counted = conn.execute("SELECT counted_at FROM sclzonal.counted_pair").fetchall()
    conn.execute("UPDATE sclzonal.polygon SET geom = geom WHERE id = %s", (loaded["polygon"],))
    assert conn.execute("SELECT counted_at FROM sclzonal.counted_pair").fetchall() == counted
