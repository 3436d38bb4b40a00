"""Property-based tests (hypothesis) of polygon loading: whatever rings and text a layer holds,
every stored geometry is a valid 2-D MultiPolygon in EPSG:4326 with the area of the (repaired)
input, attributes come back as written, and loading again changes nothing."""

from __future__ import annotations

import json
import tempfile
from itertools import count
from pathlib import Path
from typing import Any

import psycopg
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyproj import CRS, Transformer

from sclzonal.errors import UserError
from sclzonal.ingest.polygons import _cut_edges, load_polygons
from sclzonal.ingest.spatial_ref import max_edge

CRSS = ["EPSG:4326", "EPSG:32633", "EPSG:3035"]
RUNS = count()
# Text as people write it, NUL aside (GDAL cuts strings at NUL: a C library limit, not ours).
TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=30)


@st.composite
def rings(draw: st.DrawFn) -> list[tuple[float, float]] | None:
    """A ring of 3-8 corners in a 0.02 degree box near Ljubljana (often self-intersecting), or None."""
    if draw(st.integers(0, 9)) == 0:
        return None
    corners = draw(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), min_size=3, max_size=8))
    return [(14.5 + x / 1000, 46.0 + y / 1000) for x, y in corners]


def _write(path: Path, features: list[tuple[list[tuple[float, float]] | None, str]], crs: str) -> Path:
    to_crs = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    collection: dict[str, Any] = {"type": "FeatureCollection", "features": []}
    if crs != "EPSG:4326":
        urn = crs.replace("EPSG:", "urn:ogc:def:crs:EPSG::")
        collection["crs"] = {"type": "name", "properties": {"name": urn}}
    for ring, name in features:
        geometry = None if ring is None else {"type": "Polygon", "coordinates": [
            [list(to_crs.transform(x, y)) for x, y in [*ring, ring[0]]]]}
        collection["features"].append({"type": "Feature", "properties": {"name": name, "note": name[::-1]},
                                       "geometry": geometry})
    path.write_text(json.dumps(collection, ensure_ascii=False), encoding="utf-8")
    return path


def _round_trip(ring: list[tuple[float, float]], crs: str) -> list[tuple[float, float]]:
    """The corners as the loader sees them: written in `crs`, edges cut as the load cuts them
    (its own _cut_edges: what is compared here is the repair and its area, not the cutting),
    transformed back to EPSG:4326."""
    there = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    back = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    written = [there.transform(x, y) for x, y in ring]
    if crs != "EPSG:4326" and len(set(written)) > 1:
        cut = _cut_edges(shapely.Polygon(written), max_edge(CRS(crs)), back)
        written = [tuple(xy) for xy in shapely.get_coordinates(cut.exterior)[:-1]]
    return [back.transform(x, y) for x, y in written]


def _polygonal_area(ring: list[tuple[float, float]] | None) -> float:
    """Area of the polygonal part of the repaired ring (shapely's make_valid with the structure
    method, as sclzonal.polygon_made_valid)."""
    if ring is None:
        return 0.0
    try:
        polygon = shapely.Polygon([*ring, ring[0]])
    except ValueError:
        return 0.0
    repaired = shapely.make_valid(polygon, method="structure", keep_collapsed=False)
    parts = [g for g in getattr(repaired, "geoms", [repaired]) if g.geom_type in ("Polygon", "MultiPolygon")]
    return float(sum(g.area for g in parts))


def _ill_conditioned(ring: list[tuple[float, float]] | None) -> bool:
    """True when moving the corners by a nanodegree changes the repaired area: nearly collinear
    crossings, whose repair depends on the last digits that two CRS transformations round
    differently. Their area is not compared (validity still is)."""
    if ring is None:
        return False
    base = _polygonal_area(ring)
    for dx, dy in ((1e-9, 0.0), (0.0, 1e-9), (-1e-9, 1e-9)):
        moved = [(x + dx * (i % 2), y + dy * ((i + 1) % 2)) for i, (x, y) in enumerate(ring)]
        if abs(_polygonal_area(moved) - base) > 1e-5 * max(base, 1e-12):
            return True
    return False


@pytest.fixture
def clean(empty_conn: psycopg.Connection, database_url: str) -> str:
    return database_url


@pytest.mark.slow
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(features=st.lists(st.tuples(rings(), TEXT), min_size=1, max_size=6), crs=st.sampled_from(CRSS))
def test_any_layer_loads_valid_polygons_once(clean: str, features: list[tuple[Any, str]],
                                             crs: str) -> None:
    source = f"property-{next(RUNS)}"
    expected = {str(k): _polygonal_area(ring and _round_trip(ring, crs))
                for k, (ring, _) in enumerate(features)}
    with tempfile.TemporaryDirectory() as folder, psycopg.connect(clean, autocommit=True) as conn:
        path = _write(Path(folder) / "layer.geojson", features, crs)
        try:
            report = load_polygons(conn, path, source=source, name_field="name")
        except UserError as exc:
            assert "has no polygon to load" in str(exc) and max(expected.values()) < 1e-9, exc
            return
        rows = conn.execute(
            "SELECT source_fid, name, attributes, ST_IsValid(geom), GeometryType(geom), ST_SRID(geom),"
            " ST_NDims(geom), ST_Area(geom) FROM sclzonal.polygon WHERE source = %s", (source,)).fetchall()
        again = load_polygons(conn, path, source=source, name_field="name")
    assert report.inserted == len(rows) and report.features == len(features)
    assert again.inserted == again.updated == 0 and again.unchanged == len(rows)
    for fid, name, attributes, valid, kind, srid, dims, area in rows:
        assert (valid, kind, srid, dims) == (True, "MULTIPOLYGON", 4326, 2)
        assert name == features[int(fid)][1] and attributes == {"name": name, "note": name[::-1]}
        ring = features[int(fid)][0]
        if not _ill_conditioned(ring and _round_trip(ring, crs)):
            assert area == pytest.approx(expected[fid], rel=1e-5, abs=1e-12)
    # Rings of (nearly) collinear corners may keep a sliver of area after the CRS round trip.
    assert {fid for fid, *_ in rows} >= {fid for fid, area in expected.items() if area > 1e-12}
