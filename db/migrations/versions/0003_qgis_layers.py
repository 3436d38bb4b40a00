"""Views for QGIS: the per-scene verdict layer with polygon geometry (sql/qgis_layers.sql).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op
from sclzonal.db.migrate import apply_sql_file

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    apply_sql_file(op.get_bind(), "qgis_layers.sql")


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS sclzonal.scene_verdict_layer")
