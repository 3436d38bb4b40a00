"""`sclzonal scl fetch` against a fake Sentinel Hub driven by the real sentinelhub-py client.

What is loaded (one scene per date and lattice cell, counts equal to an independent count over the
GeoTIFFs served), what is asked for (UINT8 SCL, NEAREST, UTM, resolution, paged catalog),
idempotent re-runs, splitting of big areas and `--since-last`.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from shapely.geometry import box

from tests.helpers import run_cli, table_counts
from tests.sentinelhub_fake import FakeSentinelHub
from tests.sentinelhub_fixtures import (  # noqa: F401 - fixtures
    EXPECTED,
    FIELDS,
    SCENES,
    ZONE_DATES,
    body_of,
    cell_box,
    clean_fixture,
    credentials_fixture,
    fake_fixture,
    fetch_args,
    lattice_cells,
    load_fields,
    polygons,
    reference_bbox,
    scene_rows,
    served,
    served_counts,
    view_counts,
)


def test_one_scene_per_date_and_cell_with_the_served_pixels(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    rows = scene_rows(clean)
    found = Counter((day, srid) for _, day, srid, _, _ in rows)
    assert found == Counter(EXPECTED)
    assert {source for *_, source, _ in rows} == {"processing-api"}
    assert len({reference for *_, reference in rows}) == len(rows)
    assert all(reference.startswith(fake.base_url) for *_, reference in rows)
    assert f"{SCENES} scenes loaded with {SCENES} requests, 0 already loaded" in out
    boxes = {tuple(cell_box(key)) for key in lattice_cells(FIELDS)}
    assert {tuple(reference_bbox(reference)) for *_, reference in rows} == boxes
    sizes = clean.execute("SELECT DISTINCT pixel_size_x, pixel_size_y FROM sclzonal.scene").fetchall()
    assert sizes == [(20.0, -20.0)]
    files = served(fake, tmp_path)
    assert len(files) == len(rows)
    with_pixels = set()
    for scene_id, day, srid, _, reference in rows:
        tiffs = [path for d, epsg, bbox, path in files
                 if d == day and epsg == srid and bbox == reference_bbox(reference)]
        assert len(tiffs) == 1
        for polygon_id, geometry in polygons(clean):
            expected = served_counts(tiffs, geometry)
            assert view_counts(clean, polygon_id, scene_id) == expected
            if expected:
                with_pixels.add((polygon_id, day, tuple(reference_bbox(reference))))
    ids = [polygon_id for polygon_id, _ in polygons(clean)]
    # every field has pixels in its own cell's scene on every date that covered its zone
    # (and may have them in a neighbouring cell's too, whose margin reaches it)
    own = {(ids[index], day, tuple(cell_box(key))) for key, members in lattice_cells(FIELDS).items()
           for index in members for day in ZONE_DATES[key[0]]}
    assert len(own) == 5 * 3 + 1 * 2 and own <= with_pixels


def test_requests_ask_for_uint8_scl_nearest_in_utm(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    assert run_cli(capsys, database_url, *fetch_args(fake))[0] == 0
    process = fake.of_kind("process")
    assert len(process) == SCENES
    boxes = [cell_box(key) for key in lattice_cells(FIELDS)]
    for record in process:
        body = body_of(record)
        script = body["evalscript"]
        assert script.startswith("//VERSION=3")
        assert re.search(r'input:\s*\[\{\s*bands:\s*\["SCL"\]', script)
        assert re.search(r'output:\s*\{\s*bands:\s*1,\s*sampleType:\s*"UINT8"', script)
        assert "return [sample.SCL]" in script
        (data,) = body["input"]["data"]
        assert data["type"] == "sentinel-2-l2a"
        assert data["processing"] == {"upsampling": "NEAREST", "downsampling": "NEAREST"}
        assert data["dataFilter"]["mosaickingOrder"] == "mostRecent"
        start, end = data["dataFilter"]["timeRange"]["from"], data["dataFilter"]["timeRange"]["to"]
        assert start[:10] == end[:10] and start.endswith("T00:00:00Z") and end.endswith("T23:59:59Z")
        crs = body["input"]["bounds"]["properties"]["crs"]
        assert re.fullmatch(r"http://www\.opengis\.net/def/crs/EPSG/0/3263[34]", crs)
        assert (body["output"]["resx"], body["output"]["resy"]) == (20, 20)
        assert body["output"]["responses"] == [{"identifier": "default",
                                                "format": {"type": "image/tiff"}}]
        left, bottom, right, top = body["input"]["bounds"]["bbox"]
        assert all(value % 20 == 0 for value in (left, bottom, right, top))
        # every request is a cell of the lattice: the land between far-apart groups is not fetched
        assert [left, bottom, right, top] in boxes
        assert record.headers["Authorization"].startswith("Bearer ")
    zones = Counter(body_of(r)["input"]["bounds"]["properties"]["crs"][-5:] for r in process)
    assert zones == {str(epsg): sum(n for (_, e), n in EXPECTED.items() if e == epsg)
                     for epsg in (32633, 32634)}
    (token,) = fake.of_kind("token")
    assert token.body["grant_type"] == "client_credentials"


def test_catalog_is_paged_and_filtered(capsys: pytest.CaptureFixture[str], database_url: str,
                                       clean: psycopg.Connection, fake: FakeSentinelHub) -> None:
    assert run_cli(capsys, database_url, *fetch_args(fake))[0] == 0
    catalog = [body_of(r) for r in fake.of_kind("catalog")]
    # 3 groups of touching cells (two cells of the first group touch); zone 33 groups see 4
    # items (2 a page), zone 34 sees 3
    firsts = [body for body in catalog if "next" not in body]
    pages = [body for body in catalog if "next" in body]
    assert len(firsts) == 3 and len(pages) >= 3
    for body in catalog:
        assert body["collections"] == ["sentinel-2-l2a"]
        assert body["datetime"] == "2024-06-01T00:00:00Z/2024-06-30T23:59:59Z"
        assert body["filter"] == "eo:cloud_cover <= 50"
        assert body["filter-lang"] == "cql2-text"
        west, south, east, north = body["bbox"]
        assert 14 < west < east < 19 and 45.9 < south < north < 46.3
    assert sorted(page["next"] for page in pages) == [2, 2, 2]


def test_a_second_run_requests_nothing_and_changes_nothing(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    assert run_cli(capsys, database_url, *fetch_args(fake))[0] == 0
    before = (table_counts(clean), clean.execute(
        "SELECT id, loaded_at, checksum FROM sclzonal.scene ORDER BY id").fetchall())
    fake.reset()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    assert f"0 scenes loaded with 0 requests, {SCENES} already loaded" in out
    assert fake.of_kind("process") == []
    after = (table_counts(clean), clean.execute(
        "SELECT id, loaded_at, checksum FROM sclzonal.scene ORDER BY id").fetchall())
    assert before == after


def test_a_big_area_is_split_into_requests_and_merged_into_one_scene(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, tmp_path: Path) -> None:
    # about 3.1 km x 2.2 km: 156 x 112 px at 20 m; at most 64 px a request -> 3 x 2 requests
    fields = [box(14.50, 46.05, 14.52, 46.06), box(14.525, 46.061, 14.54, 46.07)]
    load_fields(database_url, tmp_path, fields)
    code, _, err = run_cli(capsys, database_url, *fetch_args(
        fake, "--max-request-pixels", "64", end="2024-06-05"))
    assert code == 0, err
    rows = clean.execute("SELECT id, width, height FROM sclzonal.scene").fetchall()
    assert len(rows) == 1
    scene_id, width, height = rows[0]
    process = [body_of(r) for r in fake.of_kind("process")]
    sizes = [(round((b["input"]["bounds"]["bbox"][2] - b["input"]["bounds"]["bbox"][0]) / 20),
              round((b["input"]["bounds"]["bbox"][3] - b["input"]["bounds"]["bbox"][1]) / 20))
             for b in process]
    assert all(w <= 64 and h <= 64 for w, h in sizes)
    assert len(process) == -(-width // 64) * -(-height // 64) > 1
    assert sum(w * h for w, h in sizes) == width * height
    tiffs = [path for *_, path in served(fake, tmp_path)]
    for polygon_id, geometry in polygons(clean):
        expected = served_counts(tiffs, geometry)
        assert expected and view_counts(clean, polygon_id, scene_id) == expected


def test_since_last_starts_at_the_last_date_fetched(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    code, _, err = run_cli(capsys, database_url, *fetch_args(fake, end="2024-06-15"))
    assert code == 0, err
    before = sum(n for (day, _), n in EXPECTED.items() if day <= dt.date(2024, 6, 15))
    again = sum(n for (day, _), n in EXPECTED.items() if day == dt.date(2024, 6, 15))
    assert len(scene_rows(clean)) == before
    fake.reset()
    args = [a for a in fetch_args(fake) if a not in ("--start", "2024-06-01")]
    code, out, err = run_cli(capsys, database_url, *args, "--since-last")
    assert code == 0, err
    assert {body_of(r)["datetime"][:10] for r in fake.of_kind("catalog")} == {"2024-06-15"}
    new = SCENES - before
    assert f"{new} scenes loaded with {new} requests, {again} already loaded" in out
    assert len(scene_rows(clean)) == SCENES


def test_since_last_without_a_start_on_an_empty_database(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    code, _, err = run_cli(capsys, database_url, "scl", "fetch", "--endpoint", fake.base_url,
                           "--since-last")
    assert code == 1
    assert err.strip() == ("sclzonal: error: give --start YYYY-MM-DD "
                           "(nothing was fetched from this endpoint yet)")


def test_no_polygons_is_one_line(capsys: pytest.CaptureFixture[str], database_url: str,
                                 clean: psycopg.Connection, fake: FakeSentinelHub) -> None:
    clean.execute("TRUNCATE sclzonal.polygon CASCADE")
    code, _, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 1
    assert err.strip().splitlines()[-1] == (
        "sclzonal: error: no polygons loaded: run `sclzonal polygons load` first")


@pytest.mark.skipif(not (os.environ.get("SCLZONAL_LIVE_SENTINELHUB") and os.environ.get("SH_CLIENT_ID")
                         and os.environ.get("SH_CLIENT_SECRET")),
                    reason="live service: set SCLZONAL_LIVE_SENTINELHUB=cdse (or sentinelhub) "
                           "and SH_CLIENT_ID/SH_CLIENT_SECRET")
def test_live_service(capsys: pytest.CaptureFixture[str], database_url: str,
                      tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # `credentials` (autouse) replaced the real ones: put them back from the original environment
    for name in ("SH_CLIENT_ID", "SH_CLIENT_SECRET"):
        monkeypatch.setenv(name, _ORIGINAL[name])
    load_fields(database_url, tmp_path, [box(14.500, 46.050, 14.504, 46.053)])
    code, out, err = run_cli(capsys, database_url, "scl", "fetch", "--endpoint",
                             _ORIGINAL["SCLZONAL_LIVE_SENTINELHUB"], "--start", "2024-06-01",
                             "--end", "2024-06-10")
    assert code == 0, err
    assert "scenes loaded" in out
    with psycopg.connect(database_url) as conn:
        dates = [d for (d,) in conn.execute("SELECT acquired_on FROM sclzonal.scene")]
    assert dates and all(dt.date(2024, 6, 1) <= d <= dt.date(2024, 6, 10) for d in dates)


_ORIGINAL = {name: os.environ.get(name, "") for name in
             ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SCLZONAL_LIVE_SENTINELHUB")}
