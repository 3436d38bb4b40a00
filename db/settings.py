"""Where the database is: `--database-url`, else `DATABASE_URL`, else libpq's own environment."""

from __future__ import annotations

import os

SCHEMA = "sclzonal"


def resolve_database_url(explicit: str | None = None) -> str:
    """Return a libpq connection string; empty means "use PGHOST, PGSERVICE and friends"."""
    if explicit:
        return explicit
    return os.environ.get("DATABASE_URL", "")


def sqlalchemy_url(conninfo: str) -> str:
    """Turn a libpq URI (or an empty string) into a SQLAlchemy URL for the psycopg 3 driver."""
    if not conninfo:
        return "postgresql+psycopg://"
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if conninfo.startswith(prefix):
            return "postgresql+psycopg://" + conninfo[len(prefix):]
    raise ValueError(
        "database URL must start with postgresql:// (key=value connection strings: use PG* variables)"
    )
