"""Cross-check stored class counts with Sentinel Hub's Statistical API, per polygon and date.

For a random sample of polygons (seeded, so a check can be repeated), each stored observation
(`polygon_observation`: the scene used for the polygon on that date) is compared with what the
Statistical API says for the same polygon and day: an evalscript returning the SCL band with a
dataMask of 1 everywhere (so no-data pixels count as class 0, as sclzonal counts them), `P1D`
intervals, NEAREST resampling, `mostRecent` mosaicking, a histogram of one bin per class. The
request's bbox is the polygon's box snapped outward to the scene's own pixel grid, in the
scene's CRS at its pixel size, so the API's sample matrix is the scene's grid, and the geometry
is the part of the polygon inside the scene (a scene may hold only part of a polygon: sclzonal
counts what it holds).

A comparison is `equal`; `different` (by how many pixels, and whether the difference is the edge
rule: the API counted more pixels, no more than those the outline crosses whose centres lie
outside); or `not comparable`, saying why: the scene was loaded from a file (one product; the API
mosaics every product of the day), or the API has no data for that day.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from dataclasses import dataclass

import numpy as np
import psycopg
import shapely

from sclzonal.ingest.sentinelhub.client import SentinelHub

FILE_SOURCES = ("geotiff", "sen2cor")
STATISTICS_EVALSCRIPT = """//VERSION=3
function setup() {
  return {
    input: [{bands: ["SCL"], units: "DN"}],
    output: [{id: "default", bands: 1, sampleType: "UINT8"}, {id: "dataMask", bands: 1}]
  };
}
function evaluatePixel(sample) {
  return {default: [sample.SCL], dataMask: [1]};
}
"""
"""The SCL band as it is, every pixel counted (class 0 where there is no data)."""


@dataclass(frozen=True)
class Observation:
    """A stored observation: a polygon's counts on one scene of one date."""

    polygon_id: int
    source_fid: str
    day: dt.date
    scene_id: int
    source: str
    grid: tuple[int, float, float, float, float, int, int]
    """(srid, upper-left x, upper-left y, pixel width, pixel height (negative), columns, rows)."""
    counts: tuple[int, ...]
    """Pixels of classes 0-11."""


@dataclass(frozen=True)
class Comparison:
    """The outcome for one observation."""

    observation: Observation
    outcome: str
    """equal, different or not_comparable."""
    api_counts: tuple[int, ...] | None
    detail: str

    def line(self) -> str:
        """One line for the report."""
        o = self.observation
        return (f"polygon {o.polygon_id} ({o.source_fid}) {o.day.isoformat()} scene {o.scene_id}: "
                f"{self.outcome.replace('_', ' ')}{': ' + self.detail if self.detail else ''}")


def sample_observations(conn: psycopg.Connection, sample: int, start: dt.date, end: dt.date,
                        seed: int) -> list[Observation]:
    """Return the observations in the period of `sample` polygons chosen at random (by seed)."""
    rows = conn.execute(
        """
        WITH chosen AS (
            SELECT DISTINCT o.polygon_id, md5(o.polygon_id::text || ':' || %(seed)s::text) AS draw
            FROM sclzonal.polygon_observation AS o
            WHERE o.acquired_on BETWEEN %(start)s AND %(end)s
            ORDER BY draw LIMIT %(sample)s
        )
        SELECT o.polygon_id, p.source_fid, o.acquired_on, o.scene_id, s.source, g.srid,
               g.upper_left_x, g.upper_left_y, g.pixel_size_x, g.pixel_size_y, g.width, g.height,
               o.class_pixels
        FROM chosen
        JOIN sclzonal.polygon_observation AS o USING (polygon_id)
        JOIN sclzonal.polygon AS p ON p.id = o.polygon_id
        JOIN sclzonal.scene AS s ON s.id = o.scene_id
        JOIN sclzonal.scene_grid AS g ON g.id = s.grid_id
        WHERE o.acquired_on BETWEEN %(start)s AND %(end)s
        ORDER BY chosen.draw, o.acquired_on
        """, {"seed": seed, "start": start, "end": end, "sample": sample}).fetchall()
    return [Observation(int(r[0]), str(r[1]), r[2], int(r[3]), str(r[4]),
                        (int(r[5]), float(r[6]), float(r[7]), float(r[8]), float(r[9]), int(r[10]),
                         int(r[11])),
                        tuple(int(v) for v in r[12])) for r in rows]


