"""The same acquisition loaded again from another file: refused, or replaced with --replace in one
transaction; never two scenes of one (grid, date, source), never a mix of both files' pixels."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely
from shapely import box

from tests.helpers import pixel_centre_counts, run_cli, stored_counts, to_crs, write_polygons, write_raster

FIRST = np.random.default_rng(1).integers(0, 12, size=(90, 70), dtype=np.uint8)
SECOND = np.random.default_rng(2).integers(0, 12, size=(90, 70), dtype=np.uint8)
FIELD = to_crs(box(500113, 5098337, 500931.5, 5099604), "EPSG:32633", "EPSG:4326")  # edges off centres


@pytest.fixture
def loaded(empty_conn: psycopg.Connection, database_url: str, tmp_path: Path,
           capsys: pytest.CaptureFixture[str]) -> dict[str, Path]:
    paths = {"first": write_raster(tmp_path / "first_20240601.tif", FIRST),
             "second": write_raster(tmp_path / "second_20240601.tif", SECOND),
             "recompressed": tmp_path / "recompressed_20240601.tif",
             "fields": write_polygons(tmp_path / "fields.gpkg", [FIELD], "EPSG:4326")}
    import rasterio

    with rasterio.open(paths["first"]) as source:
        profile = {**source.profile, "compress": "deflate"}
        with rasterio.open(paths["recompressed"], "w", **profile) as sink:
            sink.write(source.read())
    for args in (["polygons", "load", str(paths["fields"])], ["scl", "load", str(paths["first"])],
                 ["refresh"]):
        assert run_cli(capsys, database_url, *args)[0] == 0
    return paths


def _scenes(conn: psycopg.Connection) -> list[tuple[int, str]]:
    return [(int(i), str(r).rsplit("/", 1)[-1]) for i, r in
            conn.execute("SELECT id, reference FROM sclzonal.scene ORDER BY id")]


def test_other_pixels_for_a_loaded_scene_are_refused(capsys: pytest.CaptureFixture[str],
                                                     database_url: str, conn: psycopg.Connection,
                                                     loaded: dict[str, Path]) -> None:
    before = _scenes(conn)
    for name in ("second", "recompressed"):  # other pixels; the same pixels in another file
        code, _, err = run_cli(capsys, database_url, "scl", "load", str(loaded[name]))
        assert code == 1 and len(err.strip().splitlines()) == 1
        assert f"scene {before[0][0]} (" in err and "first_20240601.tif) already holds geotiff " \
            "2024-06-01 on the same grid, from another file" in err and "--replace" in err
    assert _scenes(conn) == before


def test_two_files_of_one_acquisition_in_one_command(capsys: pytest.CaptureFixture[str],
                                                     database_url: str, conn: psycopg.Connection,
                                                     loaded: dict[str, Path], tmp_path: Path) -> None:
    before = _scenes(conn)
    other = write_raster(tmp_path / "other_20240606.tif", FIRST[::-1].copy())
    again = write_raster(tmp_path / "again_20240606.tif", SECOND[::-1].copy())
    code, _, err = run_cli(capsys, database_url, "scl", "load", "--replace", str(other), str(again))
    assert code == 1 and "are the same acquisition (geotiff 2024-06-06, same grid)" in err
    assert _scenes(conn) == before


def test_replace_swaps_the_scene_and_forgets_its_counts(capsys: pytest.CaptureFixture[str],
                                                        database_url: str, conn: psycopg.Connection,
                                                        loaded: dict[str, Path]) -> None:
    (old,) = _scenes(conn)
    (polygon_id,) = conn.execute("SELECT id FROM sclzonal.polygon").fetchone() or (0,)
    code, out, err = run_cli(capsys, database_url, "scl", "load", "--replace", str(loaded["second"]))
    assert code == 0, err
    ((new, reference),) = _scenes(conn)
    assert new != old and reference == "second_20240601.tif"
    assert f"replacing scene {old[0]}" in out
    assert conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone() == (0,)
    # readers keep the old verdict until the refresh, then see the new scene's
    assert conn.execute("SELECT scene_id FROM sclzonal.polygon_verdict").fetchone() == (old[0],)
    assert run_cli(capsys, database_url, "refresh")[0] == 0
    assert conn.execute("SELECT scene_id FROM sclzonal.polygon_verdict").fetchone() == (new,)
    (wkb,) = conn.execute("SELECT ST_AsBinary(geom) FROM sclzonal.polygon").fetchone() or (b"",)
    expected = pixel_centre_counts(loaded["second"], shapely.from_wkb(bytes(wkb)))
    assert stored_counts(conn, polygon_id, new) == expected
    tiles = conn.execute("SELECT count(*), sum(ST_Count(rast, 1, false)) FROM sclzonal.scene_tile"
                         ).fetchone()
    assert tiles == (1, 90 * 70)


def test_replace_of_a_file_loaded_before_changes_nothing(capsys: pytest.CaptureFixture[str],
                                                         database_url: str, conn: psycopg.Connection,
                                                         loaded: dict[str, Path]) -> None:
    before = (_scenes(conn), conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone())
    code, out, _ = run_cli(capsys, database_url, "scl", "load", "--replace", str(loaded["first"]))
    assert code == 0 and "already loaded" in out and "replacing" not in out
    assert (_scenes(conn), conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone()) == before


def test_other_dates_grids_and_sources_are_other_scenes(capsys: pytest.CaptureFixture[str],
                                                        database_url: str, conn: psycopg.Connection,
                                                        loaded: dict[str, Path], tmp_path: Path) -> None:
    from affine import Affine

    later = write_raster(tmp_path / "later.tif", SECOND, date=dt.date(2024, 6, 11))
    shifted = write_raster(tmp_path / "shifted_20240601.tif", SECOND,
                           transform=Affine(20, 0, 500020, 0, -20, 5100000))
    assert run_cli(capsys, database_url, "scl", "load", str(later), str(shifted))[0] == 0
    assert len(_scenes(conn)) == 3
