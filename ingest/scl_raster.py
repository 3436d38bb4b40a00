"""Load Sentinel-2 SCL GeoTIFFs into PostGIS as in-db raster tiles, one transaction per scene.

Every file is checked before anything is written: a GeoTIFF (or a Sen2Cor JPEG 2000), one band,
an integer data type, a CRS with an EPSG code, a north-up geotransform and an acquisition date
between Sentinel-2's launch and today (UTC). Pixel values are checked (0-11) while the tiles
stream into the database; a bad value rolls the whole scene back.

A scene is one acquisition on one grid from one source (see ingest/scene_identity.py): another
file for it is refused unless `replace` swaps the old scene for the new one in the same
transaction; the same file (SHA-256) again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psycopg
import rasterio
from pyproj import CRS
from rasterio._err import CPLE_BaseError
from rasterio.errors import CRSError, NotGeoreferencedWarning, RasterioError
from rasterio.windows import Window

from sclzonal.errors import UserError, first_line
from sclzonal.ingest import DEFAULT_TILE_SIZE
from sclzonal.ingest.raster_wkb import tile_wkb
from sclzonal.ingest.scene_identity import acquisition_key, make_room, same_file
from sclzonal.ingest.spatial_ref import ensure_srid, max_edge

MAX_SCL_CLASS = 11
FORMATS = {"GTiff": "GeoTIFF", "COG": "GeoTIFF", "JP2OpenJPEG": "JPEG 2000"}
"""GDAL drivers of the files accepted (JPEG 2000: Sen2Cor's lossless SCL images)."""
FIRST_ACQUISITION = dt.date(2015, 6, 23)
"""Sentinel-2A's launch: no SCL is older."""
_READ_ERRORS = (RasterioError, CPLE_BaseError, CRSError)
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})(?!\d)")


@dataclass(frozen=True)
class SclFile:
    """A checked SCL GeoTIFF, ready to load."""

    path: Path
    checksum: str
    acquired_on: dt.date
    srid: int
    crs: str
    width: int
    height: int
    upper_left_x: float
    upper_left_y: float
    pixel_size_x: float
    pixel_size_y: float
    reference: str | None = None
    """Stored as scene.reference; None: the file's absolute path."""
    product_id: str | None = None
    """Sen2Cor product id (PRODUCT_URI of MTD_MSIL2A.xml, without `.SAFE`); None for a GeoTIFF."""
    tile_id: str | None = None
    """MGRS tile of a Sen2Cor product (`33TVM`); None when not known."""
    processing_baseline: str | None = None
    """PROCESSING_BASELINE of a Sen2Cor product (`05.10`); None when not known."""


@dataclass(frozen=True)
class SceneLoad:
    """What loading one file did."""

    path: Path
    scene_id: int
    acquired_on: dt.date
    created: bool
    tiles: int
    replaced: tuple[int, ...] = ()
    """Ids of the scenes this one replaced (`replace`)."""


def file_checksum(path: Path) -> str:
    """Return the SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _parse_date(text: str, what: str, path: Path) -> dt.date:
    """Return the UTC date of `text`: a date (YYYY-MM-DD) or an ISO 8601 date and time.

    Nothing may follow the date or time. A time with a UTC offset is converted to UTC first (a
    scene taken at 00:30+02:00 on the 6th was taken on the 5th, UTC); a time without one is UTC.
    """
    value = text.strip()
    try:
        if len(value) <= 10:
            if not _ISO_DATE.fullmatch(value):
                raise ValueError(value)
            return dt.date.fromisoformat(value)
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        raise UserError(f"{path}: {what} {text!r} is not a date (YYYY-MM-DD) or an ISO 8601 "
                        "date and time") from None
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.date()


def acquisition_date(path: Path, tags: dict[str, str], explicit: dt.date | None) -> dt.date:
    """Return the date from `--date`, else the ACQUISITION_DATE tag, else a date in the file name."""
    if explicit is not None:
        found = explicit
    elif tags.get("ACQUISITION_DATE"):
        found = _parse_date(tags["ACQUISITION_DATE"], "ACQUISITION_DATE tag", path)
    else:
        match = _DATE_IN_NAME.search(path.name)
        if match is None:
            raise UserError(
                f"{path}: no acquisition date: give --date YYYY-MM-DD, an ACQUISITION_DATE tag, "
                "or a date in the file name"
            )
        found = _parse_date("-".join(match.groups()), "date in the file name", path)
    if found > dt.datetime.now(dt.UTC).date():
        raise UserError(f"{path}: acquisition date {found.isoformat()} is in the future")
    if found < FIRST_ACQUISITION:
        raise UserError(f"{path}: acquisition date {found.isoformat()} is before Sentinel-2's "
                        f"launch ({FIRST_ACQUISITION.isoformat()})")
    return found


def inspect_scl_file(path: Path, explicit_date: dt.date | None = None) -> SclFile:
    """Check a file's metadata and return what loading it needs; raise UserError when unfit."""
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            # A file without georeferencing is refused below, in one line: no Python warning.
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            return _inspect(path, explicit_date)
    except _READ_ERRORS as exc:
        raise UserError(f"{path}: not a readable raster ({first_line(exc)})") from None


