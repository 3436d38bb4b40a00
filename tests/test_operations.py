"""docs/operations.md, run: a backup without the caches restores into a new database, and
`sclzonal refresh --recount` rebuilds the counts and verdicts the original had."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from shapely import box

from sclzonal.db import migrate
from tests.helpers import cli_ok, run_cli, to_crs, write_polygons, write_raster

CACHES = ("sclzonal.counted_pair", "sclzonal.pixel_map")


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed")
    return found


@pytest.fixture
def restored(database_url: str) -> Iterator[str]:
    """An empty database to restore into, dropped afterwards."""
    name = f"{conninfo_to_dict(database_url)['dbname']}_restored"
    with psycopg.connect(make_conninfo(database_url, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield make_conninfo(database_url, dbname=name)
    with psycopg.connect(make_conninfo(database_url, dbname="postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _state(url: str) -> tuple[object, ...]:
    with psycopg.connect(url) as conn:
        return tuple(conn.execute(query).fetchone() for query in (
            "SELECT count(*), md5(string_agg(c::text, '|' ORDER BY c::text))"
            " FROM sclzonal.stored_class_counts c",
            "SELECT count(*), md5(string_agg(v::text, '|' ORDER BY v.polygon_id))"
            " FROM sclzonal.polygon_verdict v",
            "SELECT count(*) FROM sclzonal.scene_tile"))


@pytest.mark.process
def test_backup_without_caches_restores_and_recounts(capsys: pytest.CaptureFixture[str],
                                                     database_url: str, restored: str,
                                                     tmp_path: Path) -> None:
    rng = np.random.default_rng(8)
    fields = [to_crs(box(500000 + 230 * i, 5098000 + 97 * i, 500170 + 230 * i, 5098260 + 97 * i),
                     "EPSG:32633", "EPSG:4326") for i in range(8)]
    cli_ok(database_url, "polygons", "load", str(write_polygons(tmp_path / "f.gpkg", fields, "EPSG:4326")))
    for day in (3, 8):
        scene = rng.integers(0, 12, (150, 130), dtype=np.uint8)
        cli_ok(database_url, "scl", "load", str(write_raster(tmp_path / f"s{day}.tif", scene,
                                                             date=dt.date(2024, 6, day))))
    cli_ok(database_url, "refresh")
    original = _state(database_url)
    dump = tmp_path / "sclzonal.dump"
    subprocess.run([_tool("pg_dump"), "-Fc", "-f", str(dump),
                    *[f"--exclude-table-data={table}" for table in CACHES], database_url], check=True)
    subprocess.run([_tool("pg_restore"), "--no-owner", "--no-privileges", "--exit-on-error",
                    "-d", restored, str(dump)], check=True)
    code, out, _ = run_cli(capsys, restored, "db", "status")
    assert code == 0 and f"database revision: {migrate.head_revision()}" in out
    code, out, _ = run_cli(capsys, restored, "refresh")  # the caches are empty, the scenes say done
    assert code == 0 and "counted 0 new" in out
    code, out, err = run_cli(capsys, restored, "refresh", "--recount")
    assert code == 0 and "counted 16 new polygon-scene pairs on 2 scenes" in out, err
    assert _state(restored) == original
