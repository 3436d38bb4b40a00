"""The verdict refresh evaluates the pairs of the keys with new counts once.

A refresh after a new scene evaluated its new observations three times (scene_verdict_rows over
the scenes that hold their pairs): for the (polygon, date) keys with several pairs (overlapping
tiles), in the month rows of the new observations (polygon_month_rows), and as the latest clear
observations of polygon_verdict_from_months. The pairs of those keys are now evaluated once, into
the refresh's temporary table evaluated_pair, and all three read them there
(sql/verdict_refresh.sql).

A month's change is summed from that table: the new observations with their sign, less those
they took the place of (where revision 0014 summed the new ones through polygon_month_rows and
the replaced ones in a table of their own), added to the stored row; month_share takes the
change as one part. polygon_verdict_from_months no longer takes the touched keys' scenes.
month_row_id and month_last_day make a month row's key and last day for polygon_month_rows and
the refresh alike (sql/verdict_months.sql). Same values.

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
    "verdict_months.sql": "5d0df0a37c02f6c8ee26bfef7321198a04207dbb333035e72f050fc483f07636",
    "verdict_refresh.sql": "0e0c2a80e742c52a938a91aa28c9b17e3c2c3d5c89efd5866e7c55b250dd9602",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


DROPPED_BEFORE_THE_OLD_FILES = (
    "DROP FUNCTION sclzonal.polygon_verdict_from_months(bigint[], text[], text[])",
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
    op.execute("DROP FUNCTION sclzonal.month_row_id(bigint, date)")
    op.execute("DROP FUNCTION sclzonal.month_last_day(date)")
