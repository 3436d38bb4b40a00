"""Sen2Cor L2A products (a `.SAFE` folder or its `.zip`) as inputs of `sclzonal scl load`.

The 20 m SCL image of a product is `GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2` (JPEG 2000); its
acquisition date is the first date of the product name (`S2A_MSIL2A_20240605T100031_...`),
unless `--date` is given. A `.zip` is read without unpacking the rest of it: only the SCL image
is copied out, to `<work folder>/<zip name>/<path inside the zip>`, so messages still name the
product. The image then goes through the same checks and loading as a GeoTIFF; its checksum is
the JP2's SHA-256, so a product loaded from its folder and again from its zip is loaded once.

Each SCL image also gets the product's provenance: its product id (PRODUCT_URI of
`MTD_MSIL2A.xml`, without `.SAFE`), MGRS tile and processing baseline. What the XML lacks comes
from the names (`..._N0510_..._T33TVM_...`, `GRANULE/L2A_T33TVM_...`); an XML that is missing,
too large or does not parse, or that declares a document type, is ignored, never an error.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import xml.etree.ElementTree as ET
import zipfile
import zlib
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import IO, TypedDict

from sclzonal.errors import UserError
from sclzonal.ingest.scl_raster import SclFile, inspect_scl_file

SCL_PATTERN = re.compile(r"(^|/)GRANULE/[^/]+/IMG_DATA/R20m/[^/]+_SCL_20m\.jp2$")
PRODUCT_DATE = re.compile(r"MSIL2A[A-Za-z]?_(\d{4})(\d{2})(\d{2})T\d{6}")
SOURCE = "sen2cor"
METADATA = "MTD_MSIL2A.xml"
MAX_METADATA_BYTES = 4 << 20
"""Larger metadata is ignored (a real MTD_MSIL2A.xml is under 100 kB)."""
SAFE_SUFFIX = re.compile(r"\.SAFE$", re.IGNORECASE)
TILE_IN_NAME = re.compile(r"(?:^|_)T(\d{2}[A-Z]{3})(?=_|\.|$)")
BASELINE_IN_NAME = re.compile(r"_N(\d{2})(\d{2})(?=_|\.|$)")
PRODUCT_ID = re.compile(r"[A-Za-z0-9_.-]{1,200}")
BASELINE = re.compile(r"\d{2}\.\d{2}")
_ZIP_READ_ERRORS = (OSError, EOFError, zipfile.BadZipFile, zlib.error, RuntimeError,
                    NotImplementedError)
"""What reading a damaged, encrypted or oddly compressed zip member may raise."""


def product_date(name: str) -> dt.date | None:
    """Return the acquisition date in a product name (`..._MSIL2A_YYYYMMDDThhmmss_...`), if any."""
    match = PRODUCT_DATE.search(name)
    if match is None:
        return None
    try:
        return dt.date(*(int(part) for part in match.groups()))
    except ValueError:
        return None


def _date_for(product: Path, inner_name: str, explicit: dt.date | None) -> dt.date:
    found = explicit or product_date(product.name) or product_date(inner_name)
    if found is None:
        raise UserError(f"{product}: no acquisition date in the product name "
                        "(expected ..._MSIL2A_YYYYMMDDThhmmss_...): give --date YYYY-MM-DD")
    return found


class _NoDoctype(ET.TreeBuilder):
    """An ElementTree builder that refuses document type declarations (and so all entities)."""

    def doctype(self, name: str, pubid: str, system: str) -> None:
        raise ET.ParseError("document type declarations are not accepted")


def _local(tag: object) -> str:
    """Return an element tag without its namespace (`{uri}PRODUCT_URI` -> `PRODUCT_URI`)."""
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _product_info(data: bytes) -> dict[str, str]:
    """Return the texts of the elements of General_Info/Product_Info in MTD_MSIL2A.xml, by name.

    Names are matched without their namespace. A document that does not parse gives {}.
    """
    parser = ET.XMLParser(target=_NoDoctype())
    try:
        parser.feed(data)
        root = parser.close()
    except (ET.ParseError, ValueError, LookupError, RecursionError):
        return {}
    for general in root:
        if _local(general.tag) != "General_Info":
            continue
        for info in general:
            if _local(info.tag) == "Product_Info":
                return {_local(item.tag): (item.text or "").strip() for item in info}
    return {}


def _read_limited(stream: IO[bytes]) -> bytes | None:
    """Return a stream's bytes, or None when it holds more than MAX_METADATA_BYTES."""
    data = stream.read(MAX_METADATA_BYTES + 1)
    return None if len(data) > MAX_METADATA_BYTES else data


def _folder_metadata(product: Path) -> bytes | None:
    """Return the bytes of a product folder's MTD_MSIL2A.xml; None if missing or unreadable."""
    try:
        with (product / METADATA).open("rb") as stream:
            return _read_limited(stream)
    except OSError:
        return None


