"""Writers of bad (or odd) input files for tests/test_bad_input.py: vector layers and rasters."""

from __future__ import annotations

import json
import sqlite3
import struct
import warnings
from pathlib import Path
from typing import Any

import fiona
import numpy as np
import rasterio
from affine import Affine
from rasterio.errors import NotGeoreferencedWarning
from shapely import box
from shapely.geometry import mapping

from tests.helpers import write_polygons, write_raster

SQUARE = box(15, 46, 15.01, 46.01)
GOOD = (np.arange(40 * 30, dtype=np.uint16).reshape(30, 40) % 12).astype(np.uint8)


def geojson(path: Path, features: list[dict[str, Any]]) -> Path:
    """Write a GeoJSON FeatureCollection (EPSG:4326 by the format's definition)."""
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


def feature(geometry: dict[str, Any] | None, fid: int | None = None, **properties: Any) -> dict[str, Any]:
    """Return a GeoJSON feature, with an `id` member when `fid` is given."""
    found: dict[str, Any] = {"type": "Feature", "properties": properties, "geometry": geometry}
    if fid is not None:
        found["id"] = fid
    return found


def points(path: Path) -> Path:
    """A GeoPackage layer of points."""
    schema = {"geometry": "Point", "properties": {"id": "int"}}
    with fiona.open(path, "w", driver="GPKG", crs="EPSG:4326", schema=schema) as sink:
        sink.write({"geometry": {"type": "Point", "coordinates": (15, 46)}, "properties": {"id": 1}})
    return path


def mixed(path: Path) -> Path:
    """Polygons, then a line: the message must name the line's feature."""
    line = {"type": "LineString", "coordinates": [[15, 46], [15.1, 46.1]]}
    return geojson(path, [feature(mapping(SQUARE), k=1), feature(mapping(SQUARE), k=2),
                          feature(line, k=3)])


def collection(path: Path) -> Path:
    """A GeometryCollection holding a polygon."""
    return geojson(path, [feature({"type": "GeometryCollection", "geometries": [mapping(SQUARE)]})])


def latin1_declared_utf8(path: Path) -> Path:
    """A Shapefile whose DBF holds Latin-1 text while its .cpg says UTF-8."""
    schema = {"geometry": "Polygon", "properties": {"name": "str"}}
    with fiona.open(path, "w", driver="ESRI Shapefile", crs="EPSG:4326", schema=schema,
                    encoding="latin1") as sink:
        sink.write({"geometry": mapping(SQUARE), "properties": {"name": "Zürich café"}})
    path.with_suffix(".cpg").write_text("UTF-8")
    return path


def latin1_undeclared(path: Path) -> Path:
    """A Shapefile whose DBF holds Latin-1 text and declares no encoding (no .cpg, LDID 0)."""
    latin1_declared_utf8(path)
    path.with_suffix(".cpg").unlink()
    return path


def bad_utf8_geojson(path: Path) -> Path:
    """A GeoJSON file (UTF-8 by definition) with a Latin-1 byte in a string."""
    text = json.dumps({"type": "FeatureCollection", "features": [feature(mapping(SQUARE), name="X")]})
    path.write_bytes(text.replace('"X"', '"Z\\u00fcrich"').encode().replace(b"\\u00fc", b"\xfc"))
    return path


def duplicate_geojson_ids(path: Path) -> Path:
    """Two features with `"id": 5`: GDAL renumbers the second one silently."""
    return geojson(path, [feature(mapping(SQUARE), 5, code="a"), feature(mapping(SQUARE), 5, code="b")])


def null_id(path: Path) -> Path:
    """A feature whose --id-field value is null."""
    return geojson(path, [feature(mapping(SQUARE), code="a"), feature(mapping(SQUARE), code=None)])


def empty_layer(path: Path) -> Path:
    """A GeoPackage layer with no features."""
    return write_polygons(path, [], "EPSG:4326")


def only_null_and_empty(path: Path) -> Path:
    """Features whose geometries are null or empty: nothing to load."""
    return geojson(path, [feature(None), feature({"type": "Polygon", "coordinates": []})])


def beyond_the_poles(path: Path) -> Path:
    """A polygon reaching latitude 97: PostGIS could not transform it to any scene's CRS."""
    return geojson(path, [feature(mapping(SQUARE)),
                          feature({"type": "Polygon", "coordinates": [[[15, 46], [15, 97], [16, 47],
                                                                       [15, 46]]]})])


