"""Plan Processing API requests for the loaded polygons: clusters, UTM zones, request grids, keys.

Polygons are clustered so that far-apart groups never fetch the land between them: every
polygon's bounding box is widened by half the cluster gap, and boxes that touch are merged,
repeatedly, until no two cluster boxes touch. Clustering is done on longitude/latitude boxes
(the gap converted to degrees at each box's latitude), so a group that straddles a UTM zone
border stays one cluster. Each cluster is then fetched in the UTM zone of its centre
(EPSG:326xx north, 327xx south), on a bounding box snapped outward to the resolution grid, so
the same polygons always give the same request. A cluster wider or taller than the API's limit
(2500 px) is cut into a grid of requests whose responses are merged into one scene.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import psycopg
import shapely

from sclzonal.errors import UserError
from sclzonal.ingest import MAX_REQUEST_PIXELS

METRES_PER_DEGREE = 111_320.0

COLLECTION = "sentinel-2-l2a"

Bounds = tuple[float, float, float, float]
"""(min x, min y, max x, max y)."""


@dataclass(frozen=True)
class Cluster:
    """Polygons fetched together: one scene per acquisition date."""

    number: int
    epsg: int
    bounds: Bounds
    """Snapped to multiples of `resolution`, in the cluster's UTM CRS."""
    lonlat_bounds: Bounds
    resolution: float
    polygon_ids: tuple[int, ...]

    @property
    def width(self) -> int:
        """Pixels across."""
        return round((self.bounds[2] - self.bounds[0]) / self.resolution)

    @property
    def height(self) -> int:
        """Pixels down."""
        return round((self.bounds[3] - self.bounds[1]) / self.resolution)

    def label(self) -> str:
        """A short human description, for progress lines and errors."""
        return (f"cluster {self.number} (EPSG:{self.epsg}, {self.width} x {self.height} px, "
                f"{len(self.polygon_ids)} polygons)")


