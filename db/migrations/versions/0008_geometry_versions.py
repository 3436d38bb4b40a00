"""Counts checked against the polygon's geometry version; polygon geometry kept valid in the database.

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

Polygon geometry is kept valid whoever writes it (sql/polygon_validity.sql): an INSERT or
UPDATE from SQL or QGIS gets the repair `polygons load` applies (the same SQL function), or is
refused naming the polygon when no area is left. Geometries already stored are checked here:
invalid ones are repaired the same way (their counts are then forgotten by the trigger of
sql/count_invalidation.sql and counted again by the next refresh); one with no area left is left
as it is (it can only have come from SQL) and refused at its next edit.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQL_FILES = {
    "polygon_validity.sql": "90d1dded693659060ecd8baf787494ca414be26e95564f68bf20539305006be3",
}


def upgrade() -> None:
    op.execute("UPDATE sclzonal.pixel_map AS m SET polygon_version = p.changed_seq"
               " FROM sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version = p.xmin::text::bigint")
    op.execute("DELETE FROM sclzonal.pixel_map AS m USING sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version <> p.changed_seq")
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)
    op.execute("UPDATE sclzonal.polygon SET geom = geom WHERE NOT ST_IsValid(geom)"
               " AND NOT ST_IsEmpty(sclzonal.polygon_made_valid(geom))")


def downgrade() -> None:
    op.execute("DROP TRIGGER polygon_geom_made_valid ON sclzonal.polygon")
    op.execute("DROP FUNCTION sclzonal.make_polygon_geometry_valid()")
    op.execute("DROP FUNCTION sclzonal.polygon_made_valid(geometry)")
    op.execute("UPDATE sclzonal.pixel_map AS m SET polygon_version = p.xmin::text::bigint"
               " FROM sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version = p.changed_seq")
