"""Fixtures and helpers shared by the Sentinel Hub tests.

A test module imports the fixtures it needs by their function names (`fake_fixture`,
`clean_fixture`, `credentials_fixture`: the autouse one must be imported to apply); tests ask
for them as `fake`, `clean`.

Fields: two groups in UTM zone 33 about 30 km apart and one in zone 34. Acquisitions: 2024-06-05
(two catalog items, all groups), 2024-06-10 (80 % cloud), 2024-06-15 (zone 33 only), 2024-06-20
(all), 2024-07-02 (after the period the tests ask for).
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
import shapely
from pyproj import Transformer
from shapely.geometry import Polygon, box

from tests.helpers import cli_ok, empty_database, hold_job_lock, pixel_centre_counts, write_polygons
from tests.sentinelhub_fake import Acquisition, FakeSentinelHub, Recorded

WIDE = (13.5, 45.5, 19.0, 46.6)
WEST = (13.5, 45.5, 16.0, 46.6)
ACQUISITIONS = [
    Acquisition("2024-06-05T10:00:31Z", 10.0, WIDE, "A"),
    Acquisition("2024-06-05T10:00:45Z", 40.0, WIDE, "B"),
    Acquisition("2024-06-10T10:00:31Z", 80.0, WIDE, "C"),
    Acquisition("2024-06-15T10:00:31Z", 5.0, WEST, "D"),
    Acquisition("2024-06-20T10:00:31Z", 20.0, WIDE, "E"),
    Acquisition("2024-07-02T10:00:31Z", 0.0, WIDE, "F"),
]
FIELDS: list[Polygon] = [
    box(14.500, 46.050, 14.504, 46.053),
    box(14.506, 46.051, 14.509, 46.054),
    Polygon([(14.501, 46.055), (14.505, 46.055), (14.503, 46.0575)]),
    box(14.900, 46.050, 14.903, 46.052),
    box(14.9035, 46.0505, 14.906, 46.0525),
    box(18.300, 46.100, 18.304, 46.103),
]
CORE_M, MARGIN_M = 500 * 20.0, 25 * 20.0
"""The default lattice at 20 m: cores of 500 px, margins of 25 px."""


def lattice_cells(fields: list[Polygon], core_m: float = CORE_M,
                  margin_m: float = MARGIN_M) -> dict[tuple[int, int, int], list[int]]:
    """(EPSG, column, row) of the level-0 cell of each field -> field indexes, computed here
    from the lattice's definition: the UTM zone of the field's lon/lat box centre, the cell
    whose core holds the centre of the field's UTM box (fields must be at most 2 margins wide)."""
    cells: dict[tuple[int, int, int], list[int]] = {}
    for index, field in enumerate(fields):
        west, south, east, north = field.bounds
        epsg = 32600 + int((west + east) / 2 + 180) // 6 + 1
        xs, ys = Transformer.from_crs(4326, epsg, always_xy=True).transform(
            *np.array(field.exterior.coords).T)
        assert max(xs.max() - xs.min(), ys.max() - ys.min()) <= 2 * margin_m
        key = (epsg, int((xs.min() + xs.max()) / 2 // core_m), int((ys.min() + ys.max()) / 2 // core_m))
        cells.setdefault(key, []).append(index)
    return cells


def cell_box(key: tuple[int, int, int], core_m: float = CORE_M,
             margin_m: float = MARGIN_M) -> list[float]:
    """The requested box of a level-0 cell, by the lattice's definition."""
    _, col, row = key
    return [col * core_m - margin_m, row * core_m - margin_m, (col + 1) * core_m + margin_m,
            (row + 1) * core_m + margin_m]


ZONE_DATES = {32633: [dt.date(2024, 6, 5), dt.date(2024, 6, 15), dt.date(2024, 6, 20)],
              32634: [dt.date(2024, 6, 5), dt.date(2024, 6, 20)]}
"""The dates with --max-cloud 50 over June whose items reach each zone's fields."""
EXPECTED = Counter((day, epsg) for epsg, *_ in lattice_cells(FIELDS) for day in ZONE_DATES[epsg])
"""(date, EPSG) -> number of cells holding fields."""
SCENES = sum(EXPECTED.values())
"""(date, cell) scenes of a June fetch."""
SECRET = "fake-secret-do-not-print-8f3a"


def fetch_args(fake: FakeSentinelHub, *extra: str, start: str = "2024-06-01",
               end: str = "2024-06-30") -> list[str]:
    """`scl fetch` against the fake, with short timeouts and waits, no rate limit (the fake has
    none), 4 threads (the default)."""
    return ["scl", "fetch", "--endpoint", fake.base_url, "--start", start, "--end", end,
            "--max-cloud", "50", "--timeout-seconds", "2", "--max-wait-seconds", "3",
            "--retry-sleep-seconds", "0.05", "--requests-per-minute", "0", *extra]


@pytest.fixture(scope="module", name="fake")
def fake_fixture() -> Iterator[FakeSentinelHub]:
    """The fake service for the module (its state is reset by `clean`)."""
    with FakeSentinelHub(ACQUISITIONS, client_secret=SECRET) as service:
        yield service


@pytest.fixture(autouse=True, name="credentials")
def credentials_fixture(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The fake's credentials in the environment; no sentinelhub profile file of the user."""
    monkeypatch.setenv("SH_CLIENT_ID", "fake-client")
    monkeypatch.setenv("SH_CLIENT_SECRET", SECRET)
    monkeypatch.delenv("SH_PROFILE", raising=False)
    monkeypatch.delenv("SCLZONAL_ENDPOINT", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


def load_fields(database_url: str, folder: Path, fields: list[Polygon]) -> None:
    """Replace every polygon and scene with these fields (EPSG:4326)."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        empty_database(conn)
    path = write_polygons(folder / "fields.geojson", fields, "EPSG:4326", driver="GeoJSON")
    cli_ok(database_url, "polygons", "load", str(path), "--source", "fields")


@pytest.fixture(name="clean")
def clean_fixture(database_url: str, conn: psycopg.Connection, fake: FakeSentinelHub,
          tmp_path: Path) -> psycopg.Connection:
    """No scenes, the standard fields, and a fake with no faults and no recorded requests."""
    load_fields(database_url, tmp_path, FIELDS)
    fake.reset()
    return conn


def scene_rows(conn: psycopg.Connection) -> list[tuple[int, dt.date, int, str, str]]:
    """(id, acquired_on, srid, source, reference) of every scene."""
    return [tuple(row) for row in conn.execute(  # type: ignore[misc]
        "SELECT id, acquired_on, srid, source, reference FROM sclzonal.scene ORDER BY id")]


def served(fake: FakeSentinelHub, folder: Path) -> list[tuple[dt.date, int, list[float], Path]]:
    """The GeoTIFFs the fake served: (date, EPSG, bbox, file)."""
    found = []
    for index, record in enumerate(r for r in fake.of_kind("process") if r.status == 200):
        body = record.body
        day = dt.date.fromisoformat(body["input"]["data"][0]["dataFilter"]["timeRange"]["from"][:10])
        epsg = int(body["input"]["bounds"]["properties"]["crs"].rsplit("/", 1)[-1])
        path = folder / f"served_{index}.tif"
        path.write_bytes(record.response)
        found.append((day, epsg, body["input"]["bounds"]["bbox"], path))
    return found


def view_counts(conn: psycopg.Connection, polygon_id: int, scene_id: int) -> Counter[int]:
    """Class counts of one pair from the live view (ST_Clip + ST_ValueCount)."""
    rows = conn.execute(
        "SELECT class, pixels FROM sclzonal.zonal_class_counts WHERE polygon_id = %s AND scene_id = %s",
        (polygon_id, scene_id)).fetchall()
    return Counter({int(k): int(v) for k, v in rows if v})


def polygons(conn: psycopg.Connection) -> list[tuple[int, object]]:
    """(id, shapely geometry in EPSG:4326) of every polygon."""
    return [(int(pid), shapely.from_wkb(bytes(wkb))) for pid, wkb in conn.execute(
        "SELECT id, ST_AsBinary(geom) FROM sclzonal.polygon ORDER BY id")]


def served_counts(files: list[Path], geometry: object) -> Counter[int]:
    """Independent pixel-centre counts of a polygon over served GeoTIFFs (summed)."""
    total: Counter[int] = Counter()
    for path in files:
        total.update(pixel_centre_counts(path, geometry))
    return total


def reference_bbox(reference: str) -> list[float]:
    """The bbox written in a scene reference."""
    match = re.search(r"bbox=([-\d.,]+)", reference)
    assert match, reference
    return [float(v) for v in match.group(1).split(",")]


def body_of(record: Recorded) -> dict:
    """A recorded JSON body."""
    assert isinstance(record.body, dict)
    return record.body


def hold_ingest_lock(database_url: str) -> psycopg.Connection:
    """Open a connection holding the ingestion lock (close it to release)."""
    return hold_job_lock(database_url, "ingest")
