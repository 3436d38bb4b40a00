"""The project explains each polygon (issue 13, items 7, 8, 9): percentages, source attributes,
sorted rows, each polygon's observations by date through a relation, a chart of its class shares
over time in its form, and a map theme and bookmark per acquisition.

Real QGIS 3.22 reads the project (tests/qgis_form_checks.py; the desktop under Xvfb for the
chart), a real PostGIS database holds demo scenes with two scenes of one date that overlap.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from affine import Affine

from sclzonal.demo.data import DEMO_ORIGIN, generate_demo
from sclzonal.qgis.project import QGIS_PYTHON, qgis_environment
from tests.helpers import cli_ok, write_raster
from tests.qgis_support import colour_count, pixels, require_qgis, rgb

CHECKS = Path(__file__).resolve().parent / "qgis_form_checks.py"
DESKTOP = Path(__file__).resolve().parent / "qgis_form_desktop.py"


@dataclass
class Project:
    """The project `sclzonal qgis project` wrote, and what QGIS reads in it."""

    url: str
    qgs: Path
    checks: dict[str, Any]


@pytest.fixture(scope="module")
def project(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Project:
    """Three demo scenes, 30 fields, and a second scene of the first date over part of them
    (so a date can have two scenes and the observation is one of them)."""
    require_qgis()
    work = tmp_path_factory.mktemp("qgis-forms")
    data = generate_demo(work / "data", scenes=3, fields=30, size=300)
    cli_ok(database_url, "polygons", "load", str(data.polygons_path), "--layer", data.polygons_layer,
           "--id-field", "field_id", "--name-field", "name")
    x0, y0 = DEMO_ORIGIN
    second = write_raster(work / "data" / "second.tif", np.full((150, 150), 4, dtype=np.uint8),
                          transform=Affine(20, 0, x0 + 1000, 0, -20, y0 - 1000),
                          tags={"ACQUISITION_DATE": "2024-06-05"})
    cli_ok(database_url, "scl", "load", *map(str, data.scene_paths), str(second))
    cli_ok(database_url, "refresh")
    qgs = work / "sclzonal.qgs"
    cli_ok(database_url, "qgis", "project", "--output", str(qgs))
    done = subprocess.run([QGIS_PYTHON, str(CHECKS), str(qgs)], capture_output=True, text=True,
                          env=qgis_environment(), timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    return Project(database_url, qgs, json.loads(done.stdout.strip().splitlines()[-1]))


def _rows(url: str, query: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, args).fetchall()


def _near(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b, abs_tol=1e-9))


@pytest.mark.qgis
@pytest.mark.slow
def test_each_polygon_relates_to_its_observations_by_date(project: Project) -> None:
    """Item 8: the relation is valid, and each polygon's related features are exactly its
    observations in the database (one per date: the best scene of the date), with their date,
    coverage, clear share, verdict and class shares."""
    relation = project.checks["relation"]
    assert relation["valid"] and relation["referenced"] == "Verdict per polygon"
    assert relation["referencing"] == "Observations (by date)"
    assert relation["pairs"] == {"polygon_id": "polygon_id"}
    rows = _rows(project.url, "SELECT polygon_id, acquired_on, scene_id, coverage, clear_share, verdict, "
                 "class_pixels, total_pixels FROM sclzonal.polygon_observation")
    all_pairs = _rows(project.url, "SELECT count(*) FROM sclzonal.scene_verdict")[0][0]
    assert all_pairs > len(rows), "the data should hold two scenes of one date for some polygon"
    expected: dict[str, list[Any]] = {str(p): [] for (p,) in _rows(project.url, "SELECT polygon_id FROM "
                                                                    "sclzonal.polygon_verdict")}
    for polygon_id, day, scene_id, coverage, clear_share, verdict, classes, total in rows:
        expected[str(polygon_id)].append([day.isoformat(), scene_id, coverage, clear_share, verdict,
                                          [c / total for c in classes]])
    related = relation["related"]
    assert set(related) == set(expected)
    for key, observations in expected.items():
        found = related[key]
        assert [o[:2] + [o[4]] for o in found] == [o[:2] + [o[4]] for o in sorted(observations)], key
        for got, want in zip(found, sorted(observations), strict=True):
            assert _near(got[2], want[2]) and _near(got[3], want[3])
            assert all(math.isclose(g, w, abs_tol=1e-12) for g, w in zip(got[5], want[5], strict=True))
    assert sum(len(v) for v in related.values()) == len(rows)


@pytest.mark.qgis
@pytest.mark.slow
def test_the_history_lists_class_shares_in_words_and_feeds_the_chart(project: Project) -> None:
    """Item 8: each observation reads "4 Vegetation 100 %" in the form and its list shows the date
    and verdict; the chart's data (the expression its QML evaluates) holds every observation
    of the polygon, oldest first, with its share per class."""
    relation = project.checks["relation"]
    names = dict(_rows(project.url, "SELECT value, name FROM sclzonal.scl_class"))
    for key, observations in relation["related"].items():
        history = relation["history"][key] or ""
        rows = [row.split(";") for row in history.split("|")] if history else []
        assert [r[0] for r in rows] == [o[0] for o in observations]
        for (_, text), observation in zip(rows, observations, strict=True):
            assert [float(v) for v in text.split(",")] == pytest.approx(observation[5], abs=1e-12)
            shown = [f"{k} {names[k]} {round(share * 100, 1):g} %"
                     for k, share in enumerate(observation[5]) if share > 0]
            assert observation[6] == ", ".join(shown)
    labels = {"vegetation": "Vegetation", "other": "Not vegetation (other)",
              "not_clear": "Not clear (clouds, shadows, no data)",
              "partially_observed": "Partially observed (coverage too low)"}
    for key, text in relation["display"].items():
        day, verdict = _rows(project.url, "SELECT acquired_on, verdict FROM sclzonal.scene_verdict_layer "
                                          "WHERE id = %s", int(key))[0]
        assert text.startswith(f"{day.isoformat()}: {labels[verdict]}, vegetation "), text


@pytest.mark.qgis
@pytest.mark.slow
def test_the_polygon_form_has_tabs_for_verdict_source_and_history(project: Project) -> None:
    form = project.checks["form"]
    assert form["layout"] == 1 and list(form["tabs"]) == ["Verdict", "Source file", "History"]
    verdict = [e["field"] for e in form["tabs"]["Verdict"]]
    assert verdict[:4] == ["name", "verdict", "acquired_on", "vegetation_share_percent"]
    history = form["tabs"]["History"]
    assert "import QtCharts" in history[0]["qml"] and "expression.evaluate(" in history[0]["qml"]
    assert history[1] == {"relation": "polygon_observations", "widget": "relation_editor"}
    source = [e["field"] for e in form["tabs"]["Source file"]]
    assert source == ["source_area_ha", "source_crop", "source_field_id", "source_name",
                      "source_attributes"]
    observation = [element["field"] for elements in project.checks["observation_form"]["tabs"].values()
                   for element in elements]
    assert observation[:3] == ["acquired_on", "verdict", "class_shares_text"]


@pytest.mark.qgis
@pytest.mark.slow
def test_shares_read_as_percentages_and_rows_sort_by_polygon(project: Project) -> None:
    """Item 7: every share has a percentage field (rounded to 0.1) shown in its place, and the
    attribute tables sort by polygon (the observations by date)."""
    tables = project.checks["tables"]
    polygons = tables["Verdict per polygon"]
    assert polygons["aliases"]["vegetation_share_percent"] == "Vegetation share (%)"
    assert polygons["hidden"] == ["clear_share", "coverage", "rule_share", "vegetation_share"]
    rows = _rows(project.url, "SELECT polygon_id, vegetation_share, coverage, clear_share, rule_share "
                 "FROM sclzonal.polygon_verdict")
    for polygon_id, *shares in rows:
        values = polygons["values"][str(polygon_id)]
        for name, share in zip(("vegetation_share", "coverage", "clear_share", "rule_share"), shares,
                               strict=True):
            want = None if share is None else math.floor(share * 1000 + 0.5) / 10
            assert values[f"{name}_percent"] == (None if want is None else pytest.approx(want)), name
    assert polygons["sort"] == '"polygon_id"' and polygons["sort_order"] == 0
    assert tables["Verdict per scene"]["sort"].startswith("lpad(to_string(\"polygon_id\")")
    assert tables["Verdict per month"]["sort"] == '"id"'
    assert tables["Observations (by date)"]["sort"] == '"acquired_on"'


@pytest.mark.qgis
@pytest.mark.slow
def test_the_polygons_own_attributes_from_the_source_file(project: Project) -> None:
    """Item 7: each attribute of the loaded file is a field of the verdict per polygon, named by
    the attribute, with the polygon's own value; all of them in a JSON view too."""
    polygons = project.checks["tables"]["Verdict per polygon"]
    assert {k: v for k, v in polygons["aliases"].items() if k.startswith("source_")} == {
        "source_area_ha": "area_ha", "source_crop": "crop", "source_field_id": "field_id",
        "source_name": "name"}
    assert polygons["json_widget"] == "JsonEdit"
    for polygon_id, attributes in _rows(project.url, "SELECT id, attributes FROM sclzonal.polygon"):
        values = polygons["values"][str(polygon_id)]
        for key, value in attributes.items():
            assert values[f"source_{key}"] == str(value), (polygon_id, key)


