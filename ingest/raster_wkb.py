"""PostGIS raster WKB of SCL tiles: encoded when a scene is loaded, decoded when it is counted."""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PIXTYPE_8BUI = 4
PIXTYPE_MASK = 0x0F
BAND_IS_OFFLINE = 0x80
BAND_HAS_NODATA = 0x40
NODATA = 255
"""Band nodata of every stored tile: a value SCL never uses, so class 0 stays a class."""

RASTER_HEADER = struct.Struct("<BHHddddddiHH")
"""Header of PostGIS raster WKB: endianness, version, bands, scale, origin, skew, SRID, size."""


def tile_wkb(
    tile: np.ndarray,
    *,
    upper_left_x: float,
    upper_left_y: float,
    scale_x: float,
    scale_y: float,
    srid: int,
) -> bytes:
    """Return the WKB of a one-band 8BUI raster with nodata 255 holding `tile` (rows north to south)."""
    if tile.dtype != np.uint8 or tile.ndim != 2:
        raise ValueError("tile must be a 2-D uint8 array")
    height, width = tile.shape
    header = RASTER_HEADER.pack(
        1,  # little endian
        0,  # WKB raster format version
        1,  # bands
        scale_x,
        scale_y,
        upper_left_x,
        upper_left_y,
        0.0,  # skew x
        0.0,  # skew y
        srid,
        width,
        height,
    )
    band_header = bytes((PIXTYPE_8BUI | BAND_HAS_NODATA, NODATA))
    return header + band_header + np.ascontiguousarray(tile).tobytes()


@dataclass(frozen=True)
class Tile:
    """A decoded tile: its upper-left corner, pixel size and pixels (rows north to south)."""

    upper_left_x: float
    upper_left_y: float
    scale_x: float
    scale_y: float
    pixels: npt.NDArray[np.uint8]


def read_tile(wkb: bytes | memoryview) -> Tile:
    """Decode the WKB of a tile as tile_wkb writes it (one in-db 8BUI band, no skew); the
    pixels are a view of `wkb`. Raise ValueError for any other raster."""
    (endian, _version, bands, scale_x, scale_y, left, top, skew_x, skew_y, _srid, width,
     height) = RASTER_HEADER.unpack_from(wkb)
    pixtype = wkb[RASTER_HEADER.size]
    if endian != 1 or bands != 1 or skew_x or skew_y or pixtype & PIXTYPE_MASK != PIXTYPE_8BUI \
            or pixtype & BAND_IS_OFFLINE:
        raise ValueError("scene tile is not a one-band in-db 8BUI raster")
    data_start = RASTER_HEADER.size + 2  # pixel type byte, nodata byte
    pixels = np.frombuffer(wkb, dtype=np.uint8, count=width * height, offset=data_start)
    return Tile(left, top, scale_x, scale_y, pixels.reshape(height, width))
