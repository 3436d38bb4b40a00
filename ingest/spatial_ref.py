"""CRSs PostGIS lacks: added to spatial_ref_sys from PROJ's definition, or refused in one line.

PROJ knows hundreds of EPSG codes that PostGIS does not ship in spatial_ref_sys (EPSG:8950, for
one). A raster in such a CRS loads all the same: its CRS is added, in the transaction that
stores the scene, by a role that may write spatial_ref_sys; for other roles the file is refused
before anything is stored, saying who can load it.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg

from sclzonal.errors import UserError

if TYPE_CHECKING:
    from pyproj import CRS

MAX_SRID = 998_999
"""The largest SRID PostGIS accepts."""


def ensure_srid(conn: psycopg.Connection, srid: int, where: Path | str) -> None:
    """Make sure spatial_ref_sys holds EPSG:srid, adding it from PROJ; else raise UserError."""
    if _known(conn, srid):
        return
    problem = srid_problem(conn, srid, where)
    if problem is not None:
        raise UserError(problem)
    wkt, proj4 = proj_definition(srid)
    conn.execute(
        "INSERT INTO spatial_ref_sys (srid, auth_name, auth_srid, srtext, proj4text)"
        " VALUES (%s, 'EPSG', %s, %s, %s) ON CONFLICT (srid) DO NOTHING",
        (srid, srid, wkt, proj4))


def srid_problem(conn: psycopg.Connection, srid: int, where: Path | str) -> str | None:
    """Return why EPSG:srid cannot be used here, or None when it is known or can be added."""
    if _known(conn, srid):
        return None
    if not 0 < srid <= MAX_SRID:
        return f"{where}: EPSG:{srid} is outside the SRIDs PostGIS accepts"
    try:
        proj_definition(srid)
    except UserError as exc:
        return f"{where}: {exc}"
    allowed = conn.execute("SELECT has_table_privilege('spatial_ref_sys', 'INSERT')").fetchone()
    if not (allowed and allowed[0]):
        return (f"{where}: EPSG:{srid} is not in PostGIS's spatial_ref_sys and this role may not "
                "add it; load the file once as the database owner or a superuser")
    return None


def proj_definition(srid: int) -> tuple[str, str]:
    """Return PROJ's WKT and PROJ string of EPSG:srid, as spatial_ref_sys holds them."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        crs = CRS.from_epsg(srid)
    except CRSError:
        raise UserError(f"EPSG:{srid} is known neither to PostGIS nor to PROJ") from None
    with warnings.catch_warnings():
        # PROJ strings lose details (datum shifts); PostGIS tries auth_name/auth_srid and the WKT
        # first, so the string is only its last resort.
        warnings.simplefilter("ignore", UserWarning)
        proj4 = crs.to_proj4() or ""
    return crs.to_wkt("WKT1_GDAL") or crs.to_wkt(), proj4


def _known(conn: psycopg.Connection, srid: int) -> bool:
    return conn.execute("SELECT 1 FROM spatial_ref_sys WHERE srid = %s", (srid,)).fetchone() is not None


MAX_EDGE_DEGREES = 0.01
"""Longest edge kept whole in a geographic CRS before a transform (as sql/polygon_projection.sql)."""
MAX_EDGE_METRES = 1000.0
"""Longest edge kept whole in a projected CRS before a transform (about 0.01 degree)."""


def max_edge(crs: CRS) -> float:
    """Return the longest edge, in the CRS's own units, that a transform out of it keeps whole.

    Longer edges are cut first, so an edge that is straight in this CRS stays where it was
    instead of becoming a straight line between its transformed ends: the same rule for polygon
    loads, scene footprints and (in SQL, for EPSG:4326) the counting.
    """
    if crs.is_geographic:
        return MAX_EDGE_DEGREES
    unit = crs.axis_info[0].unit_conversion_factor if crs.axis_info else 1.0
    return MAX_EDGE_METRES / (unit or 1.0)

