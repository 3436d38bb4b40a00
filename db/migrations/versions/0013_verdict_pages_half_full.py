"""Verdict rows updated on their own pages; the holding rule found without a join.

Both verdict tables fill their pages to half, not 80 % (sql/verdict_tables.sql). A new scene
covers a region, and parcels are numbered region by region, so a refresh updates every row of
a page at once: at 80 % one update in four or five found room on its page, and the others
added an entry to every index of the table, the geometry's GiST among them. At half, 98 % of the
month rows' updates stayed on their page in the national benchmark, and a polygon's does unless
its verdict changed (the verdict column is indexed) or its row grew (its first observation).
The fill factor applies to pages written from now on: VACUUM FULL of both tables gives every
page its room at once (docs/operations.md).

A full rebuild (`sclzonal refresh --rebuild-verdicts`, a rule change) updates every row in place
and deletes the rows of polygons and months that are gone, where it deleted every row and
inserted it again, which left both tables twice their size until vacuum; into empty tables it
inserts (an upsert's check costs a tenth more). The upserts write
every column but the key, listed from the catalogue (sclzonal.upsert_set_list), and the month
rows new to the table are counted as the upsert writes them; a month's rule tallies are merged
only when both the stored row and the new observations have some (sql/verdict_refresh.sql).

scene_verdict finds the holding rule of a pair in its one pass over the rules: the least of the
held rules' [rank, id, revision, share], and the label by rank. It joined the rules again on
the lowest held rank, and PostgreSQL built a hash of the rules for each pair to do it (6.0 s
against 4.4 s for 656,000 pairs; sql/verdict_views.sql). Same rows.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql, apply_sql_as_of

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

SQL_FILES = {
    "verdict_views.sql": "fd0090ad2d96cbc7e448b239ffa0bdd317c7896c24dc82e9e54e7b1f5640909d",
    "verdict_tables.sql": "3353b6d5e0c002d2c90d08d6d8abcd0908e8c03b857673c51edde96b8a772d31",
    "verdict_refresh.sql": "358246e25ceca0a07e2fed26367d7b432b4b7066596e1067aa8c4e8de1013e85",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    from alembic import context

    op.execute("DROP FUNCTION sclzonal.upsert_set_list(regclass, name)")
    apply_sql_as_of(op.get_bind(), context.script, down_revision, SQL_FILES)
