"""ACQUISITION_DATE tags are read strictly, and a time with a UTC offset is stored as its UTC date."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.helpers import run_cli, table_counts, write_raster

PIXELS = np.arange(20 * 20, dtype=np.uint8).reshape(20, 20) % 12


@pytest.mark.parametrize(("tag", "utc_date"), [
    ("2024-06-05", dt.date(2024, 6, 5)),
    ("2024-06-05T10:00:31.024Z", dt.date(2024, 6, 5)),
    ("2024-06-05T10:00:31", dt.date(2024, 6, 5)),
    ("2024-06-06T00:30:00+02:00", dt.date(2024, 6, 5)),
    ("2024-06-05T23:30:00-02:00", dt.date(2024, 6, 6)),
    (" 2024-06-05 ", dt.date(2024, 6, 5)),
])
def test_the_utc_date_is_stored(capsys: pytest.CaptureFixture[str], database_url: str,
                                empty_conn: psycopg.Connection, tmp_path: Path, tag: str,
                                utc_date: dt.date) -> None:
    path = write_raster(tmp_path / "scene.tif", PIXELS, tags={"ACQUISITION_DATE": tag})
    code, _, err = run_cli(capsys, database_url, "scl", "load", str(path))
    assert code == 0, err
    assert empty_conn.execute("SELECT acquired_on FROM sclzonal.scene").fetchall() == [(utc_date,)]


@pytest.mark.parametrize("tag", ["2024-06-05 and then some", "2024-06-05x", "2024-6-5", "20240605",
                                 "2024-06-05T10:00:31+02:00 (local)", "05.06.2024", "2024-06-31"])
def test_anything_after_or_around_the_date_is_refused(capsys: pytest.CaptureFixture[str], database_url: str,
                                                      empty_conn: psycopg.Connection, tmp_path: Path,
                                                      tag: str) -> None:
    path = write_raster(tmp_path / "scene.tif", PIXELS, tags={"ACQUISITION_DATE": tag})
    code, out, err = run_cli(capsys, database_url, "scl", "load", str(path))
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and f"ACQUISITION_DATE tag {tag!r} is not a date" in err
    assert table_counts(empty_conn)["scene"] == 0
