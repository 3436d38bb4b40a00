"""Sen2Cor L2A products (a `.SAFE` folder or its `.zip`) as inputs of `sclzonal scl load`.

The 20 m SCL image of a product is `GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2` (JPEG 2000); its
acquisition date is the first date of the product name (`S2A_MSIL2A_20240605T100031_...`),
unless `--date` is given. A `.zip` is read without unpacking the rest of it: only the SCL image
is copied out, to `<work folder>/<zip name>/<path inside the zip>`, so messages still name the
product. The image then goes through the same checks and loading as a GeoTIFF; its checksum is
the JP2's SHA-256, so a product loaded from its folder and again from its zip is loaded once.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
import zipfile
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path, PurePosixPath

from sclzonal.errors import UserError
from sclzonal.ingest.scl_raster import SclFile, inspect_scl_file

SCL_PATTERN = re.compile(r"(^|/)GRANULE/[^/]+/IMG_DATA/R20m/[^/]+_SCL_20m\.jp2$")
PRODUCT_DATE = re.compile(r"MSIL2A[A-Za-z]?_(\d{4})(\d{2})(\d{2})T\d{6}")
SOURCE = "sen2cor"


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


def _missing(product: Path) -> UserError:
    return UserError(f"{product}: no 20 m SCL image (GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2) in it; "
                     "is it a Sen2Cor L2A product?")


def _from_folder(product: Path, explicit: dt.date | None) -> list[SclFile]:
    images = sorted(path for path in product.glob("GRANULE/*/IMG_DATA/R20m/*_SCL_20m.jp2")
                    if path.is_file())
    if not images:
        raise _missing(product)
    return [inspect_scl_file(image, _date_for(product, image.name, explicit)) for image in images]


def _from_zip(product: Path, explicit: dt.date | None, stack: ExitStack) -> list[SclFile]:
    try:
        with zipfile.ZipFile(product) as archive:
            members = sorted(name for name in archive.namelist() if SCL_PATTERN.search(name))
            if not members:
                raise _missing(product)
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sclzonal-safe-")))
            found = []
            for member in members:
                inner = PurePosixPath(member)
                if inner.is_absolute() or ".." in inner.parts:
                    raise UserError(f"{product}: unsafe path {member!r} in the zip")
                target = workdir / product.name / Path(*inner.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(member) as source, target.open("wb") as sink:
                    shutil.copyfileobj(source, sink, 1 << 20)
                day = _date_for(product, inner.parts[0], explicit)
                found.append(replace(inspect_scl_file(target, day),
                                     reference=f"{product.resolve()}!/{member}"))
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
