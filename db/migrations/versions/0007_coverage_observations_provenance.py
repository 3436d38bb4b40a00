"""Coverage, one observation per acquisition date, periods, provenance of every verdict.

- counted_pair and pixel_map get expected_pixels: the pixel centres inside the polygon on the
  scene's grid extended without bound. Pairs counted before this revision keep NULL until the
  next `sclzonal refresh` fills it from the polygon and the grid (no tile is read again); until
  then their coverage is NULL and the rules judge them as before.
- verdict_rule gets min_coverage (default 0.9) and revision; every revision of every rule is
  kept in the new table verdict_rule_revision (sql/verdict_rule_revisions.sql).
- scene gets product_id, tile_id and processing_baseline (Sen2Cor products; filled here from the
  product name in scene.reference for products loaded before), shown by the view scene_origin.
- the verdict views are made again (sql/verdict_views.sql): coverage, the per-date choice
  (polygon_observation), partially_observed, sclzonal.polygon_verdict_between(from, to) and
  provenance columns in polygon_verdict; the monthly roll-up polygon_month_verdict is new (a
  materialized view that refresh_polygon_verdict() refreshes too).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from sclzonal.db.migrate import apply_recorded_sql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# The SHA-256 of each file of sql/ this revision applies, in order (see migrate.recorded_sql).
SQL_FILES = {
    "materialized_views.sql": "c9884a353b1cabb757602206761b1d1b8f729e3ffd17bb9ab53f2fa3a26f886c",
    "zonal_views.sql": "c44a64144b85f1c593d66b93e5dbb2abea8cbec9b9c67ccf9b901fab8a6b3d44",
    "verdict_rule_revisions.sql": "881432dc426959d8014a8e9e7965d2132afaca83d6f0a892b1cc76664d28e2b0",
    "scene_origin.sql": "19a551f709b6db1b415832ec90fde951cd2610fe5265c32784f0d0d7a2422e77",
    "verdict_views.sql": "8dc7b94c7be633ad9f21c597f56e1278b3829cd73c341b3fa9b8346240c4750d",
    "verdict_months.sql": "164748ae1544bb2972c6f05d45e32f7a0fbc54d4ef775bf0c39fc0ae4227faf3",
    "qgis_layers.sql": "5a3c5f6ddef1695e24d03bc92c86afa1f123c734b491ac950c1d781baddf38a0",
    "compatibility_views.sql": "b86bd8c215dd1ea77474c400cc527c40aee6ca9495df2c35ed212a7b3c24ffa2",
    "verdict_refresh.sql": "7f89dc05f8d3b196266783ae2f31673d24c6d28804b6e914ca27a74b474b9a2d",
    "roles.sql": "79cf892a2a5d610b064c270d132f008676103388e6e245a3b59fcbb807b5fc51",
}

# Views over the stored counts, dropped before they are made again (dependents first).
VIEWS = ["polygon_verdict_view", "scene_verdict_layer", "scene_verdict", "zonal_class_summary",
         "class_weights_in_use"]
VIEWS_0007 = ["polygon_month_verdict_view", "scene_rule_outcome", "polygon_observation", "scene_origin"]
FUNCTIONS_0007 = ["polygon_verdict_between(date, date)",
                  "rule_outcome(double precision, bigint, double precision, double precision,"
                  " double precision, double precision, double precision)",
                  "coverage_of(bigint, integer)", "record_verdict_rule_revision()",
                  "bump_verdict_rule_revision()", "drop_materialized_view_if_changed(text, text)"]
FILES_0005 = ["zonal_views.sql", "verdict_views.sql", "qgis_layers.sql", "compatibility_views.sql",
              "verdict_refresh.sql", "roles.sql"]

RESERVED_0006 = "label NOT IN ('other', 'not_clear', 'no_clear_observation', 'no_pixels')"
RESERVED_0007 = ("label NOT IN ('other', 'not_clear', 'partially_observed', 'no_clear_observation',"
                 " 'no_pixels')")

# Sen2Cor products loaded before this revision: their product, tile and baseline from the name
# of the .SAFE folder (or of the product inside the zip) in scene.reference.
PRODUCT_FROM_REFERENCE = r"""
UPDATE sclzonal.scene
SET product_id = substring(reference FROM '([^/!]+)\.SAFE'),
    tile_id = substring(reference FROM '_T([0-9]{2}[A-Z]{3})_'),
    processing_baseline = regexp_replace(substring(reference FROM '_N([0-9]{4})_'),
                                         '^([0-9]{2})([0-9]{2})$', '\1.\2')
