"""`sclzonal refresh`: only new pairs are counted, pixel maps are reused, caches stay consistent."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely
from affine import Affine
from shapely import box

from sclzonal.counting.pairs import PolygonBatch, count_new_pairs, pending_pairs, store_counts
from tests.helpers import (
    cli_ok,
    hold_job_lock,
    pixel_centre_counts,
    stored_counts,
    to_crs,
    write_polygons,
    write_raster,
)

TRANSFORM = Affine(20, 0, 500000, 0, -20, 5100000)


def _field(col: float, row: float, size: float = 10.3) -> shapely.Polygon:
    x, y = 500000 + col * 20, 5100000 - row * 20
    return to_crs(box(x, y - size * 20, x + size * 20, y), "EPSG:32633", "EPSG:4326")


@pytest.fixture
def setup(empty_conn: psycopg.Connection, database_url: str, tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(11)
    scenes = {name: write_raster(tmp_path / f"{name}.tif",
                                 rng.integers(0, 12, (80, 80), dtype=np.uint8), transform=TRANSFORM,
                                 date=dt.date(2024, 6, day))
              for name, day in (("first", 1), ("second", 6))}
    write_polygons(tmp_path / "fields.gpkg", [_field(c, r) for c, r in ((3.3, 4.2), (40.1, 30.7),
                                                                           (60.6, 10.4))],
                   "EPSG:4326")
    cli_ok(database_url, "polygons", "load", str(tmp_path / "fields.gpkg"), "--id-field", "ident")
    cli_ok(database_url, "scl", "load", str(scenes["first"]))
    cli_ok(database_url, "refresh")
    return scenes


def _rows(conn: psycopg.Connection, table: str) -> list[tuple[object, ...]]:
    return conn.execute(f"SELECT * FROM sclzonal.{table} ORDER BY 1, 2").fetchall()  # type: ignore[arg-type]


def test_nothing_new_nothing_counted(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    before = _rows(conn, "counted_pair")
    pending = pending_pairs(conn)
    assert pending.pairs == 0
    assert count_new_pairs(conn, pending) == 0
    assert _rows(conn, "counted_pair") == before and len(before) == 3


def test_a_new_scene_reuses_the_pixel_map(conn: psycopg.Connection, database_url: str,
                                          setup: dict[str, Path]) -> None:
    maps = _rows(conn, "pixel_map")
    counted = _rows(conn, "counted_pair")
    cli_ok(database_url, "scl", "load", str(setup["second"]))
    pending = pending_pairs(conn)
    assert pending.pairs == 3 and len(pending.by_scene) == 1
    assert count_new_pairs(conn, pending) == 3
    assert _rows(conn, "pixel_map") == maps  # same grid: runs not computed again
    assert [row for row in _rows(conn, "counted_pair") if row[:2] in {r[:2] for r in counted}] == counted
    for polygon_id, wkb in conn.execute("SELECT id, ST_AsBinary(geom) FROM sclzonal.polygon"):
        (scene_id,) = conn.execute("SELECT id FROM sclzonal.scene WHERE acquired_on = '2024-06-06'"
                                   ).fetchone() or (0,)
        assert stored_counts(conn, polygon_id, scene_id) == pixel_centre_counts(
            setup["second"], shapely.from_wkb(bytes(wkb)))


def test_only_the_new_polygon_is_counted(conn: psycopg.Connection, database_url: str,
                                         setup: dict[str, Path], tmp_path: Path) -> None:
    before = _rows(conn, "counted_pair")
    write_polygons(tmp_path / "more.gpkg", [_field(20.2, 50.5)], "EPSG:4326")
    cli_ok(database_url, "polygons", "load", str(tmp_path / "more.gpkg"))
    pending = pending_pairs(conn)
    assert pending.pairs == 1
    cli_ok(database_url, "refresh")
    after = _rows(conn, "counted_pair")
    assert len(after) == 4 and [row for row in after if row in before] == before


def test_a_changed_geometry_is_counted_again(conn: psycopg.Connection, database_url: str,
                                            setup: dict[str, Path]) -> None:
    (moved,) = conn.execute("SELECT id FROM sclzonal.polygon WHERE source_fid = '2'").fetchone() or (0,)
    others = [row for row in _rows(conn, "counted_pair") if row[0] != moved]
    conn.execute("UPDATE sclzonal.polygon SET geom = ST_Multi(ST_GeomFromText(%s, 4326)) WHERE id = %s",
                 (shapely.to_wkt(_field(10.6, 60.2, 6.4)), moved))
    assert pending_pairs(conn).by_scene and pending_pairs(conn).pairs == 1
    cli_ok(database_url, "refresh")
    assert [row for row in _rows(conn, "counted_pair") if row[0] != moved] == others
    (wkb,) = conn.execute("SELECT ST_AsBinary(geom) FROM sclzonal.polygon WHERE id = %s",
                          (moved,)).fetchone() or (b"",)
    (scene_id,) = conn.execute("SELECT id FROM sclzonal.scene").fetchone() or (0,)
    assert stored_counts(conn, moved, scene_id) == pixel_centre_counts(
        setup["first"], shapely.from_wkb(bytes(wkb)))
    assert sum(stored_counts(conn, moved, scene_id).values()) == 6 * 7  # columns 11-16, rows 60-66


def _one_batch(conn: psycopg.Connection) -> tuple[int, int, PolygonBatch]:
    """Polygon 1's id and scene, and a batch of it at its current geometry version."""
    conn.execute("DELETE FROM sclzonal.counted_pair")
    (polygon_id, version) = conn.execute(
        "SELECT id, changed_seq FROM sclzonal.polygon WHERE source_fid = '1'").fetchone() or (0, 0)
    (scene_id,) = conn.execute("SELECT id FROM sclzonal.scene").fetchone() or (0,)
    batch = PolygonBatch(np.array([polygon_id]), np.array([version]), None, np.array([1]))  # type: ignore[arg-type]
    return polygon_id, scene_id, batch


