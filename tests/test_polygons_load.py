"""`sclzonal polygons load`: formats, CRSs, attributes, repairs, skips, updates and errors."""

from __future__ import annotations

import json
from pathlib import Path

import fiona
import psycopg
import pytest
import shapely
from shapely import MultiPolygon, Polygon, box

from tests.helpers import run_cli, table_counts, to_crs, write_polygons

FIELDS_UTM = [box(500000, 5100000, 500200, 5100100), box(500300, 5100000, 500500, 5100250)]


@pytest.mark.parametrize(("driver", "suffix", "crs"), [
    ("GPKG", ".gpkg", "EPSG:32633"),
    ("ESRI Shapefile", ".shp", "EPSG:3035"),
    ("GeoJSON", ".geojson", "EPSG:4326"),
])
def test_formats_and_crs_end_in_4326(capsys: pytest.CaptureFixture[str], database_url: str,
                                     empty_conn: psycopg.Connection, tmp_path: Path, driver: str,
                                     suffix: str, crs: str) -> None:
    path = write_polygons(tmp_path / f"fields{suffix}",
                          [to_crs(g, "EPSG:32633", crs) for g in FIELDS_UTM], crs, driver=driver)
    code, out, err = run_cli(capsys, database_url, "polygons", "load", str(path),
                             "--id-field", "ident", "--name-field", "name")
    assert code == 0, err
    assert "2 new" in out
    rows = empty_conn.execute(
        "SELECT source, source_fid, name, attributes, ST_SRID(geom), GeometryType(geom),"
        " ST_Area(ST_Transform(geom, 32633)) FROM sclzonal.polygon ORDER BY source_fid").fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        ("fields", "1", "polygon 1"),
        ("fields", "2", "polygon 2"),
    ]
    assert rows[0][3] == {"ident": 1, "name": "polygon 1"}
    assert {r[4] for r in rows} == {4326} and {r[5] for r in rows} == {"MULTIPOLYGON"}
    assert [r[6] for r in rows] == pytest.approx([g.area for g in FIELDS_UTM], rel=1e-6)


def test_invalid_repaired_empty_and_null_skipped(capsys: pytest.CaptureFixture[str], database_url: str,
                                                 empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    bowtie = Polygon([(15.0, 46.0), (15.01, 46.01), (15.01, 46.0), (15.0, 46.01), (15.0, 46.0)])
    assert not bowtie.is_valid
    path = write_polygons(tmp_path / "mixed.gpkg",
                          [box(15, 46, 15.01, 46.01), bowtie, Polygon(), None], "EPSG:4326")
    code, out, err = run_cli(capsys, database_url, "polygons", "load", str(path))
    assert code == 0, err
    assert "4 features: 2 new" in out and "1 repaired" in out and "2 skipped" in out
    rows = empty_conn.execute("SELECT source_fid, ST_IsValid(geom), ST_Area(geom) FROM sclzonal.polygon"
                              " ORDER BY source_fid").fetchall()
    assert [r[0] for r in rows] == ["1", "2"]
    assert all(r[1] for r in rows)
    assert rows[1][2] == pytest.approx(0.01 * 0.01 / 2)  # the bow-tie's two triangles


def test_loading_again_updates_instead_of_duplicating(capsys: pytest.CaptureFixture[str],
                                                      database_url: str, empty_conn: psycopg.Connection,
                                                      tmp_path: Path) -> None:
    path = write_polygons(tmp_path / "fields.gpkg", [box(15, 46, 15.01, 46.01),
                                                      box(15.02, 46, 15.03, 46.01)], "EPSG:4326")
    assert run_cli(capsys, database_url, "polygons", "load", str(path), "--id-field", "ident")[0] == 0
    first = empty_conn.execute(
        "SELECT id, source_fid, updated_at FROM sclzonal.polygon ORDER BY id").fetchall()
    code, out, _ = run_cli(capsys, database_url, "polygons", "load", str(path), "--id-field", "ident")
    assert code == 0 and "0 new, 0 updated, 2 unchanged" in out
    again = empty_conn.execute("SELECT id, source_fid, updated_at FROM sclzonal.polygon ORDER BY id")
    assert again.fetchall() == first
    # the second field moves: same row, new geometry
    write_polygons(path, [box(15, 46, 15.01, 46.01), box(15.05, 46, 15.06, 46.01)], "EPSG:4326")
    code, out, _ = run_cli(capsys, database_url, "polygons", "load", str(path), "--id-field", "ident")
    assert code == 0 and "0 new, 1 updated, 1 unchanged" in out
    rows = empty_conn.execute("SELECT id, ST_XMin(geom) FROM sclzonal.polygon ORDER BY id").fetchall()
    assert [r[0] for r in rows] == [r[0] for r in first]
    assert rows[1][1] == pytest.approx(15.05)


def test_changed_geometry_forgets_its_counts(database_url: str, empty_conn: psycopg.Connection) -> None:
    empty_conn.execute("INSERT INTO sclzonal.polygon (source, source_fid, geom) VALUES"
                       " ('s', '1', ST_Multi(ST_MakeEnvelope(15, 46, 15.1, 46.1, 4326))),"
                       " ('s', '2', ST_Multi(ST_MakeEnvelope(16, 46, 16.1, 46.1, 4326)))")
    empty_conn.execute("INSERT INTO sclzonal.scene_grid (srid, upper_left_x, upper_left_y, pixel_size_x,"
                       " pixel_size_y, width, height) VALUES (32633, 0, 0, 20, -20, 1, 1)")
    empty_conn.execute("INSERT INTO sclzonal.scene (acquired_on, source, reference, checksum, srid, crs,"
                       " grid_id, pixel_size_x, pixel_size_y, width, height, tile_size, footprint)"
                       " SELECT '2024-06-01', 't', 't', 'c', 32633, 'EPSG:32633', id, 20, -20, 1, 1, 256,"
                       "  ST_Multi(ST_MakeEnvelope(14, 45, 17, 47, 4326)) FROM sclzonal.scene_grid")
    empty_conn.execute("INSERT INTO sclzonal.counted_pair (polygon_id, scene_id, class_4)"
                       " SELECT p.id, s.id, 10 FROM sclzonal.polygon p, sclzonal.scene s")
    empty_conn.execute("INSERT INTO sclzonal.pixel_map (grid_id, polygon_id, polygon_version, spans)"
                       " SELECT g.id, p.id, 0, '' FROM sclzonal.polygon p, sclzonal.scene_grid g")
    empty_conn.execute("UPDATE sclzonal.polygon SET name = 'renamed'")
    assert table_counts(empty_conn)["counted_pair"] == 2 and table_counts(empty_conn)["pixel_map"] == 2
    empty_conn.execute("UPDATE sclzonal.polygon SET geom = ST_Multi(ST_MakeEnvelope(15, 46, 15.2, 46.1,"
                       " 4326)) WHERE source_fid = '1'")
    for table in ("counted_pair", "pixel_map"):
        left = empty_conn.execute(f"SELECT p.source_fid FROM sclzonal.{table} c"
                                  " JOIN sclzonal.polygon p ON p.id = c.polygon_id").fetchall()
        assert left == [("2",)]


def test_multipolygon_and_3d_are_kept_2d(capsys: pytest.CaptureFixture[str], database_url: str,
                                         empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    multi = MultiPolygon([box(15, 46, 15.01, 46.01), box(15.1, 46, 15.11, 46.01)])
    lifted = shapely.force_3d(box(15.2, 46, 15.21, 46.01), 300.0)
    path = tmp_path / "multi.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"k": "a"}, "geometry": shapely.geometry.mapping(multi)},
        {"type": "Feature", "properties": {"k": "b"}, "geometry": shapely.geometry.mapping(lifted)},
    ]}))
    assert run_cli(capsys, database_url, "polygons", "load", str(path))[0] == 0
    rows = empty_conn.execute("SELECT ST_NumGeometries(geom), ST_NDims(geom) FROM sclzonal.polygon"
                              " ORDER BY source_fid").fetchall()
    assert rows == [(2, 2), (1, 2)]


