"""`sclzonal scl load` of Sen2Cor L2A products: a `.SAFE` folder or its `.zip`, SCL as JPEG 2000.

The products are built here: SAFE-shaped folders with a real JPEG 2000 20 m SCL image (written
by GDAL's JP2OpenJPEG driver, lossless), decoys beside it (a 60 m SCL, a 10 m band) and a small
MTD_MSIL2A.xml written here in the shape of the product format (PSD 14), not copied from ESA.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import psycopg
import pytest
import rasterio
from affine import Affine

from sclzonal.ingest.scl_raster import SclFile
from sclzonal.ingest.sen2cor import inspect_scl_input, product_date, provenance
from tests.helpers import run_cli, table_counts

PRODUCT = "S2A_MSIL2A_20240605T100031_N0510_R122_T33TVM_20240605T130202.SAFE"
GRANULE = "L2A_T33TVM_A046655_20240605T100459"
SCL = np.random.default_rng(11).integers(0, 12, size=(300, 260)).astype(np.uint8)
TRANSFORM = Affine(20, 0, 499980, 0, -20, 5200020)
NAMESPACE = "https://psd-14.sentinel2.eo.esa.int/PSD/User_Product_Level-2A.xsd"


def mtd_xml(product_uri: str = PRODUCT, baseline: str = "05.10") -> str:
    """A small MTD_MSIL2A.xml: the elements of a Sen2Cor 2.11 product's, with a few values each."""
    stamp, tile = product_uri.split("_")[2], product_uri.split("_")[5]
    start = dt.datetime.strptime(stamp, "%Y%m%dT%H%M%S").isoformat()
    return f"""<?xml version="1.0" encoding="UTF-8" standalone="no"?>
<n1:Level-2A_User_Product xmlns:n1="{NAMESPACE}"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
    xsi:schemaLocation="{NAMESPACE}">
  <n1:General_Info>
    <Product_Info>
      <PRODUCT_START_TIME>{start}.024Z</PRODUCT_START_TIME>
      <PRODUCT_STOP_TIME>{start}.024Z</PRODUCT_STOP_TIME>
      <PRODUCT_URI>{product_uri}</PRODUCT_URI>
      <PROCESSING_LEVEL>Level-2A</PROCESSING_LEVEL>
      <PRODUCT_TYPE>S2MSI2A</PRODUCT_TYPE>
      <PROCESSING_BASELINE>{baseline}</PROCESSING_BASELINE>
      <PRODUCT_DOI>https://doi.org/10.5270/S2_-znk9xsj</PRODUCT_DOI>
      <GENERATION_TIME>{start}.000000Z</GENERATION_TIME>
      <PREVIEW_IMAGE_URL>Not applicable</PREVIEW_IMAGE_URL>
      <PREVIEW_GEO_INFO>Not applicable</PREVIEW_GEO_INFO>
      <Datatake datatakeIdentifier="GS2A_{stamp}_046655_N{baseline}">
        <SPACECRAFT_NAME>Sentinel-2A</SPACECRAFT_NAME>
        <DATATAKE_TYPE>INS-NOBS</DATATAKE_TYPE>
        <DATATAKE_SENSING_START>{start}.024Z</DATATAKE_SENSING_START>
        <SENSING_ORBIT_NUMBER>122</SENSING_ORBIT_NUMBER>
        <SENSING_ORBIT_DIRECTION>DESCENDING</SENSING_ORBIT_DIRECTION>
      </Datatake>
      <Query_Options completeSingleTile="true">
        <PRODUCT_FORMAT>SAFE_COMPACT</PRODUCT_FORMAT>
      </Query_Options>
      <Product_Organisation>
        <Granule_List>
          <Granule granuleIdentifier="{GRANULE}" imageFormat="JPEG2000">
            <IMAGE_FILE>GRANULE/{GRANULE}/IMG_DATA/R20m/{tile}_{stamp}_SCL_20m</IMAGE_FILE>
          </Granule>
        </Granule_List>
      </Product_Organisation>
    </Product_Info>
    <Product_Image_Characteristics>
      <QUANTIFICATION_VALUES_LIST>
        <BOA_QUANTIFICATION_VALUE unit="none">10000</BOA_QUANTIFICATION_VALUE>
      </QUANTIFICATION_VALUES_LIST>
      <Scene_Classification_List>
        <Scene_Classification_ID>
          <SCENE_CLASSIFICATION_TEXT>SC_VEGETATION</SCENE_CLASSIFICATION_TEXT>
          <SCENE_CLASSIFICATION_INDEX>4</SCENE_CLASSIFICATION_INDEX>
        </Scene_Classification_ID>
      </Scene_Classification_List>
    </Product_Image_Characteristics>
  </n1:General_Info>
  <n1:Geometric_Info>
    <Product_Footprint>
      <Product_Footprint>
        <Global_Footprint>
          <EXT_POS_LIST>46.0 14.0 46.0 15.4 45.0 15.4 45.0 14.0 46.0 14.0</EXT_POS_LIST>
        </Global_Footprint>
      </Product_Footprint>
    </Product_Footprint>
    <Coordinate_Reference_System>
      <GEO_TABLES version="1">EPSG</GEO_TABLES>
      <HORIZONTAL_CS_TYPE>GEOGRAPHIC</HORIZONTAL_CS_TYPE>
    </Coordinate_Reference_System>
  </n1:Geometric_Info>
  <n1:Quality_Indicators_Info>
    <Cloud_Coverage_Assessment>12.5</Cloud_Coverage_Assessment>
  </n1:Quality_Indicators_Info>
</n1:Level-2A_User_Product>
"""


