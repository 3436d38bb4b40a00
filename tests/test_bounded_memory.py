"""Loading polygons, reloading them and exporting verdicts stream: a process's peak memory does not
grow with the number of rows (issue 12, a national parcel set of a million polygons)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg
import pytest

from sclzonal.demo.data import field_polygons
from tests.helpers import empty_database, write_polygons

SMALL, LARGE = 4_000, 40_000
MAX_GROWTH_MIB = 6.0
"""Allowed growth of peak memory from SMALL to LARGE rows. Holding the rows costs 0.4 KiB or more
each (a polygon's WKB, attributes and id), 15 MiB or more over the 36,000 rows between the two."""

_PEAK = """
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def _peak_mib(database_url: str, *args: str) -> float:
    """Run `sclzonal ARGS` as a process of its own; return its peak resident memory in MiB."""
    done = subprocess.run([sys.executable, "-c", _PEAK, sys.executable, "-m", "sclzonal.cli", "-q",
                           "--database-url", database_url, *args],
                          capture_output=True, text=True, check=True)
    code, kib = done.stdout.split()
    assert code == "0", done.stderr
    return int(kib) / 1024


@pytest.fixture(scope="module")
def layers(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    folder = tmp_path_factory.mktemp("bounded-memory")
    bounds = (400000.0, 5000000.0, 460000.0, 5060000.0)
    return {count: write_polygons(folder / f"fields_{count}.gpkg",
                                  field_polygons(bounds, "EPSG:32633", count,
                                                 np.random.default_rng(count)), "EPSG:4326")
            for count in (SMALL, LARGE)}


@pytest.mark.slow
@pytest.mark.process
def test_load_reload_and_export_do_not_grow_with_the_rows(database_url: str, conn: psycopg.Connection,
                                                          layers: dict[int, Path],
                                                          tmp_path: Path) -> None:
    peaks: dict[str, dict[int, float]] = {"load": {}, "reload": {}, "csv": {}, "geojson": {}}
    for count, path in layers.items():
        empty_database(conn)
        load = ("polygons", "load", str(path), "--id-field", "ident", "--name-field", "name")
        peaks["load"][count] = _peak_mib(database_url, *load)
        peaks["reload"][count] = _peak_mib(database_url, *load)
        assert conn.execute("SELECT count(*) FROM sclzonal.polygon").fetchone() == (count,)
        conn.execute("SELECT sclzonal.refresh_polygon_verdict()")
        assert conn.execute("SELECT count(*) FROM sclzonal.polygon_verdict").fetchone() == (count,)
        for kind in ("csv", "geojson"):
            peaks[kind][count] = _peak_mib(database_url, "verdicts", "--format", kind,
                                           "--output", str(tmp_path / f"verdicts.{kind}"))
    print({what: {count: round(mib, 1) for count, mib in by.items()} for what, by in peaks.items()})
    for what, by in peaks.items():
        assert by[LARGE] - by[SMALL] < MAX_GROWTH_MIB, (what, by)