def _write_lines(path: Path) -> Path:
    schema = {"geometry": "LineString", "properties": {"id": "int"}}
    with fiona.open(path, "w", driver="GPKG", crs="EPSG:4326", schema=schema) as sink:
        sink.write({"geometry": {"type": "LineString", "coordinates": [(15, 46), (15.1, 46.1)]},
                    "properties": {"id": 1}})
    return path


def _two_layers(path: Path) -> Path:
    write_polygons(path, FIELDS_UTM, "EPSG:32633", layer="one")
    write_polygons(path, FIELDS_UTM, "EPSG:32633", layer="two")
    return path


def _duplicate_ids(path: Path) -> Path:
    return write_polygons(path, FIELDS_UTM, "EPSG:32633", ids=[7, 7])


def _no_crs(path: Path) -> Path:
    path.write_text('{"type": "FeatureCollection", "crs": null, "features": []}')
    schema = {"geometry": "Polygon", "properties": {"ident": "int"}}
    with fiona.open(path.with_suffix(".shp"), "w", driver="ESRI Shapefile", schema=schema) as sink:
        sink.write({"geometry": shapely.geometry.mapping(box(0, 0, 1, 1)), "properties": {"ident": 1}})
    return path.with_suffix(".shp")


POLYGON_REJECTS = [
    ("lines.gpkg", _write_lines, [], "is a LineString; polygons only"),
    ("layers.gpkg", _two_layers, [], "has 2 layers, choose one with --layer: one, two"),
    ("layers2.gpkg", _two_layers, ["--layer", "three"], "no layer 'three' (layers: one, two)"),
    ("dups.gpkg", _duplicate_ids, ["--id-field", "ident"], "feature id '7' occurs more than once"),
    ("fields.gpkg", lambda p: write_polygons(p, FIELDS_UTM, "EPSG:32633"), ["--id-field", "nope"],
     "has no field 'nope' (--id-field)"),
    ("nocrs.json", _no_crs, [], "has no CRS"),
    ("missing.gpkg", lambda p: p, [], "no such file"),
    ("garbage.gpkg", lambda p: (p.write_bytes(b"\x00garbage" * 100), p)[1], [], "not a readable vector file"),
]


@pytest.mark.parametrize(("name", "make", "options", "message"), POLYGON_REJECTS,
                         ids=[r[0] + str(i) for i, r in enumerate(POLYGON_REJECTS)])
def test_rejected_polygons_write_nothing(capsys: pytest.CaptureFixture[str], database_url: str,
                                         empty_conn: psycopg.Connection, tmp_path: Path, name: str,
                                         make: object, options: list[str], message: str) -> None:
    assert callable(make)
    path = make(tmp_path / name)
    code, out, err = run_cli(capsys, database_url, "polygons", "load", str(path), *options)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sclzonal: error: "), err
    assert message in lines[0]
    assert table_counts(empty_conn)["polygon"] == 0
