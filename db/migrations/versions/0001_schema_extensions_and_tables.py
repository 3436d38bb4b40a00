"""Extensions postgis and postgis_raster, and the tables of the sclzonal schema.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from geoalchemy2 import Geometry, Raster
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis_raster")
    op.execute("CREATE SEQUENCE IF NOT EXISTS sclzonal.polygon_change_seq")
    op.create_table(
        "pixel_map",
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("polygon_id", sa.BigInteger(), nullable=False),
        sa.Column("polygon_version", sa.BigInteger(), nullable=False),
        sa.Column("spans", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("grid_id", "polygon_id", name=op.f("pixel_map_pkey")),
        schema="sclzonal",
    )
    op.create_index(
        op.f("pixel_map_polygon_id_idx"), "pixel_map", ["polygon_id"], unique=False, schema="sclzonal"
    )
    op.create_table(
        "polygon",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("source_fid", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column(
            "attributes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "geom",
            Geometry(
                geometry_type="MULTIPOLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column(
            "changed_seq",
            sa.BigInteger(),
            server_default=sa.text("nextval('sclzonal.polygon_change_seq')"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("polygon_pkey")),
        sa.UniqueConstraint("source", "source_fid", name=op.f("polygon_source_source_fid_key")),
        schema="sclzonal",
    )
    op.create_index(
        "idx_polygon_geom",
        "polygon",
        ["geom"],
        unique=False,
        schema="sclzonal",
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(
        op.f("polygon_changed_seq_idx"), "polygon", ["changed_seq"], unique=False, schema="sclzonal"
    )
    op.create_table(
        "scene_grid",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("srid", sa.Integer(), nullable=False),
        sa.Column("upper_left_x", sa.Float(), nullable=False),
        sa.Column("upper_left_y", sa.Float(), nullable=False),
        sa.Column("pixel_size_x", sa.Float(), nullable=False),
        sa.Column("pixel_size_y", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("scene_grid_pkey")),
        sa.UniqueConstraint(
            "srid",
            "upper_left_x",
            "upper_left_y",
            "pixel_size_x",
            "pixel_size_y",
            "width",
            "height",
            name=op.f("scene_grid_srid_upper_left_x_upper_left_y_pixel_size_x_pixel_size_y_width_height_key"),
        ),
        schema="sclzonal",
    )
    op.create_table(
        "scl_class",
        sa.Column("value", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("colour", sa.Text(), nullable=False),
        sa.Column("is_clear", sa.Boolean(), nullable=False),
        sa.CheckConstraint("value BETWEEN 0 AND 11", name=op.f("scl_class_value_range_check")),
        sa.PrimaryKeyConstraint("value", name=op.f("scl_class_pkey")),
        schema="sclzonal",
    )
    op.create_table(
        "verdict_rule",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("classes", postgresql.ARRAY(sa.SmallInteger()), nullable=False),
        sa.Column("min_share", sa.Float(), nullable=False),
        sa.Column("min_clear_share", sa.Float(), nullable=False),
        sa.Column("priority", sa.Integer(), server_default=sa.text("100"), nullable=False),
        sa.Column("enabled", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.CheckConstraint(
            "label NOT IN ('other', 'not_clear', 'no_clear_observation', 'no_pixels')",
            name=op.f("verdict_rule_label_not_reserved_check"),
        ),
        sa.CheckConstraint(
            "min_clear_share BETWEEN 0 AND 1", name=op.f("verdict_rule_min_clear_share_range_check")
        ),
        sa.CheckConstraint("min_share BETWEEN 0 AND 1", name=op.f("verdict_rule_min_share_range_check")),
        sa.PrimaryKeyConstraint("id", name=op.f("verdict_rule_pkey")),
        sa.UniqueConstraint("label", name=op.f("verdict_rule_label_key")),
        schema="sclzonal",
    )
    op.create_table(
        "zonal_count",
        sa.Column("polygon_id", sa.BigInteger(), nullable=False),
        sa.Column("scene_id", sa.BigInteger(), nullable=False),
        sa.Column("class_0", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_1", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_2", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_3", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_4", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_5", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_6", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_7", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_8", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_9", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_10", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("class_11", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.PrimaryKeyConstraint("polygon_id", "scene_id", name=op.f("zonal_count_pkey")),
        schema="sclzonal",
    )
    op.create_table(
        "scene",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("acquired_on", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("reference", sa.Text(), nullable=False),
        sa.Column("checksum", sa.Text(), nullable=False),
        sa.Column("srid", sa.Integer(), nullable=False),
        sa.Column("crs", sa.Text(), nullable=False),
        sa.Column("grid_id", sa.Integer(), nullable=False),
        sa.Column("pixel_size_x", sa.Float(), nullable=False),
        sa.Column("pixel_size_y", sa.Float(), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("tile_size", sa.Integer(), nullable=False),
        sa.Column("counted_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "footprint",
            Geometry(
                geometry_type="POLYGON",
                srid=4326,
                dimension=2,
                spatial_index=False,
                from_text="ST_GeomFromEWKT",
                name="geometry",
                nullable=False,
            ),
            nullable=False,
        ),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["grid_id"], ["sclzonal.scene_grid.id"], name=op.f("scene_grid_id_fkey")),
        sa.PrimaryKeyConstraint("id", name=op.f("scene_pkey")),
        sa.UniqueConstraint("checksum", name=op.f("scene_checksum_key")),
        schema="sclzonal",
    )
    op.create_index(
        "idx_scene_footprint",
        "scene",
        ["footprint"],
        unique=False,
        schema="sclzonal",
        postgresql_using="gist",
        postgresql_ops={},
    )
    op.create_index(op.f("scene_acquired_on_idx"), "scene", ["acquired_on"], unique=False, schema="sclzonal")
    op.create_index(op.f("scene_grid_id_idx"), "scene", ["grid_id"], unique=False, schema="sclzonal")
    op.create_table(
        "scene_tile",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("scene_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "rast",
            Raster(spatial_index=False, from_text="raster", name="raster", nullable=False),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["scene_id"], ["sclzonal.scene.id"], name=op.f("scene_tile_scene_id_fkey"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("scene_tile_pkey")),
        schema="sclzonal",
    )
    # lz4 instead of the default pglz: several times faster to write and read SCL tiles
    op.execute("ALTER TABLE sclzonal.scene_tile ALTER COLUMN rast SET COMPRESSION lz4")
    op.create_index(
        "idx_scene_tile_rast",
        "scene_tile",
        [sa.literal_column("ST_ConvexHull(rast)")],
        unique=False,
        schema="sclzonal",
        postgresql_using="gist",
    )
    op.create_index(
        op.f("scene_tile_scene_id_idx"), "scene_tile", ["scene_id"], unique=False, schema="sclzonal"
    )


def downgrade() -> None:
    op.drop_index(op.f("scene_tile_scene_id_idx"), table_name="scene_tile", schema="sclzonal")
    op.drop_index("idx_scene_tile_rast", table_name="scene_tile", schema="sclzonal")
    op.drop_table("scene_tile", schema="sclzonal")
    op.drop_index(op.f("scene_grid_id_idx"), table_name="scene", schema="sclzonal")
    op.drop_index(op.f("scene_acquired_on_idx"), table_name="scene", schema="sclzonal")
    op.drop_index("idx_scene_footprint", table_name="scene", schema="sclzonal")
    op.drop_table("scene", schema="sclzonal")
    op.drop_table("zonal_count", schema="sclzonal")
    op.drop_table("verdict_rule", schema="sclzonal")
    op.drop_table("scl_class", schema="sclzonal")
    op.drop_table("scene_grid", schema="sclzonal")
    op.drop_index(op.f("polygon_changed_seq_idx"), table_name="polygon", schema="sclzonal")
    op.drop_index("idx_polygon_geom", table_name="polygon", schema="sclzonal")
    op.drop_table("polygon", schema="sclzonal")
    op.drop_index(op.f("pixel_map_polygon_id_idx"), table_name="pixel_map", schema="sclzonal")
    op.drop_table("pixel_map", schema="sclzonal")
    op.execute("DROP SEQUENCE IF EXISTS sclzonal.polygon_change_seq")
