"""Hostile names (quotes, semicolons, comment markers, unicode) in layers, fields, sources, file
names, role names and rule labels: stored as written, nothing executed; and no SQL in the code
is built from anything but constants (names from users are parameters or sql.Identifier)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import fiona
import psycopg
import pytest
from affine import Affine
from shapely import box
from shapely.geometry import mapping

from tests.helpers import database_snapshot as snapshot
from tests.helpers import run_cli, write_raster

ROOT = Path(__file__).resolve().parents[1]
LAYER = 'x"; DROP TABLE sclzonal.scene; --'
SOURCE = "'; DROP TABLE sclzonal.polygon; --"
FIELDS = {'na"me;': "str", "ünï 'q'": "int", "id); DELETE FROM sclzonal.scene; --": "str"}
VALUES = {'na"me;': "Robert'); DROP TABLE sclzonal.scene;--", "ünï 'q'": 7,
          "id); DELETE FROM sclzonal.scene; --": "$$; SELECT pg_sleep(10); $$"}
RELATIONS = ("polygon", "scene", "scene_tile", "counted_pair", "polygon_verdict", "verdict_rule")


def _relations(conn: psycopg.Connection) -> list[str]:
    return [name for name in RELATIONS if conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"sclzonal.{name}",)).fetchone() == (True,)]


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    path = tmp_path / "fields.gpkg"
    schema = {"geometry": "Polygon", "properties": FIELDS}
    with fiona.open(path, "w", driver="GPKG", crs="EPSG:4326", schema=schema, layer=LAYER) as sink:
        for k in range(3):
            values = {**VALUES, "id); DELETE FROM sclzonal.scene; --": f"{VALUES[list(VALUES)[2]]}{k}"}
            sink.write({"geometry": mapping(box(15 + k / 100, 46, 15.005 + k / 100, 46.005)),
                        "properties": values})
    return path


def test_hostile_layer_fields_and_source_are_data(capsys: pytest.CaptureFixture[str], database_url: str,
                                                  conn: psycopg.Connection, hostile: Path) -> None:
    id_field, name_field = "id); DELETE FROM sclzonal.scene; --", 'na"me;'
    args = ["polygons", "load", str(hostile), "--layer", LAYER, "--source", SOURCE,
            "--id-field", id_field, "--name-field", name_field]
    code, out, err = run_cli(capsys, database_url, *args)
    assert code == 0 and "3 new" in out, err
    rows = conn.execute("SELECT source, source_fid, name, attributes FROM sclzonal.polygon"
                        " WHERE source = %s ORDER BY source_fid", (SOURCE,)).fetchall()
    assert [row[1] for row in rows] == [f"{VALUES[id_field]}{k}" for k in range(3)]
    assert {row[2] for row in rows} == {VALUES[name_field]}
    assert rows[0][3] == {**VALUES, id_field: f"{VALUES[id_field]}0"}
    assert _relations(conn) == list(RELATIONS)
    before = snapshot(conn)
    code, out, _ = run_cli(capsys, database_url, *args)
    assert code == 0 and "0 new, 0 updated, 3 unchanged" in out and snapshot(conn) == before
    code, _, err = run_cli(capsys, database_url, "polygons", "load", str(hostile), "--layer", LAYER + "'")
    assert code == 1 and "no layer 'x\"; DROP TABLE sclzonal.scene; --\\''" in err


def test_hostile_file_names_are_data(capsys: pytest.CaptureFixture[str], database_url: str,
                                     conn: psycopg.Connection, tmp_path: Path) -> None:
    import numpy as np

    folder = tmp_path / "a'b\"c; DROP TABLE sclzonal.scene_tile; --"
    folder.mkdir()
    path = write_raster(folder / "ščl_20240601 $(rm -rf ~).tif", np.full((12, 60), 4, dtype=np.uint8),
                        crs="EPSG:4326", transform=Affine(0.0005, 0, 15, 0, -0.0005, 46.006))
    code, _, err = run_cli(capsys, database_url, "scl", "load", str(path))
    assert code == 0, err
    assert conn.execute("SELECT reference FROM sclzonal.scene WHERE reference = %s",
                        (str(path.resolve()),)).fetchone() is not None
    assert _relations(conn) == list(RELATIONS)


def test_hostile_rule_labels_are_escaped_in_styles_and_output(capsys: pytest.CaptureFixture[str],
                                                              database_url: str,
                                                              conn: psycopg.Connection) -> None:
    label = "<b>\"x'</b>; DROP TABLE sclzonal.scene; -- &amp; ünï"
    conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share,"
                 " priority) VALUES (%s, '{4}', 0, 0, 1)", (label,))
    try:
        for args in (["refresh"], ["qgis", "styles"]):
            code, _, err = run_cli(capsys, database_url, *args)
            assert code == 0, (args, err)
        code, out, _ = run_cli(capsys, database_url, "verdicts", "--format", "geojson")
        assert code == 0 and label in {f["properties"]["verdict"] for f in json.loads(out)["features"]}
        qml = conn.execute("SELECT styleqml::text FROM public.layer_styles WHERE stylename ="
                           " 'sclzonal verdicts' AND f_table_name = 'polygon_verdict'").fetchone()
        assert qml is not None and "&lt;b&gt;" in qml[0]
    finally:
        conn.execute("DELETE FROM sclzonal.verdict_rule WHERE label = %s", (label,))
    assert _relations(conn) == list(RELATIONS)


def test_hostile_role_names_are_refused(capsys: pytest.CaptureFixture[str], database_url: str) -> None:
    for args in (["qgis", "role", "--name", "r\"; DROP ROLE postgres; --"],
                 ["db", "roles", "--reader", "Reader"], ["db", "roles", "--owner", "o'wner"]):
        code, _, err = run_cli(capsys, database_url, *args)
        assert code == 1 and "role name" in err and len(err.strip().splitlines()) == 1


# --- static: SQL strings in the code interpolate constants only -----------------------------------

SQL_CALLS = {"execute", "copy", "SQL", "text"}
# Local names that the functions using them bind to constant strings only (read, then listed).
CONSTANT_LOCALS = {("sclzonal/verdicts.py", "geometry"), ("sclzonal/qgis/styles.py", "where")}
# Loop variables over literal lists in migrations (table, trigger and function names).
MIGRATION_LOCALS = {"trigger", "table", "function", "view"}


def _interpolations(tree: ast.AST) -> list[tuple[ast.Call, ast.expr]]:
    found = []
    for call in ast.walk(tree):
        if isinstance(call, ast.Call) and call.args and isinstance(call.args[0], ast.JoinedStr):
            name = call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", "")
            if name in SQL_CALLS:
                found += [(call, part.value) for part in call.args[0].values
                          if isinstance(part, ast.FormattedValue)]
    return found


def _constant(expression: ast.expr, file: str) -> bool:
    for node in ast.walk(expression):
        if isinstance(node, ast.Name) and not (
                node.id.isupper() or (file, node.id) in CONSTANT_LOCALS
                or (file.startswith("db/migrations/") and node.id in MIGRATION_LOCALS)):
            return False
    return True


def test_sql_is_composed_from_constants_only() -> None:
    offenders = []
    files = [p for folder in ("sclzonal", "ingest", "db") for p in (ROOT / folder).rglob("*.py")]
    for path in files:
        file = str(path.relative_to(ROOT))
        for call, value in _interpolations(ast.parse(path.read_text(encoding="utf-8"))):
            if not _constant(value, file):
                offenders.append(f"{file}:{call.lineno}: {ast.unparse(value)}")
    assert offenders == [], "SQL built from a variable: use parameters or psycopg.sql.Identifier"
