"""Least-privilege roles: owner, loader and reader each do their job and nothing more, no superuser."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest
from shapely import box

from sclzonal.db import migrate
from sclzonal.roles.reader import READABLE
from tests.helpers import run_cli, to_crs, write_polygons, write_raster
from tests.roles_support import Roles, drop_roles, role_options, sclzonal_roles

SCENE = (np.arange(120 * 100, dtype=np.uint16).reshape(120, 100) % 12).astype(np.uint8)
FIELDS = [to_crs(box(500000 + 200 * i, 5098000, 500150 + 200 * i, 5098180), "EPSG:32633", "EPSG:4326")
          for i in range(6)]


@pytest.fixture(scope="module")
def roles(database_url: str) -> Iterator[Roles]:
    with sclzonal_roles(database_url, "roles") as made:
        yield made


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    work = tmp_path_factory.mktemp("roles")
    return {"fields": write_polygons(work / "fields.gpkg", FIELDS, "EPSG:4326"),
            "scene": write_raster(work / "scl_20240601.tif", SCENE),
            "scene2": write_raster(work / "scl_2024-06-11.tif", SCENE[::-1].copy()),
            "scene2b": write_raster(work / "scl_20240611_v2.tif", SCENE[:, ::-1].copy(),
                                    date=dt.date(2024, 6, 11))}


def _fails(url: str, statement: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        with pytest.raises(psycopg.Error) as caught:
            conn.execute(statement)
    return str(caught.value)


def test_roles_are_plain_logins_registered_once(capsys: pytest.CaptureFixture[str], roles: Roles,
                                                database_url: str) -> None:
    code, out, err = run_cli(capsys, database_url, "db", "roles",
                             *role_options(roles.names, {p: "again-" + p for p in roles.names}))
    assert code == 0, err
    assert out.count("already there, privileges renewed; password set") == 3
    with psycopg.connect(database_url) as conn:
        flags = conn.execute(
            "SELECT rolname, rolcanlogin, rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication"
            " OR rolbypassrls FROM pg_roles WHERE rolname = ANY(%s)",
            (list(roles.names.values()),)).fetchall()
        registry = dict(conn.execute("SELECT purpose, role_name FROM sclzonal.database_role"
                                     " WHERE role_name = ANY(%s)", (list(roles.names.values()),)))
    assert sorted(flags) == sorted((name, True, False) for name in roles.names.values())
    assert registry == roles.names


def test_the_owner_owns_the_schema_and_everything_in_it(roles: Roles) -> None:
    with psycopg.connect(roles.admin_url) as conn:
        others = conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'sclzonal' AND pg_get_userbyid(c.relowner) <> %(owner)s"
            " UNION ALL SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace"
            " WHERE n.nspname = 'sclzonal' AND pg_get_userbyid(p.proowner) <> %(owner)s"
            " UNION ALL SELECT nspname FROM pg_namespace WHERE nspname = 'sclzonal'"
            " AND pg_get_userbyid(nspowner) <> %(owner)s", {"owner": roles.names["owner"]}).fetchall()
        qgis = conn.execute("SELECT pg_get_userbyid(relowner) FROM pg_class"
                            " WHERE oid IN ('public.layer_styles'::regclass,"
                            " 'public.qgis_projects'::regclass)").fetchall()
    assert others == []
    assert qgis == [(roles.names["owner"],)] * 2


@pytest.mark.slow
def test_loader_loads_refreshes_and_replaces(capsys: pytest.CaptureFixture[str], roles: Roles,
                                            files: dict[str, Path]) -> None:
    for args in (["polygons", "load", str(files["fields"]), "--id-field", "ident"],
                 ["scl", "load", str(files["scene"]), str(files["scene2"])],
                 ["refresh"],
                 ["scl", "load", "--replace", str(files["scene2b"])],
                 ["refresh"],
                 ["verdicts", "--format", "csv"]):
        code, out, err = run_cli(capsys, roles.loader, *args)
        assert code == 0, (args, err)
    assert out.count("\n") == 1 + len(FIELDS)
    with psycopg.connect(roles.admin_url) as conn:
        live = conn.execute("SELECT count(*) FROM sclzonal.zonal_class_counts").fetchone()
        stored = conn.execute("SELECT count(*) FROM sclzonal.stored_class_counts").fetchone()
        scenes = conn.execute("SELECT count(*) FROM sclzonal.scene").fetchone()
    assert live == stored and scenes == (2,)


@pytest.mark.parametrize("statement", [
    "CREATE TABLE sclzonal.mine (x int)",
    "CREATE TABLE public.mine (x int)",
    "CREATE VIEW sclzonal.mine AS SELECT 1",
    "CREATE FUNCTION sclzonal.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'",
    "CREATE SCHEMA mine",
    "ALTER TABLE sclzonal.scene ADD COLUMN mine int",
    "DROP TABLE sclzonal.counted_pair",
    "DROP TABLE sclzonal.polygon_verdict",
    "TRUNCATE sclzonal.scene",
    "DELETE FROM sclzonal.polygon_verdict",
    "UPDATE sclzonal.polygon_month_verdict SET verdict = 'vegetation'",
    "INSERT INTO sclzonal.verdict_stale_polygon VALUES (1)",
    "DELETE FROM sclzonal.verdict_rebuild_request",
    "INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share)"
    " VALUES ('water', '{6}', 0.5, 0.5)",
    "UPDATE sclzonal.verdict_rule SET min_share = 0.1",
    "UPDATE sclzonal.scl_class SET is_clear = true",
    "DELETE FROM sclzonal.alembic_version",
    "DELETE FROM sclzonal.database_role",
    "CREATE OR REPLACE FUNCTION sclzonal.refresh_polygon_verdict() RETURNS bigint LANGUAGE sql"
    " AS 'SELECT 0::bigint'",
    "DELETE FROM public.layer_styles",
])
def test_loader_cannot_change_schema_rules_or_grants(roles: Roles, statement: str) -> None:
    assert "permission denied" in _fails(roles.loader, statement) or "must be owner" in _fails(
        roles.loader, statement)


def test_loader_cannot_grant_what_it_has(roles: Roles) -> None:
    with psycopg.connect(roles.loader, autocommit=True) as conn:
        conn.execute("GRANT SELECT, INSERT ON sclzonal.counted_pair TO PUBLIC")  # a warning only
    with psycopg.connect(roles.admin_url) as conn:
        row = conn.execute("SELECT has_table_privilege(%s, 'sclzonal.counted_pair', 'SELECT')",
                           (roles.names["reader"],)).fetchone()
    assert row == (False,)


def test_loader_cannot_downgrade(capsys: pytest.CaptureFixture[str], roles: Roles) -> None:
    code, _, err = run_cli(capsys, roles.loader, "db", "downgrade", "0003")
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "must be owner" in err or "permission denied" in err
    with psycopg.connect(roles.admin_url) as conn:
        assert migrate.current_revision(conn) == migrate.head_revision()


def test_reader_reads_what_qgis_shows_and_nothing_else(capsys: pytest.CaptureFixture[str],
                                                      roles: Roles) -> None:
    code, out, err = run_cli(capsys, roles.reader, "verdicts", "--format", "csv")
    assert code == 0 and out.count("\n") == 1 + len(FIELDS), err
    with psycopg.connect(roles.reader, autocommit=True) as conn:
        for table in READABLE:
            conn.execute(f"SELECT * FROM sclzonal.{table} LIMIT 1").fetchall()
        for table in ("layer_styles", "qgis_projects", "spatial_ref_sys", "raster_columns"):
            conn.execute(f"SELECT * FROM public.{table} LIMIT 1").fetchall()
    for statement in ("SELECT * FROM sclzonal.counted_pair", "SELECT * FROM sclzonal.verdict_rule",
                      "SELECT * FROM sclzonal.database_role", "SELECT * FROM sclzonal.pixel_map",
                      "SELECT sclzonal.refresh_polygon_verdict()",
                      "DELETE FROM sclzonal.polygon", "INSERT INTO public.layer_styles (stylename)"
                      " VALUES ('x')", "CREATE TEMP TABLE mine (x int)"):
        _fails(roles.reader, statement)
    code, _, err = run_cli(capsys, roles.reader, "refresh")
    assert code == 1 and len(err.strip().splitlines()) == 1


def test_owner_configures_rules_and_styles(capsys: pytest.CaptureFixture[str], roles: Roles) -> None:
    with psycopg.connect(roles.owner, autocommit=True) as conn:
        conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share,"
                     " priority) VALUES ('water', '{6}', 0.5, 0.5, 10)")
    for args in (["refresh"], ["qgis", "styles"]):
        code, _, err = run_cli(capsys, roles.owner, *args)
        assert code == 0, (args, err)
    with psycopg.connect(roles.owner, autocommit=True) as conn:
        conn.execute("DELETE FROM sclzonal.verdict_rule WHERE label = 'water'")


@pytest.mark.parametrize("statement", [
    "CREATE ROLE mine", "CREATE SCHEMA mine", "CREATE TABLE public.mine (x int)",
    "DROP EXTENSION postgis_raster", "ALTER TABLE public.spatial_ref_sys ADD COLUMN x int",
    "ALTER SYSTEM SET work_mem = '1GB'",
])
def test_the_owner_owns_sclzonal_and_nothing_else(roles: Roles, statement: str) -> None:
    assert "permission denied" in _fails(roles.owner, statement) or "must be" in _fails(
        roles.owner, statement)


def test_the_owner_renews_the_grants_as_a_migration_would(roles: Roles) -> None:
    """Migrations apply sql/roles.sql as the owner: no warning, the same privileges after."""
    def privileges(conn: psycopg.Connection) -> list[tuple[object, ...]]:
        return conn.execute("SELECT grantee, table_name, privilege_type FROM"
                            " information_schema.role_table_grants WHERE table_schema = 'sclzonal'"
                            " AND grantee = ANY(%s) ORDER BY 1, 2, 3",
                            (list(roles.names.values()),)).fetchall()

    with psycopg.connect(roles.admin_url) as admin:
        before = privileges(admin)
    notices: list[str] = []
    with psycopg.connect(roles.owner, autocommit=True) as conn:
        conn.add_notice_handler(lambda diagnostic: notices.append(str(diagnostic.message_primary)))
        migrate.run_sql_file(conn, "roles.sql")
    with psycopg.connect(roles.admin_url) as admin:
        assert privileges(admin) == before
    assert notices == [] and len(before) > 10


def test_the_refresh_function_is_pinned_and_not_public(roles: Roles) -> None:
    with psycopg.connect(roles.admin_url) as conn:
        row = conn.execute(
            "SELECT prosecdef, proconfig, has_function_privilege(%s, p.oid, 'EXECUTE'),"
            " has_function_privilege(%s, p.oid, 'EXECUTE'), proacl::text LIKE '%%=X/%%'"
            " AND proacl::text NOT LIKE '%%{=X%%' AND proacl::text NOT LIKE '%%,=X%%'"
            " FROM pg_proc p WHERE oid = 'sclzonal.refresh_polygon_verdict()'::regprocedure",
            (roles.names["loader"], roles.names["reader"])).fetchone()
    assert row is not None
    definer, config, loader_may, reader_may, not_public = row
    assert definer and "search_path=pg_catalog, pg_temp" in config and "jit=off" in config
    assert loader_may and not reader_may and not_public


def test_unsafe_role_set_ups_are_refused(capsys: pytest.CaptureFixture[str], roles: Roles,
                                         database_url: str) -> None:
    code, _, err = run_cli(capsys, database_url, "db", "roles", "--loader", 'x"; DROP SCHEMA sclzonal; --')
    assert code == 1 and "role name" in err and len(err.strip().splitlines()) == 1
    with psycopg.connect(database_url) as conn:
        superuser = conn.execute("SELECT current_user").fetchone()
    assert superuser is not None
    code, _, err = run_cli(capsys, database_url, "db", "roles", "--owner", roles.names["owner"],
                           "--loader", superuser[0], "--reader", roles.names["reader"])
    assert code == 1 and "superuser" in err
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'GRANT "{roles.names["owner"]}" TO "{roles.names["loader"]}"')
        try:
            code, _, err = run_cli(capsys, database_url, "db", "roles", "--owner", roles.names["owner"],
                                   "--loader", roles.names["loader"], "--reader", roles.names["reader"])
        finally:
            conn.execute(f'REVOKE "{roles.names["owner"]}" FROM "{roles.names["loader"]}"')
    assert code == 1 and "is a member of" in err


def test_a_registered_role_keeps_its_purpose(capsys: pytest.CaptureFixture[str], roles: Roles,
                                             database_url: str) -> None:
    """Naming the loader role as the QGIS reader would take its rights: refused, nothing changed."""
    def state() -> list[tuple[object, ...]]:
        with psycopg.connect(roles.admin_url) as conn:
            return conn.execute(
                "SELECT r.role_name, r.purpose, g.table_name, g.privilege_type"
                " FROM sclzonal.database_role AS r LEFT JOIN information_schema.role_table_grants"
                " AS g ON g.grantee = r.role_name AND g.table_schema = 'sclzonal' ORDER BY 1, 3, 4"
            ).fetchall()

    before = state()
    for args in (["qgis", "role", "--name", roles.names["loader"]],
                 ["db", "roles", "--owner", roles.names["owner"], "--loader", roles.names["reader"],
                  "--reader", roles.names["loader"]]):
        code, _, err = run_cli(capsys, database_url, *args)
        assert code == 1 and len(err.strip().splitlines()) == 1, err
        assert "is sclzonal's loader role; it cannot also be the reader role" in err \
            or "is sclzonal's reader role; it cannot also be the loader role" in err, err
    assert state() == before and any(purpose == "loader" for _, purpose, _, _ in before)


def test_ingest_is_the_old_name_of_loader(capsys: pytest.CaptureFixture[str], roles: Roles,
                                          database_url: str) -> None:
    names = ["--owner", roles.names["owner"], "--reader", roles.names["reader"]]
    code, out, err = run_cli(capsys, database_url, "db", "roles", *names, "--ingest", roles.names["loader"])
    assert code == 0 and err.strip() == "sclzonal: warning: --ingest is deprecated, use --loader"
    assert f"loader role {roles.names['loader']}: already there" in out
    code, _, err = run_cli(capsys, database_url, "db", "roles", *names, "--ingest", roles.names["loader"],
                           "--loader", roles.names["loader"])
    assert code == 1 and err.strip() == ("sclzonal: error: --ingest is the old name of --loader: "
                                         "give only --loader")
    code, out, _ = run_cli(capsys, database_url, "db", "roles", "--help")
    assert "--loader" in out and "--ingest" not in out


@pytest.mark.slow
def test_owner_migrates_down_and_up_without_a_superuser(capsys: pytest.CaptureFixture[str],
                                                        roles: Roles, files: dict[str, Path]) -> None:
    """Last in the module: base removes everything; `db roles` registers the roles again."""
    code, _, err = run_cli(capsys, roles.owner, "db", "downgrade", "base")
    assert code == 0, err
    code, _, err = run_cli(capsys, roles.owner, "db", "upgrade")
    assert code == 0, err
    with psycopg.connect(roles.admin_url) as conn:
        owners = conn.execute("SELECT DISTINCT pg_get_userbyid(c.relowner) FROM pg_class c"
                              " JOIN pg_namespace n ON n.oid = c.relnamespace"
                              " WHERE n.nspname = 'sclzonal'").fetchall()
    assert owners == [(roles.names["owner"],)]
    assert run_cli(capsys, roles.admin_url, "db", "roles",
                   *role_options(roles.names, {p: p * 3 for p in roles.names}))[0] == 0
    for args in (["polygons", "load", str(files["fields"])], ["scl", "load", str(files["scene"])],
                 ["refresh"]):
        code, _, err = run_cli(capsys, roles.loader, *args)
        assert code == 0, (args, err)


def test_qgis_role_and_db_roles_make_the_same_reader(capsys: pytest.CaptureFixture[str],
                                                      roles: Roles) -> None:
    name = f"{roles.names['reader']}_q"
    try:
        assert run_cli(capsys, roles.admin_url, "qgis", "role", "--name", name)[0] == 0
        with psycopg.connect(roles.admin_url) as conn:
            grants = conn.execute(
                "SELECT grantee, table_schema, table_name FROM information_schema.role_table_grants"
                " WHERE grantee = ANY(%s) AND privilege_type = 'SELECT'"
                " ORDER BY table_schema, table_name", ([name, roles.names["reader"]],)).fetchall()
        by_role = {who: sorted((s, t) for g, s, t in grants if g == who)
                   for who in (name, roles.names["reader"])}
        assert by_role[name] == by_role[roles.names["reader"]] and len(by_role[name]) >= 7
    finally:
        drop_roles(roles.admin_url, [name])

