"""kill -9 in the middle of `scl load` and of `sclzonal refresh`: the database holds all of the
work or none of it, and the next run completes it."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.helpers import cli_ok, write_raster
from tests.process_support import (
    BigData,
    big_data,
    finish,
    kill_hard,
    poll,
    sclzonal_backends,
    start,
    wait_until_gone,
)

SIZE, TILE = 4500, 16  # 79,524 tiles of 16 x 16 px: over a second of inserts


@pytest.fixture(scope="module")
def data(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> BigData:
    found = big_data(tmp_path_factory)
    cli_ok(database_url, "polygons", "load", str(found.fields), "--layer", found.layer)
    cli_ok(database_url, "scl", "load", *map(str, found.scenes[:3]))
    return found


def _pairs(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT count(*) FROM sclzonal.polygon AS p JOIN sclzonal.scene AS s"
                       " ON p.geom && s.footprint").fetchone()
    return int(row[0]) if row else 0


def _count(conn: psycopg.Connection, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM sclzonal.{table}").fetchone()
    return int(row[0]) if row else 0


def _sample_matches_the_live_view(conn: psycopg.Connection, sample: int = 40) -> None:
    """Stored counts of some counted polygons equal ST_ValueCount's, computed now from the tiles."""
    ids = [row[0] for row in conn.execute(
        "SELECT DISTINCT polygon_id FROM sclzonal.counted_pair ORDER BY polygon_id").fetchall()]
    chosen = ids[:: max(1, len(ids) // sample)]
    stored = conn.execute("SELECT c.* FROM sclzonal.stored_class_counts AS c JOIN sclzonal.counted_pair AS z"
                          " USING (polygon_id, scene_id) WHERE c.polygon_id = ANY(%s)"
                          " ORDER BY 1, 2, 3", (chosen,)).fetchall()
    counted = {(row[0], row[1]) for row in conn.execute(
        "SELECT polygon_id, scene_id FROM sclzonal.counted_pair WHERE polygon_id = ANY(%s)", (chosen,))}
    conn.execute("SET client_min_messages = warning")  # ST_Clip's notices on empty clips
    live = [row for row in conn.execute("SELECT * FROM sclzonal.zonal_class_counts"
                                        " WHERE polygon_id = ANY(%s) ORDER BY 1, 2, 3",
                                        (chosen,)).fetchall() if (row[0], row[1]) in counted]
    assert len(chosen) >= sample // 2 and stored and stored == live


def _verdicts_are_current(conn: psycopg.Connection) -> None:
    difference = conn.execute(
        "SELECT count(*) FROM ((SELECT * FROM sclzonal.polygon_verdict"
        "  EXCEPT SELECT * FROM sclzonal.polygon_verdict_view)"
        " UNION ALL (SELECT * FROM sclzonal.polygon_verdict_view"
        "  EXCEPT SELECT * FROM sclzonal.polygon_verdict)) AS d").fetchone()
    assert difference == (0,)
    assert _count(conn, "polygon_verdict") == _count(conn, "polygon")


@pytest.mark.slow
@pytest.mark.process
def test_killed_scene_load_leaves_nothing_and_loads_next_time(
        database_url: str, conn: psycopg.Connection, data: BigData, tmp_path: Path) -> None:
    path = write_raster(tmp_path / "large.tif",
                        np.random.default_rng(5).integers(0, 12, (SIZE, SIZE), dtype=np.uint8),
                        date=dt.date(2024, 8, 5))
    before = {table: _count(conn, table) for table in ("scene", "scene_grid", "scene_tile")}
    partitions = "SELECT count(*) FROM pg_inherits WHERE inhparent = 'sclzonal.scene_tile'::regclass"
    before_partitions = conn.execute(partitions).fetchone()
    size = conn.execute("SELECT pg_database_size(current_database())").fetchone()
    loader = start(database_url, "scl", "load", "--tile-size", str(TILE), str(path))
    # The loader's backend has inserted tiles (it holds the insert lock on scene_tile) and
    # they take room in the scene's new table, which no other session sees yet: a megabyte of
    # uncommitted tiles.
    pid = poll(lambda: conn.execute(
        "SELECT a.pid FROM pg_stat_activity AS a JOIN pg_locks AS l ON l.pid = a.pid"
        " WHERE a.application_name = 'sclzonal' AND a.datname = current_database()"
        " AND l.relation = 'sclzonal.scene_tile'::regclass AND l.mode = 'RowExclusiveLock'"
        " AND pg_database_size(current_database()) > %s + 1000000", (size[0] if size else 0,)
    ).fetchone())[0]
    kill_hard(loader)
    wait_until_gone(conn, pid)
    assert {table: _count(conn, table) for table in before} == before
    assert conn.execute(partitions).fetchone() == before_partitions  # its table went with it
    code, out, err = finish(start(database_url, "scl", "load", "--tile-size", str(TILE), str(path)))
    assert code == 0, err
    tiles = math.ceil(SIZE / TILE) ** 2
    assert f"({tiles} tiles)" in out
    row = conn.execute("SELECT count(*), sum(ST_Width(t.rast) * ST_Height(t.rast)) FROM sclzonal.scene_tile t"
                       " JOIN sclzonal.scene s ON s.id = t.scene_id WHERE s.acquired_on = '2024-08-05'"
                       ).fetchone()
    assert row == (tiles, SIZE * SIZE)
    conn.execute("DELETE FROM sclzonal.scene WHERE acquired_on = '2024-08-05'")


@pytest.mark.slow
@pytest.mark.process
def test_killed_refresh_keeps_whole_batches_and_the_next_completes(
        database_url: str, conn: psycopg.Connection, data: BigData) -> None:
    total = _pairs(conn)
    assert _count(conn, "counted_pair") == 0 and total > 50_000
    refresh = start(database_url, "refresh", "--batch-size", "250")
    poll(lambda: _count(conn, "counted_pair") > 0)
    kill_hard(refresh)
    for pid, _, _ in sclzonal_backends(conn):
        wait_until_gone(conn, pid)
    stored = _count(conn, "counted_pair")
    assert 0 < stored < total, (stored, total)
    _sample_matches_the_live_view(conn)
    code, out, err = finish(start(database_url, "refresh"))
    assert code == 0, err
    assert f"counted {total - stored} new polygon-scene pairs" in out
    assert _count(conn, "counted_pair") == total
    _sample_matches_the_live_view(conn)
    _verdicts_are_current(conn)


@pytest.mark.slow
@pytest.mark.process
def test_killed_verdict_refresh_keeps_the_old_verdicts(database_url: str, conn: psycopg.Connection,
                                                      data: BigData) -> None:
    cli_ok(database_url, "scl", "load", str(data.scenes[3]))
    cli_ok(database_url, "refresh")
    before = conn.execute("SELECT md5(string_agg(v::text, '|' ORDER BY polygon_id))"
                          " FROM sclzonal.polygon_verdict AS v").fetchone()
    conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share,"
                 " priority) VALUES ('bare', '{5}', 0.5, 0.5, 5)")
    refresh = start(database_url, "refresh")
    pid = poll(lambda: next((pid for pid, state, query in sclzonal_backends(conn)
                             if state == "active" and "refresh_polygon_verdict" in query), None))
    kill_hard(refresh)
    wait_until_gone(conn, pid)
    assert conn.execute("SELECT md5(string_agg(v::text, '|' ORDER BY polygon_id))"
                        " FROM sclzonal.polygon_verdict AS v").fetchone() == before
    code, _, err = finish(start(database_url, "refresh"))
    assert code == 0, err
    _verdicts_are_current(conn)
    assert conn.execute("SELECT count(*) > 0 FROM sclzonal.polygon_verdict WHERE verdict = 'bare'"
                        ).fetchone() == (True,)
