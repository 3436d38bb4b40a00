"""`sclzonal qgis role`: a read-only login role for QGIS users.

The role may read what the QGIS project shows (the verdict layers, the polygons, the scenes and
their SCL tiles, the class table) plus the QGIS and PostGIS catalogue tables QGIS reads, and
nothing else; every transaction it starts is read-only. Views run with their owner's rights, so
SELECT on `scene_verdict_layer` is enough without SELECT on the tables behind it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from db.settings import SCHEMA
from sclzonal.errors import UserError
from sclzonal.qgis_styles import ensure_qgis_tables

DEFAULT_ROLE = "sclzonal_reader"
READABLE = ("polygon_verdict", "scene_verdict_layer", "polygon", "scene", "scene_tile", "scl_class")
QGIS_CATALOGUE = ("layer_styles", "qgis_projects", "spatial_ref_sys", "geometry_columns",
                  "raster_columns")
ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass
class RoleReport:
    """What `create_reader_role` did."""

    name: str
    created: bool
    password_set: bool
    readable: list[str] = field(default_factory=list)


def _role_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def _can(conn: psycopg.Connection, name: str, check: str, target: str, privilege: str) -> bool:
    row = conn.execute(f"SELECT {check}(%s, %s, %s)", (name, target, privilege)).fetchone()
    return bool(row and row[0])


def create_reader_role(conn: psycopg.Connection, name: str = DEFAULT_ROLE,
                       password: str | None = None) -> RoleReport:
    """Create (if missing) and grant the read-only role `name`; re-runnable.

    Privileges the role held on other sclzonal tables are revoked, so after a run it reads
    exactly the objects of READABLE (and the catalogue tables QGIS needs).
    """
    if not ROLE_NAME.fullmatch(name):
        raise UserError(f"role name {name!r}: use lower-case letters, digits and _, "
                        "not starting with a digit")
    missing = [table for table in READABLE if conn.execute(
        "SELECT to_regclass(%s)", (f"{SCHEMA}.{table}",)).fetchone() == (None,)]
    if missing:
        raise UserError(f"{SCHEMA}.{missing[0]} is missing: run `sclzonal db upgrade`")
    role = sql.Identifier(name)
    with conn.transaction():
        created = not _role_exists(conn, name)
        conn.execute(sql.SQL(
            "DO $$ BEGIN CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; "
            "EXCEPTION WHEN duplicate_object THEN NULL; END $$").format(role))
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(role))
        if password is not None:
            conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(role, sql.Literal(password)))
        ensure_qgis_tables(conn)
        row = conn.execute("SELECT current_database()").fetchone()
        assert row is not None
        if not _can(conn, name, "has_database_privilege", row[0], "CONNECT"):
            conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                sql.Identifier(row[0]), role))
        schema = sql.Identifier(SCHEMA)
        conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA {} FROM {}").format(schema, role))
        conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA {} FROM {}").format(schema, role))
        conn.execute(sql.SQL("REVOKE CREATE ON SCHEMA {} FROM {}").format(schema, role))
        conn.execute(sql.SQL("GRANT USAGE ON SCHEMA {} TO {}").format(schema, role))
        readable = [f"{SCHEMA}.{table}" for table in READABLE]
        conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
            sql.SQL(", ").join(sql.Identifier(SCHEMA, table) for table in READABLE), role))
        if not _can(conn, name, "has_schema_privilege", "public", "USAGE"):
            conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(role))
        for table in QGIS_CATALOGUE:
            qualified = f"public.{table}"
            if conn.execute("SELECT to_regclass(%s)", (qualified,)).fetchone() == (None,):
                continue  # PostGIS installed in another schema: its own grants to PUBLIC apply
            if not _can(conn, name, "has_table_privilege", qualified, "SELECT"):
                conn.execute(sql.SQL("GRANT SELECT ON {} TO {}").format(
                    sql.Identifier("public", table), role))
            readable.append(qualified)
    return RoleReport(name=name, created=created, password_set=password is not None, readable=readable)


def service_entry(conn: psycopg.Connection, role: str, service: str = "sclzonal") -> str:
    """Return a `~/.pg_service.conf` entry that connects as `role` to this database."""
    info = conn.info
    return (f"[{service}]\nhost={info.host}\nport={info.port}\ndbname={info.dbname}\n"
            f"user={role}\n")
