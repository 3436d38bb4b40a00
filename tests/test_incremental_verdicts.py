"""`refresh` re-decides only the verdicts whose inputs changed, and the result is always what a
full rebuild from the definitions gives.

The invariant, after any sequence of polygon loads, SQL edits (geometry, attributes, inserts,
deletes), new and deleted scenes, rule changes and refreshes (some with an edit landing inside
them): after each refresh, polygon_verdict and polygon_month_verdict equal their definition
views polygon_verdict_view and polygon_month_verdict_view, row for row.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import psycopg
import pytest
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sclzonal.counting.pairs import count_new_pairs, pending_pairs
from sclzonal.counting.refresh import refresh
from tests.helpers import cli_ok, empty_database, verdict_differences, write_raster
from tests.test_refresh_interleavings import TRANSFORM, _edit, _field, _load_fields, _refresh_with

# Scenes in three months, clouds (class 8, not clear) over much of some, so that a polygon's
# latest clear observation is sometimes in an older month than its newest counts; three dates in
# July, so that new scenes are added to a month that has observations (later and earlier ones);
# and a second tile of 11 July on another grid, overlapping the first by half, so that a date
# gets a second scene (which of the two is a polygon's observation may change).
DAYS = [dt.date(2024, 5, 20), dt.date(2024, 6, 6), dt.date(2024, 7, 11), dt.date(2024, 7, 16),
        dt.date(2024, 7, 21), dt.date(2024, 7, 11)]
SECOND_TILE = Affine(20, 0, 500000 + 40 * 20 + 10, 0, -20, 5100000 - 10)


@pytest.fixture(scope="module")
def scenes(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("months")
    rng = np.random.default_rng(11)
    paths = []
    for index, day in enumerate(DAYS):
        classes = rng.choice(np.array([4, 4, 4, 5, 8], dtype=np.uint8), (80, 80))
        if index % 2:  # cloud over the upper half
            classes[:40] = 8
        transform = SECOND_TILE if index == len(DAYS) - 1 else TRANSFORM
        paths.append(write_raster(folder / f"scl_{index}_{day}.tif", classes, transform=transform,
                                  date=day))
    return paths


def _decided(url: str, *, rebuild: bool = False) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return refresh(conn, rebuild_verdicts=rebuild).verdicts_decided


@pytest.fixture
def loaded(empty_conn: psycopg.Connection, database_url: str, scenes: list[Path],
           tmp_path: Path) -> str:
    _load_fields(database_url, tmp_path, ["a", "b", "c", "d"])
    cli_ok(database_url, "scl", "load", str(scenes[0]))
    return database_url


def test_a_refresh_decides_only_the_polygons_whose_inputs_changed(
        loaded: str, conn: psycopg.Connection, scenes: list[Path], tmp_path: Path) -> None:
    polygons = conn.execute("SELECT count(*) FROM sclzonal.polygon").fetchone()
    assert _decided(loaded) == 4 and polygons == (4,)
    assert _decided(loaded) == 0  # nothing changed
    conn.execute("UPDATE sclzonal.polygon SET name = 'renamed' WHERE source_fid = '2'")
    assert _decided(loaded) == 1
    row = conn.execute("SELECT name FROM sclzonal.polygon_verdict WHERE source_fid = '2'").fetchone()
    assert row == ("renamed",)
    _edit(loaded, "insert", 0, 0.5)  # a polygon with pixels in the scene
    assert _decided(loaded) == 1
    cli_ok(loaded, "scl", "load", str(scenes[1]))  # a new scene over every polygon
    assert _decided(loaded) == 5
    assert verdict_differences(conn) == 0
    conn.execute("DELETE FROM sclzonal.polygon WHERE source_fid = '1'")
    assert _decided(loaded) == 1
    assert conn.execute("SELECT count(*) FROM sclzonal.polygon_verdict").fetchone() == (4,)
    conn.execute("UPDATE sclzonal.verdict_rule SET min_share = 0.3 WHERE label = 'vegetation'")
    assert _decided(loaded) == 4  # a rule change: every polygon
    conn.execute("DELETE FROM sclzonal.scene WHERE acquired_on = '2024-06-06'")
    assert _decided(loaded) == 4
    assert _decided(loaded, rebuild=True) == 4
    assert verdict_differences(conn) == 0


def test_most_polygons_noted_whole_are_decided_by_the_definitions_over_all(
        loaded: str, conn: psycopg.Connection) -> None:
    """Half the polygons or more noted whole (their counts deleted, edits): every verdict is
    made from the definition views over all polygons, cheaper than over a list of most of them."""
    assert _decided(loaded) == 4
    conn.execute("UPDATE sclzonal.polygon SET name = name || ' (edited)' WHERE source_fid = '1'")
    assert _decided(loaded) == 1  # one of four: that polygon only
    conn.execute("UPDATE sclzonal.polygon SET name = name || ' (edited)' WHERE source_fid IN ('2', '3')")
    assert _decided(loaded) == 4  # two of four: all of them
    assert verdict_differences(conn) == 0
    assert conn.execute("SELECT count(*) FROM sclzonal.polygon_verdict WHERE name LIKE '%(edited)'"
                        ).fetchone() == (3,)


def test_new_scenes_are_added_to_their_months(loaded: str, conn: psycopg.Connection,
                                              scenes: list[Path]) -> None:
    """A month's row made from its old row and the new scene's observations alone equals the
    definition: a later date, an earlier one, and a second tile of a date already observed."""
    _decided(loaded)
    months = []
    for index in (3, 2, 4, 5, 1):  # 16 July; 11 July; 21 July; 11 July again (another tile); June
        cli_ok(loaded, "scl", "load", str(scenes[index]))
        decided = _decided(loaded)
        if index == 5:  # decided again: the polygons whose observation is now the new tile's
            row = conn.execute("SELECT count(*) FROM sclzonal.polygon_observation"
                               " WHERE scene_id = (SELECT max(id) FROM sclzonal.scene)").fetchone()
            assert row is not None and decided == row[0]
        else:
            assert decided > 0
        assert verdict_differences(conn) == 0, scenes[index].name
        months.append(conn.execute(
            "SELECT sum(observations) FROM sclzonal.polygon_month_verdict"
            " WHERE month_start = '2024-07-01'").fetchone())
    # each July date added an observation to the polygons it covers; the second tile of 11 July
    # at most replaced some (a date counts once)
    assert months[0] < months[1] < months[2] and months[3] == months[2] == months[4], months


@pytest.mark.parametrize("second_rule", [False, True])
def test_months_gain_several_observations_in_one_refresh(
        loaded: str, conn: psycopg.Connection, scenes: list[Path], second_rule: bool) -> None:
    """Two July dates refreshed at once, then others one by one. With one rule, a new month gains
    two observations of one label; with a second rule that asks for clearer observations (0.8 of
    the pixels clear, where the scenes' fields have 0.77-0.88), a month gains an observation that
    evaluated one rule and one that evaluated both. Each month equals the definition (the refresh
    sums the tallies of one label at once, of several label by label)."""
    conn.execute("UPDATE sclzonal.verdict_rule SET min_share = 0.5, min_clear_share = 0.3,"
                 " min_coverage = 0 WHERE label = 'vegetation'")
    if second_rule:
        conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share,"
                     " min_coverage, priority) VALUES ('bare', '{5}', 0.1, 0.8, 0, 50)")
    _decided(loaded)
    for group in ((2, 4), (3,), (5,), (1,)):  # 11 and 21 July at once; 16 July; 11 July's
        for index in group:                   # second tile; June
            cli_ok(loaded, "scl", "load", str(scenes[index]))
        _decided(loaded)
        assert verdict_differences(conn) == 0, group
    kinds = dict(conn.execute(
        "SELECT coalesce(array_to_string(evaluated_rules, ','), ''), count(*)"
        " FROM sclzonal.polygon_observation WHERE acquired_on IN ('2024-07-11', '2024-07-21')"
        " GROUP BY 1").fetchall())
    assert kinds.get("vegetation", 0) > 0, kinds
    assert (kinds.get("bare,vegetation", 0) > 0) == second_rule, kinds
    held = conn.execute("SELECT count(*) FROM sclzonal.polygon_observation"
                        " WHERE 'vegetation' = ANY (held_rules)").fetchone()
    assert held is not None and held[0] > 0


def test_changed_counts_of_the_latest_clear_observation_are_read_again(
        loaded: str, conn: psycopg.Connection, scenes: list[Path]) -> None:
    """Counts changed in place (as `refresh` fills expected pixels of old pairs) on each
    polygon's latest clear date: its month is made again, and the polygon's latest observation,
    same date, is read again, not kept from the old row."""
    cli_ok(loaded, "scl", "load", str(scenes[2]))
    _decided(loaded)
    before = dict(conn.execute("SELECT polygon_id, coverage FROM sclzonal.polygon_verdict"
                               " WHERE acquired_on = '2024-07-11'").fetchall())
    assert len(before) >= 2
    conn.execute("UPDATE sclzonal.counted_pair SET expected_pixels = expected_pixels + 1"
                 " WHERE scene_id = (SELECT max(id) FROM sclzonal.scene)")
    assert _decided(loaded) >= len(before)
    after = dict(conn.execute("SELECT polygon_id, coverage FROM sclzonal.polygon_verdict"
                              " WHERE acquired_on = '2024-07-11'").fetchall())
    assert after.keys() == before.keys() and all(after[k] < before[k] for k in before)
    assert verdict_differences(conn) == 0


def test_a_missing_verdict_row_is_made_when_new_counts_arrive(
        loaded: str, conn: psycopg.Connection, scenes: list[Path]) -> None:
    """The refresh updates the verdict rows of polygons with new counts in place, keeping the
    polygon's own columns; a polygon without a row (deleted by hand) gets one, whole."""
    _decided(loaded)
    conn.execute("DELETE FROM sclzonal.polygon_verdict WHERE source_fid = '2'")
    cli_ok(loaded, "scl", "load", str(scenes[1]))
    assert _decided(loaded) == 4
    assert conn.execute("SELECT count(*) FROM sclzonal.polygon_verdict"
                        " WHERE source_fid = '2' AND geom IS NOT NULL").fetchone() == (1,)
    assert verdict_differences(conn) == 0


def test_verdicts_of_a_refresh_are_seen_whole_or_not_at_all(loaded: str, conn: psycopg.Connection) -> None:
    _decided(loaded)
    conn.execute("UPDATE sclzonal.polygon SET name = name || ' (edited)'")
    before = conn.execute("SELECT polygon_id, name FROM sclzonal.polygon_verdict"
                          " ORDER BY 1").fetchall()
    with psycopg.connect(loaded) as writer:  # a refresh's verdict step, not committed yet
        writer.execute("SELECT sclzonal.refresh_polygon_verdict()")
        with psycopg.connect(loaded, autocommit=True) as reader:
            assert reader.execute("SELECT polygon_id, name FROM sclzonal.polygon_verdict"
                                  " ORDER BY 1").fetchall() == before
        writer.rollback()
    assert verdict_differences(conn) > 0  # edited, not yet decided
    _decided(loaded)
    assert verdict_differences(conn) == 0


def _verdict_steps(url: str, function: str) -> dict[str, tuple[int, int, int, int]]:
    """Run sclzonal.FUNCTION() in a transaction of its own; rows it inserted, updated, updated on
    their own page (heap-only) and deleted, per verdict table."""
    with psycopg.connect(url) as writer:
        writer.execute(f"SELECT sclzonal.{function}()")
        rows = writer.execute(
            "SELECT relname, n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del"
            " FROM pg_stat_xact_user_tables WHERE schemaname = 'sclzonal'"
            " AND relname IN ('polygon_verdict', 'polygon_month_verdict')").fetchall()
        writer.commit()
    return {name: (int(ins), int(upd), int(hot), int(dele)) for name, ins, upd, hot, dele in rows}


def test_a_new_scene_updates_each_month_row_on_its_own_page(
        empty_conn: psycopg.Connection, database_url: str, scenes: list[Path]) -> None:
    """Parcels numbered region by region, as parcel files number them: a scene over them updates
    every row of a page at once, and each month row's new version must find room on that page
    (no index entry, pruned without vacuum). With pages filled to 80 % (revision 0012) about one
    update in four did."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        with conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO sclzonal.polygon (source, source_fid, name, geom) VALUES"
                " ('grid', %s, 'parcel', ST_Multi(ST_GeomFromText(%s, 4326)))",
                [(str(i), _field(2 + (i % 20) * 3.8, 2 + (i // 20) * 5, size=2.5).wkt)
                 for i in range(300)])
        cli_ok(database_url, "scl", "load", str(scenes[2]))  # 11 July
        _decided(database_url)
        cli_ok(database_url, "scl", "load", str(scenes[4]))  # 21 July: every month row again
        assert count_new_pairs(conn, pending_pairs(conn)) == 300
        steps = _verdict_steps(database_url, "refresh_polygon_verdict")
        inserted, updated, on_page, deleted = steps["polygon_month_verdict"]
        assert (inserted, updated, deleted) == (0, 300, 0)
        # half-full pages: 295 of 300 here (a few rows grow: a month's first rule tally); 75 at 80 %
        assert on_page >= 0.9 * updated, steps
        assert verdict_differences(conn) == 0


def test_a_full_rebuild_updates_rows_in_place_and_deletes_only_what_is_gone(
        loaded: str, conn: psycopg.Connection, scenes: list[Path]) -> None:
    """`refresh --rebuild-verdicts` (and a rule change) writes each remaining row in place,
    where deleting every row and inserting it again left both tables twice their size until
    vacuum; the rows of a deleted polygon and of a month whose scene was deleted go."""
    cli_ok(loaded, "scl", "load", str(scenes[1]))  # 6 June
    _decided(loaded)
    row = conn.execute("SELECT id FROM sclzonal.polygon WHERE source_fid = '1'").fetchone()
    assert row is not None
    deleted_polygon = row[0]
    june = conn.execute("SELECT count(*) FROM sclzonal.polygon_month_verdict"
                        " WHERE month_start = '2024-06-01' AND polygon_id <> %s",
                        (deleted_polygon,)).fetchone()
    months = conn.execute("SELECT count(*) FROM sclzonal.polygon_month_verdict").fetchone()
    assert june is not None and june[0] > 0 and months is not None
    conn.execute("DELETE FROM sclzonal.polygon WHERE id = %s", (deleted_polygon,))
    conn.execute("DELETE FROM sclzonal.scene WHERE acquired_on = '2024-06-06'")
    gone = conn.execute("SELECT count(*) FROM sclzonal.polygon_month_verdict"
                        " WHERE month_start = '2024-06-01' OR polygon_id = %s",
                        (deleted_polygon,)).fetchone()
    assert gone is not None
    steps = _verdict_steps(loaded, "rebuild_polygon_verdict")
    assert steps["polygon_verdict"][0] == 0 and steps["polygon_verdict"][1] == 3
    assert steps["polygon_verdict"][3] == 1
    inserted, updated, _, deleted = steps["polygon_month_verdict"]
    assert (inserted, updated, deleted) == (0, months[0] - gone[0], gone[0]), steps
    assert verdict_differences(conn) == 0


STEP = st.one_of(
    st.tuples(st.just("refresh"), st.sampled_from([None, "attribute", "geometry", "delete", "insert"]),
              st.integers(0, 5), st.floats(0.1, 1.0)),
    st.tuples(st.sampled_from(["attribute", "geometry", "delete", "insert", "reload", "scene",
                               "drop_scene", "rule", "class"]),
              st.none(), st.integers(0, 5), st.floats(0.1, 1.0)),
)


@pytest.mark.slow
@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(STEP, min_size=1, max_size=8))
def test_incremental_verdicts_equal_a_full_rebuild(
        monkeypatch: pytest.MonkeyPatch, conn: psycopg.Connection, database_url: str,
        scenes: list[Path], tmp_path: Path, steps: list[tuple[str, str | None, int, float]]) -> None:
    empty_database(conn)
    _load_fields(database_url, tmp_path, ["a", "b", "c", "d"])
    cli_ok(database_url, "scl", "load", str(scenes[0]))
    _refresh_with(monkeypatch, database_url, None)
    for kind, during, which, amount in steps:
        if kind == "refresh":
            edit = None if during is None else (
                lambda d=during, w=which, a=amount: _edit(database_url, d, w, a))
            _refresh_with(monkeypatch, database_url, edit, batch_size=1 + which % 3)
            assert verdict_differences(conn) == 0
        elif kind == "reload":
            _load_fields(database_url, tmp_path, [f"r{amount:.3f}"] * 4)
        elif kind == "scene":
            cli_ok(database_url, "scl", "load", str(scenes[1 + which % (len(scenes) - 1)]))
        elif kind == "drop_scene":
            conn.execute("DELETE FROM sclzonal.scene WHERE id = (SELECT max(id) FROM sclzonal.scene)")
        elif kind == "rule":
            conn.execute("UPDATE sclzonal.verdict_rule SET min_share = %s, min_coverage = %s"
                         " WHERE label = 'vegetation'", (amount * 0.3, amount))
        elif kind == "class":
            conn.execute("UPDATE sclzonal.scl_class SET is_clear = NOT is_clear WHERE value = %s",
                         (which % 12,))
        else:
            _edit(database_url, kind, which, amount)
    _refresh_with(monkeypatch, database_url, None)
    assert verdict_differences(conn) == 0
