"""Creating sclzonal's login roles, registering them, and granting what sql/roles.sql says.

Shared by `sclzonal db roles` (owner, loader, reader; sclzonal/roles/setup.py) and `sclzonal qgis
role` (a reader; sclzonal/roles/reader.py). Role names are checked against a strict pattern and
composed with psycopg.sql.Identifier; passwords are hashed by libpq before they are sent, so they
appear in no statement and no server log.
"""

from __future__ import annotations

import os
import re

import psycopg
from psycopg import sql

from sclzonal.db import migrate
from sclzonal.errors import UserError

ROLE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
PURPOSES = ("owner", "loader", "reader")


def check_role_name(name: str) -> None:
    """Raise UserError unless `name` is a plain lower-case identifier."""
    if not ROLE_NAME.fullmatch(name):
        raise UserError(f"role name {name!r}: use lower-case letters, digits and _, "
                        "not starting with a digit")


def password_from_env(option: str, variable: str | None) -> str | None:
    """Return the password held by environment variable `variable` (None when no variable is
    named); raise UserError, naming the option, when the variable is unset or empty."""
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise UserError(f"{option} {variable}: that environment variable is not set")
    return value


def role_exists(conn: psycopg.Connection, name: str) -> bool:
    """Return whether a role of that name exists in the cluster."""
    return conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,)).fetchone() is not None


def create_login_role(conn: psycopg.Connection, name: str, password: str | None = None) -> bool:
    """Create a plain login role when missing (re-runnable); set its password when given.

    Return whether it was created. An existing role with superuser or role-creating powers is
    refused: a sclzonal role must have no more rights than its grants.
    """
    check_role_name(name)
    created = not role_exists(conn, name)
    role = sql.Identifier(name)
    conn.execute(sql.SQL(
        "DO $$ BEGIN CREATE ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION "
        "NOBYPASSRLS; EXCEPTION WHEN duplicate_object THEN NULL; END $$").format(role))
    row = conn.execute("SELECT rolsuper OR rolcreaterole OR rolcreatedb OR rolreplication "
                       "OR rolbypassrls FROM pg_roles WHERE rolname = %s", (name,)).fetchone()
    if row and row[0]:
        raise UserError(f"role {name} exists with superuser, CREATEROLE, CREATEDB, REPLICATION or "
                        "BYPASSRLS; a sclzonal role must not have them (choose another name)")
    if password is not None:
        hashed = conn.pgconn.encrypt_password(password.encode(), name.encode())
        conn.execute(sql.SQL("ALTER ROLE {} PASSWORD {}").format(
            role, sql.Literal(hashed.decode("ascii"))))
    return created


def register_role(conn: psycopg.Connection, name: str, purpose: str) -> None:
    """Record `name` in sclzonal.database_role with its purpose (one owner: it replaces another).

    A role registered with another purpose is refused: its grants would silently change (an
    owner or loader role named as a QGIS reader would lose its rights).
    """
    if purpose not in PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    row = conn.execute("SELECT purpose FROM sclzonal.database_role WHERE role_name = %s",
                       (name,)).fetchone()
    if row is not None and row[0] != purpose:
        raise UserError(f"role {name} is sclzonal's {row[0]} role; it cannot also be the "
                        f"{purpose} role: choose another name")
    if purpose == "owner":
        conn.execute("DELETE FROM sclzonal.database_role WHERE purpose = 'owner' AND role_name <> %s",
                     (name,))
    conn.execute("INSERT INTO sclzonal.database_role (role_name, purpose) VALUES (%s, %s)"
                 " ON CONFLICT (role_name) DO NOTHING", (name, purpose))


def apply_role_grants(conn: psycopg.Connection) -> None:
    """Run sql/roles.sql: every registered role gets exactly the privileges of its purpose."""
    migrate.run_sql_file(conn, "roles.sql")


def can_select(conn: psycopg.Connection, role: str, relations: list[str]) -> list[str]:
    """Return those of the schema-qualified `relations` that exist and `role` may SELECT."""
    found = []
    for relation in relations:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL AND "
                           "has_table_privilege(%s, to_regclass(%s), 'SELECT')",
                           (relation, role, relation)).fetchone()
        if row and row[0]:
            found.append(relation)
    return found


WRITING_ROLES = ("pg_write_all_data", "pg_write_server_files", "pg_execute_server_program",
                 "pg_database_owner")
"""Predefined roles whose members can write data (or run programs) whatever the grants say."""


def writing_powers(conn: psycopg.Connection, role: str, tables: list[str]) -> list[str]:
    """Return what lets `role` write: attributes, memberships, and the `tables` (schema-qualified)
    it may insert into, update, delete from or truncate, or owns. Empty for a read-only role."""
    powers = []
    row = conn.execute("SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = %s",
                       (role,)).fetchone()
    if row is not None:
        powers += [name for name, held in zip(("SUPERUSER", "BYPASSRLS", "CREATEROLE"), row,
                                              strict=True) if held]
    for writer in WRITING_ROLES:
        member = conn.execute("SELECT to_regrole(%s) IS NOT NULL AND pg_has_role(%s, %s, 'MEMBER')",
                              (writer, role, writer)).fetchone()
        if member and member[0]:
            powers.append(f"member of {writer}")
    for table in tables:
        found = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AND (has_table_privilege(%s, to_regclass(%s),"
            " 'INSERT, UPDATE, DELETE, TRUNCATE') OR pg_has_role(%s, (SELECT relowner FROM pg_class"
            " WHERE oid = to_regclass(%s)), 'USAGE'))", (table, role, table, role, table)).fetchone()
        if found and found[0]:
            powers.append(f"can write {table}")
    return powers
