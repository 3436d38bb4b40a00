"""Count SCL classes per polygon for new (polygon, scene) pairs and store them in counted_pair.

The pixel runs of each polygon on a grid (sclzonal.pixel_spans) are computed once and kept in
sclzonal.pixel_map, so a new scene on a known grid only reads its tiles and counts. A scene's
tiles are read once as raw WKB. The counts of a batch of polygons are written in one
transaction with binary COPY; a polygon whose geometry changed while it was being counted is
left for the next refresh: its geometry version (polygon.changed_seq, which only a new geometry
advances) is checked when the counts are written, and a new geometry takes a change number above
the watermark this refresh marks its scenes with. Attribute-only edits change nothing here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import psycopg
import shapely

from sclzonal.counting import DEFAULT_COUNT_BATCH
from sclzonal.counting.copy_binary import copy_integer_columns, copy_rows
from sclzonal.counting.pixel_spans import Grid, PixelSpans, count_classes, spans_and_expected
from sclzonal.db.scl_classes import CLASS_COLUMNS
from sclzonal.ingest.raster_wkb import read_tile

_SPAN = np.dtype("<i4")

IdArray = npt.NDArray[np.int64]


@dataclass
class PolygonBatch:
    """Polygons counted together: ids, geometry versions, pixel runs on one grid, expected pixels."""

    ids: IdArray
    versions: IdArray
    spans: PixelSpans
    expected: IdArray
    """Pixel centres inside each polygon on the grid extended without bound (coverage's divisor)."""


@dataclass
class PendingPairs:
    """The pairs a refresh must count, per scene, and the polygon change number they cover."""

    watermark: int
    by_scene: dict[int, IdArray]
    scenes_seen: list[int]

    @property
    def pairs(self) -> int:
        """Return the number of pending pairs."""
        return sum(len(ids) for ids in self.by_scene.values())


def pending_pairs(conn: psycopg.Connection) -> PendingPairs:
    """Find the (polygon, scene) pairs whose counts are not stored.

    A scene is only looked at for polygons changed since it was last fully counted
    (polygon.changed_seq > scene.counted_seq), so the work does not grow with the history. The
    SHARE lock waits for polygon writes in progress, so no change can commit later with a lower
    number than the watermark read here.
    """
    with conn.transaction():
        conn.execute("LOCK TABLE sclzonal.polygon IN SHARE MODE")
        row = conn.execute("SELECT coalesce(max(changed_seq), 0) FROM sclzonal.polygon").fetchone()
        watermark = int(row[0]) if row else 0
        scenes = conn.execute("SELECT id, counted_seq < %s, ST_NumGeometries(footprint) = 1"
                              " FROM sclzonal.scene ORDER BY id", (watermark,)).fetchall()
        by_scene: dict[int, IdArray] = {}
        for scene_id, behind, one_part in scenes:
            if not behind:
                continue
            # a footprint in two parts (across the antimeridian) has a box around the world
            rows = conn.execute(
                """
                SELECT p.id FROM sclzonal.scene AS s
                JOIN sclzonal.polygon AS p
                  ON p.geom && s.footprint AND p.changed_seq > s.counted_seq
                 AND (%(one_part)s OR ST_Intersects(p.geom, s.footprint))
                WHERE s.id = %(scene)s AND NOT EXISTS (
                    SELECT 1 FROM sclzonal.counted_pair AS cp
                    WHERE cp.polygon_id = p.id AND cp.scene_id = s.id)
                ORDER BY p.id
                """, {"scene": scene_id, "one_part": bool(one_part)}).fetchall()
            if rows:
                by_scene[int(scene_id)] = np.array([r[0] for r in rows], dtype=np.int64)
    return PendingPairs(watermark, by_scene, [int(row[0]) for row in scenes])


def mark_counted(conn: psycopg.Connection, pending: PendingPairs) -> None:
    """Record that the scenes seen are counted for every polygon up to the watermark."""
    conn.execute("UPDATE sclzonal.scene SET counted_seq = %s WHERE id = ANY(%s) AND counted_seq < %s",
                 (pending.watermark, pending.scenes_seen, pending.watermark))


def scene_grids(conn: psycopg.Connection, scene_ids: list[int]) -> dict[int, tuple[int, Grid]]:
    """Return (grid id, grid) of each scene."""
    rows = conn.execute(
        "SELECT s.id, g.id, g.srid, g.upper_left_x, g.upper_left_y, g.pixel_size_x,"
        " g.pixel_size_y, g.width, g.height FROM sclzonal.scene AS s"
        " JOIN sclzonal.scene_grid AS g ON g.id = s.grid_id WHERE s.id = ANY(%s)", (scene_ids,)
    ).fetchall()
    return {int(row[0]): (int(row[1]), Grid(*row[2:])) for row in rows}


@dataclass
class _MapPart:
    """Pixel runs of some polygons: ids, geometry versions, expected pixels, runs per polygon, runs
    (row, start, end)."""

    ids: IdArray
    versions: IdArray
    expected: IdArray
    run_counts: IdArray
    runs: npt.NDArray[np.int32]

    def subset(self, keep: npt.NDArray[np.bool_]) -> _MapPart:
        """Return the part of the polygons whose entry in `keep` is True."""
        run_keep = np.repeat(keep, self.run_counts)
        return _MapPart(self.ids[keep], self.versions[keep], self.expected[keep],
                        self.run_counts[keep], self.runs[run_keep])


def _stored_map(conn: psycopg.Connection, grid_id: int, ids: IdArray) -> _MapPart:
    """Return the pixel runs stored for polygons whose geometry version still matches (maps made
    before revision 0007, without expected pixels, are not used)."""
    with conn.cursor(binary=True) as cursor:
        cursor.execute(
            # one row of five aggregates over the same rows: their orders agree
            "SELECT array_agg(m.polygon_id), array_agg(m.polygon_version),"
            " array_agg(m.expected_pixels::bigint), array_agg(length(m.spans)),"
            " string_agg(m.spans, ''::bytea)"
            " FROM sclzonal.pixel_map AS m JOIN sclzonal.polygon AS p"
            "   ON p.id = m.polygon_id AND p.changed_seq = m.polygon_version"
            " WHERE m.grid_id = %s AND m.polygon_id BETWEEN %s AND %s"
            "   AND m.expected_pixels IS NOT NULL",
            (grid_id, int(ids.min()), int(ids.max())))
        row = cursor.fetchone()
    if row is None or row[0] is None:
        empty = np.zeros(0, dtype=np.int64)
        return _MapPart(empty, empty, empty, empty, np.zeros((0, 3), dtype=np.int32))
    part = _MapPart(np.array(row[0], dtype=np.int64), np.array(row[1], dtype=np.int64),
                    np.array(row[2], dtype=np.int64),
                    np.array(row[3], dtype=np.int64) // (3 * _SPAN.itemsize),
                    np.frombuffer(row[4] or b"", dtype=_SPAN).reshape(-1, 3))
    return part.subset(np.isin(part.ids, ids))


def _compute_map(conn: psycopg.Connection, grid_id: int, grid: Grid, ids: IdArray) -> _MapPart:
    """Compute the pixel runs and expected pixels of polygons on a grid; store them in pixel_map.

    Polygons PROJ cannot transform into the grid's CRS are left out and recorded in
    uncountable_polygon with the reason (see _projected).
    """
    rows = _projected(conn, grid_id, grid, ids)
    found = np.array([row[0] for row in rows], dtype=np.int64)
    versions = np.array([row[1] for row in rows], dtype=np.int64)
    spans, expected = spans_and_expected(shapely.from_wkb([bytes(row[2]) for row in rows]), grid)
    runs = np.stack([spans.row, spans.col_start, spans.col_end], axis=1).astype(_SPAN)
    run_counts = np.bincount(spans.polygon, minlength=len(rows)).astype(np.int64)
    bounds = np.concatenate([[0], np.cumsum(run_counts)])
    with conn.transaction():
        conn.execute("DELETE FROM sclzonal.pixel_map WHERE grid_id = %s AND polygon_id = ANY(%s)",
                     (grid_id, found.tolist()))
        copy_rows(conn, "sclzonal.pixel_map",
                  ["grid_id", "polygon_id", "polygon_version", "expected_pixels", "spans"],
                  ["int4", "int8", "int8", "int4", "bytea"],
                  ((grid_id, int(found[i]), int(versions[i]), int(expected[i]),
                    runs[bounds[i]:bounds[i + 1]].tobytes()) for i in range(len(rows))))
    return _MapPart(found, versions, expected, run_counts, runs)


def _projected(conn: psycopg.Connection, grid_id: int, grid: Grid,
               ids: IdArray) -> list[tuple[int, int, bytes]]:
    """Return (id, changed_seq, WKB in the grid's CRS) of the polygons that can be transformed.

    One query for the batch (sclzonal.polygon_in_srid, sql/polygon_projection.sql). When PROJ
    refuses some polygon, the batch is asked again polygon by polygon: the others are returned,
    and each refused one is recorded in uncountable_polygon with PROJ's message, so one polygon
    never stops the counting of the rest.
    """
    with conn.cursor(binary=True) as cursor:
        try:
            cursor.execute(
                "SELECT id, changed_seq, ST_AsBinary(sclzonal.polygon_in_srid(geom, %s))"
                " FROM sclzonal.polygon WHERE id = ANY(%s) ORDER BY id", (grid.srid, ids.tolist()))
            return [(int(r[0]), int(r[1]), bytes(r[2])) for r in cursor.fetchall()]
        except psycopg.errors.QueryCanceled:
            raise
        except (psycopg.errors.InternalError_, psycopg.errors.DataException):
            pass
        # each polygon transformed once (OFFSET 0 keeps the subquery from being inlined);
        # PROJ's message asked for only where that failed
        rows = cursor.execute(
            "SELECT p.id, p.changed_seq, ST_AsBinary(t.geom),"
            " CASE WHEN t.geom IS NULL THEN sclzonal.polygon_projection_problem(p.geom, %(srid)s) END"
            " FROM sclzonal.polygon AS p CROSS JOIN LATERAL ("
            "   SELECT sclzonal.polygon_in_srid_or_null(p.geom, %(srid)s) AS geom OFFSET 0) AS t"
            " WHERE p.id = ANY(%(ids)s) ORDER BY p.id",
            {"srid": grid.srid, "ids": ids.tolist()}).fetchall()
    refused = [(int(r[0]), grid_id, int(r[1]), str(r[3])) for r in rows if r[2] is None]
    with conn.transaction():
        conn.execute("DELETE FROM sclzonal.uncountable_polygon WHERE grid_id = %s"
                     " AND polygon_id = ANY(%s)", (grid_id, [r[0] for r in refused]))
        copy_rows(conn, "sclzonal.uncountable_polygon",
                  ["polygon_id", "grid_id", "polygon_version", "reason"],
                  ["int8", "int4", "int8", "text"], refused)
    return [(int(r[0]), int(r[1]), bytes(r[2])) for r in rows if r[2] is not None]


def polygon_batch(conn: psycopg.Connection, grid_id: int, grid: Grid, ids: IdArray) -> PolygonBatch:
    """Return the pixel runs of polygons on a grid, from pixel_map or computed and stored."""
    parts = [_stored_map(conn, grid_id, ids)]
    missing = np.setdiff1d(ids, parts[0].ids)
    if len(missing):
        parts.append(_compute_map(conn, grid_id, grid, missing))
    merged = _MapPart(*(np.concatenate([getattr(p, name) for p in parts])
                        for name in ("ids", "versions", "expected", "run_counts", "runs")))
    runs = merged.runs.astype(np.int64)
    spans = PixelSpans(np.repeat(np.arange(len(merged.ids)), merged.run_counts),
                       runs[:, 0], runs[:, 1], runs[:, 2])
    return PolygonBatch(merged.ids, merged.versions, spans, merged.expected)


def scene_pixels(conn: psycopg.Connection, scene_id: int, grid: Grid) -> npt.NDArray[np.uint8]:
    """Return a scene's SCL band as one array on its grid (255 where it has no tile)."""
    with conn.cursor(binary=True) as cursor:
        tiles = cursor.execute("SELECT rast::bytea FROM sclzonal.scene_tile WHERE scene_id = %s",
                               (scene_id,)).fetchall()
    pixels = np.empty((grid.height, grid.width), dtype=np.uint8)
    covered = sum(_paste_tile(pixels, memoryview(wkb), grid) for (wkb,) in tiles)
    if covered != pixels.size:  # tiles missing or overlapping: start again from nodata
        pixels.fill(255)
        for (wkb,) in tiles:
            _paste_tile(pixels, memoryview(wkb), grid)
    return pixels


def _paste_tile(pixels: npt.NDArray[np.uint8], wkb: memoryview, grid: Grid) -> int:
    """Copy a tile's pixels into the scene array; return how many pixels it holds."""
    tile = read_tile(wkb)
    if tile.scale_x != grid.pixel_size_x or tile.scale_y != grid.pixel_size_y:
        raise ValueError("scene tile is not on its scene's grid")
    col = round((tile.upper_left_x - grid.upper_left_x) / grid.pixel_size_x)
    row = round((tile.upper_left_y - grid.upper_left_y) / grid.pixel_size_y)
    height, width = tile.pixels.shape
    pixels[row : row + height, col : col + width] = tile.pixels
    return int(width * height)


def store_counts(conn: psycopg.Connection, scene_id: int, batch: PolygonBatch,
                 counts: npt.NDArray[np.int64], keep: npt.NDArray[np.bool_]) -> int:
    """Insert the counts of the kept polygons of a batch; return how many rows were written.

    While the rows are written, polygons cannot change (SHARE lock on the table; readers are
    not blocked) and the scene cannot be deleted (KEY SHARE on its row). A polygon whose geometry
    version (changed_seq) differs from the one its counts were made from is skipped: its new
    geometry has a change number above the watermark, so the next refresh counts it again.
    """
    with conn.transaction():
        conn.execute("LOCK TABLE sclzonal.polygon IN SHARE MODE")
        if conn.execute("SELECT 1 FROM sclzonal.scene WHERE id = %s FOR KEY SHARE",
                        (scene_id,)).fetchone() is None:
            return 0
        ids = batch.ids[keep]
        with conn.cursor(binary=True) as cursor:
            cursor.execute("SELECT id, changed_seq FROM sclzonal.polygon"
                           " WHERE id BETWEEN %s AND %s ORDER BY id",
                           (int(ids.min()), int(ids.max())))
            current = np.array(cursor.fetchall(), dtype=np.int64).reshape(-1, 2)
        position = np.clip(np.searchsorted(current[:, 0], batch.ids), 0, max(len(current) - 1, 0))
        unchanged = (current[position, 0] == batch.ids) & (current[position, 1] == batch.versions) \
            if len(current) else np.zeros(len(batch.ids), dtype=bool)
        write = keep & unchanged
        scene = np.full(int(write.sum()), scene_id, dtype=np.int64)
        copy_integer_columns(
            conn, "sclzonal.counted_pair",
            [("polygon_id", batch.ids[write], "int8"), ("scene_id", scene, "int8"),
             ("expected_pixels", batch.expected[write], "int4")]
            + [(name, counts[write, k], "int4") for k, name in enumerate(CLASS_COLUMNS)],
        )
        return int(write.sum())


def count_new_pairs(conn: psycopg.Connection, pending: PendingPairs, *,
                    batch_size: int = DEFAULT_COUNT_BATCH,
                    on_pairs: Callable[[int], object] | None = None) -> int:
    """Count and store the pending pairs (from pending_pairs); return the number stored."""
    stored = count_scenes(conn, pending.by_scene, batch_size=batch_size, on_pairs=on_pairs)
    mark_counted(conn, pending)
    return stored


def count_scenes(conn: psycopg.Connection, by_scene: dict[int, IdArray], *,
                 batch_size: int = DEFAULT_COUNT_BATCH,
                 on_pairs: Callable[[int], object] | None = None) -> int:
    """Count and store the given polygons of each scene; return the number of pairs stored.

    Scenes are taken grid by grid: the pixel runs of a grid's polygons are made (or read from
    pixel_map) once and serve each of its scenes, whose tiles are read once.
    """
    grids = scene_grids(conn, list(by_scene))
    stored = 0
    batches: dict[int, list[PolygonBatch]] = {}
    for scene in sorted(by_scene, key=lambda scene: (grids[scene][0], scene)):
        grid_id, grid = grids[scene]
        if grid_id not in batches:
            batches = {grid_id: _grid_batches(conn, grid_id, grid, by_scene, grids, batch_size)}
        pixels = scene_pixels(conn, scene, grid)
        for batch in batches[grid_id]:
            keep = np.isin(batch.ids, by_scene[scene])
            if not keep.any():
                continue
            counts = count_classes(batch.spans.of_polygons(keep), len(batch.ids), pixels)
            stored += store_counts(conn, scene, batch, counts, keep)
            if on_pairs is not None:
                on_pairs(int(keep.sum()))
        del pixels
    return stored


def _grid_batches(conn: psycopg.Connection, grid_id: int, grid: Grid,
                  pending: dict[int, IdArray], grids: dict[int, tuple[int, Grid]],
                  batch_size: int) -> list[PolygonBatch]:
    """Return the pixel runs, in batches, of every polygon pending on some scene of a grid."""
    scenes = [scene for scene, (gid, _) in grids.items() if gid == grid_id]
    polygon_ids = np.unique(np.concatenate([pending[scene] for scene in scenes]))
    return [polygon_batch(conn, grid_id, grid, polygon_ids[i : i + batch_size])
            for i in range(0, len(polygon_ids), batch_size)]


def fill_missing_coverage(conn: psycopg.Connection, *, batch_size: int = DEFAULT_COUNT_BATCH,
                          on_pairs: Callable[[int], object] | None = None) -> int:
    """Store expected_pixels for counted pairs that lack it; return how many rows got it.

    Pairs counted before revision 0007 have counts but no expected pixels (NULL). The expected
    pixels depend only on the polygon and the scene's grid, so they come from the pixel map
    (computed and stored here when missing), without reading any tile.
    """
    rows = conn.execute(
        "SELECT s.grid_id, array_agg(DISTINCT cp.polygon_id ORDER BY cp.polygon_id)"
        " FROM sclzonal.counted_pair AS cp JOIN sclzonal.scene AS s ON s.id = cp.scene_id"
        " WHERE cp.expected_pixels IS NULL GROUP BY s.grid_id ORDER BY s.grid_id").fetchall()
    if not rows:
        return 0
    grids = {int(row[0]): Grid(*row[1:]) for row in conn.execute(
        "SELECT id, srid, upper_left_x, upper_left_y, pixel_size_x, pixel_size_y, width, height"
        " FROM sclzonal.scene_grid WHERE id = ANY(%s)", ([int(grid_id) for grid_id, _ in rows],))}
    filled = 0
    for grid_id, polygon_ids in rows:
        ids = np.array(polygon_ids, dtype=np.int64)
        for start in range(0, len(ids), batch_size):
            batch = polygon_batch(conn, int(grid_id), grids[int(grid_id)], ids[start:start + batch_size])
            with conn.transaction():
                done = conn.execute(
                    "UPDATE sclzonal.counted_pair AS cp SET expected_pixels = v.expected"
                    " FROM unnest(%s::bigint[], %s::integer[]) AS v(polygon_id, expected),"
                    "      sclzonal.scene AS s"
                    " WHERE cp.polygon_id = v.polygon_id AND cp.scene_id = s.id AND s.grid_id = %s"
                    "   AND cp.expected_pixels IS NULL",
                    (batch.ids.tolist(), batch.expected.tolist(), int(grid_id)))
                filled += done.rowcount
            if on_pairs is not None:
                on_pairs(len(batch.ids))
    return filled
