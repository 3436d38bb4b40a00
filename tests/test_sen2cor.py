"""`sclzonal scl load` of Sen2Cor L2A products: a `.SAFE` folder or its `.zip`, SCL as JPEG 2000.

The products are built here: SAFE-shaped folders with a real JPEG 2000 20 m SCL image (written
by GDAL's JP2OpenJPEG driver, lossless), decoys beside it (a 60 m SCL, a 10 m band, metadata).
"""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from affine import Affine

from sclzonal.ingest.sen2cor import product_date
from tests.helpers import run_cli, table_counts

PRODUCT = "S2A_MSIL2A_20240605T100031_N0510_R122_T33TVM_20240605T130202.SAFE"
GRANULE = "L2A_T33TVM_A046655_20240605T100459"
SCL = np.random.default_rng(11).integers(0, 12, size=(300, 260)).astype(np.uint8)
TRANSFORM = Affine(20, 0, 499980, 0, -20, 5200020)


def _jp2(path: Path, array: np.ndarray, resolution: float = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=array.shape[1],
                       height=array.shape[0], count=1, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(resolution, 0, 499980, 0, -resolution, 5200020),
                       QUALITY="100", REVERSIBLE="YES") as dataset:
        dataset.write(array, 1)
    return path


def make_product(folder: Path, name: str = PRODUCT, array: np.ndarray = SCL,
                 with_scl: bool = True) -> Path:
    """A SAFE-shaped Sen2Cor product with its 20 m SCL as JPEG 2000."""
    product = folder / name
    tile, stamp = name.split("_")[5], name.split("_")[2]
    images = product / "GRANULE" / GRANULE / "IMG_DATA"
    if with_scl:
        _jp2(images / "R20m" / f"{tile}_{stamp}_SCL_20m.jp2", array)
    _jp2(images / "R60m" / f"{tile}_{stamp}_SCL_60m.jp2", array[::3, ::3].copy(), 60)
    _jp2(images / "R10m" / f"{tile}_{stamp}_B02_10m.jp2", np.zeros((20, 20), dtype=np.uint8), 10)
    (product / "MTD_MSIL2A.xml").write_text("<n1:Level-2A_User_Product/>")
    return product


def zip_product(product: Path, target: Path) -> Path:
    """Zip a product folder the way the Copernicus hubs deliver it (the .SAFE folder inside)."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(product.rglob("*")):
            archive.write(path, path.relative_to(product.parent).as_posix())
    return target


def _stored(conn: psycopg.Connection, scene_id: int) -> np.ndarray:
    """The scene's pixels reassembled from its tiles."""
    width, height, left, top = conn.execute(
        "SELECT s.width, s.height, min(ST_UpperLeftX(t.rast)), max(ST_UpperLeftY(t.rast))"
        " FROM sclzonal.scene s JOIN sclzonal.scene_tile t ON t.scene_id = s.id"
        " WHERE s.id = %s GROUP BY s.id", (scene_id,)).fetchone() or (0, 0, 0, 0)
    array = np.full((height, width), 255, dtype=np.uint8)
    for tile_left, tile_top, values in conn.execute(
            "SELECT ST_UpperLeftX(rast), ST_UpperLeftY(rast), ST_DumpValues(rast, 1)"
            " FROM sclzonal.scene_tile WHERE scene_id = %s", (scene_id,)):
        block = np.array(values, dtype=np.uint8)
        col, row = round((tile_left - left) / 20), round((top - tile_top) / 20)
        array[row:row + block.shape[0], col:col + block.shape[1]] = block
    return array


def test_the_test_product_is_real_jpeg_2000(tmp_path: Path) -> None:
    product = make_product(tmp_path)
    (image,) = product.glob("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2")
    assert image.read_bytes()[:12] == b"\x00\x00\x00\x0cjP  \r\n\x87\n"  # JP2 signature box
    with rasterio.open(image) as dataset:
        assert dataset.driver == "JP2OpenJPEG" and np.array_equal(dataset.read(1), SCL)


