"""Connections: psycopg for ingestion and SQL, SQLAlchemy engines for Alembic and models."""

from __future__ import annotations

import psycopg
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from db.settings import sqlalchemy_url
from sclzonal.errors import UserError


def connect(conninfo: str, *, autocommit: bool = False) -> psycopg.Connection:
    """Open a psycopg connection, turning connection failures into one readable line."""
    try:
        return psycopg.connect(conninfo, autocommit=autocommit, application_name="sclzonal")
    except psycopg.OperationalError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise UserError(f"cannot connect to the database: {first_line}") from exc


def engine_for(conninfo: str) -> Engine:
    """Return a SQLAlchemy engine (no pooling: every command is short-lived)."""
    return create_engine(sqlalchemy_url(conninfo), poolclass=NullPool)
