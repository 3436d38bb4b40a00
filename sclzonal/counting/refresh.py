"""The refresh: count the new (polygon, scene) pairs, then refresh the verdicts (`sclzonal refresh`).

Counts are computed by sclzonal.counting.pairs (a numpy scanline pixel map reused across the
scenes of a grid) and stored in sclzonal.counted_pair, which a pair enters once; the SQL view
sclzonal.zonal_class_counts (ST_Clip + ST_ValueCount) is their definition. The verdict tables
are then brought up to date for the polygons whose inputs changed (sql/verdict_refresh.sql), in
one transaction: readers see the old verdicts or the new, never a mix, and are never blocked.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psycopg

from sclzonal.counting import DEFAULT_COUNT_BATCH
from sclzonal.counting.pairs import count_new_pairs, fill_missing_coverage, pending_pairs
from sclzonal.db.connection import job_lock
from sclzonal.ingest.scene_identity import drop_tables_of_deleted_scenes


@dataclass
class RefreshReport:
    """What a refresh did and how long it took."""

    scenes: int = 0
    pairs_counted: int = 0
    coverage_filled: int = 0
    """Pairs counted before revision 0007 whose expected pixels this refresh stored."""
    uncountable: list[tuple[int, str, str, int, str]] = field(default_factory=list)
    """Polygons that cannot be counted on some grid: (id, source, source_fid, EPSG code, why)."""
    verdicts_decided: int = 0
    """Polygons whose verdicts this refresh decided again (every polygon after a rule change)."""
    count_seconds: float = 0.0
    verdict_seconds: float = 0.0


def uncountable_polygons(conn: psycopg.Connection) -> list[tuple[int, str, str, int, str]]:
    """Return the polygons whose current geometry could not be counted on some grid."""
    rows = conn.execute(
        "SELECT p.id, p.source, p.source_fid, g.srid, u.reason"
        " FROM sclzonal.uncountable_polygon AS u"
        " JOIN sclzonal.polygon AS p ON p.id = u.polygon_id AND p.changed_seq = u.polygon_version"
        " JOIN sclzonal.scene_grid AS g ON g.id = u.grid_id ORDER BY p.id, g.id").fetchall()
    return [(int(r[0]), str(r[1]), str(r[2]), int(r[3]), str(r[4])) for r in rows]


def refresh_verdicts(conn: psycopg.Connection, *, rebuild: bool = False) -> int:
    """Bring sclzonal.polygon_verdict and polygon_month_verdict up to date; return how many
    polygons were decided again.

    Through sclzonal.refresh_polygon_verdict() (or rebuild_polygon_verdict(), every polygon),
    which re-decides the polygons whose counts, geometry or scenes changed, or all of them after
    a rule change, as the tables' owner, so the loader role needs only EXECUTE on them.
    """
    query = ("SELECT sclzonal.rebuild_polygon_verdict()" if rebuild
             else "SELECT sclzonal.refresh_polygon_verdict()")
    with conn.transaction():
        row = conn.execute(query).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def refresh(
    conn: psycopg.Connection,
    *,
    batch_size: int = DEFAULT_COUNT_BATCH,
    on_start: Callable[[int], object] | None = None,
    on_pairs: Callable[[int], object] | None = None,
    on_wait: Callable[[], object] | None = None,
    recount: bool = False,
    rebuild_verdicts: bool = False,
    wait_seconds: float | None = None,
    scheduler: str | None = None,
    conninfo: str | None = None,
) -> RefreshReport:
    """Count every pending pair, then refresh the verdicts; one refresh at a time.

    `conn` must be in autocommit mode: each batch of counts is its own transaction. A refresh
    killed at any point keeps the batches it stored and the next one counts the rest. With
    `recount`, every pair without stored counts is looked for, not only those of polygons changed
    since a scene was last counted: after restoring a backup without sclzonal.counted_pair, or
    deleting counts by hand; every verdict is then decided again. With `rebuild_verdicts`,
    every verdict is decided again from the definitions instead of those whose inputs changed.
    Waits for a refresh that is running (`on_wait` is called): for ever, or `wait_seconds`, then
    raises JobBusy having done nothing.
    With `scheduler` (a Dask scheduler's address), the counting runs on that cluster's workers,
    which connect with `conninfo` (sclzonal.counting.distributed).
    """
    report = RefreshReport()
    with job_lock(conn, "refresh", wait_seconds=wait_seconds, on_busy=on_wait):
        started = time.perf_counter()
        if recount:
            conn.execute("UPDATE sclzonal.scene SET counted_seq = 0 WHERE counted_seq <> 0")
        pending = pending_pairs(conn)
        report.scenes = len(pending.by_scene)
        if on_start is not None:
            on_start(pending.pairs)
        if scheduler:
            from sclzonal.counting.distributed import count_new_pairs_on_dask

            report.pairs_counted = count_new_pairs_on_dask(
                conn, conninfo or conn.info.dsn, pending, scheduler, batch_size=batch_size,
                on_pairs=on_pairs)
        else:
            report.pairs_counted = count_new_pairs(conn, pending, batch_size=batch_size,
                                                   on_pairs=on_pairs)
        report.coverage_filled = fill_missing_coverage(conn, batch_size=batch_size)
        report.uncountable = uncountable_polygons(conn)
        report.count_seconds = time.perf_counter() - started
        started = time.perf_counter()
        # A recount finds counts that were lost (a backup restored without them, a hand-made
        # deletion) while the verdict tables may still hold what they gave: every verdict is
        # decided again from the definitions, as new counts would be added to those months.
        report.verdicts_decided = refresh_verdicts(conn, rebuild=rebuild_verdicts or recount)
        report.verdict_seconds = time.perf_counter() - started
        drop_tables_of_deleted_scenes(conn)
    return report
