"""Property-based tests (hypothesis) of SCL raster validation: a file is accepted exactly when it is
a one-band integer GeoTIFF with a CRS, north up, dated and holding only classes 0-11; accepted
pixels come back unchanged; damaged files are refused with UserError and nothing else."""

from __future__ import annotations

import datetime as dt
import tempfile
import warnings
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from rasterio.errors import NotGeoreferencedWarning

from sclzonal.errors import UserError
from sclzonal.ingest.raster_wkb import tile_wkb
from sclzonal.ingest.scl_raster import check_pixels, inspect_scl_file, tile_rows

DTYPES = ["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32"]
TRANSFORMS = {"north-up": Affine(20, 0, 500000, 0, -20, 5100000),
              "south-up": Affine(20, 0, 500000, 0, 20, 5100000),
              "rotated": Affine(20, 3, 500000, 3, -20, 5100000)}
SETTINGS = settings(max_examples=80, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow])


@st.composite
def rasters(draw: st.DrawFn) -> dict[str, object]:
    """A small raster: bands, type, values mostly near the SCL range, CRS, grid, date."""
    dtype = draw(st.sampled_from(DTYPES))
    bands = draw(st.sampled_from([1, 1, 1, 2, 3]))
    shape = (bands, draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    info = np.iinfo(dtype) if dtype != "float32" else None
    low, high = (info.min, info.max) if info else (-1e6, 1e6)
    values = st.one_of(st.integers(0, 11), st.integers(0, 11), st.integers(0, 11),
                       st.integers(max(int(low), -300), min(int(high), 300)))
    array = draw(hnp.arrays(dtype, shape, elements=values.map(lambda v: np.dtype(dtype).type(v))))
    return {"array": array, "crs": draw(st.sampled_from(["EPSG:32633", "EPSG:4326", None])),
            "transform": draw(st.sampled_from(list(TRANSFORMS))),
            "date": draw(st.sampled_from(["2024-06-01", "2014-01-01", "2999-01-01", "06/01/2024"]))}


def _write(path: Path, raster: dict[str, object]) -> Path:
    array = raster["array"]
    assert isinstance(array, np.ndarray)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1],
                           count=array.shape[0], dtype=array.dtype, crs=raster["crs"],
                           transform=TRANSFORMS[str(raster["transform"])]) as sink:
            sink.write(array)
            sink.update_tags(ACQUISITION_DATE=str(raster["date"]))
    return path


def _valid(raster: dict[str, object]) -> bool:
    array = raster["array"]
    assert isinstance(array, np.ndarray)
    return (array.shape[0] == 1 and array.dtype.kind in "iu" and raster["crs"] is not None
            and raster["transform"] == "north-up" and raster["date"] == "2024-06-01"
            and int(array.min()) >= 0 and int(array.max()) <= 11)


def _stored_pixels(wkb: bytes, width: int, height: int) -> np.ndarray:
    return np.frombuffer(wkb, dtype=np.uint8, offset=len(wkb) - width * height).reshape(height, width)


@pytest.mark.slow
@SETTINGS
@given(raster=rasters(), tile_size=st.sampled_from([16, 32, 256]))
def test_accepted_exactly_when_valid_and_pixels_survive(raster: dict[str, object],
                                                        tile_size: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = _write(Path(folder) / "scene.tif", raster)
        try:
            with warnings.catch_warnings():  # no Python warning may reach the user's terminal
                warnings.simplefilter("error", NotGeoreferencedWarning)
                scl = inspect_scl_file(path)
                check_pixels(scl, tile_size)
        except UserError as exc:
            assert not _valid(raster), exc
            assert str(path) in str(exc) and "\n" not in str(exc)
            return
        assert _valid(raster)
        array = raster["array"]
        assert isinstance(array, np.ndarray)
        rebuilt = np.concatenate([block for _, block in tile_rows(scl, tile_size)])
        assert np.array_equal(rebuilt, array[0].astype(np.uint8))
        tile = rebuilt[:tile_size, :tile_size]
        wkb = tile_wkb(np.ascontiguousarray(tile), upper_left_x=scl.upper_left_x,
                       upper_left_y=scl.upper_left_y, scale_x=20, scale_y=-20, srid=scl.srid)
        assert np.array_equal(_stored_pixels(wkb, tile.shape[1], tile.shape[0]), tile)
        assert scl.acquired_on == dt.date(2024, 6, 1)


@pytest.fixture(scope="module")
def sample_tiff(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The bytes of a small valid SCL GeoTIFF (deflate, tiled: more structure to damage)."""
    path = tmp_path_factory.mktemp("fuzz") / "scl_20240601.tif"
    array = np.random.default_rng(3).integers(0, 12, (64, 48), dtype=np.uint8)
    with rasterio.open(path, "w", driver="GTiff", width=48, height=64, count=1, dtype="uint8",
                       crs="EPSG:32633", transform=TRANSFORMS["north-up"], tiled=True,
                       blockxsize=16, blockysize=16, compress="deflate") as sink:
        sink.write(array, 1)
    return path.read_bytes()


@SETTINGS
@given(cuts=st.lists(st.tuples(st.integers(0, 10_000), st.binary(min_size=1, max_size=8)),
                     min_size=1, max_size=6),
       keep=st.one_of(st.none(), st.integers(0, 10_000)))
def test_damaged_files_are_refused_in_one_line(sample_tiff: bytes, cuts: list[tuple[int, bytes]],
                                               keep: int | None) -> None:
    damaged = bytearray(sample_tiff)
    for offset, patch in cuts:
        position = offset % len(damaged)
        damaged[position:position + len(patch)] = patch
    if keep is not None:
        damaged = damaged[:keep % len(damaged)]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "scl_20240601.tif"
        path.write_bytes(bytes(damaged))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", NotGeoreferencedWarning)
                scl = inspect_scl_file(path)
                check_pixels(scl, 16)
        except UserError as exc:
            assert str(exc).strip() and "\n" not in str(exc)
