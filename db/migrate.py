"""Alembic migrations run from code: upgrade, downgrade, and the "is the database at head" check."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from sclzonal.db.connection import connect
from sclzonal.db.settings import SCHEMA
from sclzonal.errors import UserError, first_line

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy import Connection

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
VERSION_TABLE = "alembic_version"
ROLES_SQL = "roles.sql"
"""The grants: applied by the revisions that record it, and again after every migration run."""


def alembic_config(conninfo: str) -> Config:
    """Return an Alembic configuration for the database at `conninfo` (no alembic.ini needed)."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["conninfo"] = conninfo
    return config


def _migration_config(conninfo: str) -> Config:
    """Return the configuration of an upgrade or downgrade: env.py renews the grants after it."""
    config = alembic_config(conninfo)
    config.attributes["renew_grants"] = True
    return config


def upgrade(conninfo: str, revision: str = "head") -> None:
    """Migrate the database up to `revision`."""
    from alembic import command

    with _database_errors(revision):
        command.upgrade(_migration_config(conninfo), revision)


def downgrade(conninfo: str, revision: str = "base") -> None:
    """Migrate the database down to `revision`."""
    from alembic import command

    with _database_errors(revision):
        command.downgrade(_migration_config(conninfo), revision)


@contextmanager
def _database_errors(revision: str) -> Iterator[None]:
    """Turn a database error inside a migration (SQLAlchemy wraps it) into one line."""
    from sqlalchemy.exc import DBAPIError

    try:
        yield
    except DBAPIError as exc:
        raise UserError(f"migrating to {revision} failed, nothing changed: "
                        f"{first_line(exc.orig or exc)}") from exc


_REVISION = re.compile(r"^revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)
_DOWN_REVISION = re.compile(r"^down_revision\s*=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def head_revision() -> str:
    """Return the newest revision the code knows.

    Read from the revision files without importing Alembic, which would add about 0.2 s to
    every command; a test checks that Alembic finds the same head.
    """
    revisions: set[str] = set()
    parents: set[str] = set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        if found := _REVISION.search(text):
            revisions.add(found.group(1))
        if down := _DOWN_REVISION.search(text):
            parents.add(down.group(1))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"expected one head revision, found {sorted(heads)}")
    return heads.pop()


def current_revision(conn: psycopg.Connection) -> str | None:
    """Return the revision the database is at, or None when it was never migrated."""
    exists = conn.execute(
        "SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.{VERSION_TABLE}",)
    ).fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute(f"SELECT version_num FROM {SCHEMA}.{VERSION_TABLE}").fetchone()
    return row[0] if row else None


def require_head(conninfo: str) -> None:
    """Refuse to work on a database that is not at the code's head revision."""
    with connect(conninfo) as conn:
        current = current_revision(conn)
    head = head_revision()
    if current is None:
        raise UserError("the database has no sclzonal schema yet: run `sclzonal db upgrade`")
    if current != head:
        raise UserError(
            f"the database is at revision {current}, this sclzonal needs {head}: "
            "run `sclzonal db upgrade`"
        )


def require_relations(conn: psycopg.Connection, names: Iterable[str]) -> None:
    """Raise UserError naming the first table or view of schema sclzonal that is missing."""
    for name in names:
        if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.{name}",)).fetchone() == (None,):
            raise UserError(f"{SCHEMA}.{name} is missing: run `sclzonal db upgrade`")


def sql_file_text(name: str) -> str:
    """Return the text of a file in sql/ (package data `sclzonal.sql`; migrations apply these by name)."""
    return resources.files("sclzonal.sql").joinpath(name).read_text(encoding="utf-8")


def run_sql_file(conn: psycopg.Connection, name: str) -> None:
    """Run a file of sql/ (no parameters, so % and : are literal)."""
    conn.execute(sql_file_text(name).encode("utf-8"))


def sha256_of(text: str) -> str:
    """Return the SHA-256 (hex) of SQL text as UTF-8, the hash revisions record for their files."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def frozen_path(revision: str, name: str) -> str:
    """Return where the copy of sql/NAME as `revision` applied it is kept (relative to the repo)."""
    return f"db/migrations/frozen/{revision}/{name}"


def recorded_sql(revision: str, name: str, sha256: str) -> str:
    """Return the text of sql/NAME exactly as `revision` recorded it (by its SHA-256).

    That is sql/NAME itself while it still has the recorded hash, else the copy frozen with the
    migrations (db/migrations/frozen/REVISION/NAME). So a revision applies the same SQL forever,
    whatever sql/ holds now; a missing or different copy is an error, never a silent change.
    """
    text = sql_file_text(name)
    if sha256_of(text) == sha256:
        return text
    frozen = resources.files("sclzonal.db.migrations").joinpath("frozen", revision, name)
    if not frozen.is_file():
        raise RuntimeError(f"revision {revision} applies sql/{name} with SHA-256 {sha256}, but "
                           f"sql/{name} has changed and {frozen_path(revision, name)} is missing")
    text = frozen.read_text(encoding="utf-8")
    if sha256_of(text) != sha256:
        raise RuntimeError(f"{frozen_path(revision, name)} does not have the SHA-256 revision "
                           f"{revision} recorded ({sha256})")
    return text


def newest_recording(script: ScriptDirectory, revision: str, name: str) -> tuple[str, str] | None:
    """The newest revision up to `revision` (itself included) that applies sql/NAME, with the
    SHA-256 it recorded; None when none does. What sql/NAME was at `revision` is then
    recorded_sql(*that, ...)."""
    for script_revision in script.iterate_revisions(revision, "base"):
        recorded = getattr(script_revision.module, "SQL_FILES", {})
        if name in recorded:
            return script_revision.revision, recorded[name]
    return None


def _psycopg(bind: Connection) -> psycopg.Connection:
    """Return the psycopg connection under a migration's SQLAlchemy connection."""
    driver_connection = bind.connection.driver_connection
    assert isinstance(driver_connection, psycopg.Connection)
    return driver_connection


def apply_recorded_sql(bind: Connection, revision: str, files: Mapping[str, str]) -> None:
    """Run, on a migration's connection, the files (name -> SHA-256) a revision recorded."""
    driver_connection = _psycopg(bind)
    for name, sha256 in files.items():
        driver_connection.execute(recorded_sql(revision, name, sha256).encode("utf-8"))


def sql_as_of(script: ScriptDirectory, revision: str, name: str) -> str:
    """The text of sql/NAME as `revision` left it (the newest recording up to it)."""
    recording = newest_recording(script, revision, name)
    if recording is None:
        raise RuntimeError(f"no revision up to {revision} applies sql/{name}")
    return recorded_sql(recording[0], name, recording[1])


def apply_sql_as_of(bind: Connection, script: ScriptDirectory, revision: str,
                    names: Iterable[str]) -> None:
    """Run each sql/NAME as `revision` left it: what a revision's downgrade runs to put back
    the files it changed."""
    driver_connection = _psycopg(bind)
    for name in names:
        driver_connection.execute(sql_as_of(script, revision, name).encode("utf-8"))


def may_grant(bind: Connection) -> bool:
    """Return whether the migrating role owns schema sclzonal (or is a superuser): only then can
    it set the grants (a loader role running a no-op `db upgrade` cannot)."""
    row = _psycopg(bind).execute(
        "SELECT pg_has_role(current_user, nspowner, 'USAGE') FROM pg_namespace WHERE nspname = %s",
        (SCHEMA,)).fetchone()
    return bool(row and row[0])
