"""How the QGIS plugin runs sclzonal (sclzonal/qgis/plugin/runner.py), outside QGIS.

The runner imports only the standard library, so it runs here, against the real `sclzonal`
executable and database: which database the settings choose, the one error line of a failing
command, progress lines kept out of the notes, and a cancel that stops a waiting refresh.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest

from sclzonal.qgis.plugin import runner
from tests.helpers import hold_job_lock

SCLZONAL = str(Path(sys.executable).with_name("sclzonal"))

pytestmark = pytest.mark.process


def test_the_settings_choose_the_database_and_qgiss_python_set_up_is_dropped() -> None:
    base = {"DATABASE_URL": "postgresql://qgis-env/db", "PYTHONPATH": "/usr/share/qgis/python",
            "PYTHONHOME": "/usr", "PATH": "/usr/bin"}
    env = runner.environment(runner.Settings(), base)
    assert env == {"DATABASE_URL": "postgresql://qgis-env/db", "PATH": "/usr/bin",
                   "SCLZONAL_PROGRESS": "lines"}
    env = runner.environment(runner.Settings(pg_service="sclzonal"), base)
    assert env["PGSERVICE"] == "sclzonal" and "DATABASE_URL" not in env
    env = runner.environment(runner.Settings(database_url="postgresql://set/db", pg_service="x"), base)
    assert env["DATABASE_URL"] == "postgresql://set/db" and "PGSERVICE" not in env


def test_a_missing_executable_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(runner.CliFailed, match=r"^the sclzonal executable set in Processing > Options > "
                       r"Providers > sclzonal is not an executable file: .*nothing$"):
        runner.run(["refresh"], runner.Settings(executable=str(tmp_path / "nothing")), on_note=print)


def test_a_failing_command_gives_its_error_line_and_notes_come_as_they_are_printed(
        database_url: str, tmp_path: Path) -> None:
    notes: list[str] = []
    settings = runner.Settings(executable=SCLZONAL, database_url=database_url)
    with pytest.raises(runner.CliFailed) as failed:
        runner.run(["scl", "load", str(tmp_path / "missing.tif")], settings, on_note=notes.append)
    assert str(failed.value).startswith(f"sclzonal: error: {tmp_path / 'missing.tif'}")
    assert "\n" not in str(failed.value)
    assert notes and all(not note.startswith("sclzonal: error:") for note in notes)  # -v timings
    usage = pytest.raises(runner.CliFailed, runner.run, ["refresh", "--no-such-option"], settings,
                          on_note=notes.append)
    assert str(usage.value).startswith("Error: No such option") and "--no-such-option" in str(usage.value)


def test_cancel_stops_a_refresh_waiting_for_another(database_url: str) -> None:
    settings = runner.Settings(executable=SCLZONAL, database_url=database_url)
    holder = hold_job_lock(database_url, "refresh")
    waiting = threading.Event()
    progress: list[tuple[str, float | None]] = []

    def note(line: str) -> None:
        if "another refresh is running" in line:
            waiting.set()

    release = threading.Timer(40, holder.close)  # ends the wait should the cancel not stop it
    release.start()
    try:
        started = time.monotonic()
        with pytest.raises(runner.CliFailed, match="^canceled: sclzonal was stopped$"):
            runner.run(["refresh"], settings, on_note=note, canceled=waiting.is_set,
                       on_progress=lambda what, percent: progress.append((what, percent)))
        assert waiting.is_set() and time.monotonic() - started < 30
    finally:
        release.cancel()
        holder.close()
    assert progress == [("counting", None)]  # the bar's first line, before the lock was asked for
