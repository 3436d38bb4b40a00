"""Coverage and the one observation per acquisition date, against an independent computation.

Expected pixels are counted here with shapely.contains_xy over the pixel centres of the scene's
grid extended around the polygon; observed pixels with the same test over the raster itself
(tests.helpers.pixel_centre_counts); the per-date choice and the verdicts by a plain Python
reading of the rules. None of it uses sclzonal's scanline code or its SQL.
"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
import rasterio
import shapely
from affine import Affine
from shapely import box

from tests.helpers import (
    into_raster_crs,
    pixel_centre_counts,
    run_cli,
    to_crs,
    write_polygons,
    write_raster,
)

CLEAR = {2, 4, 5, 6, 7, 11}  # sclzonal.scl_class.is_clear as shipped
RULE = {"classes": {4}, "min_share": 0.8, "min_clear_share": 0.5, "min_coverage": 0.9}


def independent_expected(geometry_4326: Any, crs: str, transform: Affine) -> int:
    """Pixel centres inside the polygon on the grid of `transform`, extended without bound."""
    polygon = into_raster_crs(geometry_4326, crs)
    minx, miny, maxx, maxy = polygon.bounds
    first_col = math.floor((minx - transform.c) / transform.a) - 1
    last_col = math.ceil((maxx - transform.c) / transform.a) + 1
    first_row = math.floor((maxy - transform.f) / transform.e) - 1
    last_row = math.ceil((miny - transform.f) / transform.e) + 1
    rows, cols = np.mgrid[first_row:last_row + 1, first_col:last_col + 1]
    xs = transform.c + (cols + 0.5) * transform.a
    ys = transform.f + (rows + 0.5) * transform.e
    return int(shapely.contains_xy(polygon, xs, ys).sum())


def raster_grid(path: Path) -> tuple[str, Affine]:
    with rasterio.open(path) as dataset:
        return dataset.crs.to_string(), dataset.transform


def independent_pair(raster: Path, geometry_4326: Any) -> dict[str, Any]:
    """Counts, coverage and clear pixels of one (polygon, raster) pair, computed here."""
    crs, transform = raster_grid(raster)
    counts = pixel_centre_counts(raster, geometry_4326)
    total = sum(counts.values())
    observed = total - counts.get(0, 0)
    expected = independent_expected(geometry_4326, crs, transform)
    clear = sum(v for k, v in counts.items() if k in CLEAR)
    return {"counts": counts, "total": total, "observed": observed, "expected": expected,
            "coverage": observed / expected if expected else 0.0, "clear": clear}


def independent_verdict(pair: dict[str, Any]) -> str:
    """The verdict of one observation under the default rule, read from the rule's words."""
    if pair["coverage"] < RULE["min_coverage"]:
        return "partially_observed"
    if pair["clear"] == 0 or pair["clear"] / pair["total"] < RULE["min_clear_share"]:
        return "not_clear"
    share = sum(v for k, v in pair["counts"].items() if k in RULE["classes"]) / pair["clear"]
    return "vegetation" if share >= RULE["min_share"] else "other"


def independent_polygon_verdict(observations: dict[dt.date, dict[str, Any]]) -> tuple[str, dt.date | None]:
    """The polygon's verdict from its observations by date: the latest evaluated one."""
    verdicts = {day: independent_verdict(pair) for day, pair in observations.items()
                if pair["total"] > 0}
    evaluated = [day for day, verdict in verdicts.items()
                 if verdict not in ("not_clear", "partially_observed")]
    if evaluated:
        return verdicts[max(evaluated)], max(evaluated)
    if not verdicts:
        return "no_pixels", None
    if all(verdict == "partially_observed" for verdict in verdicts.values()):
        return "partially_observed", None
    return "no_clear_observation", None


def _polygons(conn: psycopg.Connection) -> dict[int, Any]:
    return {int(pid): shapely.from_wkb(bytes(wkb)) for pid, wkb in
            conn.execute("SELECT id, ST_AsBinary(geom) FROM sclzonal.polygon ORDER BY id")}


def _stored(conn: psycopg.Connection) -> dict[tuple[int, int], tuple[Any, ...]]:
    rows = conn.execute("SELECT polygon_id, scene_id, expected_pixels, observed_pixels, coverage"
                        " FROM sclzonal.zonal_class_summary").fetchall()
    return {(int(r[0]), int(r[1])): r[2:] for r in rows}


