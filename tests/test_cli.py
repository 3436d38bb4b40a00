"""The command line: help on every command, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
import sys

import click
import pytest

from sclzonal.cli import cli, main
from tests.helpers import run_cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [prefix]
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            found += _commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


COMMANDS = _commands(cli)


def test_the_public_commands_exist() -> None:
    for expected in [("db", "upgrade"), ("polygons", "load"), ("scl", "load"), ("scl", "fetch"),
                     ("refresh",), ("verdicts",), ("demo",), ("qgis", "project"), ("ingest",)]:
        assert expected in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) or "sclzonal" for c in COMMANDS])
def test_every_command_has_help(capsys: pytest.CaptureFixture[str], path: tuple[str, ...]) -> None:
    assert main([*path, "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Usage: sclzonal")
    command: click.Command | None = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), name)
    assert command is not None
    assert command.help and len(command.help.strip()) > 20
    for parameter in command.params:
        if isinstance(parameter, click.Option) and parameter.name != "help":
            assert parameter.help, f"{' '.join(path)} {parameter.name} has no help"


def test_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "postgresql://nobody@127.0.0.1:1/none", "verdicts")
    assert code == 1
    assert err.startswith("sclzonal: error: cannot connect to the database: ")
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scl", "load"]) == 2
    assert "Missing argument" in capsys.readouterr().err


@pytest.mark.process
def test_console_script_runs(database_url: str) -> None:
    result = subprocess.run([sys.executable, "-m", "sclzonal.cli", "--database-url", database_url,
                             "db", "status"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "database revision" in result.stdout


@pytest.mark.process
def test_loading_rasters_does_not_import_vector_or_service_libraries() -> None:
    code = ("import sys; from sclzonal.cli import cli; import sclzonal.ingest.scl_raster; "
            "print(sorted(m for m in ('fiona', 'shapely', 'sentinelhub', 'alembic', 'sqlalchemy') "
            "if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
