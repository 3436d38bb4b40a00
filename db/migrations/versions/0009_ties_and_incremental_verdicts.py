"""Tiles a polygon only touches count nothing in the definition view.

- zonal_class_counts leaves out a tile that a polygon only touches (they share no interior):
  ST_Clip rasterises the line where the two meet and counted pixels outside the polygon, e.g. a
  field whose edge runs along a tile's border got a row of the neighbouring tile's pixels.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SQL_FILES = {
    "zonal_views.sql": "8cc6b2d5d3dc902841f377eb1f51421cc6baf57599ef4ac69b5a07a35da106d1",
}
FILES_0008 = ["zonal_views.sql"]


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    from alembic import context

    recorded = context.script.get_revision("0008").module.SQL_FILES
    apply_recorded_sql(op.get_bind(), "0008", {name: recorded[name] for name in FILES_0008})
