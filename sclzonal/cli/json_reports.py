"""`--json`: the one JSON object a command prints on stdout, for schedulers and monitoring.

`FIELDS` documents every object's keys (the `--json` help and docs/cli.md show it; a test checks
each command's output against it). Dates are ISO strings (YYYY-MM-DD), durations seconds.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from sclzonal.counting.refresh import RefreshReport
    from sclzonal.flows import IngestReport, LoadedFile
    from sclzonal.ingest.polygons import PolygonLoad
    from sclzonal.ingest.scl_raster import SceneLoad
    from sclzonal.ingest.sentinelhub.fetch import FetchReport

_SCENE = {
    "scene_id": "the scene's id (sclzonal.scene.id)",
    "acquired_on": "acquisition date",
    "created": "true when stored by this run, false when it was loaded before",
    "tiles": "raster tiles stored",
    "replaced": "ids of the scenes it replaced (`--replace`)",
}
_FETCH = {
    "source": "the endpoint's scene source: sentinelhub, cdse or processing-api",
    "dry_run": "true for `--dry-run`: the figures are the plan's, nothing was requested or loaded",
    "cells": "lattice cells holding polygons (request areas)",
    "dates": "acquisition dates the catalog listed",
    "requests": "Processing API requests sent (planned, in a dry run)",
    "pixels": "pixels of those requests",
    "processing_units": "processing units they cost by Sentinel Hub's formula",
    "catalog_requests": "Catalog API requests (pages) sent",
    "already_loaded": "(date, cell) scenes skipped because scenes of that date held their polygons",
    "scenes": "the scenes loaded, each {scene_id, acquired_on, created, tiles, replaced}",
    "plan": "per cell: {cell, epsg, width, height, polygons, dates, to_request, requests, pixels, "
            "processing_units}",
}
_REFRESH = {
    "scenes": "scenes with pairs to count",
    "pairs_counted": "(polygon, scene) pairs counted",
    "coverage_filled": "pairs counted before revision 0007 whose expected pixels were stored",
    "uncountable": "polygons that cannot be counted on some grid (verdict not_countable), each "
                   "{polygon_id, source, source_fid, epsg, reason}",
    "verdicts_decided": "polygons whose verdicts were decided again (their counts, geometry or "
                        "scenes changed; every polygon after a rule change)",
    "count_seconds": "time spent counting",
    "verdict_seconds": "time spent deciding the verdicts",
}

FIELDS: dict[str, dict[str, str]] = {
    "db status": {
        "database_revision": "the database's schema revision (null: not migrated)",
        "code_revision": "the revision this sclzonal needs",
        "at_head": "true when they are equal (else the exit code is 1)",
    },
    "polygons load": {
        "path": "the file loaded",
        "source": "the source name the polygons are stored under",
        "features": "features read",
        "inserted": "new polygons",
        "updated": "polygons whose geometry, name or attributes changed",
        "unchanged": "polygons already stored as they are",
        "repaired": "invalid geometries repaired",
        "skipped_empty": "features skipped as empty, null or without area",
        "repaired_ids": "feature ids of the repaired ones (the first few, sorted)",
        "skipped_ids": "feature ids of the skipped ones (the first few, sorted)",
    },
    "scl load": {
        "files": "one object per file: {name, " + ", ".join(_SCENE) + "}",
        "loaded": "files stored as new scenes",
        "unchanged": "files loaded before (nothing changed)",
    },
    "scl fetch": _FETCH,
    "refresh": _REFRESH,
    "ingest": {
        "ran": "false when another run held the ingestion lock (nothing was done, exit code 0)",
        "fetch": "what the fetch did, as `scl fetch --json` (null when it did not run)",
        "refresh": "what the refresh did, as `refresh --json` (null when it did not run)",
        "failure": "the error that stopped the fetch (null: none; the exit code is then 1)",
    },
}
"""Command -> the keys of its JSON object -> what each holds."""


def json_option(command_name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Return the `--json` option of a command, its help naming the object's keys."""
    keys = ", ".join(FIELDS[command_name])
    return click.option("--json", "as_json", is_flag=True,
                        help=f"Print one JSON object on stdout instead of text; keys: {keys}.")


def emit(data: dict[str, Any]) -> None:
    """Print one JSON object on one line of stdout."""
    click.echo(json.dumps(data))


def db_status(current: str | None, head: str) -> dict[str, Any]:
    """Return the object of `db status --json`."""
    return {"database_revision": current, "code_revision": head, "at_head": current == head}


def polygon_load(path: Path, report: PolygonLoad) -> dict[str, Any]:
    """Return the object of `polygons load --json`."""
    return {"path": str(path), "source": report.source, "features": report.features,
            "inserted": report.inserted, "updated": report.updated, "unchanged": report.unchanged,
            "repaired": report.repaired, "skipped_empty": report.skipped_empty,
            "repaired_ids": list(report.repaired_ids), "skipped_ids": list(report.skipped_ids)}


def scene(load: SceneLoad) -> dict[str, Any]:
    """Return one loaded scene as an object."""
    return {"scene_id": load.scene_id, "acquired_on": load.acquired_on.isoformat(),
            "created": load.created, "tiles": load.tiles, "replaced": list(load.replaced)}


def scl_load(loaded: Iterable[LoadedFile]) -> dict[str, Any]:
    """Return the object of `scl load --json`."""
    files = [{"name": item.name, **scene(item.scene)} for item in loaded]
    created = sum(1 for item in files if item["created"])
    return {"files": files, "loaded": created, "unchanged": len(files) - created}


def fetch(report: FetchReport) -> dict[str, Any]:
    """Return the object of `scl fetch --json`."""
    cells = report.plan.cells if report.plan is not None else []
    return {"source": report.source, "dry_run": report.dry_run, "cells": report.cells,
            "dates": report.dates, "requests": report.requests, "pixels": report.pixels,
            "processing_units": round(report.processing_units, 6),
            "catalog_requests": report.catalog_requests, "already_loaded": report.already_loaded,
            "scenes": [scene(load) for load in report.loaded],
            "plan": [{"cell": str(c.cell.key), "epsg": c.cell.epsg, "width": c.cell.width,
                      "height": c.cell.height, "polygons": len(c.cell.polygon_ids),
                      "dates": [day.isoformat() for day in c.dates], "to_request": len(c.scenes),
                      "requests": sum(len(s.tiles) for s in c.scenes),
                      "pixels": sum(s.pixels for s in c.scenes),
                      "processing_units": round(sum(s.processing_units for s in c.scenes), 6)}
                     for c in cells]}


def refresh(report: RefreshReport) -> dict[str, Any]:
    """Return the object of `refresh --json`."""
    return {"scenes": report.scenes, "pairs_counted": report.pairs_counted,
            "coverage_filled": report.coverage_filled,
            "uncountable": [{"polygon_id": pid, "source": source, "source_fid": fid, "epsg": epsg,
                             "reason": reason}
                            for pid, source, fid, epsg, reason in report.uncountable],
            "verdicts_decided": report.verdicts_decided,
            "count_seconds": round(report.count_seconds, 3),
            "verdict_seconds": round(report.verdict_seconds, 3)}


def ingest(report: IngestReport) -> dict[str, Any]:
    """Return the object of `ingest --json`."""
    return {"ran": report.ran,
            "fetch": fetch(report.fetch) if report.fetch is not None else None,
            "refresh": refresh(report.refresh) if report.refresh is not None else None,
            "failure": report.failure}
