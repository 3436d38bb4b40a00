"""Which pixels of a raster grid have their centre inside each polygon, as runs along rows.

A scanline fill done for all polygons at once with numpy: every polygon edge is cut by the
horizontal lines through the pixel centres it spans, the crossings of each (polygon, row) are
sorted, and each pair of crossings bounds a run of pixels whose centres lie inside. Holes and
multipolygons need no special case (even-odd rule). The pixel map of a set of polygons on one grid
serves every scene on that grid.

This is how `sclzonal refresh` counts; the SQL view sclzonal.zonal_class_counts (ST_Clip +
ST_ValueCount) is the definition, and the tests check that both agree.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import shapely

IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid: origin (upper-left corner), pixel size, size and SRID."""

    srid: int
    upper_left_x: float
    upper_left_y: float
    pixel_size_x: float
    pixel_size_y: float  # negative for north-up rasters
    width: int
    height: int


@dataclass(frozen=True)
class PixelSpans:
    """Runs of pixels: polygon index, row, first column, one past the last column."""

    polygon: IntArray
    row: IntArray
    col_start: IntArray
    col_end: IntArray

    def of_polygons(self, keep: npt.NDArray[np.bool_]) -> PixelSpans:
        """Return the runs of the polygons whose index is True in `keep`."""
        mask = keep[self.polygon]
        return PixelSpans(self.polygon[mask], self.row[mask], self.col_start[mask],
                          self.col_end[mask])


