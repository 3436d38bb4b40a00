"""Tests for the synthetic demo data generator (no database needed)."""

from __future__ import annotations

import datetime
from pathlib import Path

import affine
import fiona
import numpy as np
import pytest
import rasterio
import shapely
from pyproj import Transformer

from sclzonal.demo.data import (
    DemoData,
    field_polygons,
    generate_demo,
    scl_scene_array,
    write_scl_geotiff,
)

UTM = "EPSG:32633"
BOUNDS = (460000.0, 5100000.0, 470000.0, 5110000.0)
CLOUDS = (8, 9, 10)


def _to_utm(polygons: list[shapely.Polygon]) -> np.ndarray:
    """Transform lon/lat polygons to the test UTM zone."""
    tr = Transformer.from_crs("EPSG:4326", UTM, always_xy=True)
    return shapely.transform(
        np.array(polygons, dtype=object),
        lambda xy: np.column_stack(tr.transform(xy[:, 0], xy[:, 1])),
    )


def test_scene_is_deterministic() -> None:
    """The same seed gives the same scene, another seed a different one."""
    a = scl_scene_array((200, 300), np.random.default_rng(7), 0.3)
    b = scl_scene_array((200, 300), np.random.default_rng(7), 0.3)
    c = scl_scene_array((200, 300), np.random.default_rng(8), 0.3)
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_scene_classes_and_dtype() -> None:
    """Scenes are uint8 and hold every SCL class 0..11 the docstring promises, and nothing else."""
    scene = scl_scene_array((400, 400), np.random.default_rng(1), 0.3)
    assert scene.dtype == np.uint8
    assert scene.shape == (400, 400)
    assert set(np.unique(scene).tolist()) == set(range(12))


def _flipped_to_bottom_right(scene: np.ndarray) -> np.ndarray:
    """The scene mirrored so that its one class-0 corner is the bottom-right one."""
    corners = {(r, c): scene[r, c] == 0 for r in (0, -1) for c in (0, -1)}
    assert sum(corners.values()) == 1, corners
    (r, c), = (corner for corner, zero in corners.items() if zero)
    return scene[:: 1 if r == -1 else -1, :: 1 if c == -1 else -1]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_no_data_is_one_slanted_strip_along_a_corner(seed: int) -> None:
    """Class 0 is only the swath edge: in each row a run against the same side, widening towards
    one corner, covering a few per cent of the scene (clouds and shadows stay off it)."""
    scene = _flipped_to_bottom_right(scl_scene_array((400, 400), np.random.default_rng(seed), 0.3))
    zero = scene == 0
    widths = zero.sum(axis=1)
    columns = np.arange(scene.shape[1])
    assert np.array_equal(zero, columns[None, :] >= scene.shape[1] - widths[:, None])
    assert np.all(np.diff(widths) >= 0) and widths[-1] > widths[0]
    assert 0.01 < zero.mean() < 0.25


def _shift_found(target: np.ndarray, source: np.ndarray) -> tuple[int, int]:
    """The (rows, columns) shift of `source` that overlaps `target` most (FFT cross-correlation)."""
    h, w = target.shape
    size = (2 * h, 2 * w)
    correlation = np.fft.irfft2(np.fft.rfft2(target, size) * np.conj(np.fft.rfft2(source, size)), size)
    row, col = (int(v) for v in np.unravel_index(int(np.argmax(correlation)), size))
    return (row if row < h else row - 2 * h), (col if col < w else col - 2 * w)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_shadows_are_the_thick_clouds_moved_one_way(seed: int) -> None:
    """Every shadow pixel (3) lies one and the same shift (25 to 60 pixels) away from an opaque cloud
    pixel (8, 9; or 0, where a cloud over the no-data edge was not drawn); about a quarter of all
    pixels are such sources, so a chance fit of all shadows is impossible."""
    scene = scl_scene_array((400, 400), np.random.default_rng(seed), 0.3)
    shadow, source = scene == 3, np.isin(scene, (0, 8, 9))
    assert shadow.sum() > 1000
    dy, dx = _shift_found(shadow.astype(float), source.astype(float))
    assert 25 <= np.hypot(dy, dx) <= 61
    rows, cols = np.nonzero(shadow)
    inside = (rows - dy >= 0) & (rows - dy < 400) & (cols - dx >= 0) & (cols - dx < 400)
    assert inside.all() and source[rows - dy, cols - dx].all()


