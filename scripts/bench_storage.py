"""Storage and memory at scale (`scripts/bench --storage`): the numbers behind docs/scaling.md.

In one run, on generated field polygons (seed fixed):
- `polygons load`, the same file again, and `verdicts --format csv|geojson` as processes: time and
  peak memory, at two sizes, to show whether memory grows with the rows;
- the verdict table with its own geometry copy against the same columns joined to polygon.geom
  (a view): size, a QGIS-like read of the whole extent and of a hundredth of it, and rewriting a
  quarter of the rows as a refresh does;
- stored counts in one table against RANGE (acquired_on) partitions, one per year: writing a
  scene, the month read of an incremental refresh, the whole-history read of a rebuild, and
  archiving a season (DELETE + VACUUM against DETACH PARTITION).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from bench_support import _write_polygons, timed, timed_process

from sclzonal.db import migrate
from sclzonal.demo.data import field_polygons

BOUNDS = (300000.0, 2000000.0, 960000.0, 5200000.0)
"""UTM 33N area the generated fields are spread over."""


def _fetch(conn: psycopg.Connection, query: str, params: Any = None) -> object:
    return conn.execute(query, params).fetchall()


def _best(run: Callable[[], object], repeats: int = 3) -> float:
    return min(timed(run) for _ in range(repeats))


def memory_by_size(url: str, sclzonal: str, work: Path, sizes: list[int], seed: int
                   ) -> dict[str, dict[int, tuple[float, float]]]:
    """(seconds, peak MiB) of load, reload, CSV and GeoJSON export per number of polygons."""
    results: dict[str, dict[int, tuple[float, float]]] = {
        "polygons load": {}, "polygons load again (unchanged)": {}, "verdicts CSV": {},
        "verdicts GeoJSON": {}}
    cli = [sclzonal, "-q", "--database-url", url]
    for size in sizes:
        fields = work / f"storage_fields_{seed}_{size}.gpkg"
        if not fields.exists():
            polygons = field_polygons(BOUNDS, "EPSG:32633", size, np.random.default_rng(seed))
            _write_polygons(fields, polygons, "EPSG:4326")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("TRUNCATE sclzonal.polygon CASCADE")
        results["polygons load"][size] = timed_process(*cli, "polygons", "load", str(fields))
        results["polygons load again (unchanged)"][size] = timed_process(
            *cli, "polygons", "load", str(fields))
        timed_process(*cli, "refresh")
        for kind, label in (("csv", "verdicts CSV"), ("geojson", "verdicts GeoJSON")):
            results[label][size] = timed_process(*cli, "verdicts", "--format", kind, "--output",
                                                 str(work / f"storage_verdicts.{kind}"))
    return results


def geometry_copy_against_view(conn: psycopg.Connection) -> dict[str, Any]:
    """polygon_verdict (geometry copied) against its columns joined to polygon.geom.

    The polygons have no scene here; their rows get the values of a polygon observed on six
    dates first, so that the rows are as wide as in use."""
    conn.execute(
        "UPDATE sclzonal.polygon_verdict SET verdict = 'vegetation', acquired_on = '2024-06-05',"
        " scene_id = 1, coverage = 1, clear_share = 0.9, rule_share = 0.85, vegetation_share = 0.85,"
        " pixels = 400, clear_pixels = 380, expected_pixels = 400, observed_pixels = 400,"
        " observations = 6, clear_observations = 5, partial_observations = 0,"
        " first_observed_on = '2024-04-01', last_observed_on = '2024-06-05',"
        " rule_held_shares = '{\"vegetation\": 0.85}', rule_id = 1, rule_revision = 1,"
        " rule_label = 'vegetation', rule_classes = '{4}', rule_min_share = 0.8,"
        " rule_min_clear_share = 0.5, rule_min_coverage = 0.5, evaluated_rules = '{vegetation}',"
        " scene_source = 'file', scene_origin = 'SCL_2024-06-05.tif'")
    columns = [name for (name,) in conn.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = 'sclzonal.polygon_verdict'::regclass"
        " AND attnum > 0 AND NOT attisdropped AND attname <> 'geom' ORDER BY attnum")]
    conn.execute("DROP VIEW IF EXISTS bench_verdict_view")
    conn.execute("DROP TABLE IF EXISTS bench_verdict_columns")
    conn.execute(f"CREATE TABLE bench_verdict_columns AS SELECT {', '.join(columns)}"
                 " FROM sclzonal.polygon_verdict")
    conn.execute("CREATE UNIQUE INDEX ON bench_verdict_columns (polygon_id)")
    conn.execute("CREATE VIEW bench_verdict_view AS SELECT v.*, p.geom FROM bench_verdict_columns v"
                 " JOIN sclzonal.polygon p ON p.id = v.polygon_id")
    conn.execute("VACUUM ANALYZE bench_verdict_columns")
    conn.execute("VACUUM FULL sclzonal.polygon_verdict")
    conn.execute("ANALYZE sclzonal.polygon_verdict")

    def size(table: str) -> float:
        row = conn.execute("SELECT pg_total_relation_size(%s::regclass)", (table,)).fetchone()
        return int(row[0]) / 2**20 if row else 0.0

    extent = conn.execute("SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"
                          " (SELECT ST_Extent(geom)::geometry AS e FROM sclzonal.polygon) AS x"
                          ).fetchone()
    assert extent is not None
    x0, y0, x1, y1 = extent
    boxes = {"whole extent": extent, "a hundredth of it": (x0, y0, x0 + (x1 - x0) / 10,
                                                           y0 + (y1 - y0) / 10)}
    results: dict[str, Any] = {
        "rows": conn.execute("SELECT count(*) FROM sclzonal.polygon_verdict").fetchone(),
        "MiB with geometry": size("sclzonal.polygon_verdict"),
        "MiB without": size("bench_verdict_columns")}
    for label, box in boxes.items():
        for relation in ("sclzonal.polygon_verdict", "bench_verdict_view"):
            query = (f"SELECT polygon_id, verdict, rule_share, ST_AsBinary(geom) FROM {relation}"
                     " WHERE geom && ST_MakeEnvelope(%s, %s, %s, %s, 4326)")
            results[f"read {label}, {relation}"] = _best(partial(_fetch, conn, query, box))
    for relation in ("sclzonal.polygon_verdict", "bench_verdict_columns"):
        def rewrite(relation: str = relation) -> None:
            with conn.transaction():
                conn.execute(f"CREATE TEMP TABLE kept ON COMMIT DROP AS SELECT * FROM {relation}"
                             " WHERE polygon_id % 4 = 0")
                conn.execute(f"DELETE FROM {relation} WHERE polygon_id % 4 = 0")
                conn.execute(f"INSERT INTO {relation} SELECT * FROM kept")
        results[f"rewrite a quarter, {relation}"] = _best(rewrite)
    conn.execute("DROP VIEW bench_verdict_view")
    conn.execute("DROP TABLE bench_verdict_columns")
    return results


def partitioned_counts(conn: psycopg.Connection, polygons: int, scenes_per_season: int
                       ) -> dict[str, Any]:
    """Stored counts with an acquisition date: one table against one partition per year."""
    columns = ("polygon_id bigint NOT NULL, scene_id bigint NOT NULL, acquired_on date NOT NULL,"
               " expected_pixels integer, "
               + ", ".join(f"class_{k} integer NOT NULL DEFAULT 0" for k in range(12))
               + ", counted_at timestamptz NOT NULL DEFAULT now()")
    conn.execute("DROP TABLE IF EXISTS bench_pairs_one, bench_pairs_parted CASCADE")
    conn.execute(f"CREATE TABLE bench_pairs_one ({columns}, PRIMARY KEY (polygon_id, scene_id))")
    conn.execute(f"CREATE TABLE bench_pairs_parted ({columns},"
                 " PRIMARY KEY (polygon_id, scene_id, acquired_on)) PARTITION BY RANGE (acquired_on)")
    for year in (2023, 2024):
        conn.execute(f"CREATE TABLE bench_pairs_{year} PARTITION OF bench_pairs_parted"
                     f" FOR VALUES FROM ('{year}-01-01') TO ('{year + 1}-01-01')")

    def scene_rows(scene: int) -> str:
        season, within = divmod(scene, scenes_per_season)
        classes = ", ".join("300" if k == 4 else str(k) for k in range(12))
        return (f"SELECT p, {scene}, date '2023-04-01' + {season * 365 + within * 15}, 400,"
                f" {classes}, now() FROM generate_series(1, {polygons}, 2) AS p")

    last = 2 * scenes_per_season - 1
    for scene in range(last):
        for table in ("bench_pairs_one", "bench_pairs_parted"):
            conn.execute(f"INSERT INTO {table} {scene_rows(scene)}")
    for table in ("bench_pairs_one", "bench_pairs_parted"):
        conn.execute(f"VACUUM ANALYZE {table}")
    some = f"SELECT p FROM generate_series(1, {polygons // 4}, 2) AS p"
    month = "acquired_on >= date '2024-06-01' AND acquired_on < date '2024-07-01'"
    results: dict[str, Any] = {"pairs": conn.execute("SELECT count(*) FROM bench_pairs_one").fetchone(),
                               "pairs per scene": polygons // 2}
    for table in ("bench_pairs_one", "bench_pairs_parted"):
        def write(table: str = table) -> None:
            with conn.transaction(force_rollback=True):
                conn.execute(f"INSERT INTO {table} {scene_rows(last)}")
        results[f"write a scene, {table}"] = _best(write)
        tally = f"SELECT count(*), sum(class_4) FROM {table} WHERE polygon_id IN ({some})"
        results[f"read a month of a quarter of the polygons, {table}"] = _best(
            partial(_fetch, conn, f"{tally} AND {month}"))
        results[f"read all of a quarter of the polygons, {table}"] = _best(
            partial(_fetch, conn, tally))
    results["archive a season, DELETE + VACUUM"] = timed(lambda: (
        conn.execute("DELETE FROM bench_pairs_one WHERE acquired_on < date '2024-01-01'"),
        conn.execute("VACUUM bench_pairs_one")))
    results["archive a season, DETACH PARTITION"] = timed(lambda: conn.execute(
        "ALTER TABLE bench_pairs_parted DETACH PARTITION bench_pairs_2023"))
    conn.execute("DROP TABLE bench_pairs_one, bench_pairs_parted, bench_pairs_2023 CASCADE")
    return results


def bench_storage(url: str, sclzonal: str, work: Path, *, polygons: int, seed: int
                  ) -> dict[str, Any]:
    """All three measurements on the database at `url` (migrated here)."""
    migrate.upgrade(url)
    work.mkdir(parents=True, exist_ok=True)
    memory = memory_by_size(url, sclzonal, work, [max(polygons // 10, 1000), polygons], seed)
    with psycopg.connect(url, autocommit=True) as conn:
        geometry = geometry_copy_against_view(conn)
        partitions = partitioned_counts(conn, polygons, 10)
    return {"memory": memory, "geometry": geometry, "partitions": partitions}


def storage_report(results: dict[str, Any]) -> str:
    """The results as lines with the ratios the decisions rest on."""
    lines = []
    for step, by_size in results["memory"].items():
        lines.append(f"{step}: " + ", ".join(f"{size} rows {seconds:.1f} s {peak:.0f} MiB"
                                             for size, (seconds, peak) in by_size.items()))
    g = results["geometry"]
    lines.append(f"polygon_verdict {g['rows'][0]} rows: {g['MiB with geometry']:.1f} MiB with its"
                 f" geometry, {g['MiB without']:.1f} MiB without")
    for label in ("whole extent", "a hundredth of it"):
        table, view = (g[f"read {label}, {r}"] for r in ("sclzonal.polygon_verdict",
                                                          "bench_verdict_view"))
        lines.append(f"read {label}: table {table:.3f} s, view {view:.3f} s ({view / table:.2f} x)")
    copy, bare = (g[f"rewrite a quarter, {r}"] for r in ("sclzonal.polygon_verdict",
                                                         "bench_verdict_columns"))
    lines.append(f"rewrite a quarter: with geometry {copy:.2f} s, without {bare:.2f} s")
    p = results["partitions"]
    lines.append(f"stored counts, {p['pairs'][0]} pairs, {p['pairs per scene']} per scene:")
    for step in ("write a scene", "read a month of a quarter of the polygons",
                 "read all of a quarter of the polygons"):
        one, parted = p[f"{step}, bench_pairs_one"], p[f"{step}, bench_pairs_parted"]
        lines.append(f"  {step}: one table {one:.3f} s, partitioned {parted:.3f} s"
                     f" ({parted / one:.2f} x)")
    lines.append(f"  archive a season: DELETE + VACUUM {p['archive a season, DELETE + VACUUM']:.2f} s,"
                 f" DETACH PARTITION {p['archive a season, DETACH PARTITION']:.3f} s")
    return "\n".join(lines)
