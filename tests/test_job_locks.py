"""One refresh and one ingestion at a time, by a lock that only roles that may write can take.

Advisory locks need no privilege: a read-only session could take the keys refresh and ingest
used and stall them for ever. The jobs now lock the tables sclzonal.refresh_lock and
sclzonal.ingest_lock, which the reader role cannot lock at all.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from tests.helpers import cli_ok, hold_job_lock, run_cli, write_raster
from tests.roles_support import Roles, sclzonal_roles

OLD_ADVISORY_KEYS = (0x5C12_0001, 0x5C12_0002)  # what refresh and ingest used before 0008


@pytest.fixture(scope="module")
def roles(database_url: str) -> Iterator[Roles]:
    with sclzonal_roles(database_url, "locks") as made:
        yield made


@pytest.fixture
def a_scene(empty_conn: psycopg.Connection, database_url: str, tmp_path: Path) -> Path:
    path = write_raster(tmp_path / "scl.tif", np.full((20, 20), 4, np.uint8), date=dt.date(2024, 6, 1))
    cli_ok(database_url, "scl", "load", str(path))
    return path


@pytest.mark.parametrize("statement", [
    "LOCK TABLE sclzonal.refresh_lock IN SHARE ROW EXCLUSIVE MODE",
    "LOCK TABLE sclzonal.ingest_lock IN ACCESS EXCLUSIVE MODE",
    "LOCK TABLE sclzonal.refresh_lock IN ACCESS SHARE MODE",
    "SELECT * FROM sclzonal.ingest_lock FOR UPDATE",
])
def test_the_reader_cannot_take_a_job_lock(roles: Roles, statement: str) -> None:
    with psycopg.connect(roles.reader) as reader:
        reader.execute("SET TRANSACTION READ WRITE")  # its default is read-only; a role may lift it
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute(statement)  # type: ignore[arg-type]


def test_a_reader_holding_advisory_locks_does_not_stall_refresh(
        capsys: pytest.CaptureFixture[str], roles: Roles, a_scene: Path) -> None:
    with psycopg.connect(roles.reader, autocommit=True) as reader:
        for key in OLD_ADVISORY_KEYS:
            reader.execute("SELECT pg_advisory_lock(%s)", (key,))
        outcome: list[int] = []
        worker = threading.Thread(target=lambda: outcome.append(
            run_cli(capsys, roles.loader, "refresh")[0]))
        worker.start()
        worker.join(60)
        assert not worker.is_alive(), "refresh waits for the reader's advisory lock"
    assert outcome == [0]


def test_a_refresh_that_cannot_run_within_its_wait_exits_busy(
        capsys: pytest.CaptureFixture[str], roles: Roles, database_url: str, a_scene: Path,
        conn: psycopg.Connection) -> None:
    before = conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone()
    with hold_job_lock(roles.loader, "refresh"):
        started = time.monotonic()
        code, out, err = run_cli(capsys, database_url, "refresh", "--wait", "1")
        waited = time.monotonic() - started
    assert code == 3 and out == "" and waited >= 1.0
    assert err.splitlines() == [
        "another refresh is running; waiting",
        "sclzonal: busy: another refresh run held the lock for longer than 1 s; this run did nothing"]
    assert conn.execute("SELECT count(*) FROM sclzonal.counted_pair").fetchone() == before
