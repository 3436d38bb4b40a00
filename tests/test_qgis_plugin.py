"""The QGIS plugin: the zip `sclzonal qgis plugin` builds, installed into a QGIS profile, its algorithms
run by real QGIS 3.22 (`qgis_process.bin`, headless) against a real database.

Each test's profile is a fresh HOME with the zip unpacked into python/plugins, the plugin enabled by
`qgis_process plugins enable`, and the provider's settings (the sclzonal executable, the database)
in QGIS3.ini, as Processing > Options > Providers > sclzonal would store them.
"""

from __future__ import annotations

import ast
import configparser
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fiona
import numpy as np
import psycopg
import pytest
import rasterio
import shapely
from pyproj import Transformer
from shapely.geometry import shape

from sclzonal import __version__
from sclzonal.demo.data import DemoData, generate_demo
from sclzonal.qgis.project import qgis_environment
from tests.helpers import run_cli, write_raster
from tests.qgis_support import require_qgis

QGIS_PROCESS = "/usr/bin/qgis_process.bin"  # /usr/bin/qgis_process passes an option 3.22 rejects
SCLZONAL = str(Path(sys.executable).with_name("sclzonal"))
ALGORITHMS = ["fetch", "loadpolygons", "loadscl", "project", "refresh", "setrule"]
PLUGIN_DIR = Path(__file__).resolve().parents[1] / "sclzonal" / "qgis" / "plugin"

pytestmark = [pytest.mark.qgis, pytest.mark.process]


@pytest.fixture(scope="module")
def plugin_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from sclzonal.cli import main

    path = tmp_path_factory.mktemp("plugin") / "sclzonal_qgis.zip"
    assert main(["qgis", "plugin", "--output", str(path)]) == 0
    return path


