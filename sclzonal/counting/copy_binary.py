"""Bulk writes with PostgreSQL's binary COPY."""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import sql

_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
_TRAILER = struct.pack(">h", -1)
_INTEGER_TYPES = {"int2": ">i2", "int4": ">i4", "int8": ">i8"}


def _copy_statement(table: str, columns: Sequence[str]) -> sql.Composed:
    target = sql.SQL(".").join(sql.Identifier(part) for part in table.split("."))
    return sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        target, sql.SQL(", ").join(sql.Identifier(column) for column in columns))


def copy_rows(conn: psycopg.Connection, table: str, columns: Sequence[str], types: Sequence[str],
              rows: Iterable[Sequence[Any]]) -> None:
    """COPY rows of Python values into `table` (schema-qualified name allowed), binary format."""
    with conn.cursor() as cursor, cursor.copy(_copy_statement(table, columns)) as copy:
        copy.set_types(list(types))
        for row in rows:
            copy.write_row(row)


def binary_copy_payload(columns: Sequence[tuple[npt.ArrayLike, str]]) -> bytes:
    """Return a whole binary COPY stream for integer columns given as (values, int2|int4|int8)."""
    arrays = [np.asarray(values) for values, _ in columns]
    rows = len(arrays[0]) if arrays else 0
    fields = [("count", ">i2")]
    for index, (_, pg_type) in enumerate(columns):
        fields += [(f"length_{index}", ">i4"), (f"value_{index}", _INTEGER_TYPES[pg_type])]
    records = np.empty(rows, dtype=np.dtype(fields))
    records["count"] = len(columns)
    for index, (array, (_, pg_type)) in enumerate(zip(arrays, columns, strict=True)):
        records[f"length_{index}"] = np.dtype(_INTEGER_TYPES[pg_type]).itemsize
        records[f"value_{index}"] = array
    return _HEADER + records.tobytes() + _TRAILER


def copy_integer_columns(conn: psycopg.Connection, table: str,
                         columns: Sequence[tuple[str, npt.ArrayLike, str]]) -> None:
    """COPY integer numpy columns, given as (name, values, int2|int4|int8), into `table`."""
    payload = binary_copy_payload([(values, pg_type) for _, values, pg_type in columns])
    statement = _copy_statement(table, [name for name, _, _ in columns])
    with conn.cursor() as cursor, cursor.copy(statement) as copy:
        copy.write(payload)
