"""Verdicts over a period (polygon_verdict_between, `verdicts --from/--to`) and the monthly
roll-up (polygon_month_verdict), against a computation by hand from the stored counts.

The counts are written straight into counted_pair (with their expected pixels), so every number
here is known; `reference` below reads the rules as the README states them, in plain Python.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any

import psycopg
import pytest

from sclzonal.db.scl_classes import CLASS_COLUMNS
from tests.helpers import run_cli

CLEAR = {2, 4, 5, 6, 7, 11}
RULES = [  # label, classes, min_share, min_clear_share, min_coverage, priority
    ("water", {6}, 0.5, 0.5, 0.5, 10),
    ("vegetation", {4}, 0.8, 0.5, 0.9, 100),
]
SCENES = {"may20": dt.date(2024, 5, 20), "jun01": dt.date(2024, 6, 1),
          "jun11a": dt.date(2024, 6, 11), "jun11b": dt.date(2024, 6, 11),
          "jun25": dt.date(2024, 6, 25), "jul05": dt.date(2024, 7, 5)}
# polygon -> {scene: ({class: pixels}, expected pixels)}
PAIRS: dict[str, dict[str, tuple[dict[int, int], int]]] = {
    "steady": {"may20": ({4: 100}, 100), "jun01": ({4: 90, 9: 10}, 100),
               "jun25": ({5: 100}, 100), "jul05": ({4: 100}, 100)},
    "tiles": {"jun11a": ({4: 40}, 100), "jun11b": ({4: 95, 5: 5}, 100),
              "jun25": ({9: 100}, 100)},
    "partial_only": {"jun01": ({4: 40}, 100), "jul05": ({4: 30}, 100)},  # below both rules
    "cloudy": {"jun01": ({9: 100}, 100), "jun25": ({0: 20, 9: 80}, 100)},
    "two_rules": {"jun01": ({6: 60, 4: 40}, 100), "jun11a": ({6: 70}, 100),
                  "jun25": ({4: 90, 6: 10}, 100)},
    "never": {},
}


@pytest.fixture
def seeded(empty_conn: psycopg.Connection) -> dict[str, Any]:
    conn = empty_conn
    conn.execute("DELETE FROM sclzonal.verdict_rule")
    for label, classes, share, clear, coverage, priority in RULES:
        conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share,"
                     " min_coverage, priority) VALUES (%s, %s, %s, %s, %s, %s)",
                     (label, sorted(classes), share, clear, coverage, priority))
    conn.execute("UPDATE sclzonal.scl_class SET is_clear = value = ANY(%s)", (sorted(CLEAR),))
    (grid,) = conn.execute("INSERT INTO sclzonal.scene_grid (srid, upper_left_x, upper_left_y,"
                           " pixel_size_x, pixel_size_y, width, height)"
                           " VALUES (32633, 0, 0, 20, -20, 1, 1) RETURNING id").fetchone() or (0,)
    scene_ids = {}
    for key, day in SCENES.items():
        (scene_ids[key],) = conn.execute(
            "INSERT INTO sclzonal.scene (acquired_on, source, reference, checksum, srid, crs,"
            " grid_id, pixel_size_x, pixel_size_y, width, height, tile_size, footprint)"
            " VALUES (%s, 'geotiff', %s, %s, 32633, 'EPSG:32633', %s, 20, -20, 1, 1, 256,"
            "  ST_Multi(ST_MakeEnvelope(14, 45, 17, 47, 4326))) RETURNING id",
            (day, f"/data/{key}.tif", f"sha-{key}", grid)).fetchone() or (0,)
    polygon_ids = {}
    for index, (name, pairs) in enumerate(PAIRS.items()):
        (polygon_ids[name],) = conn.execute(
            "INSERT INTO sclzonal.polygon (source, source_fid, name, geom) VALUES ('test', %s, %s,"
            " ST_Multi(ST_Buffer(ST_Point(15 + %s * 0.01, 46, 4326), 0.001))) RETURNING id",
            (str(index), name, index)).fetchone() or (0,)
        for scene, (classes, expected) in pairs.items():
            conn.execute("INSERT INTO sclzonal.counted_pair (polygon_id, scene_id, expected_pixels, "
                         + ", ".join(CLASS_COLUMNS) + ") VALUES ("
                         + ", ".join(["%s"] * (3 + len(CLASS_COLUMNS))) + ")",
                         (polygon_ids[name], scene_ids[scene], expected,
                          *[classes.get(k, 0) for k in range(12)]))
    conn.execute("SELECT sclzonal.refresh_polygon_verdict()")
    return {"conn": conn, "scenes": scene_ids, "polygons": polygon_ids}


# --- the reference: the rules in plain Python ---------------------------------------------

def _observation(name: str, scenes: dict[str, int]) -> dict[dt.date, dict[str, Any]]:
    """The pair used on each date: highest coverage, then most clear pixels, then lowest id."""
    by_date: dict[dt.date, list[dict[str, Any]]] = {}
    for scene, (classes, expected) in PAIRS[name].items():
        total = sum(classes.values())
        observed = total - classes.get(0, 0)
        clear = sum(v for k, v in classes.items() if k in CLEAR)
        by_date.setdefault(SCENES[scene], []).append({
            "scene_id": scenes[scene], "classes": classes, "total": total, "clear": clear,
            "coverage": observed / expected if expected else 0.0})
    return {day: max(pairs, key=lambda p: (p["coverage"], p["clear"], -p["scene_id"]))
            for day, pairs in by_date.items()}


def _outcomes(pair: dict[str, Any]) -> dict[str, str]:
    outcomes = {}
    for label, classes, min_share, min_clear, min_coverage, _ in RULES:
        if pair["coverage"] < min_coverage:
            outcomes[label] = "partially_observed"
        elif pair["clear"] == 0 or pair["clear"] / pair["total"] < min_clear:
            outcomes[label] = "not_clear"
        else:
            share = sum(v for k, v in pair["classes"].items() if k in classes) / pair["clear"]
            outcomes[label] = "held" if share >= min_share else "below"
    return outcomes


def _verdict_of(pair: dict[str, Any]) -> str:
    outcomes = _outcomes(pair)
    for label, *_ in sorted(RULES, key=lambda rule: rule[5]):
        if outcomes[label] == "held":
            return label
    if any(o in ("held", "below") for o in outcomes.values()):
        return "other"
    if any(o != "partially_observed" for o in outcomes.values()):
        return "not_clear"
    return "partially_observed"


def reference(name: str, scenes: dict[str, int], first: dt.date, last: dt.date) -> dict[str, Any]:
    """polygon_verdict_between's columns that the test checks, for one polygon."""
    inside = {day: pair for day, pair in _observation(name, scenes).items() if first <= day <= last}
    verdicts = {day: _verdict_of(pair) for day, pair in inside.items()}
    evaluated = sorted(day for day, v in verdicts.items() if v not in ("not_clear", "partially_observed"))
    if evaluated:
        verdict = verdicts[evaluated[-1]]
    elif not verdicts:
        verdict = "no_pixels"
    elif all(v == "partially_observed" for v in verdicts.values()):
        verdict = "partially_observed"
    else:
        verdict = "no_clear_observation"
    held: dict[str, list[bool]] = {}
    for pair in inside.values():
        for label, outcome in _outcomes(pair).items():
            if outcome in ("held", "below"):
                held.setdefault(label, []).append(outcome == "held")
    return {"verdict": verdict,
            "acquired_on": evaluated[-1] if evaluated else None,
            "scene_id": inside[evaluated[-1]]["scene_id"] if evaluated else None,
            "observations": len(inside), "clear_observations": len(evaluated),
            "partial_observations": sum(v == "partially_observed" for v in verdicts.values()),
            "rule_held_shares": {k: sum(v) / len(v) for k, v in held.items()} or None}


