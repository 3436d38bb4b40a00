"""Connections: psycopg for ingestion and SQL, SQLAlchemy engines for Alembic and models."""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from sclzonal.errors import UserError, first_line

if TYPE_CHECKING:
    from sqlalchemy import Engine


def connect(conninfo: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg connection, turning connection failures into one readable line."""
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, application_name="sclzonal")
    except psycopg.OperationalError as exc:
        raise UserError(f"cannot connect to the database: {first_line(exc)}") from exc


def engine_for(conninfo: str) -> Engine:
    """Return a SQLAlchemy engine for any libpq connection string (URI, key=value or empty)."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    return create_engine("postgresql+psycopg://", poolclass=NullPool,
                         creator=lambda: psycopg.connect(conninfo, application_name="sclzonal"))