@pytest.mark.qgis
@pytest.mark.slow
def test_a_theme_and_a_bookmark_per_acquisition(project: Project) -> None:
    """Item 9: one map theme per acquisition date showing that date's SCL scenes, the polygons
    and the verdict of each polygon in those scenes only; one bookmark per date on its scenes."""
    scenes = _rows(project.url, "SELECT acquired_on, id FROM sclzonal.scene ORDER BY acquired_on, id")
    days = sorted({day for day, _ in scenes})
    themes = project.checks["themes"]
    assert list(themes) == [f"Acquisition {day}" for day in days]
    for day in days:
        theme = themes[f"Acquisition {day}"]
        rasters = [f"SCL {day} (scene {scene_id})" for d, scene_id in scenes if d == day]
        assert theme["layers"] == sorted(["Polygons", "Verdict per scene", *rasters])
        count = _rows(project.url, "SELECT count(*) FROM sclzonal.scene_verdict_layer WHERE acquired_on = %s",
                      day)[0][0]
        assert theme["styled"] and theme["drawn"] == count > 0, (day, theme)
    marks = {b["name"]: b for b in project.checks["bookmarks"]}
    assert list(marks) == [f"Acquisition {day}" for day in days]
    srid = _rows(project.url, "SELECT srid FROM sclzonal.scene ORDER BY acquired_on DESC, id DESC "
                 "LIMIT 1")[0][0]
    for day in days:
        xmin, ymin, xmax, ymax = _rows(
            project.url, "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT ST_Extent("
            "ST_Transform(ST_Envelope(t.rast), %s)) AS e FROM sclzonal.scene_tile AS t JOIN sclzonal.scene "
            "AS s ON s.id = t.scene_id WHERE s.acquired_on = %s) AS x", srid, day)[0]
        mark = marks[f"Acquisition {day}"]
        assert mark["group"] == "Acquisitions" and mark["crs"] == f"EPSG:{srid}"
        assert mark["extent"] == pytest.approx([xmin, ymin, xmax, ymax], abs=1e-6)


