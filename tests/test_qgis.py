"""QGIS opens the database ready-styled: styles, project (file and database), role; real QGIS 3.22."""

from __future__ import annotations

import io
import os
import re
import secrets
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sclzonal.cli import main
from sclzonal.db.connection import connection_spec
from sclzonal.demo.data import generate_demo
from sclzonal.qgis import project as qgis_project
from sclzonal.roles.reader import READABLE
from tests.helpers import cli_ok, run_cli, write_raster
from tests.qgis_support import colour_count, distinct_colours, over, pixels, require_qgis, rgb, run_checks

FAKE_PASSWORD = "sclzonal-not-a-secret-7f3a"


@pytest.fixture(scope="module")
def loaded(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The module's database with two demo scenes in EPSG:32633, one in 32634, 40 fields."""
    data_dir = tmp_path_factory.mktemp("qgis-data")
    data = generate_demo(data_dir, scenes=2, fields=40, size=300)
    cli_ok(database_url, "polygons", "load", str(data.polygons_path), "--layer", data.polygons_layer,
           "--id-field", "field_id", "--name-field", "name")
    other_zone = np.tile(np.arange(12, dtype=np.uint8), (40, 4))[:, :40]
    write_raster(data_dir / "SCL_2024-05-01.tif", other_zone, crs="EPSG:32634")
    cli_ok(database_url, "scl", "load", *map(str, data.scene_paths), str(data_dir / "SCL_2024-05-01.tif"))
    cli_ok(database_url, "refresh")
    return database_url


def _with_password(url: str) -> str:
    p = conninfo_to_dict(url)
    if p.get("password") or os.environ.get("PGPASSWORD"):
        return url
    # The local test cluster trusts 127.0.0.1, so the server ignores this password.
    return f"postgresql://{p['user']}:{FAKE_PASSWORD}@{p['host']}:{p['port']}/{p['dbname']}"


def _secret(url: str) -> str:
    return conninfo_to_dict(_with_password(url)).get("password") or FAKE_PASSWORD


@dataclass
class Built:
    """The project written by the CLI and what real QGIS found in it."""

    url: str
    qgs: Path
    image: Path
    work: Path
    checks: dict[str, Any]


def _storage_uri(url: str) -> str:
    p = conninfo_to_dict(url)
    return (f"postgresql://{p.get('user', 'postgres')}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}"
            f"?dbname={p['dbname']}&schema=public&project=sclzonal")


def _bare_uri(url: str, table: str, key: str) -> str:
    p = conninfo_to_dict(url)
    return (f"dbname='{p['dbname']}' host={p.get('host', '127.0.0.1')} port={p.get('port', 5432)} "
            f"user='{p.get('user', 'postgres')}' key='{key}' table=\"sclzonal\".\"{table}\" (geom)")


@pytest.fixture(scope="module")
def built(loaded: str, tmp_path_factory: pytest.TempPathFactory) -> Built:
    """`qgis styles` and `qgis project --output --store-in-db --image`, then qgis_checks.py."""
    require_qgis()
    work = tmp_path_factory.mktemp("qgis-project")
    url = _with_password(loaded)
    qgs, image = work / "sclzonal.qgs", work / "verdicts.png"
    cli_ok(url, "qgis", "styles")
    cli_ok(url, "qgis", "project", "--output", str(qgs), "--store-in-db", "--image", str(image),
           "--image-width", "500")
    checks = run_checks({
        "projects": {"file": str(qgs), "db": _storage_uri(loaded)},
        "render": {"file": str(work / "file.png"), "db": str(work / "db.png")},
        "default_style_uris": {"polygon_verdict": _bare_uri(loaded, "polygon_verdict", "polygon_id"),
                               "scene_verdict_layer": _bare_uri(loaded, "scene_verdict_layer", "id"),
                               "polygon_month_verdict": _bare_uri(loaded, "polygon_month_verdict",
                                                                  "id")},
    }, work)
    return Built(loaded, qgs, image, work, checks)


def _count(url: str, query: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return int(row[0])


def _layers(built: Built, where: str) -> dict[str, dict[str, Any]]:
    return {layer["name"]: layer for layer in built.checks["projects"][where]["layers"]}


# The legends as documented (README, "QGIS" legend table), written out here rather than taken from
# sclzonal.qgis.styles: [verdict value, legend label, fill, outline style], with the default rules.
VEGETATION = ["vegetation", "Vegetation", "#4dac26", "solid"]
OTHER = ["other", "Not vegetation (other)", "#d8b365", "solid"]
PARTIAL = ["partially_observed", "Partially observed (coverage too low)", "#fee0b6", "dash"]
NO_CLEAR = ["no_clear_observation", "No clear observation", "#969696", "solid"]
POLYGON_LEGEND = [VEGETATION, OTHER, PARTIAL, NO_CLEAR, ["no_pixels", "No pixels", "#f0f0f0", "dash"],
                  ["not_countable", "Not countable (see sclzonal explain)", "#ffffff", "dash"]]
SCENE_LEGEND = [VEGETATION, OTHER, ["not_clear", "Not clear (clouds, shadows, no data)", "#bdbdbd", "solid"],
                PARTIAL]
MONTH_LEGEND = [VEGETATION, OTHER, PARTIAL, NO_CLEAR]
LEGENDS = {"Verdict per polygon": POLYGON_LEGEND, "Verdict per scene": SCENE_LEGEND,
           "Verdict per month": MONTH_LEGEND, "polygon_verdict": POLYGON_LEGEND,
           "scene_verdict_layer": SCENE_LEGEND, "polygon_month_verdict": MONTH_LEGEND}
# The SCL palette as documented (DESIGN.md: Sen2Cor classes, EO Browser colours): [value, colour, label].
SCL_PALETTE = [[value, colour, f"{value} {name}"] for value, (name, colour) in enumerate([
    ("No data", "#000000"), ("Saturated or defective", "#ff0000"),
    ("Dark area pixels / topographic shadows", "#2f2f2f"), ("Cloud shadows", "#643200"),
    ("Vegetation", "#00a000"), ("Not vegetated", "#ffe65a"), ("Water", "#0000ff"),
    ("Unclassified", "#808080"), ("Cloud, medium probability", "#c0c0c0"),
    ("Cloud, high probability", "#ffffff"), ("Thin cirrus", "#64c8ff"), ("Snow or ice", "#ff96ff")])]


def _debian_upstream_version(package: str) -> str:
    """The upstream part of an installed Debian package's version (no epoch, repack or revision)."""
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Version}", package], capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"no Debian package {package} (dpkg-query: {done.stderr.strip()})")
    match = re.match(r"(?:\d+:)?(\d+(?:\.\d+)+)", done.stdout)
    assert match, done.stdout
    return match.group(1)


@pytest.mark.qgis
@pytest.mark.slow
def test_qgis_version_is_the_debian_one(built: Built) -> None:
    """The QGIS that ran the checks is the one Debian's packages installed (bindings and desktop)."""
    running = built.checks["qgis_version"].split("-")[0]  # "3.22.16-Białowieża"
    assert running == _debian_upstream_version("python3-qgis") == _debian_upstream_version("qgis")


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_every_layer_is_valid_and_counts_match_the_database(built: Built, where: str) -> None:
    layers = _layers(built, where)
    assert all(layer["valid"] for layer in layers.values()), layers
    url, per_polygon = built.url, layers["Verdict per polygon"]
    assert per_polygon["features"] == _count(url, "SELECT count(*) FROM sclzonal.polygon_verdict")
    assert per_polygon["counted"] == per_polygon["features"]
    per_scene = layers["Verdict per scene"]
    assert per_scene["counted"] == _count(url, "SELECT count(*) FROM sclzonal.scene_verdict")
    per_month = layers["Verdict per month"]
    assert per_month["counted"] == _count(url, "SELECT count(*) FROM sclzonal.polygon_month_verdict")
    assert per_month["counted"] > 0
    assert layers["Polygons"]["counted"] == _count(url, "SELECT count(*) FROM sclzonal.polygon")
    scl = {name: layer for name, layer in layers.items() if name.startswith("SCL ")}
    assert len(scl) == _count(url, "SELECT count(*) FROM sclzonal.scene") == 3
    assert {layer["crs"] for layer in scl.values()} == {"EPSG:32633", "EPSG:32634"}
    assert {(layer["width"], layer["height"]) for layer in scl.values()} == {(300, 300), (40, 40)}
    assert all(layer["nodata"] == 255 for layer in scl.values())


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_renderers_and_categories(built: Built, where: str) -> None:
    layers = _layers(built, where)
    for name in ("Verdict per polygon", "Verdict per scene", "Verdict per month"):
        renderer = layers[name]["renderer"]
        assert renderer["type"] == "categorizedSymbol" and renderer["field"] == "verdict"
        assert renderer["categories"] == LEGENDS[name]
    for name, layer in layers.items():
        if name.startswith("SCL "):
            assert layer["provider"] == "postgresraster"  # safe to draw in parallel (issue 13)
            assert layer["renderer"] == {"type": "paletted", "band": 1, "classes": SCL_PALETTE}
    project = built.checks["projects"][where]
    assert project["groups"] == ["SCL scenes"]
    assert [n for n in project["visible"] if not n.startswith("SCL ")] == ["Verdict per polygon", "Polygons"]


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_temporal_properties(built: Built, where: str) -> None:
    layers = _layers(built, where)
    assert layers["Verdict per scene"]["temporal"] == {
        "active": True, "mode": "ModeFeatureDateTimeInstantFromField", "start_field": "acquired_on",
        "duration": 1.0, "duration_unit": "days"}
    assert layers["Verdict per polygon"]["temporal"]["active"] is False
    assert layers["Verdict per month"]["temporal"] == {
        "active": True, "mode": "ModeFeatureDateTimeStartAndEndFromFields",
        "start_field": "month_start", "end_field": "month_end",
        "duration": layers["Verdict per month"]["temporal"]["duration"],
        "duration_unit": layers["Verdict per month"]["temporal"]["duration_unit"]}
    months = built.checks["projects"][where]["month_frames"]
    with psycopg.connect(built.url) as conn:
        per_month = dict(conn.execute("SELECT to_char(month_start, 'YYYY-MM'), count(*)"
                                      " FROM sclzonal.polygon_month_verdict GROUP BY 1").fetchall())
    assert months == per_month and per_month  # one month per frame, each its own rows
    with psycopg.connect(built.url) as conn:
        dates = [(r[0], r[1]) for r in conn.execute("SELECT id, acquired_on FROM sclzonal.scene")]
    for scene_id, day in dates:
        temporal = layers[f"SCL {day.isoformat()} (scene {scene_id})"]["temporal"]
        assert temporal["active"] and temporal["mode"] == "ModeFixedTemporalRange"
        assert (temporal["begin"], temporal["end"]) == (f"{day}T00:00:00", f"{day}T23:59:59")
    frames = built.checks["projects"][where]["frames"]
    for scene_id, day in dates:
        assert frames[day.isoformat()] == {
            "scene_features": _count(built.url, "SELECT count(*) FROM sclzonal.scene_verdict_layer "
                                     f"WHERE acquired_on = '{day}'"),
            "rasters": [f"SCL {day.isoformat()} (scene {scene_id})"]}
    time = built.checks["projects"][where]["time"]
    assert time["begin"] == min(d for _, d in dates).isoformat() and time["step"] == 1
    # one step per acquisition (QGIS's "source timestamps", issue 13: 9), not one per day
    assert time["unit"] == "steps"
    assert time["steps"] == sorted({d.isoformat() for _, d in dates})


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_rendered_map_shows_the_verdict_colours(built: Built, where: str) -> None:
    image = pixels(Path(built.checks["renders"][where]["path"]))
    white = colour_count(image, (255, 255, 255))
    assert white < 0.8 * image.shape[0] * image.shape[1], "the map is (nearly) blank"
    assert len(distinct_colours(image)) > 20
    with psycopg.connect(built.url) as conn:
        shown = {r[0] for r in conn.execute("SELECT DISTINCT verdict FROM sclzonal.polygon_verdict")}
    assert {"vegetation", "other"} <= shown
    for category in (VEGETATION, OTHER):  # the band in the verdict's colour along each outline
        assert colour_count(image, rgb(category[2]), tolerance=20) > 300, category
    # the SCL scene at full colour, and seen through the fills (40 % opaque, qgis.md): its class 4
    # (#00a000) under vegetation, its class 5 (#ffe65a) under other
    assert colour_count(image, rgb("#00a000")) > 300
    assert colour_count(image, over(rgb(VEGETATION[2]), 0.4, rgb("#00a000")), tolerance=3) > 300
    assert colour_count(image, over(rgb(OTHER[2]), 0.4, rgb("#ffe65a")), tolerance=3) > 300


@pytest.mark.qgis
@pytest.mark.slow
def test_cli_image_and_project_file_hold_no_password(built: Built) -> None:
    assert built.image.stat().st_size > 10_000
    assert pixels(built.image).shape[1] > 500  # map and legend panel
    secret = _secret(built.url)
    text = built.qgs.read_text(encoding="utf-8")
    assert secret not in text and "password" not in text.lower()
    assert re.search(r'table="sclzonal"."scl_\d{4}_\d\d_\d\d_scene_\d+" \(rast\)', text)
    with psycopg.connect(built.url) as conn:
        row = conn.execute("SELECT content FROM public.qgis_projects WHERE name = 'sclzonal'").fetchone()
    assert row is not None
    with zipfile.ZipFile(io.BytesIO(row[0])) as archive:
        stored = b"".join(archive.read(name) for name in archive.namelist())
    assert secret.encode() not in stored and b"password" not in stored.lower()


@pytest.mark.qgis
@pytest.mark.slow
def test_layers_added_from_the_database_get_the_default_style(built: Built) -> None:
    for table in ("polygon_verdict", "scene_verdict_layer", "polygon_month_verdict"):
        found = built.checks["defaults"][table]
        assert found["valid"]
        assert found["renderer"]["type"] == "categorizedSymbol"
        assert found["renderer"]["categories"] == LEGENDS[table]
        assert found["verdict_widget"]["type"] == "ValueMap" and found["aliases"]["verdict"] == "Verdict"


@pytest.mark.qgis
@pytest.mark.slow
def test_styles_are_rewritten_not_duplicated(built: Built, capsys: pytest.CaptureFixture[str]) -> None:
    url = built.url
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                     "f_geometry_column, stylename, styleqml, useasdefault) VALUES (current_database(), "
                     "'sclzonal', 'polygon_verdict', 'geom', 'mine', '<qgis/>', true)")
        conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share, "
                     "priority) VALUES ('open_water', '{6}', 0.6, 0.5, 10)")
    code, out, _ = run_cli(capsys, url, "qgis", "styles")
    assert code == 0 and "polygon_verdict: 7 categories" in out
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT f_table_name, stylename, useasdefault, "
                            "f_table_catalog = current_database(), styleqml::text "
                            "FROM public.layer_styles ORDER BY id").fetchall()
        conn.execute("DELETE FROM sclzonal.verdict_rule WHERE label = 'open_water'")
        conn.commit()
    ours = [r for r in rows if r[1] == "sclzonal verdicts"]
    assert sorted(r[0] for r in ours) == ["polygon_month_verdict", "polygon_verdict",
                                          "scene_verdict_layer"]
    assert all(r[2] and r[3] for r in ours)
    assert [r[2] for r in rows if r[1] == "mine"] == [False]
    assert 'label="Open water"' in ours[0][4] and 'value=""' not in ours[0][4]
    cli_ok(url, "qgis", "styles")


