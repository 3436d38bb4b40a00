"""Plan Processing API requests for the loaded polygons: a fixed lattice of cells per UTM zone.

Each polygon goes into the UTM zone of its bounding box's centre (EPSG:326xx north, 327xx south)
and there into one cell of a lattice that depends only on the resolution and the cell size,
never on the other polygons. A cell of level L has a core of `cell_pixels * 2**L` pixels a side,
its corners at multiples of that core size in UTM metres, and is requested with a margin of
`margin_pixels * 2**L` pixels on every side. Every edge is a multiple of the resolution, so the
requested grid is the Sentinel-2 pixel grid of that resolution (its tiles' corners are multiples
of 60 m in UTM), and nearest-neighbour output reproduces the native pixels.

A polygon belongs to the cell of the lowest level whose margin is at least half its width and
height, the one whose core holds its centre: the polygon then lies wholly inside the requested
box, so it is never split between scenes. Adding polygons inside a cell changes nothing of it;
adding them elsewhere adds cells. A cell wider than the API's limit (2500 px) is requested as a
grid of windows merged into one scene.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np
import psycopg
import shapely

from sclzonal.errors import UserError
from sclzonal.ingest import MAX_REQUEST_PIXELS

COLLECTION = "sentinel-2-l2a"
MAX_LEVEL = 12
"""Cells of level 12 are 4096 times the base cell: polygons wider than that are refused."""

Bounds = tuple[float, float, float, float]
"""(min x, min y, max x, max y)."""


@dataclass(frozen=True)
class Lattice:
    """The lattice of request cells of one resolution (the same in every UTM zone)."""

    resolution: float = 20.0
    cell_pixels: int = 500
    margin_pixels: int = 25

    def core(self, level: int) -> float:
        """Width of a cell's core at a level, in metres."""
        return self.cell_pixels * self.resolution * 2 ** level

    def margin(self, level: int) -> float:
        """Width of a cell's margin at a level, in metres."""
        return self.margin_pixels * self.resolution * 2 ** level

    def level_for(self, width: float, height: float) -> int:
        """Return the lowest level whose margin is at least half of width and of height."""
        extent = max(width, height)
        for level in range(MAX_LEVEL + 1):
            if extent <= 2 * self.margin(level):
                return level
        raise ValueError(f"{extent:.0f} m is wider than the largest cell")

    def key_for(self, epsg: int, bounds: Bounds) -> CellKey:
        """Return the cell of a polygon with these UTM bounds."""
        level = self.level_for(bounds[2] - bounds[0], bounds[3] - bounds[1])
        core = self.core(level)
        centre_x, centre_y = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
        return CellKey(epsg, level, math.floor(centre_x / core), math.floor(centre_y / core))


@dataclass(frozen=True, order=True)
class CellKey:
    """Which cell: UTM zone, level, column and row (the core's lower-left corner / core size)."""

    epsg: int
    level: int
    col: int
    row: int

    def __str__(self) -> str:
        return f"{self.epsg}:{self.level}:{self.col}:{self.row}"


@dataclass(frozen=True)
class Cell:
    """One cell of the lattice that holds polygons: one scene per acquisition date."""

    key: CellKey
    lattice: Lattice
    polygon_ids: tuple[int, ...] = field(compare=False)

    @property
    def epsg(self) -> int:
        """The UTM zone's EPSG code."""
        return self.key.epsg

    @property
    def resolution(self) -> float:
        """Pixel size in metres."""
        return self.lattice.resolution

    @property
    def bounds(self) -> Bounds:
        """The requested box in UTM metres: the core and its margins, on the pixel grid."""
        core, margin = self.lattice.core(self.key.level), self.lattice.margin(self.key.level)
        left, bottom = self.key.col * core - margin, self.key.row * core - margin
        return (float(left), float(bottom), float(left + core + 2 * margin),
                float(bottom + core + 2 * margin))

    @property
    def width(self) -> int:
        """Pixels across (and down: cells are square)."""
        return (self.lattice.cell_pixels + 2 * self.lattice.margin_pixels) * 2 ** self.key.level

    @property
    def height(self) -> int:
        """Pixels down."""
        return self.width

    @cached_property
    def lonlat_footprint(self) -> shapely.Polygon:
        """The requested box in longitude/latitude (edges densified)."""
        from pyproj import Transformer

        left, bottom, right, top = self.bounds
        steps = np.linspace(0.0, 1.0, 17)
        xs = np.concatenate([left + (right - left) * steps, np.full(17, right),
                             right - (right - left) * steps, np.full(17, left)])
        ys = np.concatenate([np.full(17, bottom), bottom + (top - bottom) * steps,
                             np.full(17, top), top - (top - bottom) * steps])
        lon, lat = Transformer.from_crs(self.epsg, 4326, always_xy=True).transform(xs, ys)
        return shapely.Polygon(np.column_stack([lon, lat]))

    def label(self) -> str:
        """A short human description, for progress lines and errors."""
        return (f"cell {self.key} (EPSG:{self.epsg}, {self.width} x {self.height} px, "
                f"{len(self.polygon_ids)} polygons)")