def _jp2(path: Path, array: np.ndarray, resolution: float = 20) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="JP2OpenJPEG", width=array.shape[1],
                       height=array.shape[0], count=1, dtype="uint8", crs="EPSG:32633",
                       transform=Affine(resolution, 0, 499980, 0, -resolution, 5200020),
                       QUALITY="100", REVERSIBLE="YES") as dataset:
        dataset.write(array, 1)
    return path


def make_product(folder: Path, name: str = PRODUCT, array: np.ndarray = SCL,
                 with_scl: bool = True, metadata: str | bytes | None = "") -> Path:
    """A SAFE-shaped Sen2Cor product with its 20 m SCL as JPEG 2000.

    `metadata` is the text of MTD_MSIL2A.xml; "" (default): mtd_xml(name); None: no such file.
    """
    product = folder / name
    tile, stamp = name.split("_")[5], name.split("_")[2]
    images = product / "GRANULE" / GRANULE / "IMG_DATA"
    if with_scl:
        _jp2(images / "R20m" / f"{tile}_{stamp}_SCL_20m.jp2", array)
    _jp2(images / "R60m" / f"{tile}_{stamp}_SCL_60m.jp2", array[::3, ::3].copy(), 60)
    _jp2(images / "R10m" / f"{tile}_{stamp}_B02_10m.jp2", np.zeros((20, 20), dtype=np.uint8), 10)
    if metadata == "":
        metadata = mtd_xml(name)
    if isinstance(metadata, str):
        metadata = metadata.encode()
    if metadata is not None:
        (product / "MTD_MSIL2A.xml").write_bytes(metadata)
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


# Provenance: product id, MGRS tile and processing baseline (MTD_MSIL2A.xml, else the names)

PRODUCT_ID = PRODUCT.removesuffix(".SAFE")
RENAMED = "my_download.SAFE"
"""A product folder renamed by its user: no date, tile or baseline in the name."""


def _provenance(files: list[SclFile]) -> list[tuple[str | None, str | None, str | None]]:
    return [(scl.product_id, scl.tile_id, scl.processing_baseline) for scl in files]


def _inspect(path: Path, date: dt.date | None = None) -> list[SclFile]:
    with ExitStack() as stack:
        return inspect_scl_input(path, date, stack)


def test_a_folder_gives_product_tile_and_baseline(tmp_path: Path) -> None:
    assert _provenance(_inspect(make_product(tmp_path))) == [(PRODUCT_ID, "33TVM", "05.10")]


def test_a_renamed_folder_gives_them_from_its_metadata(tmp_path: Path) -> None:
    product = make_product(tmp_path, metadata=mtd_xml(PRODUCT, "05.11")).rename(tmp_path / RENAMED)
    assert _provenance(_inspect(product, dt.date(2024, 6, 5))) == [(PRODUCT_ID, "33TVM", "05.11")]


def test_a_zip_gives_them_from_the_metadata_inside(tmp_path: Path) -> None:
    source = make_product(tmp_path / "src", metadata=mtd_xml(PRODUCT, "05.11"))
    archive = zip_product(source.rename(tmp_path / "src" / RENAMED), tmp_path / "download.zip")
    assert _provenance(_inspect(archive, dt.date(2024, 6, 5))) == [(PRODUCT_ID, "33TVM", "05.11")]
    with zipfile.ZipFile(archive) as opened:
        assert f"{RENAMED}/MTD_MSIL2A.xml" in opened.namelist()


