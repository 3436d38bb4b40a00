"""Read sclzonal.polygon_verdict and write it as a text table, CSV or GeoJSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg

COLUMNS = [
    "polygon_id",
    "source",
    "source_fid",
    "name",
    "verdict",
    "acquired_on",
    "rule_share",
    "clear_share",
    "vegetation_share",
    "pixels",
    "clear_pixels",
    "observed_scenes",
    "clear_scenes",
    "last_observed_on",
]
TABLE_COLUMNS = ["polygon_id", "source_fid", "name", "verdict", "acquired_on",
                 "vegetation_share", "clear_share", "pixels"]


def fetch_verdicts(conn: psycopg.Connection, *, with_geometry: bool = False,
                   limit: int | None = None) -> list[dict[str, Any]]:
    """Return the rows of sclzonal.polygon_verdict ordered by polygon id (the first `limit`)."""
    geometry = ", ST_AsGeoJSON(geom, 7) AS geometry" if with_geometry else ""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cursor:
        cursor.execute(
            f"SELECT {', '.join(COLUMNS)}{geometry} FROM sclzonal.polygon_verdict ORDER BY polygon_id"
            " LIMIT %s",
            (limit,),
        )
        return list(cursor.fetchall())


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def as_table(rows: list[dict[str, Any]], limit: int | None = None) -> str:
    """Return an aligned text table of the main columns, then a count per verdict."""
    shown = rows if limit is None else rows[:limit]
    cells = [TABLE_COLUMNS] + [[_cell(row[c]) for c in TABLE_COLUMNS] for row in shown]
    widths = [max(len(line[i]) for line in cells) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if limit is not None and len(rows) > limit:
        lines.append(f"... {len(rows) - limit} more rows")
    tally = Counter(row["verdict"] for row in rows)
    lines.append(f"{len(rows)} polygons: " + ", ".join(f"{k} {v}" for k, v in sorted(tally.items())))
    return "\n".join(lines) + "\n"


def as_csv(rows: list[dict[str, Any]]) -> str:
    """Return the rows as CSV with a header line."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[c]) if not isinstance(row[c], float) else repr(row[c])
                         for c in COLUMNS])
    return buffer.getvalue()


def as_geojson(rows: list[dict[str, Any]]) -> str:
    """Return the rows as a GeoJSON FeatureCollection in EPSG:4326."""
    features = []
    for row in rows:
        properties = {c: (row[c].isoformat() if isinstance(row[c], dt.date) else row[c])
                      for c in COLUMNS}
        features.append({"type": "Feature", "id": row["polygon_id"],
                         "geometry": json.loads(row["geometry"]), "properties": properties})
    return json.dumps({"type": "FeatureCollection", "features": features}) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write a file so that it is either complete or not there at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            stream.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