def _inspect(path: Path, explicit_date: dt.date | None) -> SclFile:
    """Check an opened file's format, bands, type, CRS, grid and date (see inspect_scl_file)."""
    with rasterio.open(path) as dataset:
        if dataset.driver not in FORMATS:
            raise UserError(f"{path}: is a {dataset.driver} file, not a GeoTIFF; SCL must be "
                            "stored losslessly (GeoTIFF, or a Sen2Cor product's JPEG 2000)")
        if dataset.count != 1:
            raise UserError(f"{path}: has {dataset.count} bands; an SCL raster has one")
        dtype = np.dtype(dataset.dtypes[0])
        if dtype.kind not in "iu":
            raise UserError(
                f"{path}: data type {dtype.name} is not an integer type; SCL classes are 0-11"
            )
        if dataset.crs is None:
            raise UserError(f"{path}: has no CRS")
        srid = dataset.crs.to_epsg()
        if srid is None:
            raise UserError(f"{path}: its CRS has no EPSG code ({dataset.crs.to_string()[:60]})")
        transform = dataset.transform
        if transform.b != 0 or transform.d != 0:
            raise UserError(f"{path}: rotated or sheared geotransform; north-up rasters only")
        if transform.a <= 0 or transform.e >= 0:
            raise UserError(
                f"{path}: geotransform is not north-up (pixel size {transform.a}, {transform.e})"
            )
        if dataset.width == 0 or dataset.height == 0:
            raise UserError(f"{path}: has no pixels")
        acquired_on = acquisition_date(path, dataset.tags(), explicit_date)
        return SclFile(
            path=path,
            checksum=file_checksum(path),
            acquired_on=acquired_on,
            srid=srid,
            crs=f"EPSG:{srid}",
            width=dataset.width,
            height=dataset.height,
            upper_left_x=transform.c,
            upper_left_y=transform.f,
            pixel_size_x=transform.a,
            pixel_size_y=transform.e,
        )


def tile_rows(scl: SclFile, tile_size: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (row offset, block of up to `tile_size` rows) as uint8, checking every value.

    The file must read as it did when it was inspected (size, grid): a file changed since, or
    so damaged that it reads differently each time, is refused.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)
            dataset = rasterio.open(scl.path)
        with dataset:
            transform = dataset.transform
            if (dataset.width, dataset.height, dataset.count, transform.c, transform.f, transform.a,
                    transform.e) != (scl.width, scl.height, 1, scl.upper_left_x, scl.upper_left_y,
                                     scl.pixel_size_x, scl.pixel_size_y):
                raise UserError(f"{scl.path}: the file no longer reads as it did when it was checked "
                                "(changed, or damaged); nothing of it was loaded")
            for row_off in range(0, scl.height, tile_size):
                rows = min(tile_size, scl.height - row_off)
                block = dataset.read(1, window=Window(0, row_off, scl.width, rows))
                low, high = int(block.min()), int(block.max())
                if low < 0 or high > MAX_SCL_CLASS:
                    bad = high if high > MAX_SCL_CLASS else low
                    raise UserError(
                        f"{scl.path}: pixel value {bad} is not an SCL class (0-{MAX_SCL_CLASS})"
                    )
                yield row_off, block.astype(np.uint8, copy=False)
    except _READ_ERRORS as exc:
        raise UserError(f"{scl.path}: cannot read its pixels ({first_line(exc)})") from None


def check_pixels(scl: SclFile, tile_size: int = DEFAULT_TILE_SIZE) -> None:
    """Read every pixel once and raise UserError on a value that is not an SCL class."""
    for _ in tile_rows(scl, tile_size):
        pass


def _tiles_of_rows(scl: SclFile, row_off: int, block: np.ndarray, tile_size: int) -> Iterator[bytes]:
    for col_off in range(0, scl.width, tile_size):
        yield tile_wkb(
            block[:, col_off : col_off + tile_size],
            upper_left_x=scl.upper_left_x + col_off * scl.pixel_size_x,
            upper_left_y=scl.upper_left_y + row_off * scl.pixel_size_y,
            scale_x=scl.pixel_size_x,
            scale_y=scl.pixel_size_y,
            srid=scl.srid,
        )


