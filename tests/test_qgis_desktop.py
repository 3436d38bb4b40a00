"""The project as the QGIS desktop uses it: drawn in parallel, its saved view, its layer tree.

Real QGIS 3.22 in subprocesses (tests/qgis_parallel_render.py), a real PostGIS database with demo
scenes in two UTM zones.
"""

from __future__ import annotations

import base64
import io
import json
import math
import os
import re
import secrets
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from affine import Affine
from PIL import Image
from psycopg.conninfo import conninfo_to_dict

from sclzonal.demo.data import generate_demo
from sclzonal.qgis.project import QGIS_PYTHON, qgis_environment
from tests.helpers import cli_ok, run_cli, write_raster
from tests.qgis_support import colour_count, pixels, require_qgis, rgb, run_checks

PARALLEL_RENDERS = 10
RENDER_SCRIPT = Path(__file__).resolve().parent / "qgis_parallel_render.py"
DESKTOP_SCRIPT = Path(__file__).resolve().parent / "qgis_desktop_open.py"
# libpq and GDAL on stderr when two threads talk over one connection (issue 13, item 1).
PROTOCOL_ERRORS = re.compile(r"ERROR \d+:|arrived from server|lost synchronization|server closed|"
                             r"no connection to the server|invalid socket|message contents do not agree|"
                             r"out of range|IRasterIO", re.IGNORECASE)


@dataclass
class Project:
    """A project built by `sclzonal qgis project`, where it was written, what QGIS reads in it."""

    url: str
    qgs: Path
    stored: str
    checks: dict[str, Any]


