"""Counts and pixel maps are checked against the polygon's geometry version, not its row version.

`refresh` stores the counts of a polygon only if the polygon has not changed since they were
computed. It used the row version (xmin), which any edit advances: an attribute-only edit during
a refresh (a reload whose only difference is a name, an edit from QGIS) made it skip the
polygon, while the scenes were marked counted up to a change number that such an edit never
advances, so the polygon kept no counts until `refresh --recount`. Now the version is
polygon.changed_seq, which only a new geometry advances (sql/count_invalidation.sql): an
attribute edit keeps the counts, a geometry edit is counted by the next refresh.

pixel_map.polygon_version held the xmin of the row the runs were computed from: rows that still
match their polygon get its changed_seq; the others describe an older geometry and are deleted
(a cache: the next refresh computes them again). Pairs skipped by the old rule are not found
here: `refresh --recount` finds them (docs/operations.md).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("UPDATE sclzonal.pixel_map AS m SET polygon_version = p.changed_seq"
               " FROM sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version = p.xmin::text::bigint")
    op.execute("DELETE FROM sclzonal.pixel_map AS m USING sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version <> p.changed_seq")


def downgrade() -> None:
    op.execute("UPDATE sclzonal.pixel_map AS m SET polygon_version = p.xmin::text::bigint"
               " FROM sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version = p.changed_seq")