def test_slovenia_coverage_and_verdicts_equal_numpy(capsys: pytest.CaptureFixture[str],
                                                    database_url: str, conn: psycopg.Connection,
                                                    slovenia: Path) -> None:
    for args in (["polygons", "load", str(slovenia / "LULC.gpkg")],
                 ["scl", "load", "--tile-size", "32", *sorted(map(str, slovenia.glob("SCL_*.tif")))],
                 ["refresh"]):
        code, _, err = run_cli(capsys, database_url, *args)
        assert code == 0, err
    polygons = _polygons(conn)
    scenes = conn.execute("SELECT id, acquired_on FROM sclzonal.scene ORDER BY id").fetchall()
    stored = _stored(conn)
    partial = whole = 0
    observations: dict[int, dict[dt.date, dict[str, Any]]] = {pid: {} for pid in polygons}
    for scene_id, day in scenes:
        raster = slovenia / f"SCL_{day.isoformat()}.tif"
        for pid, geometry in polygons.items():
            mine = independent_pair(raster, geometry)
            expected, observed, coverage = stored[(pid, scene_id)]
            assert (expected, observed) == (mine["expected"], mine["observed"]), (pid, day)
            assert coverage == pytest.approx(mine["coverage"]), (pid, day)
            observations[pid][day] = mine
            partial += 0 < mine["coverage"] < 0.9
            whole += mine["coverage"] == 1
    assert partial > 20 and whole > 200  # the data has both: polygons reach past the rasters
    verdicts = {int(r[0]): (r[1], r[2]) for r in conn.execute(
        "SELECT polygon_id, verdict, acquired_on FROM sclzonal.polygon_verdict")}
    mine_verdicts = {pid: independent_polygon_verdict(obs) for pid, obs in observations.items()}
    assert verdicts == mine_verdicts
    assert {v for v, _ in verdicts.values()} >= {"vegetation", "partially_observed", "no_pixels"}


# Two overlapping 100 x 100 tiles of one date in UTM 33N (20 m): A spans x 500000-502000,
# B spans x 501000-503000; both y 5098000-5100000. A is vegetation with a cloud block in
# x 501400-501600; B is bare soil (class 5).
DAY = dt.date(2024, 6, 5)
TILE_A = Affine(20, 0, 500000, 0, -20, 5100000)
TILE_B = Affine(20, 0, 501000, 0, -20, 5100000)


def _tile_a() -> np.ndarray:
    array = np.full((100, 100), 4, dtype=np.uint8)
    array[:, 70:80] = 9
    return array


def _utm(minx: float, miny: float, maxx: float, maxy: float) -> Any:
    return to_crs(box(minx, miny, maxx, maxy), "EPSG:32633", "EPSG:4326")


PARCELS = {
    "split": _utm(501800, 5099000, 502400, 5099400),     # A sees a third, B all
    "overlap_cloud": _utm(501300, 5098600, 501700, 5098800),  # both whole; A has cloud
    "overlap_clear": _utm(501100, 5098200, 501300, 5098400),  # both whole and clear: lower id
    "half": _utm(502800, 5099000, 503400, 5099400),      # B sees a third, A nothing
    "tiny_empty": _utm(500101, 5099501, 500109, 5099509),  # holds no pixel centre
    "tiny_centre": _utm(500205, 5099605, 500215, 5099615),  # smaller than a pixel, one centre
}


def _zone_parcel() -> tuple[Any, Affine, Affine]:
    """A parcel across 18 E (the UTM 33/34 boundary) and two grids of one date: zone 33 covers
    its western part only, zone 34 all of it."""
    parcel = box(17.995, 46.000, 18.006, 46.004)
    west = to_crs(parcel, "EPSG:4326", "EPSG:32633").bounds
    east = to_crs(parcel, "EPSG:4326", "EPSG:32634").bounds
    zone33 = Affine(20, 0, math.floor(west[0] / 20) * 20 - 400, 0, -20,
                    math.ceil(west[3] / 20) * 20 + 400)
    zone34 = Affine(20, 0, math.floor(east[0] / 20) * 20 - 400, 0, -20,
                    math.ceil(east[3] / 20) * 20 + 400)
    return parcel, zone33, zone34