@pytest.mark.qgis
@pytest.mark.slow
def test_the_desktop_draws_the_chart_in_the_polygons_form(project: Project, tmp_path: Path) -> None:
    """Item 8: the QGIS desktop (Xvfb) opens a polygon's form at its History tab; the QML chart
    loads (QtCharts, as Debian's QGIS ships it) and draws a line in the colour of each class
    the polygon showed, and the observations list has one row per date."""
    if shutil.which("xvfb-run") is None or shutil.which("qgis") is None:
        pytest.skip("needs the QGIS desktop and xvfb-run (scripts/test installs qgis and xvfb as root)")
    (polygon_id,) = _rows(project.url, "SELECT polygon_id FROM sclzonal.polygon_observation "
                                       "GROUP BY 1 HAVING count(*) = 3 ORDER BY 1 LIMIT 1")[0]
    env = {**qgis_environment(), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin",
           "SCLZ_FORM_OUT": str(tmp_path), "SCLZ_FORM_POLYGON": str(polygon_id),
           "SCLZ_CHECKOUT": str(Path(__file__).resolve().parents[1])}
    env.pop("QT_QPA_PLATFORM")
    done = subprocess.run(["xvfb-run", "-a", "-s", "-screen 0 1400x1200x24", "qgis", "--noversioncheck",
                           "--nologo", "--project", str(project.qgs), "--code", str(DESKTOP)],
                          capture_output=True, text=True, env=env, timeout=300, check=False)
    report_path = tmp_path / "form.json"
    assert done.returncode == 0 and report_path.exists(), done.stderr[-3000:]
    report = json.loads(report_path.read_text())
    assert report["chart_status"] == [1], report  # QQuickWidget.Ready: the QML loaded
    assert report["related_rows"] == [3]
    observed = _rows(project.url, "SELECT acquired_on FROM sclzonal.polygon_observation "
                     "WHERE polygon_id = %s ORDER BY 1", polygon_id)
    days = [row[0].isoformat() for row in observed]
    assert [text.split(":")[0] for text in report["listed"]] == days
    classes = _rows(project.url, "SELECT DISTINCT c.value, c.colour FROM sclzonal.polygon_observation AS o "
                    "CROSS JOIN LATERAL unnest(o.class_pixels) WITH ORDINALITY AS p(px, k) JOIN "
                    "sclzonal.scl_class AS c ON c.value = p.k - 1 WHERE o.polygon_id = %s AND p.px > 0",
                    polygon_id)
    chart = pixels(tmp_path / "chart.png")
    for value, colour in classes:  # white (class 9) is drawn grey and dotted on the white chart
        shown = "#9e9e9e" if colour == "#ffffff" else colour
        assert colour_count(chart, rgb(shown), tolerance=8) > 20, (value, colour)
