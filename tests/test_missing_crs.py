"""A raster in a CRS that PostGIS's spatial_ref_sys lacks (but PROJ knows) loads, or is refused whole.

EPSG:8950 (SIRGAS-Chile 2010 / UTM zone 18S) is one of the hundreds of EPSG codes PROJ knows and
PostGIS 3.3 does not ship.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from affine import Affine
from psycopg import sql
from pyproj import Transformer

from tests.conftest import url_for
from tests.helpers import run_cli, table_counts, write_raster

SRID = 8950
PIXELS = (np.arange(30 * 40, dtype=np.uint8).reshape(30, 40) * 7) % 12
ORIGIN = Affine(20, 0, 620_000, 0, -20, 6_300_000)  # near Santiago, in UTM zone 18S


@pytest.fixture
def empty(empty_conn: psycopg.Connection) -> psycopg.Connection:
    """An empty database whose spatial_ref_sys lacks EPSG:8950 again."""
    empty_conn.execute("DELETE FROM spatial_ref_sys WHERE srid = %s", (SRID,))
    return empty_conn


@pytest.fixture
def loader_url(empty: psycopg.Connection) -> Iterator[str]:
    """A login role that may write sclzonal's tables but not spatial_ref_sys."""
    role = f"sclzonal_test_nosrs_{os.getpid()}"
    ident = sql.Identifier(role)
    empty.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))
    empty.execute(sql.SQL("CREATE ROLE {} LOGIN").format(ident))
    for statement in ("GRANT USAGE ON SCHEMA sclzonal TO {}",
                      "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA sclzonal TO {}",
                      "GRANT USAGE ON ALL SEQUENCES IN SCHEMA sclzonal TO {}",
                      "GRANT SELECT ON spatial_ref_sys TO {}"):
        empty.execute(sql.SQL(statement).format(ident))
    url = url_for(empty.info.dbname).replace("postgres@", f"{role}@", 1)
    yield url
    empty.execute(sql.SQL("DROP OWNED BY {}").format(ident))
    empty.execute(sql.SQL("DROP ROLE {}").format(ident))


def _files(tmp_path: Path) -> tuple[Path, Path]:
    known = write_raster(tmp_path / "utm33.tif", PIXELS, date=dt.date(2024, 6, 5))
    missing = write_raster(tmp_path / "sirgas.tif", PIXELS[::-1].copy(), crs=f"EPSG:{SRID}",
                           transform=ORIGIN, date=dt.date(2024, 6, 5))
    return known, missing


def test_the_crs_is_added_from_proj_and_the_scene_lies_where_proj_puts_it(
        capsys: pytest.CaptureFixture[str], database_url: str, empty: psycopg.Connection,
        tmp_path: Path) -> None:
    known, missing = _files(tmp_path)
    code, _, err = run_cli(capsys, database_url, "scl", "load", str(known), str(missing))
    assert code == 0, err
    assert empty.execute("SELECT auth_name, auth_srid FROM spatial_ref_sys WHERE srid = %s",
                         (SRID,)).fetchone() == ("EPSG", SRID)
    row = empty.execute("SELECT ST_X(ST_Centroid(footprint)), ST_Y(ST_Centroid(footprint))"
                        " FROM sclzonal.scene WHERE srid = %s", (SRID,)).fetchone()
    assert row is not None
    centre = ORIGIN @ (PIXELS.shape[1] / 2, PIXELS.shape[0] / 2)
    lon, lat = Transformer.from_crs(SRID, 4326, always_xy=True).transform(*centre)
    assert abs(row[0] - lon) < 1e-6 and abs(row[1] - lat) < 1e-6
    values = empty.execute("SELECT ST_DumpValues(rast, 1) FROM sclzonal.scene_tile AS t"
                           " JOIN sclzonal.scene AS s ON s.id = t.scene_id WHERE s.srid = %s",
                           (SRID,)).fetchall()
    assert len(values) == 1 and np.array_equal(np.array(values[0][0]), PIXELS[::-1])


def test_a_role_that_may_not_add_it_stores_none_of_the_files(
        capsys: pytest.CaptureFixture[str], empty: psycopg.Connection, loader_url: str,
        tmp_path: Path) -> None:
    known, missing = _files(tmp_path)
    before = table_counts(empty)
    code, out, err = run_cli(capsys, loader_url, "scl", "load", str(known), str(missing))
    assert code == 1 and out == ""
    assert err.count("\n") == 1
    assert f"EPSG:{SRID} is not in PostGIS's spatial_ref_sys and this role may not add it" in err
    assert table_counts(empty) == before
    code, _, err = run_cli(capsys, loader_url, "scl", "load", str(known))
    assert code == 0, err
