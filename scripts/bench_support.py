"""Parts of the benchmark: data generation, the independent count check, docs and plot."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import fiona
import numpy as np
import psycopg
import rasterio
import shapely
from affine import Affine
from pyproj import Transformer
from shapely.geometry import mapping

from sclzonal.demo.data import field_polygons, scl_scene_array, write_scl_geotiff

TILE_ORIGIN = (399960.0, 5200020.0)  # upper-left corner of Sentinel-2 tile 33TVM-like grid
FIRST_DAY = dt.date(2024, 5, 2)


@dataclass(frozen=True)
class BenchData:
    """Files of one benchmark data set."""

    scenes: list[Path]
    polygons_4326: Path
    polygons_utm: Path
    one_polygon_utm: Path
    polygon_count: int


# Runs a command and prints its exit code, seconds and peak memory (KiB). A child's peak memory
# starts at its parent's when it is forked, so the command is started from this small process,
# not from the benchmark's (which holds gigabytes after --large's in-process counting).
_PEAK_MEMORY = """
import os, subprocess, sys, time
started = time.perf_counter()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
_, status, usage = os.wait4(child.pid, 0)
print(os.waitstatus_to_exitcode(status), time.perf_counter() - started, usage.ru_maxrss)
"""


def timed(action: Callable[[], Any]) -> float:
    """Return the seconds one call of `action` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def timed_process(*command: str) -> tuple[float, float]:
    """Run a command; return (seconds, its peak memory in MiB); fail when it fails."""
    done = subprocess.run([sys.executable, "-c", _PEAK_MEMORY, *command], capture_output=True,
                          text=True, check=True)
    code, seconds, peak_kib = done.stdout.split()
    if code != "0":
        raise RuntimeError(f"{' '.join(command[:3])} ... failed")
    return float(seconds), int(peak_kib) / 1024


def _write_polygons(path: Path, polygons: list[Any], crs: str) -> None:
    schema = {"geometry": "Polygon", "properties": {"field_id": "int"}}
    path.unlink(missing_ok=True)
    with fiona.open(path, "w", driver="GPKG", crs=crs, schema=schema, layer="fields") as sink:
        sink.writerecords({"geometry": mapping(polygon), "properties": {"field_id": index + 1}}
                          for index, polygon in enumerate(polygons))


def generate(work: Path, *, seed: int, scenes: int, polygons: int, size: int = 5490,
             pixel: float = 20.0) -> BenchData:
    """Write (or reuse, when already there for the same parameters) scenes and polygons."""
    work.mkdir(parents=True, exist_ok=True)
    stamp = work / "parameters.txt"
    parameters = f"seed={seed} scenes={scenes} polygons={polygons} size={size} pixel={pixel}\n"
    scene_paths = [work / f"SCL_{(FIRST_DAY + dt.timedelta(days=5 * i)).isoformat()}.tif"
                   for i in range(scenes)]
    data = BenchData(scene_paths, work / "fields_4326.gpkg", work / "fields_utm.gpkg",
                     work / "one_field_utm.gpkg", polygons)
    if stamp.exists() and stamp.read_text() == parameters and all(p.exists() for p in scene_paths):
        return data
    transform = Affine(pixel, 0, TILE_ORIGIN[0], 0, -pixel, TILE_ORIGIN[1])
    for index, path in enumerate(scene_paths):
        rng = np.random.default_rng(seed + index)
        array = scl_scene_array((size, size), rng, cloud_cover=0.05 + 0.1 * (index % 4))
        write_scl_geotiff(path, array, "EPSG:32633", transform, FIRST_DAY + dt.timedelta(days=5 * index))
    bounds = (TILE_ORIGIN[0], TILE_ORIGIN[1] - size * pixel, TILE_ORIGIN[0] + size * pixel,
              TILE_ORIGIN[1])
    fields = field_polygons(bounds, "EPSG:32633", polygons, np.random.default_rng(seed))
    _write_polygons(data.polygons_4326, fields, "EPSG:4326")
    to_utm = Transformer.from_crs("EPSG:4326", "EPSG:32633", always_xy=True)
    in_utm = [shapely.transform(f, lambda xy: np.column_stack(to_utm.transform(xy[:, 0], xy[:, 1])))
              for f in fields]
    _write_polygons(data.polygons_utm, in_utm, "EPSG:32633")
    _write_polygons(data.one_polygon_utm, in_utm[:1], "EPSG:32633")
    stamp.write_text(parameters)
    return data


