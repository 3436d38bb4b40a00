"""The scanline rasterizer sclzonal.counting.pixel_spans against GDAL's own pixel-centre rasterize.

Hypothesis draws a north-up grid (origin, pixel sizes, which need not be square, and size) and a
few polygons on it, made of unions and differences of random simple polygons: with holes, in
several parts, reaching over the grid's edges or lying outside it. GDAL (rasterio.features.rasterize,
all_touched=False) burns each polygon separately; its pixels must be exactly the pixel runs of
that polygon, and count_classes over those runs must equal numpy's tally of the GDAL pixels.

Ties: a pixel centre lying exactly on an edge is decided by a tie rule (GDAL's and pixel_spans'
agree on vertical edges but may differ on horizontal ones, see pixel_spans' docstring). The test
is about the rule, not the ties, so it keeps centres off the edges: the corners are drawn on a
1/4-pixel lattice and the whole drawing is then shifted by (sqrt(2)/10, sqrt(3)/10) pixels. Every
edge, also one created by a union or difference, is then a line with rational coefficients shifted
by that offset, which passes through no pixel centre (c + 1/2, r + 1/2): that would make
a*sqrt(2) + b*sqrt(3) rational with a, b not both zero. Floating point could still land a
computed crossing within rounding of a centre, so examples with a centre closer than 1e-6 pixel to
an edge are rejected (assume); hypothesis reports if that happened often.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import pytest
import rasterio.features
import shapely
import shapely.affinity
from affine import Affine
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from sclzonal.counting.pixel_spans import Grid, PixelSpans, count_classes, pixel_spans

OFFSET = (math.sqrt(2) / 10, math.sqrt(3) / 10)  # pixels; irrational, see the module docstring
LATTICE = 4  # corners on a 1/4-pixel lattice before the shift
EXAMPLES = 200


@st.composite
def grids(draw: st.DrawFn) -> Grid:
    """A north-up grid of 1..40 x 1..40 pixels, anywhere, with pixels 0.001 to 100 units wide."""
    size = st.floats(0.001, 100.0, allow_nan=False, allow_infinity=False)
    return Grid(srid=32633, upper_left_x=draw(st.floats(-1e6, 1e6)), upper_left_y=draw(st.floats(-1e7, 1e7)),
                pixel_size_x=draw(size), pixel_size_y=-draw(size),
                width=draw(st.integers(1, 40)), height=draw(st.integers(1, 40)))


@st.composite
def simple_polygons(draw: st.DrawFn, width: int, height: int) -> shapely.Geometry:
    """A polygon of 3..9 corners (pixel units): the corners sorted by angle around their mean, or
    their convex hull with a hole (the hull scaled down about the mean of its corners)."""
    span = draw(st.integers(2, 4 * max(width, height)))  # in lattice steps: up to the grid's size
    x0 = draw(st.integers(-4 * LATTICE, (width + 4) * LATTICE))
    y0 = draw(st.integers(-4 * LATTICE, (height + 4) * LATTICE))
    corners = draw(st.lists(st.tuples(st.integers(0, span), st.integers(0, span)), min_size=3, max_size=9,
                            unique=True))
    xy = (np.array(corners, dtype=float) + (x0, y0)) / LATTICE
    centre = xy.mean(axis=0)
    order = np.argsort(np.arctan2(xy[:, 1] - centre[1], xy[:, 0] - centre[0]), kind="stable")
    if draw(st.booleans()):  # a ring: the convex hull minus a smaller copy of itself
        hull = shapely.convex_hull(shapely.MultiPoint(xy))
        if hull.geom_type == "Polygon":
            inner = shapely.affinity.scale(hull, *(2 * [draw(st.sampled_from([0.25, 0.5, 0.75]))]),
                                           origin=tuple(np.mean(hull.exterior.coords[:-1], axis=0)))
            return shapely.difference(hull, inner)
    repaired = shapely.get_parts(shapely.make_valid(shapely.Polygon(xy[order])))
    return shapely.union_all([g for g in repaired if g.geom_type in ("Polygon", "MultiPolygon")])


@st.composite
def polygon_sets(draw: st.DrawFn, grid: Grid) -> list[shapely.Geometry]:
    """1..4 polygonal geometries (pixel units, before the shift): unions of 1..3 simple polygons
    minus 0..3 others, so with holes, bites and several parts."""
    drawn = []
    for _ in range(draw(st.integers(1, 4))):
        pieces = draw(st.lists(simple_polygons(grid.width, grid.height), min_size=1, max_size=3))
        cuts = draw(st.lists(simple_polygons(grid.width, grid.height), max_size=3))
        shape = shapely.difference(shapely.union_all(pieces), shapely.union_all(cuts))
        polygonal = [g for g in shapely.get_parts(shapely.get_parts(shape))
                     if g.geom_type == "Polygon" and g.area > 0]
        assume(polygonal)
        drawn.append(shapely.MultiPolygon(polygonal) if len(polygonal) > 1 else polygonal[0])
    return drawn


def _to_world(geometry: shapely.Geometry, grid: Grid) -> shapely.Geometry:
    """Shift by OFFSET (pixels) and place on the grid: pixel (col, row) to map coordinates."""
    return shapely.transform(geometry, lambda xy: np.column_stack([
        grid.upper_left_x + (xy[:, 0] + OFFSET[0]) * grid.pixel_size_x,
        grid.upper_left_y + (xy[:, 1] + OFFSET[1]) * grid.pixel_size_y]))


def _centre_distance(geometry: shapely.Geometry, grid: Grid) -> float:
    """Smallest distance (pixels) from a pixel centre of the grid to the geometry's boundary."""
    shifted = shapely.transform(geometry, lambda xy: xy + OFFSET)
    rows, cols = np.mgrid[0:grid.height, 0:grid.width]
    return float(shapely.distance(shifted.boundary, shapely.points(cols + 0.5, rows + 0.5)).min())


