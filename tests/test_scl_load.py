"""`sclzonal scl load`: what it stores, idempotency, and every rejected input."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio

from tests.helpers import run_cli, table_counts, write_raster

GOOD = np.arange(40 * 30, dtype=np.uint8).reshape(30, 40) % 12


def test_tiles_hold_the_pixels_with_nodata_255(capsys: pytest.CaptureFixture[str], database_url: str,
                                               empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    path = write_raster(tmp_path / "scl_20240601.tif", GOOD)
    code, out, err = run_cli(capsys, database_url, "scl", "load", "--tile-size", "16", str(path))
    assert code == 0, err
    assert "2024-06-01" in out
    scene = empty_conn.execute("SELECT acquired_on, srid, width, height, pixel_size_x, pixel_size_y "
                               "FROM sclzonal.scene").fetchall()
    assert scene == [(dt.date(2024, 6, 1), 32633, 40, 30, 20.0, -20.0)]
    tiles = empty_conn.execute(
        "SELECT ST_BandNoDataValue(rast, 1), ST_BandPixelType(rast, 1), ST_Width(rast),"
        " ST_Height(rast), ST_UpperLeftX(rast), ST_UpperLeftY(rast),"
        " ST_DumpValues(rast, 1) FROM sclzonal.scene_tile ORDER BY 6 DESC, 5").fetchall()
    assert len(tiles) == 3 * 2  # 40 x 30 px in 16 px tiles
    for nodata, pixel_type, width, height, left, top, values in tiles:
        assert (nodata, pixel_type) == (255, "8BUI")
        col, row = int((left - 500000) / 20), int((5100000 - top) / 20)
        assert np.array_equal(np.array(values), GOOD[row:row + height, col:col + width])


def test_date_sources_in_order(capsys: pytest.CaptureFixture[str], database_url: str,
                               empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    tagged = write_raster(tmp_path / "scl_20240601.tif", GOOD, date=dt.date(2024, 5, 2))
    code, _, _ = run_cli(capsys, database_url, "scl", "load", str(tagged))
    assert code == 0
    named = write_raster(tmp_path / "S2B_MSIL2A_20240703T100559_scl.tif", GOOD[::-1].copy())
    code, _, _ = run_cli(capsys, database_url, "scl", "load", str(named))
    assert code == 0
    option = write_raster(tmp_path / "scl_20240601_b.tif", GOOD[:, ::-1].copy(), date=dt.date(2024, 5, 2))
    code, _, _ = run_cli(capsys, database_url, "scl", "load", "--date", "2024-04-30", str(option))
    assert code == 0
    dates = [row[0] for row in empty_conn.execute("SELECT acquired_on FROM sclzonal.scene ORDER BY id")]
    assert dates == [dt.date(2024, 5, 2), dt.date(2024, 7, 3), dt.date(2024, 4, 30)]


def test_loading_again_changes_nothing(capsys: pytest.CaptureFixture[str], database_url: str,
                                       empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    path = write_raster(tmp_path / "scl_20240601.tif", GOOD)
    assert run_cli(capsys, database_url, "scl", "load", str(path))[0] == 0
    before = (table_counts(empty_conn), empty_conn.execute(
        "SELECT id, loaded_at FROM sclzonal.scene").fetchall())
    code, out, _ = run_cli(capsys, database_url, "scl", "load", str(path))
    assert code == 0 and "already loaded" in out
    after = (table_counts(empty_conn),
             empty_conn.execute("SELECT id, loaded_at FROM sclzonal.scene").fetchall())
    assert before == after


def _three_bands(path: Path) -> Path:
    return write_raster(path, np.stack([GOOD, GOOD, GOOD]))


def _float(path: Path) -> Path:
    return write_raster(path, GOOD.astype(np.float32))


def _above_eleven(path: Path) -> Path:
    array = GOOD.copy()
    array[29, 39] = 12
    return write_raster(path, array)


def _no_crs(path: Path) -> Path:
    return write_raster(path, GOOD, crs=None)


def _random_bytes(path: Path) -> Path:
    path.write_bytes(np.random.default_rng(5).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return path


def _truncated(path: Path) -> Path:
    big = np.random.default_rng(7).integers(0, 12, size=(600, 600), dtype=np.uint8)
    full = write_raster(path.with_name("full.tif"), big)
    path.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return path


def _rotated(path: Path) -> Path:
    return write_raster(path, GOOD, transform=rasterio.Affine(20, 5, 500000, 5, -20, 5100000))


def _future(path: Path) -> Path:
    return write_raster(path, GOOD, date=dt.date.today() + dt.timedelta(days=3))


REJECTED = [
    ("three_bands_20240601.tif", _three_bands, "has 3 bands; an SCL raster has one"),
    ("float_20240601.tif", _float, "data type float32 is not an integer type"),
    ("above_20240601.tif", _above_eleven, "pixel value 12 is not an SCL class (0-11)"),
    ("nocrs_20240601.tif", _no_crs, "has no CRS"),
    ("random_20240601.tif", _random_bytes, "not a readable raster"),
    ("truncated_20240601.tif", _truncated, "cannot read its pixels"),
    ("nodate.tif", lambda p: write_raster(p, GOOD), "no acquisition date"),
    ("rotated_20240601.tif", _rotated, "rotated or sheared geotransform"),
    ("future.tif", _future, "is in the future"),
]


@pytest.mark.parametrize(("name", "make", "message"), REJECTED, ids=[r[0] for r in REJECTED])
def test_rejected_input_writes_nothing(capsys: pytest.CaptureFixture[str], database_url: str,
                                       empty_conn: psycopg.Connection, tmp_path: Path, name: str,
                                       make: object, message: str) -> None:
    assert callable(make)
    good = write_raster(tmp_path / "good_20240601.tif", GOOD)
    bad = make(tmp_path / name)
    before = table_counts(empty_conn)
    # the good file comes first: a bad file later in the list must not leave a half-load behind
    code, out, err = run_cli(capsys, database_url, "scl", "load", str(good), str(bad))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sclzonal: error: "), err
    assert message in lines[0] and name in lines[0]
    assert "Traceback" not in err + out
    assert table_counts(empty_conn) == before


def test_bad_date_option(capsys: pytest.CaptureFixture[str], database_url: str,
                         empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    path = write_raster(tmp_path / "x.tif", GOOD)
    code, _, err = run_cli(capsys, database_url, "scl", "load", "--date", "2024-13-01", str(path))
    assert code == 1 and err.strip() == "sclzonal: error: --date '2024-13-01' is not a date (YYYY-MM-DD)"
    assert table_counts(empty_conn)["scene"] == 0


def test_uint16_with_classes_is_accepted(capsys: pytest.CaptureFixture[str], database_url: str,
                                         empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    path = write_raster(tmp_path / "wide_20240601.tif", GOOD.astype(np.uint16))
    assert run_cli(capsys, database_url, "scl", "load", str(path))[0] == 0
    values = empty_conn.execute("SELECT ST_DumpValues(rast, 1) FROM sclzonal.scene_tile").fetchone()
    assert values is not None and np.array_equal(np.array(values[0]), GOOD)


def test_bad_pixels_in_a_single_file_roll_back(capsys: pytest.CaptureFixture[str], database_url: str,
                                               empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    array = np.zeros((600, 600), dtype=np.uint8)
    array[-1, -1] = 200  # the very last pixel, after most tiles have been sent
    path = write_raster(tmp_path / "late_20240601.tif", array)
    code, _, err = run_cli(capsys, database_url, "scl", "load", "--tile-size", "32", str(path))
    assert code == 1 and "pixel value 200 is not an SCL class" in err
    assert table_counts(empty_conn)["scene"] == 0 and table_counts(empty_conn)["scene_tile"] == 0
