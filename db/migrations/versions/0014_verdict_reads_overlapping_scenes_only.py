"""The verdict refresh reads the counts of the scenes that hold its polygons' pairs only.

scene_verdict's rows come from sclzonal.scene_verdict_rows(scene_ids), which reads the counts of
the given scenes only (NULL: every scene; the view calls it so). A polygon's observation of a
date is the best of its pairs of that date, a window over (polygon, date) that a condition on
the scene could not pass, so the refresh read every scene of the new scene's date for the
polygons it re-decides: at 1,000,000 polygons over 30 tiles, 1.3 million counts to keep 43,000,
three times per refresh (the overlapping pairs, the new observations' month rows, the latest
clear observations), where the new scene's polygons had pairs in 2 scenes of that date. The
refresh now takes those scenes from the pairs it counts per (polygon, date), and
polygon_month_rows and polygon_verdict_from_months take scenes (observation_scenes,
touched_scenes) instead of dates (sql/verdict_views.sql, sql/verdict_months.sql,
sql/verdict_refresh.sql).

The scenes are chosen on the scene's id (scene.id), not the count's: while every scene is among
the counts' most common scene ids, a scene loaded after their last ANALYZE gets no rows, and the
refresh's joins of 35,000 new month rows estimated at 1 went by nested loop (46-82 s instead of
4 s on about one refresh in two of the national benchmark's first date). What replaced
observations take from their months is in a temporary table keyed by (polygon, month) for the
same reason.

The pairs per (polygon, date) are read from the pairs' key between the first and the last scene
id of the new scene's date, not over each polygon's whole season. A month's new part is added as
pixel sums (polygon_month_rows gives vegetation_pixels and class_pixels beyond the view's
columns), month_share takes bigint (a numeric goes to a double through its text), the month
rows divide by a double made once per month, and rule tallies are merged over the keys of the
union of the JSON objects instead of grouping their entries (a hash table per month row); a
month of one observation takes its tallies from its lists. Same values.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql, apply_sql_as_of

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

SQL_FILES = {
    "verdict_views.sql": "2859f565683dac4606a23263dc8bab053f4e5f6fc1c3d387b7c12d195b9c900d",
    "verdict_months.sql": "cb3b030b20f7746f937d797a19a00d83d0e4f1e66beead743cd9a0078c3b0ddb",
    "verdict_refresh.sql": "2f65acaed2c227ac2574e53f5015749e152520150b793dfc18648f830891a9cd",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


DROPPED_BEFORE_THE_OLD_FILES = (
    "DROP VIEW sclzonal.polygon_month_verdict_view",
    "DROP FUNCTION sclzonal.polygon_month_rows(bigint[], text[], bigint[])",
    "DROP FUNCTION sclzonal.polygon_verdict_from_months(bigint[], text[], text[], bigint[])",
    "DROP FUNCTION sclzonal.month_share(double precision, bigint, bigint, bigint, bigint, bigint)",
)
"""The objects whose arguments or columns this revision changed: the files as revision 0013 left
them make the old versions, which would stand beside these (scripts/bench --refresh-revisions
drops them too)."""


def downgrade() -> None:
    from alembic import context

    for statement in DROPPED_BEFORE_THE_OLD_FILES:
        op.execute(statement)
    apply_sql_as_of(op.get_bind(), context.script, down_revision, SQL_FILES)
    op.execute("DROP FUNCTION sclzonal.scene_verdict_rows(bigint[])")
