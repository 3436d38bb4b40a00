"""SCL classes, the default verdict rule, zonal views and verdict views (files of sql/).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The SHA-256 of each file of sql/ this revision applies, in order (see migrate.recorded_sql):
# when sql/ changes, the old text is kept in db/migrations/frozen/0002/.
SQL_FILES = {
    "scl_classes.sql": "3f52ac7c104d846ce93e1efd762d79c16cee696c1a12cea8fd85985c98f6f008",
    "verdict_rules.sql": "7b5263f3eb09999935af1eb832af6b94471a1a36e37dc8621aaca47c592194ab",
    "count_invalidation.sql": "744f8caa736f69bbe732c1e92066174acab668e64b5d3af63336896afa7633ec",
    "zonal_views.sql": "f6da1e9d006894fc57253636817adb250eb17e033eccff81a0026a3eb6e822ab",
    "verdict_views.sql": "1f8b3e6d36e72bb93cab470f323a2dfd064be5c243845e825eed67baef90c5cb",
}


def upgrade() -> None:
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


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
