"""`sclzonal db roles`: the owner, loader and reader roles, created once by an administrator.

- owner: owns schema sclzonal and everything in it (and QGIS's tables in public when this
  command made them); runs `sclzonal db upgrade`, edits verdict rules and classes, writes QGIS
  styles and projects.
- loader: `polygons load`, `scl load`, `scl fetch`, `ingest`, `refresh`, `verdicts`; writes the
  data tables, cannot create, alter or drop anything, nor change the rules.
- reader: QGIS users; exactly the role `sclzonal qgis role` makes.

Creating roles needs CREATEROLE, and giving the objects to the owner needs to own them or be a
superuser: run this once as the administrator that ran the first `sclzonal db upgrade`. Nothing
afterwards needs a superuser. The grants themselves are sql/roles.sql, which migrations apply
again; roles are registered in sclzonal.database_role so that they know whom to grant.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from sclzonal.db.qgis_tables import QGIS_TABLES, ensure_qgis_tables
from sclzonal.errors import UserError
from sclzonal.roles.grants import check_role_name, create_login_role, register_role
from sclzonal.roles.reader import create_reader_role


@dataclass(frozen=True)
class RoleNames:
    """The names of the three roles (roles are cluster-wide: one set per database if you like)."""

    owner: str = "sclzonal_owner"
    loader: str = "sclzonal_loader"
    reader: str = "sclzonal_reader"


def create_roles(conn: psycopg.Connection, names: RoleNames,
                 passwords: dict[str, str | None] | None = None) -> dict[str, bool]:
    """Create (when missing), register and grant the three roles in one transaction.

    Returns, per purpose, whether the role was created. Re-runnable.
    """
    passwords = passwords or {}
    for name in (names.owner, names.loader, names.reader):
        check_role_name(name)
    if len({names.owner, names.loader, names.reader}) != 3:
        raise UserError("the owner, loader and reader roles need three different names")
    with conn.transaction():
        created = {"owner": create_login_role(conn, names.owner, passwords.get("owner")),
                   "loader": create_login_role(conn, names.loader, passwords.get("loader"))}
        register_role(conn, names.owner, "owner")
        register_role(conn, names.loader, "loader")
        _give_qgis_tables(conn, names.owner)
        # Registering the reader applies sql/roles.sql, for all three roles.
        created["reader"] = create_reader_role(conn, names.reader, passwords.get("reader")).created
        _refuse_memberships(conn, names)
    return created


def _give_qgis_tables(conn: psycopg.Connection, owner: str) -> None:
    """Let the owner write QGIS's styles and projects: its own tables when this session owns
    them (it may just have created them), else write access to another owner's tables."""
    ensure_qgis_tables(conn)
    for table in QGIS_TABLES:
        target = sql.Identifier("public", table)
        mine = conn.execute("SELECT relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)"
                            " FROM pg_class WHERE oid = to_regclass(%s)", (f"public.{table}",)).fetchone()
        if mine and mine[0]:
            conn.execute(sql.SQL("ALTER TABLE {} OWNER TO {}").format(target, sql.Identifier(owner)))
        else:
            conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                target, sql.Identifier(owner)))
            for (sequence,) in conn.execute(
                    "SELECT s.relname FROM pg_depend AS d JOIN pg_class AS s ON s.oid = d.objid"
                    " WHERE d.refobjid = to_regclass(%s) AND s.relkind = 'S'",
                    (f"public.{table}",)).fetchall():
                conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
                    sql.Identifier("public", sequence), sql.Identifier(owner)))


def _refuse_memberships(conn: psycopg.Connection, names: RoleNames) -> None:
    """Refuse roles that are members of a more powerful one: they would have its rights."""
    for member, of in ((names.loader, names.owner), (names.reader, names.owner),
                       (names.reader, names.loader)):
        row = conn.execute("SELECT pg_has_role(%s, %s, 'MEMBER')", (member, of)).fetchone()
        if row and row[0]:
            raise UserError(f"role {member} is a member of {of} and would have its rights; "
                            f"REVOKE {of} FROM {member} first")


def public_schema_is_open(conn: psycopg.Connection) -> bool:
    """Return whether every role may create objects in schema public (PostgreSQL before 15)."""
    row = conn.execute("SELECT has_schema_privilege('public', 'public', 'CREATE')").fetchone()
    return bool(row and row[0])