WHERE source = 'sen2cor' AND product_id IS NULL
"""


def _drop_verdict_views() -> None:
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_verdict")
    for view in VIEWS:
        op.execute(f"DROP VIEW sclzonal.{view}")


def upgrade() -> None:
    _drop_verdict_views()
    op.add_column("counted_pair", sa.Column("expected_pixels", sa.Integer(), nullable=True),
                  schema="sclzonal")
    op.add_column("pixel_map", sa.Column("expected_pixels", sa.Integer(), nullable=True),
                  schema="sclzonal")
    for name in ("product_id", "tile_id", "processing_baseline"):
        op.add_column("scene", sa.Column(name, sa.Text(), nullable=True), schema="sclzonal")
    op.execute(PRODUCT_FROM_REFERENCE)
    op.add_column("verdict_rule", sa.Column("min_coverage", sa.Float(), nullable=False,
                                            server_default=sa.text("0.9")), schema="sclzonal")
    op.add_column("verdict_rule", sa.Column("revision", sa.Integer(), nullable=False,
                                            server_default=sa.text("1")), schema="sclzonal")
    op.create_check_constraint(op.f("verdict_rule_min_coverage_range_check"), "verdict_rule",
                               "min_coverage BETWEEN 0 AND 1", schema="sclzonal")
    op.drop_constraint(op.f("verdict_rule_label_not_reserved_check"), "verdict_rule",
                       type_="check", schema="sclzonal")
    op.create_check_constraint(op.f("verdict_rule_label_not_reserved_check"), "verdict_rule",
                               RESERVED_0007, schema="sclzonal")
    op.create_table(
        "verdict_rule_revision",
        sa.Column("rule_id", sa.Integer(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("classes", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("min_share", sa.Float(), nullable=False),
        sa.Column("min_clear_share", sa.Float(), nullable=False),
        sa.Column("min_coverage", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "revision", name=op.f("verdict_rule_revision_pkey")),
        schema="sclzonal",
        comment="Every revision of every verdict rule (the current one included), kept after edits"
                " and deletes.",
    )
    op.execute("INSERT INTO sclzonal.verdict_rule_revision (rule_id, revision, label, classes,"
               " min_share, min_clear_share, min_coverage, priority, enabled)"
               " SELECT id, revision, label, classes, min_share, min_clear_share, min_coverage,"
               " priority, enabled FROM sclzonal.verdict_rule")
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    from alembic import context

    recorded = context.script.get_revision("0005").module.SQL_FILES
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_verdict")
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_month_verdict")
    op.execute("DROP TRIGGER verdict_rule_revision_bumped ON sclzonal.verdict_rule")
    op.execute("DROP TRIGGER verdict_rule_revision_recorded ON sclzonal.verdict_rule")
    for view in ["polygon_verdict_view", *VIEWS_0007, *VIEWS[1:], "zonal_count"]:
        op.execute(f"DROP VIEW sclzonal.{view}")
    for function in FUNCTIONS_0007:
        op.execute(f"DROP FUNCTION sclzonal.{function}")
    op.drop_table("verdict_rule_revision", schema="sclzonal")
    op.drop_constraint(op.f("verdict_rule_label_not_reserved_check"), "verdict_rule",
                       type_="check", schema="sclzonal")
    op.create_check_constraint(op.f("verdict_rule_label_not_reserved_check"), "verdict_rule",
                               RESERVED_0006, schema="sclzonal")
    op.drop_constraint(op.f("verdict_rule_min_coverage_range_check"), "verdict_rule",
                       type_="check", schema="sclzonal")
    for table, column in [("verdict_rule", "revision"), ("verdict_rule", "min_coverage"),
                          ("scene", "processing_baseline"), ("scene", "tile_id"),
                          ("scene", "product_id"), ("pixel_map", "expected_pixels"),
                          ("counted_pair", "expected_pixels")]:
        op.drop_column(table, column, schema="sclzonal")
    apply_recorded_sql(op.get_bind(), "0005", {name: recorded[name] for name in FILES_0005})