def test_counts_of_a_polygon_whose_geometry_changed_meanwhile_are_not_stored(
        conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    polygon_id, scene_id, batch = _one_batch(conn)
    conn.execute("UPDATE sclzonal.polygon SET geom = ST_Multi(ST_Translate(ST_GeometryN(geom, 1),"
                 " 0.0001, 0)) WHERE id = %s", (polygon_id,))
    written = store_counts(conn, scene_id, batch, np.ones((1, 12), dtype=np.int64), np.array([True]))
    assert written == 0 and _rows(conn, "counted_pair") == []


def test_counts_survive_an_attribute_edit_meanwhile(conn: psycopg.Connection,
                                                    setup: dict[str, Path]) -> None:
    polygon_id, scene_id, batch = _one_batch(conn)
    conn.execute("UPDATE sclzonal.polygon SET name = 'touched', attributes = '{\"a\": 1}'"
                 " WHERE id = %s", (polygon_id,))
    written = store_counts(conn, scene_id, batch, np.ones((1, 12), dtype=np.int64), np.array([True]))
    assert written == 1 and [row[:2] for row in _rows(conn, "counted_pair")] == [(polygon_id, scene_id)]


def test_deleting_polygons_and_scenes_empties_the_caches(conn: psycopg.Connection,
                                                         setup: dict[str, Path]) -> None:
    assert len(_rows(conn, "counted_pair")) == 3 and len(_rows(conn, "pixel_map")) == 3
    conn.execute("DELETE FROM sclzonal.polygon WHERE source_fid = '1'")
    assert len(_rows(conn, "counted_pair")) == 2 and len(_rows(conn, "pixel_map")) == 2
    conn.execute("DELETE FROM sclzonal.scene")
    assert _rows(conn, "counted_pair") == []
    conn.execute("TRUNCATE sclzonal.polygon")
    assert _rows(conn, "pixel_map") == []


def test_refresh_waits_for_another_refresh(conn: psycopg.Connection, database_url: str,
                                           setup: dict[str, Path]) -> None:
    import threading

    from sclzonal.counting.refresh import refresh

    waited = threading.Event()
    with hold_job_lock(database_url, "refresh") as holder:
        with psycopg.connect(database_url, autocommit=True) as other:
            worker = threading.Thread(target=refresh, args=(other,), kwargs={"on_wait": waited.set})
            worker.start()
            assert waited.wait(10)
            assert worker.is_alive()
            holder.rollback()
            worker.join(30)
            assert not worker.is_alive()
