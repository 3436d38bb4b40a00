"""`sclzonal check statistical`: stored counts against the Statistical API of the fake service.

The fake answers Statistical API requests (shapes from the API's public reference) from the same
known SCL array it serves GeoTIFFs from, counting the pixels whose centres lie in the geometry
(shapely over the request's sample matrix): an independent count of what sclzonal stored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import psycopg
import pytest
from affine import Affine

from tests.helpers import cli_ok, run_cli, write_raster
from tests.sentinelhub_fake import FakeSentinelHub
from tests.sentinelhub_fixtures import (  # noqa: F401 - fixtures
    FIELDS,
    ZONE_DATES,
    body_of,
    clean_fixture,
    credentials_fixture,
    fake_fixture,
    fetch_args,
    lattice_cells,
)

OBSERVATIONS = sum(len(members) * len(ZONE_DATES[key[0]]) for key, members in lattice_cells(FIELDS).items())
"""Every field on every date whose items reached its zone in June."""


def _check(capsys: pytest.CaptureFixture[str], database_url: str, fake: FakeSentinelHub,
           *extra: str, sample: int = 6) -> tuple[list[str], str]:
    code, out, err = run_cli(capsys, database_url, "check", "statistical", "--endpoint", fake.base_url,
                             "--requests-per-minute", "0", "--sample", str(sample), *extra)
    assert code == 0, err
    lines = out.strip().splitlines()
    return lines[:-1], lines[-1]


@pytest.fixture(name="fetched")
def fetched_fixture(capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
                    fake: FakeSentinelHub) -> psycopg.Connection:
    """June fetched and counted."""
    assert run_cli(capsys, database_url, *fetch_args(fake))[0] == 0
    cli_ok(database_url, "refresh")
    fake.reset()
    return clean


def test_stored_counts_equal_the_statistical_api_where_the_rules_match(
        capsys: pytest.CaptureFixture[str], database_url: str, fetched: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    lines, summary = _check(capsys, database_url, fake)
    assert len(lines) == OBSERVATIONS
    assert all(re.fullmatch(r"polygon \d+ \(\d+\) 2024-06-\d\d scene \d+: equal: \d+ pixels", line)
               for line in lines), lines
    assert summary == (f"{OBSERVATIONS} observations of 6 polygons: {OBSERVATIONS} equal, 0 different "
                       "(0 by the edge rule), 0 not comparable")
    requests = [body_of(r) for r in fake.of_kind("statistics")]
    assert len(requests) >= 6  # one per polygon and grid
    for body in requests:
        assert body["input"]["bounds"]["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert all(value % 20 == 0 for value in body["input"]["bounds"]["bbox"])
        assert (body["aggregation"]["resx"], body["aggregation"]["resy"]) == (20, 20)
        assert body["aggregation"]["aggregationInterval"] == {"of": "P1D"}
        assert "dataMask: [1]" in body["aggregation"]["evalscript"]
        assert body["input"]["data"][0]["processing"] == {"upsampling": "NEAREST",
                                                          "downsampling": "NEAREST"}
    again, _ = _check(capsys, database_url, fake)
    assert again == lines  # the same seed, the same polygons


def test_the_edge_rule_and_other_differences_are_told_apart(
        capsys: pytest.CaptureFixture[str], database_url: str, fetched: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    fake.statistical_rule = "touched"
    try:
        lines, summary = _check(capsys, database_url, fake)
    finally:
        fake.statistical_rule = "centre"
    assert len(lines) == OBSERVATIONS
    pattern = (r"polygon \d+ \(\d+\) 2024-06-\d\d scene \d+: different: by (\d+) pixels \(API (\d+), "
               r"sclzonal (\d+)\); the edge rule: the API also counts pixels the outline crosses "
               r"whose centres lie outside")
    for line in lines:
        match = re.fullmatch(pattern, line)
        assert match, line
        by, api, stored = map(int, match.groups())
        assert by == api - stored > 0
    assert f"{OBSERVATIONS} different ({OBSERVATIONS} by the edge rule)" in summary
    # a stored count changed by hand is a difference, and not the edge rule
    fetched.execute("UPDATE sclzonal.counted_pair SET class_4 = class_4 + 3"
                    " WHERE (polygon_id, scene_id) = (SELECT polygon_id, scene_id"
                    " FROM sclzonal.polygon_observation ORDER BY polygon_id, scene_id LIMIT 1)")
    lines, summary = _check(capsys, database_url, fake)
    (odd,) = [line for line in lines if "different" in line]
    assert odd.endswith("; not the edge rule") and ": different: by 3 pixels" in odd
    assert f"{OBSERVATIONS - 1} equal, 1 different (0 by the edge rule)" in summary


def test_what_cannot_be_compared_says_why(
        capsys: pytest.CaptureFixture[str], database_url: str, fetched: psycopg.Connection,
        fake: FakeSentinelHub, tmp_path: Path) -> None:
    # the API loses 2024-06-20; a GeoTIFF of 2024-06-25 covers the zone 34 field
    kept = fake.acquisitions
    fake.acquisitions = [a for a in kept if a.day.isoformat() != "2024-06-20"]
    path = write_raster(tmp_path / "SCL_2024-06-25.tif", np.full((60, 60), 4, dtype=np.uint8),
                        crs="EPSG:32634", transform=Affine(20.0, 0, 290800.0, 0, -20.0, 5109600.0))
    cli_ok(database_url, "scl", "load", str(path))
    cli_ok(database_url, "refresh")
    try:
        lines, summary = _check(capsys, database_url, fake)
    finally:
        fake.acquisitions = kept
    lost = [line for line in lines if " 2024-06-20 " in line]
    assert lost and all(line.endswith(": not comparable: the API has no data for this day")
                        for line in lost)
    (from_file,) = [line for line in lines if " 2024-06-25 " in line]
    assert from_file.endswith(": not comparable: mosaicking: the scene is one product loaded from a "
                              "geotiff file; the API mosaics every product of the day (mostRecent)")
    assert f"{len(lost) + 1} not comparable" in summary


def test_bad_periods_are_one_line(capsys: pytest.CaptureFixture[str], database_url: str,
                                  clean: psycopg.Connection, fake: FakeSentinelHub) -> None:
    code, _, err = run_cli(capsys, database_url, "check", "statistical", "--endpoint", fake.base_url,
                           "--sample", "3", "--start", "2024-06-30", "--end", "2024-06-01")
    assert code == 1 and err.strip().splitlines()[-1] == (
        "sclzonal: error: the period is empty: start 2024-06-30 is after end 2024-06-01")
    code, _, err = run_cli(capsys, database_url, "check", "statistical", "--endpoint", fake.base_url,
                           "--sample", "3")
    assert code == 1 and err.strip().splitlines()[-1].startswith(
        "sclzonal: error: no stored observations between ")
    assert fake.of_kind("statistics") == []



def test_on_the_real_slovenian_rasters_the_counts_agree_exactly(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, slovenia: Path) -> None:
    """The fake serves the six real 10 m rasters; sclzonal fetches them on its lattice at 10 m,
    counts, and the Statistical API (centre rule) agrees on every observation of 20 polygons."""
    clean.execute("TRUNCATE sclzonal.polygon CASCADE")
    cli_ok(database_url, "polygons", "load", str(slovenia / "LULC.gpkg"), "--source", "lulc")
    kept = fake.acquisitions
    fake.serve_rasters(sorted(slovenia.glob("SCL_*.tif")))
    try:
        code, _, err = run_cli(capsys, database_url, *fetch_args(
            fake, "--resolution", "10", "--timeout-seconds", "60", start="2017-01-01",
            end="2017-12-31"))
        assert code == 0, err
        cli_ok(database_url, "refresh")
        lines, summary = _check(capsys, database_url, fake, sample=20)
        fake.statistical_rule = "touched"
        touched, touched_summary = _check(capsys, database_url, fake, sample=20)
    finally:
        fake.acquisitions, fake.rasters, fake.statistical_rule = kept, {}, "centre"
    assert len(lines) >= 20 * 5 and all(": equal: " in line for line in lines), \
        [line for line in lines if ": equal: " not in line]
    assert re.fullmatch(rf"{len(lines)} observations of 20 polygons: {len(lines)} equal, 0 different "
                        r"\(0 by the edge rule\), 0 not comparable", summary)
    # counting touched pixels, the API differs by the edge rule wherever it differs
    assert len(touched) == len(lines)
    assert all(": equal: " in line or line.endswith("whose centres lie outside") for line in touched)
    found = re.search(r"(\d+) different \((\d+) by the edge rule\)", touched_summary)
    assert found and int(found.group(1)) == int(found.group(2)) > len(touched) // 2, touched_summary
