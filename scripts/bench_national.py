"""`scripts/bench --national`: parcels over many tiles and a season of scenes.

Generates (fixed seed) POLYGONS field polygons over a row of TILES Sentinel-2-like tiles in UTM
zone 33 (each its own grid, neighbours overlapping by a tenth, so parcels there have two scenes
a date) and DATES acquisition dates five days apart, a scene per tile and date. Then measures,
on one server: the polygon load (time, peak memory); for each date in turn, `scl load` of its
scenes one by one, each followed by a refresh whose counting and verdict steps are timed
separately (with the temporary bytes PostgreSQL wrote), which gives the curve of refresh time
against history; a CSV export (time,
peak memory); the database's size; and the counting of the last date again on a Dask
LocalCluster with two worker processes against in-process counting of the same pairs (the
stored rows compared).
"""

from __future__ import annotations

import datetime as dt
import subprocess
import time
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from affine import Affine
from bench_support import _write_polygons, replace_marked_block, timed_process

from sclzonal.counting.pairs import count_new_pairs, pending_pairs
from sclzonal.counting.refresh import refresh_verdicts
from sclzonal.db import migrate
from sclzonal.demo.data import field_polygons, scl_scene_array, write_scl_geotiff

ORIGIN = (300000.0, 5200020.0)
FIRST_DAY = dt.date(2024, 4, 1)
def _temp_bytes(conn: psycopg.Connection) -> int:
    row = conn.execute("SELECT temp_bytes FROM pg_stat_database"
                       " WHERE datname = current_database()").fetchone()
    return int(row[0]) if row else 0


def generate_national(work: Path, *, seed: int, polygons: int, tiles: int, dates: int,
                      size: int, pixel: float) -> tuple[Path, list[list[Path]]]:
    """Write (or reuse) the polygons and the scenes, per date a list of one scene per tile."""
    work.mkdir(parents=True, exist_ok=True)
    stamp = work / "parameters.txt"
    parameters = f"{seed} {polygons} {tiles} {dates} {size} {pixel}\n"
    step = size * pixel * 0.9  # neighbours overlap by a tenth
    transforms = [Affine(pixel, 0, ORIGIN[0] + t * step, 0, -pixel, ORIGIN[1]) for t in range(tiles)]
    days = [FIRST_DAY + dt.timedelta(days=5 * d) for d in range(dates)]
    scenes = [[work / f"T{t:02d}_{day.isoformat()}.tif" for t in range(tiles)] for day in days]
    fields = work / "fields_4326.gpkg"
    if stamp.exists() and stamp.read_text() == parameters:
        return fields, scenes
    bounds = (ORIGIN[0], ORIGIN[1] - size * pixel, ORIGIN[0] + step * (tiles - 1) + size * pixel,
              ORIGIN[1])
    rng = np.random.default_rng(seed)
    _write_polygons(fields, field_polygons(bounds, "EPSG:32633", polygons, rng), "EPSG:4326")
    for d, day in enumerate(days):
        for t, transform in enumerate(transforms):
            array = scl_scene_array((size, size), np.random.default_rng(seed + 1000 * d + t),
                                    cloud_cover=0.05 + 0.3 * ((d * 7 + t) % 5) / 4)
            write_scl_geotiff(scenes[d][t], array, "EPSG:32633", transform, day)
    stamp.write_text(parameters)
    return fields, scenes


def bench_national(server_url_for: Any, sclzonal: str, work: Path, *, seed: int, polygons: int,
                   tiles: int, dates: int, size: int, pixel: float) -> dict[str, Any]:
    """Run the national benchmark; return its results (see the module's docstring)."""
    fields, scenes = generate_national(work, seed=seed, polygons=polygons, tiles=tiles,
                                       dates=dates, size=size, pixel=pixel)
    url = server_url_for("sclzonal_bench_national")
    migrate.upgrade(url)
    cli = [sclzonal, "--database-url", url, "-q"]
    load_seconds, load_peak = timed_process(*cli, "polygons", "load", str(fields))
    results: dict[str, Any] = {
        "parameters": {"polygons": polygons, "tiles": tiles, "dates": dates,
                       "tile": f"{size} x {size} at {pixel:g} m"},
        "load": {"seconds": load_seconds, "peak MiB": load_peak}, "per date": []}
    with psycopg.connect(url, autocommit=True) as conn:
        scene_number = 0
        for day, day_scenes in enumerate(scenes, start=1):
            for scene in day_scenes:
                scene_number += 1
                started = time.perf_counter()
                subprocess.run([*cli, "scl", "load", str(scene)], check=True, capture_output=True)
                scl_load = time.perf_counter() - started
                pending = pending_pairs(conn)
                started = time.perf_counter()
                pairs = count_new_pairs(conn, pending)
                counting = time.perf_counter() - started
                temp_before = _temp_bytes(conn)
                started = time.perf_counter()
                decided = refresh_verdicts(conn)
                verdicts = time.perf_counter() - started
                results["per date"].append({
                    "scene": scene_number, "date": day, "scl load s": scl_load, "pairs": pairs,
                    "counting s": counting, "verdicts s": verdicts, "polygons decided": decided,
                    "temp MiB": (_temp_bytes(conn) - temp_before) / 2**20})
                print(f"national: scene {scene_number} (date {day}): {pairs} pairs counted in "
                      f"{counting:.1f} s, verdicts of {decided} polygons in {verdicts:.1f} s",
                      flush=True)
        stored = conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone()
        size_row = conn.execute("SELECT pg_database_size(current_database())").fetchone()
        results["stored pairs"] = int(stored[0]) if stored else 0
        results["database MiB"] = (int(size_row[0]) if size_row else 0) / 2**20
        export_seconds, export_peak = timed_process(*cli, "verdicts", "--format", "csv",
                                                     "--output", str(work / "verdicts.csv"))
        results["export csv"] = {"seconds": export_seconds, "peak MiB": export_peak}
        last_date = [row for row in results["per date"] if row["date"] == len(scenes)]
        results["dask"] = _dask_against_in_process(
            conn, url, sum(row["counting s"] for row in last_date))
    return results