@dataclass(frozen=True)
class RequestTile:
    """One Processing API request: a window of a cluster's pixel grid."""

    col_off: int
    row_off: int
    width: int
    height: int
    bounds: Bounds


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the standard UTM zone holding (lon, lat) (no Norway exceptions)."""
    zone = min(max(int(math.floor((lon + 180.0) / 6.0)) + 1, 1), 60)
    return (32600 if lat >= 0 else 32700) + zone


def _find(parent: list[int], item: int) -> int:
    while parent[item] != item:
        parent[item] = parent[parent[item]]
        item = parent[item]
    return item


def cluster_boxes(boxes: np.ndarray, gap_m: float) -> list[list[int]]:
    """Group lon/lat boxes (n x 4) whose boxes, widened by gap_m / 2, touch; return index lists."""
    count = len(boxes)
    members: list[list[int]] = [[i] for i in range(count)]
    current = boxes.astype(float).copy()
    while True:
        lat = np.clip((current[:, 1] + current[:, 3]) / 2, -89.0, 89.0)
        half_y = gap_m / 2 / METRES_PER_DEGREE
        half_x = gap_m / 2 / (METRES_PER_DEGREE * np.maximum(np.cos(np.radians(lat)), 0.01))
        widened = shapely.box(current[:, 0] - half_x, current[:, 1] - half_y,
                              current[:, 2] + half_x, current[:, 3] + half_y)
        left, right = shapely.STRtree(widened).query(widened, predicate="intersects")
        parent = list(range(len(current)))
        for a, b in zip(left.tolist(), right.tolist(), strict=True):
            root_a, root_b = _find(parent, a), _find(parent, b)
            if root_a != root_b:
                parent[max(root_a, root_b)] = min(root_a, root_b)
        roots = [_find(parent, i) for i in range(len(current))]
        if len(set(roots)) == len(current):
            return sorted((sorted(group) for group in members), key=lambda group: group[0])
        merged: dict[int, list[int]] = {}
        for index, root in enumerate(roots):
            merged.setdefault(root, []).append(index)
        members = [[m for index in group for m in members[index]] for group in merged.values()]
        current = np.array([[current[group, 0].min(), current[group, 1].min(),
                             current[group, 2].max(), current[group, 3].max()]
                            for group in merged.values()])


def snap_outward(bounds: Bounds, resolution: float) -> Bounds:
    """Widen bounds to multiples of the resolution (at least one pixel each way)."""
    left = math.floor(bounds[0] / resolution) * resolution
    bottom = math.floor(bounds[1] / resolution) * resolution
    right = max(math.ceil(bounds[2] / resolution) * resolution, left + resolution)
    top = max(math.ceil(bounds[3] / resolution) * resolution, bottom + resolution)
    return (float(left), float(bottom), float(right), float(top))


def plan_clusters(conn: psycopg.Connection, *, resolution: float, gap_m: float) -> list[Cluster]:
    """Cluster every loaded polygon and return the clusters with their UTM bounds."""
    rows = conn.execute(
        "SELECT id, ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom)"
        " FROM sclzonal.polygon WHERE NOT ST_IsEmpty(geom) ORDER BY id"
    ).fetchall()
    if not rows:
        raise UserError("no polygons loaded: run `sclzonal polygons load` first")
    ids = np.array([row[0] for row in rows], dtype=np.int64)
    boxes = np.array([row[1:] for row in rows], dtype=float)
    groups = cluster_boxes(boxes, gap_m)
    polygon_ids: list[int] = []
    numbers: list[int] = []
    epsgs: list[int] = []
    lonlat: dict[int, Bounds] = {}
    members: dict[int, tuple[int, ...]] = {}
    for number, group in enumerate(groups, start=1):
        box = boxes[group]
        lonlat[number] = (float(box[:, 0].min()), float(box[:, 1].min()),
                          float(box[:, 2].max()), float(box[:, 3].max()))
        epsg = utm_epsg((lonlat[number][0] + lonlat[number][2]) / 2,
                        (lonlat[number][1] + lonlat[number][3]) / 2)
        members[number] = tuple(ids[group].tolist())
        polygon_ids += members[number]
        numbers += [number] * len(group)
        epsgs += [epsg] * len(group)
    projected = conn.execute(
        """
        SELECT cluster, epsg, ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
        FROM (
            SELECT c.cluster, min(c.epsg) AS epsg, ST_Collect(ST_Transform(p.geom, c.epsg)) AS e
            FROM unnest(%s::bigint[], %s::int[], %s::int[]) AS c(polygon_id, cluster, epsg)
            JOIN sclzonal.polygon AS p ON p.id = c.polygon_id
            GROUP BY c.cluster
        ) AS s
        ORDER BY cluster
        """,
        (polygon_ids, numbers, epsgs),
    ).fetchall()
    return [
        Cluster(number=number, epsg=int(epsg), bounds=snap_outward(tuple(box), resolution),
                lonlat_bounds=lonlat[number], resolution=resolution,
                polygon_ids=members[number])
        for number, epsg, *box in projected
    ]


def _edges(total: int, max_size: int) -> list[int]:
    parts = max(1, math.ceil(total / max_size))
    return [round(i * total / parts) for i in range(parts + 1)]


def request_tiles(cluster: Cluster, max_pixels: int = MAX_REQUEST_PIXELS) -> list[RequestTile]:
    """Cut a cluster's grid into near-equal windows of at most max_pixels each way (rows first)."""
    left, _, _, top = cluster.bounds
    res = cluster.resolution
    tiles: list[RequestTile] = []
    rows, cols = _edges(cluster.height, max_pixels), _edges(cluster.width, max_pixels)
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


def scene_reference(base_url: str, day: dt.date, cluster: Cluster) -> str:
    """Return the deterministic key stored as scene.reference for one (endpoint, date, cluster)."""
    bbox = ",".join(_number(value) for value in cluster.bounds)
    return (f"{base_url.rstrip('/')}/api/v1/process {COLLECTION} SCL {day.isoformat()} "
            f"EPSG:{cluster.epsg} {_number(cluster.resolution)}m bbox={bbox}")
