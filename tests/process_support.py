"""Support for tests that run `sclzonal` as real processes: big data sets, polling, killing."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest

from sclzonal.demo.data import generate_demo

T = TypeVar("T")
FIELDS = 20_000


@dataclass(frozen=True)
class BigData:
    """Demo scenes and many fields: counting and refreshing them takes a second or more."""

    scenes: list[Path]
    fields: Path
    layer: str


def big_data(tmp_path_factory: pytest.TempPathFactory) -> BigData:
    """Write (once per test run) 20,000 fields and four 1500 x 1500 px scenes."""
    folder = tmp_path_factory.getbasetemp() / "big-data"
    marker = folder / "done"
    if not marker.exists():
        data = generate_demo(folder, scenes=4, fields=FIELDS, size=1500)
        marker.write_text("\n".join(map(str, data.scene_paths)))
    return BigData(sorted(folder.glob("SCL_*.tif")), folder / "fields.gpkg", "fields")


def start(database_url: str, *args: str) -> subprocess.Popen[str]:
    """Start `sclzonal --database-url URL ARGS` as a process of its own."""
    return subprocess.Popen([sys.executable, "-m", "sclzonal.cli", "--database-url", database_url,
                             *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(process: subprocess.Popen[str], timeout: float = 120) -> tuple[int, str, str]:
    """Wait for a process; return (exit code, stdout, stderr)."""
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def poll(what: Callable[[], T | None], timeout: float = 60, every: float = 0.002) -> T:
    """Call `what` until it returns something other than None or False; fail after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found is not None and found is not False:
            return found
        time.sleep(every)
    raise AssertionError(f"gave up waiting after {timeout} s")


def kill_hard(process: subprocess.Popen[str]) -> None:
    """kill -9 the process, assert it was still running, and reap it."""
    assert process.poll() is None, "the process ended before it could be killed"
    os.kill(process.pid, signal.SIGKILL)
    process.communicate(timeout=30)
    assert process.returncode == -signal.SIGKILL


def sclzonal_backends(conn: psycopg.Connection) -> list[tuple[int, str, str]]:
    """Return (pid, state, query) of the other sclzonal sessions on this database."""
    return [(int(pid), str(state), str(query)) for pid, state, query in conn.execute(
        "SELECT pid, state, query FROM pg_stat_activity WHERE datname = current_database()"
        " AND application_name = 'sclzonal' AND pid <> pg_backend_pid()").fetchall()]


def wait_until_gone(conn: psycopg.Connection, pid: int) -> None:
    """Wait until the server has ended the session of a killed client (and rolled it back)."""
    poll(lambda: conn.execute("SELECT NOT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)",
                              (pid,)).fetchone()[0], timeout=60, every=0.02)  # type: ignore[index]
