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
    "zonal_views.sql": "45203da33a90ddeb7647dee4bfb72ad57d6f20a195d1bb8cbd1e9529ef954f39",
    "verdict_views.sql": "0bdbde58cecd4eb84a0e6b43b31b72fd0fcc80198581066bbd0936f08b3169be",
    "verdict_months.sql": "fa52c8968a6ecb568acd1d237b4f9fba79071aec785a38e588d2cc8f3ab886cf",
    "verdict_refresh.sql": "65a098c2f36ad5c9b32266a9a5c959c0ef7faabddea0a81f7af5f7bf5f737957",
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
