"""Opening one scene's SCL in QGIS (`scripts/bench --qgis-open`): the numbers behind docs/qgis.md.

A 5490 x 5490 scene at 20 m (generated, seed fixed) is loaded with `sclzonal scl load`; QGIS's
`postgresraster` provider then opens it, and draws it whole at 1000 x 1000 px, from
1. the scene's own table (a partition of scene_tile with raster constraints), as the project and
   the Browser open it since revision 0010; and
2. the same tiles in a table without raster constraints, filtered with `sql=scene_id = N`, as
   the project opened a scene before (the provider unions the scene's tiles to learn its grid).
Each is the best of three opens, each by a new layer. Run under QGIS's Python by this file's
`_measure` (QGIS's bindings are not in the virtualenv, the project's packages not in QGIS's).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
QGIS_PYTHON = "/usr/bin/python3"
UNCONSTRAINED = "bench_unconstrained_tiles"


def bench_qgis_open(url: str, sclzonal: str, work: Path, *, seed: int) -> dict[str, Any]:
    """Load one generated scene, time QGIS opening and drawing it both ways; return the results."""
    import psycopg  # not in QGIS's Python, which runs this file's main
    from bench_support import generate

    from sclzonal.db import migrate

    data = generate(work / "qgis-open", seed=seed, scenes=1, polygons=10)
    migrate.upgrade(url)
    subprocess.run([sclzonal, "--database-url", url, "scl", "load", str(data.scenes[0])],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT scene_id, table_name FROM sclzonal.scene_tile_partition").fetchone()
        assert row is not None
        scene_id, table = int(row[0]), str(row[1])
        conn.execute(f"DROP TABLE IF EXISTS public.{UNCONSTRAINED}")
        conn.execute(f"CREATE TABLE public.{UNCONSTRAINED} AS SELECT id, scene_id, rast"
                     f" FROM sclzonal.{table}")
        conn.execute(f"ALTER TABLE public.{UNCONSTRAINED} ADD PRIMARY KEY (id)")
        conn.execute(f"ANALYZE public.{UNCONSTRAINED}")
        tiles = conn.execute(f"SELECT count(*) FROM sclzonal.{table}").fetchone()
    spec = {"conninfo": conninfo_for_qgis(url),
            "layers": {"scene table (raster constraints)": ["sclzonal", table, ""],
                       "filtered table without constraints (before 0010)":
                           ["public", UNCONSTRAINED, f"scene_id = {scene_id}"]}}
    done = subprocess.run([QGIS_PYTHON, str(HERE), json.dumps(spec)], capture_output=True, text=True,
                          check=True, env={"QT_QPA_PLATFORM": "offscreen", "PATH": "/usr/bin:/bin",
                                           "HOME": str(work)})
    timings: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {"scene": "5490 x 5490 px at 20 m", "tiles": tiles[0] if tiles else 0, "layers": timings}


def conninfo_for_qgis(url: str) -> str:
    """Return the key=value connection string QGIS's data source URIs take."""
    from psycopg.conninfo import conninfo_to_dict

    params = conninfo_to_dict(url)
    return " ".join(f"{key}={value}" for key, value in params.items()
                    if key in ("host", "port", "dbname", "user", "password"))


def qgis_open_report(results: dict[str, Any]) -> str:
    """Return the results as a Markdown table, with ratios against the scene's own table."""
    layers = results["layers"]
    first = next(iter(layers.values()))
    lines = [f"One scene, {results['scene']} ({results['tiles']} tiles), in QGIS's postgresraster "
             "provider (best of 3):", "",
             "| source | open | x | first full draw (1000 px) | x |", "|---|---:|---:|---:|---:|"]
    for name, timing in layers.items():
        lines.append(f"| {name} | {timing['open']:.2f} s | {timing['open'] / first['open']:.1f} "
                     f"| {timing['draw']:.2f} s | {timing['draw'] / first['draw']:.1f} |")
    return "\n".join(lines)


def _measure(spec: dict[str, Any]) -> dict[str, Any]:
    """Under QGIS's Python: open and draw each layer of `spec`; return the best times."""
    from qgis.core import (
        QgsApplication,
        QgsDataSourceUri,
        QgsMapRendererParallelJob,
        QgsMapSettings,
        QgsRasterLayer,
    )
    from qgis.PyQt.QtCore import QSize

    app = QgsApplication([], False)
    app.initQgis()
    results: dict[str, Any] = {}
    for name, (schema, table, where) in spec["layers"].items():
        opens, draws = [], []
        for _ in range(3):
            uri = QgsDataSourceUri(spec["conninfo"])
            uri.setDataSource(schema, table, "rast", where, "id")
            started = time.perf_counter()
            layer = QgsRasterLayer(uri.uri(False), table, "postgresraster")
            opens.append(time.perf_counter() - started)
            if not layer.isValid():
                raise SystemExit(f"QGIS cannot open {schema}.{table}: {layer.error().summary()}")
            settings = QgsMapSettings()
            settings.setLayers([layer])
            settings.setDestinationCrs(layer.crs())
            settings.setExtent(layer.extent())
            settings.setOutputSize(QSize(1000, 1000))
            job = QgsMapRendererParallelJob(settings)
            started = time.perf_counter()
            job.start()
            job.waitForFinished()
            draws.append(time.perf_counter() - started)
            del layer
        results[name] = {"open": min(opens), "draw": min(draws)}
    app.exitQgis()
    return results


if __name__ == "__main__":
    print(json.dumps(_measure(json.loads(sys.argv[1]))))
