"""Read sclzonal.polygon_verdict and write it as a text table, CSV or GeoJSON."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import stat
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

import psycopg

from sclzonal.errors import UserError, first_line

COLUMNS = [
    "polygon_id",
    "source",
    "source_fid",
    "name",
    "verdict",
    "acquired_on",
    "scene_id",
    "coverage",
    "rule_share",
    "clear_share",
    "vegetation_share",
    "pixels",
    "clear_pixels",
    "expected_pixels",
    "observed_pixels",
    "observations",
    "clear_observations",
    "partial_observations",
    "first_observed_on",
    "last_observed_on",
    "rule_held_shares",
    "rule_label",
    "rule_revision",
    "rule_min_share",
    "rule_min_clear_share",
    "rule_min_coverage",
    "scene_origin",
]
TABLE_COLUMNS = ["polygon_id", "source_fid", "name", "verdict", "acquired_on", "coverage",
                 "vegetation_share", "clear_share", "pixels"]
PERIOD_TABLE_COLUMNS = ["polygon_id", "source_fid", "name", "verdict", "acquired_on", "coverage",
                        "observations", "clear_observations", "rule_held_shares"]


ROWS_PER_FETCH = 2000
"""Rows read from the server at a time when verdicts are streamed (iter_verdicts)."""


def iter_verdicts(conn: psycopg.Connection, *, with_geometry: bool = False,
                  limit: int | None = None, period: tuple[dt.date, dt.date] | None = None
                  ) -> Iterator[dict[str, Any]]:
    """Yield verdicts ordered by polygon id (the first `limit`): the rows of
    sclzonal.polygon_verdict, or with `period` (first, last day) those of
    sclzonal.polygon_verdict_between for it.

    Through a server-side cursor, ROWS_PER_FETCH rows at a time, in one transaction (one
    snapshot): memory stays bounded however many polygons there are.
    """
    geometry = ", ST_AsGeoJSON(geom, 7) AS geometry" if with_geometry else ""
    query = (f"SELECT {', '.join(COLUMNS)}{geometry} FROM sclzonal.polygon_verdict"
             " ORDER BY polygon_id LIMIT %s")
    if period is not None:
        query = (f"SELECT {', '.join(COLUMNS)}{geometry}"
                 " FROM sclzonal.polygon_verdict_between(%s, %s) ORDER BY polygon_id LIMIT %s")
    with conn.transaction(), conn.cursor(name="sclzonal_verdicts",
                                         row_factory=psycopg.rows.dict_row) as cursor:
        cursor.itersize = ROWS_PER_FETCH
        cursor.execute(query, (*(period or ()), limit))
        yield from cursor


def fetch_verdicts(conn: psycopg.Connection, *, with_geometry: bool = False,
                   limit: int | None = None, period: tuple[dt.date, dt.date] | None = None
                   ) -> list[dict[str, Any]]:
    """Return the verdicts of iter_verdicts as a list."""
    return list(iter_verdicts(conn, with_geometry=with_geometry, limit=limit, period=period))


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _printable(text: str) -> str:
    """Return text with control characters (and other unprintable ones) shown as escapes, so a
    name cannot move the cursor, clear the screen or break the table's lines."""
    return "".join(char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
                   for char in text)


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters with which a spreadsheet takes a CSV cell for a formula."""


def _spreadsheet_safe(value: Any) -> str:
    """Return a CSV cell; text that a spreadsheet would run as a formula gets a leading '."""
    if isinstance(value, float):
        return repr(value)
    text = _cell(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text


def as_table(rows: Iterable[dict[str, Any]], limit: int | None = None,
             columns: list[str] = TABLE_COLUMNS) -> str:
    """Return an aligned text table of the main columns (the first `limit` rows), then a count
    per verdict of all rows. Only the rows shown are kept in memory."""
    shown: list[dict[str, Any]] = []
    tally: Counter[str] = Counter()
    for row in rows:
        tally[row["verdict"]] += 1
        if limit is None or len(shown) < limit:
            shown.append(row)
    total = sum(tally.values())
    cells = [columns] + [[_printable(_cell(row[c])) for c in columns] for row in shown]
    widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
    lines = ["  ".join(value.ljust(width) for value, width in zip(line, widths, strict=True)).rstrip()
             for line in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    if total > len(shown):
        lines.append(f"... {total - len(shown)} more rows")
    lines.append(f"{total} polygons: "
                 + ", ".join(f"{_printable(k)} {v}" for k, v in sorted(tally.items())))
    return "\n".join(lines) + "\n"


def csv_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Yield CSV text, a header line then ROWS_PER_FETCH rows at a time (text cells made safe to
    open in a spreadsheet)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for index, row in enumerate(rows, start=1):
        writer.writerow([_spreadsheet_safe(row[c]) for c in COLUMNS])
        if index % ROWS_PER_FETCH == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def as_csv(rows: Iterable[dict[str, Any]]) -> str:
    """Return the rows as CSV with a header line (csv_chunks joined)."""
    return "".join(csv_chunks(rows))


def geojson_chunks(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """Yield a GeoJSON FeatureCollection in EPSG:4326, one feature at a time."""
    yield '{"type": "FeatureCollection", "features": ['
    separator = ""
    for row in rows:
        properties = {c: (row[c].isoformat() if isinstance(row[c], dt.date) else row[c])
                      for c in COLUMNS}
        yield separator + json.dumps({"type": "Feature", "id": row["polygon_id"],
                                      "geometry": json.loads(row["geometry"]),
                                      "properties": properties})
        separator = ", "
    yield "]}\n"


def as_geojson(rows: Iterable[dict[str, Any]]) -> str:
    """Return the rows as a GeoJSON FeatureCollection in EPSG:4326 (geojson_chunks joined)."""
    return "".join(geojson_chunks(rows))


def write_atomically(path: Path, text: str | Iterable[str]) -> None:
    """Write a file, from one text or chunk by chunk, so that it is either complete or not there
    at all.

    A FIFO or a character device (a pipe, /dev/stdout) is written into, not replaced. A new file
    gets the mode the umask gives; a file written again keeps its mode. A path that cannot be
    written is one line (UserError).
    """
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or first_line(exc)}") from None
    if mode is not None and (stat.S_ISFIFO(mode) or stat.S_ISCHR(mode)):
        _write_into(path, text)
        return
    if mode is not None and not stat.S_ISREG(mode):
        raise UserError(f"cannot write {path}: not a regular file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or first_line(exc)}") from None
    try:
        os.fchmod(handle, stat.S_IMODE(mode) if mode is not None else 0o666 & ~_umask())
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            _write_chunks(stream, text)
        os.replace(temporary, path)
    except OSError as exc:
        Path(temporary).unlink(missing_ok=True)
        raise UserError(f"cannot write {path}: {exc.strerror or first_line(exc)}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _write_chunks(stream: IO[str], text: str | Iterable[str]) -> None:
    for chunk in ([text] if isinstance(text, str) else text):
        stream.write(chunk)


def _write_into(path: Path, text: str | Iterable[str]) -> None:
    try:
        with path.open("w", encoding="utf-8", newline="") as stream:
            _write_chunks(stream, text)
    except OSError as exc:
        raise UserError(f"cannot write {path}: {exc.strerror or first_line(exc)}") from None


def _umask() -> int:
    current = os.umask(0o022)
    os.umask(current)
    return current
