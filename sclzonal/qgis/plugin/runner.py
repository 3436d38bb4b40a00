"""Run the `sclzonal` command line for a Processing algorithm: find it, stream its notes, read its result.

QGIS's Python does not have sclzonal's dependencies, so the plugin never imports sclzonal: it runs
the executable found in the plugin's settings or on PATH, with the database the settings name (else
the environment QGIS was started with). Standard library only, so it is easy to reason about from
QGIS's side; the algorithms turn `CliFailed` into a QgsProcessingException with the CLI's own line.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

SETTINGS_PREFIX = "Processing/Configuration/"
EXECUTABLE = "SCLZONAL_EXECUTABLE"
DATABASE_URL = "SCLZONAL_DATABASE_URL"
PG_SERVICE = "SCLZONAL_PG_SERVICE"
WHERE_TO_SET = "Processing > Options > Providers > sclzonal"
# Variables QGIS sets for its own Python that would mislead the interpreter of a virtualenv or pipx.
FOREIGN = ("PYTHONPATH", "PYTHONHOME")


PROGRESS = re.compile(r"^sclzonal: progress: (?P<desc>.*): (?P<n>[0-9.e+]+)(?:/(?P<total>[0-9.e+]+))?")
"""A progress line of sclzonal run with SCLZONAL_PROGRESS=lines (sclzonal/cli/output.py)."""


class CliFailed(Exception):
    """The command could not be started or exited non-zero; the message is one line."""


@dataclass(frozen=True)
class Settings:
    """Where sclzonal is and which database it uses (empty: PATH, and QGIS's environment)."""

    executable: str = ""
    database_url: str = ""
    pg_service: str = ""


def find_executable(settings: Settings) -> str:
    """Return the sclzonal executable to run; CliFailed saying how to set it when there is none."""
    if settings.executable:
        if os.path.isfile(settings.executable) and os.access(settings.executable, os.X_OK):
            return settings.executable
        raise CliFailed(f"the sclzonal executable set in {WHERE_TO_SET} is not an executable file: "
                        f"{settings.executable}")
    found = shutil.which("sclzonal")
    if found is None:
        raise CliFailed(f"sclzonal was not found on PATH: install it (pipx install sclzonal) or set "
                        f"its path in {WHERE_TO_SET}")
    return found


def environment(settings: Settings, base: dict[str, str] | None = None) -> dict[str, str]:
    """Return the environment of the command: QGIS's, minus its Python set-up, plus the database.

    The database URL setting wins over the service setting, which wins over what QGIS inherited.
    The URL goes through the environment, never the command line (where `ps` would show it).
    """
    env = {k: v for k, v in (os.environ if base is None else base).items() if k not in FOREIGN}
    env["SCLZONAL_PROGRESS"] = "lines"
    if settings.database_url:
        env["DATABASE_URL"] = settings.database_url
    elif settings.pg_service:
        env.pop("DATABASE_URL", None)
        env["PGSERVICE"] = settings.pg_service
    return env


ERROR_STARTS = ("sclzonal: error:", "sclzonal: database error:", "sclzonal: busy:", "Error:",
                "sclzonal: aborted")
"""How the lines start that say why sclzonal failed (sclzonal.cli.main, and click's usage errors)."""


def error_line(stderr_lines: Sequence[str], code: int) -> str:
    """Return the line that says why the command failed: its last error line, else its last line."""
    lines = [line.strip() for line in stderr_lines if line.strip()]
    for line in reversed(lines):
        if line.startswith(ERROR_STARTS):
            return line
    if lines:
        return lines[-1]
    return f"sclzonal exited with code {code} and printed no error"


def progress_of(line: str) -> tuple[str, float | None] | None:
    """Return (what, percent done or None) of a progress line; None for another line."""
    found = PROGRESS.match(line)
    if found is None:
        return None
    total = float(found["total"]) if found["total"] else 0.0
    return found["desc"], (100.0 * float(found["n"]) / total if total > 0 else None)


def _pump(stream: object, into: queue.Queue[tuple[str, str | None]], name: str) -> None:
    for line in stream:  # type: ignore[attr-defined]
        into.put((name, line.rstrip("\n")))
    into.put((name, None))


def run(args: Sequence[str], settings: Settings, *, on_note: Callable[[str], None],
        on_progress: Callable[[str, float | None], None] = lambda what, percent: None,
        canceled: Callable[[], bool] = lambda: False, poll_seconds: float = 0.2) -> str:
    """Run `sclzonal -v ARGS`; pass each stderr line to `on_note` as it comes; return stdout.

    Progress lines go to `on_progress` (what, percent) instead. Error lines are not notes: they
    become the message of the CliFailed raised at the end.

    Stops the command when `canceled()` turns true. CliFailed with the command's one-line error
    when it exits non-zero, or when it was canceled.
    """
    command = [find_executable(settings), "-v", *args]
    try:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL, text=True, env=environment(settings))
    except OSError as exc:
        raise CliFailed(f"could not start {command[0]}: {exc}") from None
    with process:
        lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        for name, stream in (("out", process.stdout), ("err", process.stderr)):
            threading.Thread(target=_pump, args=(stream, lines, name), daemon=True).start()
        out: list[str] = []
        err: list[str] = []
        open_streams, was_canceled = 2, False
        while open_streams:
            if not was_canceled and canceled():
                was_canceled = True
                process.terminate()
            try:
                name, line = lines.get(timeout=poll_seconds)
            except queue.Empty:
                continue
            if line is None:
                open_streams -= 1
            elif name == "out":
                out.append(line)
            else:
                progress = progress_of(line)
                if progress is not None:
                    on_progress(*progress)
                    continue
                err.append(line)
                if not line.startswith(ERROR_STARTS):
                    on_note(line)
        code = process.wait()
    if was_canceled:
        raise CliFailed("canceled: sclzonal was stopped")
    if code != 0:
        raise CliFailed(error_line(err, code))
    return "\n".join(out)


def run_json(args: Sequence[str], settings: Settings, **kwargs: object) -> dict[str, object]:
    """Run a command given `--json` among `args`; return the object it printed on stdout."""
    stdout = run(args, settings, **kwargs)  # type: ignore[arg-type]
    last = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    try:
        result = json.loads(last)
    except ValueError:
        raise CliFailed(f"sclzonal printed no JSON object: {last[:200]!r}") from None
    if not isinstance(result, dict):
        raise CliFailed(f"sclzonal printed no JSON object: {last[:200]!r}")
    return result
