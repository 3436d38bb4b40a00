"""Each scene's tiles in their own table (a partition of scene_tile) with raster constraints."""

from __future__ import annotations

import datetime as dt
import os
import secrets
import threading
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from psycopg.conninfo import make_conninfo

from sclzonal.cli import main
from tests.helpers import cli_ok, write_raster

TILE = 64


def _scene(path: Path, seed: int, shape: tuple[int, int], crs: str = "EPSG:32633",
           day: dt.date = dt.date(2024, 6, 1)) -> Path:
    array = np.random.default_rng(seed).integers(0, 12, shape, dtype=np.uint8)
    return write_raster(path, array, crs=crs, date=day)


def _tables(conn: psycopg.Connection) -> dict[int, str]:
    return {int(scene_id): str(name) for scene_id, name in conn.execute(
        "SELECT scene_id, table_name FROM sclzonal.scene_tile_partition").fetchall()}


def _children(conn: psycopg.Connection) -> set[str]:
    return {str(row[0]) for row in conn.execute(
        "SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = 'sclzonal.scene_tile'::regclass").fetchall()}


def test_each_scene_has_its_table_described_by_raster_columns(
        conn: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    # Sizes that are not multiples of the tile size: the edge tiles are smaller.
    files = [_scene(tmp_path / "a.tif", 1, (150, 130)),
             _scene(tmp_path / "b.tif", 2, (70, 200), crs="EPSG:32634", day=dt.date(2024, 6, 3))]
    cli_ok(database_url, "scl", "load", "--tile-size", str(TILE), *map(str, files))
    tables = _tables(conn)
    assert _children(conn) == set(tables.values()) and len(tables) == 2
    for path in files:
        with rasterio.open(path) as source:
            pixels, bounds, srid = source.read(1), source.bounds, source.crs.to_epsg()
        scene_id, day = conn.execute("SELECT id, acquired_on FROM sclzonal.scene WHERE reference = %s",
                                     (str(path.resolve()),)).fetchone()  # type: ignore[misc]
        table = tables[scene_id]
        assert table == f"scl_{day:%Y_%m_%d}_scene_{scene_id}"
        described = conn.execute(
            "SELECT srid, scale_x, scale_y, nodata_values, same_alignment, ST_XMin(extent),"
            " ST_YMin(extent), ST_XMax(extent), ST_YMax(extent) FROM raster_columns"
            " WHERE r_table_schema = 'sclzonal' AND r_table_name = %s", (table,)).fetchone()
        assert described is not None
        assert described[:5] == (srid, 20, -20, [255], True)
        assert list(described[5:]) == pytest.approx([bounds.left, bounds.bottom, bounds.right, bounds.top])
        # The scene's table holds its tiles and nothing else; together they are the file.
        stored = np.full(pixels.shape, 255, dtype=np.uint8)
        for upper_left_x, upper_left_y, width, height, values in conn.execute(
                f"SELECT ST_UpperLeftX(rast), ST_UpperLeftY(rast), ST_Width(rast), ST_Height(rast),"
                f" ST_DumpValues(rast, 1) FROM sclzonal.{table}").fetchall():
            col, row = round((upper_left_x - bounds.left) / 20), round((bounds.top - upper_left_y) / 20)
            stored[row:row + height, col:col + width] = np.array(values, dtype=np.uint8)
        assert np.array_equal(stored, pixels)
        assert conn.execute(f"SELECT count(*) FROM sclzonal.{table} WHERE scene_id <> %s",
                            (scene_id,)).fetchone() == (0,)


def test_a_replaced_scene_leaves_no_table_and_readers_are_not_waited_for(
        conn: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    day = dt.date(2024, 7, 1)
    first = _scene(tmp_path / "first.tif", 3, (100, 100), day=day)
    second = _scene(tmp_path / "second.tif", 4, (100, 100), day=day)
    third = _scene(tmp_path / "third.tif", 5, (100, 100), day=day)
    cli_ok(database_url, "scl", "load", str(first))
    before = set(_tables(conn).values())
    cli_ok(database_url, "scl", "load", "--replace", str(second))
    after = set(_tables(conn).values())
    assert len(after - before) == 1 and _children(conn) == after  # the first scene's table is gone

    # A reader of scene_tile (a refresh counting, a QGIS session) holds it: the table of the
    # replaced scene is kept, empty, instead of making the load and every reader wait.
    with psycopg.connect(database_url) as reader:
        reader.execute("SELECT count(*) FROM sclzonal.scene_tile").fetchone()
        loaded = threading.Thread(target=cli_ok, args=(database_url, "scl", "load", "--replace",
                                                       str(third)))
        loaded.start()
        loaded.join(timeout=60)
        assert not loaded.is_alive()
        left = _children(conn) - set(_tables(conn).values())
        assert len(left) == 1
        assert conn.execute(f"SELECT count(*) FROM sclzonal.{left.pop()}").fetchone() == (0,)
        reader.rollback()
    cli_ok(database_url, "refresh")  # drops it once scene_tile is free
    assert _children(conn) == set(_tables(conn).values())
    assert conn.execute("SELECT count(*) FROM sclzonal.scene WHERE acquired_on = %s", (day,)).fetchone() \
        == (1,)


def test_a_scene_loaded_after_the_reader_role_is_readable_by_it(
        conn: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    name, password = f"sclz_tables_reader_{os.getpid()}", secrets.token_hex(8)
    os.environ["SCLZ_TEST_TABLES_PASSWORD"] = password
    try:
        assert main(["--database-url", database_url, "qgis", "role", "--name", name,
                     "--password-env", "SCLZ_TEST_TABLES_PASSWORD"]) == 0
        path = _scene(tmp_path / "later.tif", 6, (80, 80), day=dt.date(2024, 8, 1))
        cli_ok(database_url, "scl", "load", str(path))
        table = conn.execute("SELECT table_name FROM sclzonal.scene_tile_partition"
                             " WHERE acquired_on = '2024-08-01'").fetchone()
        assert table is not None
        with psycopg.connect(make_conninfo(database_url, user=name, password=password)) as reader:
            assert reader.execute(f"SELECT sum(ST_Width(rast) * ST_Height(rast))"
                                  f" FROM sclzonal.{table[0]}").fetchone() == (80 * 80,)
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                reader.execute("SELECT count(*) FROM sclzonal.scene_tile")
    finally:
        del os.environ["SCLZ_TEST_TABLES_PASSWORD"]
        conn.execute(f'DROP OWNED BY "{name}"')
        conn.execute(f'DROP ROLE "{name}"')