def independent_counts(raster: Path, polygons_utm: list[Any]) -> np.ndarray:
    """Count classes per polygon with shapely.contains_xy on pixel centres (no PostGIS)."""
    with rasterio.open(raster) as dataset:
        values = dataset.read(1)
        transform = dataset.transform
    counts = np.zeros((len(polygons_utm), 12), dtype=np.int64)
    for index, polygon in enumerate(polygons_utm):
        left, bottom, right, top = polygon.bounds
        col0 = max(int(np.floor((left - transform.c) / transform.a)), 0)
        col1 = min(int(np.ceil((right - transform.c) / transform.a)), values.shape[1])
        row0 = max(int(np.floor((top - transform.f) / transform.e)), 0)
        row1 = min(int(np.ceil((bottom - transform.f) / transform.e)), values.shape[0])
        if col1 <= col0 or row1 <= row0:
            continue
        cols, rows = np.meshgrid(np.arange(col0, col1), np.arange(row0, row1))
        xs = transform.c + (cols + 0.5) * transform.a
        ys = transform.f + (rows + 0.5) * transform.e
        inside = shapely.contains_xy(polygon, xs, ys)
        counts[index] = np.bincount(values[row0:row1, col0:col1][inside], minlength=12)[:12]
    return counts


def check_counts(url: str, data: BenchData) -> int:
    """Return how many (polygon, scene) pairs differ from the independent count."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT p.source_fid::int, s.reference, "
            + ", ".join(f"cp.class_{k}" for k in range(12))
            + " FROM sclzonal.counted_pair cp JOIN sclzonal.polygon p ON p.id = cp.polygon_id"
            " JOIN sclzonal.scene s ON s.id = cp.scene_id").fetchall()
        projected = conn.execute(
            # the definition's rule (sql/polygon_projection.sql): edges cut to 0.01 degree first
            "SELECT source_fid::int, ST_AsBinary(ST_Transform(ST_Segmentize(geom, 0.01), 32633))"
            " FROM sclzonal.polygon ORDER BY source_fid::int").fetchall()
    geometries = [shapely.from_wkb(bytes(wkb)) for _, wkb in projected]
    position = {fid: index for index, (fid, _) in enumerate(projected)}
    stored: dict[str, np.ndarray] = {}
    for fid, reference, *classes in rows:
        stored.setdefault(reference, np.zeros((len(geometries), 12), dtype=np.int64))
        stored[reference][position[fid]] = classes
    mismatches = 0
    for reference, table in stored.items():
        expected = independent_counts(Path(reference), geometries)
        mismatches += int((expected != table).any(axis=1).sum())
    print(f"check: {sum(len(t) for t in stored.values())} polygon-scene pairs compared with an "
          f"independent pixel-centre count: {mismatches} differ")
    return mismatches


def machine_description(url: str) -> dict[str, str]:
    """Describe the machine and server the benchmark ran on."""
    cpu = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        found = re.search(r"model name\s*:\s*(.+)", cpuinfo.read_text())
        cpu = found.group(1).strip() if found else cpu
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        found = re.search(r"MemTotal:\s*(\d+)", meminfo.read_text())
        memory = f"{int(found.group(1)) / 1024 / 1024:.0f} GiB" if found else ""
    with psycopg.connect(url) as conn:
        server = conn.execute("SELECT version()").fetchone()
        postgis = conn.execute("SELECT postgis_lib_version()").fetchone()
    qgis = ""
    if Path("/usr/bin/python3").exists():
        probe = subprocess.run(["/usr/bin/python3", "-c", "from qgis.core import Qgis; "
                                "print(Qgis.version())"], capture_output=True, text=True,
                               env={**os.environ, "QT_QPA_PLATFORM": "offscreen"}, check=False)
        qgis = probe.stdout.strip().splitlines()[-1] if probe.returncode == 0 else "not installed"
    return {"cpu": cpu, "cores": str(os.cpu_count()), "memory": memory,
            "postgresql": str(server[0]).split(" on ")[0] if server else "",
            "postgis": str(postgis[0]) if postgis else "", "python": platform.python_version(),
            "numpy": np.__version__, "qgis": qgis}


def _name(text: str) -> str:
    """Return a name for a Markdown table cell (a pipe would end the cell)."""
    return text.replace("|", "\\|")


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f} s" if seconds < 10 else f"{seconds:.1f} s"


def _ratio_table(title: str, times: dict[str, float], ours: float) -> list[str]:
    """A Markdown table of `times`, fastest first, each with its ratio to sclzonal's `ours`."""
    lines = [f"| {title} | time | ratio |", "|---|---|---|"]
    for name, seconds in sorted(times.items(), key=lambda item: item[1]):
        lines.append(f"| {_name(name)} | {_fmt(seconds)} | {seconds / ours:.1f} x sclzonal |")
    return lines


