"""Connections: psycopg for ingestion and SQL, SQLAlchemy engines for Alembic and models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import psycopg

from sclzonal.db.settings import password_candidates
from sclzonal.errors import UserError, first_line, hide, redact

if TYPE_CHECKING:
    from sqlalchemy import Engine


def connect(conninfo: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg connection, turning failures into one readable line without the password."""
    hide(*password_candidates(conninfo))
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, application_name="sclzonal")
    except psycopg.OperationalError as exc:
        raise UserError(redact(f"cannot connect to the database: {first_line(exc)}")) from exc
    except psycopg.ProgrammingError as exc:  # a malformed connection string
        raise UserError(redact(f"the database connection string is malformed: {first_line(exc)}")) from exc


@contextmanager
def advisory_lock(conn: psycopg.Connection, key: int, *, wait: bool = True,
                  on_busy: Callable[[], object] | None = None) -> Iterator[bool]:
    """Hold the session advisory lock `key` for the block; yield whether it is held.

    When another session holds it, `on_busy` is called, then this one waits for it (`wait`) or
    goes on at once without it (yields False). The lock is released when the block ends.
    """
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    held = bool(row and row[0])
    if not held:
        if on_busy is not None:
            on_busy()
        if wait:
            conn.execute("SELECT pg_advisory_lock(%s)", (key,))
            held = True
    try:
        yield held
    finally:
        if held:
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def engine_for(conninfo: str) -> Engine:
    """Return a SQLAlchemy engine for any libpq connection string (URI, key=value or empty)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine("postgresql+psycopg://", poolclass=NullPool,
                         creator=lambda: psycopg.connect(conninfo, application_name="sclzonal"))


def connection_spec(conn: psycopg.Connection, service: str | None) -> dict[str, str]:
    """Return how a client (QGIS, a service file) connects: a service name, else this connection's."""
    if service:
        return {"service": service}
    info = conn.info
    spec = {"host": info.host, "port": str(info.port), "dbname": info.dbname, "user": info.user}
    sslmode = info.get_parameters().get("sslmode")
    if sslmode:
        spec["sslmode"] = sslmode
    return spec