@pytest.fixture(scope="module")
def project(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Four demo scenes in EPSG:32633 and, newest, one in 32634 over them (a stripe per SCL class),
    60 fields; the project written to a file and to the database."""
    require_qgis()
    work = tmp_path_factory.mktemp("qgis-desktop")
    data = generate_demo(work / "data", scenes=4, fields=60, size=400)
    cli_ok(database_url, "polygons", "load", str(data.polygons_path), "--layer", data.polygons_layer,
           "--id-field", "field_id", "--name-field", "name")
    other_zone = np.tile(np.arange(12, dtype=np.uint8), (60, 5))[:, :60]
    other_path = write_raster(work / "data" / "SCL_2024-12-01.tif", other_zone, crs="EPSG:32634",
                              transform=Affine(20, 0, -3000, 0, -20, 5128000))  # inside the demo area
    cli_ok(database_url, "scl", "load", *map(str, data.scene_paths), str(other_path))
    cli_ok(database_url, "refresh")
    cli_ok(database_url, "qgis", "styles")
    qgs = work / "sclzonal.qgs"
    cli_ok(database_url, "qgis", "project", "--output", str(qgs), "--store-in-db")
    p = conninfo_to_dict(database_url)
    stored = (f"postgresql://{p.get('user', 'postgres')}@{p.get('host', '127.0.0.1')}:{p.get('port', 5432)}"
              f"?dbname={p['dbname']}&schema=public&project=sclzonal")
    checks = run_checks({"projects": {"file": str(qgs), "db": stored}}, work)
    return Project(database_url, qgs, stored, checks)


def _render_in_parallel(location: str, output: Path) -> tuple[dict[str, Any], str]:
    """Run qgis_parallel_render.py; fail the test on a crash, a hang or a failed exit."""
    output.mkdir()
    try:
        done = subprocess.run([QGIS_PYTHON, str(RENDER_SCRIPT), location, str(PARALLEL_RENDERS), str(output)],
                              capture_output=True, text=True, env=qgis_environment(), timeout=300,
                              check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"QGIS hung drawing the project {PARALLEL_RENDERS} times (no end within 300 s)")
    if done.returncode < 0:
        pytest.fail(f"QGIS crashed with signal {-done.returncode} while drawing the project:\n"
                    f"{done.stderr[-2000:]}")
    assert done.returncode == 0, done.stderr[-3000:]
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report, done.stderr


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_every_layer_draws_in_parallel_ten_times_without_an_error(
        project: Project, tmp_path: Path, where: str) -> None:
    """Issue 13, item 1: all layers on (every SCL scene too), QgsMapRendererParallelJob as the
    desktop uses it, ten renders in one QGIS process: no crash, no hang, no error logged, and
    the same picture every time."""
    location = str(project.qgs) if where == "file" else project.stored
    report, stderr = _render_in_parallel(location, tmp_path / "renders")
    scenes = [name for name in report["layers"] if name.startswith("SCL ")]
    assert len(scenes) == 5 and len(report["layers"]) == 10, report["layers"]
    assert report["errors"] == []
    logged = [m for m in report["messages"] if m[1] >= 1]
    assert logged == [], logged
    assert [line for line in stderr.splitlines() if PROTOCOL_ERRORS.search(line)] == []
    images = [pixels(tmp_path / "renders" / f"render-{i}.png") for i in range(PARALLEL_RENDERS)]
    assert all(np.array_equal(images[0], image) for image in images[1:])
    # the SCL classes of the 32634 scene (one stripe each) and the verdict fills are on the map
    for colour in ("#ff0000", "#0000ff", "#ff96ff", "#64c8ff"):
        assert colour_count(images[0], rgb(colour)) > 20, colour
    assert colour_count(images[0], rgb("#4dac26")) > 100


def _newest_scene(url: str) -> tuple[int, str, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT scene.id, acquired_on, ST_SRID(rast) FROM sclzonal.scene "
                           "JOIN sclzonal.scene_tile ON scene_id = scene.id "
                           "ORDER BY acquired_on DESC, id DESC LIMIT 1").fetchone()
    assert row is not None
    return int(row[0]), row[1].isoformat(), int(row[2])


def _assert_shows_the_polygons(url: str, srid: int, extent: list[float], at_most: float) -> None:
    """`extent` (in EPSG:srid) covers PostGIS's own extent of the projected polygons, and is at
    most `at_most` times its area."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                           "ST_Extent(ST_Transform(geom, %s)) AS e FROM sclzonal.polygon) AS x",
                           (srid,)).fetchone()
    assert row is not None
    xmin, ymin, xmax, ymax = extent
    assert xmin <= row[0] and ymin <= row[1] and xmax >= row[2] and ymax >= row[3], (extent, row)
    assert (xmax - xmin) * (ymax - ymin) < at_most * (row[2] - row[0]) * (row[3] - row[1])


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_project_opens_on_the_polygons(project: Project, where: str) -> None:
    """Issue 13, item 2: the saved view covers every polygon, in the newest scene's UTM CRS,
    and not much more (compared with PostGIS's own extent of the projected polygons)."""
    _, _, srid = _newest_scene(project.url)
    view = project.checks["projects"][where]["view"]
    assert view is not None, "the project has no saved view: QGIS opens it at 1:1 on nothing"
    assert view["crs"] == project.checks["projects"][where]["crs"] == f"EPSG:{srid}"
    _assert_shows_the_polygons(project.url, srid, view["extent"], 1.5)


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_newest_scene_on_scene_legends_folded_and_headed_by_what_they_show(
        project: Project, where: str) -> None:
    """Issue 13, items 3 and 4: only the newest scene ticked, the scenes' legends folded, not
    headed "Band 1 (Gray)" and with outlined swatches, the verdict legends without a catch-all
    row for no rule."""
    scene_id, day, _ = _newest_scene(project.url)
    tree = {node["name"]: node for node in project.checks["projects"][where]["tree"]}
    scenes = {name: node for name, node in tree.items() if name.startswith("SCL ")}
    assert len(scenes) == 5
    assert [name for name, node in scenes.items() if node["checked"]] == [f"SCL {day} (scene {scene_id})"]
    with psycopg.connect(project.url) as conn:
        colours = [rgb(row[0]) for row in conn.execute(
            "SELECT colour FROM sclzonal.scl_class ORDER BY value").fetchall()]
    for node in scenes.values():
        assert node["expanded"] is False
        assert not any(str(row).startswith("Band ") for row in node["legend"]), node["legend"]
        assert len(node["legend_images"]) == 1, node["legend"]
        legend = np.asarray(Image.open(io.BytesIO(base64.b64decode(node["legend_images"][0])))
                            .convert("RGBA"))
        _assert_outlined_swatches(legend, colours)
    _verdict_legends(tree)


