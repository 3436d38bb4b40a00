"""The verdict refresh evaluates the pairs of the keys with new counts once, and sums of class
pixels take the classes as bits.

A refresh after a new scene evaluated its new observations three times (scene_verdict_rows over
the scenes that hold their pairs): for the (polygon, date) keys with several pairs (overlapping
tiles), in the month rows of the new observations (polygon_month_rows), and as the latest clear
observations of polygon_verdict_from_months. The pairs of those keys are now evaluated once, into
the refresh's temporary table evaluated_pair, and all three read them there
(sql/verdict_refresh.sql):
- each month's change is summed from that table, the new observations less those they took the
  place of (signed), and added to the stored row; month_share takes the change as one part; the
  polygon's columns come from its stored month (the polygon is read for a new month only);
- polygon_verdict_from_months(polygon_ids, remade_month_keys) reads the months once, takes the
  latest clear observation from the evaluated pairs when its date is there, and reads the old
  rows of the other polygons only (it took the touched keys and their scenes, read the months
  three times and every old row); scene origins are formatted once per scene;
- the refresh's temporary tables get statistics for the columns its queries join and filter on
  only (ANALYZE of their arrays and JSON took 0.3 s of a 2.7 s refresh).

pixels_in(pair, class_mask) sums the pixels of the classes given as the bits of an integer
(class_mask(weights) makes it): scene_verdict_rows, zonal_class_summary and the month rows use
it instead of pixels_of(pair, weights), whose array, read from a row, is copied at each of its
twelve subscripts (1.1 us a sum against 0.4 us; sql/zonal_views.sql, sql/verdict_views.sql).
month_row_id and month_last_day make a month row's key and last day for polygon_month_rows and
the refresh alike (sql/verdict_months.sql). Same values.

polygon_verdict loses its index on verdict (sql/verdict_tables.sql): a polygon whose verdict a
scene changed could not be updated on its page, and got new entries in every index, the
geometry's GiST among them; without it a refresh after a scene took 0.3 s less of 3.0 s at
1,000,000 polygons. The downgrade makes it again.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql, apply_sql_as_of

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

SQL_FILES = {
    "zonal_views.sql": "5f536695666b414aff8bb2e5788eb50aa68b3772ec9f5c786fe33fd87f89302b",
    "verdict_views.sql": "0bdbde58cecd4eb84a0e6b43b31b72fd0fcc80198581066bbd0936f08b3169be",
    "verdict_months.sql": "540ca0955d5d0eaee1e77aaf58c4dafe47d06be614e185934d6264265c38fef1",
    "verdict_tables.sql": "12f929949aa3ba216edb76e6a664bf7b00a0adacfa5ba54e6fa68f7a518b9968",
    "verdict_refresh.sql": "5ce47ca539e8f977fe3ecbfaf89a59269ad2be46eddd0306db40c03a07ff588f",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


DROPPED_BEFORE_THE_OLD_FILES = (
    "DROP FUNCTION sclzonal.polygon_verdict_from_months(bigint[], text[])",
    "DROP FUNCTION sclzonal.month_share(double precision, bigint, bigint, bigint)",
)
"""The objects whose arguments this revision changed: the files as revision 0014 left them make
the old versions, which would stand beside these (scripts/bench --refresh-revisions drops them
too)."""


def downgrade() -> None:
    from alembic import context

    for statement in DROPPED_BEFORE_THE_OLD_FILES:
        op.execute(statement)
    apply_sql_as_of(op.get_bind(), context.script, down_revision, SQL_FILES)
    for function in ("month_row_id(bigint, date)", "month_last_day(date)",
                     "pixels_in(sclzonal.counted_pair, integer)", "class_mask(integer[])"):
        op.execute(f"DROP FUNCTION sclzonal.{function}")