def test_cirrus_lines_the_cloud_edges() -> None:
    """Where clouds meet clear land (4-neighbours), the cloud pixel is thin cirrus (10)."""
    scene = scl_scene_array((400, 400), np.random.default_rng(1), 0.3)
    land = np.pad(~np.isin(scene, (0, *CLOUDS)), 1, constant_values=False)
    beside_land = land[:-2, 1:-1] | land[2:, 1:-1] | land[1:-1, :-2] | land[1:-1, 2:]
    edge = np.isin(scene, CLOUDS) & beside_land
    assert edge.sum() > 1000
    assert (scene[edge] == 10).mean() > 0.95


@pytest.mark.parametrize("cover", [0.0, 0.05, 0.3, 0.6])
def test_cloud_fraction(cover: float) -> None:
    """Classes 8, 9 and 10 cover about the requested share of the valid pixels."""
    scene = scl_scene_array((300, 300), np.random.default_rng(3), cover)
    valid = scene != 0
    fraction = np.isin(scene[valid], CLOUDS).mean()
    assert fraction == pytest.approx(cover, abs=0.05)


def test_field_polygons_deterministic_and_sized() -> None:
    """Fields are reproducible, valid, 1..50 ha, inside the bounds, mostly disjoint."""
    first = field_polygons(BOUNDS, UTM, 200, np.random.default_rng(11))
    again = field_polygons(BOUNDS, UTM, 200, np.random.default_rng(11))
    assert len(first) == 200
    assert all(a.equals_exact(b, 0.0) for a, b in zip(first, again, strict=True))
    lon, lat = first[0].exterior.coords[0]
    assert 13.0 < lon < 16.0 and 45.0 < lat < 47.0  # EPSG:4326, lon/lat order
    utm = _to_utm(first)
    assert shapely.is_valid(utm).all()
    areas_ha = shapely.area(utm) / 1e4
    assert areas_ha.min() >= 1.0 - 1e-6 and areas_ha.max() <= 50.0 + 1e-6
    assert shapely.contains(shapely.box(*BOUNDS), utm).all()
    vertices = shapely.get_num_coordinates(utm) - 1
    assert set(vertices.tolist()) == {4, 5}
    tree = shapely.STRtree(utm)
    left, right = tree.query(utm, predicate="overlaps")
    assert len(set(left[left != right].tolist())) < 0.1 * len(utm)


def test_field_polygons_custom_area_range() -> None:
    """The area range is configurable."""
    polys = field_polygons(BOUNDS, UTM, 50, np.random.default_rng(2), min_ha=2.0, max_ha=5.0)
    areas_ha = shapely.area(_to_utm(polys)) / 1e4
    assert areas_ha.min() >= 2.0 - 1e-6 and areas_ha.max() <= 5.0 + 1e-6


def test_geotiff_round_trip(tmp_path: Path) -> None:
    """CRS, transform, tag, dtype, tiling and values survive a write and read."""
    array = scl_scene_array((300, 260), np.random.default_rng(5), 0.2)
    transform = affine.Affine(20.0, 0.0, 460000.0, 0.0, -20.0, 5110000.0)
    path = tmp_path / "scene.tif"
    write_scl_geotiff(path, array, UTM, transform, datetime.date(2024, 6, 5))
    with rasterio.open(path) as src:
        assert src.count == 1
        assert src.dtypes == ("uint8",)
        assert src.crs.to_epsg() == 32633
        assert src.transform == transform
        assert src.nodata is None
        assert src.tags()["ACQUISITION_DATE"] == "2024-06-05"
        assert src.block_shapes == [(256, 256)]
        assert src.compression is not None and src.compression.value.upper() == "DEFLATE"
        assert np.array_equal(src.read(1), array)
    untagged = tmp_path / "untagged.tif"
    write_scl_geotiff(untagged, array, UTM, transform, None)
    with rasterio.open(untagged) as src:
        assert "ACQUISITION_DATE" not in src.tags()


