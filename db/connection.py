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


class JobBusy(UserError):
    """Another run of the same job held its lock for longer than this run would wait."""


@contextmanager
def job_lock(conn: psycopg.Connection, job: str, *, wait_seconds: float | None = None,
             on_busy: Callable[[], object] | None = None) -> Iterator[None]:
    """Hold the lock of `job` ('refresh' or 'ingest') for the block: one run at a time.

    The lock is a table lock on sclzonal.<job>_lock (db/models.py JOB_LOCKS), held by a
    transaction in a connection of its own, because the work commits as it goes. Only roles that
    may write to that table can take it, so a read-only session cannot stall a job (an advisory
    lock, which needs no privilege, could). The lock's transaction takes no row lock and keeps
    no snapshot, so it holds back no vacuum. When another run holds the lock, `on_busy` is
    called, then this run waits: for ever (`wait_seconds` None) or that many seconds, after
    which it raises JobBusy. The lock goes with the connection if the process dies.
    """
    if job not in ("refresh", "ingest"):
        raise ValueError(f"no lock for job {job!r}")
    statement = f"LOCK TABLE sclzonal.{job}_lock IN SHARE ROW EXCLUSIVE MODE"
    holder = psycopg.connect(conn.info.dsn, password=conn.info.password or None,
                             application_name=f"sclzonal {job} lock")
    try:
        try:
            holder.execute(statement + " NOWAIT")
        except psycopg.errors.LockNotAvailable:
            holder.rollback()
            if on_busy is not None:
                on_busy()
            timeout = "0" if wait_seconds is None else f"{max(1, round(wait_seconds * 1000))}ms"
            holder.execute("SELECT set_config('lock_timeout', %s, true)", (timeout,))
            try:
                holder.execute(statement)
            except psycopg.errors.LockNotAvailable:
                raise JobBusy(f"another {job} run held the lock for longer than {wait_seconds:g} s;"
                              " this run did nothing") from None
        yield
    finally:
        holder.close()


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