def _zip_metadata(archive: zipfile.ZipFile, member: str) -> bytes | None:
    """Return the bytes of one zip member (MTD_MSIL2A.xml); None if missing or unreadable."""
    try:
        with archive.open(member) as stream:
            return _read_limited(stream)
    except (KeyError, *_ZIP_READ_ERRORS):
        return None


def _first(pattern: re.Pattern[str], names: tuple[str, ...]) -> re.Match[str] | None:
    """Return the first match of `pattern` in `names`, in order."""
    for name in names:
        match = pattern.search(name)
        if match is not None:
            return match
    return None


class Provenance(TypedDict):
    """What a Sen2Cor product says about itself: SclFile's product_id, tile_id, processing_baseline."""

    product_id: str | None
    tile_id: str | None
    processing_baseline: str | None


def provenance(folder_name: str, granule: str, metadata: bytes | None) -> Provenance:
    """Return the SclFile fields product_id, tile_id and processing_baseline of one SCL image.

    `folder_name` is the product folder's name (`S2A_MSIL2A_..._T33TVM_....SAFE`), `granule` the
    name of the image's granule folder (`L2A_T33TVM_...`), `metadata` the bytes of
    MTD_MSIL2A.xml (None: none). Values from the XML that do not look like a product id or a
    baseline (`05.10`) are ignored.
    """
    info = _product_info(metadata) if metadata is not None else {}
    folder_id = SAFE_SUFFIX.sub("", folder_name)
    uri = SAFE_SUFFIX.sub("", info.get("PRODUCT_URI", ""))
    product_id = uri if PRODUCT_ID.fullmatch(uri) else folder_id or None
    names = tuple(dict.fromkeys(name for name in (product_id, folder_id) if name))
    tile = _first(TILE_IN_NAME, (*names, granule))
    baseline = info.get("PROCESSING_BASELINE", "")
    if not BASELINE.fullmatch(baseline):
        found = _first(BASELINE_IN_NAME, names)
        baseline = f"{found[1]}.{found[2]}" if found else ""
    return Provenance(product_id=product_id, tile_id=tile[1] if tile else None,
                      processing_baseline=baseline or None)


def _missing(product: Path) -> UserError:
    return UserError(f"{product}: no 20 m SCL image (GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2) in it; "
                     "is it a Sen2Cor L2A product?")


def _from_folder(product: Path, explicit: dt.date | None) -> list[SclFile]:
    images = sorted(path for path in product.glob("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2")
                    if path.is_file())
    if not images:
        raise _missing(product)
    metadata = _folder_metadata(product)
    return [replace(inspect_scl_file(image, _date_for(product, image.name, explicit)),
                    **provenance(product.name, image.parent.parent.parent.name, metadata))
            for image in images]


def _zip_product(product: Path, inner: PurePosixPath) -> tuple[str, str]:
    """Return the product folder's name and its MTD_MSIL2A.xml member for an SCL member of a zip.

    The folder is what holds GRANULE/; without one (GRANULE/ at the top) it is the zip's name.
    """
    top = inner.parts[:-5]
    return (top[-1] if top else product.stem), "/".join((*top, METADATA))


def _from_zip(product: Path, explicit: dt.date | None, stack: ExitStack) -> list[SclFile]:
    try:
        with zipfile.ZipFile(product) as archive:
            members = sorted(name for name in archive.namelist() if SCL_PATTERN.search(name))
            if not members:
                raise _missing(product)
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sclzonal-safe-")))
            found = []
            metadata: dict[str, bytes | None] = {}
            for member in members:
                inner = PurePosixPath(member)
                if inner.is_absolute() or ".." in inner.parts:
                    raise UserError(f"{product}: unsafe path {member!r} in the zip")
                target = workdir / product.name / Path(*inner.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                day = _date_for(product, inner.parts[0], explicit)
                folder_name, xml_member = _zip_product(product, inner)
                if xml_member not in metadata:
                    metadata[xml_member] = _zip_metadata(archive, xml_member)
                found.append(replace(inspect_scl_file(target, day),
                                     reference=f"{product.resolve()}!/{member}",
                                     **provenance(folder_name, inner.parts[-4], metadata[xml_member])))
            return found
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise UserError(f"{product}: not a readable zip file ({exc})") from None


def inspect_scl_input(path: Path, explicit_date: dt.date | None, stack: ExitStack) -> list[SclFile]:
    """Check one `scl load` argument: a GeoTIFF, a `.SAFE` folder or a product `.zip`.

    Files copied out of a zip live in a temporary folder closed with `stack`.
    """
    if path.is_dir() and path.suffix.upper() == ".SAFE":
        return _from_folder(path, explicit_date)
    if path.is_dir():
        raise UserError(f"{path}: is a folder but not a Sen2Cor product (*.SAFE)")
    if path.is_file() and path.suffix.lower() == ".zip":
        return _from_zip(path, explicit_date, stack)
    return [inspect_scl_file(path, explicit_date)]


def source_of(scl: SclFile) -> str:
    """Return scene.source for a checked file: `sen2cor` for a product's SCL image, else `geotiff`."""
    return SOURCE if scl.path.name.endswith("_SCL_20m.jp2") else "geotiff"
