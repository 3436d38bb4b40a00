"""`scl fetch --dry-run` and the cost a fetch reports; parallel requests within the rate limit.

The dry run sends no Processing request and its figures are those the real run then reports;
both are checked against the requests the fake recorded, costed here by Sentinel Hub's published
formula. A parallel fetch stores exactly what a serial one does, and keeps to the rate.
"""

from __future__ import annotations

import json

import psycopg
import pytest

from sclzonal.ingest.sentinelhub.cost import processing_units, quota_line
from tests.helpers import empty_database, run_cli
from tests.sentinelhub_fake import FakeSentinelHub
from tests.sentinelhub_fixtures import (  # noqa: F401 - fixtures
    FIELDS,
    SCENES,
    body_of,
    clean_fixture,
    credentials_fixture,
    fake_fixture,
    fetch_args,
    lattice_cells,
)


def _recorded_cost(fake: FakeSentinelHub) -> tuple[int, int, float]:
    """(requests, pixels, PU) of the Processing requests the fake answered with success, costed
    by the formula of docs.sentinel-hub.com/api/latest/api/overview/processing-unit/: one input
    band, UINT8, one sample: max(max(w h / 512^2, 0.01) * 1/3, 0.005)."""
    sizes = []
    for record in fake.of_kind("process"):
        if record.status == 200:
            left, bottom, right, top = body_of(record)["input"]["bounds"]["bbox"]
            output = body_of(record)["output"]
            sizes.append((round((right - left) / output["resx"]), round((top - bottom) / output["resy"])))
    units = sum(max(max(w * h / 262144, 0.01) / 3, 0.005) for w, h in sizes)
    return len(sizes), sum(w * h for w, h in sizes), units


def _json(capsys: pytest.CaptureFixture[str], database_url: str, *args: str) -> dict:
    code, out, err = run_cli(capsys, database_url, *args, "--json")
    assert code == 0, err
    return json.loads(out)


def test_processing_units_by_the_published_formula() -> None:
    assert processing_units(512, 512) == pytest.approx(1 / 3)           # 1 band of 3
    assert processing_units(512, 512, input_bands=3) == pytest.approx(1.0)
    assert processing_units(512, 512, input_bands=3, float32=True) == pytest.approx(2.0)
    assert processing_units(2500, 2500) == pytest.approx(2500 * 2500 / 262144 / 3)
    assert processing_units(10, 10, input_bands=3) == pytest.approx(0.01)  # area factor >= 0.01
    assert processing_units(10, 10) == pytest.approx(0.005)                # request >= 0.005
    assert processing_units(550, 550) == pytest.approx(302500 / 262144 / 3)


def test_quota_of_the_free_cdse_tier() -> None:
    assert quota_line("cdse", 150, 57.5, 300) == (
        "quota (CDSE free tier, a month): 150 of 10,000 requests (1.50 %), 57.500 of 10,000 "
        "processing units (0.57 %); at 300 requests a minute at least 30 s")
    assert quota_line("sentinelhub", 900, 1.0, 300).startswith(
        "quota: not known for sentinelhub (see your plan on the dashboard); at 300 requests a "
        "minute at least 3 min")