def test_project_needs_a_destination(loaded: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, loaded, "qgis", "project")
    assert code == 1 and "--output FILE.qgs, --store-in-db" in err


def test_missing_qgis_is_one_line(loaded: str, capsys: pytest.CaptureFixture[str],
                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(qgis_project, "QGIS_PYTHON", str(tmp_path / "no-python3"))
    code, out, err = run_cli(capsys, loaded, "qgis", "project", "--output", str(tmp_path / "p.qgs"))
    assert code == 1 and out == ""
    assert err.strip().count("\n") == 0 and "apt-get install qgis python3-qgis" in err
    assert not (tmp_path / "p.qgs").exists()


@pytest.fixture(scope="module")
def reader(loaded: str) -> Any:
    """A read-only role made by `sclzonal qgis role`, dropped again at the end."""
    name, password = f"sclz_reader_{os.getpid()}", secrets.token_hex(8)
    os.environ["SCLZ_TEST_READER_PASSWORD"] = password
    assert main(["--database-url", loaded, "qgis", "role", "--name", name,
                 "--password-env", "SCLZ_TEST_READER_PASSWORD"]) == 0
    yield name, password, make_conninfo(loaded, user=name, password=password)
    del os.environ["SCLZ_TEST_READER_PASSWORD"]
    with psycopg.connect(loaded, autocommit=True) as conn:
        conn.execute(f'DROP OWNED BY "{name}"')
        conn.execute(f'DROP ROLE "{name}"')


@pytest.mark.qgis
def test_the_reader_browses_each_scene_as_its_own_raster(loaded: str, reader: Any,
                                                         tmp_path: Path) -> None:
    """QGIS lists, as the Browser does, one raster table per scene and not scene_tile (all scenes
    mixed); each opens at once in its own CRS with the file's pixels, without a raster-constraint
    warning."""
    import rasterio

    require_qgis()
    name, password, _ = reader
    p = conninfo_to_dict(loaded)
    conninfo = make_conninfo(host=p.get("host", "127.0.0.1"), port=p.get("port", 5432),
                             dbname=p["dbname"], user=name, password=password)
    browsed = run_checks({"browse": {"conninfo": conninfo, "schema": "sclzonal"}}, tmp_path)["browse"]
    with psycopg.connect(loaded) as conn:
        scenes = conn.execute("SELECT id, acquired_on, srid, reference FROM sclzonal.scene").fetchall()
    assert len(scenes) == 3
    expected = {f"scl_{day:%Y_%m_%d}_scene_{scene_id}": (srid, reference)
                for scene_id, day, srid, reference in scenes}
    assert "scene_tile" not in browsed["tables"] and "counted_pair" not in browsed["tables"]
    assert set(browsed["rasters"]) == set(expected)
    for table, (srid, reference) in expected.items():
        layer = browsed["rasters"][table]
        assert layer["valid"] and layer["crs"] == f"EPSG:{srid}", table
        with rasterio.open(reference) as source:
            pixels_in_file = source.read(1)
            bounds = source.bounds
        assert (layer["height"], layer["width"]) == pixels_in_file.shape
        assert layer["extent"] == pytest.approx([bounds.left, bounds.bottom, bounds.right, bounds.top])
        assert np.array_equal(np.array(layer["pixels"]), pixels_in_file), table
        assert not [line for line in layer["logged"] if "AddRasterConstraints" in line
                    or "primary key" in line], layer["logged"]
        assert str(srid) in layer["comment"]


def test_reader_role_reads_only_what_the_project_shows(loaded: str, reader: Any) -> None:
    name, _, url = reader
    assert main(["--database-url", loaded, "qgis", "role", "--name", name]) == 0  # re-runnable
    with psycopg.connect(url, autocommit=True) as conn:
        for table in READABLE:
            conn.execute(f"SELECT * FROM sclzonal.{table} LIMIT 1").fetchall()
        for table in ("layer_styles", "qgis_projects", "spatial_ref_sys", "raster_columns"):
            conn.execute(f"SELECT * FROM public.{table} LIMIT 1").fetchall()
        scene_tables = [row[0] for row in conn.execute(
            "SELECT table_name FROM sclzonal.scene_tile_partition").fetchall()]
        assert len(scene_tables) == 3
        for table in scene_tables:
            conn.execute(f"SELECT ST_Width(rast) FROM sclzonal.{table} LIMIT 1").fetchall()
            row = conn.execute("SELECT has_table_privilege(%s, 'INSERT')", (f"sclzonal.{table}",)).fetchone()
            assert row == (False,), table
        for forbidden in ("SELECT * FROM sclzonal.scene_tile",
                          "SELECT * FROM sclzonal.stored_class_counts", "SELECT * FROM sclzonal.verdict_rule",
                          "SELECT * FROM sclzonal.counted_pair", "INSERT INTO sclzonal.scl_class "
                          "VALUES (12, 'x', '#000000', true)", "UPDATE sclzonal.polygon SET name = 'x'",
                          "DELETE FROM sclzonal.scene", "DELETE FROM public.layer_styles",
                          "DELETE FROM sclzonal.polygon_verdict",
                          "CREATE TABLE sclzonal.mine (x int)"):
            with pytest.raises(psycopg.Error):
                conn.execute(forbidden)
        for table in READABLE:
            for privilege in ("INSERT", "UPDATE", "DELETE"):
                row = conn.execute("SELECT has_table_privilege(%s, %s)",
                                   (f"sclzonal.{table}", privilege)).fetchone()
                assert row == (False,), (table, privilege)


def _service_file(path: Path, url: str, user: str, password: str | None) -> Path:
    p = conninfo_to_dict(url)
    path.write_text(f"[sclzonal_test]\nhost={p.get('host', '127.0.0.1')}\nport={p.get('port', 5432)}\n"
                    f"dbname={p['dbname']}\nuser={user}\n"
                    + (f"password={password}\n" if password else ""))
    return path


@pytest.mark.qgis
@pytest.mark.slow
def test_users_open_the_project_as_the_reader_through_their_service(
        loaded: str, reader: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The owner builds with --service; users whose entry of that name is the reader open it."""
    require_qgis()
    name, password, _ = reader
    owner = conninfo_to_dict(loaded)
    owner_services = _service_file(tmp_path / "owner.conf", loaded, owner.get("user", "postgres"),
                                   owner.get("password"))
    reader_services = _service_file(tmp_path / "reader.conf", loaded, name, password)
    monkeypatch.setenv("PGSERVICEFILE", str(owner_services))
    qgs = tmp_path / "reader.qgs"
    cli_ok(loaded, "qgis", "project", "--service", "sclzonal_test", "--output", str(qgs),
           "--store-in-db", "--project-name", "via_service")
    text = qgs.read_text(encoding="utf-8")
    assert "service='sclzonal_test'" in text and password not in text and "user=" not in text
    stored = "postgresql://?service=sclzonal_test&schema=public&project=via_service"
    checks = run_checks({"projects": {"file": str(qgs), "db": stored}}, tmp_path,
                        env={"PGSERVICEFILE": str(reader_services)})
    for where in ("file", "db"):
        layers = checks["projects"][where]["layers"]
        assert len(layers) == 8 and all(layer["valid"] for layer in layers), layers
        verdicts = next(layer for layer in layers if layer["name"] == "Verdict per polygon")
        assert verdicts["counted"] == _count(loaded, "SELECT count(*) FROM sclzonal.polygon_verdict")


def test_sslmode_reaches_the_stored_project_and_the_service_entry(loaded: str) -> None:
    """The project's layers, its database storage URI and the printed pg_service entry connect
    with the same parameters, sslmode included (no password anywhere)."""
    from urllib.parse import parse_qs, urlsplit

    from sclzonal.roles.reader import service_entry

    with psycopg.connect(make_conninfo(loaded, sslmode="disable")) as conn:
        spec = connection_spec(conn, None)
        uri = urlsplit(qgis_project.storage_uri(spec, "fields"))
        entry = service_entry(conn, "someone")
        host, port, dbname, user = conn.info.host, conn.info.port, conn.info.dbname, conn.info.user
    assert spec["sslmode"] == "disable"
    assert parse_qs(uri.query) == {"dbname": [dbname], "sslmode": ["disable"],
                                   "schema": ["public"], "project": ["fields"]}
    assert (uri.hostname, uri.port, uri.username, uri.password) == (host, port, user, None)
    assert entry.splitlines() == ["[sclzonal]", f"host={host}", f"port={port}",
                                  f"dbname={dbname}", "user=someone", "sslmode=disable"]
