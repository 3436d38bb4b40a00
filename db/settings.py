"""Where the database is: `--database-url`, else `DATABASE_URL`, else libpq's own environment."""

from __future__ import annotations

import os

SCHEMA = "sclzonal"


def resolve_database_url(explicit: str | None = None) -> str:
    """Return a libpq connection string; empty means "use PGHOST, PGSERVICE and friends"."""
    if explicit:
        return explicit
    return os.environ.get("DATABASE_URL", "")
