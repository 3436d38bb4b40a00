"""Which scene a file is: the same file again, or another file for an acquisition already loaded.

A scene is one acquisition (date) on one grid (CRS, origin, pixel size, size) from one source
(`geotiff`, `sen2cor`, a Sentinel Hub endpoint). The same file (SHA-256) again is "already
loaded" under the same date and refused under another. Another file for a (grid, date, source)
that a scene holds (other pixels, or the same pixels encoded differently) is refused, naming the
scene, unless `replace` is asked for: then the old scene, its tiles and counts are deleted in the
transaction that stores the new one, so readers see one or the other, never both or a mix.
Scenes of another date, grid or source are other scenes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import psycopg

from sclzonal.errors import UserError
from sclzonal.ingest.spatial_ref import srid_problem

if TYPE_CHECKING:
    from sclzonal.ingest.scl_raster import SclFile


def acquisition_key(scl: SclFile, source: str) -> str:
    """Return the advisory lock key of a scene's (source, date, grid)."""
    return (f"scene {source} {scl.acquired_on.isoformat()} {scl.srid} {scl.upper_left_x!r} "
            f"{scl.upper_left_y!r} {scl.pixel_size_x!r} {scl.pixel_size_y!r} {scl.width} {scl.height}")


def same_file(conn: psycopg.Connection, scl: SclFile) -> int | None:
    """Return the id of the scene loaded from the same file (checksum), if any; refuse the file
    when that scene has another date."""
    row = conn.execute(
        "SELECT id, acquired_on FROM sclzonal.scene WHERE checksum = %s", (scl.checksum,)
    ).fetchone()
    if row is not None and row[1] != scl.acquired_on:
        raise UserError(f"{scl.path}: this file was loaded before as scene {row[0]}, dated "
                        f"{row[1].isoformat()}; it cannot also be {scl.acquired_on.isoformat()}")
    return None if row is None else int(row[0])


def same_acquisition(conn: psycopg.Connection, scl: SclFile, source: str) -> list[tuple[int, str]]:
    """Return (id, reference) of the scenes of the same grid, date and source as a file, loaded
    from another file (another checksum).

    The checksum test matters to `check_new_scenes`, which reads without locks: another run may
    commit this very file between its reads, and that scene is the file itself, not a rival.
    """
    rows = conn.execute(
        """
        SELECT s.id, s.reference FROM sclzonal.scene AS s
        JOIN sclzonal.scene_grid AS g ON g.id = s.grid_id
        WHERE s.acquired_on = %s AND s.source = %s AND g.srid = %s AND g.upper_left_x = %s
          AND g.upper_left_y = %s AND g.pixel_size_x = %s AND g.pixel_size_y = %s
          AND g.width = %s AND g.height = %s AND s.checksum <> %s
        ORDER BY s.id
        """,
        (scl.acquired_on, source, scl.srid, scl.upper_left_x, scl.upper_left_y, scl.pixel_size_x,
         scl.pixel_size_y, scl.width, scl.height, scl.checksum)).fetchall()
    return [(int(row[0]), str(row[1])) for row in rows]


def _other_file(scl: SclFile, source: str, rows: list[tuple[int, str]]) -> UserError:
    return UserError(
        f"{scl.path}: scene {rows[0][0]} ({rows[0][1]}) already holds {source} "
        f"{scl.acquired_on.isoformat()} on the same grid, from another file; "
        "to replace that scene with this file, load it with `scl load --replace`")


def check_new_scenes(conn: psycopg.Connection, files: list[tuple[SclFile, str]],
                     replace: bool = False) -> None:
    """Raise UserError when one of several (file, source) pairs would be refused by load_scene,
    or when two of them are the same acquisition, before any is loaded.

    Reads only: load_scene checks again under its locks.
    """
    by_key: dict[str, SclFile] = {}
    by_checksum: dict[str, SclFile] = {}
    for scl, source in files:
        other = by_key.setdefault(acquisition_key(scl, source), scl)
        if other.checksum != scl.checksum:
            raise UserError(f"{scl.path} and {other.path} are the same acquisition ({source} "
                            f"{scl.acquired_on.isoformat()}, same grid) in different files; "
                            "load one of them")
        other = by_checksum.setdefault(scl.checksum, scl)
        if other.acquired_on != scl.acquired_on:
            raise UserError(f"{scl.path} and {other.path} are the same file with different dates "
                            f"({scl.acquired_on.isoformat()}, {other.acquired_on.isoformat()})")
        same_file(conn, scl)  # refuses the file under another date
        if (problem := srid_problem(conn, scl.srid, scl.path)) is not None:
            raise UserError(problem)
        if not replace and (rows := same_acquisition(conn, scl, source)):
            raise _other_file(scl, source, rows)


def make_room(conn: psycopg.Connection, scl: SclFile, source: str, replace: bool) -> tuple[int, ...]:
    """Refuse a file whose (grid, date, source) a scene from another file holds, or with
    `replace` delete that scene (its tiles and counts go with it); return the ids deleted."""
    rows = same_acquisition(conn, scl, source)
    if rows and not replace:
        raise _other_file(scl, source, rows)
    ids = tuple(scene_id for scene_id, _ in rows)
    if ids:
        conn.execute("DELETE FROM sclzonal.scene WHERE id = ANY(%s)", (list(ids),))
    return ids


def drop_tables_of_deleted_scenes(conn: psycopg.Connection) -> int:
    """Drop the (empty) tables of tiles of scenes deleted since, each when scene_tile can be
    locked at once (sql/scene_tile_partitions.sql); return how many were dropped."""
    with conn.transaction():
        row = conn.execute("SELECT sclzonal.drop_empty_scene_tile_partitions()").fetchone()
    return int(row[0]) if row else 0