@dataclass
class Profile:
    """A HOME whose QGIS profile has the plugin installed and enabled, and the settings given."""

    home: Path

    def env(self, extra_path: str = "", **extra: str) -> dict[str, str]:
        env = {k: v for k, v in qgis_environment().items()
               if k not in ("DATABASE_URL", "VIRTUAL_ENV", "PGSERVICE", "PGSERVICEFILE")}
        # A virtualenv first on PATH disables QGIS's Python (docs NOTES): the system's PATH only.
        env.update(HOME=str(self.home), PATH="/usr/bin:/bin" + (f":{extra_path}" if extra_path else ""),
                   XDG_DATA_HOME=str(self.home / ".local" / "share"),
                   XDG_CONFIG_HOME=str(self.home / ".config"), **extra)
        return env

    def qgis_process(self, *args: str, extra_path: str = "",
                     **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([QGIS_PROCESS, *args], capture_output=True, text=True, timeout=600,
                              env=self.env(extra_path, **extra), cwd=self.home, check=False)

    def run(self, algorithm: str, *params: str, **extra: str) -> tuple[int, dict[str, Any], str]:
        """Run `qgis_process --json run sclzonal:ALGORITHM -- PARAMS`; (exit code, results, stderr)."""
        done = self.qgis_process("--json", "run", f"sclzonal:{algorithm}", "--", *params, **extra)
        try:
            output = json.loads(done.stdout) if done.stdout.strip() else {}
        except json.JSONDecodeError:
            output = {}
        return done.returncode, output, done.stderr


def make_profile(home: Path, plugin_zip: Path, settings: dict[str, str]) -> Profile:
    require_qgis()
    if not os.access(QGIS_PROCESS, os.X_OK):
        pytest.skip(f"{QGIS_PROCESS} is missing (apt-get install qgis)")
    profile = Profile(home)
    folder = home / ".local/share/QGIS/QGIS3/profiles/default"
    plugins = folder / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(plugin_zip) as archive:
        archive.extractall(plugins)
    done = profile.qgis_process("plugins", "enable", "sclzonal_qgis")
    assert done.returncode == 0, done.stderr
    ini = folder / "QGIS" / "QGIS3.ini"
    assert "sclzonal_qgis=true" in ini.read_text()
    with ini.open("a") as out:
        out.write("\n[Processing]\n")
        out.writelines(f'Configuration\\{name}="{value}"\n' for name, value in settings.items())
    return profile


@pytest.fixture(scope="module")
def profile(plugin_zip: Path, database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Profile:
    return make_profile(tmp_path_factory.mktemp("home"), plugin_zip,
                        {"SCLZONAL_EXECUTABLE": SCLZONAL, "SCLZONAL_DATABASE_URL": database_url})


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoData:
    return generate_demo(tmp_path_factory.mktemp("demo"), scenes=2, fields=40, size=300)


def test_the_zip_is_a_qgis_plugin(plugin_zip: Path) -> None:
    with zipfile.ZipFile(plugin_zip) as archive:
        names = archive.namelist()
        metadata_text = archive.read("sclzonal_qgis/metadata.txt").decode()
        init = archive.read("sclzonal_qgis/__init__.py").decode()
        sources = {name: archive.read(name).decode() for name in names if name.endswith(".py")}
    assert {name.split("/")[0] for name in names} == {"sclzonal_qgis"}
    shipped = sorted(p.name for p in PLUGIN_DIR.iterdir() if p.suffix in (".py", ".txt", ".svg"))
    assert sorted(name.split("/", 1)[1] for name in names if name != "sclzonal_qgis/") == shipped
    metadata = configparser.ConfigParser(interpolation=None)
    metadata.read_string(metadata_text)
    general = metadata["general"]
    assert general["qgisMinimumVersion"] == "3.22" and general["hasProcessingProvider"] == "yes"
    assert general["version"] == __version__
    for key in ("name", "description", "about", "author", "icon"):
        assert general[key], key
    assert f"sclzonal_qgis/{general['icon']}" in names
    factories = [node for node in ast.parse(init).body
                 if isinstance(node, ast.FunctionDef) and node.name == "classFactory"]
    assert len(factories) == 1 and [a.arg for a in factories[0].args.args] == ["iface"]
    # QGIS's Python has QGIS, Qt and the standard library, not sclzonal's dependencies.
    allowed = {"qgis", "processing", *sys.stdlib_module_names}
    for name, text in sources.items():
        for node in ast.walk(ast.parse(text)):
            modules = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                       [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else [])
            assert all(module.split(".")[0] in allowed for module in modules), (name, modules)


def test_the_zip_command_refuses_a_missing_folder(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run_cli(capsys, "", "qgis", "plugin", "--output", str(tmp_path / "no" / "p.zip"))
    assert (code, out) == (1, "")
    assert err == f"sclzonal: error: --output {tmp_path / 'no' / 'p.zip'}: the folder {tmp_path / 'no'} " \
                  "does not exist\n"


def test_qgis_lists_the_algorithms(profile: Profile) -> None:
    done = profile.qgis_process("list")
    assert done.returncode == 0, done.stderr
    listed = sorted(line.split()[0].split(":")[1] for line in done.stdout.splitlines()
                    if line.strip().startswith("sclzonal:"))
    assert listed == ALGORITHMS


def _stored_polygons(conn: psycopg.Connection, source: str) -> dict[str, tuple[str | None, bytes]]:
    rows = conn.execute("SELECT source_fid, name, ST_AsBinary(geom) FROM sclzonal.polygon WHERE source = %s",
                        [source]).fetchall()
    return {fid: (name, bytes(wkb)) for fid, name, wkb in rows}


def _file_polygons(demo: DemoData) -> dict[str, tuple[int, str, Any]]:
    """The file's features by fid: (field_id, name, geometry in EPSG:4326)."""
    with fiona.open(demo.polygons_path, layer=demo.polygons_layer) as layer:
        to_4326 = Transformer.from_crs(layer.crs, "EPSG:4326", always_xy=True).transform

        def project(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(to_4326(xy[:, 0], xy[:, 1]))

        return {str(f.id): (f.properties["field_id"], f.properties["name"],
                            shapely.transform(shape(f.geometry), project)) for f in layer}


def _same(wkb: bytes, geometry: Any) -> bool:
    """True when the stored polygon covers the same ground as `geometry` (both EPSG:4326)."""
    return bool(shapely.symmetric_difference(shapely.from_wkb(wkb), geometry).area < geometry.area * 1e-9)


def test_load_polygons_stores_the_layers_features(profile: Profile, demo: DemoData,
                                                  conn: psycopg.Connection) -> None:
    expected = _file_polygons(demo)
    code, output, err = profile.run("loadpolygons", f"INPUT={demo.polygons_path}", "ID_FIELD=field_id",
                                    "NAME_FIELD=name", "SOURCE=fields")
    assert code == 0, err
    assert output["results"] == {"FEATURES": 40, "INSERTED": 40, "UPDATED": 0, "UNCHANGED": 0,
                                 "SOURCE_NAME": "fields"}
    assert any("sclzonal polygons load" in line for line in output["log"]["info"])
    stored = _stored_polygons(conn, "fields")
    assert sorted(stored) == sorted(str(field_id) for field_id, _, _ in expected.values())
    for field_id, name, geometry in expected.values():
        stored_name, wkb = stored[str(field_id)]
        assert stored_name == name
        assert _same(wkb, geometry), field_id
    code, output, err = profile.run("loadpolygons", f"INPUT={demo.polygons_path}", "ID_FIELD=field_id",
                                    "NAME_FIELD=name", "SOURCE=fields")
    assert code == 0 and output["results"]["UNCHANGED"] == 40, err


def test_without_an_id_field_the_feature_ids_key_the_polygons(profile: Profile, demo: DemoData,
                                                              conn: psycopg.Connection) -> None:
    """The layer as QGIS filters it (a subset string) is what is stored, keyed by QGIS's feature ids."""
    expected = {fid: value for fid, value in _file_polygons(demo).items() if value[0] <= 10}
    layer = f"{demo.polygons_path}|layername={demo.polygons_layer}|subset=\"field_id\" <= 10"
    code, output, err = profile.run("loadpolygons", f"INPUT={layer}", "SOURCE=first ten")
    assert code == 0, err
    assert output["results"]["INSERTED"] == len(expected) == 10
    stored = _stored_polygons(conn, "first ten")
    assert sorted(stored) == sorted(expected)
    assert all(_same(stored[fid][1], expected[fid][2]) for fid in expected)


def test_scl_load_and_refresh_give_verdicts(profile: Profile, demo: DemoData,
                                            conn: psycopg.Connection) -> None:
    assert profile.run("loadpolygons", f"INPUT={demo.polygons_path}", "ID_FIELD=field_id",
                       "SOURCE=fields")[0] == 0
    code, output, err = profile.run("loadscl", *(f"INPUT={path}" for path in demo.scene_paths))
    assert code == 0, err
    assert output["results"] == {"LOADED": 2, "UNCHANGED": 0}
    assert conn.execute("SELECT array_agg(acquired_on::text ORDER BY acquired_on) FROM sclzonal.scene"
                        ).fetchone() == (["2024-06-05", "2024-06-20"],)
    code, output, err = profile.run("refresh")
    assert code == 0, err
    pairs, polygons = conn.execute("SELECT (SELECT count(*) FROM sclzonal.counted_pair),"
                                   " (SELECT count(*) FROM sclzonal.polygon)").fetchone() or (0, 0)
    assert output["results"] == {"SCENES": 2, "PAIRS_COUNTED": pairs, "VERDICTS_DECIDED": polygons}
    assert pairs > 0
    verdicts = dict(conn.execute("SELECT verdict, count(*) FROM sclzonal.polygon_verdict GROUP BY verdict"
                                 ).fetchall())
    assert sum(verdicts.values()) == polygons and verdicts.get("vegetation", 0) > 0, verdicts
    assert any(line.startswith("sclzonal: counting:") for line in output["log"]["info"])

    code, output, err = profile.run("setrule", "LABEL=vegetation", "MIN_SHARE=0")
    assert code == 0, err
    assert output["results"] == {"VERDICTS_DECIDED": polygons}
    assert conn.execute("SELECT min_share, revision FROM sclzonal.verdict_rule WHERE label = 'vegetation'"
                        ).fetchone() == (0.0, 2)
    after = dict(conn.execute("SELECT verdict, count(*) FROM sclzonal.polygon_verdict GROUP BY verdict"
                              ).fetchall())
    assert "other" in verdicts and "other" not in after, after  # share 0: holds wherever evaluated
    assert after["vegetation"] == verdicts["vegetation"] + verdicts["other"]


def test_the_progress_bar_moves_while_counting(profile: Profile, demo: DemoData, tmp_path: Path) -> None:
    """qgis_process draws the algorithm's progress as 0...10...20: the CLI's progress lines move it
    while counting, before counting is over; they are not logged as notes."""
    with rasterio.open(demo.scene_paths[0]) as scene:
        july = write_raster(tmp_path / "july.tif", np.full(scene.shape, 4, np.uint8), crs=scene.crs,
                            transform=scene.transform)
    code, _, err = profile.run("loadscl", f"INPUT={july}", "DATE=2024-07-01")
    assert code == 0, err
    done = profile.qgis_process("run", "sclzonal:refresh")
    assert done.returncode == 0, done.stderr
    # The -v line "sclzonal: counting: N pairs in S s" comes when counting is over.
    counted = done.stdout.index("sclzonal: counting:")
    assert 0 <= done.stdout.index("...80") < counted < done.stdout.index("counted "), done.stdout
    assert "sclzonal: progress:" not in done.stdout + done.stderr


def test_a_failing_cli_fails_the_algorithm_with_its_line(profile: Profile, demo: DemoData,
                                                         conn: psycopg.Connection, tmp_path: Path) -> None:
    scenes = conn.execute("SELECT count(*) FROM sclzonal.scene").fetchone()
    two_bands = tmp_path / "two_bands.tif"
    write_raster(two_bands, np.full((2, 10, 10), 4, np.uint8), date=dt.date(2024, 7, 1))
    code, output, err = profile.run("loadscl", f"INPUT={demo.scene_paths[0]}", f"INPUT={two_bands}")
    assert code != 0
    line = f"sclzonal: error: {two_bands}: has 2 bands; an SCL raster has one"
    assert f"ERROR:\t{line}" in err or line in err, err
    assert "Traceback" not in err
    assert conn.execute("SELECT count(*) FROM sclzonal.scene").fetchone() == scenes
    code, _, err = profile.run("setrule", "LABEL=water", "MIN_SHARE=0.5")
    assert code != 0 and "sclzonal: error: no verdict rule is labelled 'water'" in err, err


def test_the_project_is_built_and_stored(profile: Profile, demo: DemoData, conn: psycopg.Connection,
                                         tmp_path: Path) -> None:
    if not conn.execute("SELECT count(*) FROM sclzonal.scene").fetchone()[0]:  # type: ignore[index]
        assert profile.run("loadscl", *(f"INPUT={path}" for path in demo.scene_paths))[0] == 0
    qgs = tmp_path / "verdicts.qgs"
    code, output, err = profile.run("project", f"OUTPUT={qgs}", "STORE_IN_DB=true",
                                    "PROJECT_NAME=from_plugin")
    assert code == 0, err
    assert output["results"]["OUTPUT"] == str(qgs)
    text = qgs.read_text()
    assert "polygon_verdict" in text and "_scene_" in text
    assert conn.execute("SELECT name FROM public.qgis_projects").fetchall() == [("from_plugin",)]


def test_sclzonal_found_on_path_and_a_service(plugin_zip: Path, database_url: str, tmp_path: Path,
                                              demo: DemoData) -> None:
    """No executable set: the one on PATH; no URL set: the pg_service.conf entry set, which the
    project's layers then connect through too."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(database_url)
    services = tmp_path / "pg_service.conf"
    services.write_text("[plugin_test]\n" + "".join(f"{key}={params[key]}\n" for key in
                                                  ("host", "port", "dbname", "user") if key in params))
    assert shutil.which("sclzonal", path="/usr/bin:/bin") is None
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sclzonal").symlink_to(SCLZONAL)
    profile = make_profile(tmp_path / "home", plugin_zip, {"SCLZONAL_PG_SERVICE": "plugin_test"})
    code, output, err = profile.run("loadpolygons", f"INPUT={demo.polygons_path}", "SOURCE=by service",
                                    extra_path=str(bin_dir), PGSERVICEFILE=str(services))
    assert code == 0, err
    assert output["results"]["SOURCE_NAME"] == "by service"
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM sclzonal.polygon WHERE source = 'by service'"
                            ).fetchone() == (40,)
    qgs = tmp_path / "by_service.qgs"
    code, _, err = profile.run("project", f"OUTPUT={qgs}", extra_path=str(bin_dir),
                               PGSERVICEFILE=str(services))
    assert code == 0, err
    text = qgs.read_text()
    assert "service='plugin_test'" in text and f"port={params['port']}" not in text  # the layers too
    code, _, err = profile.run("refresh")  # not on PATH now
    assert code != 0 and "sclzonal was not found on PATH" in err, err


@pytest.mark.slow
def test_the_desktop_loads_a_selection_and_opens_the_project(profile: Profile, demo: DemoData,
                                                             database_url: str, conn: psycopg.Connection,
                                                             tmp_path: Path) -> None:
    """In the QGIS desktop (under Xvfb): the selected features of a layer are loaded; the project
    algorithm opens the project it wrote in that QGIS; the options dialog shows the settings."""
    if shutil.which("xvfb-run") is None or shutil.which("qgis") is None:
        pytest.skip("needs the QGIS desktop and xvfb-run (scripts/test installs qgis and xvfb as root)")
    if not conn.execute("SELECT count(*) FROM sclzonal.scene").fetchone()[0]:  # type: ignore[index]
        assert profile.run("loadscl", *(f"INPUT={path}" for path in demo.scene_paths))[0] == 0
    target, report_path = tmp_path / "opened.qgs", tmp_path / "desktop.json"
    env = profile.env(SCLZ_PLUGIN_REPORT=str(report_path), SCLZ_PLUGIN_PROJECT=str(target),
                      SCLZ_PLUGIN_LAYER=f"{demo.polygons_path}|layername={demo.polygons_layer}")
    env.pop("QT_QPA_PLATFORM")
    script = Path(__file__).resolve().parent / "qgis_plugin_desktop.py"
    done = subprocess.run(["xvfb-run", "-a", "qgis", "--noversioncheck", "--nologo", "--code", str(script)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    assert done.returncode == 0 and report_path.exists(), done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert "sclzonal" in report["providers"] and "error" not in report, report
    assert report["settings"] == {"SCLZONAL_EXECUTABLE": SCLZONAL, "SCLZONAL_DATABASE_URL": database_url,
                                  "SCLZONAL_PG_SERVICE": ""}
    assert report["loaded"]["FEATURES"] == 5
    selected = conn.execute("SELECT source_fid, name FROM sclzonal.polygon WHERE source = 'selected'"
                            " ORDER BY source_fid::int").fetchall()
    with fiona.open(demo.polygons_path, layer=demo.polygons_layer) as layer:
        names = {f.properties["field_id"]: f.properties["name"] for f in layer}
    assert selected == [(str(i), names[i]) for i in (3, 5, 8, 13, 21)]
    assert report["results"] == {"OUTPUT": str(target)}
    assert report["file"] == str(target), report
    layers = report["layers"]
    assert "Verdict per polygon" in layers and len(layers) >= 5 and all(layers.values()), layers
