"""Encode numpy tiles as PostGIS raster WKB (the format `raster` accepts as hex text)."""

from __future__ import annotations

import struct

import numpy as np

PIXTYPE_8BUI = 4
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
