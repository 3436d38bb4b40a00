"""Counts that survive edits, geometry kept valid, polygons that cannot be counted stop no one.

- `refresh` stores a polygon's counts only if the polygon has not changed since they were
  computed. It used the row version (xmin), which any edit advances: an attribute-only edit
  during a refresh made it skip the polygon, while the scenes were marked counted up to a change
  number such an edit never advances, so the polygon kept no counts until `refresh --recount`.
  The version is now polygon.changed_seq, which only a new geometry advances. pixel_map rows
  that still match their polygon's row get its changed_seq; the others are deleted (a cache).
- Polygon geometry is kept valid whoever writes it (sql/polygon_validity.sql): the repair of
  `polygons load` (one SQL function), or a refusal naming the polygon when no area is left.
  Stored invalid geometries are repaired here (their counts are forgotten and counted again).
- A polygon goes into a raster's CRS by one rule (sql/polygon_projection.sql): edges cut to at
  most 0.01 degree, then transformed, in the counting and the definition view alike. Polygons
  with longer edges get a new change number here, so the next refresh counts them again.
- A polygon PROJ cannot transform into a grid's CRS is recorded in the new table
  uncountable_polygon by `refresh` and has the verdict `not_countable` (polygon_verdict.problem
  says why); the others are counted as usual.
- Scene footprints become MultiPolygons, right across the antimeridian (two parts) and around
  a pole (every longitude up to it), recomputed here for every scene (sql/scene_footprint.sql);
  polygons are matched to them with && (and ST_Intersects for a footprint in two parts).
- `refresh` and `ingest` run one at a time by a table lock on the new, empty tables
  refresh_lock and ingest_lock, which only roles that may write to them can take, instead of
  advisory locks, which any role could take to stall them.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

SQL_FILES = {
    "scene_footprint.sql": "12fb2d8128e3078aaf1df8220ca9a1dceaca8dfd0759e7bf6616097273566d19",
    "scene_origin.sql": "19a551f709b6db1b415832ec90fde951cd2610fe5265c32784f0d0d7a2422e77",
    "polygon_validity.sql": "90d1dded693659060ecd8baf787494ca414be26e95564f68bf20539305006be3",
    "polygon_projection.sql": "0031aed8e2c5097f62ef2cef978120b00c22abe124fa92476b3d5974a4a16de8",
    "zonal_views.sql": "5964e9bfb37b0673b698e44f154b45ec6a3d2a0174133d1cb6923f8f80898d9f",
    "verdict_views.sql": "707a3887dfc9bbe07a6a9ba4e61f6b6f5bcf7f05be61ad62a12606433c3f65ec",
    "roles.sql": "8d39e3acd976104f9fe41a9d5f72176e7dab973df57ebcd86c1e8c20bad4de02",
}
FILES_0007 = ["scene_origin.sql", "zonal_views.sql", "verdict_views.sql", "roles.sql"]
# Views that read scene.footprint, dropped while its type changes.
FOOTPRINT_VIEWS = ["zonal_class_counts", "scene_origin"]
GEOGRAPHIC = ("(SELECT proj4text LIKE '%+proj=longlat%' FROM spatial_ref_sys"
              " WHERE srid = g.srid)")
FOOTPRINTS = ("UPDATE sclzonal.scene AS s SET footprint = sclzonal.scene_footprint("
              "ST_MakeEnvelope(g.upper_left_x, g.upper_left_y + g.height * g.pixel_size_y,"
              " g.upper_left_x + g.width * g.pixel_size_x, g.upper_left_y, g.srid),"
              f" CASE WHEN {GEOGRAPHIC} THEN 0.01 ELSE 1000 END)"
              " FROM sclzonal.scene_grid AS g WHERE g.id = s.grid_id")

RESERVED_0007 = ("label NOT IN ('other', 'not_clear', 'partially_observed', 'no_clear_observation',"
                 " 'no_pixels')")
RESERVED_0008 = ("label NOT IN ('other', 'not_clear', 'partially_observed', 'no_clear_observation',"
                 " 'no_pixels', 'not_countable')")
LONG_EDGES = "ST_NPoints(ST_Segmentize(geom, 0.01)) > ST_NPoints(geom)"


def _drop_polygon_verdict() -> None:
    op.execute("DROP MATERIALIZED VIEW sclzonal.polygon_verdict")
    op.execute("DROP VIEW sclzonal.polygon_verdict_view")
    op.execute("DROP FUNCTION sclzonal.polygon_verdict_between(date, date)")


def _reserve(labels: str) -> None:
    op.drop_constraint(op.f("verdict_rule_label_not_reserved_check"), "verdict_rule",
                       type_="check", schema="sclzonal")
    op.create_check_constraint(op.f("verdict_rule_label_not_reserved_check"), "verdict_rule",
                               labels, schema="sclzonal")


def upgrade() -> None:
    op.execute("UPDATE sclzonal.pixel_map AS m SET polygon_version = p.changed_seq"
               " FROM sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version = p.xmin::text::bigint")
    op.execute("DELETE FROM sclzonal.pixel_map AS m USING sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version <> p.changed_seq")
    _drop_polygon_verdict()
    for view in FOOTPRINT_VIEWS:
        op.execute(f"DROP VIEW sclzonal.{view}")
    op.execute("ALTER TABLE sclzonal.scene ALTER COLUMN footprint"
               " TYPE geometry(MultiPolygon, 4326) USING ST_Multi(footprint)")
    _reserve(RESERVED_0008)
    op.create_table(
        "uncountable_polygon",
        sa.Column("polygon_id", sa.BigInteger(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("polygon_version", sa.BigInteger(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("found_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.PrimaryKeyConstraint("polygon_id", "grid_id", name=op.f("uncountable_polygon_pkey")),
        schema="sclzonal",
    )
    for job in ("refresh", "ingest"):
        op.create_table(f"{job}_lock", schema="sclzonal",
                        comment=f"Holds no rows: `sclzonal {job}` locks this table (SHARE ROW "
                                "EXCLUSIVE) for as long as it runs, so one runs at a time; only "
                                "roles that may write can.")
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)
    op.execute(FOOTPRINTS)
    op.execute("UPDATE sclzonal.polygon SET geom = geom WHERE NOT ST_IsValid(geom)"
               " AND NOT ST_IsEmpty(sclzonal.polygon_made_valid(geom))")
    op.execute(f"DELETE FROM sclzonal.counted_pair WHERE polygon_id IN"
               f" (SELECT id FROM sclzonal.polygon WHERE {LONG_EDGES})")
    op.execute(f"DELETE FROM sclzonal.pixel_map WHERE polygon_id IN"
               f" (SELECT id FROM sclzonal.polygon WHERE {LONG_EDGES})")
    op.execute(f"UPDATE sclzonal.polygon SET changed_seq = nextval('sclzonal.polygon_change_seq')"
               f" WHERE {LONG_EDGES}")


def downgrade() -> None:
    from alembic import context

    recorded = context.script.get_revision("0007").module.SQL_FILES
    _drop_polygon_verdict()
    for view in FOOTPRINT_VIEWS:
        op.execute(f"DROP VIEW sclzonal.{view}")
    op.execute("ALTER TABLE sclzonal.scene ALTER COLUMN footprint"
               " TYPE geometry(Polygon, 4326) USING ST_Envelope(footprint)")
    op.execute("DROP TRIGGER polygon_geom_made_valid ON sclzonal.polygon")
    op.execute("DROP FUNCTION sclzonal.make_polygon_geometry_valid()")
    op.execute("DROP FUNCTION sclzonal.polygon_made_valid(geometry)")
    op.drop_table("uncountable_polygon", schema="sclzonal")
    op.drop_table("refresh_lock", schema="sclzonal")
    op.drop_table("ingest_lock", schema="sclzonal")
    _reserve(RESERVED_0007)
    apply_recorded_sql(op.get_bind(), "0007", {name: recorded[name] for name in FILES_0007})
    for function in ("polygon_projection_problem", "polygon_in_srid_or_null", "polygon_in_srid"):
        op.execute(f"DROP FUNCTION sclzonal.{function}(geometry, integer)")
    op.execute("DROP FUNCTION sclzonal.scene_footprint(geometry, double precision)")
    op.execute("DROP FUNCTION sclzonal.holds_pole(geometry, double precision)")
    op.execute("UPDATE sclzonal.pixel_map AS m SET polygon_version = p.xmin::text::bigint"
               " FROM sclzonal.polygon AS p"
               " WHERE p.id = m.polygon_id AND m.polygon_version = p.changed_seq")
