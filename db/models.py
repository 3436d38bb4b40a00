"""SQLAlchemy 2 + GeoAlchemy2 models of the `sclzonal` schema (tables only; views live in sql/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from geoalchemy2 import Geometry, Raster
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Identity,
    Integer,
    MetaData,
    SmallInteger,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from db.settings import SCHEMA

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
    pixel_size_x: Mapped[float] = mapped_column(Float)
    pixel_size_y: Mapped[float] = mapped_column(Float)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    tile_size: Mapped[int] = mapped_column(Integer)
    footprint: Mapped[Any] = mapped_column(
        Geometry("POLYGON", srid=4326, spatial_index=True), nullable=False
    )
    loaded_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class SceneTile(Base):
    """A tile of a scene's SCL band as an in-db PostGIS raster (8BUI, nodata 255)."""

    __tablename__ = "scene_tile"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    scene_id: Mapped[int] = mapped_column(
        ForeignKey("scene.id", ondelete="CASCADE"), index=True
    )
    rast: Mapped[Any] = mapped_column(Raster(spatial_index=True), nullable=False)


class ClassCount(Base):
    """Stored pixel counts per (polygon, scene, class); provably equal to zonal_class_counts."""

    __tablename__ = "class_count"

    polygon_id: Mapped[int] = mapped_column(
        ForeignKey("polygon.id", ondelete="CASCADE"), primary_key=True
    )
    scene_id: Mapped[int] = mapped_column(
        ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    # "class" is a Python keyword: the attribute is scl_class, the column is "class".
    scl_class: Mapped[int] = mapped_column("class", SmallInteger, primary_key=True)
    pixels: Mapped[int] = mapped_column(BigInteger)


class CountedPair(Base):
    """A (polygon, scene) pair whose class counts are stored (possibly none: no pixel centre)."""

    __tablename__ = "counted_pair"

    polygon_id: Mapped[int] = mapped_column(
        ForeignKey("polygon.id", ondelete="CASCADE"), primary_key=True
    )
    scene_id: Mapped[int] = mapped_column(
        ForeignKey("scene.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    counted_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


class VerdictRule(Base):
    """A verdict rule: `label` when `classes` make at least `min_share` of the clear pixels."""

    __tablename__ = "verdict_rule"
    __table_args__ = (
        CheckConstraint("min_share BETWEEN 0 AND 1", name="min_share_range"),
        CheckConstraint("min_clear_share BETWEEN 0 AND 1", name="min_clear_share_range"),
        CheckConstraint(
            "label NOT IN ('other', 'not_clear', 'no_clear_observation', 'no_pixels')",
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
