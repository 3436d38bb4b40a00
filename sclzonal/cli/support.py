"""What every `sclzonal` command module shares: the connection and date options.

Light on purpose (click and psycopg only): `sclzonal --help` imports every command module.
"""

from __future__ import annotations

import datetime as dt

import click
import psycopg

from sclzonal.db import migrate
from sclzonal.db.connection import connect
from sclzonal.errors import UserError


def conninfo(ctx: click.Context) -> str:
    """Return the connection string the top-level command resolved."""
    return str(ctx.obj["conninfo"])


def ready_connection(ctx: click.Context) -> psycopg.Connection:
    """Connect in autocommit mode after checking that the database is at the code's revision."""
    target = conninfo(ctx)
    migrate.require_head(target)
    return connect(target, autocommit=True)


def parse_option_date(text: str | None, option: str) -> dt.date | None:
    """Return the date given to a YYYY-MM-DD option (None when not given), or raise UserError."""
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date (YYYY-MM-DD)") from None
