"""Benchmark `scl fetch` against the test suite's fake Sentinel Hub with a realistic latency.

Run through `scripts/bench-fetch [--latency S] [--months N]`. Loads the demo's 300 fields (near
Ljubljana, EPSG:32633) into a fresh database, lets the fake (tests/sentinelhub_fake.py) list a
Sentinel-2 acquisition every 2 or 3 days (two satellites) from June on, answers every catalog
and Processing request after `--latency` seconds (300 ms), and times, each into an empty
database: the dry run, a serial fetch (`--threads 1`), a parallel one at CDSE's free rate
(`--threads 4 --requests-per-minute 300`) and one without a rate limit (`--threads 8`). It prints
the dry run's plan, the timings and their ratios, and checks that every run stored the same
scenes (same references and checksums) with the figures the dry run gave; it exits non-zero
when they differ.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import io
import json
import os
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from bench import database_for  # noqa: E402

from sclzonal.cli import main as sclzonal_main  # noqa: E402
from sclzonal.db import migrate  # noqa: E402
from sclzonal.demo.data import generate_demo  # noqa: E402
from sclzonal.ingest.sentinelhub.cost import quota_line  # noqa: E402
from tests.sentinelhub_fake import Acquisition, FakeSentinelHub  # noqa: E402

AREA = (13.5, 45.5, 16.0, 47.0)
"""Footprint of every fake acquisition (lon/lat), well around the demo fields."""


def season(months: int) -> list[Acquisition]:
    """An acquisition every 2 or 3 days (alternately) from 2024-06-01 for `months` months."""
    end = dt.date(2024, 6, 1) + dt.timedelta(days=round(30.5 * months) - 1)
    day, found, step = dt.date(2024, 6, 1), [], 2
    while day <= end:
        found.append(Acquisition(f"{day.isoformat()}T10:05:59Z", 20.0, AREA, f"S2_{day}"))
        day, step = day + dt.timedelta(days=step), 5 - step
    return found


def run(url: str, *args: str) -> tuple[dict, float]:
    """Run `sclzonal ARGS --json` in this process; return its JSON object and the seconds taken."""
    out, err = io.StringIO(), io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = sclzonal_main(["--quiet", "--database-url", url, *args, "--json"])
    elapsed = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"bench-fetch: sclzonal {' '.join(args)} failed: {err.getvalue().strip()}")
    return json.loads(out.getvalue()), elapsed


def dry_run_text(url: str, args: list[str]) -> str:
    """The dry run's text output (the plan per cell, the summary, the quota)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        sclzonal_main(["--quiet", "--database-url", url, *args, "--dry-run"])
    return out.getvalue()


def fresh_database(server: str, polygons: Path) -> str:
    """A new database with the demo fields loaded."""
    url = database_for(server, "sclzonal_bench_fetch")
    migrate.upgrade(url)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = sclzonal_main(["--quiet", "--database-url", url, "polygons", "load", str(polygons),
                              "--layer", "fields", "--id-field", "field_id"])
    if code != 0:
        raise SystemExit("bench-fetch: polygons load failed")
    return url


def stored(url: str) -> list[tuple[str, str]]:
    """(reference, checksum) of every scene, in load order."""
    with psycopg.connect(url) as conn:
        return [(str(a), str(b)) for a, b in conn.execute(
            "SELECT reference, checksum FROM sclzonal.scene ORDER BY id")]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the plan, the timings and the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per answer (0.3)")
    parser.add_argument("--months", type=int, default=3, help="length of the season (3)")
    options = parser.parse_args(argv)
    server = os.environ.get("DATABASE_URL", "")
    if not server:
        print("bench-fetch: DATABASE_URL is not set (scripts/bench-fetch sets it)", file=sys.stderr)
        return 2
    os.environ.update({"SH_CLIENT_ID": "fake-client", "SH_CLIENT_SECRET": "bench-secret"})
    acquisitions = season(options.months)
    end = acquisitions[-1].day
    with tempfile.TemporaryDirectory(prefix="sclzonal-bench-fetch-") as work, \
            FakeSentinelHub(acquisitions, client_secret="bench-secret", page_size=100) as fake:
        demo = generate_demo(Path(work), scenes=1)
        fake.latency = options.latency
        base = ["scl", "fetch", "--endpoint", fake.base_url, "--start", "2024-06-01",
                "--end", end.isoformat()]
        url = fresh_database(server, demo.polygons_path)
        print(f"demo fields, {len(acquisitions)} acquisitions 2024-06-01 to {end}, "
              f"{options.latency * 1000:.0f} ms per answer\n")
        print(dry_run_text(url, [*base, "--requests-per-minute", "300"]))
        plan, dry_seconds = run(url, *base, "--requests-per-minute", "0", "--dry-run")
        print("from CDSE, " + quota_line("cdse", plan["requests"] + plan["catalog_requests"],
                                         plan["processing_units"], 300))
        print()
        runs = {"serial (--threads 1)": ["--threads", "1", "--requests-per-minute", "0"],
                "parallel, CDSE's rate (--threads 4 --requests-per-minute 300)":
                    ["--threads", "4", "--requests-per-minute", "300"],
                "parallel, no rate limit (--threads 8 --requests-per-minute 0)":
                    ["--threads", "8", "--requests-per-minute", "0"]}
        seconds: dict[str, float] = {}
        first: list[tuple[str, str]] | None = None
        for name, extra in runs.items():
            url = fresh_database(server, demo.polygons_path)
            done, seconds[name] = run(url, *base, *extra)
            figures = ("requests", "pixels", "processing_units")
            if [done[k] for k in figures] != [plan[k] for k in figures]:
                print(f"bench-fetch: {name} did not do what the dry run planned", file=sys.stderr)
                return 1
            scenes = stored(url)
            if first is not None and scenes != first:
                print(f"bench-fetch: {name} stored other scenes than the serial run", file=sys.stderr)
                return 1
            first = scenes
        print(f"dry run: {dry_seconds:.1f} s; {plan['requests']} Processing requests planned")
        serial = seconds["serial (--threads 1)"]
        for name, value in seconds.items():
            print(f"{name}: {value:.1f} s ({plan['requests'] / value:.1f} scenes/s), "
                  f"{serial / value:.2f} x serial")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
