"""QGIS's own tables in schema public (default layer styles, stored projects), created when missing."""

from __future__ import annotations

import psycopg

from sclzonal.db import migrate

QGIS_TABLES = ("layer_styles", "qgis_projects")
"""QGIS's own tables in schema public: default layer styles and projects stored in the database."""


def ensure_qgis_tables(conn: psycopg.Connection) -> None:
    """Create QGIS's `public.layer_styles` and `public.qgis_projects` when they are missing.

    When both are there as QGIS 3.22 makes them nothing is run: CREATE TABLE IF NOT EXISTS needs
    CREATE on schema public even for a table that exists, and the owner role lacks it.
    """
    row = conn.execute(
        "SELECT to_regclass('public.layer_styles') IS NOT NULL"
        " AND to_regclass('public.qgis_projects') IS NOT NULL"
        " AND EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = 'public'"
        "             AND table_name = 'layer_styles' AND column_name = 'type')").fetchone()
    if not (row and row[0]):
        migrate.run_sql_file(conn, "qgis_tables.sql")