def test_a_safe_folder_loads_its_20m_scl(capsys: pytest.CaptureFixture[str], database_url: str,
                                         empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    product = make_product(tmp_path)
    code, out, err = run_cli(capsys, database_url, "scl", "load", str(product))
    assert code == 0, err
    assert "_SCL_20m.jp2: 2024-06-05: loaded as scene" in out
    rows = empty_conn.execute("SELECT id, acquired_on, source, srid, width, height, pixel_size_x,"
                              " reference FROM sclzonal.scene").fetchall()
    assert len(rows) == 1
    scene_id, day, source, srid, width, height, size, reference = rows[0]
    assert (day, source, srid, width, height, size) == (dt.date(2024, 6, 5), "sen2cor", 32633,
                                                        260, 300, 20.0)
    assert reference.endswith(f"{PRODUCT}/GRANULE/{GRANULE}/IMG_DATA/R20m/T33TVM_20240605T100031_SCL_20m.jp2")
    assert np.array_equal(_stored(empty_conn, scene_id), SCL)


def test_a_zip_loads_without_unpacking_and_is_keyed_by_its_content(
        capsys: pytest.CaptureFixture[str], database_url: str, empty_conn: psycopg.Connection,
        tmp_path: Path) -> None:
    other = SCL[::-1].copy()
    name = PRODUCT.replace("20240605T100031", "20240610T100559").replace("R122", "R022")
    archive = zip_product(make_product(tmp_path / "src", name, other), tmp_path / f"{name[:-5]}.zip")
    code, out, err = run_cli(capsys, database_url, "scl", "load", str(archive))
    assert code == 0, err
    (scene_id, day, reference), = empty_conn.execute(
        "SELECT id, acquired_on, reference FROM sclzonal.scene").fetchall()
    assert day == dt.date(2024, 6, 10)
    assert reference == f"{archive.resolve()}!/{name}/GRANULE/{GRANULE}/IMG_DATA/R20m/" \
                        "T33TVM_20240610T100559_SCL_20m.jp2"
    assert reference in out
    assert np.array_equal(_stored(empty_conn, scene_id), other)
    # the same product again, unpacked: same JP2 bytes, so nothing new
    before = table_counts(empty_conn)
    code, out, _ = run_cli(capsys, database_url, "scl", "load", str(tmp_path / "src" / name))
    assert code == 0 and "already loaded" in out
    assert table_counts(empty_conn) == before


def test_date_option_overrides_the_product_name(capsys: pytest.CaptureFixture[str],
                                                database_url: str, empty_conn: psycopg.Connection,
                                                tmp_path: Path) -> None:
    product = make_product(tmp_path)
    code, _, err = run_cli(capsys, database_url, "scl", "load", "--date", "2024-06-04", str(product))
    assert code == 0, err
    assert empty_conn.execute("SELECT acquired_on FROM sclzonal.scene").fetchone() == (dt.date(2024, 6, 4),)


def test_a_product_and_a_geotiff_together(capsys: pytest.CaptureFixture[str], database_url: str,
                                          empty_conn: psycopg.Connection, tmp_path: Path) -> None:
    from tests.helpers import write_raster

    tiff = write_raster(tmp_path / "scl_20240601.tif", SCL[:40, :50].copy())
    code, _, err = run_cli(capsys, database_url, "scl", "load", str(tiff), str(make_product(tmp_path)))
    assert code == 0, err
    assert sorted(empty_conn.execute("SELECT source, acquired_on FROM sclzonal.scene").fetchall()) == [
        ("geotiff", dt.date(2024, 6, 1)), ("sen2cor", dt.date(2024, 6, 5))]


def _broken_zip(path: Path) -> Path:
    path.write_bytes(b"PK\x03\x04 not really a zip")
    return path


def _no_scl_folder(folder: Path) -> Path:
    return make_product(folder, with_scl=False)


def _no_scl_zip(folder: Path) -> Path:
    return zip_product(make_product(folder / "src", with_scl=False), folder / "product.zip")


def _renamed_folder(folder: Path) -> Path:
    product = make_product(folder)
    return product.rename(folder / "my_download.SAFE")


REJECTED = [
    ("broken zip", lambda d: _broken_zip(d / "S2A_MSIL2A_20240605T100031_x.zip"), "not a readable zip file"),
    ("folder without SCL", _no_scl_folder, "no 20 m SCL image (GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2)"),
    ("zip without SCL", _no_scl_zip, "no 20 m SCL image"),
    ("no date in the name", _renamed_folder, "no acquisition date in the product name"),
    ("plain folder", lambda d: d, "is a folder but not a Sen2Cor product"),
]


@pytest.mark.parametrize(("case", "make", "message"), REJECTED, ids=[r[0] for r in REJECTED])
def test_unusable_products_are_one_line(capsys: pytest.CaptureFixture[str], database_url: str,
                                        empty_conn: psycopg.Connection, tmp_path: Path, case: str,
                                        make: object, message: str) -> None:
    assert callable(make)
    path = make(tmp_path)
    code, out, err = run_cli(capsys, database_url, "scl", "load", str(path))
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"sclzonal: error: {path}"), err
    assert message in lines[0]
    assert table_counts(empty_conn)["scene"] == 0


def test_product_dates() -> None:
    assert product_date(PRODUCT) == dt.date(2024, 6, 5)
    assert product_date("S2B_MSIL2A_20231231T235959_N0509_R001_T01CCV_20240101T000000.zip") == \
        dt.date(2023, 12, 31)
    assert product_date("S2A_MSIL1C_20240605T100031_N0510.SAFE") is None
    assert product_date("S2A_MSIL2A_20241305T100031_x.SAFE") is None
