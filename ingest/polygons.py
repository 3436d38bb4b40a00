"""Load polygons from GeoPackage, Shapefile or GeoJSON into sclzonal.polygon (EPSG:4326).

Rows are keyed by (source, feature id): loading the same source again updates changed rows and
leaves the others untouched. Invalid geometries are repaired in PostGIS (ST_MakeValid, polygon
parts kept); empty and null geometries, and those without area once repaired, are skipped; both
are counted and named in the report. The layer is streamed feature by feature into a staging
table (memory does not grow with the layer) and checked there before anything reaches
sclzonal.polygon, all in one transaction: a bad feature leaves the database as it was.

Text attributes are decoded with the encoding the file declares (a Shapefile's .cpg or DBF code
page, GDAL's ISO-8859-1 for a DBF that declares none; GeoPackage and GeoJSON are UTF-8), or the
one given with `--encoding`. Text that is not valid in that encoding is refused, naming the
feature and field, never replaced or dropped: fiona would silently read it as NULL.
"""

from __future__ import annotations

import codecs
import datetime as dt
import json
import logging
import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import fiona
import numpy as np
import psycopg
import shapely
import shapely.affinity
from fiona.errors import FionaError
from pyproj import CRS, Transformer
from pyproj.exceptions import CRSError
from shapely.errors import GEOSException
from shapely.geometry import shape

from sclzonal.errors import UserError, first_line
from sclzonal.ingest.spatial_ref import MAX_EDGE_DEGREES, max_edge

POLYGON_TYPES = {"Polygon", "MultiPolygon", "3D Polygon", "3D MultiPolygon"}
REPORTED_IDS = 5
"""How many feature ids the report names per kind (repaired, skipped)."""

Row = tuple[str, str | None, str, bytes | None]


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
    repaired_ids: list[str] = field(default_factory=list)
    skipped_ids: list[str] = field(default_factory=list)


def choose_layer(path: Path, layer: str | None) -> str:
    """Return the layer to read: the one named, or the file's only layer."""
    try:
        layers = fiona.listlayers(path)
    except (FionaError, OSError) as exc:
        raise UserError(f"{path}: not a readable vector file ({first_line(exc)})") from None
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
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    if isinstance(value, (list, tuple)):
        return [_json_value(item) for item in value]
    return value


class _FionaWarnings(logging.Handler):
    """Collects what fiona logs while a layer is read: GDAL's warnings and decoding failures."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        """Keep the message of a record."""
        self.messages.append(record.getMessage())

    def take(self, marker: str) -> list[str]:
        """Return and forget the messages containing `marker`."""
        found = [message for message in self.messages if marker in message]
        self.messages = [message for message in self.messages if marker not in message]
        return found


@contextmanager
def _fiona_warnings() -> Iterator[_FionaWarnings]:
    logger = logging.getLogger("fiona")
    handler, level = _FionaWarnings(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def check_encoding(encoding: str | None) -> str | None:
    """Return a known codec name for `--encoding`, or raise UserError."""
    if encoding is None:
        return None
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UserError(f"--encoding {encoding!r} is not a known text encoding") from None


def _undecodable(path: Path, fid: str, properties: dict[str, Any], text_fields: list[str],
                 failures: list[str]) -> UserError:
    nulls = [name for name in text_fields if properties.get(name) is None]
    where = f"field {nulls[0]!r}" if len(nulls) == 1 else "a text field"
    detail = failures[0].removeprefix("Failed to decode ")
    return UserError(f"{path}: feature {fid}: {where} is not valid text in the file's encoding "
                     f"({detail}); give --encoding with the encoding it was written in, "
                     "for example --encoding latin1")


def _feature_id(path: Path, feature: Any, properties: dict[str, Any], id_field: str | None) -> str:
    if id_field is None:
        return str(feature.id)
    value = properties[id_field]
    if value is None or (isinstance(value, str) and not value.strip()):
        raise UserError(f"{path}: feature {feature.id} has no value in --id-field {id_field!r}")
    return str(value)


def _read_features(path: Path, layer: str, id_field: str | None, name_field: str | None,
                   encoding: str | None = None) -> Iterator[Row]:
    """Yield (source_fid, name, attributes json, WKB in EPSG:4326 or None) rows, one at a time.

    Ids given by --id-field are checked for repeats by the caller, in the staging table."""
    options = {"encoding": encoding} if encoding else {}
    try:
        with _fiona_warnings() as warnings, fiona.open(path, layer=layer, **options) as collection:
            to_wgs84 = _transformer(path, layer, collection.crs)
            fields = collection.schema["properties"]
            text_fields = [name for name, kind in fields.items() if kind.startswith("str")]
            for wanted, option in ((id_field, "--id-field"), (name_field, "--name-field")):
                if wanted is not None and wanted not in fields:
                    raise UserError(
                        f"{path}: layer {layer!r} has no field {wanted!r} ({option}); "
                        f"fields: {', '.join(fields)}"
                    )
            for feature in collection:
                properties = dict(feature.properties.items())
                fid = _feature_id(path, feature, properties, id_field)
                if failures := warnings.take("Failed to decode"):
                    raise _undecodable(path, fid, properties, text_fields, failures)
                if id_field is None and (renumbered := warnings.take("Several features with id")):
                    raise UserError(f"{path}: its feature ids are not unique ("
                                    f"{renumbered[0].split('.')[0].lower()}); give --id-field "
                                    "with a field of unique ids")
                name = properties.get(name_field) if name_field else None
                attributes = json.dumps({k: _json_value(v) for k, v in properties.items()},
                                        allow_nan=False)
                yield (fid, None if name is None else str(name), attributes,
                       _geometry_wkb(feature.geometry, to_wgs84, path, fid))
    except FionaError as exc:
        raise UserError(f"{path}: cannot read layer {layer!r} ({first_line(exc)})") from None


@dataclass(frozen=True)
class ToWgs84:
    """The transform of a layer's CRS to EPSG:4326, and the longest edge it keeps whole (in the
    layer's units; None when the layer is EPSG:4326 already)."""

    transformer: Transformer
    max_edge: float | None
    poles: tuple[tuple[float, float, float], ...] = ()
    """(latitude, x, y): each pole the layer's CRS can show, where it shows it."""