def load_scene(
    conn: psycopg.Connection,
    scl: SclFile,
    *,
    tile_size: int = DEFAULT_TILE_SIZE,
    source: str = "geotiff",
    on_rows: Callable[[int], object] | None = None,
    replace: bool = False,
) -> SceneLoad:
    """Load one checked file as a scene in one transaction; a file loaded before changes nothing.

    A scene of the same grid, date and source from another file is refused (UserError), or with
    `replace` deleted in the same transaction, so readers see the old scene or the new one.
    """
    with conn.transaction():
        # Two loads of the same acquisition, or of the same file, at once: the second waits
        # here, then finds the first's scene. Both locks are always taken in this order.
        for key in (acquisition_key(scl, source), scl.checksum):
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (key,))
        loaded_before = same_file(conn, scl)
        if loaded_before is not None:
            return SceneLoad(scl.path, loaded_before, scl.acquired_on, created=False, tiles=0)
        ensure_srid(conn, scl.srid, scl.path)
        replaced = make_room(conn, scl, source, replace)
        scene_id = _insert_scene_row(conn, scl, tile_size, source)
        conn.execute("SELECT sclzonal.add_scene_tile_partition(%s)", (scene_id,))
        tiles = 0
        # The raster type has no binary input, so COPY would send every tile as hex text; one
        # INSERT per row of tiles with the WKB as binary parameters, pipelined so the next row
        # is read while the server stores this one, is about 2.5 times faster.
        with conn.pipeline(), conn.cursor(binary=True) as cursor:
            for row_off, block in tile_rows(scl, tile_size):
                wkbs = list(_tiles_of_rows(scl, row_off, block, tile_size))
                cursor.execute(
                    "INSERT INTO sclzonal.scene_tile (scene_id, rast)"
                    " SELECT %s, ST_RastFromWKB(wkb) FROM unnest(%b::bytea[]) AS wkb",
                    (scene_id, wkbs),
                )
                tiles += len(wkbs)
                if on_rows is not None:
                    on_rows(block.shape[0])
        conn.execute("SELECT sclzonal.finish_scene_tile_partition(%s)", (scene_id,))
        return SceneLoad(scl.path, scene_id, scl.acquired_on, created=True, tiles=tiles,
                         replaced=replaced)


def _grid_id(conn: psycopg.Connection, scl: SclFile) -> int:
    """Return the id of the scene's grid, adding the grid when it is new."""
    key = (scl.srid, scl.upper_left_x, scl.upper_left_y, scl.pixel_size_x, scl.pixel_size_y,
           scl.width, scl.height)
    row = conn.execute(
        "INSERT INTO sclzonal.scene_grid (srid, upper_left_x, upper_left_y, pixel_size_x,"
        " pixel_size_y, width, height) VALUES (%s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT (srid, upper_left_x, upper_left_y, pixel_size_x, pixel_size_y, width, height)"
        " DO UPDATE SET srid = EXCLUDED.srid RETURNING id", key).fetchone()
    assert row is not None
    return int(row[0])


def _insert_scene_row(conn: psycopg.Connection, scl: SclFile, tile_size: int, source: str) -> int:
    right = scl.upper_left_x + scl.width * scl.pixel_size_x
    bottom = scl.upper_left_y + scl.height * scl.pixel_size_y
    segment = max_edge(CRS.from_epsg(scl.srid))  # edges cut before the transform to 4326
    row = conn.execute(
        """
        INSERT INTO sclzonal.scene (acquired_on, source, reference, checksum, srid, crs, grid_id,
                                    pixel_size_x, pixel_size_y, width, height, tile_size,
                                    product_id, tile_id, processing_baseline, footprint)
        VALUES (%(acquired_on)s, %(source)s, %(reference)s, %(checksum)s, %(srid)s, %(crs)s,
                %(grid_id)s, %(psx)s, %(psy)s, %(width)s, %(height)s, %(tile_size)s,
                %(product_id)s, %(tile_id)s, %(processing_baseline)s,
                sclzonal.scene_footprint(
                    ST_MakeEnvelope(%(left)s, %(bottom)s, %(right)s, %(top)s, %(srid)s),
                    %(segment)s))
        RETURNING id
        """,
        {
            "acquired_on": scl.acquired_on,
            "source": source,
            "reference": scl.reference or str(scl.path.resolve()),
            "checksum": scl.checksum,
            "srid": scl.srid,
            "crs": scl.crs,
            "grid_id": _grid_id(conn, scl),
            "psx": scl.pixel_size_x,
            "psy": scl.pixel_size_y,
            "width": scl.width,
            "height": scl.height,
            "tile_size": tile_size,
            "product_id": scl.product_id,
            "tile_id": scl.tile_id,
            "processing_baseline": scl.processing_baseline,
            "left": scl.upper_left_x,
            "bottom": bottom,
            "right": right,
            "top": scl.upper_left_y,
            "segment": segment,
        },
    ).fetchone()
    assert row is not None
    return int(row[0])
