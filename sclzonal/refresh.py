"""`sclzonal refresh`: count the new (polygon, scene) pairs, then refresh the verdicts.

Counts come from the view sclzonal.zonal_class_counts (ST_Clip + ST_ValueCount) and are stored in
sclzonal.class_count; sclzonal.counted_pair records which pairs are done, so a pair is never
counted twice. The verdict materialized view is refreshed CONCURRENTLY: readers are never blocked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

REFRESH_LOCK_KEY = 0x5C12_0001
"""Advisory lock key held by a running refresh, so two refreshes never overlap."""

DEFAULT_BATCH = 500


@dataclass
class RefreshReport:
    """What a refresh did and how long it took."""

    scenes: int = 0
    pairs_counted: int = 0
    count_seconds: float = 0.0
    verdict_seconds: float = 0.0


def pending_pairs(conn: psycopg.Connection) -> list[tuple[int, list[int]]]:
    """Return, per scene, the polygons whose counts on it are not stored yet."""
    rows = conn.execute(
        """
        SELECT s.id, array_agg(p.id ORDER BY p.id)
        FROM sclzonal.scene AS s
        JOIN sclzonal.polygon AS p ON p.geom && s.footprint
        WHERE NOT EXISTS (
            SELECT 1 FROM sclzonal.counted_pair AS cp
            WHERE cp.polygon_id = p.id AND cp.scene_id = s.id)
        GROUP BY s.id
        ORDER BY s.id
        """
    ).fetchall()
    return [(int(scene_id), list(polygon_ids)) for scene_id, polygon_ids in rows]


def count_pairs(conn: psycopg.Connection, scene_id: int, polygon_ids: list[int]) -> None:
    """Store the class counts of some polygons on one scene, in one transaction."""
    with conn.transaction():
        # A clip holding no pixel centre makes PostGIS print a NOTICE per tile: keep them quiet.
        conn.execute("SET LOCAL client_min_messages = warning")
        conn.execute(
            """
            INSERT INTO sclzonal.class_count (polygon_id, scene_id, class, pixels)
            SELECT polygon_id, scene_id, class, pixels
            FROM sclzonal.zonal_class_counts
            WHERE scene_id = %s AND polygon_id = ANY(%s)
            """,
            (scene_id, polygon_ids),
        )
        conn.execute(
            "INSERT INTO sclzonal.counted_pair (polygon_id, scene_id)"
            " SELECT unnest(%s::bigint[]), %s",
            (polygon_ids, scene_id),
        )


def refresh_verdicts(conn: psycopg.Connection) -> None:
    """Refresh sclzonal.polygon_verdict without blocking its readers."""
    with conn.transaction():
        conn.execute("REFRESH MATERIALIZED VIEW CONCURRENTLY sclzonal.polygon_verdict")


def refresh(
    conn: psycopg.Connection,
    *,
    batch_size: int = DEFAULT_BATCH,
    on_start: Callable[[int], object] | None = None,
    on_pairs: Callable[[int], object] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> RefreshReport:
    """Count every pending pair in batches, then refresh the verdicts; one refresh at a time.

    `conn` must be in autocommit mode: each batch is its own transaction.
    """
    report = RefreshReport()
    locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (REFRESH_LOCK_KEY,)).fetchone()
    if not (locked and locked[0]):
        if on_wait is not None:
            on_wait()
        conn.execute("SELECT pg_advisory_lock(%s)", (REFRESH_LOCK_KEY,))
    try:
        started = time.perf_counter()
        pending = pending_pairs(conn)
        report.scenes = len(pending)
        if on_start is not None:
            on_start(sum(len(ids) for _, ids in pending))
        for scene_id, polygon_ids in pending:
            for start in range(0, len(polygon_ids), batch_size):
                batch = polygon_ids[start : start + batch_size]
                count_pairs(conn, scene_id, batch)
                report.pairs_counted += len(batch)
                if on_pairs is not None:
                    on_pairs(len(batch))
        report.count_seconds = time.perf_counter() - started
        started = time.perf_counter()
        refresh_verdicts(conn)
        report.verdict_seconds = time.perf_counter() - started
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (REFRESH_LOCK_KEY,))
    return report
