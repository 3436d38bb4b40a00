"""Load polygons from GeoPackage, Shapefile or GeoJSON into sclzonal.polygon (EPSG:4326).

Rows are keyed by (source, feature id): loading the same source again updates changed rows and
leaves the others untouched. Invalid geometries are repaired in PostGIS (ST_MakeValid, polygon
parts kept); empty and null geometries are skipped; both are counted in the report.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fiona
import psycopg
import shapely
from fiona.errors import FionaError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.geometry import shape

from sclzonal.errors import UserError

POLYGON_TYPES = {"Polygon", "MultiPolygon", "3D Polygon", "3D MultiPolygon"}


@dataclass
class PolygonLoad:
    """What loading a polygon file did."""

    source: str
    features: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    repaired: int = 0
    skipped_empty: int = 0
    skipped_reasons: list[str] = field(default_factory=list)


def choose_layer(path: Path, layer: str | None) -> str:
    """Return the layer to read: the one named, or the file's only layer."""
    try:
        layers = fiona.listlayers(path)
    except (FionaError, OSError) as exc:
        raise UserError(f"{path}: not a readable vector file ({exc})") from None
    if layer is not None:
        if layer not in layers:
            raise UserError(f"{path}: no layer {layer!r} (layers: {', '.join(layers)})")
        return layer
    if len(layers) != 1:
        raise UserError(f"{path}: has {len(layers)} layers, choose one with --layer: {', '.join(layers)}")
    return layers[0]


def _json_value(value: Any) -> Any:
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def _read_features(
    path: Path, layer: str, id_field: str | None, name_field: str | None
) -> tuple[list[tuple[str, str | None, str, bytes | None]], int]:
    """Return (source_fid, name, attributes json, WKB in EPSG:4326 or None) rows and a count."""
    rows: list[tuple[str, str | None, str, bytes | None]] = []
    seen: set[str] = set()
    try:
        with fiona.open(path, layer=layer) as collection:
            if collection.crs is None or not collection.crs:
                raise UserError(f"{path}: layer {layer!r} has no CRS")
            try:
                source_crs = CRS.from_user_input(collection.crs.to_wkt())
            except CRSError as exc:
                raise UserError(f"{path}: unusable CRS ({exc})") from None
            to_wgs84 = Transformer.from_crs(source_crs, CRS.from_epsg(4326), always_xy=True)
            fields = collection.schema["properties"]
            for wanted, option in ((id_field, "--id-field"), (name_field, "--name-field")):
                if wanted is not None and wanted not in fields:
                    raise UserError(
                        f"{path}: layer {layer!r} has no field {wanted!r} ({option}); "
                        f"fields: {', '.join(fields)}"
                    )
            for feature in collection:
                properties = dict(feature.properties.items())
                fid = str(properties[id_field]) if id_field else str(feature.id)
                if fid in seen:
                    raise UserError(f"{path}: feature id {fid!r} occurs more than once")
                seen.add(fid)
                name = properties.get(name_field) if name_field else None
                attributes = json.dumps({k: _json_value(v) for k, v in properties.items()})
                rows.append((fid, None if name is None else str(name), attributes,
                             _geometry_wkb(feature.geometry, to_wgs84, path, fid)))
    except FionaError as exc:
        raise UserError(f"{path}: cannot read layer {layer!r} ({exc})") from None
    return rows, len(rows)


def _geometry_wkb(geometry: Any, to_wgs84: Transformer, path: Path, fid: str) -> bytes | None:
    if geometry is None:
        return None
    if geometry.type not in POLYGON_TYPES:
        raise UserError(f"{path}: feature {fid} is a {geometry.type}; polygons only")
    geom = shapely.force_2d(shape(geometry))
    if geom.is_empty:
        return None
    projected = shapely.transform(geom, lambda xy: _project(to_wgs84, xy))
    return shapely.to_wkb(projected, include_srid=False)


def _project(transformer: Transformer, xy: Any) -> Any:
    import numpy as np

    x, y = transformer.transform(xy[:, 0], xy[:, 1])
    return np.column_stack([x, y])


def load_polygons(
    conn: psycopg.Connection,
    path: Path,
    *,
    layer: str | None = None,
    source: str | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    on_progress: Callable[[int], object] | None = None,
) -> PolygonLoad:
    """Load or update the polygons of one layer in a single transaction."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    layer_name = choose_layer(path, layer)
    rows, count = _read_features(path, layer_name, id_field, name_field)
    report = PolygonLoad(source=source or (path.stem if layer is None else f"{path.stem}/{layer_name}"))
    report.features = count
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE polygon_staging (source_fid text, name text, attributes jsonb,"
            " wkb bytea) ON COMMIT DROP"
        )
        with conn.cursor() as cursor:
            with cursor.copy("COPY polygon_staging FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    if on_progress is not None:
                        on_progress(1)
        _upsert(conn, report)
    return report


def _upsert(conn: psycopg.Connection, report: PolygonLoad) -> None:
    conn.execute(
        """
        CREATE TEMP TABLE polygon_prepared ON COMMIT DROP AS
        SELECT source_fid, name, attributes, valid,
               CASE WHEN geom IS NULL THEN NULL
                    WHEN valid THEN ST_Multi(geom)
                    ELSE ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3)) END AS geom
        FROM (SELECT source_fid, name, attributes,
                     ST_GeomFromWKB(wkb, 4326) AS geom,
                     coalesce(ST_IsValid(ST_GeomFromWKB(wkb, 4326)), true) AS valid
              FROM polygon_staging) AS staged
        """
    )
    counts = conn.execute(
        """
        SELECT count(*) FILTER (WHERE NOT valid AND geom IS NOT NULL AND NOT ST_IsEmpty(geom)),
               count(*) FILTER (WHERE geom IS NULL OR ST_IsEmpty(geom))
        FROM polygon_prepared
        """
    ).fetchone()
    assert counts is not None
    report.repaired, report.skipped_empty = int(counts[0]), int(counts[1])
    changed = conn.execute(
        """
        INSERT INTO sclzonal.polygon AS p (source, source_fid, name, attributes, geom)
        SELECT %s, source_fid, name, attributes, geom
        FROM polygon_prepared
        WHERE geom IS NOT NULL AND NOT ST_IsEmpty(geom)
        ON CONFLICT (source, source_fid) DO UPDATE
            SET name = EXCLUDED.name,
                attributes = EXCLUDED.attributes,
                geom = EXCLUDED.geom,
                updated_at = now()
            WHERE (p.name, p.attributes, ST_AsBinary(p.geom))
                  IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.attributes, ST_AsBinary(EXCLUDED.geom))
        RETURNING (xmax = 0) AS inserted
        """,
        (report.source,),
    ).fetchall()
    report.inserted = sum(1 for (inserted,) in changed if inserted)
    report.updated = len(changed) - report.inserted
    report.unchanged = report.features - report.skipped_empty - len(changed)