def _mask(spans: PixelSpans, index: int, grid: Grid) -> npt.NDArray[np.bool_]:
    """The pixels of polygon `index` as a boolean array; fails when a pixel is in two runs."""
    covered = np.zeros((grid.height, grid.width), dtype=np.int64)
    mine = spans.polygon == index
    for row, start, end in zip(spans.row[mine], spans.col_start[mine], spans.col_end[mine], strict=True):
        assert 0 <= row < grid.height and 0 <= start < end <= grid.width, (row, start, end)
        covered[row, start:end] += 1
    assert covered.max(initial=0) <= 1, "a pixel lies in two runs of one polygon"
    return covered == 1


@pytest.mark.slow
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pixel_spans_equal_gdal_pixel_centre_rasterize(data: st.DataObject) -> None:
    grid = data.draw(grids(), label="grid")
    drawn = data.draw(polygon_sets(grid), label="polygons")
    assume(min(_centre_distance(g, grid) for g in drawn) > 1e-6)
    event(f"holes: {any(shapely.get_num_interior_rings(shapely.get_parts(g)).sum() for g in drawn)}")
    event(f"multi-part: {any(g.geom_type == 'MultiPolygon' for g in drawn)}")
    world = np.array([_to_world(g, grid) for g in drawn], dtype=object)
    transform = Affine(grid.pixel_size_x, 0.0, grid.upper_left_x, 0.0, grid.pixel_size_y, grid.upper_left_y)

    spans = pixel_spans(world, grid)

    assert np.all(np.diff(spans.polygon) >= 0), "runs not sorted by polygon (count_classes needs it)"
    seed = data.draw(st.integers(0, 2**32 - 1), label="seed")
    values = np.random.default_rng(seed).choice(
        np.array([*range(12), 255], dtype=np.uint8), size=(grid.height, grid.width))
    counted = count_classes(spans, len(world), values)
    for index, geometry in enumerate(world):
        gdal = rasterio.features.rasterize([(geometry, 1)], out_shape=(grid.height, grid.width),
                                           transform=transform, fill=0, all_touched=False,
                                           dtype="uint8").astype(bool)
        ours = _mask(spans, index, grid)
        assert np.array_equal(ours, gdal), (index, np.argwhere(ours != gdal)[:5].tolist())
        expected = np.bincount(values[gdal][values[gdal] != 255], minlength=12)
        assert counted[index].tolist() == expected.tolist()

