"""Overlapping tiles of one date, added to the verdicts one refresh at a time.

Where tiles overlap, a polygon has several pairs on one date and one observation: the best pair
(highest coverage, then most clear pixels, then lowest scene id). A refresh evaluates only the
pairs of the new scene's date: an old pair that stays the best leaves the month as it was, a
better new pair takes the old observation's place in the month, and when the old observation
was the month's latest clear one and the new one is not clear, the month is read again. Each
case must leave both verdict tables equal to their definition views. The scenes here have
no-data patches (class 0: lower coverage) and clouds (class 8: not clear) at random, so that all
three cases occur, which the test checks on the stored pairs.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest
from affine import Affine
from shapely.geometry import box

from tests.helpers import cli_ok, to_crs, verdict_differences, write_polygons, write_raster
from tests.test_incremental_verdicts import _decided

# Three grids (offsets of a fraction of a pixel make each its own grid), overlapping by most of
# their width; three dates, two in May and one in June.
TILES = [Affine(20, 0, 500000, 0, -20, 5100000), Affine(20, 0, 500000 + 300 + 10, 0, -20, 5100000 - 10),
         Affine(20, 0, 500000 + 600 + 5, 0, -20, 5100000 - 5)]
# The same three in a row, each overlapping the next by a few hundred metres and the first and
# the last apart, as a country's tiles are: the refresh reads the counts of the scenes that hold
# pairs of the new scene's polygons only, here not the other end's.
TILES_IN_A_ROW = [Affine(20, 0, 500000, 0, -20, 5100000),
                  Affine(20, 0, 500000 + 900 + 10, 0, -20, 5100000 - 10),
                  Affine(20, 0, 500000 + 1800 + 5, 0, -20, 5100000 - 5)]
DAYS = [dt.date(2024, 5, 20), dt.date(2024, 5, 25), dt.date(2024, 6, 2)]
SIZE = 60  # pixels a side: a tile is 1,200 m wide


def _fields(columns: int = 9) -> list[object]:
    """Fields of 7 x 7 pixels in a row of columns across the three tiles."""
    fields = []
    for col in range(columns):
        for row in range(3):
            x, y = 500000 + 30 + col * 190, 5100000 - 30 - row * 380
            fields.append(to_crs(box(x, y - 140, x + 140, y), "EPSG:32633", "EPSG:4326"))
    return fields


def _scene(folder: Path, rng: np.random.Generator, tile: Affine, day: dt.date, name: str) -> Path:
    classes = rng.choice(np.array([4, 4, 4, 5, 9], dtype=np.uint8), (SIZE, SIZE))
    # clouds and no data in patches of random size and place, and in half the scenes no-data
    # specks (coverage just under 1: such a clear pair loses to a cloudy one without specks)
    for value in (8, 8, 8, 8, 8, 0, 0):
        row, col, height, width = rng.integers(0, SIZE, 2).tolist() + rng.integers(5, 30, 2).tolist()
        classes[row:row + height, col:col + width] = value
    classes[rng.random((SIZE, SIZE)) < rng.choice([0.0, 0.03])] = 0
    return write_raster(folder / f"scl_{name}_{day}.tif", classes, transform=tile, date=day)


@pytest.mark.parametrize(("seed", "in_a_row"), [(3, False), (8, False), (5, True)])
def test_tiles_of_a_date_added_one_refresh_at_a_time_equal_the_definition(
        seed: int, in_a_row: bool, empty_conn: psycopg.Connection, database_url: str,
        tmp_path: Path) -> None:
    rng = np.random.default_rng(seed)
    tiles = TILES_IN_A_ROW if in_a_row else TILES
    fields = write_polygons(tmp_path / "fields.gpkg", _fields(14 if in_a_row else 9), "EPSG:4326")
    cli_ok(database_url, "polygons", "load", str(fields), "--id-field", "ident")
    scenes = [_scene(tmp_path, rng, tile, day, f"t{index}")
              for day in DAYS for index, tile in enumerate(tiles)]
    order = rng.permutation(len(scenes)).tolist()
    for step, index in enumerate(order):
        cli_ok(database_url, "scl", "load", str(scenes[index]))
        if step % 4 != 2:  # mostly a refresh per scene; sometimes two scenes in one refresh
            _decided(database_url)
            assert verdict_differences(empty_conn) == 0, f"after {scenes[index].name}"
    _decided(database_url)
    assert verdict_differences(empty_conn) == 0

    # The three cases happened: on some (polygon, date) with several pairs the observation is
    # the first scene loaded, on some a later one; on some a later one that is not clear took
    # the place of a clear one.
    cases = empty_conn.execute("""
        WITH pair AS (
            SELECT sv.polygon_id, sv.acquired_on, sv.scene_id, sv.is_observation,
                   sv.verdict NOT IN ('not_clear', 'partially_observed') AS clear
            FROM sclzonal.scene_verdict AS sv
        ), several AS (
            SELECT p.polygon_id, p.acquired_on, min(p.scene_id) AS first_scene,
                   bool_or(p.clear AND NOT p.is_observation) AS clear_passed_over
            FROM pair AS p GROUP BY 1, 2 HAVING count(*) > 1
        )
        SELECT count(*) FILTER (WHERE o.scene_id = s.first_scene),
               count(*) FILTER (WHERE o.scene_id > s.first_scene),
               count(*) FILTER (WHERE o.scene_id > s.first_scene AND NOT o.clear
                                AND s.clear_passed_over)
        FROM several AS s
        JOIN pair AS o ON o.polygon_id = s.polygon_id AND o.acquired_on = s.acquired_on
                      AND o.is_observation
        """).fetchone()
    # (in a row, fewer polygons have two pairs: a clear observation replaced by one that is not
    # clear is not among them with this seed)
    assert cases is not None and all(count > 0 for count in cases[:2 if in_a_row else 3]), cases
    if in_a_row:  # some polygons in two tiles, none in the first and the last
        shared = empty_conn.execute("""
            SELECT count(*) FILTER (WHERE n = 2), count(*) FILTER (WHERE n > 2)
            FROM (SELECT count(*) AS n FROM sclzonal.scene_verdict
                  GROUP BY polygon_id, acquired_on) AS k""").fetchone()
        assert shared is not None and shared[0] > 0 and shared[1] == 0, shared


def test_scene_verdict_rows_of_some_scenes_are_the_views_where_they_hold_every_pair(
        empty_conn: psycopg.Connection, database_url: str, tmp_path: Path) -> None:
    """scene_verdict_rows(scenes) reads the counts of those scenes only, and gives the view's
    rows for each (polygon, date) whose pairs all lie in them: what the refresh relies on when
    it reads the scenes that hold the new scene's polygons' pairs and no other."""
    rng = np.random.default_rng(11)
    fields = write_polygons(tmp_path / "fields.gpkg", _fields(14), "EPSG:4326")
    cli_ok(database_url, "polygons", "load", str(fields), "--id-field", "ident")
    for day in DAYS[:2]:
        for index, tile in enumerate(TILES_IN_A_ROW):
            cli_ok(database_url, "scl", "load", str(_scene(tmp_path, rng, tile, day, f"t{index}")))
    cli_ok(database_url, "refresh")
    scenes = [row[0] for row in empty_conn.execute(
        "SELECT id FROM sclzonal.scene ORDER BY acquired_on, id").fetchall()]
    for chosen in ([scenes[0]], [scenes[1]], scenes[:2], [scenes[0], scenes[4]], scenes):
        given = empty_conn.execute(
            "SELECT DISTINCT scene_id FROM sclzonal.scene_verdict_rows(%s)", (chosen,)).fetchall()
        assert {row[0] for row in given} <= set(chosen), chosen
        whole, differing = empty_conn.execute("""
            WITH whole AS (  -- the (polygon, date) keys all of whose pairs are in the scenes
                SELECT polygon_id, acquired_on FROM sclzonal.scene_verdict
                GROUP BY polygon_id, acquired_on HAVING bool_and(scene_id = ANY (%(s)s))
            ), given AS (
                SELECT r.* FROM sclzonal.scene_verdict_rows(%(s)s) AS r
                JOIN whole USING (polygon_id, acquired_on)
            ), expected AS (
                SELECT v.* FROM sclzonal.scene_verdict AS v JOIN whole USING (polygon_id, acquired_on)
            )
            SELECT (SELECT count(*) FROM whole),
                   (SELECT count(*) FROM ((SELECT * FROM given EXCEPT ALL SELECT * FROM expected)
                                          UNION ALL
                                          (SELECT * FROM expected EXCEPT ALL SELECT * FROM given)) AS d)
            """, {"s": chosen}).fetchone()
        assert whole > 0 and differing == 0, (chosen, whole, differing)
    # a polygon in two tiles has, from one of them alone, that tile's pair as its observation of
    # the date, which the view may not: so the rows are the view's only where the scenes hold
    # every pair of a (polygon, date)
    everything = empty_conn.execute(
        "SELECT count(*) FROM sclzonal.scene_verdict_rows(NULL)").fetchone()
    assert everything == empty_conn.execute("SELECT count(*) FROM sclzonal.scene_verdict").fetchone()


def test_counts_written_during_a_refresh_wait_for_it(empty_conn: psycopg.Connection,
                                                     database_url: str) -> None:
    """Counts committed while a refresh runs would be taken for stored ones by its later
    statements, whose subtractions would then not match the stored months: they wait."""
    with psycopg.connect(database_url) as refreshing, \
            psycopg.connect(database_url, autocommit=True) as counting:
        refreshing.execute("SELECT sclzonal.refresh_polygon_verdict()")  # its transaction stays open
        counting.execute("SET lock_timeout = '300ms'")
        with pytest.raises(psycopg.errors.LockNotAvailable):
            counting.execute("INSERT INTO sclzonal.counted_pair (polygon_id, scene_id) VALUES (1, 1)")
        refreshing.commit()
        counting.execute("INSERT INTO sclzonal.counted_pair (polygon_id, scene_id) VALUES (1, 1)")
    assert empty_conn.execute("SELECT count(*) FROM sclzonal.verdict_new_pair").fetchone() == (1,)
    empty_conn.execute("DELETE FROM sclzonal.counted_pair")