def _assert_outlined_swatches(legend: np.ndarray, colours: list[tuple[int, int, int]]) -> None:
    """Issue 13, item 4: each class has a filled square swatch of its colour, top to bottom in
    class order, and every pixel of the ring around it is one opaque colour darker than class
    9's white (so the swatch shows on a white Layers panel)."""
    tops, rings = [], set()
    for colour in colours:
        exact = np.all(legend[:, :, :3] == colour, axis=2) & (legend[:, :, 3] == 255)
        box = _largest_box(exact)
        assert box is not None, colour
        top, left, bottom, right = box
        assert bottom - top >= 8 and right - left >= 8 and exact[top:bottom + 1, left:right + 1].all()
        ring = np.concatenate([legend[top - 1, left - 1:right + 2], legend[bottom + 1, left - 1:right + 2],
                               legend[top:bottom + 1, left - 1], legend[top:bottom + 1, right + 1]])
        rings |= {tuple(int(v) for v in pixel) for pixel in ring}
        tops.append(top)
    assert tops == sorted(tops) and len(set(tops)) == len(colours)
    assert len(rings) == 1, rings
    ring_colour = next(iter(rings))
    assert ring_colour[3] == 255 and max(ring_colour[:3]) < 0xC0, ring_colour


def _largest_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """The bounding box (top, left, bottom, right) of the largest 4-connected region of `mask`."""
    seen = np.zeros_like(mask)
    best: tuple[int, tuple[int, int, int, int]] | None = None
    for start in zip(*np.nonzero(mask), strict=True):
        if seen[start]:
            continue
        stack, cells = [start], []
        seen[start] = True
        while stack:
            y, x = stack.pop()
            cells.append((y, x))
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < mask.shape[0] and 0 <= nx < mask.shape[1] and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        ys, xs = [c[0] for c in cells], [c[1] for c in cells]
        if best is None or len(cells) > best[0]:
            best = (len(cells), (min(ys), min(xs), max(ys), max(xs)))
    return best[1] if best else None


def _verdict_legends(tree: dict[str, Any]) -> None:
    """Issue 13, item 4: verdict legends without a catch-all row for no rule."""
    for name in ("Verdict per polygon", "Verdict per scene", "Verdict per month"):
        assert tree[name]["legend"][:2] == ["Vegetation", "Not vegetation (other)"]
        assert not any("Another rule" in row for row in tree[name]["legend"]), tree[name]["legend"]
    assert tree["Verdict per polygon"]["checked"] and tree["Polygons"]["checked"]