def _edges(geometries: npt.NDArray[np.object_], grid: Grid) -> tuple[npt.NDArray[np.float64], IntArray]:
    """Return polygon edges in pixel coordinates (x0, y0, x1, y1 rows) and their polygon index."""
    parts, part_polygon = shapely.get_parts(geometries, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    coords, coord_ring = shapely.get_coordinates(rings, return_index=True)
    columns = (coords[:, 0] - grid.upper_left_x) / grid.pixel_size_x
    rows = (coords[:, 1] - grid.upper_left_y) / grid.pixel_size_y
    same_ring = coord_ring[:-1] == coord_ring[1:]
    edges = np.stack([columns[:-1], rows[:-1], columns[1:], rows[1:]])[:, same_ring]
    polygon = part_polygon[ring_part[coord_ring[:-1][same_ring]]]
    return edges, polygon.astype(np.int64)


def pixel_spans(geometries: npt.NDArray[np.object_], grid: Grid) -> PixelSpans:
    """Return the pixel runs of polygons given in the grid's CRS (pixel-centre rule).

    Ties follow GDAL's rasteriser, which ST_Clip uses: a centre on a polygon's left edge is
    outside, on its right edge inside; a row of centres takes an edge when lower <= centre <
    upper (in rows, counted downward); centres on a horizontal edge are inside.
    """
    return spans_and_expected(geometries, grid)[0]


def spans_and_expected(geometries: npt.NDArray[np.object_], grid: Grid) -> tuple[PixelSpans, IntArray]:
    """Return the pixel runs of polygons on the grid (pixel_spans) and their expected pixels.

    Expected pixels: per polygon, the pixel centres inside it on the grid extended without
    bound, what a scene on this grid would count if it reached as far as the polygon (a polygon
    half outside the raster still expects its whole size; 0 for one that holds no pixel centre).
    The runs on the unbounded grid are computed once: their lengths give the expected pixels,
    and cut to the grid they are the pixel runs.
    """
    unbounded = _runs(geometries, grid)
    expected = np.bincount(unbounded.polygon, weights=unbounded.col_end - unbounded.col_start,
                           minlength=len(geometries)).astype(np.int64)
    inside = (unbounded.row >= 0) & (unbounded.row < grid.height)
    col_start = np.clip(unbounded.col_start[inside], 0, grid.width)
    col_end = np.clip(unbounded.col_end[inside], 0, grid.width)
    keep = col_end > col_start
    spans = PixelSpans(unbounded.polygon[inside][keep], unbounded.row[inside][keep],
                       col_start[keep], col_end[keep])
    return spans, expected


def _runs(geometries: npt.NDArray[np.object_], grid: Grid) -> PixelSpans:
    """Return the runs of pixel centres inside each polygon on the grid extended without bound
    (rows and columns may be negative or beyond the grid)."""
    (x0, y0, x1, y1), polygon = _edges(geometries, grid)
    if len(polygon) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return PixelSpans(empty, empty, empty, empty)
    top = np.minimum(y0, y1)
    bottom = np.maximum(y0, y1)
    # rows r whose centre r + 0.5 lies in [top, bottom), as GDAL's scanline fill takes an edge
    first = np.ceil(top - 0.5).astype(np.int64)
    stop = np.ceil(bottom - 0.5).astype(np.int64)
    low_row = int(first.min())
    rows_per_polygon = int(stop.max()) - low_row + 1
    crossings = np.maximum(stop - first, 0)
    total = int(crossings.sum())
    edge = np.repeat(np.arange(len(first)), crossings)
    offsets = np.arange(total) - np.repeat(np.cumsum(crossings) - crossings, crossings)
    row = first[edge] + offsets
    centre_y = row + 0.5
    slope = (x1 - x0)[edge] / (y1 - y0)[edge]
    x = x0[edge] + (centre_y - y0[edge]) * slope
    key = polygon[edge] * rows_per_polygon + (row - low_row)
    order = np.lexsort((x, key))
    key, x = key[order], x[order]
    left, right = x[0::2], x[1::2]
    if not np.array_equal(key[0::2], key[1::2]):
        raise ValueError("odd number of edge crossings on a row: is a polygon not closed?")
    # centres c + 0.5 in (left, right]
    col_start = np.floor(left - 0.5).astype(np.int64) + 1
    col_end = np.floor(right - 0.5).astype(np.int64) + 1
    keep = col_end > col_start
    runs = (key[0::2][keep], col_start[keep], col_end[keep])
    flat = (y0 == y1) & (np.floor(y0 - 0.5) == y0 - 0.5)
    if flat.any():  # horizontal edges on a row of centres: their centres are inside (GDAL)
        row_h = (y0[flat] - 0.5).astype(np.int64)
        start_h = np.floor(np.minimum(x0, x1)[flat] + 0.5).astype(np.int64)
        end_h = np.floor(np.maximum(x0, x1)[flat] + 0.5).astype(np.int64)
        keep_h = end_h > start_h
        key_h = polygon[flat] * rows_per_polygon + (row_h - low_row)
        runs = _union(np.concatenate([runs[0], key_h[keep_h]]),
                      np.concatenate([runs[1], start_h[keep_h]]),
                      np.concatenate([runs[2], end_h[keep_h]]))
    pair_key, col_start, col_end = runs
    return PixelSpans(
        polygon=pair_key // rows_per_polygon,
        row=pair_key % rows_per_polygon + low_row,
        col_start=col_start,
        col_end=col_end,
    )


def _union(keys: IntArray, starts: IntArray, ends: IntArray) -> tuple[IntArray, IntArray, IntArray]:
    """Return the runs merged where they overlap or touch, per key, sorted by key and start."""
    if len(keys) == 0:  # e.g. a sliver whose only edges on a row of centres hold no centre
        return keys, starts, ends
    order = np.lexsort((starts, keys))
    keys, starts, ends = keys[order], starts[order], ends[order]
    new_key = np.r_[True, keys[1:] != keys[:-1]]
    # the furthest end reached so far within each key: a running maximum restarted at each key
    group = np.cumsum(new_key)
    shifted = ends - ends.min()
    reach = np.maximum.accumulate(group * (int(shifted.max()) + 1) + shifted)
    reach = reach - group * (int(shifted.max()) + 1) + ends.min()
    begins = new_key | np.r_[True, starts[1:] > reach[:-1]]
    index = np.flatnonzero(begins)
    return keys[index], starts[index], np.maximum.reduceat(ends, index)


CHUNK_PIXELS = 1 << 18
"""Pixels handled per step of count_classes: its buffers stay in the CPU cache and are reused."""

COUNT_WORKERS = 2
"""Threads of count_classes."""


def count_classes(spans: PixelSpans, polygons: int, pixels: npt.NDArray[np.uint8]) -> IntArray:
    """Return a (polygons, 12) array: pixels of each SCL class inside each polygon.

    Runs are taken in chunks of about CHUNK_PIXELS pixels. In a chunk, the pixel indices and
    polygon labels of all its runs are built with one cumulative sum each (a jump at the first
    pixel of every run), the pixel values gathered, and (label, value) pairs tallied with one
    bincount. Value 255 (nodata: no tile there) is not counted. Runs must be sorted by polygon.
    """
    counts = np.zeros((polygons, 12), dtype=np.int64)
    lengths = spans.col_end - spans.col_start
    if len(lengths) == 0:
        return counts
    flat = pixels.reshape(-1)
    starts = spans.row * pixels.shape[1] + spans.col_start
    ends = np.cumsum(lengths)
    run_bounds = np.searchsorted(ends, np.arange(CHUNK_PIXELS, int(ends[-1]), CHUNK_PIXELS),
                                 side="right")
    chunks = list(zip(np.r_[0, run_bounds], np.r_[run_bounds, len(lengths)], strict=True))
    longest = int(lengths.max())

    def count_every_other(worker: int) -> IntArray:
        # numpy lets go of the GIL in the heavy steps, so two workers use two cores
        own = np.zeros_like(counts)
        index_buffer = np.empty(CHUNK_PIXELS + longest, dtype=np.int64)
        label_buffer = np.empty_like(index_buffer)
        for first, stop in chunks[worker::COUNT_WORKERS]:
            if stop > first:
                _count_chunk(own, spans.polygon[first:stop], starts[first:stop],
                             lengths[first:stop], flat, index_buffer, label_buffer)
        return own

    if len(chunks) < 2 * COUNT_WORKERS:  # small: threads would cost more than they save
        for worker in range(COUNT_WORKERS):
            counts += count_every_other(worker)
        return counts
    with ThreadPoolExecutor(max_workers=COUNT_WORKERS) as pool:
        for own in pool.map(count_every_other, range(COUNT_WORKERS)):
            counts += own
    return counts


def _count_chunk(counts: IntArray, polygon: IntArray, starts: IntArray, lengths: IntArray,
                 flat: npt.NDArray[np.uint8], index_buffer: IntArray, label_buffer: IntArray) -> None:
    total = int(lengths.sum())
    run_first = np.cumsum(lengths) - lengths
    low = int(polygon[0])
    labels = (polygon - low) * 16
    index = index_buffer[:total]
    index.fill(1)
    index[0] = starts[0]
    index[run_first[1:]] = starts[1:] - (starts[:-1] + lengths[:-1] - 1)
    np.cumsum(index, out=index)
    label = label_buffer[:total]
    label.fill(0)
    label[0] = labels[0]
    label[run_first[1:]] = labels[1:] - labels[:-1]
    np.cumsum(label, out=label)
    label += np.minimum(flat[index], 15)  # 255 (no tile) lands in bin 15, never read
    tally = np.bincount(label, minlength=(int(polygon[-1]) - low + 1) * 16)
    counts[low : int(polygon[-1]) + 1] += tally.reshape(-1, 16)[:, :12]
