"""Counting on a Dask cluster: `sclzonal refresh --scheduler tcp://HOST:8786`.

The refresh finds the pending pairs as always (pairs.pending_pairs), then sends one task per
scene grid to the cluster's workers. A task connects to the database itself, makes or reads the
grid's pixel maps, reads each scene's tiles once and stores the counts with the same code and
the same binary COPY as an in-process refresh (pairs.count_scenes), so the stored rows are the
same. One task per grid: the pixel maps of a grid are written by one worker only, and a scene
is read once. When every task has finished, the refresh marks the scenes counted, as in process;
when a task fails, the refresh waits for the others, keeps what they stored, marks nothing and
fails with the worker's message: the next refresh counts the rest.

Workers need the project installed (the same version), and must reach the database at the URL
the refresh was given (a host name the workers can resolve, not a local socket).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg

from sclzonal.counting import DEFAULT_COUNT_BATCH
from sclzonal.counting.pairs import IdArray, PendingPairs, count_scenes, mark_counted, scene_grids
from sclzonal.db.connection import connect
from sclzonal.errors import UserError, first_line, redact


def count_grid_task(conninfo: str, by_scene: dict[int, IdArray], batch_size: int) -> int:
    """Run on a worker: count and store the pairs of the scenes of one grid; return how many."""
    with connect(conninfo, autocommit=True) as conn:
        return count_scenes(conn, by_scene, batch_size=batch_size)


def scenes_by_grid(conn: psycopg.Connection, pending: PendingPairs) -> list[dict[int, IdArray]]:
    """Return the pending pairs split into one part per grid, largest first."""
    grids = scene_grids(conn, list(pending.by_scene))
    parts: dict[int, dict[int, IdArray]] = {}
    for scene, ids in pending.by_scene.items():
        parts.setdefault(grids[scene][0], {})[scene] = ids
    return sorted(parts.values(), key=lambda part: -sum(len(ids) for ids in part.values()))


def count_new_pairs_on_dask(conn: psycopg.Connection, conninfo: str, pending: PendingPairs,
                            scheduler: str, *, batch_size: int = DEFAULT_COUNT_BATCH,
                            on_pairs: Callable[[int], object] | None = None) -> int:
    """Count the pending pairs on the Dask cluster at `scheduler`; return the number stored."""
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise UserError("--scheduler needs Dask distributed: pip install 'sclzonal[dask]'") from None
    parts = scenes_by_grid(conn, pending)
    stored = 0
    if parts:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise UserError(f"cannot reach the Dask scheduler at {scheduler}: "
                            f"{first_line(exc)}") from None
        with client:
            futures: dict[Any, int] = {
                client.submit(count_grid_task, conninfo, part, batch_size, pure=False):
                    sum(len(ids) for ids in part.values())
                for part in parts}
            # Every task is waited for, also after one failed: a task cannot be stopped once
            # a worker runs it, and one still writing counts after this refresh has ended
            # would collide with the next refresh.
            failure: BaseException | None = None
            for future in as_completed(futures):
                try:
                    stored += int(future.result())
                except Exception as exc:  # a worker's error, raised again here
                    failure = failure or exc
                    continue
                if on_pairs is not None:
                    on_pairs(futures[future])
            if failure is not None:
                raise UserError(f"counting on the Dask cluster failed: "
                                f"{redact(first_line(failure))}")
    mark_counted(conn, pending)
    return stored
