"""Planning Processing API requests: UTM zones, clusters, snapped boxes, request grids, keys."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pytest

from sclzonal.ingest.sentinelhub.plan import (
    Cell,
    CellKey,
    Lattice,
    request_tiles,
    scene_reference,
    touching_groups,
    utm_epsg,
)


@pytest.mark.parametrize(("lon", "lat", "epsg"), [
    (14.5, 46.05, 32633), (18.0, 46.0, 32634), (17.999, 46.0, 32633), (-180.0, 10.0, 32601),
    (180.0, 10.0, 32660), (-58.4, -34.6, 32721), (151.2, -33.9, 32756), (0.0, 0.0, 32631),
])
def test_utm_zone_of_a_point(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


def test_cells_are_on_the_sentinel2_pixel_grid_of_each_resolution() -> None:
    # Sentinel-2 tiles' corners are multiples of 60 m in UTM (e.g. T33TVM: 399960, 5100000):
    # every edge of a cell is a multiple of the resolution, so its pixels are the native ones
    for resolution in (10.0, 20.0, 60.0):
        lattice = Lattice(resolution=resolution, cell_pixels=500, margin_pixels=25)
        for level in (0, 1, 3):
            for col, row in ((0, 0), (39, 509), (-1, 7)):
                cell = Cell(CellKey(32633, level, col, row), lattice, (1,))
                assert all(value % resolution == 0 for value in cell.bounds)
                assert all((value - 399960) % resolution == 0 for value in cell.bounds[::2])
                width = (cell.bounds[2] - cell.bounds[0]) / resolution
                assert width == cell.width == cell.height == 550 * 2 ** level


def test_a_polygon_goes_to_the_cell_whose_core_holds_its_centre() -> None:
    lattice = Lattice(resolution=20.0, cell_pixels=500, margin_pixels=25)  # 10 km cores
    assert lattice.key_for(32633, (461000.0, 5099000.0, 461300.0, 5099200.0)) == \
        CellKey(32633, 0, 46, 509)
    # centre 1 m past the core's edge: the next cell, and the box still holds the polygon
    key = lattice.key_for(32633, (469600.0, 5099000.0, 470402.0, 5099100.0))
    assert key == CellKey(32633, 0, 47, 509)
    left, _, right, _ = Cell(key, lattice, (1,)).bounds
    assert left <= 469600.0 and 470402.0 <= right
    # 1000 m fits in two margins of 500 m; 1001 m needs level 1 (cores of 20 km)
    assert lattice.key_for(32633, (0.0, 0.0, 1000.0, 10.0)).level == 0
    assert lattice.key_for(32633, (0.0, 0.0, 1001.0, 10.0)) == CellKey(32633, 1, 0, 0)
    assert lattice.key_for(32633, (0.0, 0.0, 10.0, 4000.0)).level == 2


def test_any_polygon_lies_inside_its_cell() -> None:
    rng = np.random.default_rng(14)
    lattice = Lattice(resolution=10.0, cell_pixels=500, margin_pixels=25)
    for _ in range(2000):
        x, y = rng.uniform(166000, 834000), rng.uniform(0, 9_300_000)
        width, height = rng.exponential(800), rng.exponential(800)
        box = (x, y, x + width, y + height)
        left, bottom, right, top = Cell(lattice.key_for(32633, box), lattice, (1,)).bounds
        assert left <= box[0] and bottom <= box[1] and box[2] <= right and box[3] <= top


def test_touching_boxes_are_grouped() -> None:
    boxes = np.array([[14.0, 46.0, 14.2, 46.1], [14.2, 46.05, 14.3, 46.2],  # touch at an edge
                      [14.25, 46.15, 14.4, 46.3],                            # through the second
                      [15.0, 46.0, 15.1, 46.1]])                            # apart
    assert touching_groups(boxes) == [[0, 1, 2], [3]]


@dataclass(frozen=True)
class _Grid:
    bounds: tuple[float, float, float, float]
    width: int
    height: int
    resolution: float = 20.0


@pytest.mark.parametrize(("width", "height", "limit", "count"), [
    (100, 80, 2500, 1), (2500, 2500, 2500, 1), (2501, 10, 2500, 2), (6000, 5001, 2500, 9),
    (150, 100, 64, 6),
])
def test_request_tiles_cover_the_grid_exactly(width: int, height: int, limit: int, count: int) -> None:
    cluster = _Grid((500000.0, 5000000.0, 500000.0 + width * 20, 5000000.0 + height * 20),
                    width, height)
    tiles = request_tiles(cluster, limit)
    assert len(tiles) == count
    covered = np.zeros((height, width), dtype=np.int8)
    for tile in tiles:
        assert 0 < tile.width <= limit and 0 < tile.height <= limit
        covered[tile.row_off:tile.row_off + tile.height, tile.col_off:tile.col_off + tile.width] += 1
        left, bottom, right, top = tile.bounds
        assert (right - left, top - bottom) == (tile.width * 20, tile.height * 20)
        assert left == 500000 + tile.col_off * 20 and top == cluster.bounds[3] - tile.row_off * 20
    assert (covered == 1).all()


def test_scene_reference_is_deterministic() -> None:
    cell = Cell(CellKey(32633, 0, 50, 500), Lattice(20.0, 500, 25), (1, 2))
    reference = scene_reference("https://sh.dataspace.copernicus.eu/", dt.date(2024, 6, 5), cell)
    assert reference == ("https://sh.dataspace.copernicus.eu/api/v1/process sentinel-2-l2a SCL "
                         "2024-06-05 EPSG:32633 20m bbox=499500,4999500,510500,5010500")
    more = Cell(CellKey(32633, 0, 50, 500), Lattice(20.0, 500, 25), (1, 2, 3))
    assert scene_reference("https://sh.dataspace.copernicus.eu", dt.date(2024, 6, 5), more) == reference