PERIODS = [(dt.date(2024, 5, 1), dt.date(2024, 7, 31)), (dt.date(2024, 6, 1), dt.date(2024, 6, 30)),
           (dt.date(2024, 6, 2), dt.date(2024, 6, 24)), (dt.date(2024, 6, 11), dt.date(2024, 6, 11)),
           (dt.date(2024, 8, 1), dt.date(2024, 8, 31))]
CHECKED = ["verdict", "acquired_on", "scene_id", "observations", "clear_observations",
           "partial_observations", "rule_held_shares"]


def _rounded(row: dict[str, Any]) -> dict[str, Any]:
    """The checked columns, with the rule shares rounded so that they compare exactly."""
    shares = row["rule_held_shares"]
    return {**{k: row[k] for k in CHECKED},
            "rule_held_shares": None if shares is None else {k: round(v, 9) for k, v in shares.items()}}


def _between(conn: psycopg.Connection, first: dt.date | str,
             last: dt.date | str) -> dict[str, dict[str, Any]]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        rows = cursor.execute("SELECT name, " + ", ".join(CHECKED) +
                              " FROM sclzonal.polygon_verdict_between(%s, %s)",
                              (first, last)).fetchall()
    return {row.pop("name"): row for row in rows}


@pytest.mark.parametrize("period", PERIODS, ids=lambda p: f"{p[0]}..{p[1]}")
def test_periods_equal_the_hand_computation(seeded: dict[str, Any], period: tuple[dt.date, dt.date]) -> None:
    found = _between(seeded["conn"], *period)
    for name in PAIRS:
        mine = reference(name, seeded["scenes"], *period)
        assert _rounded(found[name]) == _rounded(mine), name