def test_dry_run_sends_no_processing_request_and_the_real_run_does_what_it_said(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    plan = _json(capsys, database_url, *fetch_args(fake), "--dry-run")
    assert fake.of_kind("process") == [] and fake.of_kind("catalog")
    assert clean.execute("SELECT count(*) FROM sclzonal.scene").fetchone() == (0,)
    assert plan["dry_run"] is True and plan["scenes"] == []
    assert plan["catalog_requests"] == len(fake.of_kind("catalog"))
    assert {(p["cell"], p["to_request"]) for p in plan["plan"]} == {
        (f"{epsg}:0:{col}:{row}", 3 if epsg == 32633 else 2)
        for epsg, col, row in lattice_cells(FIELDS)}
    fake.reset()
    done = _json(capsys, database_url, *fetch_args(fake))
    figures = ("requests", "pixels", "processing_units", "catalog_requests", "cells", "dates",
               "already_loaded", "plan")
    assert {k: done[k] for k in figures} == {k: plan[k] for k in figures}
    requests, pixels, units = _recorded_cost(fake)
    assert (done["requests"], done["pixels"]) == (requests, pixels) == (SCENES, SCENES * 550 * 550)
    assert done["processing_units"] == pytest.approx(units, abs=1e-5)
    assert done["catalog_requests"] == len(fake.of_kind("catalog"))
    # after a partial run, the plan is what is left, and again what the run then does
    clean.execute("DELETE FROM sclzonal.scene WHERE acquired_on > '2024-06-05'")
    fake.reset()
    plan = _json(capsys, database_url, *fetch_args(fake), "--dry-run")
    assert fake.of_kind("process") == []
    fake.reset()
    done = _json(capsys, database_url, *fetch_args(fake))
    assert {k: done[k] for k in figures} == {k: plan[k] for k in figures}
    assert (done["requests"], done["pixels"]) == _recorded_cost(fake)[:2]
    assert 0 < done["requests"] < SCENES and done["already_loaded"] == SCENES - done["requests"]


def test_dry_run_prints_the_plan_per_cell_and_the_quota(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake, "--max-request-pixels", "300"),
                             "--dry-run")
    assert code == 0, err
    lines = out.strip().splitlines()
    cells = sorted(lattice_cells(FIELDS))
    assert len(lines) == len(cells) + 2
    epsg, col, row = cells[0]
    # 550 px split at 300: 2 x 2 windows of 275 x 275 px; 3 dates
    assert lines[0] == (f"cell {epsg}:0:{col}:{row} (EPSG:{epsg}, 550 x 550 px, 2 polygons): dates "
                        "2024-06-05, 2024-06-15, 2024-06-20; to request 3: 12 requests, 907,500 "
                        f"pixels, {12 * 275 * 275 / 262144 / 3:.3f} PU")
    assert lines[-2].startswith(f"processing-api (dry run): 3 dates over {len(cells)} cells: "
                                f"{SCENES} scenes to load with {4 * SCENES} requests, 0 already")
    assert lines[-1].startswith("quota: not known for processing-api")
    assert fake.of_kind("process") == []


def _stored(conn: psycopg.Connection) -> list[tuple]:
    return [tuple(row) for row in conn.execute(
        "SELECT s.acquired_on, s.reference, s.checksum, g.srid, g.upper_left_x, g.upper_left_y,"
        " g.width, g.height, (SELECT array_agg(md5(ST_AsBinary(t.rast)::text) ORDER BY t.id)"
        "  FROM sclzonal.scene_tile AS t WHERE t.scene_id = s.id)"
        " FROM sclzonal.scene AS s JOIN sclzonal.scene_grid AS g ON g.id = s.grid_id ORDER BY s.id")]


def test_parallel_fetch_stores_exactly_what_the_serial_one_stores(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    fake.latency = 0.1
    try:
        code, out, err = run_cli(capsys, database_url, *fetch_args(fake, "--threads", "1"))
        assert code == 0, err
        assert fake.most_in_flight == 1
        serial = _stored(clean)
        assert len(serial) == SCENES
        clean.execute("TRUNCATE sclzonal.scene, sclzonal.scene_grid CASCADE")
        fake.reset()
        code, out, err = run_cli(capsys, database_url, *fetch_args(fake, "--threads", "6"))
        assert code == 0, err
        assert fake.most_in_flight >= 3
        assert _stored(clean) == serial
    finally:
        fake.latency = 0.0
        empty_database(clean)


def test_requests_keep_to_the_rate(capsys: pytest.CaptureFixture[str], database_url: str,
                                   clean: psycopg.Connection, fake: FakeSentinelHub) -> None:
    args = [a for a in fetch_args(fake, "--threads", "4") if a not in ("--requests-per-minute", "0")]
    code, _, err = run_cli(capsys, database_url, *args, "--requests-per-minute", "400")
    assert code == 0, err
    starts = sorted(r.at for r in fake.requests if r.kind in ("catalog", "process"))
    assert len(starts) == SCENES + len(fake.of_kind("catalog"))
    # starts are 0.15 s apart across the 4 threads (arrivals jitter by a few ms): no bursts,
    # and the whole run no faster than the rate
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:], strict=False)]
    assert min(gaps) >= 0.075
    assert starts[-1] - starts[0] >= (len(starts) - 1) * 0.15 - 0.1
