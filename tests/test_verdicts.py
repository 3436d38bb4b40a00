"""Verdict rules, per-scene verdicts, the materialized polygon_verdict, and `sclzonal verdicts`."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import psycopg
import pytest

from sclzonal.db.scl_classes import CLASS_COLUMNS
from tests.helpers import run_cli

# polygon -> {scene day in June 2024: {class: pixels}}
COUNTS: dict[str, dict[int, dict[int, int]]] = {
    "vegetation_then_cloud": {1: {4: 85, 5: 5, 9: 10}, 11: {4: 5, 5: 5, 9: 90}},
    "bare": {1: {4: 50, 5: 50}, 11: {4: 10, 5: 80, 3: 10}},
    "always_cloudy": {1: {4: 40, 8: 60}, 11: {4: 30, 9: 70}},
    "boundary": {11: {4: 40, 5: 10, 8: 50}},  # exactly 80 % of clear, exactly 50 % clear
    "just_below": {11: {4: 39, 5: 11, 8: 50}},
    "zero_pixels": {1: {}},
    "never_counted": {},
    "snow_is_clear": {1: {4: 80, 11: 20}},
    "water": {11: {6: 70, 4: 30}},
}


@pytest.fixture
def seeded(empty_conn: psycopg.Connection) -> psycopg.Connection:
    conn = empty_conn
    conn.execute("DELETE FROM sclzonal.verdict_rule WHERE label <> 'vegetation'")
    conn.execute("UPDATE sclzonal.verdict_rule SET classes = '{4}', min_share = 0.8,"
                 " min_clear_share = 0.5, priority = 100, enabled = true WHERE label = 'vegetation'")
    conn.execute("UPDATE sclzonal.scl_class SET is_clear = value NOT IN (0, 1, 3, 8, 9, 10)")
    scenes = {}
    conn.execute("INSERT INTO sclzonal.scene_grid (srid, upper_left_x, upper_left_y, pixel_size_x,"
                 " pixel_size_y, width, height) VALUES (32633, 0, 0, 20, -20, 1, 1)")
    for day in (1, 11):
        (scenes[day],) = conn.execute(
            "INSERT INTO sclzonal.scene (acquired_on, source, reference, checksum, srid, crs,"
            " grid_id, pixel_size_x, pixel_size_y, width, height, tile_size, footprint)"
            " SELECT %s, 'test', 'test', %s, 32633, 'EPSG:32633', id, 20, -20, 1, 1, 256,"
            "  ST_Multi(ST_MakeEnvelope(14, 45, 17, 47, 4326)) FROM sclzonal.scene_grid RETURNING id",
            (dt.date(2024, 6, day), f"checksum-{day}")).fetchone() or (0,)
    for index, (name, per_scene) in enumerate(COUNTS.items()):
        (polygon_id,) = conn.execute(
            "INSERT INTO sclzonal.polygon (source, source_fid, name, geom) VALUES"
            " ('test', %s, %s, ST_Multi(ST_Buffer(ST_Point(15 + %s * 0.01, 46, 4326), 0.001)))"
            " RETURNING id", (str(index), name, index)).fetchone() or (0,)
        for day, classes in per_scene.items():
            pixels = [classes.get(k, 0) for k in range(len(CLASS_COLUMNS))]
            conn.execute("INSERT INTO sclzonal.counted_pair (polygon_id, scene_id, "
                         + ", ".join(CLASS_COLUMNS) + ") VALUES ("
                         + ", ".join(["%s"] * (2 + len(CLASS_COLUMNS))) + ")",
                         (polygon_id, scenes[day], *pixels))
    return conn


def _verdicts(conn: psycopg.Connection, relation: str = "sclzonal.polygon_verdict_view"
              ) -> dict[str, tuple[str, dt.date | None]]:
    rows = conn.execute(f"SELECT name, verdict, acquired_on FROM {relation}").fetchall()
    return {name: (verdict, day) for name, verdict, day in rows}


def test_default_rule(seeded: psycopg.Connection) -> None:
    june = dt.date(2024, 6, 1), dt.date(2024, 6, 11)
    assert _verdicts(seeded) == {
        "vegetation_then_cloud": ("vegetation", june[0]),  # 11 June is too cloudy to count
        "bare": ("other", june[1]),
        "always_cloudy": ("no_clear_observation", None),
        "boundary": ("vegetation", june[1]),
        "just_below": ("other", june[1]),
        "zero_pixels": ("no_pixels", None),
        "never_counted": ("no_pixels", None),
        "snow_is_clear": ("vegetation", june[0]),
        "water": ("other", june[1]),
    }


def test_shares_behind_the_verdict(seeded: psycopg.Connection) -> None:
    row = seeded.execute(
        "SELECT rule_share, clear_share, vegetation_share, pixels, clear_pixels, observations,"
        " clear_observations, last_observed_on FROM sclzonal.polygon_verdict_view"
        " WHERE name = 'vegetation_then_cloud'").fetchone()
    assert row == (pytest.approx(85 / 90), pytest.approx(0.9), pytest.approx(85 / 90), 100, 90, 2, 1,
                   dt.date(2024, 6, 11))


def test_rules_are_rows(seeded: psycopg.Connection) -> None:
    seeded.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share,"
                   " priority) VALUES ('water', '{6}', 0.6, 0.5, 10)")
    assert _verdicts(seeded)["water"] == ("water", dt.date(2024, 6, 11))
    seeded.execute("UPDATE sclzonal.verdict_rule SET min_share = 0.9 WHERE label = 'vegetation'")
    assert _verdicts(seeded)["vegetation_then_cloud"] == ("vegetation", dt.date(2024, 6, 1))
    assert _verdicts(seeded)["snow_is_clear"] == ("other", dt.date(2024, 6, 1))


def test_clear_classes_are_a_setting(seeded: psycopg.Connection) -> None:
    seeded.execute("UPDATE sclzonal.scl_class SET is_clear = false WHERE value = 11")
    # snow no longer clear: 80 of 80 clear pixels are vegetation
    row = seeded.execute("SELECT verdict, vegetation_share, clear_share FROM"
                         " sclzonal.polygon_verdict_view WHERE name = 'snow_is_clear'").fetchone()
    assert row == ("vegetation", 1.0, pytest.approx(0.8))


def test_vegetation_share_follows_the_vegetation_rule(seeded: psycopg.Connection) -> None:
    def shares() -> dict[str, float | None]:
        return dict(seeded.execute("SELECT name, vegetation_share FROM sclzonal.polygon_verdict_view"
                                   " WHERE name IN ('water', 'bare')").fetchall())

    # water on 11 June: 70 water + 30 vegetation of 100 clear; bare: 10 of 90 clear
    assert shares() == {"water": pytest.approx(30 / 100), "bare": pytest.approx(10 / 90)}
    seeded.execute("UPDATE sclzonal.verdict_rule SET classes = '{4, 6}' WHERE label = 'vegetation'")
    assert shares() == {"water": pytest.approx(100 / 100), "bare": pytest.approx(10 / 90)}
    seeded.execute("UPDATE sclzonal.verdict_rule SET label = 'green' WHERE label = 'vegetation'")
    try:
        assert shares() == {"water": None, "bare": None}
    finally:  # the seeded fixture keeps only the rule labelled vegetation
        seeded.execute("UPDATE sclzonal.verdict_rule SET label = 'vegetation' WHERE label = 'green'")


def test_reserved_labels_are_refused(seeded: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        seeded.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share)"
                       " VALUES ('no_pixels', '{4}', 0.5, 0.5)")


def test_refresh_fills_the_materialized_view(capsys: pytest.CaptureFixture[str], database_url: str,
                                             seeded: psycopg.Connection) -> None:
    code, _, err = run_cli(capsys, database_url, "refresh")
    assert code == 0, err
    assert _verdicts(seeded, "sclzonal.polygon_verdict") == _verdicts(seeded)
    assert seeded.execute("SELECT count(*) FROM sclzonal.polygon_verdict").fetchone() == (len(COUNTS),)
    unique = seeded.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = 'sclzonal'"
                            " AND tablename = 'polygon_verdict' AND indexdef LIKE 'CREATE UNIQUE%'"
                            ).fetchall()
    assert len(unique) == 1 and "(polygon_id)" in unique[0][0]


def test_output_formats(capsys: pytest.CaptureFixture[str], database_url: str,
                        seeded: psycopg.Connection, tmp_path: Path) -> None:
    assert run_cli(capsys, database_url, "refresh")[0] == 0
    code, out, _ = run_cli(capsys, database_url, "verdicts")
    assert code == 0 and "vegetation_then_cloud" in out and f"{len(COUNTS)} polygons:" in out
    code, out, _ = run_cli(capsys, database_url, "verdicts", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert {r["name"]: r["verdict"] for r in rows}["bare"] == "other"
    target = tmp_path / "out" / "verdicts.geojson"
    code, _, err = run_cli(capsys, database_url, "verdicts", "--format", "geojson", "--output", str(target))
    assert code == 0 and "wrote 9 verdicts" in err
    collection = json.loads(target.read_text())
    assert len(collection["features"]) == len(COUNTS)
    feature = next(f for f in collection["features"] if f["properties"]["name"] == "boundary")
    assert feature["geometry"]["type"] == "MultiPolygon"
    assert feature["properties"]["verdict"] == "vegetation"
    assert feature["properties"]["acquired_on"] == "2024-06-11"
    assert [p.name for p in target.parent.iterdir()] == ["verdicts.geojson"]  # no temp files left
