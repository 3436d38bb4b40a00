"""`sclzonal verdicts --output` on unusual paths; text that must not act in a terminal or spreadsheet."""

from __future__ import annotations

import csv
import io
import os
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from sclzonal.verdicts import ROWS_PER_FETCH, as_csv, iter_verdicts
from tests.helpers import run_cli

NAMES = ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2", "@SUM(A1)", "\tTab", "plain", "clear\x1b[2Jscreen",
         "two\nlines", "bell\x07"]


@pytest.fixture
def named(empty_conn: psycopg.Connection) -> psycopg.Connection:
    """Polygons with hostile names, and verdicts refreshed (no scenes: every one `no_pixels`)."""
    conn = empty_conn
    for index, name in enumerate(NAMES):
        conn.execute("INSERT INTO sclzonal.polygon (source, source_fid, name, attributes, geom) VALUES"
                     " ('hostile', %s, %s, '{}', ST_Multi(ST_Buffer(ST_Point(15, 46, 4326), 0.001)))",
                     (str(index), name))
    conn.execute("SELECT sclzonal.refresh_polygon_verdict()")
    return conn


@pytest.fixture
def umask_027() -> Iterator[None]:
    previous = os.umask(0o027)
    yield
    os.umask(previous)


def test_csv_cells_never_start_a_formula(capsys: pytest.CaptureFixture[str], database_url: str,
                                         named: psycopg.Connection) -> None:
    code, out, err = run_cli(capsys, database_url, "verdicts", "--format", "csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    assert sorted(row["name"] for row in rows) == sorted(
        ("'" + name) if name[0] in "=+-@\t" else name for name in NAMES)
    assert all(not row["name"].startswith(("=", "+", "-", "@", "\t")) for row in rows)
    ids = {str(row[0]) for row in named.execute("SELECT id FROM sclzonal.polygon")}
    assert {row["polygon_id"] for row in rows} == ids


def test_table_output_shows_control_characters_as_escapes(
        capsys: pytest.CaptureFixture[str], database_url: str, named: psycopg.Connection) -> None:
    code, out, err = run_cli(capsys, database_url, "verdicts")
    assert code == 0, err
    assert not any(char in out for char in "\x1b\x07\t")
    assert "clear\\x1b[2Jscreen" in out and "two\\nlines" in out and "bell\\x07" in out
    assert out.count("\n") == 2 + len(NAMES) + 1  # header, rule, one line per polygon, tally


@pytest.mark.parametrize("where", ["below-a-file", "proc"])
def test_an_unwritable_path_is_one_line(capsys: pytest.CaptureFixture[str], database_url: str,
                                        named: psycopg.Connection, tmp_path: Path, where: str) -> None:
    regular = tmp_path / "regular.txt"
    regular.write_text("keep")
    target = regular / "verdicts.csv" if where == "below-a-file" else Path("/proc/sclzonal/verdicts.csv")
    code, out, err = run_cli(capsys, database_url, "verdicts", "--format", "csv", "--output", str(target))
    assert code == 1 and out == ""
    assert err.startswith(f"sclzonal: error: cannot write {target}: ") and err.count("\n") == 1
    assert regular.read_text() == "keep"


def test_a_fifo_is_written_into_not_replaced(capsys: pytest.CaptureFixture[str], database_url: str,
                                             named: psycopg.Connection, tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    code, _, err = run_cli(capsys, database_url, "verdicts", "--format", "csv", "--output", str(fifo))
    reader.join(30)
    assert code == 0, err
    assert stat.S_ISFIFO(fifo.stat().st_mode)
    assert len(list(csv.DictReader(io.StringIO(received[0])))) == len(NAMES)


def test_a_character_device_is_written_into_not_replaced(
        capsys: pytest.CaptureFixture[str], database_url: str, named: psycopg.Connection) -> None:
    """A pseudo-terminal stands for /dev/stdout and friends (a code that replaced the path with a
    regular file cannot harm it: devpts takes no new files)."""
    leader, follower = os.openpty()
    try:
        terminal = os.ttyname(follower)
        code, _, err = run_cli(capsys, database_url, "verdicts", "--format", "csv", "--output", terminal)
        assert code == 0, err
        assert stat.S_ISCHR(os.stat(terminal).st_mode)
        received = b""
        while received.count(b"\n") < len(NAMES) + 1 + 1:  # header, rows, a name with a newline
            received += os.read(leader, 65536)
        assert received.startswith(b"polygon_id,")
    finally:
        os.close(follower)
        os.close(leader)


def test_new_files_follow_the_umask_and_old_ones_keep_their_mode(
        capsys: pytest.CaptureFixture[str], database_url: str, named: psycopg.Connection,
        tmp_path: Path, umask_027: None) -> None:
    new = tmp_path / "new.csv"
    assert run_cli(capsys, database_url, "verdicts", "--format", "csv", "--output", str(new))[0] == 0
    assert stat.S_IMODE(new.stat().st_mode) == 0o640
    old = tmp_path / "old.csv"
    old.write_text("")
    old.chmod(0o604)
    assert run_cli(capsys, database_url, "verdicts", "--format", "csv", "--output", str(old))[0] == 0
    assert stat.S_IMODE(old.stat().st_mode) == 0o604 and old.read_text().startswith("polygon_id,")


def test_polygons_load_refuses_a_fifo_at_once(capsys: pytest.CaptureFixture[str], database_url: str,
                                              named: psycopg.Connection, tmp_path: Path) -> None:
    fifo = tmp_path / "parcels.gpkg"
    os.mkfifo(fifo)
    result: list[tuple[int, str, str]] = []
    loader = threading.Thread(target=lambda: result.append(
        run_cli(capsys, database_url, "polygons", "load", str(fifo))), daemon=True)
    loader.start()
    loader.join(30)
    assert not loader.is_alive(), "polygons load is still reading the FIFO after 30 s"
    code, _, err = result[0]
    assert code == 1 and err == f"sclzonal: error: {fifo}: not a regular file or folder\n"


def test_verdicts_are_streamed_from_a_server_side_cursor(empty_conn: psycopg.Connection,
                                                         database_url: str) -> None:
    conn = empty_conn
    conn.execute("INSERT INTO sclzonal.polygon (source, source_fid, name, attributes, geom)"
                 " SELECT 'many', g::text, NULL, '{}',"
                 " ST_Multi(ST_Buffer(ST_Point(15 + g * 0.001, 46, 4326), 0.0002))"
                 " FROM generate_series(1, %s) AS g", (3 * ROWS_PER_FETCH,))
    conn.execute("SELECT sclzonal.refresh_polygon_verdict()")
    with psycopg.connect(database_url, autocommit=True) as reader:
        rows = iter_verdicts(reader, with_geometry=True)
        first = next(rows)
        # the client holds one fetch of rows; the server keeps the rest behind a cursor
        cursors = reader.execute("SELECT name FROM pg_cursors").fetchall()
        assert ("sclzonal_verdicts",) in cursors
        assert first["source_fid"] == "1" and sum(1 for _ in rows) == 3 * ROWS_PER_FETCH - 1
    with psycopg.connect(database_url, autocommit=True) as again:
        text = as_csv(iter_verdicts(again))
    assert len(text.splitlines()) == 3 * ROWS_PER_FETCH + 1
