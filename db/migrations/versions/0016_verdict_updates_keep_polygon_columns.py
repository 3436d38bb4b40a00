"""The refresh updates verdict rows without rewriting the polygon's own columns, copies short
arrays once, and sums the rule tallies of one rule without a subquery per row.

sql/verdict_refresh.sql:
- polygon_verdict_from_months no longer reads the polygons: it returns NULL for the polygon's own
  columns (source, source_fid, name, geom), and the refresh updates the polygons' rows in place
  (UPDATE ... FROM, not an upsert) without writing them back; a polygon whose row is missing
  (deleted by hand) is made from the definition. A stored month row keeps its polygon's columns
  likewise (its upsert's SET list leaves them out); a new month takes them from the polygon.
  upsert_set_list takes the columns to keep (name[]; it took the key alone).
- The class pixels of the observations and the class shares of the stored months are copied once
  per row: PostgreSQL copies an array of under 127 bytes, read from a table, at each subscript
  (twelve per row; 64 ms against 21 ms for 40,000 rows). The month rows' parts are made once per
  row (OFFSET 0), not once per mention.
- When every observation of a month's change that evaluated rules evaluated the same one label
  (one rule enabled), the rule tallies are made and added to the stored month's with
  jsonb_build_object, without the subqueries per observation and per month (4-8 us each); and a
  polygon whose months' tallies hold only the enabled rule's label gets its share from their
  sums, not label by label.

Same values (tests/test_incremental_verdicts.py, tests/test_overlapping_tiles.py).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql, apply_sql_as_of

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

SQL_FILES = {
    "verdict_refresh.sql": "56b42c37976f225b6e41ecacb6f5c745cccd3b68ab8396e9d2a964249cd4db79",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


DROPPED_BEFORE_THE_OLD_FILES = (
    "DROP FUNCTION sclzonal.upsert_set_list(regclass, name[])",
)
"""The objects whose arguments this revision changed: the files as revision 0015 left them make
the old versions, which would stand beside these (scripts/bench --refresh-revisions drops them
too)."""


def downgrade() -> None:
    from alembic import context

    for statement in DROPPED_BEFORE_THE_OLD_FILES:
        op.execute(statement)
    apply_sql_as_of(op.get_bind(), context.script, down_revision, SQL_FILES)
