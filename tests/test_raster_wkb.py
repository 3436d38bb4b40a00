"""Tile WKB decoding (ingest.raster_wkb.read_tile) against rasters PostGIS itself writes."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest

from sclzonal.ingest.raster_wkb import read_tile, tile_wkb


def _postgis_wkb(conn: psycopg.Connection, band: str) -> bytes:
    row = conn.execute(
        "SELECT ST_AsBinary(ST_SetValue(ST_AddBand(ST_MakeEmptyRaster(3, 2, 500000.0, 5100000.0,"
        f" 20, -20, 0, 0, 32633), {band}), 2, 1, 9))").fetchone()
    assert row is not None
    return bytes(row[0])


def test_a_postgis_8bui_tile_decodes_to_its_pixels_and_place(conn: psycopg.Connection) -> None:
    tile = read_tile(_postgis_wkb(conn, "'8BUI'::text, 7, 255"))
    expected = np.full((2, 3), 7, dtype=np.uint8)
    expected[0, 1] = 9  # ST_SetValue(column 2, row 1)
    assert np.array_equal(tile.pixels, expected)
    assert (tile.upper_left_x, tile.upper_left_y, tile.scale_x, tile.scale_y) == \
        (500000.0, 5100000.0, 20.0, -20.0)


def test_what_tile_wkb_writes_reads_back() -> None:
    pixels = np.random.default_rng(3).integers(0, 12, (5, 4), dtype=np.uint8)
    tile = read_tile(tile_wkb(pixels, upper_left_x=1.5, upper_left_y=2.5, scale_x=10,
                              scale_y=-10, srid=32633))
    assert np.array_equal(tile.pixels, pixels)
    assert (tile.upper_left_x, tile.upper_left_y, tile.scale_x, tile.scale_y) == (1.5, 2.5, 10, -10)


@pytest.mark.parametrize("band", ["'16BUI'::text, 7, 255", "'8BSI'::text, 7, 0"])
def test_other_pixel_types_are_refused(conn: psycopg.Connection, band: str) -> None:
    with pytest.raises(ValueError, match="not a one-band in-db 8BUI raster"):
        read_tile(_postgis_wkb(conn, band))