def _dask_against_in_process(conn: psycopg.Connection, url: str,
                             in_process_seconds: float) -> dict[str, Any]:
    """Count the last date's pairs again on a LocalCluster of 2 workers; compare the rows."""
    from distributed import LocalCluster

    from sclzonal.counting.distributed import count_new_pairs_on_dask

    query = ("SELECT cp.polygon_id, cp.scene_id, cp.expected_pixels, "
             + ", ".join(f"cp.class_{k}" for k in range(12))
             + " FROM sclzonal.counted_pair AS cp JOIN sclzonal.scene AS s"
             " ON s.id = cp.scene_id WHERE s.acquired_on = (SELECT max(acquired_on)"
             " FROM sclzonal.scene) ORDER BY 1, 2")
    before = conn.execute(query).fetchall()
    conn.execute("DELETE FROM sclzonal.counted_pair AS cp USING sclzonal.scene AS s"
                 " WHERE s.id = cp.scene_id AND s.acquired_on = (SELECT max(acquired_on)"
                 " FROM sclzonal.scene)")
    conn.execute("UPDATE sclzonal.scene SET counted_seq = 0 WHERE acquired_on ="
                 " (SELECT max(acquired_on) FROM sclzonal.scene)")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        pending = pending_pairs(conn)
        started = time.perf_counter()
        pairs = count_new_pairs_on_dask(conn, url, pending, str(cluster.scheduler_address))
        seconds = time.perf_counter() - started
    after = conn.execute(query).fetchall()
    refresh_verdicts(conn)
    return {"pairs": pairs, "dask 2 workers s": seconds,
            "in process s": in_process_seconds, "rows equal": before == after}


def national_table(results: dict[str, Any]) -> str:
    """Return the national benchmark's results as Markdown."""
    p = results["parameters"]
    rows = results["per date"]
    lines = [f"{p['polygons']:,} polygons over {p['tiles']} tiles ({p['tile']}), "
             f"{p['dates']} dates, a refresh after each scene; {results['stored pairs']:,} "
             "stored pairs at the end.", "",
             "| refresh after scene | date | pairs counted | counting | verdicts | polygons decided "
             "| temp files |", "|---|---|---|---|---|---|---|"]
    shown = ({1, 2, 10, p["tiles"], p["tiles"] + 1, len(rows)}
             | set(range(p["tiles"], len(rows), 2 * p["tiles"])))
    for row in rows:
        if row["scene"] in shown:
            lines.append(f"| {row['scene']} | {row['date']} | {row['pairs']:,} | "
                         f"{row['counting s']:.1f} s | {row['verdicts s']:.1f} s | "
                         f"{row['polygons decided']:,} | {row['temp MiB']:.0f} MiB |")
    later = rows[p["tiles"]:]  # every polygon has been seen once
    if later:
        lines.append(f"\nAfter the first date ({len(later)} refreshes): verdicts "
                     f"{min(r['verdicts s'] for r in later):.1f}-{max(r['verdicts s'] for r in later):.1f} s,"
                     f" counting {min(r['counting s'] for r in later):.1f}-"
                     f"{max(r['counting s'] for r in later):.1f} s; verdicts / counting "
                     f"{sum(r['verdicts s'] for r in later) / sum(r['counting s'] for r in later):.1f} x.")
    dask = results["dask"]
    lines += ["", "| | value |", "|---|---|",
              f"| polygons load | {results['load']['seconds']:.1f} s, "
              f"peak {results['load']['peak MiB']:.0f} MiB |",
              f"| verdicts export (CSV) | {results['export csv']['seconds']:.1f} s, "
              f"peak {results['export csv']['peak MiB']:.0f} MiB |",
              f"| database size | {results['database MiB']:,.0f} MiB |",
              f"| counting the last date's {p['tiles']} scenes in process, one refresh each | "
              f"{dask['in process s']:.1f} s |",
              f"| the same scenes in one refresh on Dask, 2 local workers | "
              f"{dask['dask 2 workers s']:.1f} s "
              f"(rows equal: {'yes' if dask['rows equal'] else 'NO'}) |"]
    return "\n".join(lines)


def national_plot(results: dict[str, Any], path: Path) -> None:
    """Draw counting and verdict time against the number of dates already stored."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = results["per date"]
    scenes = [row["scene"] for row in rows]
    figure, axis = plt.subplots(figsize=(8, 4))
    axis.plot(scenes, [row["counting s"] for row in rows], marker=".", label="counting")
    axis.plot(scenes, [row["verdicts s"] for row in rows], marker=".", label="verdicts")
    axis.set_xlabel("scenes stored (the refresh after each new scene)")
    axis.set_ylabel("seconds")
    axis.set_ylim(bottom=0)
    axis.legend()
    p = results["parameters"]
    axis.set_title(f"refresh after each scene: {p['polygons']:,} polygons, {p['tiles']} tiles")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_national_docs(results: dict[str, Any], docs: Path) -> None:
    """Put the national tables between their markers in docs/benchmarks.md and draw the curve."""
    page = docs / "benchmarks.md"
    start, end = "<!-- national: written by scripts/bench --national --write-docs -->", \
        "<!-- end of national -->"
    block = f"{start}\n{national_table(results)}\n\n![refresh against history](benchmark-national.png)\n{end}"
    replace_marked_block(page, block, start, end, heading="## National scale\n\n")
    national_plot(results, docs / "benchmark-national.png")