def _transformer(path: Path, layer: str, crs: Any) -> ToWgs84:
    """Return how to bring a layer to EPSG:4326: long edges are cut first, so an edge straight
    in the layer's CRS stays where it was instead of becoming a straight line between its
    transformed ends."""
    if crs is None or not crs:
        raise UserError(f"{path}: layer {layer!r} has no CRS")
    try:
        source_crs = CRS.from_user_input(crs.to_wkt())
    except CRSError as exc:
        raise UserError(f"{path}: unusable CRS ({first_line(exc)})") from None
    transformer = Transformer.from_crs(source_crs, CRS.from_epsg(4326), always_xy=True)
    if source_crs.equals(CRS.from_epsg(4326), ignore_axis_order=True):
        return ToWgs84(transformer, None)
    poles = []
    for pole in (90.0, -90.0):
        x, y = _project(transformer, np.array([[0.0, pole]]), inverse=True)[0]
        if np.isfinite(x) and np.isfinite(y):
            poles.append((pole, float(x), float(y)))
    return ToWgs84(transformer, max_edge(source_crs), tuple(poles))


def _geometry_wkb(geometry: Any, to_wgs84: ToWgs84, path: Path, fid: str) -> bytes | None:
    """Return the feature's geometry as 2-D WKB in EPSG:4326; None when it is null, empty, or
    cannot have an area (a ring of fewer than four points): such features are skipped."""
    if geometry is None:
        return None
    if geometry.type not in POLYGON_TYPES:
        raise UserError(f"{path}: feature {fid} is a {geometry.type}; polygons only")
    try:
        geom = shapely.force_2d(shape(geometry))
    except (ValueError, GEOSException):
        return None
    if geom.is_empty:
        return None
    if to_wgs84.max_edge is not None:
        geom = _cut_edges(geom, to_wgs84.max_edge, to_wgs84.transformer)
    projected = _in_wgs84(geom, to_wgs84)
    west, south, east, north = projected.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise UserError(f"{path}: feature {fid} lies outside the Earth once transformed to "
                        f"EPSG:4326 (longitudes {west:g} to {east:g}, latitudes {south:g} to "
                        f"{north:g}); is the layer's CRS right?")
    return shapely.to_wkb(projected, include_srid=False)


def _in_wgs84(geom: Any, to_wgs84: ToWgs84) -> Any:
    """Return the polygon in EPSG:4326: a part around a pole by _around_pole, the others vertex
    by vertex (cut at 180 degrees by _across_antimeridian)."""
    transformer = to_wgs84.transformer
    parts = []
    for part in shapely.get_parts(geom):
        west, south, east, north = part.bounds
        held = [pole for pole, x, y in to_wgs84.poles
                if west < x < east and south < y < north and shapely.contains_xy(part, x, y)]
        if len(held) == 1:
            parts.append(_around_pole(part, held[0], transformer))
        else:
            parts.append(_across_antimeridian(
                shapely.transform(part, lambda xy: _project(transformer, xy))))
    if len(parts) == 1:
        return parts[0]
    return shapely.MultiPolygon([piece for part in parts for piece in shapely.get_parts(part)
                                 if piece.geom_type == "Polygon" and not piece.is_empty])