def utm_declared_4326(path: Path) -> Path:
    """UTM coordinates in a file that says EPSG:4326 (a wrong CRS)."""
    return write_polygons(path, [box(500000, 5100000, 500200, 5100100)], "EPSG:4326")


def measured(path: Path) -> Path:
    """A GeoPackage with a PolygonM and a PolygonZM (written as raw GeoPackage WKB)."""
    write_polygons(path, [SQUARE, SQUARE], "EPSG:4326", layer="m")
    header = b"GP" + bytes([0, 1]) + struct.pack("<i", 4326)  # no envelope, little endian

    def polygon(ring: list[tuple[float, ...]], wkb_type: int) -> bytes:
        body = struct.pack("<BIII", 1, wkb_type, 1, len(ring))
        return header + body + b"".join(struct.pack(f"<{len(p)}d", *p) for p in ring)

    corners = [(15, 46), (15.01, 46), (15.01, 46.01), (15, 46.01), (15, 46)]
    with sqlite3.connect(path) as db:
        for name in [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"
                                              " AND tbl_name = 'm' AND name LIKE 'rtree%'")]:
            db.execute(f'DROP TRIGGER "{name}"')
        db.execute("UPDATE m SET geom = ? WHERE ident = 1", (polygon([(*c, 7.0) for c in corners], 2003),))
        db.execute("UPDATE m SET geom = ? WHERE ident = 2",
                   (polygon([(*c, 300.0, 7.0) for c in corners], 3003),))
        db.execute("UPDATE gpkg_geometry_columns SET z = 1, m = 1 WHERE table_name = 'm'")
    return path


def degenerate_and_bowtie(path: Path) -> Path:
    """A good square, a bow-tie (self-intersecting: repaired) and a two-point ring (skipped)."""
    bowtie = {"type": "Polygon", "coordinates": [[[15, 46], [15.01, 46.01], [15.01, 46], [15, 46.01],
                                                  [15, 46]]]}
    spike = {"type": "Polygon", "coordinates": [[[15, 46], [15.02, 46.02]]]}
    return geojson(path, [feature(mapping(SQUARE), 1), feature(bowtie, 2), feature(spike, 3)])


def not_a_number(path: Path) -> Path:
    """An attribute holding NaN (JSON has none)."""
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        feature(mapping(SQUARE), share=float("nan"), name="x")]}))
    return path


def tiff_header_only(path: Path, width: int, height: int) -> Path:
    """A minimal uncompressed 8-bit TIFF of the given size, written byte by byte."""
    entries = [(256, 3, width), (257, 3, height), (258, 3, 8), (259, 3, 1), (262, 3, 1),
               (273, 4, 8 + 2 + 12 * 9 + 4), (277, 3, 1), (278, 3, max(height, 1)),
               (279, 4, width * height)]
    data = b"II*\x00" + struct.pack("<IH", 8, len(entries))
    for tag, kind, value in entries:
        data += struct.pack("<HHIHH" if kind == 3 else "<HHII", tag, kind, 1, value,
                            *([0] if kind == 3 else []))
    path.write_bytes(data + struct.pack("<I", 0) + bytes(width * height))
    return path


def jpeg(path: Path, bands: int, georeferenced: bool = False) -> Path:
    """A JPEG (lossy) image named like a GeoTIFF, optionally georeferenced by an .aux.xml."""
    options: dict[str, Any] = {"crs": "EPSG:32633", "transform": Affine(20, 0, 500000, 0, -20, 5100000)} \
        if georeferenced else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="JPEG", width=40, height=30, count=bands, dtype="uint8",
                           **options) as sink:
            sink.write(np.stack([GOOD] * bands))
    return path


def not_georeferenced(path: Path) -> Path:
    """A GeoTIFF with neither CRS nor geotransform."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=40, height=30, count=1,
                           dtype="uint8") as sink:
            sink.write(GOOD, 1)
    return path


def with_values(dtype: str, value: int) -> Any:
    """Return a writer of a GeoTIFF of `dtype` holding SCL classes and one `value`."""
    def write(path: Path) -> Path:
        array = GOOD.astype(dtype)
        array[10, 10] = value
        return write_raster(path, array)
    return write