def test_storing_through_a_readers_service_entry_is_refused_in_one_line(
        project: Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 13, item 5: `qgis project --service NAME --store-in-db` run where the entry NAME is
    the reader's (as readers have it) says which role may not write, before QGIS runs."""
    name, password = f"sclz_desk_reader_{os.getpid()}", secrets.token_hex(8)
    monkeypatch.setenv("SCLZ_DESK_READER_PASSWORD", password)
    cli_ok(project.url, "qgis", "role", "--name", name, "--password-env", "SCLZ_DESK_READER_PASSWORD")
    try:
        p = conninfo_to_dict(project.url)
        services = tmp_path / "reader.conf"
        services.write_text(f"[sclzonal_desk]\nhost={p.get('host', '127.0.0.1')}\n"
                            f"port={p.get('port', 5432)}\ndbname={p['dbname']}\nuser={name}\n"
                            f"password={password}\n")
        monkeypatch.setenv("PGSERVICEFILE", str(services))
        code, out, err = run_cli(capsys, project.url, "qgis", "project", "--service", "sclzonal_desk",
                                 "--store-in-db", "--project-name", "as_reader")
        assert code == 1 and out == "" and err.count("\n") == 1
        assert f"its role {name} may not write public.qgis_projects" in err
        with psycopg.connect(project.url) as conn:
            assert conn.execute("SELECT count(*) FROM public.qgis_projects WHERE name = 'as_reader'"
                                ).fetchone() == (0,)
    finally:
        with psycopg.connect(project.url, autocommit=True) as conn:
            conn.execute(f'DROP OWNED BY "{name}"')
            conn.execute(f'DROP ROLE "{name}"')


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_the_desktop_opens_on_the_polygons_and_redraws_everything_without_an_error(
        project: Project, tmp_path: Path, where: str) -> None:
    """The QGIS desktop itself (under Xvfb, a fresh profile, default settings: parallel drawing):
    it opens the project on the polygons, not at 1:1 on nothing, redraws every layer ten times
    with nothing logged, and its Temporal Controller steps from acquisition to acquisition."""
    if shutil.which("xvfb-run") is None or shutil.which("qgis") is None:
        pytest.skip("needs the QGIS desktop and xvfb-run (scripts/test installs qgis and xvfb as root)")
    location = str(project.qgs) if where == "file" else project.stored
    report_path = tmp_path / "desktop.json"
    env = {**qgis_environment(), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
           "SCLZ_DESKTOP_REPORT": str(report_path)}
    env.pop("QT_QPA_PLATFORM")
    try:
        done = subprocess.run(["xvfb-run", "-a", "qgis", "--noversioncheck", "--nologo", "--project",
                               location, "--code", str(DESKTOP_SCRIPT)], capture_output=True, text=True,
                              env=env, timeout=300, check=False)
    except subprocess.TimeoutExpired:
        pytest.fail("the QGIS desktop hung drawing the project (no end within 300 s)")
    assert done.returncode == 0 and report_path.exists(), done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    _, _, srid = _newest_scene(project.url)
    opened = report["opened_on"]
    assert opened["crs"] == f"EPSG:{srid}" and opened["scale"] > 1000, opened
    assert len(report["drawn_at"]) == 10 and len(report["visible"]) == 10, report["drawn_at"]
    assert [m for m in report["messages"] if m[1] >= 1] == []
    assert [line for line in done.stderr.splitlines() if PROTOCOL_ERRORS.search(line)] == []
    _assert_shows_the_polygons(project.url, srid, opened["extent"], 4)  # canvas aspect is not the view's
    with psycopg.connect(project.url) as conn:  # issue 13, item 9: a frame per acquisition
        days = [r[0].isoformat() for r in conn.execute(
            "SELECT DISTINCT acquired_on FROM sclzonal.scene ORDER BY 1")]
    assert report["time_frames"] == days


# The legend labels as documented (qgis.md's table): what the value map shows for each verdict.
VERDICT_LABELS = {"vegetation": "Vegetation", "other": "Not vegetation (other)",
                  "partially_observed": "Partially observed (coverage too low)",
                  "no_clear_observation": "No clear observation", "no_pixels": "No pixels",
                  "not_countable": "Not countable (see sclzonal explain)"}


def _expected_map_tip(name: str, verdict: str, day: Any, share: float | None, clear_pixels: int | None,
                      clear: int | None, observations: int | None) -> str:
    """The map tip as issue 13 (item 7) words it, from the database's own values."""
    text = f"<b>{name}</b><br>{VERDICT_LABELS[verdict]}"
    if day is not None:
        percent = math.floor((share or 0) * 100 + 0.5)  # QGIS's round(): halves away from zero
        text += f" on {day.isoformat()}: {percent} % of {clear_pixels} clear pixels"
    counts = ["" if value is None else str(value) for value in (clear, observations)]
    return text + f", {counts[0]} of {counts[1]} observations clear"


@pytest.mark.qgis
@pytest.mark.slow
@pytest.mark.parametrize("where", ["file", "db"])
def test_fields_read_in_words_and_the_map_tip_says_how_sure(project: Project, where: str) -> None:
    """Issue 13, item 7 (in part): field aliases, verdicts shown by their legend labels, and a map
    tip per polygon: "Vegetation on 2017-10-13: 98 % of 420 clear pixels, 5 of 6 observations clear"."""
    layers = {layer["name"]: layer for layer in project.checks["projects"][where]["layers"]}
    polygons = layers["Verdict per polygon"]
    assert polygons["aliases"]["acquired_on"] == "Decided by scene of"
    assert polygons["aliases"]["vegetation_share"].startswith("Vegetation share")
    assert layers["Verdict per scene"]["aliases"]["acquired_on"] == "Acquired on"
    for name in ("Verdict per polygon", "Verdict per scene", "Verdict per month"):
        widget = layers[name]["verdict_widget"]
        shown = {label: value for pair in widget["config"]["map"] for label, value in pair.items()}
        assert widget["type"] == "ValueMap"
        assert {"Vegetation": "vegetation", "Not vegetation (other)": "other"}.items() <= shown.items()
    with psycopg.connect(project.url) as conn:
        rows = conn.execute("SELECT polygon_id, name, verdict, acquired_on, vegetation_share, clear_pixels,"
                            " clear_observations, observations FROM sclzonal.polygon_verdict").fetchall()
    assert {row[2] for row in rows} >= {"vegetation", "other"}
    assert polygons["map_tips"] == {str(row[0]): _expected_map_tip(*row[1:]) for row in rows}