def _around_pole(part: Any, pole: float, transformer: Transformer) -> Any:
    """Return a polygon that holds a pole (drawn in a polar CRS, say) in EPSG:4326.

    Its outline, transformed point by point, goes once around every longitude, and as a ring of
    longitudes and latitudes it would hold nothing. The longitudes are unwrapped (no jump of
    360), the ring is closed along the pole's latitude, and the pieces beyond -180 and 180 are
    moved back: the field then reaches the pole at every longitude, as it does on the Earth.
    Holes, which cannot hold the same pole, are transformed as usual and cut out.
    """
    lon, lat = _project(transformer, shapely.get_coordinates(part.exterior)).T
    lon = np.degrees(np.unwrap(np.radians(lon)))
    ring = np.vstack([np.column_stack([lon, lat]), [[lon[-1], pole], [lon[0], pole], [lon[0], lat[0]]]])
    outline = shapely.Polygon(ring)
    if not outline.is_valid:
        outline = shapely.make_valid(outline, method="structure", keep_collapsed=False)
    pieces = [shapely.affinity.translate(
        shapely.intersection(outline, shapely.box(turn - 180, -90, turn + 180, 90)), xoff=-turn)
        for turn in (-720, -360, 0, 360, 720)]
    around = shapely.union_all([piece for piece in pieces if not piece.is_empty])
    for hole in part.interiors:
        around = shapely.difference(around, _across_antimeridian(shapely.transform(
            shapely.Polygon(hole), lambda xy: _project(transformer, xy))))
    return around


def _across_antimeridian(geom: Any) -> Any:
    """Return a polygon that crosses 180 degrees of longitude as two parts, one on each side.

    Transformed to EPSG:4326, such a polygon (drawn in UTM zone 1 or 60, say) has corners near
    180 and near -180, and as one polygon it would span the rest of the world instead. When its
    longitudes taken in 0..360 span less than 180 degrees, while in -180..180 they span more,
    it is cut at 180 and the part beyond is moved back by 360.
    """
    west, _, east, _ = geom.bounds
    if geom.is_empty or east - west <= 180:
        return geom
    shifted = shapely.transform(geom, lambda xy: np.column_stack(
        [np.where(xy[:, 0] < 0, xy[:, 0] + 360, xy[:, 0]), xy[:, 1]]))
    if shifted.bounds[2] - shifted.bounds[0] >= 180:
        return geom  # wide, not across the antimeridian: left to the checks that follow
    if not shifted.is_valid:
        shifted = shapely.make_valid(shifted, method="structure", keep_collapsed=False)
    east_part = shapely.intersection(shifted, shapely.box(0, -90, 180, 90))
    west_part = shapely.affinity.translate(
        shapely.intersection(shifted, shapely.box(180, -90, 360, 90)), xoff=-360)
    parts = [part for piece in (east_part, west_part) for part in shapely.get_parts(piece)
             if part.geom_type == "Polygon" and not part.is_empty]
    return shapely.MultiPolygon(parts) if parts else geom


def _cut_edges(geom: Any, longest: float, transformer: Transformer) -> Any:
    """Return the polygon with every ring's edges cut into pieces short enough that, once in
    EPSG:4326, straight lines between the pieces' ends follow the edges as drawn.

    A piece is at most `longest` (the layer's units) and, where the CRS stretches longitudes
    (near a pole), spans at most 0.01 degree once transformed, but is never cut below a
    thousandth of `longest`. Ring by ring, so that nothing else changes: GEOS's segmentize of a
    whole polygon repairs an invalid one with buffer(0) (a bowtie loses a lobe), while the load
    repairs with sclzonal.polygon_made_valid, after the transform.
    """
    def cut(ring: Any) -> Any:
        xy = shapely.get_coordinates(ring)
        if len(xy) < 2:
            return ring
        start, end = xy[:-1], xy[1:]
        length = np.hypot(*(end - start).T)
        lon, lat = _project(transformer, xy).T
        turn = np.abs(np.diff(lon))
        spread = np.maximum(np.minimum(turn, 360 - turn), np.abs(np.diff(lat)))
        pieces = np.maximum(np.ceil(length / longest), np.ceil(spread / MAX_EDGE_DEGREES))
        pieces = np.clip(np.nan_to_num(pieces, nan=1.0), 1, np.maximum(1, length * 1000 / longest))
        pieces = pieces.astype(np.int64)
        step = np.repeat(np.arange(len(pieces)), pieces)
        fraction = (np.arange(int(pieces.sum())) - np.repeat(np.cumsum(pieces) - pieces, pieces)) \
            / np.repeat(pieces, pieces)
        points = start[step] + (end - start)[step] * fraction[:, None]
        return shapely.LinearRing(np.vstack([points, xy[-1:]]))

    polygons = [shapely.Polygon(cut(part.exterior), [cut(hole) for hole in part.interiors])
                for part in shapely.get_parts(geom)]
    return polygons[0] if geom.geom_type == "Polygon" else shapely.MultiPolygon(polygons)


