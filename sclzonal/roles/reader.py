"""`sclzonal qgis role`: a read-only login role for QGIS users (the "reader" of `sclzonal db roles`).

The role may read what the QGIS project shows (the verdict layers, the polygons, the scenes and
each scene's table of SCL tiles, the class table), the schema revision (so `sclzonal verdicts`
runs as it), plus the QGIS and PostGIS catalogue tables QGIS reads, and nothing else; every
transaction it starts is read-only. Views run with their owner's rights, so SELECT on
`scene_verdict_layer` is enough without SELECT on the tables behind it. The grants are those of
sql/roles.sql for a role registered as `reader`, so migrations renew them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from sclzonal.db.connection import connection_spec
from sclzonal.db.migrate import VERSION_TABLE, require_relations
from sclzonal.db.qgis_tables import QGIS_TABLES, ensure_qgis_tables
from sclzonal.db.settings import SCHEMA
from sclzonal.errors import UserError
from sclzonal.roles.grants import (
    apply_role_grants,
    can_select,
    check_role_name,
    create_login_role,
    register_role,
    writing_powers,
)

__all__ = ["DEFAULT_ROLE", "QGIS_CATALOGUE", "READABLE", "RoleReport",
           "create_reader_role", "service_entry"]

DEFAULT_ROLE = "sclzonal_reader"
READABLE = ("polygon_verdict", "scene_verdict_layer", "polygon_month_verdict", "polygon", "scene",
            "scene_tile_partition", "scl_class")
"""What the reader may read, plus each scene's table of tiles (listed in scene_tile_partition)."""
QGIS_CATALOGUE = (*QGIS_TABLES, "spatial_ref_sys", "geometry_columns",
                  "raster_columns")


@dataclass
class RoleReport:
    """What `create_reader_role` did."""

    name: str
    created: bool
    password_set: bool
    readable: list[str] = field(default_factory=list)


def create_reader_role(conn: psycopg.Connection, name: str = DEFAULT_ROLE,
                       password: str | None = None) -> RoleReport:
    """Create (if missing), register and grant the read-only role `name`; re-runnable.

    Privileges the role held on other sclzonal tables are revoked, so after a run it reads
    exactly the objects of READABLE, the revision table, and the catalogue tables QGIS needs.
    """
    check_role_name(name)
    require_relations(conn, READABLE)
    with conn.transaction():
        created = create_login_role(conn, name, password)
        conn.execute(sql.SQL("ALTER ROLE {} SET default_transaction_read_only = on").format(
            sql.Identifier(name)))
        ensure_qgis_tables(conn)
        register_role(conn, name, "reader")
        apply_role_grants(conn)
        tables = [f"{SCHEMA}.{row[0]}" for row in conn.execute(
            "SELECT c.relname FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname = %s AND c.relkind IN ('r', 'p', 'v', 'm') ORDER BY 1", (SCHEMA,))]
        powers = writing_powers(conn, name, tables + [f"public.{table}" for table in QGIS_TABLES])
        if powers:
            raise UserError(f"role {name} cannot be the read-only reader: it can write "
                            f"({', '.join(powers[:5])}{', ...' if len(powers) > 5 else ''}); "
                            "choose a role without these rights")
        readable = can_select(conn, name, [f"{SCHEMA}.{table}" for table in (*READABLE, VERSION_TABLE)]
                              + [f"public.{table}" for table in QGIS_CATALOGUE])
    return RoleReport(name=name, created=created, password_set=password is not None, readable=readable)


def service_entry(conn: psycopg.Connection, role: str) -> str:
    """Return a `~/.pg_service.conf` entry that connects as `role` to this database (the
    parameters the QGIS project's layers use, sslmode included)."""
    spec = {**connection_spec(conn, None), "user": role}
    return "[sclzonal]\n" + "".join(f"{key}={value}\n" for key, value in spec.items())