@dataclass(frozen=True)
class RequestTile:
    """One Processing API request: a window of a cell's pixel grid."""

    col_off: int
    row_off: int
    width: int
    height: int
    bounds: Bounds


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the standard UTM zone holding (lon, lat) (no Norway exceptions)."""
    zone = min(max(int(math.floor((lon + 180.0) / 6.0)) + 1, 1), 60)
    return (32600 if lat >= 0 else 32700) + zone


def plan_cells(conn: psycopg.Connection, lattice: Lattice) -> list[Cell]:
    """Put every loaded polygon into its cell; return the cells that hold polygons, in key order."""
    rows = conn.execute(
        "SELECT id, (ST_XMin(geom) + ST_XMax(geom)) / 2, (ST_YMin(geom) + ST_YMax(geom)) / 2"
        " FROM sclzonal.polygon WHERE NOT ST_IsEmpty(geom) ORDER BY id"
    ).fetchall()
    if not rows:
        raise UserError("no polygons loaded: run `sclzonal polygons load` first")
    ids = [int(row[0]) for row in rows]
    epsgs = [utm_epsg(float(row[1]), float(row[2])) for row in rows]
    projected = conn.execute(
        """
        SELECT u.id, u.epsg, ST_XMin(g), ST_YMin(g), ST_XMax(g), ST_YMax(g)
        FROM unnest(%s::bigint[], %s::int[]) AS u(id, epsg)
        JOIN sclzonal.polygon AS p ON p.id = u.id
        CROSS JOIN LATERAL sclzonal.polygon_in_srid_or_null(p.geom, u.epsg) AS g
        WHERE g IS NOT NULL
        ORDER BY u.id
        """,
        (ids, epsgs),
    ).fetchall()
    members: dict[CellKey, list[int]] = {}
    for polygon_id, epsg, *box in projected:
        try:
            key = lattice.key_for(int(epsg), (box[0], box[1], box[2], box[3]))
        except ValueError as exc:
            raise UserError(f"polygon {polygon_id}: {exc} ({lattice.cell_pixels} px cells at "
                            f"{lattice.resolution:g} m, up to level {MAX_LEVEL})") from None
        members.setdefault(key, []).append(int(polygon_id))
    return [Cell(key, lattice, tuple(members[key])) for key in sorted(members)]


def _find(parent: list[int], item: int) -> int:
    while parent[item] != item:
        parent[item] = parent[parent[item]]
        item = parent[item]
    return item


def touching_groups(boxes: np.ndarray) -> list[list[int]]:
    """Group lon/lat boxes (n x 4) that touch, directly or through others; return index lists."""
    tree_boxes = shapely.box(boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3])
    left, right = shapely.STRtree(tree_boxes).query(tree_boxes, predicate="intersects")
    parent = list(range(len(boxes)))
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        root_a, root_b = _find(parent, a), _find(parent, b)
        if root_a != root_b:
            parent[max(root_a, root_b)] = min(root_a, root_b)
    groups: dict[int, list[int]] = {}
    for index in range(len(boxes)):
        groups.setdefault(_find(parent, index), []).append(index)
    return sorted(groups.values(), key=lambda group: group[0])


def _edges(total: int, max_size: int) -> list[int]:
    parts = max(1, math.ceil(total / max_size))
    return [round(i * total / parts) for i in range(parts + 1)]


class Grid(Protocol):
    """A box on a pixel grid (a Cell)."""

    @property
    def bounds(self) -> Bounds:
        """(left, bottom, right, top) in the grid's CRS."""

    @property
    def width(self) -> int:
        """Pixels across."""

    @property
    def height(self) -> int:
        """Pixels down."""

    @property
    def resolution(self) -> float:
        """Pixel size."""


def request_tiles(cell: Grid, max_pixels: int = MAX_REQUEST_PIXELS) -> list[RequestTile]:
    """Cut a cell's grid into near-equal windows of at most max_pixels each way (rows first)."""
    left, _, _, top = cell.bounds
    res = cell.resolution
    tiles: list[RequestTile] = []
    rows, cols = _edges(cell.height, max_pixels), _edges(cell.width, max_pixels)
    for row_off, row_end in zip(rows, rows[1:], strict=False):
        for col_off, col_end in zip(cols, cols[1:], strict=False):
            tiles.append(RequestTile(
                col_off=col_off, row_off=row_off, width=col_end - col_off, height=row_end - row_off,
                bounds=(left + col_off * res, top - row_end * res, left + col_end * res,
                        top - row_off * res),
            ))
    return tiles


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def scene_reference(base_url: str, day: dt.date, cell: Cell) -> str:
    """Return the deterministic key stored as scene.reference for one (endpoint, date, cell)."""
    bbox = ",".join(_number(value) for value in cell.bounds)
    return (f"{base_url.rstrip('/')}/api/v1/process {COLLECTION} SCL {day.isoformat()} "
            f"EPSG:{cell.epsg} {_number(cell.resolution)}m bbox={bbox}")
