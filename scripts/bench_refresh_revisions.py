"""The verdict refresh of this revision against the previous revision's, on the same data in one
run (`scripts/bench --refresh-revisions`).

Runs on the database the national benchmark leaves (`scripts/bench --national`, database
sclzonal_bench_national; its generated scenes in the work folder). For each of the last SCENES
scenes: the scene is deleted and its verdicts brought up to date, then loaded and counted again,
so that the refresh after it has that scene's new pairs to add, with the season before it stored.
That refresh then runs three times on the same state, each in its own transaction: once to warm
the caches (rolled back), once with the previous revision's refresh functions (sql/ files as that
revision left them, created inside the transaction and rolled back with it), and once with this
revision's (kept). The two measured runs see the same rows and the same caches.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

import psycopg

from sclzonal.counting.pairs import count_new_pairs, pending_pairs
from sclzonal.counting.refresh import refresh_verdicts
from sclzonal.db import migrate

OLD_REVISION = "0015"
"""The revision whose refresh this one is measured against."""
REFRESH_FILES = ("verdict_views.sql", "verdict_months.sql", "verdict_refresh.sql")
"""The files that make the refresh: scene_verdict, polygon_month_rows and the refresh's functions."""


def _old_refresh_sql() -> bytes:
    """The refresh's files as OLD_REVISION left them (each as the newest revision up to it
    recorded it). They replace this revision's objects as they stand, after the objects whose
    arguments the revisions since changed are dropped (each revision's DROPPED_BEFORE_THE_OLD_FILES,
    which its downgrade runs)."""
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(migrate.alembic_config(""))
    texts = [f"{statement};" for revision in script.iterate_revisions("heads", OLD_REVISION)
             if revision.revision != OLD_REVISION
             for statement in getattr(revision.module, "DROPPED_BEFORE_THE_OLD_FILES", ())]
    texts += [migrate.sql_as_of(script, OLD_REVISION, name) for name in REFRESH_FILES]
    return "\n".join(texts).encode()


def _timed_refresh(conn: psycopg.Connection, *, setup: bytes | None, keep: bool) -> tuple[float, int]:
    with conn.transaction(force_rollback=not keep):
        if setup is not None:
            conn.execute(setup)
        started = time.perf_counter()
        row = conn.execute("SELECT sclzonal.refresh_polygon_verdict()").fetchone()
        return time.perf_counter() - started, int(row[0]) if row else 0


def bench_refresh_revisions(url: str, sclzonal: str, scene_files: list[Path], *,
                            scenes: int) -> list[dict[str, Any]]:
    """Compare the two refreshes after each of the last `scenes` scenes (see the docstring)."""
    by_name = {path.name: path for path in scene_files}
    old_sql = _old_refresh_sql()
    rows = []
    with psycopg.connect(url, autocommit=True) as conn:
        last = conn.execute("SELECT id, reference, acquired_on FROM sclzonal.scene"
                            " ORDER BY id DESC LIMIT %s", (scenes,)).fetchall()
        for scene_id, reference, acquired_on in reversed(last):
            path = by_name.get(Path(reference).name)
            if path is None:
                raise SystemExit(f"bench: the file of scene {scene_id} ({reference}) is not in the "
                                 "work folder: run scripts/bench --national first")
            conn.execute("DELETE FROM sclzonal.scene WHERE id = %s", (scene_id,))
            refresh_verdicts(conn)
            subprocess.run([sclzonal, "--database-url", url, "-q", "scl", "load", str(path)],
                           check=True, capture_output=True)
            started = time.perf_counter()
            pairs = count_new_pairs(conn, pending_pairs(conn))
            counting = time.perf_counter() - started
            _timed_refresh(conn, setup=None, keep=False)
            old_seconds, _ = _timed_refresh(conn, setup=old_sql, keep=False)
            new_seconds, decided = _timed_refresh(conn, setup=None, keep=True)
            row = {"scene": path.name, "date": acquired_on.isoformat(), "pairs": pairs,
                   "counting s": counting, "previous revision s": old_seconds,
                   "this revision s": new_seconds, "polygons decided": decided}
            print(f"refresh revisions: {path.name}: {pairs} pairs counted in {counting:.1f} s; "
                  f"verdicts: revision {OLD_REVISION} {old_seconds:.1f} s, this revision {new_seconds:.1f} s "
                  f"({new_seconds / old_seconds:.2f} x)", flush=True)
            rows.append(row)
    return rows


def refresh_revisions_table(rows: list[dict[str, Any]]) -> str:
    """The comparison as Markdown."""
    lines = [f"| scene | pairs counted | counting | verdicts, revision {OLD_REVISION} | verdicts, "
             f"this revision | this / {OLD_REVISION} | verdicts / counting |",
             "|---|---|---|---|---|---|---|"]
    for row in rows:
        lines.append(f"| {row['scene']} | {row['pairs']:,} | {row['counting s']:.1f} s | "
                     f"{row['previous revision s']:.1f} s | {row['this revision s']:.1f} s | "
                     f"{row['this revision s'] / row['previous revision s']:.2f} | "
                     f"{row['this revision s'] / row['counting s']:.1f} x |")
    return "\n".join(lines)
