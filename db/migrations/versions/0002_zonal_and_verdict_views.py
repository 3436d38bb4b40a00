"""SCL classes, the default verdict rule, zonal views and verdict views (files of sql/).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op
from sclzonal.db.migrate import apply_sql_file

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQL_FILES = [
    "scl_classes.sql",
    "verdict_rules.sql",
    "count_invalidation.sql",
    "zonal_views.sql",
    "verdict_views.sql",
]


def upgrade() -> None:
    for name in SQL_FILES:
        apply_sql_file(op.get_bind(), name)


def downgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW IF EXISTS sclzonal.polygon_verdict")
    op.execute("DROP VIEW IF EXISTS sclzonal.polygon_verdict_view")
    op.execute("DROP VIEW IF EXISTS sclzonal.scene_verdict")
    op.execute("DROP VIEW IF EXISTS sclzonal.zonal_class_summary")
    op.execute("DROP VIEW IF EXISTS sclzonal.class_count")
    op.execute("DROP VIEW IF EXISTS sclzonal.zonal_class_counts")
    for trigger, table in [("polygon_geometry_changed", "polygon"), ("polygon_deleted", "polygon"),
                           ("scene_deleted", "scene"), ("polygon_truncated", "polygon"),
                           ("scene_truncated", "scene")]:
        op.execute(f"DROP TRIGGER IF EXISTS {trigger} ON sclzonal.{table}")
    for function in ["forget_counts_of_changed_polygon", "forget_counts_of_deleted_polygons",
                     "forget_counts_of_deleted_scenes", "forget_all_counts"]:
        op.execute(f"DROP FUNCTION IF EXISTS sclzonal.{function}()")
    op.execute("DELETE FROM sclzonal.verdict_rule")
    op.execute("DELETE FROM sclzonal.scl_class")