def cross_check(conn: psycopg.Connection, hub: SentinelHub,
                observations: list[Observation]) -> list[Comparison]:
    """Compare every observation with the Statistical API (one request per polygon and grid)."""
    groups: dict[tuple[int, tuple[int, float, float, float, float, int, int]], list[Observation]] = {}
    for observation in observations:
        groups.setdefault((observation.polygon_id, observation.grid), []).append(observation)
    found: dict[tuple[int, int], Comparison] = {}
    for (polygon_id, grid), members in groups.items():
        # what the scene holds of the polygon: its pixels are all sclzonal could count
        _, x0, y0, width, height, columns, rows = grid
        extent = shapely.box(x0, y0 + rows * height, x0 + columns * width, y0)
        geometry = _polygon_in(conn, polygon_id, grid[0]).intersection(extent)
        if geometry.is_empty:
            continue
        bbox = snapped_box(geometry.bounds, grid)
        from_api = hub.statistics(geometry, bbox, grid[0], grid[3], min(o.day for o in members),
                                  max(o.day for o in members), STATISTICS_EVALSCRIPT)
        extra = edge_pixels(geometry, bbox, grid[3])
        for observation in members:
            found[(observation.polygon_id, observation.scene_id)] = compare(
                observation, from_api.get(observation.day), extra)
    return [found.get((o.polygon_id, o.scene_id)) or Comparison(
                o, "not_comparable", None, "no pixel of the polygon in the scene's extent")
            for o in observations]


def compare(observation: Observation, api: tuple[int, ...] | None, edge: int) -> Comparison:
    """Classify one observation against the API's counts for its day."""
    if observation.source in FILE_SOURCES:
        return Comparison(observation, "not_comparable", api,
                          f"mosaicking: the scene is one product loaded from a {observation.source} "
                          "file; the API mosaics every product of the day (mostRecent)")
    if api is None:
        return Comparison(observation, "not_comparable", None, "the API has no data for this day")
    stored = observation.counts
    if api == stored:
        return Comparison(observation, "equal", api, f"{sum(stored)} pixels")
    differing = sum(abs(a - s) for a, s in zip(api, stored, strict=True))
    more = sum(api) - sum(stored)
    rule = ("the edge rule: the API also counts pixels the outline crosses whose centres lie "
            "outside" if all(a >= s for a, s in zip(api, stored, strict=True)) and 0 < more <= edge
            else "not the edge rule")
    return Comparison(observation, "different", api,
                      f"by {differing} pixels (API {sum(api)}, sclzonal {sum(stored)}); {rule}")


def snapped_box(bounds: tuple[float, float, float, float],
                grid: tuple[int, float, float, float, float, int, int]) -> tuple[float, float, float, float]:
    """Widen bounds to the edges of the grid's pixels (origin and size from the scene)."""
    _, x0, y0, width, height, _, _ = grid
    step_y = -height
    left = x0 + math.floor((bounds[0] - x0) / width) * width
    right = x0 + math.ceil((bounds[2] - x0) / width) * width
    top = y0 - math.floor((y0 - bounds[3]) / step_y) * step_y
    bottom = y0 - math.ceil((y0 - bounds[1]) / step_y) * step_y
    return (left, bottom, max(right, left + width), max(top, bottom + step_y))


def edge_pixels(geometry: shapely.Geometry, bbox: tuple[float, float, float, float],
                size: float) -> int:
    """Pixels of the box that overlap the polygon but whose centres lie outside it."""
    left, bottom, right, top = bbox
    cols, rows = np.meshgrid(np.arange(round((right - left) / size)),
                             np.arange(round((top - bottom) / size)))
    x0, y1 = left + cols * size, top - rows * size
    cells = shapely.box(x0, y1 - size, x0 + size, y1)
    touched = shapely.intersects(cells, geometry) & ~shapely.touches(cells, geometry)
    centres = shapely.contains_xy(geometry, x0 + size / 2, y1 - size / 2)
    return int((touched & ~centres).sum())


def _polygon_in(conn: psycopg.Connection, polygon_id: int, srid: int) -> shapely.Geometry:
    row = conn.execute("SELECT ST_AsBinary(sclzonal.polygon_in_srid(geom, %s))"
                       " FROM sclzonal.polygon WHERE id = %s", (srid, polygon_id)).fetchone()
    assert row is not None
    return shapely.from_wkb(bytes(row[0]))


def summary(comparisons: list[Comparison]) -> str:
    """One line: how many comparisons came out which way."""
    outcomes = Counter(c.outcome for c in comparisons)
    edge = sum(c.outcome == "different" and "the edge rule" in c.detail
               and "not the edge rule" not in c.detail for c in comparisons)
    polygons = len({c.observation.polygon_id for c in comparisons})
    return (f"{len(comparisons)} observations of {polygons} polygons: {outcomes['equal']} equal, "
            f"{outcomes['different']} different ({edge} by the edge rule), "
            f"{outcomes['not_comparable']} not comparable")
