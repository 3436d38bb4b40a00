"""A new scene on a date another tile already covers is added to the months like any other.

Where tiles overlap, a polygon has several pairs on one date and one observation, the best pair.
refresh_polygon_verdict() made such a polygon's month again from all its observations whenever
a new pair arrived on that date, and made a month without a stored row the same way: at
1,000,000 polygons over 30 tiles, a third of a refresh's polygons and its largest step (6.5 s
of 17.7 s). The refresh now
evaluates only that date's pairs: when an old pair stays the best the month is left as it is,
when the new pair is better the month gets it and loses the old observation; a new month is
made from its new observations alone (sql/verdict_refresh.sql). The helper functions
summed_share and summed_tallies give way to month_share and a subquery of the refresh, which
also take away what was replaced; polygon_month_rows writes its class shares out instead of a
subquery per row (sql/verdict_months.sql). polygon_verdict_from_months takes the observations
and months the refresh changed instead of the months alone, and reads a polygon's latest clear
observation again only when it is one of them: mostly the new scene's date, instead of every date
of the months that changed.

counted_pair gets an index by scene: the refresh's count of each new (polygon, date)'s pairs
reads the pairs of the new scenes' dates instead of every stored pair (0.48 s -> under 0.15 s
at 1.4 million stored pairs), and a scene's deletion or edit finds its pairs without reading
every stored pair.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

SQL_FILES = {
    "verdict_months.sql": "2fc5b3cb6aa11a27bf59e191be4b340c381be231b7b9c500f1665ac994e2d3ed",
    "verdict_refresh.sql": "081f2689eb2a194648acdb54d73ba1a38067b7a4508b039debd228770ff69151",
}


def upgrade() -> None:
    op.create_index("counted_pair_scene_id_idx", "counted_pair", ["scene_id"], schema="sclzonal")
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    from alembic import context

    op.drop_index("counted_pair_scene_id_idx", "counted_pair", schema="sclzonal")
    op.execute("DROP FUNCTION sclzonal.polygon_verdict_from_months(bigint[], text[], text[])")
    op.execute("DROP FUNCTION sclzonal.month_share(double precision, numeric, double precision,"
               " numeric, numeric, numeric)")
    recorded_0010 = context.script.get_revision("0010").module.SQL_FILES
    recorded_0009 = context.script.get_revision("0009").module.SQL_FILES
    apply_recorded_sql(op.get_bind(), "0009",
                       {"verdict_months.sql": recorded_0009["verdict_months.sql"]})
    apply_recorded_sql(op.get_bind(), "0010",
                       {"verdict_refresh.sql": recorded_0010["verdict_refresh.sql"]})
