"""`sclzonal refresh --scheduler`: counting on a real Dask cluster (distributed.LocalCluster with
two worker processes) stores exactly what in-process counting stores.

The data: 60 fields over three grids (two in UTM 33 with different origins, one in UTM 34),
two scenes on each grid. The counts made on the cluster are compared with those of an
in-process refresh of the same database (counts and pixel maps deleted in between), and with
the definition view, row for row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from affine import Affine
from shapely import box

from tests.helpers import (
    cli_ok,
    definition_differences,
    run_cli,
    to_crs,
    verdict_differences,
    write_polygons,
    write_raster,
)

distributed = pytest.importorskip("distributed")

GRIDS = [("EPSG:32633", Affine(20, 0, 500000, 0, -20, 5100000)),
         ("EPSG:32633", Affine(20, 0, 502010, 0, -20, 5097990)),
         ("EPSG:32634", Affine(20, 0, 300000, 0, -20, 5100000))]
COUNTS = ("SELECT polygon_id, scene_id, expected_pixels, "
          + ", ".join(f"class_{k}" for k in range(12))
          + " FROM sclzonal.counted_pair ORDER BY 1, 2")


@pytest.fixture(scope="module")
def cluster() -> Iterator[str]:
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as local:
        yield str(local.scheduler_address)


@pytest.fixture
def loaded(empty_conn: psycopg.Connection, database_url: str, tmp_path: Path) -> str:
    rng = np.random.default_rng(17)
    fields = []
    for index, (crs, transform) in enumerate(GRIDS):
        for day in (3, 8):
            write_raster(tmp_path / f"grid{index}_{day}.tif",
                         rng.integers(0, 12, (100, 100), dtype=np.uint8), crs=crs,
                         transform=transform, date=dt.date(2024, 7, day))
        for _ in range(20):
            col, row, size = rng.uniform(2, 85), rng.uniform(2, 85), rng.uniform(3, 12)
            x, y = transform @ (col, row)
            fields.append(to_crs(box(x, y - size * 20, x + size * 20, y), crs, "EPSG:4326"))
    write_polygons(tmp_path / "fields.gpkg", fields, "EPSG:4326")
    cli_ok(database_url, "polygons", "load", str(tmp_path / "fields.gpkg"))
    cli_ok(database_url, "scl", "load", *sorted(map(str, tmp_path.glob("grid*.tif"))))
    return database_url


def test_counts_on_the_cluster_equal_in_process_counts(
        capsys: pytest.CaptureFixture[str], loaded: str, conn: psycopg.Connection,
        cluster: str) -> None:
    code, out, err = run_cli(capsys, loaded, "refresh", "--scheduler", cluster)
    assert code == 0, err
    on_cluster = conn.execute(COUNTS).fetchall()
    grids = conn.execute("SELECT count(DISTINCT grid_id) FROM sclzonal.pixel_map").fetchone()
    assert len(on_cluster) >= 100 and grids == (3,)
    assert definition_differences(conn) == 0 and verdict_differences(conn) == 0
    conn.execute("DELETE FROM sclzonal.counted_pair")
    conn.execute("DELETE FROM sclzonal.pixel_map")
    cli_ok(loaded, "refresh", "--recount")
    assert conn.execute(COUNTS).fetchall() == on_cluster
    assert "new polygon-scene pairs" in out


def test_the_scheduler_from_the_environment(capsys: pytest.CaptureFixture[str], loaded: str,
                                            conn: psycopg.Connection, cluster: str,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster)
    code, _, err = run_cli(capsys, loaded, "refresh")
    assert code == 0, err
    assert definition_differences(conn) == 0
    with distributed.Client(cluster) as client:  # the workers did the counting
        assert len(client.scheduler_info()["workers"]) == 2


def test_an_unreachable_scheduler_is_one_line_and_counts_nothing(
        capsys: pytest.CaptureFixture[str], loaded: str, conn: psycopg.Connection) -> None:
    code, _, err = run_cli(capsys, loaded, "refresh", "--scheduler", "tcp://127.0.0.1:9")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "Dask scheduler at tcp://127.0.0.1:9" in err
    assert conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone() == (0,)
    assert conn.execute("SELECT max(counted_seq) FROM sclzonal.scene").fetchone() == (0,)
    cli_ok(loaded, "refresh")  # in process, the next run counts everything
    assert definition_differences(conn) == 0


def test_a_failing_worker_fails_the_refresh_and_loses_nothing(
        capsys: pytest.CaptureFixture[str], loaded: str, conn: psycopg.Connection,
        cluster: str) -> None:
    broken = "(SELECT min(id) FROM sclzonal.scene)"  # its tiles no longer on its grid
    # (which the raster constraints of the scene's table would refuse: dropped first)
    conn.execute(f"SELECT DropRasterConstraints('sclzonal'::name, table_name::name, 'rast'::name)"
                 f" FROM sclzonal.scene_tile_partition WHERE scene_id = {broken}")
    conn.execute(f"UPDATE sclzonal.scene_tile SET rast = ST_SetScale(rast, 30, -20)"
                 f" WHERE scene_id = {broken}")
    code, _, err = run_cli(capsys, loaded, "refresh", "--scheduler", cluster)
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "counting on the Dask cluster failed" in err
    assert conn.execute("SELECT max(counted_seq) FROM sclzonal.scene").fetchone() == (0,)
    stored = conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone()
    assert stored is not None and stored[0] > 0  # the other grids' tasks kept their counts
    conn.execute(f"UPDATE sclzonal.scene_tile SET rast = ST_SetScale(rast, 20, -20)"
                 f" WHERE scene_id = {broken}")
    cli_ok(loaded, "refresh", "--scheduler", cluster)
    assert definition_differences(conn) == 0
