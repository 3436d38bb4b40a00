"""Views for QGIS: the per-scene verdict layer with polygon geometry (sql/qgis_layers.sql).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The SHA-256 of each file of sql/ this revision applies, in order (see migrate.recorded_sql):
# when sql/ changes, the old text is kept in db/migrations/frozen/0003/.
SQL_FILES = {
    "qgis_layers.sql": "d3ca2d85c9f9c9776d4a1171e192e6fdd83050c454987bb50557f667ccd43c8a",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS sclzonal.scene_verdict_layer")
