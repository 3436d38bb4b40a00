"""Alembic environment: connects with the URL the CLI resolved and compares the sclzonal schema only."""

from __future__ import annotations

import re
from typing import Any

from alembic import context
from geoalchemy2 import alembic_helpers
from sqlalchemy import text

from sclzonal.db.connection import engine_for
from sclzonal.db.migrate import ROLES_SQL, apply_recorded_sql, may_grant, newest_recording
from sclzonal.db.models import Base
from sclzonal.db.settings import SCHEMA

config = context.config
target_metadata = Base.metadata


def include_name(name: str | None, type_: str, parent_names: Any) -> bool:
    """Look at the sclzonal schema only (PostGIS keeps its own tables in public)."""
    if type_ == "schema":
        return name == SCHEMA
    return True


SQL_DEFINED_TABLES = {"polygon_verdict", "polygon_month_verdict", "verdict_stale_polygon",
                      "verdict_stale_month", "verdict_new_pair", "verdict_rebuild_request",
                      "verdict_refresh_turn"}
"""Tables that sql/ files make and own (verdict_tables.sql, verdict_staleness.sql,
verdict_refresh.sql): the columns of the verdict tables are those of their definition views, so
they have no model."""


SCENE_TILE_PARTITION = re.compile(r"scl_\d{4}_\d{2}_\d{2}_scene_\d+")
"""Each scene's table of tiles, a partition of scene_tile that loads make (scene_tile_partitions.sql)."""


def include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Skip PostGIS internals, the Alembic version table and the tables sql/ files define."""
    if type_ == "table" and (name == "alembic_version" or name in SQL_DEFINED_TABLES
                             or SCENE_TILE_PARTITION.fullmatch(name or "")):
        return False
    table = getattr(getattr(obj, "table", None), "name", None)
    if type_ in ("index", "column", "unique_constraint") and table in SQL_DEFINED_TABLES:
        return False
    return bool(alembic_helpers.include_object(obj, name, type_, reflected, compare_to))


def renew_grants(connection: Any) -> None:
    """Apply sql/roles.sql as recorded by the newest revision, up to the database's, that applies it.

    Like pgstac's permissions step: after every upgrade or downgrade each registered role has
    exactly the privileges of its purpose on the objects the migrations (re)created, in the
    same transaction. Skipped when the migrating role could not set them (it does not own the
    schema: a loader running a no-op `db upgrade`).
    """
    current = context.get_context().get_current_revision()
    if current is None or not may_grant(connection):
        return
    recording = newest_recording(context.script, current, ROLES_SQL)
    if recording is not None:
        revision, sha256 = recording
        apply_recorded_sql(connection, revision, {ROLES_SQL: sha256})


def run_migrations_online() -> None:
    """Run the migrations in one transaction on the configured database."""
    engine = engine_for(config.attributes.get("conninfo", ""))
    with engine.connect() as connection:
        # Only when missing: CREATE SCHEMA IF NOT EXISTS needs CREATE on the database even when
        # the schema exists, and the owner role that runs later upgrades does not have it.
        if connection.execute(text("SELECT to_regnamespace(:schema)"),
                              {"schema": SCHEMA}).scalar() is None:
            connection.execute(text(f"CREATE SCHEMA {SCHEMA}"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table_schema=SCHEMA,
            include_schemas=True,
            include_name=include_name,
            include_object=include_object,
            process_revision_directives=alembic_helpers.writer,
            render_item=alembic_helpers.render_item,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()
            if config.attributes.get("renew_grants"):
                renew_grants(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported")
run_migrations_online()