def _project(transformer: Transformer, xy: Any, *, inverse: bool = False) -> Any:
    x, y = transformer.transform(xy[:, 0], xy[:, 1], errcheck=False,
                                 direction="INVERSE" if inverse else "FORWARD")
    return np.column_stack([x, y])


def load_polygons(
    conn: psycopg.Connection,
    path: Path,
    *,
    layer: str | None = None,
    source: str | None = None,
    id_field: str | None = None,
    name_field: str | None = None,
    encoding: str | None = None,
    on_progress: Callable[[int], object] | None = None,
) -> PolygonLoad:
    """Load or update the polygons of one layer in a single transaction.

    Raises UserError, writing nothing, when the layer holds no polygon to store.
    """
    if not path.exists():
        raise UserError(f"{path}: no such file")
    if not (path.is_file() or path.is_dir()):
        # A FIFO or a device would block the reader for ever, or read without end.
        raise UserError(f"{path}: not a regular file or folder")
    codec = check_encoding(encoding)
    layer_name = choose_layer(path, layer)
    report = PolygonLoad(source=source or (path.stem if layer is None else f"{path.stem}/{layer_name}"))
    if not report.source.strip():
        raise UserError("--source must not be empty")
    with conn.transaction():
        conn.execute(
            "CREATE TEMP TABLE polygon_staging (source_fid text, name text, attributes jsonb,"
            " wkb bytea) ON COMMIT DROP"
        )
        with conn.cursor() as cursor:
            with cursor.copy("COPY polygon_staging FROM STDIN") as copy:
                for row in _read_features(path, layer_name, id_field, name_field, codec):
                    copy.write_row(row)
                    report.features += 1
                    if on_progress is not None:
                        on_progress(1)
        repeated = conn.execute("SELECT source_fid FROM polygon_staging GROUP BY source_fid"
                                " HAVING count(*) > 1 ORDER BY source_fid LIMIT 1").fetchone()
        if repeated is not None:
            raise UserError(f"{path}: feature id {repeated[0]!r} occurs more than once")
        _upsert(conn, report)
        if report.skipped_empty == report.features:
            raise UserError(f"{path}: layer {layer_name!r} has no polygon to load "
                            f"({report.features} features, none with an area)")
    return report


def _upsert(conn: psycopg.Connection, report: PolygonLoad) -> None:
    conn.execute(
        """
        CREATE TEMP TABLE polygon_prepared ON COMMIT DROP AS
        SELECT source_fid, name, attributes, valid,
               sclzonal.polygon_made_valid(geom) AS geom  -- sql/polygon_validity.sql
        FROM (SELECT source_fid, name, attributes,
                     ST_GeomFromWKB(wkb, 4326) AS geom,
                     coalesce(ST_IsValid(ST_GeomFromWKB(wkb, 4326)), true) AS valid
              FROM polygon_staging) AS staged
        """
    )
    counts = conn.execute(
        """
        SELECT count(*) FILTER (WHERE NOT valid AND geom IS NOT NULL AND NOT ST_IsEmpty(geom)),
               count(*) FILTER (WHERE geom IS NULL OR ST_IsEmpty(geom)),
               (array_agg(source_fid ORDER BY source_fid)
                    FILTER (WHERE NOT valid AND geom IS NOT NULL AND NOT ST_IsEmpty(geom)))[1:%(n)s],
               (array_agg(source_fid ORDER BY source_fid)
                    FILTER (WHERE geom IS NULL OR ST_IsEmpty(geom)))[1:%(n)s]
        FROM polygon_prepared
        """, {"n": REPORTED_IDS}).fetchone()
    assert counts is not None
    report.repaired, report.skipped_empty = int(counts[0]), int(counts[1])
    report.repaired_ids, report.skipped_ids = list(counts[2] or []), list(counts[3] or [])
    changed = conn.execute(
        """
        WITH changed AS (
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
        RETURNING (xmax = 0) AS inserted)
        SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM changed
        """,
        (report.source,),
    ).fetchone()
    assert changed is not None
    report.inserted, report.updated = int(changed[0]), int(changed[1])
    report.unchanged = report.features - report.skipped_empty - report.inserted - report.updated
