"""Benchmark sclzonal against the other ways of getting per-polygon SCL class counts.

Run through `scripts/bench [--large] [--write-docs]`. Generates (fixed seed) 5490 x 5490 SCL
scenes at 20 m and field polygons of 1-50 ha, then times, on the same files and server:
ingest (sclzonal vs raster2pgsql | psql), counts for all polygons on a new scene (sclzonal vs a
plain ST_Clip + ST_ValueCount query, exactextract, rasterstats, QGIS native:zonalhistogram), and
with --large the verdicts for 100,000 polygons x 10 scenes (all of them decided, then a new scene
over a quarter of the polygons: counting, the verdict refresh that follows, and a full rebuild,
in the same run) and the memory of counting a 10980 x 10980 scene at 10 m. sclzonal's counts are
checked against an independent pixel-centre count (shapely + numpy); a mismatch exits non-zero.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import rasterio
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rasterio.windows import Window

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench_national import bench_national, write_national_docs  # noqa: E402
from bench_qgis_open import bench_qgis_open, qgis_open_report  # noqa: E402
from bench_refresh_revisions import bench_refresh_revisions, refresh_revisions_table  # noqa: E402
from bench_storage import bench_storage, storage_report  # noqa: E402
from bench_support import (  # noqa: E402
    check_counts,
    generate,
    machine_description,
    timed,
    timed_process,
    write_docs,
)

from sclzonal.counting.pairs import count_new_pairs, pending_pairs  # noqa: E402
from sclzonal.counting.refresh import refresh_verdicts  # noqa: E402
from sclzonal.db import migrate  # noqa: E402

QGIS_PROCESS = Path("/usr/bin/qgis_process.bin")
SCLZONAL = str(ROOT / ".venv" / "bin" / "sclzonal")


def median_of(runs: int, prepare: Callable[[], Any], action: Callable[[], Any]) -> float:
    """Return the median time of `action` over `runs` runs, each after `prepare`."""
    times = []
    for _ in range(runs):
        prepare()
        times.append(timed(action))
    return statistics.median(times)


def database_for(server_url: str, name: str) -> str:
    """Create (or re-create) a database on the server of `server_url`; return its URL."""
    params = conninfo_to_dict(server_url)
    with psycopg.connect(make_conninfo(**{**params, "dbname": "postgres"}), autocommit=True) as admin:
        admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    params["dbname"] = name
    return make_conninfo(**params)


def sclzonal_cli(url: str, *args: str) -> None:
    """Run the sclzonal command line as a separate process, as a user would."""
    subprocess.run([SCLZONAL, "--database-url", url, *args],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def raster2pgsql_load(url: str, tifs: list[Path], table: str) -> None:
    """Load rasters with raster2pgsql -t 256x256 -Y piped into psql."""
    loader = subprocess.Popen(["raster2pgsql", "-t", "256x256", "-Y", "-s", "32633",
                               *map(str, tifs), table], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL)
    subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", url], stdin=loader.stdout, check=True,
                   stdout=subprocess.DEVNULL)
    assert loader.stdout is not None
    loader.stdout.close()
    if loader.wait() != 0:
        raise RuntimeError("raster2pgsql failed")


def bench_ingest(url: str, tifs: list[Path], runs: int) -> dict[str, float]:
    """Time loading the scenes with sclzonal and with raster2pgsql | psql."""
    results: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        def clear_scenes() -> None:
            conn.execute("DELETE FROM sclzonal.scene")
            conn.execute("DELETE FROM sclzonal.scene_grid")

        results["sclzonal scl load"] = median_of(
            runs, clear_scenes, lambda: sclzonal_cli(url, "scl", "load", *map(str, tifs)))
        if shutil.which("raster2pgsql") and shutil.which("psql"):
            results["raster2pgsql | psql"] = median_of(
                runs, lambda: conn.execute("DROP TABLE IF EXISTS public.bench_raster2pgsql"),
                lambda: raster2pgsql_load(url, tifs, "public.bench_raster2pgsql"))
            conn.execute("DROP TABLE IF EXISTS public.bench_raster2pgsql")
        clear_scenes()
    return results


def bench_sclzonal_counts(url: str, tifs: list[Path], repeats: int = 5) -> dict[str, float]:
    """Time sclzonal's counting of a first scene (builds the pixel map) and of a later one.

    The later scene is counted `repeats` times (its counts deleted in between); the median is
    reported, as for the other tools.
    """
    results: dict[str, float] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        sclzonal_cli(url, "scl", "load", str(tifs[0]))
        results["sclzonal, first scene on a grid"] = timed(
            lambda: count_new_pairs(conn, pending_pairs(conn)))
        sclzonal_cli(url, "scl", "load", *map(str, tifs[1:]))
        (later,) = conn.execute("SELECT max(id) FROM sclzonal.scene").fetchone() or (0,)

        def forget_later() -> None:
            conn.execute("DELETE FROM sclzonal.counted_pair WHERE scene_id = %s", (later,))
            conn.execute("UPDATE sclzonal.scene SET counted_seq = 0 WHERE id = %s", (later,))

        results["sclzonal, new scene on a known grid"] = median_of(
            repeats, forget_later, lambda: count_new_pairs(conn, pending_pairs(conn)))
    return results


def bench_end_to_end(url: str, scene: Path, runs: int) -> dict[str, float]:
    """Time one new scene end to end as a scheduled job runs it: `scl load` and then `refresh`,
    each a process of its own (start-up included), on a database whose polygons, grid and
    verdicts are up to date; the median of `runs`. Before each run the scene is deleted and the
    verdicts brought up to date, so each run adds the same scene to the same state."""
    with psycopg.connect(url, autocommit=True) as conn:
        def forget_scene() -> None:
            conn.execute("DELETE FROM sclzonal.scene WHERE reference LIKE %s",
                         (f"%{scene.name}",))
            refresh_verdicts(conn)

        def load_and_refresh() -> None:
            sclzonal_cli(url, "scl", "load", str(scene))
            sclzonal_cli(url, "refresh")

        forget_scene()
        loaded = median_of(runs, forget_scene, lambda: sclzonal_cli(url, "scl", "load", str(scene)))
        forget_scene()
        both = median_of(runs, forget_scene, load_and_refresh)
    return {"sclzonal scl load alone": loaded, "sclzonal scl load, then refresh": both}


def bench_plain_sql(url: str) -> float:
    """Time the plain ST_Clip + ST_ValueCount query (the view that defines the counts)."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("ANALYZE")  # fresh tables: without statistics the planner picks a 10x slower plan
        conn.execute("SET client_min_messages = warning")
        (scene_id,) = conn.execute("SELECT min(id) FROM sclzonal.scene").fetchone() or (0,)
        return timed(lambda: conn.execute(
            "SELECT * FROM sclzonal.zonal_class_counts WHERE scene_id = %s", (scene_id,)
        ).fetchall())