def results_table(results: dict[str, Any]) -> str:
    """Return the results as Markdown tables with ratios."""
    ingest = results["ingest"]
    lines = _ratio_table("ingest, one 5490 x 5490 scene", ingest, ingest["sclzonal scl load"])
    counts = results["counts"]
    lines += ["", *_ratio_table(f"counts, {results['polygons']:,} polygons on a new scene", counts,
                                counts["sclzonal, new scene on a known grid"])]
    if results.get("qgis_start_up"):
        lines.append(f"\nQGIS start-up, measured with one polygon and subtracted: "
                     f"{_fmt(results['qgis_start_up'])}.")
    lines.append(f"\nsclzonal's counts compared with an independent pixel-centre count "
                 f"(shapely + numpy): {results['count_mismatches']} polygon-scene pairs differ.")
    if "end_to_end" in results:
        whole = results["end_to_end"]
        lines += ["", *_ratio_table("one new scene end to end, as processes (start-up included)",
                                    whole, whole["sclzonal scl load, then refresh"])]
    if "large" in results:
        lines += ["", "| --large | value |", "|---|---|"]
        for name, value in results["large"].items():
            if isinstance(value, dict):
                for inner, seconds in value.items():
                    lines.append(f"| ingest 10 scenes: {_name(inner)} | {_fmt(seconds)} |")
            elif "MiB" in name:
                lines.append(f"| {name} | {value:.0f} |")
            else:
                lines.append(f"| {name} | {_fmt(value)} |")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """Draw the count and ingest times as horizontal bars (log scale) into a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(2, 1, figsize=(9, 6), height_ratios=[3, 1.3])
    for axis, key, title in ((axes[0], "counts", "class counts for all polygons on a new scene"),
                             (axes[1], "ingest", "ingest one 5490 x 5490 scene")):
        items = sorted(results[key].items(), key=lambda item: item[1], reverse=True)
        names = [name for name, _ in items]
        values = [value for _, value in items]
        colours = ["#00a000" if name.startswith("sclzonal") else "#808080" for name in names]
        axis.barh(names, values, color=colours)
        axis.set_xscale("log")
        axis.set_xlabel("seconds (log scale)")
        axis.set_title(title)
        for position, value in enumerate(values):
            axis.text(value, position, f" {value:.2f} s", va="center", fontsize=8)
    figure.suptitle(f"sclzonal benchmark, {results['date']}, {results['machine']['cores']} cores")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_docs(results: dict[str, Any], docs: Path) -> None:
    """Put the tables between the markers of docs/benchmarks.md and redraw the plot."""
    page = docs / "benchmarks.md"
    machine = results["machine"]
    block = (
        "<!-- results: written by scripts/bench --write-docs -->\n"
        f"Measured {results['date']} on {machine['cpu']}, {machine['cores']} cores, "
        f"{machine['memory']}; {machine['postgresql']}, PostGIS {machine['postgis']}, "
        f"Python {machine['python']}, numpy {machine['numpy']}, QGIS {machine['qgis']}.\n\n"
        f"{results_table(results)}\n\n![benchmark](benchmark.png)\n"
        "<!-- end of results -->"
    )
    replace_marked_block(page, block, "<!-- results: ", "<!-- end of results -->")
    plot(results, docs / "benchmark.png")


def replace_marked_block(page: Path, block: str, start: str, end: str, heading: str = "") -> None:
    """Put `block` (which begins with `start` and ends with `end`) in place of the page's text from
    `start` to `end`; append it, after `heading`, when the page has no such text yet."""
    text = page.read_text() if page.exists() else ""
    if start in text and end in text:
        text = text[:text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + heading + block + "\n"
    page.write_text(text)
