"""Verdicts kept up to date polygon by polygon; tiles a polygon only touches count nothing.

- polygon_verdict and polygon_month_verdict become tables with the same columns, key and
  meaning (sql/verdict_tables.sql), instead of materialized views that every refresh recomputed
  for every polygon over the whole history. Triggers note the (polygon, month) pairs whose
  counts were added, the polygons whose other inputs changed (the polygon, deleted counts,
  whether it can be counted, its scenes' origin), and ask for a full rebuild when a rule or
  class changes (sql/verdict_staleness.sql); `refresh` makes again only those months, and the
  noted polygons' verdicts from their months (sql/verdict_refresh.sql); `refresh
  --rebuild-verdicts` all of them. polygon_month_verdict gains first_observed_on,
  last_observed_on and rule_tallies; polygon_verdict_between takes an optional list of polygon
  ids. The key columns are NOT NULL.
- scene_verdict_layer gains pixel_shares (the share of each class in the counted pixels), for
  the class shares over time in a polygon's QGIS form.
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
    "verdict_views.sql": "70eb89bc165eae2a7bce33524e1dad2b98a20d49e1cb955eda2ecb8663d0da95",
    "verdict_months.sql": "f7c2e2c4c841ad38122792650c293bd06161e2345620f3ebf975f75d860a7174",
    "verdict_tables.sql": "e108c733dc5f2186e0b091b898c5e8c785fe9324cacf9d34e7668a0f3548b222",
    "verdict_staleness.sql": "5158cca14cf978121dee9178799aae0714856ee68bc08e0923ca6cd3d2319996",
    "verdict_refresh.sql": "495f87c0c2cdf1ce24747bf2ad880d320c9ab6e526bba627eb226eab3348ee76",
    "qgis_layers.sql": "19f113dd19340250eb899c24b2365afa526637992a72c4cb4b813af420d701be",
    "roles.sql": "61247ac713ad284ee54e13a89111f7140701657cf3067b81f70dba4e056f6efb",
}
FILES_0008 = ["zonal_views.sql", "verdict_views.sql", "roles.sql"]
FILES_0007 = ["verdict_months.sql", "verdict_refresh.sql"]
STALENESS_FUNCTIONS = ["note_stale_polygons", "note_stale_months", "note_new_pairs",
                       "note_stale_scenes", "request_verdict_rebuild"]


def upgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_verdict")
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_month_verdict")
    op.execute("DROP VIEW sclzonal.polygon_verdict_view")
    op.execute("DROP VIEW sclzonal.polygon_month_verdict_view")  # columns added in the middle
    op.execute("DROP FUNCTION sclzonal.polygon_verdict_between(date, date)")
    op.execute("DROP FUNCTION sclzonal.refresh_polygon_verdict()")
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)
    op.execute("SELECT sclzonal.rebuild_polygon_verdict()")


def downgrade() -> None:
    from alembic import context

    for function in STALENESS_FUNCTIONS:
        op.execute(f"DROP FUNCTION sclzonal.{function}() CASCADE")
    for function in ("rebuild_polygon_verdict()", "refresh_polygon_verdict()",
                     "polygon_verdict_from_months(bigint[], date[])",
                     "analyze_verdicts_after(bigint)"):
        op.execute(f"DROP FUNCTION sclzonal.{function}")
    for table in ("verdict_stale_polygon", "verdict_stale_month", "verdict_new_pair",
                  "verdict_rebuild_request",
                  "polygon_verdict", "polygon_month_verdict"):
        op.execute(f"DROP TABLE sclzonal.{table}")
    op.execute("DROP VIEW sclzonal.polygon_verdict_view")
    op.execute("DROP VIEW sclzonal.polygon_month_verdict_view")
    op.execute("DROP FUNCTION sclzonal.polygon_month_rows(bigint[], text[])")
    op.execute("DROP FUNCTION sclzonal.observation_key(bigint, date)")
    op.execute("DROP FUNCTION sclzonal.polygon_verdict_between(date, date, bigint[])")
    op.execute("DROP VIEW sclzonal.polygon_problem")
    op.execute("DROP VIEW sclzonal.scene_verdict_layer")  # a column fewer: not by CREATE OR REPLACE
    recorded_0008 = context.script.get_revision("0008").module.SQL_FILES
    recorded_0007 = context.script.get_revision("0007").module.SQL_FILES
    apply_recorded_sql(op.get_bind(), "0007", {"qgis_layers.sql": recorded_0007["qgis_layers.sql"]})
    apply_recorded_sql(op.get_bind(), "0008", {name: recorded_0008[name] for name in FILES_0008})
    apply_recorded_sql(op.get_bind(), "0007", {name: recorded_0007[name] for name in FILES_0007})