def bench_exactextract(tif: Path, polygons_utm: Path) -> float | None:
    """Time exactextract's per-class fractions (None when it is not installed)."""
    try:
        from exactextract import exact_extract
    except ImportError:
        return None
    return timed(lambda: exact_extract(str(tif), str(polygons_utm), ["unique", "frac"]))


def bench_rasterstats(tif: Path, polygons_utm: Path) -> float | None:
    """Time rasterstats' categorical zonal statistics (None when it is not installed)."""
    try:
        from rasterstats import zonal_stats
    except ImportError:
        return None
    return timed(lambda: zonal_stats(str(polygons_utm), str(tif), categorical=True))


def bench_qgis(tif: Path, polygons_utm: Path, one_polygon: Path, work: Path) -> dict[str, float]:
    """Time QGIS native:zonalhistogram through qgis_process, minus its start-up."""
    if not QGIS_PROCESS.exists():
        return {}
    # QGIS's embedded Python takes its home from the first python3 on PATH: the project's
    # virtualenv (another Python build) makes qgis_process crash, so it is left out of PATH.
    venv_bin = str(ROOT / ".venv" / "bin")
    path = os.pathsep.join(part for part in os.environ.get("PATH", "").split(os.pathsep)
                           if part and Path(part).resolve() != Path(venv_bin).resolve())
    env = {**{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
           "QT_QPA_PLATFORM": "offscreen", "PATH": path}

    def run(vector: Path, output: Path) -> float:
        output.unlink(missing_ok=True)
        return timed(lambda: subprocess.run(
            [str(QGIS_PROCESS), "run", "native:zonalhistogram", f"--INPUT_RASTER={tif}",
             "--RASTER_BAND=1", f"--INPUT_VECTOR={vector}", "--COLUMN_PREFIX=HISTO_",
             f"--OUTPUT={output}"], env=env, check=True, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL))

    start_up = statistics.median(run(one_polygon, work / "qgis_one.gpkg") for _ in range(3))
    total = statistics.median(run(polygons_utm, work / "qgis_all.gpkg") for _ in range(2))
    return {"QGIS zonalhistogram start-up": start_up,
            "QGIS native:zonalhistogram (after start-up)": total - start_up}


def bench_refresh(url: str) -> tuple[float, float]:
    """Time `sclzonal refresh` as a process; return (seconds, its peak memory in MiB)."""
    return timed_process(SCLZONAL, "--database-url", url, "refresh")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print (and optionally write) the results."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true",
                        help="also 100,000 polygons x 10 scenes, and a 10980 x 10980 scene at 10 m")
    parser.add_argument("--seed", type=int, default=2024, help="random seed of the data")
    parser.add_argument("--work-dir", type=Path, default=ROOT / ".local" / "bench",
                        help="where the generated files go")
    parser.add_argument("--runs", type=int, default=3, help="repetitions of the ingest timings")
    parser.add_argument("--skip-rasterstats", action="store_true", help="skip the slowest tool")
    parser.add_argument("--write-docs", action="store_true",
                        help="update docs/benchmarks.md and docs/benchmark.png")
    parser.add_argument("--national", action="store_true",
                        help="only the national benchmark: many polygons over many tiles and a "
                             "season of dates (scripts/bench_national.py)")
    parser.add_argument("--storage", action="store_true",
                        help="only the storage benchmark: load and export memory, the verdict "
                             "table's geometry copy, partitioned counts (scripts/bench_storage.py)")
    parser.add_argument("--qgis-open", action="store_true",
                        help="only QGIS opening and drawing one scene: its own table against a "
                             "filtered table without raster constraints (scripts/bench_qgis_open.py)")
    parser.add_argument("--refresh-revisions", type=int, default=None, metavar="SCENES",
                        help="only this revision's verdict refresh against the previous one's, after "
                             "each of the last SCENES scenes of the database --national left "
                             "(scripts/bench_refresh_revisions.py)")
    parser.add_argument("--polygons", type=int, default=None,
                        help="--national: field polygons (1,000,000); --storage: 200,000")
    parser.add_argument("--tiles", type=int, default=30, help="--national: tiles (grids)")
    parser.add_argument("--dates", type=int, default=20, help="--national: acquisition dates")
    parser.add_argument("--tile-size", type=int, default=5490,
                        help="--national: tile width and height in pixels (20 m)")
    args = parser.parse_args(argv)
    server = os.environ.get("DATABASE_URL", "")
    if not server:
        print("bench: DATABASE_URL is not set (scripts/bench sets it)", file=sys.stderr)
        return 2
    work = args.work_dir
    work.mkdir(parents=True, exist_ok=True)
    if args.storage:
        storage = bench_storage(database_for(server, "sclzonal_bench_storage"), SCLZONAL, work,
                                polygons=args.polygons or 200_000, seed=args.seed)
        (work / "storage.json").write_text(json.dumps(storage, indent=2, default=str))
        print(storage_report(storage))
        return 0
    if args.qgis_open:
        opened = bench_qgis_open(database_for(server, "sclzonal_bench_qgis"), SCLZONAL, work,
                                 seed=args.seed)
        (work / "qgis-open.json").write_text(json.dumps(opened, indent=2))
        print(qgis_open_report(opened))
        return 0
    if args.refresh_revisions:
        params = conninfo_to_dict(server)
        params["dbname"] = "sclzonal_bench_national"
        compared = bench_refresh_revisions(make_conninfo(**params), SCLZONAL,
                                           sorted((work / "national").glob("*.tif")),
                                           scenes=args.refresh_revisions)
        (work / "refresh-revisions.json").write_text(json.dumps(compared, indent=2))
        print(refresh_revisions_table(compared))
        return 0
    if args.national:
        national = bench_national(lambda name: database_for(server, name), SCLZONAL,
                                  work / "national", seed=args.seed,
                                  polygons=args.polygons or 1_000_000,
                                  tiles=args.tiles, dates=args.dates, size=args.tile_size,
                                  pixel=20.0)
        print(json.dumps(national, indent=2, default=str))
        (work / "national.json").write_text(json.dumps(national, indent=2, default=str))
        if args.write_docs:
            write_national_docs(national, ROOT / "docs")
        return 0 if national["dask"]["rows equal"] else 1
    data = generate(work, seed=args.seed, scenes=2, polygons=10_000)
    print(f"data: {len(data.scenes)} scenes 5490 x 5490 at 20 m, {data.polygon_count} polygons")
    url = database_for(server, "sclzonal_bench")
    migrate.upgrade(url)
    sclzonal_cli(url, "polygons", "load", str(data.polygons_4326))

    results: dict[str, Any] = {"date": dt.date.today().isoformat(), "seed": args.seed,
                               "polygons": data.polygon_count, "machine": machine_description(url)}
    ingest = bench_ingest(url, data.scenes[:1], args.runs)
    counts = bench_sclzonal_counts(url, data.scenes)
    mismatches = check_counts(url, data)
    counts["plain ST_Clip + ST_ValueCount query"] = bench_plain_sql(url)
    exact = bench_exactextract(data.scenes[0], data.polygons_utm)
    if exact is not None:
        counts["exactextract (Python)"] = exact
    if not args.skip_rasterstats:
        stats = bench_rasterstats(data.scenes[0], data.polygons_utm)
        if stats is not None:
            counts["rasterstats (categorical)"] = stats
    qgis = bench_qgis(data.scenes[0], data.polygons_utm, data.one_polygon_utm, work)
    qgis_start_up = qgis.pop("QGIS zonalhistogram start-up", None)
    counts.update(qgis)
    results.update(ingest=ingest, counts=counts, qgis_start_up=qgis_start_up,
                   count_mismatches=mismatches)
    end_to_end = bench_end_to_end(url, data.scenes[1], args.runs)
    if "raster2pgsql | psql" in ingest and qgis_start_up is not None:
        end_to_end["raster2pgsql | psql, then QGIS native:zonalhistogram"] = (
            ingest["raster2pgsql | psql"] + qgis_start_up
            + counts["QGIS native:zonalhistogram (after start-up)"])
    results["end_to_end"] = end_to_end
    if args.large:
        results["large"] = bench_large(server, work, args.seed)
    print(json.dumps(results, indent=2, default=str))
    (work / "results.json").write_text(json.dumps(results, indent=2, default=str))
    if args.write_docs:
        write_docs(results, ROOT / "docs")
    if mismatches:
        print(f"bench: sclzonal's counts differ from the pixel-centre count for {mismatches} "
              "polygons", file=sys.stderr)
        return 1
    return 0


