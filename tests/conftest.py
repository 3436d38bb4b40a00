"""Test databases: one migrated template per session, cloned for each test module (real PostGIS)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from sclzonal.db import migrate
from tests.helpers import empty_database

# The team's sample data sits in shared/ beside the checkout (or beside the folder of worktrees).
SLOVENIA_CANDIDATES = [folder / "shared" / "data" / "slovenia"
                       for folder in Path(__file__).resolve().parents[2:4]]


def _server_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        pytest.exit("DATABASE_URL is not set: run the tests with scripts/test", returncode=2)
    return url


def url_for(database: str) -> str:
    """Return DATABASE_URL with its database name replaced (as a libpq URI)."""
    params = conninfo_to_dict(_server_url())
    params["dbname"] = database
    host = params.pop("host", "127.0.0.1")
    port = params.pop("port", "5432")
    user = params.pop("user", "postgres")
    password = params.pop("password", None)
    auth = user if password is None else f"{user}:{password}"
    return f"postgresql://{auth}@{host}:{port}/{database}"


def _admin() -> psycopg.Connection:
    params = conninfo_to_dict(_server_url())
    params["dbname"] = "postgres"
    return psycopg.connect(make_conninfo(**params), autocommit=True)


def _drop(conn: psycopg.Connection, name: str) -> None:
    conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextmanager
def migrated_database(name: str, revision: str = "head") -> Iterator[str]:
    """Create the database `name` (dropping one left over), migrate it to `revision`, drop it after."""
    with _admin() as admin:
        _drop(admin, name)
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        migrate.upgrade(url_for(name), revision)
        yield name
    finally:
        with _admin() as admin:
            _drop(admin, name)


@pytest.fixture(scope="session")
def template_database() -> Iterator[str]:
    """A database migrated to head, used as the template of every test module's database."""
    with migrated_database(f"sclzonal_test_template_{os.getpid()}") as name:
        yield name


@pytest.fixture(scope="module")
def database_url(template_database: str, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database for this test module, cloned from the migrated template."""
    module = re.sub(r"\W", "_", request.module.__name__.rsplit(".", 1)[-1])[:30]
    name = f"sclzonal_{module}_{os.getpid()}"
    with _admin() as admin:
        _drop(admin, name)
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template_database)
            )
        )
    yield url_for(name)
    with _admin() as admin:
        _drop(admin, name)


@pytest.fixture
def conn(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to the module's database."""
    with psycopg.connect(database_url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def empty_conn(conn: psycopg.Connection) -> psycopg.Connection:
    """The module's database with no polygons, scenes, tiles or counts (rules and classes kept)."""
    empty_database(conn)
    return conn


@pytest.fixture
def slovenia() -> Path:
    """The real SCL rasters and polygons of ../shared/data/slovenia (skip when absent)."""
    for folder in SLOVENIA_CANDIDATES:
        if folder.is_dir():
            return folder
    pytest.skip(f"real sample data not found at {SLOVENIA_CANDIDATES[0]} (only in the team's workspace)")
