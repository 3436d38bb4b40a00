"""`--json`: one JSON object on stdout per command, its keys as documented, its numbers the database's."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from shapely.geometry import box

from sclzonal.cli.json_reports import FIELDS
from tests.helpers import cli_ok, empty_database, run_cli, write_polygons, write_raster
from tests.sentinelhub_fake import FakeSentinelHub
from tests.sentinelhub_fixtures import (  # noqa: F401 - fixtures
    clean_fixture,
    credentials_fixture,
    fake_fixture,
    fetch_args,
    hold_ingest_lock,
)

# Fields on the grid of write_raster's default transform (EPSG:32633, 20 m, from 500000/5100000).
FIELDS_32633 = [box(500000 + 200 * i, 5098800, 500000 + 200 * i + 150, 5098950) for i in range(4)]


def _json_of(capsys: pytest.CaptureFixture[str], database_url: str, *args: str,
             code: int = 0) -> tuple[dict[str, Any], str]:
    """Run a command; check its exit code and that stdout is exactly one JSON object."""
    exit_code, out, err = run_cli(capsys, database_url, *args)
    assert exit_code == code, err
    assert out.endswith("\n") and out.count("\n") == 1, out
    data = json.loads(out)
    assert isinstance(data, dict)
    return data, err


def _keys_documented(command: str, data: dict[str, Any]) -> None:
    assert list(data) == list(FIELDS[command])


def _scalar(conn: psycopg.Connection, query: str, *params: object) -> Any:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def test_db_status(capsys: pytest.CaptureFixture[str], database_url: str,
                   conn: psycopg.Connection) -> None:
    data, _ = _json_of(capsys, database_url, "db", "status", "--json")
    _keys_documented("db status", data)
    stored = _scalar(conn, "SELECT version_num FROM sclzonal.alembic_version")
    assert data == {"database_revision": stored, "code_revision": stored, "at_head": True}


def test_db_status_of_a_database_behind(capsys: pytest.CaptureFixture[str], database_url: str,
                                        conn: psycopg.Connection) -> None:
    head = _scalar(conn, "SELECT version_num FROM sclzonal.alembic_version")
    conn.execute("UPDATE sclzonal.alembic_version SET version_num = '0001'")
    try:
        data, err = _json_of(capsys, database_url, "db", "status", "--json", code=1)
    finally:
        conn.execute("UPDATE sclzonal.alembic_version SET version_num = %s", (head,))
    assert data == {"database_revision": "0001", "code_revision": head, "at_head": False}
    assert err.startswith("sclzonal: error: the database is not at head")


def test_polygons_load(capsys: pytest.CaptureFixture[str], database_url: str,
                       conn: psycopg.Connection, tmp_path: Path) -> None:
    empty_database(conn)
    path = write_polygons(tmp_path / "fields.gpkg", [*FIELDS_32633, None], "EPSG:32633")
    data, _ = _json_of(capsys, database_url, "polygons", "load", str(path), "--id-field", "ident",
                       "--json")
    _keys_documented("polygons load", data)
    stored = _scalar(conn, "SELECT count(*) FROM sclzonal.polygon WHERE source = 'fields'")
    assert stored == len(FIELDS_32633)
    assert data["path"] == str(path) and data["source"] == "fields"
    assert (data["features"], data["inserted"], data["updated"], data["unchanged"]) == (5, stored, 0, 0)
    assert (data["skipped_empty"], data["skipped_ids"]) == (1, ["5"])
    again, _ = _json_of(capsys, database_url, "polygons", "load", str(path), "--id-field", "ident",
                        "--json")
    assert (again["inserted"], again["unchanged"]) == (0, stored)


def test_scl_load_and_refresh(capsys: pytest.CaptureFixture[str], database_url: str,
                              conn: psycopg.Connection, tmp_path: Path) -> None:
    empty_database(conn)
    cli_ok(database_url, "polygons", "load",
           str(write_polygons(tmp_path / "fields.gpkg", FIELDS_32633, "EPSG:32633")))
    rng = np.random.default_rng(5)
    paths = [write_raster(tmp_path / f"SCL_2024-06-{day:02d}.tif",
                          rng.integers(0, 12, (100, 100), dtype=np.uint8)) for day in (5, 20)]
    data, _ = _json_of(capsys, database_url, "scl", "load", *map(str, paths), "--tile-size", "32",
                       "--json")
    _keys_documented("scl load", data)
    stored = conn.execute("SELECT s.id, s.acquired_on, count(t.*) FROM sclzonal.scene AS s "
                          "JOIN sclzonal.scene_tile AS t ON t.scene_id = s.id "
                          "GROUP BY s.id ORDER BY s.acquired_on").fetchall()
    assert [(f["scene_id"], f["acquired_on"], f["tiles"]) for f in data["files"]] == \
        [(scene_id, day.isoformat(), tiles) for scene_id, day, tiles in stored]
    assert [f["name"] for f in data["files"]] == [str(p) for p in paths]
    assert all(f["created"] and f["replaced"] == [] for f in data["files"])
    assert (data["loaded"], data["unchanged"]) == (2, 0)
    again, _ = _json_of(capsys, database_url, "scl", "load", str(paths[0]), "--json")
    assert (again["loaded"], again["unchanged"]) == (0, 1)
    assert again["files"][0]["scene_id"] == stored[0][0] and not again["files"][0]["created"]

    refreshed, _ = _json_of(capsys, database_url, "refresh", "--json")
    _keys_documented("refresh", refreshed)
    pairs = _scalar(conn, "SELECT count(*) FROM sclzonal.counted_pair")
    assert pairs == 2 * len(FIELDS_32633)
    assert (refreshed["scenes"], refreshed["pairs_counted"]) == (2, pairs)
    assert refreshed["count_seconds"] >= 0 and refreshed["verdict_seconds"] >= 0
    nothing, _ = _json_of(capsys, database_url, "refresh", "--json")
    assert (nothing["scenes"], nothing["pairs_counted"]) == (0, 0)


def test_scl_fetch(capsys: pytest.CaptureFixture[str], database_url: str,
                   clean: psycopg.Connection, fake: FakeSentinelHub) -> None:
    data, err = _json_of(capsys, database_url, *fetch_args(fake), "--json")
    _keys_documented("scl fetch", data)
    scenes = clean.execute("SELECT s.id, s.acquired_on, count(t.*) FROM sclzonal.scene AS s "
                           "JOIN sclzonal.scene_tile AS t ON t.scene_id = s.id "
                           "GROUP BY s.id ORDER BY s.id").fetchall()
    assert sorted((s["scene_id"], s["acquired_on"], s["tiles"]) for s in data["scenes"]) == \
        [(scene_id, day.isoformat(), tiles) for scene_id, day, tiles in scenes]
    assert data["source"] == "processing-api"
    assert data["requests"] == len(fake.of_kind("process")) == len(scenes)
    assert data["already_loaded"] == 0 and data["cells"] == len(data["plan"]) == 4
    assert data["dry_run"] is False and data["catalog_requests"] == len(fake.of_kind("catalog"))
    assert data["dates"] == len({day for _, day, _ in scenes})
    assert "loaded as scene" in err  # the per-scene lines move to stderr
    again, _ = _json_of(capsys, database_url, *fetch_args(fake), "--json")
    assert (again["scenes"], again["requests"], again["already_loaded"]) == ([], 0, len(scenes))


def _ingest_args(fake: FakeSentinelHub, since: dt.date) -> list[str]:
    """`ingest` against the fake, starting at `since` (nothing was fetched before)."""
    return ["--endpoint", fake.base_url, "--max-cloud", "50", "--timeout-seconds", "2",
            "--max-wait-seconds", "3", "--retry-sleep-seconds", "0.05",
            "--lookback-days", str((dt.date.today() - since).days + 1)]


def test_ingest(capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
                fake: FakeSentinelHub) -> None:
    args = _ingest_args(fake, since=dt.date(2024, 6, 1))
    data, _ = _json_of(capsys, database_url, "ingest", *args, "--json")
    _keys_documented("ingest", data)
    assert data["ran"] is True and data["failure"] is None
    _keys_documented("scl fetch", data["fetch"])
    _keys_documented("refresh", data["refresh"])
    scene_ids = [row[0] for row in clean.execute("SELECT id FROM sclzonal.scene ORDER BY id")]
    assert sorted(s["scene_id"] for s in data["fetch"]["scenes"]) == scene_ids != []
    pairs = _scalar(clean, "SELECT count(*) FROM sclzonal.counted_pair")
    assert data["refresh"]["pairs_counted"] == pairs > 0
    assert data["refresh"]["scenes"] == len(scene_ids)

    holder = hold_ingest_lock(database_url)
    try:
        busy, err = _json_of(capsys, database_url, "ingest", *args, "--json", code=3)
    finally:
        holder.close()
    assert busy == {"ran": False, "fetch": None, "refresh": None, "failure": None}
    assert "another ingestion run holds the lock" in err


def test_ingest_failure_still_prints_the_object(capsys: pytest.CaptureFixture[str], database_url: str,
                                                clean: psycopg.Connection,
                                                fake: FakeSentinelHub,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SH_CLIENT_SECRET", "wrong")
    args = _ingest_args(fake, since=dt.date.today() - dt.timedelta(days=30))
    data, err = _json_of(capsys, database_url, "ingest", *args, "--json", code=1)
    assert data["ran"] is True and data["fetch"] is None
    assert data["failure"] and f"sclzonal: error: {data['failure']}" in err
    assert data["refresh"]["pairs_counted"] == 0
