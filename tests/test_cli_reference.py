"""docs/cli.md is the commands' help as `python -m sclzonal.cli.reference` prints it, never stale."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sclzonal.cli.reference import REGENERATE, reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "cli.md"


def test_docs_cli_md_is_up_to_date() -> None:
    assert DOC.is_file(), f"docs/cli.md is missing: run {REGENERATE}"
    if DOC.read_text(encoding="utf-8") != reference():
        raise AssertionError(f"docs/cli.md is stale (a command's help changed): run {REGENERATE}")


def test_the_reference_holds_every_command_and_example() -> None:
    text = reference()
    for heading in ("## sclzonal scl load", "## sclzonal verdicts", "## sclzonal qgis role",
                    "## Exit codes", "### `sclzonal ingest --json`"):
        assert f"\n{heading}\n" in text
    assert "    sclzonal verdicts --format csv --output verdicts.csv\n" in text
    assert "| 130 | aborted" in text


def test_the_module_prints_the_same_page_at_any_terminal_width() -> None:
    printed = subprocess.run([sys.executable, "-m", "sclzonal.cli.reference"], capture_output=True,
                             text=True, check=True, env={"COLUMNS": "40", "PATH": "/usr/bin:/bin"})
    assert printed.stdout == reference()