def test_one_observation_per_date_across_tiles_and_zones(
        capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
        tmp_path: Path) -> None:
    conn = empty_conn
    zone_parcel, zone33, zone34 = _zone_parcel()
    west_width = round((to_crs(zone_parcel, "EPSG:4326", "EPSG:32633").bounds[2]
                        - zone33.c) / 20) - 25  # ends well inside the parcel
    rasters = {
        "a": write_raster(tmp_path / "a.tif", _tile_a(), transform=TILE_A, date=DAY),
        "b": write_raster(tmp_path / "b.tif", np.full((100, 100), 5, np.uint8), transform=TILE_B,
                          date=DAY),
        "z33": write_raster(tmp_path / "z33.tif", np.full((100, west_width), 4, np.uint8),
                            transform=zone33, date=DAY),
        "z34": write_raster(tmp_path / "z34.tif", np.full((100, 100), 6, np.uint8),
                            crs="EPSG:32634", transform=zone34, date=DAY),
    }
    names = [*PARCELS, "zones"]
    geometries = [*PARCELS.values(), zone_parcel]
    fields = write_polygons(tmp_path / "parcels.gpkg", geometries, "EPSG:4326")
    for args in (["polygons", "load", str(fields)],
                 ["scl", "load", *map(str, rasters.values())], ["refresh"]):
        code, _, err = run_cli(capsys, database_url, *args)
        assert code == 0, err
    scene_of = {key: int(conn.execute("SELECT id FROM sclzonal.scene WHERE reference = %s",
                                      (str(path.resolve()),)).fetchone()[0])  # type: ignore[index]
                for key, path in rasters.items()}
    polygons = _polygons(conn)
    ids = dict(zip(names, sorted(polygons), strict=True))
    stored = _stored(conn)
    chosen = {int(r[0]): int(r[1]) for r in conn.execute(
        "SELECT polygon_id, scene_id FROM sclzonal.polygon_observation")}
    verdicts = {int(r[0]): r[1] for r in conn.execute(
        "SELECT polygon_id, verdict FROM sclzonal.polygon_verdict")}
    for name in names:
        pid = ids[name]
        pairs = {key: independent_pair(path, polygons[pid]) for key, path in rasters.items()}
        for key, mine in pairs.items():
            if (pid, scene_of[key]) in stored:
                expected, observed, _ = stored[(pid, scene_of[key])]
                assert (expected, observed) == (mine["expected"], mine["observed"]), (name, key)
            else:
                assert mine["total"] == 0, (name, key)  # not counted: outside the footprint
        seen = [key for key, mine in pairs.items() if mine["total"] > 0]
        if not seen:
            assert pid not in chosen and verdicts[pid] == "no_pixels", name
            continue
        best = max(seen, key=lambda key: (pairs[key]["coverage"], pairs[key]["clear"],
                                          -scene_of[key]))
        assert chosen[pid] == scene_of[best], name
        assert verdicts[pid] == independent_verdict(pairs[best]), name
    # What the cases are meant to show, stated plainly.
    assert chosen[ids["split"]] == scene_of["b"] and verdicts[ids["split"]] == "other"
    assert chosen[ids["overlap_cloud"]] == scene_of["b"]  # A is cloudy there: fewer clear pixels
    assert chosen[ids["overlap_clear"]] == scene_of["a"]  # a tie: the lower scene id
    assert verdicts[ids["half"]] == "partially_observed"
    assert chosen[ids["zones"]] == scene_of["z34"]
    assert verdicts[ids["zones"]] == "other"  # water in zone 34; zone 33's vegetation is partial
    assert verdicts[ids["tiny_empty"]] == "no_pixels"
    assert stored[(ids["tiny_empty"], scene_of["a"])] == (0, 0, 0.0)  # expected 0: coverage 0
    assert stored[(ids["tiny_centre"], scene_of["a"])] == (1, 1, 1.0)
    assert verdicts[ids["tiny_centre"]] == "vegetation"
    summary = conn.execute("SELECT coverage FROM sclzonal.polygon_verdict WHERE polygon_id = %s",
                           (ids["half"],)).fetchone()
    assert summary == (None,)  # no evaluated observation: nothing to rest on


def test_min_coverage_is_per_rule_and_takes_effect_at_refresh(
        capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
        tmp_path: Path) -> None:
    conn = empty_conn
    raster = write_raster(tmp_path / "b.tif", np.full((100, 100), 4, np.uint8), transform=TILE_B,
                          date=DAY)
    fields = write_polygons(tmp_path / "half.gpkg", [PARCELS["half"]], "EPSG:4326")
    for args in (["polygons", "load", str(fields)], ["scl", "load", str(raster)], ["refresh"]):
        assert run_cli(capsys, database_url, *args)[0] == 0
    assert conn.execute("SELECT verdict FROM sclzonal.polygon_verdict").fetchone() == \
        ("partially_observed",)
    counted = conn.execute("SELECT counted_at FROM sclzonal.counted_pair").fetchall()
    conn.execute("UPDATE sclzonal.verdict_rule SET min_coverage = 0.3 WHERE label = 'vegetation'")
    assert conn.execute("SELECT verdict FROM sclzonal.polygon_verdict").fetchone() == \
        ("partially_observed",)  # stored until the next refresh
    code, out, _ = run_cli(capsys, database_url, "refresh")
    assert code == 0 and "counted 0 new" in out
    verdict, coverage = conn.execute(
        "SELECT verdict, coverage FROM sclzonal.polygon_verdict").fetchone()  # type: ignore[misc]
    assert (verdict, coverage) == ("vegetation", pytest.approx(1 / 3))
    assert conn.execute("SELECT counted_at FROM sclzonal.counted_pair").fetchall() == counted