def test_a_zip_of_the_named_product(tmp_path: Path) -> None:
    archive = zip_product(make_product(tmp_path / "src"), tmp_path / f"{PRODUCT_ID}.zip")
    (scl,) = _inspect(archive)
    assert (scl.product_id, scl.tile_id, scl.processing_baseline) == (PRODUCT_ID, "33TVM", "05.10")
    assert scl.reference == f"{archive.resolve()}!/{PRODUCT}/GRANULE/{GRANULE}/IMG_DATA/R20m/" \
                            "T33TVM_20240605T100031_SCL_20m.jp2"


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_without_metadata_the_names_give_them(tmp_path: Path, packed: bool) -> None:
    name = PRODUCT.replace("N0510", "N0500")
    product = make_product(tmp_path / "src", name, metadata=None)
    path = zip_product(product, tmp_path / "product.zip") if packed else product
    assert _provenance(_inspect(path)) == [(name.removesuffix(".SAFE"), "33TVM", "05.00")]


@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_without_metadata_a_renamed_product_has_its_tile_from_the_granule(tmp_path: Path,
                                                                          packed: bool) -> None:
    product = make_product(tmp_path / "src", metadata=None).rename(tmp_path / "src" / RENAMED)
    path = zip_product(product, tmp_path / "product.zip") if packed else product
    assert _provenance(_inspect(path, dt.date(2024, 6, 5))) == [("my_download", "33TVM", None)]


OTHER = "S2B_MSIL2A_20240605T100031_N0511_R122_T33TWM_20240605T130202.SAFE"
"""Values that show in the results if a document that should be ignored was read."""
_LAUGHS = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
MALFORMED = [
    ("unbound prefix", "<n1:Level-2A_User_Product/>"),
    ("truncated", mtd_xml(OTHER, "05.11")[:900]),
    ("too large", mtd_xml(OTHER, "05.11") + f"<!--{' ' * (4 << 20)}-->"),
    ("not xml", b"\x00\xff\xfe PK\x03\x04 binary"),
    ("empty", b""),
    ("unknown encoding", '<?xml version="1.0" encoding="x-nothing"?><a/>'),
    ("entity expansion", f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY l0 "lol">{_LAUGHS}]>'
                         "<a><General_Info><Product_Info><PRODUCT_URI>&l9;</PRODUCT_URI>"
                         "</Product_Info></General_Info></a>"),
    ("external entity", '<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/hostname">]>'
                        "<a><General_Info><Product_Info><PRODUCT_URI>&x;</PRODUCT_URI>"
                        "</Product_Info></General_Info></a>"),
    ("internal entity", f'<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x "{OTHER}">]>'
                        "<a><General_Info><Product_Info><PRODUCT_URI>&x;</PRODUCT_URI>"
                        "</Product_Info></General_Info></a>"),
    ("other document", '<?xml version="1.0"?><Level-1C_User_Product><General_Info/></Level-1C_User_Product>'),
    ("odd values", mtd_xml().replace(f"<PRODUCT_URI>{PRODUCT}", "<PRODUCT_URI>../etc/passwd x")
                            .replace(">05.10</PROCESSING", ">five</PROCESSING")),
]


@pytest.mark.parametrize(("case", "metadata"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_metadata_gives_the_names_values(tmp_path: Path, case: str,
                                                   metadata: str | bytes) -> None:
    product = make_product(tmp_path, metadata=metadata)
    assert _provenance(_inspect(product)) == [(PRODUCT_ID, "33TVM", "05.10")]


def test_malformed_metadata_in_a_zip_gives_the_names_values(tmp_path: Path) -> None:
    product = make_product(tmp_path / "src", metadata="<n1:Level-2A_User_Product>")
    archive = zip_product(product, tmp_path / "product.zip")
    assert _provenance(_inspect(archive)) == [(PRODUCT_ID, "33TVM", "05.10")]


def test_provenance_from_names() -> None:
    assert provenance("S2B_MSIL2A_20231231T235959_N0509_R001_T01CCV_20240101T000000.SAFE",
                      "L2A_T01CCV_A035000_20231231T235959", None) == {
        "product_id": "S2B_MSIL2A_20231231T235959_N0509_R001_T01CCV_20240101T000000",
        "tile_id": "01CCV", "processing_baseline": "05.09"}
    assert provenance("scene.safe", "L2A_T33TVM_A046655_20240605T100459", b"<a/>") == {
        "product_id": "scene", "tile_id": "33TVM", "processing_baseline": None}
    assert provenance("x", "granule", None) == {"product_id": "x", "tile_id": None,
                                                "processing_baseline": None}