def test_stated_by_hand(seeded: dict[str, Any]) -> None:
    """A few numbers worked out on paper, so the reference itself is checked."""
    june = _between(seeded["conn"], dt.date(2024, 6, 1), dt.date(2024, 6, 30))
    assert june["steady"]["verdict"] == "other"  # 25 June: bare soil
    assert june["steady"]["rule_held_shares"] == {"vegetation": 0.5, "water": 0.0}
    assert june["tiles"]["scene_id"] == seeded["scenes"]["jun11b"]  # 11 June b covers all of it
    assert june["tiles"]["verdict"] == "vegetation"
    assert june["partial_only"]["verdict"] == "partially_observed"
    assert june["cloudy"]["verdict"] == "no_clear_observation"
    assert june["two_rules"]["rule_held_shares"] == {"water": pytest.approx(2 / 3),
                                                     "vegetation": 0.5}
    assert june["never"]["verdict"] == "no_pixels" and june["never"]["observations"] == 0


def test_polygon_verdict_is_the_period_of_all_dates(seeded: dict[str, Any]) -> None:
    conn = seeded["conn"]
    everything = _between(conn, "-infinity", "infinity")
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        stored = {row.pop("name"): row for row in cursor.execute(
            "SELECT name, " + ", ".join(CHECKED) + " FROM sclzonal.polygon_verdict").fetchall()}
    assert stored == everything
    for name in PAIRS:
        assert _rounded(stored[name]) == _rounded(
            reference(name, seeded["scenes"], dt.date.min, dt.date.max)), name


def test_verdicts_command_over_a_period(capsys: pytest.CaptureFixture[str], database_url: str,
                                        seeded: dict[str, Any]) -> None:
    code, out, err = run_cli(capsys, database_url, "verdicts", "--from", "2024-06-01", "--to",
                             "2024-06-30", "--format", "csv")
    assert code == 0, err
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(out))}
    for name in PAIRS:
        mine = reference(name, seeded["scenes"], dt.date(2024, 6, 1), dt.date(2024, 6, 30))
        assert rows[name]["verdict"] == mine["verdict"]
        assert int(rows[name]["observations"]) == mine["observations"]
        shares = json.loads(rows[name]["rule_held_shares"] or "null")
        assert shares == pytest.approx(mine["rule_held_shares"])
    code, out, _ = run_cli(capsys, database_url, "verdicts", "--to", "2024-05-31")
    assert code == 0 and "no_pixels 5, vegetation 1" in out  # only 'steady' was seen in May
    code, _, err = run_cli(capsys, database_url, "verdicts", "--from", "2024-07-01", "--to",
                           "2024-06-01")
    assert code == 2 and "--from 2024-07-01 is after --to 2024-06-01" in err


def test_monthly_roll_up(seeded: dict[str, Any]) -> None:
    conn = seeded["conn"]
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        rows = cursor.execute("SELECT * FROM sclzonal.polygon_month_verdict").fetchall()
    found = {(row["name"], row["month_start"]): row for row in rows}
    months = [(dt.date(2024, m, 1), dt.date(2024, m, last)) for m, last in ((5, 31), (6, 30), (7, 31))]
    expected_keys = set()
    for name in PAIRS:
        observations = _observation(name, seeded["scenes"])
        for first, last in months:
            inside = [pair for day, pair in observations.items() if first <= day <= last]
            if not inside:
                continue
            expected_keys.add((name, first))
            row = found[(name, first)]
            mine = reference(name, seeded["scenes"], first, last)
            assert (row["verdict"], row["observations"], row["clear_observations"],
                    row["partial_observations"]) == (mine["verdict"], mine["observations"],
                                                     mine["clear_observations"],
                                                     mine["partial_observations"]), (name, first)
            assert row["month_end"] == last
            clear = sum(pair["clear"] for pair in inside)
            shares = [sum(pair["classes"].get(k, 0) for pair in inside) / clear
                      if k in CLEAR and clear else None for k in range(12)]
            assert row["class_shares"] == pytest.approx(shares), (name, first)
            assert row["vegetation_share"] == pytest.approx(shares[4]), (name, first)
            assert row["id"] == seeded["polygons"][name] * 100000 + 2024 * 12 + first.month - 1
    assert set(found) == expected_keys
    # by hand: steady in June: 90 + 0 vegetation of 90 + 100 clear pixels
    assert found[("steady", dt.date(2024, 6, 1))]["vegetation_share"] == pytest.approx(90 / 190)
