"""A refresh rewrites the verdict rows of the polygons and months a new scene touched in place,
and reads the counts of the new scenes' dates only.

refresh_polygon_verdict() deleted those rows of polygon_verdict and polygon_month_verdict and
inserted them again: each row then got a new entry in every index of its table (four on the
months, three on the polygons, a GiST of the geometry in both) and left dead ones for vacuum.
It now updates them (INSERT .. ON CONFLICT DO UPDATE; a month seen for the first time is
inserted), and both tables fill their pages to 80 %, so that an update which changes no indexed
column stays on its page and touches no index (sql/verdict_refresh.sql, sql/verdict_tables.sql).
The fill factor applies to pages written from now on: the pages an older revision filled get
their room as vacuum clears them, or at once with VACUUM FULL of both tables (which blocks
their readers while it runs; docs/operations.md).

polygon_month_rows takes the dates of the observations it is given (observation_dates): the
refresh's month rows of a new scene's observations read the counts of that date's scenes,
where they read every scene of the month, which grew with each date of a month
(sql/verdict_months.sql). Its two-argument version and the view on it are made again.

The refresh prices random page reads at 1.1 instead of 4: it reads a few rows of each listed
polygon or new scene, and at the default price the planner read every stored pair in three of
its statements (at 1,000,000 polygons and 4 dates, 5.25 million pairs each time). It counts
the polygons only when some are noted whole (0.2 s a refresh at 1,000,000), and renews the
verdict tables' statistics after rows inserted, not after rows updated in place.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SQL_FILES = {
    "verdict_months.sql": "3de009eef9eff67156529120af1b21dbc387f4c1a424d5d991ee493b093ed9b4",
    "verdict_tables.sql": "649f80c71ddd01f4a0e8f43fcc2f6e6f04516354add3695b55c4e98dffd6d1ac",
    "verdict_refresh.sql": "814eb1a195872215fa9ff71e4a0f2ad8a52f9b21c4237690fb9dd13d80ecc9e8",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    from alembic import context

    op.execute("ALTER TABLE sclzonal.polygon_verdict RESET (fillfactor)")
    op.execute("ALTER TABLE sclzonal.polygon_month_verdict RESET (fillfactor)")
    op.execute("DROP VIEW sclzonal.polygon_month_verdict_view")
    op.execute("DROP FUNCTION sclzonal.polygon_month_rows(bigint[], text[], date[])")
    recorded_0011 = context.script.get_revision("0011").module.SQL_FILES
    apply_recorded_sql(op.get_bind(), "0011",
                       {name: recorded_0011[name]
                        for name in ("verdict_months.sql", "verdict_refresh.sql")})
