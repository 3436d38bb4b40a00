"""Default QGIS styles without `qgis styles` (issue 13, item 10): `db upgrade` writes them and
`refresh` keeps them in step with the rules; real QGIS 3.22 adds the layers bare and finds them.

The database is made from nothing here, by the CLI alone: db upgrade, polygons load, scl load,
refresh (no `qgis styles`, no demo).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sclzonal.demo.data import generate_demo
from tests.helpers import cli_ok, run_cli
from tests.qgis_support import require_qgis, run_checks

TABLES = {"polygon_verdict": "polygon_id", "scene_verdict_layer": "id", "polygon_month_verdict": "id"}
# The legend rows qgis.md documents, by verdict value, with the default rule only.
LEGEND_VALUES = {
    "polygon_verdict": ["vegetation", "other", "partially_observed", "no_clear_observation",
                        "no_pixels", "not_countable"],
    "scene_verdict_layer": ["vegetation", "other", "not_clear", "partially_observed"],
    "polygon_month_verdict": ["vegetation", "other", "partially_observed", "no_clear_observation"],
}


def _admin_url(database: str) -> str:
    params = conninfo_to_dict(os.environ["DATABASE_URL"])
    params["dbname"] = database
    return make_conninfo(**params)


@pytest.fixture(scope="module")
def fresh_url() -> Iterator[str]:
    """A database that exists but holds nothing: no schema, no QGIS tables."""
    name = f"sclzonal_default_styles_{os.getpid()}"
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield _admin_url(name)
    with psycopg.connect(_admin_url("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _bare_uri(url: str, table: str) -> str:
    p = conninfo_to_dict(url)
    return (f"dbname='{p['dbname']}' host={p.get('host', '127.0.0.1')} port={p.get('port', 5432)} "
            f"user='{p.get('user', 'postgres')}' key='{TABLES[table]}' table=\"sclzonal\".\"{table}\" (geom)")


def _legends_in_qgis(url: str, work: Path) -> dict[str, list[str]]:
    """What real QGIS shows for each verdict layer added bare: the category values (and the
    shares as percentages, issue 13 item 7, which the default style carries too)."""
    checks = run_checks({"default_style_uris": {table: _bare_uri(url, table) for table in TABLES}}, work)
    legends = {}
    for table in TABLES:
        found = checks["defaults"][table]
        assert found["valid"], table
        assert found["renderer"]["type"] == "categorizedSymbol", (table, found["renderer"])
        assert found["aliases"]["vegetation_share_percent"] == "Vegetation share (%)", table
        legends[table] = [row[0] for row in found["renderer"]["categories"]]
    return legends


@pytest.mark.qgis
@pytest.mark.slow
def test_a_database_made_by_upgrade_load_and_refresh_opens_styled(
        fresh_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    require_qgis()
    data = generate_demo(tmp_path / "data", scenes=1, fields=12, size=200)
    code, _, err = run_cli(capsys, fresh_url, "db", "upgrade")
    assert code == 0, err
    assert ("wrote the QGIS default styles of polygon_verdict, scene_verdict_layer, "
            "polygon_month_verdict") in err
    cli_ok(fresh_url, "polygons", "load", str(data.polygons_path), "--layer", data.polygons_layer,
           "--id-field", "field_id", "--name-field", "name")
    cli_ok(fresh_url, "scl", "load", *map(str, data.scene_paths))
    code, _, err = run_cli(capsys, fresh_url, "refresh")
    assert code == 0 and "default styles" not in err, err  # nothing changed: nothing rewritten
    assert _legends_in_qgis(fresh_url, tmp_path) == LEGEND_VALUES
    with psycopg.connect(fresh_url) as conn:
        assert conn.execute("SELECT count(*) FROM public.layer_styles").fetchone() == (3,)

    # A rule added in SQL (no `qgis styles`): the next refresh gives its label a colour.
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share, "
                     "priority) VALUES ('open_water', '{6}', 0.6, 0.5, 10)")
    code, _, err = run_cli(capsys, fresh_url, "refresh")
    assert code == 0 and "wrote the QGIS default styles of polygon_verdict" in err, err
    legends = _legends_in_qgis(fresh_url, tmp_path)
    assert all(legend[:2] == ["vegetation", "open_water"] for legend in legends.values()), legends
    code, _, err = run_cli(capsys, fresh_url, "db", "upgrade")  # again: nothing to write
    assert code == 0 and "default styles" not in err, err


def test_a_default_style_someone_saved_is_left_alone(
        fresh_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """QGIS's "Save as default" marks a user's own row; upgrade and refresh keep it the default,
    while `qgis styles` still takes the default back (as documented)."""
    cli_ok(fresh_url, "db", "upgrade")
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute("UPDATE public.layer_styles SET useasdefault = false "
                     "WHERE f_table_name = 'polygon_verdict'")
        conn.execute("INSERT INTO public.layer_styles (f_table_catalog, f_table_schema, f_table_name, "
                     "f_geometry_column, stylename, styleqml, useasdefault) VALUES (current_database(), "
                     "'sclzonal', 'polygon_verdict', 'geom', 'mine', '<qgis/>', true)")
        conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share, "
                     "priority) VALUES ('green', '{4}', 0.5, 0.5, 20)")
    for command in (["db", "upgrade"], ["refresh"]):
        code, _, err = run_cli(capsys, fresh_url, *command)
        assert code == 0 and "polygon_verdict" not in err, (command, err)
    with psycopg.connect(fresh_url) as conn:
        defaults = conn.execute("SELECT f_table_name, stylename, styleqml::text LIKE '%%Green%%' "
                                "FROM public.layer_styles WHERE useasdefault ORDER BY 1").fetchall()
    assert defaults == [("polygon_month_verdict", "sclzonal verdicts", True),
                        ("polygon_verdict", "mine", False),
                        ("scene_verdict_layer", "sclzonal verdicts", True)]
    cli_ok(fresh_url, "qgis", "styles")
    with psycopg.connect(fresh_url) as conn:
        assert conn.execute("SELECT stylename FROM public.layer_styles WHERE useasdefault AND "
                            "f_table_name = 'polygon_verdict'").fetchall() == [("sclzonal verdicts",)]


def test_a_role_that_may_not_write_styles_is_told_the_fix(
        fresh_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    """The loader's refresh after a rule change: counted as always, plus one warning naming the
    command that fixes the styles; nothing written."""
    name = f"sclz_styles_loader_{os.getpid()}"
    with psycopg.connect(fresh_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
    try:
        with psycopg.connect(fresh_url, autocommit=True) as conn:
            conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, "
                         "min_clear_share, priority) VALUES ('greenery', '{4}', 0.4, 0.5, 30)")
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA sclzonal TO {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA sclzonal TO {}").format(
                sql.Identifier(name)))
            conn.execute(sql.SQL("GRANT SELECT ON public.layer_styles TO {}").format(sql.Identifier(name)))
        from sclzonal.cli.refresh import _keep_styles_current

        params = conninfo_to_dict(fresh_url)
        params["user"] = name
        params.pop("password", None)
        with psycopg.connect(make_conninfo(**params), autocommit=True) as conn:
            capsys.readouterr()
            _keep_styles_current(conn)
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "run `sclzonal qgis styles` as the owner" in err, err
        assert f"role {name} may not rewrite them" in err
    finally:
        with psycopg.connect(fresh_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))