def _read_demo(demo: DemoData) -> tuple[list[np.ndarray], list[dict], list[shapely.Polygon]]:
    """Read back the scenes, field attributes and field geometries of a demo."""
    scenes = []
    for path in demo.scene_paths:
        with rasterio.open(path) as src:
            scenes.append(src.read(1))
    with fiona.open(demo.polygons_path, layer=demo.polygons_layer) as src:
        props = [dict(f.properties) for f in src]
        geoms = [shapely.geometry.shape(f.geometry) for f in src]
    return scenes, props, geoms


def test_generate_demo(tmp_path: Path) -> None:
    """The demo writes dated scenes and a fields GeoPackage, reproducibly."""
    demo = generate_demo(tmp_path / "a", seed=5, scenes=3, fields=60, size=200)
    assert demo.polygons_layer == "fields"
    assert demo.polygons_path == tmp_path / "a" / "fields.gpkg"
    names = [p.name for p in demo.scene_paths]
    assert names == ["SCL_2024-06-05.tif", "SCL_2024-06-20.tif", "SCL_2024-07-10.tif"]
    for path in demo.scene_paths:
        with rasterio.open(path) as src:
            assert src.crs.to_epsg() == 32633
            assert src.res == (20.0, 20.0)
            assert (src.width, src.height) == (200, 200)
            assert src.tags()["ACQUISITION_DATE"] == path.stem.removeprefix("SCL_")
    with fiona.open(demo.polygons_path, layer="fields") as src:
        assert len(src) == 60
        assert src.crs.to_epsg() == 4326
        assert src.schema["geometry"] == "Polygon"
        assert list(src.schema["properties"]) == ["field_id", "name", "crop", "area_ha"]
        assert src.schema["properties"]["field_id"].startswith("int")
        assert src.schema["properties"]["area_ha"].startswith("float")
    scenes, props, geoms = _read_demo(demo)
    assert [p["field_id"] for p in props] == list(range(1, 61))
    assert props[0]["name"] == "Field 0001"
    assert all(1.0 <= p["area_ha"] <= 50.0 for p in props)
    # Same land everywhere: pixels that are clear land on every date never change class.
    land = np.isin(np.stack(scenes), (2, 4, 5, 6, 7, 11)).all(axis=0)
    assert land.any() and all(np.array_equal(s[land], scenes[0][land]) for s in scenes)
    clouds = [np.isin(s[s != 0], CLOUDS).mean() for s in scenes]
    assert min(clouds) < 0.1 and max(clouds) == pytest.approx(0.6, abs=0.1)
    # Some fields cross the raster edge, at least one is entirely outside it.
    extent = shapely.box(460000.0, 5110000.0 - 4000.0, 460000.0 + 4000.0, 5110000.0)
    utm = _to_utm(geoms)
    assert (~shapely.intersects(extent, utm)).sum() >= 1
    assert (shapely.intersects(extent, utm) & ~shapely.contains(extent, utm)).sum() >= 1

    # Deterministic and overwriting: a second run with the same seed gives the same data.
    again = generate_demo(tmp_path / "a", seed=5, scenes=3, fields=60, size=200)
    scenes2, props2, geoms2 = _read_demo(again)
    assert all(np.array_equal(x, y) for x, y in zip(scenes, scenes2, strict=True))
    assert props == props2
    assert all(a.equals_exact(b, 0.0) for a, b in zip(geoms, geoms2, strict=True))
