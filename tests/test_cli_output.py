"""Where the CLI writes: results on stdout, notes on stderr; -q silences notes, -v adds timings; --limit."""

from __future__ import annotations

import csv
import io
import json
import re
import threading
import time
from pathlib import Path

import numpy as np
import psycopg
import pytest
from shapely.geometry import box

from tests.helpers import cli_ok, hold_job_lock, run_cli, write_polygons, write_raster

FIELDS = [box(500000 + 120 * i, 5098800, 500000 + 120 * i + 90, 5098950) for i in range(7)]


@pytest.fixture(scope="module")
def loaded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seven fields and one scene, loaded but not yet counted."""
    folder = tmp_path_factory.mktemp("data")
    cli_ok(database_url, "polygons", "load",
           str(write_polygons(folder / "fields.gpkg", FIELDS, "EPSG:32633")))
    array = np.random.default_rng(3).integers(0, 12, (80, 80), dtype=np.uint8)
    cli_ok(database_url, "scl", "load", str(write_raster(folder / "SCL_2024-06-05.tif", array)))
    return folder


def test_verbose_prints_timings_of_each_step(capsys: pytest.CaptureFixture[str], database_url: str,
                                             loaded: Path, conn: psycopg.Connection) -> None:
    code, out, err = run_cli(capsys, database_url, "-v", "refresh")
    assert code == 0, err
    counted = conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone()
    assert counted is not None and counted[0] == len(FIELDS)
    assert re.search(rf"^sclzonal: counting: {len(FIELDS)} pairs in \d+\.\d\d s$", err, re.M), err
    assert re.search(r"^sclzonal: \d+\.\d\d s in all$", err, re.M), err
    assert out.startswith(f"counted {len(FIELDS)} new polygon-scene pairs")
    code, _, quiet_err = run_cli(capsys, database_url, "refresh")
    assert code == 0 and quiet_err == ""


def test_quiet_silences_notes_but_not_results_or_errors(capsys: pytest.CaptureFixture[str],
                                                        database_url: str, loaded: Path,
                                                        tmp_path: Path) -> None:
    target = tmp_path / "verdicts.csv"
    code, out, err = run_cli(capsys, database_url, "verdicts", "--format", "csv", "--output", str(target))
    assert code == 0 and err == f"wrote {len(FIELDS)} verdicts to {target}\n" and out == ""
    code, out, err = run_cli(capsys, database_url, "-q", "verdicts", "--format", "csv",
                             "--output", str(target))
    assert code == 0 and err == "" and out == ""
    code, out, err = run_cli(capsys, database_url, "-q", "refresh")
    assert code == 0 and err == "" and out.startswith("counted 0 new polygon-scene pairs")
    code, out, err = run_cli(capsys, database_url, "-q", "scl", "load", str(tmp_path / "missing.tif"))
    assert code == 1 and out == ""
    assert err.startswith("sclzonal: error: ") and len(err.splitlines()) == 1


def test_quiet_silences_the_wait_for_another_refresh(capsys: pytest.CaptureFixture[str],
                                                     database_url: str, loaded: Path) -> None:
    for flags, expected in (((), "another refresh is running; waiting\n"), (("-q",), "")):
        with hold_job_lock(database_url, "refresh") as holder:
            release = threading.Timer(1.0, holder.rollback)
            release.start()
            started = time.monotonic()
            code, _, err = run_cli(capsys, database_url, *flags, "refresh")
            release.join()
        assert code == 0 and time.monotonic() - started >= 0.9
        assert err == expected


@pytest.mark.parametrize("output_format", ["table", "csv", "geojson"])
def test_limit_is_honoured_by_every_format(capsys: pytest.CaptureFixture[str], database_url: str,
                                           loaded: Path, conn: psycopg.Connection,
                                           output_format: str) -> None:
    first = [row[0] for row in conn.execute(
        "SELECT polygon_id FROM sclzonal.polygon_verdict ORDER BY polygon_id LIMIT 3")]
    assert len(first) == 3
    code, out, err = run_cli(capsys, database_url, "verdicts", "--format", output_format,
                             "--limit", "3")
    assert code == 0, err
    if output_format == "csv":
        shown = [int(row["polygon_id"]) for row in csv.DictReader(io.StringIO(out))]
    elif output_format == "geojson":
        shown = [feature["id"] for feature in json.loads(out)["features"]]
    else:
        lines = out.splitlines()
        shown = [int(line.split()[0]) for line in lines[2:2 + 3]]
        assert lines[5] == f"... {len(FIELDS) - 3} more rows"
        assert lines[6].startswith(f"{len(FIELDS)} polygons: ")
    assert shown == first


def test_progress_as_lines_for_programs(capsys: pytest.CaptureFixture[str], database_url: str,
                                        loaded: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """SCLZONAL_PROGRESS=lines (the QGIS plugin's) turns the bars into lines a program can parse."""
    array = np.full((80, 80), 4, dtype=np.uint8)
    cli_ok(database_url, "scl", "load", str(write_raster(loaded / "SCL_2024-07-01.tif", array)))
    monkeypatch.setenv("SCLZONAL_PROGRESS", "lines")
    code, out, err = run_cli(capsys, database_url, "refresh")
    assert code == 0 and out.startswith(f"counted {len(FIELDS)} new"), err
    lines = err.splitlines()
    assert lines[0] == "sclzonal: progress: counting: 0 pairs"  # before the total is known
    assert lines[-1] == f"sclzonal: progress: counting: {len(FIELDS)}/{len(FIELDS)} pairs"
    assert all(re.fullmatch(rf"sclzonal: progress: counting: \d+(/{len(FIELDS)})? pairs", line)
               for line in lines), lines
    code, _, err = run_cli(capsys, database_url, "-q", "refresh")
    assert code == 0 and err == ""
