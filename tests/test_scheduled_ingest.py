"""Scheduled ingestion: `sclzonal ingest`, scripts/scheduled-ingest, the advisory lock, the units.

Against the fake Sentinel Hub; the script runs as a real subprocess, and two of them at once
show that the second exits 0 while the first holds the lock.
"""

from __future__ import annotations

import configparser
import datetime as dt
import os
import re
import subprocess
import threading
import time
from pathlib import Path

import psycopg
import pytest

from tests.helpers import job_lock_is_held, run_cli
from tests.sentinelhub_fake import FakeSentinelHub, Fault
from tests.sentinelhub_fixtures import (  # noqa: F401 - fixtures
    EXPECTED,
    FIELDS,
    SCENES,
    SECRET,
    body_of,
    clean_fixture,
    credentials_fixture,
    fake_fixture,
    hold_ingest_lock,
    lattice_cells,
    scene_rows,
)

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "scheduled-ingest"
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z scheduled-ingest: ")
LOOKBACK = str((dt.date.today() - dt.date(2024, 6, 1)).days)
OPTIONS = ["--max-cloud", "50", "--lookback-days", LOOKBACK, "--timeout-seconds", "5",
           "--max-wait-seconds", "1", "--retry-sleep-seconds", "0.05"]


def _script(database_url: str, fake: FakeSentinelHub, *args: str, log: Path | None = None,
            wait: bool = True) -> subprocess.Popen[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "SCLZONAL_ENDPOINT": fake.base_url}
    if log is not None:
        env["SCLZONAL_INGEST_LOG"] = str(log)
    process = subprocess.Popen([str(SCRIPT), *OPTIONS, *args], env=env, text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if wait:
        process.wait(timeout=120)
    return process


def _lock_is_held(conn: psycopg.Connection) -> bool:
    return job_lock_is_held(conn, "ingest")


@pytest.mark.slow
@pytest.mark.process
def test_ingest_fetches_since_the_last_date_and_refreshes(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SCLZONAL_ENDPOINT", fake.base_url)
    code, out, err = run_cli(capsys, database_url, "ingest", *OPTIONS)
    assert code == 0, err
    # June (see test_fetch_sentinelhub) and 2024-07-02 over every cell
    cells = len(lattice_cells(FIELDS))
    assert len(scene_rows(clean)) == SCENES + cells
    first = body_of(fake.of_kind("catalog")[0])["datetime"]
    assert first.startswith(f"{dt.date.today() - dt.timedelta(days=int(LOOKBACK))}T00:00:00Z/")
    assert re.search(rf"refresh: counted \d+ new polygon-scene pairs on {SCENES + cells} scenes", out)
    verdicts = clean.execute("SELECT verdict FROM sclzonal.polygon_verdict").fetchall()
    assert len(verdicts) == 6 and ("no_pixels",) not in verdicts
    fake.reset()
    code, out, err = run_cli(capsys, database_url, "ingest", *OPTIONS)
    assert code == 0, err
    assert body_of(fake.of_kind("catalog")[0])["datetime"].startswith("2024-07-02T00:00:00Z/")
    assert fake.of_kind("process") == [] and f"{cells} already loaded" in out


@pytest.mark.slow
@pytest.mark.process
def test_ingest_exits_busy_while_another_run_holds_the_lock(
        capsys: pytest.CaptureFixture[str], database_url: str, clean: psycopg.Connection,
        fake: FakeSentinelHub) -> None:
    with hold_ingest_lock(database_url):
        code, out, err = run_cli(capsys, database_url, "ingest", "--endpoint", fake.base_url, *OPTIONS)
        started = time.monotonic()
        waited, _, waited_err = run_cli(capsys, database_url, "ingest", "--wait", "1",
                                        "--endpoint", fake.base_url, *OPTIONS)
        assert time.monotonic() - started >= 1.0
    assert code == waited == 3, err
    assert err.strip().splitlines() == [
        "another ingestion run holds the lock; waiting up to 0 s",
        "sclzonal: busy: another ingest run held the lock for longer than 0 s; this run did nothing"]
    assert "for longer than 1 s" in waited_err
    assert fake.requests == [] and scene_rows(clean) == []
    # `scl fetch` waits for the lock instead: here until the holder lets go a second later
    holder = hold_ingest_lock(database_url)
    threading.Timer(1.0, holder.close).start()
    started = time.monotonic()
    code, out, err = run_cli(capsys, database_url, "scl", "fetch", "--endpoint", fake.base_url,
                             "--start", "2024-06-01", "--end", "2024-06-05")
    assert code == 0, err
    assert "another ingestion run holds the lock; waiting for it" in err
    first_day = sum(n for (day, _), n in EXPECTED.items() if day == dt.date(2024, 6, 5))
    assert time.monotonic() - started >= 1.0 and len(scene_rows(clean)) == first_day


@pytest.mark.slow
@pytest.mark.process
def test_the_script_logs_with_timestamps_and_exits_non_zero_on_failure(
        database_url: str, clean: psycopg.Connection, fake: FakeSentinelHub, tmp_path: Path) -> None:
    fake.always["process"] = Fault(status=500)
    log = tmp_path / "sclzonal.ingest.log"
    process = _script(database_url, fake, log=log)
    stdout, stderr = process.communicate()
    assert process.returncode == 1, stderr
    lines = stderr.strip().splitlines()
    assert all(STAMP.match(line) for line in lines), stderr
    assert lines[0].endswith(f"start: sclzonal ingest {' '.join(OPTIONS)} "
                             f"(SCLZONAL_ENDPOINT={fake.base_url})")
    assert any("sclzonal: error: SCL request for 2024-06-05" in line for line in lines)
    assert any("refresh: counted 0 new polygon-scene pairs" in line for line in lines)
    assert re.search(r"FAILED with exit status 1 after \d+ s$", lines[-1])
    assert log.read_text().strip().splitlines() == lines
    assert SECRET not in stdout + stderr + log.read_text()
    assert scene_rows(clean) == []


@pytest.mark.slow
@pytest.mark.process
def test_two_runs_at_once_the_second_exits_busy_and_the_first_loads_everything(
        database_url: str, clean: psycopg.Connection, fake: FakeSentinelHub) -> None:
    release = threading.Event()
    fake.faults["process"].append(Fault(hold=release))  # keeps the first run busy, lock held
    # The first run waits on the held request as long as the test needs (no client timeout
    # retry within 120 s), however slowly the second process starts on a loaded machine.
    first = _script(database_url, fake, "--timeout-seconds", "120", wait=False)
    deadline = time.monotonic() + 60
    while not _lock_is_held(clean):
        assert first.poll() is None and time.monotonic() < deadline, first.communicate()
        time.sleep(0.05)
    second = _script(database_url, fake)
    _, second_err = second.communicate()
    assert second.returncode == 3, second_err
    assert "sclzonal: busy: another ingest run held the lock" in second_err
    assert first.poll() is None  # the second ended while the first still ran
    release.set()
    _, first_err = first.communicate(timeout=60)
    assert first.returncode == 0, first_err
    assert re.search(r"done in \d+ s$", first_err.strip().splitlines()[-1])
    assert len(scene_rows(clean)) == SCENES + len(lattice_cells(FIELDS))
    assert len(fake.of_kind("token")) == 1  # the second run never authenticated


def test_schedules_run_the_script() -> None:
    cron = [line for line in (ROOT / "scripts/cron/sclzonal-ingest.cron").read_text().splitlines()
            if line and not line.startswith("#") and "=" not in line.split()[0]]
    assert len(cron) == 1
    fields = cron[0].split()
    assert len(fields[:5]) == 5 and fields[5] == "sclzonal"
    assert "/scripts/scheduled-ingest" in cron[0]
    service = configparser.ConfigParser(interpolation=None)
    service.read(ROOT / "scripts/systemd/sclzonal-ingest.service")
    assert service["Service"]["Type"] == "oneshot"
    assert service["Service"]["ExecStart"].endswith("/scripts/scheduled-ingest")
    timer = configparser.ConfigParser(interpolation=None)
    timer.read(ROOT / "scripts/systemd/sclzonal-ingest.timer")
    assert timer["Timer"]["Unit"] == "sclzonal-ingest.service" and timer["Timer"]["OnCalendar"]
    compose = (ROOT / "docker-compose.yml").read_text()
    assert re.search(r"^  ingest:\n(    .*\n|\n)*?          scripts/scheduled-ingest", compose, re.M)
