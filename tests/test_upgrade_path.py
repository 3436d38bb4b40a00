"""Upgrading a database that holds data from the last released revision (0004) to head.

The 0004 database is made by 0004's own migrations and filled with the rows a head database
computed from the same files (copied table by table); its verdicts are refreshed by 0004's views.
After `upgrade`, the stored counts and the verdicts must be those it had, and those of a database
built fresh at head from the same files.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql
from shapely import box

from sclzonal.db import migrate
from sclzonal.db.scl_classes import CLASS_COLUMNS
from tests.conftest import migrated_database, url_for
from tests.helpers import run_cli, to_crs, write_polygons, write_raster

RELEASED = "0004"
# Classes vary along rows and columns; the second scene is mostly cloud (class 9).
SCENE = ((np.arange(120)[:, None] // 7 + np.arange(100)[None, :] // 9) % 12).astype(np.uint8)
CLOUDY = np.where(np.arange(100)[None, :] % 5 == 0, 4, 9).repeat(120, axis=0).astype(np.uint8)
# Bare soil (class 5) on the western half, vegetation (class 4) on the eastern half.
HALVES = np.where(np.arange(100)[None, :] < 50, 5, 4).repeat(120, axis=0).astype(np.uint8)
FIELDS = [to_crs(box(500000 + 380 * i, 5098000 + 40 * i, 500150 + 380 * i, 5098300), "EPSG:32633",
                 "EPSG:4326") for i in range(5)] + [box(15.5, 46.5, 15.51, 46.51)]  # outside all
# Copied from the head database into the 0004 one, in this order (0004 calls counted_pair zonal_count).
TABLES = [("polygon", "polygon"), ("scene_grid", "scene_grid"), ("scene", "scene"),
          ("scene_tile", "scene_tile"), ("pixel_map", "pixel_map"), ("counted_pair", "zonal_count")]
TILES = "SELECT id, scene_id, md5(rast::bytea) FROM sclzonal.scene_tile ORDER BY id"
# The columns of polygon_verdict that 0004 and head share.
VERDICTS = ("SELECT polygon_id, verdict, acquired_on, scene_id, rule_share, clear_share,"
            " vegetation_share, pixels, clear_pixels, last_observed_on,"
            " ST_AsBinary(geom) FROM sclzonal.polygon_verdict ORDER BY polygon_id")
COUNTS = ("SELECT polygon_id, scene_id, " + ", ".join(CLASS_COLUMNS)
          + " FROM sclzonal.{} ORDER BY polygon_id, scene_id")
EXPECTED = "SELECT polygon_id, scene_id, expected_pixels FROM sclzonal.counted_pair ORDER BY 1, 2"


@pytest.fixture(scope="module")
def released_url() -> Iterator[str]:
    """An empty database migrated to the released revision only."""
    with migrated_database(f"sclzonal_released_{os.getpid()}", RELEASED) as name:
        yield url_for(name)


def _load(capsys: pytest.CaptureFixture[str], url: str, work: Path) -> None:
    """Load the fields and three scenes with the CLI and refresh (at head)."""
    fields = write_polygons(work / "fields.gpkg", FIELDS, "EPSG:4326")
    scenes = [write_raster(work / "scl_20240601.tif", SCENE),
              write_raster(work / "scl_20240611.tif", CLOUDY),
              write_raster(work / "scl_20240621.tif", HALVES, date=dt.date(2024, 6, 21))]
    for args in (["polygons", "load", str(fields)], ["scl", "load", *map(str, scenes)], ["refresh"]):
        code, _, err = run_cli(capsys, url, *args)
        assert code == 0, (args, err)


def _columns(conn: psycopg.Connection, table: str) -> list[str]:
    return [row[0] for row in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0"
        " AND NOT attisdropped ORDER BY attnum", (f"sclzonal.{table}",))]


def _copy(source: psycopg.Connection, target: psycopg.Connection, table: str, into: str) -> None:
    """Copy the columns the older table has (later revisions added some)."""
    known = set(_columns(target, into))
    columns = [name for name in _columns(source, table) if name in known]
    # footprints are MultiPolygons since revision 0008, Polygons before
    selected = [sql.SQL("ST_GeometryN(footprint, 1)") if (table, name) == ("scene", "footprint")
                else sql.Identifier(name) for name in columns]
    names = sql.SQL(", ").join(map(sql.Identifier, columns))
    read = sql.SQL("COPY (SELECT {} FROM {}) TO STDOUT").format(
        sql.SQL(", ").join(selected), sql.Identifier("sclzonal", table))
    write = sql.SQL("COPY {} ({}) FROM STDIN").format(sql.Identifier("sclzonal", into),
                                                                      names)
    with source.cursor().copy(read) as out, target.cursor().copy(write) as into_copy:
        for block in out:
            into_copy.write(block)


def test_counts_and_verdicts_survive_the_upgrade_and_equal_a_fresh_build(
        capsys: pytest.CaptureFixture[str], database_url: str, released_url: str,
        tmp_path: Path) -> None:
    _load(capsys, database_url, tmp_path)
    with psycopg.connect(database_url, autocommit=True) as fresh, \
            psycopg.connect(released_url, autocommit=True) as old:
        assert migrate.current_revision(old) == RELEASED
        for table, into in TABLES:
            _copy(fresh, old, table, into)
        old.execute("INSERT INTO sclzonal.database_role VALUES ('sclz_upgrade_absent', 'ingest')")
        old.execute("REFRESH MATERIALIZED VIEW sclzonal.polygon_verdict")  # by 0004's views
        counts_before = old.execute(sql.SQL(COUNTS).format(sql.Identifier("zonal_count"))).fetchall()
        verdicts_before = old.execute(VERDICTS).fetchall()
        tiles_before = old.execute(TILES).fetchall()
        fresh_counts = fresh.execute(sql.SQL(COUNTS).format(sql.Identifier("counted_pair"))).fetchall()
        fresh_verdicts = fresh.execute(VERDICTS).fetchall()
        fresh_expected = fresh.execute(EXPECTED).fetchall()
    # The data is what the test means: every kind of verdict, several scenes per polygon.
    assert {row[1] for row in fresh_verdicts} >= {"vegetation", "other", "no_pixels"}
    assert len(fresh_counts) == 15 and counts_before == fresh_counts

    assert run_cli(capsys, released_url, "db", "upgrade")[0] == 0
    with psycopg.connect(released_url, autocommit=True) as upgraded:
        assert migrate.current_revision(upgraded) == migrate.head_revision()
        assert upgraded.execute(sql.SQL(COUNTS).format(sql.Identifier("counted_pair"))).fetchall() \
            == fresh_counts
        # Until a refresh measures their coverage (NULL), pairs are judged as before.
        assert {row[2] for row in upgraded.execute(EXPECTED).fetchall()} == {None}
        assert upgraded.execute(VERDICTS).fetchall() == verdicts_before == fresh_verdicts
        assert upgraded.execute("SELECT purpose FROM sclzonal.database_role").fetchall() == [("loader",)]
        # Revision 0010: the same tiles, each scene's in its own table with raster constraints.
        assert upgraded.execute(TILES).fetchall() == tiles_before and len(tiles_before) == 3
        tables = upgraded.execute(
            "SELECT p.scene_id, r.srid = s.srid AND r.extent IS NOT NULL FROM sclzonal.scene_tile_partition p"
            " JOIN sclzonal.scene s ON s.id = p.scene_id JOIN raster_columns r"
            " ON r.r_table_schema = 'sclzonal' AND r.r_table_name = p.table_name ORDER BY 1").fetchall()
        assert tables == [(scene_id, True) for (scene_id,) in
                          upgraded.execute("SELECT id FROM sclzonal.scene ORDER BY id").fetchall()]
        # The old names still answer, with the new objects' rows.
        assert upgraded.execute(sql.SQL(COUNTS).format(sql.Identifier("zonal_count"))).fetchall() \
            == fresh_counts
        old_shape = upgraded.execute("SELECT * FROM sclzonal.class_count ORDER BY 1, 2, 3").fetchall()
        assert old_shape == upgraded.execute(
            "SELECT * FROM sclzonal.stored_class_counts ORDER BY 1, 2, 3").fetchall()
    # The next refresh stores the expected pixels of the old pairs, without counting them again.
    code, out, err = run_cli(capsys, released_url, "refresh")
    assert code == 0, err
    with psycopg.connect(released_url, autocommit=True) as upgraded:
        assert upgraded.execute(EXPECTED).fetchall() == fresh_expected
        assert all(row[2] is not None for row in fresh_expected)
        assert upgraded.execute(VERDICTS).fetchall() == fresh_verdicts
        assert upgraded.execute(sql.SQL(COUNTS).format(sql.Identifier("counted_pair"))).fetchall() \
            == fresh_counts


def test_downgrade_to_the_released_revision_gives_back_its_names(
        capsys: pytest.CaptureFixture[str], released_url: str) -> None:
    """After the upgrade test: down to 0004 and up again keeps the rows and the old role purpose."""
    with psycopg.connect(released_url, autocommit=True) as conn:
        counts = conn.execute(sql.SQL(COUNTS).format(sql.Identifier("counted_pair"))).fetchall()
        verdicts = conn.execute(VERDICTS).fetchall()
    migrate.downgrade(released_url, RELEASED)
    with psycopg.connect(released_url, autocommit=True) as conn:
        assert conn.execute("SELECT to_regclass('sclzonal.zonal_count')::text,"
                            " to_regclass('sclzonal.counted_pair')::text").fetchone() \
            == ("sclzonal.zonal_count", None)
        assert conn.execute("SELECT purpose FROM sclzonal.database_role").fetchall() == [("ingest",)]
        assert conn.execute(sql.SQL(COUNTS).format(sql.Identifier("zonal_count"))).fetchall() == counts
        assert conn.execute(VERDICTS).fetchall() == verdicts
    migrate.upgrade(released_url)
    with psycopg.connect(released_url, autocommit=True) as conn:
        assert conn.execute(VERDICTS).fetchall() == verdicts