def quarter_of(scene: Path, into: Path) -> Path:
    """Write the north-west quarter of a scene (same grid, date and tags) as a new GeoTIFF."""
    with rasterio.open(scene) as source:
        window = Window(0, 0, source.width // 2, source.height // 2)
        profile = source.profile | {"width": window.width, "height": window.height,
                                    "transform": source.window_transform(window)}
        with rasterio.open(into, "w", **profile) as sink:
            sink.write(source.read(window=window))
            sink.update_tags(**source.tags())
    return into


def bench_large(server: str, work: Path, seed: int) -> dict[str, Any]:
    """100,000 polygons x 10 scenes: ingest, counts, verdicts (all, then after a new scene over a
    quarter of the polygons, against a full rebuild); 10980 x 10980 memory."""
    data = generate(work / "large", seed=seed, scenes=11, polygons=100_000)
    url = database_for(server, "sclzonal_bench_large")
    migrate.upgrade(url)
    sclzonal_cli(url, "polygons", "load", str(data.polygons_4326))
    large: dict[str, Any] = {"ingest": bench_ingest(url, data.scenes[:10], 1)}
    with psycopg.connect(url, autocommit=True) as conn:
        sclzonal_cli(url, "scl", "load", *map(str, data.scenes[:10]))
        large["counts 100,000 x 10 scenes"] = timed(
            lambda: count_new_pairs(conn, pending_pairs(conn)))
        conn.execute("ANALYZE")
        large["verdicts 100,000 x 10, every polygon decided"] = timed(lambda: refresh_verdicts(conn))
        sclzonal_cli(url, "scl", "load", str(quarter_of(data.scenes[10], work / "large" / "quarter.tif")))
        large["new scene over 25 % of the polygons: counting"] = timed(
            lambda: count_new_pairs(conn, pending_pairs(conn)))
        large["new scene over 25 % of the polygons: verdict refresh"] = timed(
            lambda: refresh_verdicts(conn))
        large["new scene over 25 % of the polygons: full rebuild instead"] = timed(
            lambda: refresh_verdicts(conn, rebuild=True))
    big = generate(work / "ten_metre", seed=seed, scenes=1, polygons=20_000, size=10980,
                   pixel=10.0)
    url = database_for(server, "sclzonal_bench_10m")
    migrate.upgrade(url)
    sclzonal_cli(url, "polygons", "load", str(big.polygons_4326))
    sclzonal_cli(url, "scl", "load", str(big.scenes[0]))
    seconds, peak = bench_refresh(url)
    large["10980 x 10980 at 10 m, 20,000 polygons: refresh seconds"] = seconds
    large["10980 x 10980 at 10 m: refresh peak memory MiB"] = peak
    return large


if __name__ == "__main__":
    sys.exit(main())
