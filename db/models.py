"""SQLAlchemy 2 + GeoAlchemy2 models of the `sclzonal` schema (tables only; views live in sql/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry, Raster
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from sclzonal.db.scl_classes import CLASS_COLUMNS
from sclzonal.db.settings import SCHEMA

NAMING = {
    "ix": "%(table_name)s_%(column_0_N_name)s_idx",
    "uq": "%(table_name)s_%(column_0_N_name)s_key",
    "ck": "%(table_name)s_%(constraint_name)s_check",
    "fk": "%(table_name)s_%(column_0_name)s_fkey",
    "pk": "%(table_name)s_pkey",
}


class Base(DeclarativeBase):
    """Declarative base bound to the `sclzonal` schema."""

    metadata = MetaData(schema=SCHEMA, naming_convention=NAMING)


class SclClass(Base):
    """The 12 Sen2Cor SCL classes, their colours and whether a pixel of the class is clear."""

    __tablename__ = "scl_class"
    __table_args__ = (CheckConstraint("value BETWEEN 0 AND 11", name="value_range"),)

    value: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(Text)
    colour: Mapped[str] = mapped_column(Text)
    is_clear: Mapped[bool] = mapped_column(Boolean)


class Polygon(Base):
    """A user polygon (field, parcel), stored as a MultiPolygon in EPSG:4326."""

    __tablename__ = "polygon"
    __table_args__ = (UniqueConstraint("source", "source_fid"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    source: Mapped[str] = mapped_column(Text)
    source_fid: Mapped[str] = mapped_column(Text)
    name: Mapped[str | None] = mapped_column(Text)
    attributes: Mapped[dict[str, Any]] = mapped_column(
        JSONB, server_default=text("'{}'::jsonb")
    )
    geom: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # Taken from sclzonal.polygon_change_seq when the row is added and when its geometry
    # changes: `refresh` looks at a scene again only for polygons changed since it last counted.
    changed_seq: Mapped[int] = mapped_column(
        BigInteger, server_default=text("nextval('sclzonal.polygon_change_seq')"), index=True
    )


class SceneGrid(Base):
    """A raster grid (CRS, origin, pixel size, size) that one or more scenes share."""

    __tablename__ = "scene_grid"
    __table_args__ = (
        UniqueConstraint("srid", "upper_left_x", "upper_left_y", "pixel_size_x", "pixel_size_y",
                         "width", "height"),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    srid: Mapped[int] = mapped_column(Integer)
    upper_left_x: Mapped[float] = mapped_column(Float)
    upper_left_y: Mapped[float] = mapped_column(Float)
    pixel_size_x: Mapped[float] = mapped_column(Float)
    pixel_size_y: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)


class PixelMap(Base):
    """The pixels of a grid whose centres lie inside a polygon, as runs along rows.

    `spans` packs int32 triples (row, first column, one past the last column), little endian;
    `polygon_version` is the polygon's changed_seq (its geometry version) when the runs were
    computed, so a map of an older geometry is never used (the row's xmin before revision 0008).
    Like counted_pair, a cache written only by `refresh`, without foreign keys (see
    sql/count_invalidation.sql).
    """

    __tablename__ = "pixel_map"

    grid_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    polygon_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    polygon_version: Mapped[int] = mapped_column(BigInteger)
    spans: Mapped[bytes] = mapped_column(LargeBinary)
    # Pixel centres inside the polygon on the grid extended without bound (NULL in maps made
    # before revision 0007, which are then made again).
    expected_pixels: Mapped[int | None] = mapped_column(Integer)


class UncountablePolygon(Base):
    """A polygon that could not be counted on a grid, and why (PROJ could not transform it into
    the grid's CRS). Written by `refresh`; valid while the polygon's changed_seq equals
    `polygon_version`, so a new geometry is tried again. The verdict of such a polygon is
    `not_countable`."""

    __tablename__ = "uncountable_polygon"

    polygon_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    grid_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    polygon_version: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    found_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class Scene(Base):
    """One loaded SCL raster: an acquisition over one area, in the raster's own CRS."""

    __tablename__ = "scene"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    acquired_on: Mapped[dt.date] = mapped_column(Date, index=True)
    source: Mapped[str] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(Text)
    checksum: Mapped[str] = mapped_column(Text, unique=True)
    srid: Mapped[int] = mapped_column(Integer)
    crs: Mapped[str] = mapped_column(Text)
    grid_id: Mapped[int] = mapped_column(ForeignKey("scene_grid.id"), index=True)
    pixel_size_x: Mapped[float] = mapped_column(Float)
    pixel_size_y: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    tile_size: Mapped[int] = mapped_column(Integer)
    # Provenance of a Sen2Cor product's scene (NULL for other sources); see the view scene_origin.
    product_id: Mapped[str | None] = mapped_column(Text)
    tile_id: Mapped[str | None] = mapped_column(Text)
    processing_baseline: Mapped[str | None] = mapped_column(Text)
    # The highest polygon changed_seq for which all polygons over the scene have been counted.
    counted_seq: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    # MultiPolygon: two parts for a scene across the antimeridian (sql/scene_footprint.sql)
    footprint: Mapped[Any] = mapped_column(
        Geometry("MULTIPOLYGON", srid=4326, spatial_index=True), nullable=False
    )
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SceneTile(Base):
    """A tile of a scene's SCL band as an in-db PostGIS raster (8BUI, nodata 255).

    Partitioned by scene: each scene's tiles are in their own table scl_<date>_scene_<id>, with
    raster constraints, made by the load (sql/scene_tile_partitions.sql).
    """

    __tablename__ = "scene_tile"
    __table_args__ = {
        "postgresql_partition_by": "LIST (scene_id)",
        "comment": "The SCL tiles of every scene, CRSs mixed, as the counting reads them. In QGIS "
                   "open a scene's own table, scl_<date>_scene_<id> (listed in "
                   "sclzonal.scene_tile_partition).",
    }

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scene_id: Mapped[int] = mapped_column(
        ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True
    )
    rast: Mapped[Any] = mapped_column(Raster(spatial_index=True), nullable=False)



class CountedPair(Base):
    """Pixels of each SCL class inside one polygon on one scene (pixel-centre rule).

    A row exists for every counted (polygon, scene) pair, all zeros when no pixel centre lies
    inside. The rows equal what the view sclzonal.zonal_class_counts computes with ST_ValueCount;
    `sclzonal refresh` writes them for new pairs only. There are no foreign keys: each cost about
    40 ms per 10,000 rows written (measured); statement triggers delete the rows of deleted
    polygons and scenes instead (sql/count_invalidation.sql). Called zonal_count before
    revision 0005, a name a compatibility view keeps.
    """

    __table__ = Table(
        "counted_pair", Base.metadata,
        Column("polygon_id", BigInteger, primary_key=True),
        Column("scene_id", BigInteger, primary_key=True),
        # pixel centres inside the polygon on the scene's grid extended without bound; NULL for
        # pairs counted before revision 0007 until `refresh` fills it
        Column("expected_pixels", Integer),
        *(Column(name, Integer, nullable=False, server_default=text("0")) for name in CLASS_COLUMNS),
        Column("counted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # a scene's pairs (revision 0011): the refresh reads the pairs of its new scenes' dates,
        # and deleting or editing a scene reads its pairs, scene by scene instead of every
        # stored pair
        Index("counted_pair_scene_id_idx", "scene_id"),
    )


JOB_LOCKS = {
    job: Table(f"{job}_lock", Base.metadata,
               comment=f"Holds no rows: `sclzonal {job}` locks this table (SHARE ROW EXCLUSIVE) for "
                       "as long as it runs, so one runs at a time; only roles that may write can.")
    for job in ("refresh", "ingest")
}
"""Tables that serialise the jobs: a run holds a table lock on its job's table in a connection of
its own (db/connection.py job_lock). Locking a table in that mode needs UPDATE, DELETE or
TRUNCATE on it, which only the owner and the loader role have: a reader cannot stall a job, as
it could with an advisory lock, which needs no privilege."""


class VerdictRule(Base):
    """A verdict rule: `label` when `classes` make at least `min_share` of the clear pixels of an
    observation that covers at least `min_coverage` of the polygon and whose clear pixels are at
    least `min_clear_share` of its pixels. Every edit bumps `revision` and is kept in
    verdict_rule_revision (sql/verdict_rule_revisions.sql)."""

    __tablename__ = "verdict_rule"
    __table_args__ = (
        CheckConstraint("min_share BETWEEN 0 AND 1", name="min_share_range"),
        CheckConstraint("min_clear_share BETWEEN 0 AND 1", name="min_clear_share_range"),
        CheckConstraint("min_coverage BETWEEN 0 AND 1", name="min_coverage_range"),
        CheckConstraint("array_ndims(classes) = 1 AND cardinality(classes) > 0"
                        " AND array_position(classes, NULL) IS NULL"
                        " AND classes <@ ARRAY[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]::smallint[]",
                        name="classes_valid"),
        CheckConstraint(
            "label NOT IN ('other', 'not_clear', 'partially_observed', 'no_clear_observation',"
            " 'no_pixels', 'not_countable')",
            name="label_not_reserved",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, Identity(), primary_key=True)
    label: Mapped[str] = mapped_column(Text, unique=True)
    classes: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    min_share: Mapped[float] = mapped_column(Float)
    min_clear_share: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer, server_default=text("100"))
    enabled: Mapped[bool] = mapped_column(Boolean, server_default=text("true"))
    min_coverage: Mapped[float] = mapped_column(Float, server_default=text("0.9"))
    revision: Mapped[int] = mapped_column(Integer, server_default=text("1"))


class VerdictRuleRevision(Base):
    """Every revision of every verdict rule, the current one included, kept when a rule changes
    or is deleted, so a verdict made under an earlier revision can still be explained."""

    __tablename__ = "verdict_rule_revision"
    __table_args__ = {"comment": "Every revision of every verdict rule (the current one included), "
                                 "kept after edits and deletes."}

    rule_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    label: Mapped[str] = mapped_column(Text)
    classes: Mapped[list[int]] = mapped_column(ARRAY(SmallInteger))
    min_share: Mapped[float] = mapped_column(Float)
    min_clear_share: Mapped[float] = mapped_column(Float)
    min_coverage: Mapped[float] = mapped_column(Float)
    priority: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean)
    recorded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class DatabaseRole(Base):
    """A login role registered for one of sclzonal's purposes: owner, loader or reader.

    Written by `sclzonal db roles` and `sclzonal qgis role`; sql/roles.sql grants each
    registered role the privileges of its purpose, and migrations apply that file again.
    """

    __tablename__ = "database_role"
    __table_args__ = (
        CheckConstraint("purpose IN ('owner', 'loader', 'reader')", name="purpose"),
    )

    role_name: Mapped[str] = mapped_column(Text, primary_key=True)
    purpose: Mapped[str] = mapped_column(Text)
