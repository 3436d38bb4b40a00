"""Class counts in the awkward cases, each against an independent numpy pixel-centre count."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import numpy as np
import psycopg
import pytest
from affine import Affine
from shapely import MultiPolygon, Polygon, box

from tests.helpers import (
    cli_ok,
    pixel_centre_counts,
    stored_counts,
    to_crs,
    write_polygons,
    write_raster,
)

ORIGIN_X, ORIGIN_Y, PIXEL = 500000.0, 5100000.0, 20.0
SIZE = 120  # pixels; tiles of 16 px make 8 x 8 tiles, the last ones partial


def _utm(col: float, row: float) -> tuple[float, float]:
    return ORIGIN_X + col * PIXEL, ORIGIN_Y - row * PIXEL


def _box_px(col0: float, row0: float, col1: float, row1: float) -> Polygon:
    x0, y0 = _utm(col0, row1)
    x1, y1 = _utm(col1, row0)
    return box(x0, y0, x1, y1)


CASES: dict[str, object] = {
    # a 40 x 30 px field over several 16 px tiles; its edges 0.3 px off the pixel edges
    "crosses_tiles": _box_px(10.3, 12.3, 50.3, 42.3),
    # a 5 m square around a pixel centre (1 pixel) and one between centres (none)
    "tiny_with_centre": _box_px(60.4, 60.4, 60.6, 60.6),
    "tiny_without_centre": _box_px(60.05, 60.05, 60.3, 60.3),
    # two overlapping fields
    "overlap_a": _box_px(70.2, 10.2, 90.2, 30.2),
    "overlap_b": _box_px(80.7, 20.7, 100.7, 40.7),
    # a multipolygon with parts in distant tiles
    "multi": MultiPolygon([_box_px(2.2, 90.2, 12.2, 100.2), _box_px(100.2, 100.2, 110.2, 115.2)]),
    # an irregular polygon reaching past the raster's edge
    "past_edge": Polygon([_utm(110.3, 50.1), _utm(130.2, 45.6), _utm(125.5, 70.2), _utm(105.1, 66.6)]),
    # far from every scene
    "outside": _box_px(-500.3, -500.3, -480.3, -480.3),
    # the block where the scene has class 0 (no data)
    "class_zero": _box_px(20.4, 70.4, 40.4, 85.4),
}


def _scene_array(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    array = rng.integers(0, 12, size=(SIZE, SIZE), dtype=np.uint8)
    array[65:90, 15:45] = 0
    return array


@pytest.fixture(scope="module")
def setup(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("synthetic")
    names = list(CASES)
    utm = [CASES[name] for name in names]
    # polygons stored in three other CRSs than the raster's
    write_polygons(folder / "fields_3857.gpkg",
                   [to_crs(g, "EPSG:32633", "EPSG:3857") for g in utm[:4]], "EPSG:3857")
    write_polygons(folder / "fields_4326.geojson",
                   [to_crs(g, "EPSG:32633", "EPSG:4326") for g in utm[4:7]], "EPSG:4326",
                   driver="GeoJSON", ids=[5, 6, 7])
    write_polygons(folder / "fields_utm34.shp",
                   [to_crs(g, "EPSG:32633", "EPSG:32634") for g in utm[7:]], "EPSG:32634",
                   driver="ESRI Shapefile", ids=[8, 9])
    transform = Affine(PIXEL, 0, ORIGIN_X, 0, -PIXEL, ORIGIN_Y)
    rasters = {
        "a": write_raster(folder / "scene_a.tif", _scene_array(1), transform=transform,
                          date=dt.date(2024, 6, 1)),
        "b": write_raster(folder / "scene_b.tif", _scene_array(2), transform=transform,
                          date=dt.date(2024, 6, 11)),
    }
    # the same ground in the neighbouring UTM zone (34), on its own 20 m grid
    corner = to_crs(box(*_utm(0, SIZE), *_utm(SIZE, 0)), "EPSG:32633", "EPSG:32634").bounds
    rasters["zone34"] = write_raster(
        folder / "scene_zone34.tif", _scene_array(3), crs="EPSG:32634",
        transform=Affine(PIXEL, 0, round(corner[0], -1), 0, -PIXEL, round(corner[3], -1)),
        date=dt.date(2024, 6, 21))
    cli_ok(database_url, "polygons", "load", str(folder / "fields_3857.gpkg"), "--source", "s1",
           "--id-field", "ident")
    cli_ok(database_url, "polygons", "load", str(folder / "fields_4326.geojson"), "--source", "s2",
           "--id-field", "ident")
    cli_ok(database_url, "polygons", "load", str(folder / "fields_utm34.shp"), "--source", "s3",
           "--id-field", "ident")
    cli_ok(database_url, "scl", "load", "--tile-size", "16", *(str(p) for p in rasters.values()))
    cli_ok(database_url, "refresh")
    return rasters


def _polygon_ids(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT source_fid::int, id FROM sclzonal.polygon").fetchall()
    by_ident = dict(rows)
    return {name: by_ident[index + 1] for index, name in enumerate(CASES)}


def _scene_ids(conn: psycopg.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT reference, id FROM sclzonal.scene").fetchall()
    return {Path(reference).stem.removeprefix("scene_"): scene_id for reference, scene_id in rows}


def test_every_case_matches_numpy(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    polygons, scenes = _polygon_ids(conn), _scene_ids(conn)
    import shapely

    for name, polygon_id in polygons.items():
        (wkb,) = conn.execute("SELECT ST_AsBinary(geom) FROM sclzonal.polygon WHERE id = %s",
                              (polygon_id,)).fetchone() or (None,)
        for key, raster in setup.items():
            expected = pixel_centre_counts(raster, shapely.from_wkb(bytes(wkb)))
            assert stored_counts(conn, polygon_id, scenes[key]) == expected, (name, key)


def test_crossing_tiles_counts_the_whole_block(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    polygon_id, scene_id = _polygon_ids(conn)["crosses_tiles"], _scene_ids(conn)["a"]
    block = _scene_array(1)[12:42, 10:50]  # pixel centres inside the 0.3 px offset box
    expected = Counter({k: int(v) for k, v in enumerate(np.bincount(block.ravel(), minlength=12)) if v})
    assert stored_counts(conn, polygon_id, scene_id) == expected
    assert sum(expected.values()) == 40 * 30


def test_tiny_polygons(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    ids, scene_id = _polygon_ids(conn), _scene_ids(conn)["a"]
    centre_class = int(_scene_array(1)[60, 60])
    assert stored_counts(conn, ids["tiny_with_centre"], scene_id) == Counter({centre_class: 1})
    assert stored_counts(conn, ids["tiny_without_centre"], scene_id) == Counter()
    verdict = conn.execute("SELECT verdict FROM sclzonal.polygon_verdict WHERE polygon_id = %s",
                           (ids["tiny_without_centre"],)).fetchone()
    assert verdict == ("no_pixels",)


def test_polygon_outside_every_scene(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    polygon_id = _polygon_ids(conn)["outside"]
    assert conn.execute("SELECT count(*) FROM sclzonal.counted_pair WHERE polygon_id = %s",
                        (polygon_id,)).fetchone() == (0,)
    assert conn.execute("SELECT verdict, acquired_on FROM sclzonal.polygon_verdict "
                        "WHERE polygon_id = %s", (polygon_id,)).fetchone() == ("no_pixels", None)


def test_overlapping_polygons_each_get_their_pixels(conn: psycopg.Connection,
                                                    setup: dict[str, Path]) -> None:
    ids, scene_id = _polygon_ids(conn), _scene_ids(conn)["a"]
    a = stored_counts(conn, ids["overlap_a"], scene_id)
    b = stored_counts(conn, ids["overlap_b"], scene_id)
    assert sum(a.values()) == 400 and sum(b.values()) == 400


def test_multipolygon_counts_both_parts(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    polygon_id, scene_id = _polygon_ids(conn)["multi"], _scene_ids(conn)["a"]
    array = _scene_array(1)
    parts = np.concatenate([array[90:100, 2:12].ravel(), array[100:115, 100:110].ravel()])
    expected = Counter({k: int(v) for k, v in enumerate(np.bincount(parts, minlength=12)) if v})
    assert stored_counts(conn, polygon_id, scene_id) == expected


def test_class_zero_is_counted(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    polygon_id, scene_id = _polygon_ids(conn)["class_zero"], _scene_ids(conn)["a"]
    assert stored_counts(conn, polygon_id, scene_id) == Counter({0: 20 * 15})


def test_scenes_in_two_utm_zones(conn: psycopg.Connection, setup: dict[str, Path]) -> None:
    scenes = conn.execute("SELECT DISTINCT srid FROM sclzonal.scene").fetchall()
    assert sorted(s for (s,) in scenes) == [32633, 32634]
    polygon_id, scene_id = _polygon_ids(conn)["crosses_tiles"], _scene_ids(conn)["zone34"]
    assert sum(stored_counts(conn, polygon_id, scene_id).values()) > 1000


def _snapshot(conn: psycopg.Connection) -> dict[str, list[tuple[object, ...]]]:
    queries = {
        "polygon": "SELECT id, source, source_fid, name, attributes::text, ST_AsEWKB(geom), updated_at"
                   " FROM sclzonal.polygon ORDER BY id",
        "scene": "SELECT id, acquired_on, checksum, loaded_at FROM sclzonal.scene ORDER BY id",
        "scene_tile": "SELECT id, scene_id, md5(rast::text) FROM sclzonal.scene_tile ORDER BY id",
        "counted_pair": "SELECT * FROM sclzonal.counted_pair ORDER BY 1, 2",
        "pixel_map": "SELECT * FROM sclzonal.pixel_map ORDER BY 1, 2",
        "polygon_verdict": "SELECT polygon_id, verdict, acquired_on, rule_share"
                           " FROM sclzonal.polygon_verdict ORDER BY 1",
    }
    return {name: conn.execute(query).fetchall() for name, query in queries.items()}  # type: ignore[arg-type]


def test_loading_everything_again_leaves_the_same_rows(conn: psycopg.Connection, database_url: str,
                                                       setup: dict[str, Path]) -> None:
    before = _snapshot(conn)
    folder = setup["a"].parent
    for name, source in (("fields_3857.gpkg", "s1"), ("fields_4326.geojson", "s2"),
                         ("fields_utm34.shp", "s3")):
        cli_ok(database_url, "polygons", "load", str(folder / name), "--source", source,
               "--id-field", "ident")
    cli_ok(database_url, "scl", "load", "--tile-size", "16", *(str(p) for p in setup.values()))
    cli_ok(database_url, "refresh")
    after = _snapshot(conn)
    assert after == before
    assert len(before["scene_tile"]) == 3 * 64 and len(before["polygon"]) == len(CASES)
