"""Bad input beyond tests/test_scl_load.py and tests/test_polygons_load.py: each refused with one
line naming the file and the problem, exit code 1, and the database exactly as before."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import rasterio

from sclzonal.errors import UserError
from tests import bad_input_files as make
from tests.helpers import database_snapshot as snapshot
from tests.helpers import run_cli, write_polygons, write_raster


@pytest.fixture(scope="module")
def baseline(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[psycopg.Connection]:
    """The module's database holding one polygon source and one scene, so "unchanged" means
    something. Refused inputs leave it as it is; accepted ones add sources of their own."""
    folder = tmp_path_factory.mktemp("baseline")
    fields = write_polygons(folder / "base.gpkg", [make.SQUARE], "EPSG:4326")
    scene = write_raster(folder / "base_20240601.tif", make.GOOD)
    from sclzonal.cli import main

    assert main(["--database-url", database_url, "polygons", "load", str(fields)]) == 0
    assert main(["--database-url", database_url, "scl", "load", str(scene)]) == 0
    with psycopg.connect(database_url, autocommit=True) as conn:
        yield conn


def refused(capsys: pytest.CaptureFixture[str], url: str, conn: psycopg.Connection, args: list[str],
            message: str) -> str:
    """Run the CLI, assert one error line holding `message`, exit 1, nothing changed."""
    before = snapshot(conn)
    code, out, err = run_cli(capsys, url, *args)
    lines = err.strip().splitlines()
    assert code == 1, (out, err)
    assert len(lines) == 1 and lines[0].startswith("sclzonal: error: "), err
    assert message in lines[0], lines[0]
    assert "Traceback" not in out + err
    assert snapshot(conn) == before
    return lines[0]


POLYGONS: list[tuple[str, Callable[[Path], Path], list[str], str]] = [
    ("points.gpkg", make.points, [], "feature 1 is a Point; polygons only"),
    ("mixed.geojson", make.mixed, [], "feature 2 is a LineString; polygons only"),
    ("collection.geojson", make.collection, [], "is a GeometryCollection; polygons only"),
    ("latin1.shp", make.latin1_declared_utf8, [],
     "feature 0: field 'name' is not valid text in the file's encoding"),
    ("badutf8.geojson", make.bad_utf8_geojson, [], "field 'name' is not valid text"),
    ("dupids.geojson", make.duplicate_geojson_ids, [], "its feature ids are not unique"),
    ("nullid.geojson", make.null_id, ["--id-field", "code"], "feature 1 has no value in --id-field"),
    ("empty.gpkg", make.empty_layer, [], "has no polygon to load (0 features"),
    ("nulls.geojson", make.only_null_and_empty, [], "has no polygon to load (2 features"),
    ("poles.geojson", make.beyond_the_poles, [], "feature 1 lies outside the Earth"),
    ("utm.gpkg", make.utm_declared_4326, [], "is the layer's CRS right?"),
    ("square.geojson", lambda p: make.geojson(p, [make.feature(make.mapping(make.SQUARE))]),
     ["--encoding", "klingon"], "--encoding 'klingon' is not a known text encoding"),
    ("square2.geojson", lambda p: make.geojson(p, [make.feature(make.mapping(make.SQUARE))]),
     ["--source", "  "], "--source must not be empty"),
]


@pytest.mark.parametrize(("name", "writer", "options", "message"), POLYGONS,
                         ids=[case[0] for case in POLYGONS])
def test_bad_polygons(capsys: pytest.CaptureFixture[str], database_url: str,
                      baseline: psycopg.Connection, tmp_path: Path, name: str,
                      writer: Callable[[Path], Path], options: list[str], message: str) -> None:
    path = writer(tmp_path / name)
    line = refused(capsys, database_url, baseline, ["polygons", "load", str(path), *options], message)
    assert "--encoding" not in message or "klingon" in line or "--encoding latin1" in line


def test_declared_and_given_encodings_decode(capsys: pytest.CaptureFixture[str], database_url: str,
                                             baseline: psycopg.Connection, tmp_path: Path) -> None:
    wrong = make.latin1_declared_utf8(tmp_path / "wrong.shp")
    assert run_cli(capsys, database_url, "polygons", "load", str(wrong), "--encoding", "latin1")[0] == 0
    undeclared = make.latin1_undeclared(tmp_path / "undeclared.shp")
    assert run_cli(capsys, database_url, "polygons", "load", str(undeclared))[0] == 0
    names = baseline.execute("SELECT source, attributes->>'name' FROM sclzonal.polygon"
                             " WHERE source IN ('wrong', 'undeclared') ORDER BY 1").fetchall()
    assert names == [("undeclared", "Zürich café"), ("wrong", "Zürich café")]


def test_duplicate_file_ids_load_with_an_id_field(capsys: pytest.CaptureFixture[str], database_url: str,
                                                  baseline: psycopg.Connection, tmp_path: Path) -> None:
    path = make.duplicate_geojson_ids(tmp_path / "dups.geojson")
    code, out, err = run_cli(capsys, database_url, "polygons", "load", str(path), "--id-field", "code")
    assert code == 0 and "2 new" in out, err


def test_measured_and_3d_coordinates_are_stored_2d(capsys: pytest.CaptureFixture[str], database_url: str,
                                                   baseline: psycopg.Connection, tmp_path: Path) -> None:
    path = make.measured(tmp_path / "measured.gpkg")
    code, out, err = run_cli(capsys, database_url, "polygons", "load", str(path), "--id-field", "ident")
    assert code == 0 and "2 new" in out, err
    rows = baseline.execute("SELECT ST_NDims(geom), ST_Zmflag(geom), ST_Area(geom) FROM sclzonal.polygon"
                            " WHERE source = 'measured'").fetchall()
    assert [r[:2] for r in rows] == [(2, 0)] * 2
    assert all(r[2] == pytest.approx(make.SQUARE.area) for r in rows)


def test_repairs_and_skips_are_named(capsys: pytest.CaptureFixture[str], database_url: str,
                                     baseline: psycopg.Connection, tmp_path: Path) -> None:
    path = make.degenerate_and_bowtie(tmp_path / "odd.geojson")
    code, out, err = run_cli(capsys, database_url, "polygons", "load", str(path))
    assert code == 0, err
    assert "3 features: 2 new" in out and "1 repaired (2)" in out
    assert "1 skipped as empty, null or without area (3)" in out


def test_nan_attributes_become_null(capsys: pytest.CaptureFixture[str], database_url: str,
                                    baseline: psycopg.Connection, tmp_path: Path) -> None:
    path = make.not_a_number(tmp_path / "nan.geojson")
    assert run_cli(capsys, database_url, "polygons", "load", str(path))[0] == 0
    row = baseline.execute("SELECT attributes FROM sclzonal.polygon WHERE source = 'nan'").fetchone()
    assert row == ({"share": None, "name": "x"},)


RASTERS: list[tuple[str, Callable[[Path], Path], list[str], str]] = [
    ("wide_20240602.tif", make.with_values("uint16", 300), [], "pixel value 300 is not an SCL class"),
    ("signed_20240602.tif", make.with_values("int16", -1), [], "pixel value -1 is not an SCL class"),
    ("float64_20240602.tif", make.with_values("float64", 40), [], "data type float64 is not an integer"),
    ("nodata_20240602.tif", make.with_values("uint8", 255), [], "pixel value 255 is not an SCL class"),
    ("hundred_20240602.tif", make.with_values("uint8", 100), [], "pixel value 100 is not an SCL class"),
    ("zero_20240602.tif", lambda p: make.tiff_header_only(p, 0, 10), [], "not a readable raster"),
    ("empty_20240602.tif", lambda p: (p.write_bytes(b""), p)[1], [], "not a readable raster"),
    ("jpeg1_20240602.tif", lambda p: make.jpeg(p, 1), [], "is a JPEG file, not a GeoTIFF"),
    ("jpeg3_20240602.tif", lambda p: make.jpeg(p, 3), [], "is a JPEG file, not a GeoTIFF"),
    ("jpegref_20240602.tif", lambda p: make.jpeg(p, 1, georeferenced=True), [],
     "is a JPEG file, not a GeoTIFF"),
    ("plain_20240602.tif", make.not_georeferenced, [], "has no CRS"),
    ("southup_20240602.tif", lambda p: write_raster(
        p, make.GOOD, transform=rasterio.Affine(20, 0, 500000, 0, 20, 5100000)), [], "is not north-up"),
    ("badtag.tif", lambda p: write_raster(p, make.GOOD, tags={"ACQUISITION_DATE": "yesterday"}), [],
     "ACQUISITION_DATE tag 'yesterday' is not a date"),
    ("scl_20241332.tif", lambda p: write_raster(p, make.GOOD), [],
     "date in the file name '2024-13-32' is not a date"),
    ("old.tif", lambda p: write_raster(p, make.GOOD, date=dt.date(2014, 12, 31)), [],
     "acquisition date 2014-12-31 is before Sentinel-2's launch (2015-06-23)"),
    ("plain.tif", lambda p: write_raster(p, make.GOOD[::-1].copy()),
     ["--date", (dt.date.today() + dt.timedelta(days=2)).isoformat()], "is in the future"),
    ("base_copy.tif", lambda p: write_raster(p, make.GOOD), ["--date", "2024-06-03"],
     "this file was loaded before as scene"),
]


@pytest.mark.parametrize(("name", "writer", "options", "message"), RASTERS,
                         ids=[case[0] for case in RASTERS])
def test_bad_rasters(capsys: pytest.CaptureFixture[str], database_url: str,
                     baseline: psycopg.Connection, tmp_path: Path, name: str,
                     writer: Callable[[Path], Path], options: list[str], message: str) -> None:
    path = writer(tmp_path / name)
    line = refused(capsys, database_url, baseline, ["scl", "load", *options, str(path)], message)
    assert name in line


@pytest.mark.process
@pytest.mark.parametrize("writer", [lambda p: make.jpeg(p, 1), make.not_georeferenced],
                         ids=["jpeg", "plain"])
def test_no_python_warnings_on_the_terminal(database_url: str, tmp_path: Path,
                                            writer: Callable[[Path], Path]) -> None:
    """Outside pytest's warning capture: GDAL's and rasterio's warnings do not reach stderr."""
    path = writer(tmp_path / "image_20240602.tif")
    result = subprocess.run([sys.executable, "-m", "sclzonal.cli", "--database-url", database_url,
                             "scl", "load", str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_file_changed_after_its_check_is_refused(capsys: pytest.CaptureFixture[str],
                                                   database_url: str, baseline: psycopg.Connection,
                                                   tmp_path: Path) -> None:
    """What is loaded is what was checked: a file rewritten (or read differently) in between is
    refused, in the database's transaction, so nothing of it stays."""
    from sclzonal.ingest.scl_raster import inspect_scl_file, load_scene

    path = write_raster(tmp_path / "moving_20240605.tif", make.GOOD[::-1].copy())
    checked = inspect_scl_file(path)
    write_raster(path, make.GOOD[:20].copy())
    before = snapshot(baseline)
    with pytest.raises(UserError, match="no longer reads as it did when it was checked"):
        load_scene(baseline, checked)
    assert snapshot(baseline) == before
