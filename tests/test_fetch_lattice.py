"""The request lattice of `scl fetch`: fixed cells, no acquisition fetched twice for a cell, and
databases fetched with the bounding-box plan of earlier releases left as they are.

Cells are checked against `lattice_cells`/`cell_box` (tests/sentinelhub_fixtures.py), which
compute them from the lattice's definition with pyproj, not with sclzonal's code.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from shapely.geometry import Polygon, box

from sclzonal.ingest.scl_raster import inspect_scl_file, load_scene
from tests.helpers import cli_ok, run_cli, write_polygons
from tests.sentinelhub_fake import FakeSentinelHub
from tests.sentinelhub_fixtures import (  # noqa: F401 - fixtures
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
    reference_bbox,
    scene_rows,
)

INSIDE = [box(14.5020, 46.0500, 14.5030, 46.0508),    # between fields 0 and 1
          box(14.9040, 46.0490, 14.9050, 46.0498)]    # south of field 4
NEW_CELL = [box(14.7000, 46.3000, 14.7030, 46.3020)]  # 27 km north-east of any field


def _add_fields(database_url: str, folder: Path, fields: list[Polygon]) -> None:
    """Load FIELDS plus `fields` under the same source: the first six stay as they are."""
    path = write_polygons(folder / "more.geojson", FIELDS + fields, "EPSG:4326", driver="GeoJSON")
    cli_ok(database_url, "polygons", "load", str(path), "--source", "fields")


def _process_boxes(fake: FakeSentinelHub) -> Counter[tuple[float, ...]]:
    return Counter(tuple(body_of(r)["input"]["bounds"]["bbox"]) for r in fake.of_kind("process"))


def test_polygons_added_inside_cells_send_no_request_and_keep_one_scene_per_cell_and_date(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, tmp_path: Path) -> None:
    assert set(lattice_cells(INSIDE)) <= set(lattice_cells(FIELDS))  # by the definition
    assert run_cli(capsys, database_url, *fetch_args(fake))[0] == 0
    before = scene_rows(clean)
    _add_fields(database_url, tmp_path, INSIDE)
    assert clean.execute("SELECT count(*) FROM sclzonal.polygon").fetchone() == (8,)
    fake.reset()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    assert fake.of_kind("process") == []
    assert f"0 scenes loaded with 0 requests, {SCENES} already loaded" in out
    assert scene_rows(clean) == before
    per_cell_and_date = Counter((day, tuple(reference_bbox(ref))) for _, day, _, _, ref in before)
    assert set(per_cell_and_date.values()) == {1}
    # every scene of a cell is on the cell's grid: one grid per cell, pixel maps made once per cell
    grids = clean.execute("SELECT count(DISTINCT grid_id) FROM sclzonal.scene").fetchone()
    assert grids == (len(lattice_cells(FIELDS)),)
    cli_ok(database_url, "refresh")
    maps = clean.execute("SELECT count(*), count(DISTINCT grid_id) FROM sclzonal.pixel_map").fetchone()
    assert maps is not None and maps[1] == len(lattice_cells(FIELDS)) and maps[0] <= 8 * maps[1]


def test_polygons_in_a_new_cell_add_only_that_cell(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, tmp_path: Path) -> None:
    assert run_cli(capsys, database_url, *fetch_args(fake))[0] == 0
    before = scene_rows(clean)
    _add_fields(database_url, tmp_path, NEW_CELL)
    ((key, _),) = lattice_cells(NEW_CELL).items()
    assert key not in lattice_cells(FIELDS)
    fake.reset()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    dates = ZONE_DATES[key[0]]
    assert _process_boxes(fake) == {tuple(cell_box(key)): len(dates)}
    assert sorted(body_of(r)["input"]["data"][0]["dataFilter"]["timeRange"]["from"][:10]
                  for r in fake.of_kind("process")) == [day.isoformat() for day in dates]
    assert f"{len(dates)} scenes loaded with {len(dates)} requests, {SCENES} already loaded" in out
    assert scene_rows(clean)[:len(before)] == before


def _old_plan_scene(fake: FakeSentinelHub, conn: psycopg.Connection, folder: Path, day: dt.date,
                    epsg: int, bbox: list[float]) -> None:
    """Store a scene as the bounding-box plan of earlier releases stored it: the fake's answer
    for the box, source processing-api, the old reference (with the box)."""
    body = {"input": {"bounds": {"bbox": bbox, "properties": {
                "crs": f"http://www.opengis.net/def/crs/EPSG/0/{epsg}"}},
            "data": [{"dataFilter": {"timeRange": {"from": f"{day.isoformat()}T00:00:00Z"}}}]},
            "output": {"resx": 20.0, "resy": 20.0}}
    status, content = fake.render(body)
    assert status == 200
    path = folder / f"old_{day.isoformat()}_{epsg}_{bbox[0]:.0f}.tif"
    path.write_bytes(content)
    reference = (f"{fake.base_url}/api/v1/process sentinel-2-l2a SCL {day.isoformat()} "
                 f"EPSG:{epsg} 20m bbox={','.join(str(int(v)) for v in bbox)}")
    scl = replace(inspect_scl_file(path, day), reference=reference)
    load_scene(conn, scl, source="processing-api")


def _snapped_box(fields: list[Polygon], epsg: int) -> list[float]:
    """The old plan's box: the fields' UTM bounds snapped outward to 20 m."""
    from pyproj import Transformer

    to_utm = Transformer.from_crs(4326, epsg, always_xy=True)
    xs, ys = [], []
    for field in fields:
        x, y = to_utm.transform(*zip(*field.exterior.coords, strict=True))
        xs += list(x)
        ys += list(y)
    return [math.floor(min(xs) / 20) * 20.0, math.floor(min(ys) / 20) * 20.0,
            math.ceil(max(xs) / 20) * 20.0, math.ceil(max(ys) / 20) * 20.0]


def test_scenes_of_the_bounding_box_plan_are_not_fetched_again(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, tmp_path: Path) -> None:
    groups = {32633: [FIELDS[0:3], FIELDS[3:5]], 32634: [FIELDS[5:6]]}  # the old clusters
    for epsg, clusters in groups.items():
        for day in ZONE_DATES[epsg]:
            for cluster in clusters:
                _old_plan_scene(fake, clean, tmp_path, day, epsg, _snapped_box(cluster, epsg))
    old = scene_rows(clean)
    assert len(old) == 2 * 3 + 1 * 2
    fake.reset()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    assert fake.of_kind("process") == [] and scene_rows(clean) == old
    assert f"0 scenes loaded with 0 requests, {SCENES} already loaded" in out
    # a field outside the old box of its cluster, inside a cell that already held fields:
    # that cell is fetched for its dates (on the lattice), the rest stays as it was
    outside = [box(14.4950, 46.0470, 14.4970, 46.0480)]
    ((key, _),) = lattice_cells(outside).items()
    assert key in lattice_cells(FIELDS)
    _add_fields(database_url, tmp_path, outside)
    fake.reset()
    code, out, err = run_cli(capsys, database_url, *fetch_args(fake))
    assert code == 0, err
    assert _process_boxes(fake) == {tuple(cell_box(key)): len(ZONE_DATES[key[0]])}
    assert scene_rows(clean)[:len(old)] == old
