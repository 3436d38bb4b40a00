"""Clear names: counted_pair, stored_class_counts, the loader role; rule-driven vegetation_share.

- table zonal_count -> counted_pair, view class_count -> stored_class_counts; views under the old
  names stay (sql/compatibility_views.sql).
- the class columns are named once in SQL (sclzonal.class_pixels, sclzonal.pixels_of), and
  vegetation_share is the share of the classes of the rule labelled 'vegetation'.
- role purpose 'ingest' -> 'loader' (registered rows and the check constraint).
- the views over the counts are dropped and made again from sql/, polygon_verdict included (a
  materialized view is never replaced by CREATE ... IF NOT EXISTS), with the same rows.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# The SHA-256 of each file of sql/ this revision applies, in order (see migrate.recorded_sql):
# when sql/ changes, the old text is kept in db/migrations/frozen/0005/.
SQL_FILES = {
    "count_invalidation.sql": "59d6da8b6ce98c4c6df8a3d8fe8c25cf54025c9cc3362b6023ca455598bc5f8e",
    "zonal_views.sql": "e8f22de974481094118dc0c050b11599f3264d0d4825af3f73b5f5964c20afbe",
    "verdict_views.sql": "6d1687c5c5b28892c351ab53b53d4defa4050c1998c8bb6e72fcf2b35e8f536d",
    "qgis_layers.sql": "d3ca2d85c9f9c9776d4a1171e192e6fdd83050c454987bb50557f667ccd43c8a",
    "compatibility_views.sql": "b86bd8c215dd1ea77474c400cc527c40aee6ca9495df2c35ed212a7b3c24ffa2",
    "verdict_refresh.sql": "a91fb5156d6ec2a4b4300cd84b55c1364bf227628cee9b9eeca3ff83436fd999",
    "roles.sql": "f30c033d99acd61f347544aa9904d948361dffed3c24febf2ce3f3d81dca43f4",
}

# What 0004 left: the views over the stored counts, dropped before the table is renamed.
VIEWS_0004 = ["polygon_verdict_view", "scene_verdict_layer", "scene_verdict", "zonal_class_summary",
              "class_count"]
# What this revision adds on top of them.
VIEWS_0005 = ["class_count", "zonal_count", "polygon_verdict_view", "scene_verdict_layer",
              "scene_verdict", "zonal_class_summary", "class_weights_in_use", "stored_class_counts"]
FUNCTIONS_0005 = ["pixels_of(sclzonal.counted_pair, integer[])", "class_pixels(sclzonal.counted_pair)",
                  "class_weights(smallint[])"]
FILES_0002 = ["count_invalidation.sql", "zonal_views.sql", "verdict_views.sql"]


DROP_CHECK = "ALTER TABLE sclzonal.database_role DROP CONSTRAINT database_role_purpose_check"
ADD_CHECK = "ALTER TABLE sclzonal.database_role ADD CONSTRAINT database_role_purpose_check CHECK "
PURPOSES_0004 = "(purpose IN ('owner', 'ingest', 'reader'))"
PURPOSES_EITHER = "(purpose IN ('owner', 'ingest', 'loader', 'reader'))"
PURPOSES_0005 = "(purpose IN ('owner', 'loader', 'reader'))"


def upgrade() -> None:
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_verdict")
    for view in VIEWS_0004:
        op.execute(f"DROP VIEW sclzonal.{view}")
    op.execute("ALTER TABLE sclzonal.zonal_count RENAME TO counted_pair")
    op.execute("ALTER INDEX sclzonal.zonal_count_pkey RENAME TO counted_pair_pkey")
    op.execute(DROP_CHECK)
    op.execute(ADD_CHECK + PURPOSES_EITHER)
    op.execute("UPDATE sclzonal.database_role SET purpose = 'loader' WHERE purpose = 'ingest'")
    op.execute(DROP_CHECK)
    op.execute(ADD_CHECK + PURPOSES_0005)
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    from alembic import context

    recorded = {name: context.script.get_revision(name).module.SQL_FILES
                for name in ("0002", "0003", "0004")}
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_verdict")
    for view in VIEWS_0005:
        op.execute(f"DROP VIEW sclzonal.{view}")
    for function in FUNCTIONS_0005:
        op.execute(f"DROP FUNCTION sclzonal.{function}")
    op.execute("ALTER INDEX sclzonal.counted_pair_pkey RENAME TO zonal_count_pkey")
    op.execute("ALTER TABLE sclzonal.counted_pair RENAME TO zonal_count")
    op.execute(DROP_CHECK)
    op.execute(ADD_CHECK + PURPOSES_EITHER)
    op.execute("UPDATE sclzonal.database_role SET purpose = 'ingest' WHERE purpose = 'loader'")
    op.execute(DROP_CHECK)
    op.execute(ADD_CHECK + PURPOSES_0004)
    bind = op.get_bind()
    apply_recorded_sql(bind, "0002", {name: recorded["0002"][name] for name in FILES_0002})
    apply_recorded_sql(bind, "0003", recorded["0003"])
    apply_recorded_sql(bind, "0004", recorded["0004"])
