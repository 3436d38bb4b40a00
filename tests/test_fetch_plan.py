"""Planning Processing API requests: UTM zones, clusters, snapped boxes, request grids, keys."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from sclzonal.ingest.sentinelhub.plan import (
    Cluster,
    cluster_boxes,
    request_tiles,
    scene_reference,
    snap_outward,
    utm_epsg,
)


@pytest.mark.parametrize(("lon", "lat", "epsg"), [
    (14.5, 46.05, 32633), (18.0, 46.0, 32634), (17.999, 46.0, 32633), (-180.0, 10.0, 32601),
    (180.0, 10.0, 32660), (-58.4, -34.6, 32721), (151.2, -33.9, 32756), (0.0, 0.0, 32631),
])
def test_utm_zone_of_a_point(lon: float, lat: float, epsg: int) -> None:
    assert utm_epsg(lon, lat) == epsg


def _box(lon: float, lat: float, size: float = 0.002) -> list[float]:
    return [lon, lat, lon + size, lat + size]


def test_near_boxes_join_far_boxes_stay_apart() -> None:
    boxes = np.array([
        _box(14.500, 46.0), _box(14.515, 46.0),  # 1 km apart: one cluster
        _box(14.530, 46.0),                      # 1 km further: the same, through the second
        _box(14.900, 46.0),                      # 28 km away: its own
        _box(14.500, 46.5),                      # 55 km north: its own
    ])
    assert cluster_boxes(boxes, 2000) == [[0, 1, 2], [3], [4]]
    assert cluster_boxes(boxes, 500) == [[0], [1], [2], [3], [4]]


def test_merged_clusters_that_then_touch_are_merged_again() -> None:
    # A (wide, bottom) and C (tall, right) overlap at a corner; B (top left) is over 1 km from
    # both, but inside the box of A and C together: fetching A + C would fetch B's land anyway
    boxes = np.array([[14.500, 46.000, 14.520, 46.010], [14.502, 46.025, 14.505, 46.028],
                      [14.519, 46.0095, 14.530, 46.030]])
    assert cluster_boxes(boxes, 500) == [[0, 1, 2]]
    assert cluster_boxes(boxes[[0, 2]], 500) == [[0, 1]]
    assert cluster_boxes(boxes[[0, 1]], 500) == [[0], [1]]


def test_a_group_across_a_zone_border_is_one_cluster() -> None:
    boxes = np.array([_box(17.995, 46.0), _box(18.001, 46.0)])
    assert cluster_boxes(boxes, 2000) == [[0, 1]]


def test_snapping_is_outward_and_on_the_grid() -> None:
    assert snap_outward((500001.0, 5099990.5, 500039.0, 5100000.0), 20) == (
        500000.0, 5099980.0, 500040.0, 5100000.0)
    assert snap_outward((10.0, 10.0, 10.0, 10.0), 20) == (0.0, 0.0, 20.0, 20.0)


def _cluster(width: int, height: int) -> Cluster:
    return Cluster(number=1, epsg=32633, bounds=(500000.0, 5000000.0, 500000.0 + width * 20,
                                                 5000000.0 + height * 20),
                   lonlat_bounds=(15.0, 45.1, 15.1, 45.2), resolution=20.0, polygon_ids=(1,))


@pytest.mark.parametrize(("width", "height", "limit", "count"), [
    (100, 80, 2500, 1), (2500, 2500, 2500, 1), (2501, 10, 2500, 2), (6000, 5001, 2500, 9),
    (150, 100, 64, 6),
])
def test_request_tiles_cover_the_grid_exactly(width: int, height: int, limit: int, count: int) -> None:
    cluster = _cluster(width, height)
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
    cluster = _cluster(100, 80)
    reference = scene_reference("https://sh.dataspace.copernicus.eu/", dt.date(2024, 6, 5), cluster)
    assert reference == ("https://sh.dataspace.copernicus.eu/api/v1/process sentinel-2-l2a SCL "
                         "2024-06-05 EPSG:32633 20m bbox=500000,5000000,502000,5001600")
    assert scene_reference("https://sh.dataspace.copernicus.eu", dt.date(2024, 6, 5),
                           _cluster(100, 80)) == reference
