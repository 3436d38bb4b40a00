"""The command line: help and examples on every command, one-line errors, exit codes."""

from __future__ import annotations

import inspect
import shlex
import subprocess
import sys

import click
import pytest

from sclzonal.cli import cli, exit_codes, main
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


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command | None = cli
    for name in path:
        assert isinstance(command, click.Group)
        command = command.get_command(click.Context(command), name)
    assert command is not None
    return command


def _examples(command: click.Command) -> list[str]:
    """The lines of the command's "Examples:" paragraph."""
    lines = inspect.cleandoc(command.help or "").splitlines()
    assert "Examples:" in [line.strip() for line in lines], "no Examples: paragraph"
    start = [line.strip() for line in lines].index("Examples:") + 1
    found = []
    for line in lines[start:]:
        if not line.startswith("  "):
            break
        found.append(line.strip())
    return found


def _remaining(ctx: click.Context) -> list[str]:
    """The arguments a group's context left for its subcommand (click 8.1 and 8.2+)."""
    protected = ctx.__dict__.get("_protected_args", ctx.__dict__.get("protected_args", []))
    return [*protected, *ctx.args]


def _parse_example(line: str) -> tuple[str, ...]:
    """Parse an example as click would run it (without running it); return its command path."""
    words = shlex.split(line, comments=True)
    if "|" in words:
        words = words[:words.index("|")]
    assert words[0] == "sclzonal", line
    command: click.Command = cli
    ctx = cli.make_context("sclzonal", words[1:])
    path: tuple[str, ...] = ()
    while isinstance(command, click.Group):
        name, found, rest = command.resolve_command(ctx, _remaining(ctx))
        assert name is not None and found is not None, line
        path, command = (*path, name), found
        ctx = command.make_context(name, rest, parent=ctx)
    return path


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(c) or "sclzonal" for c in COMMANDS])
def test_every_command_has_examples_that_parse(path: tuple[str, ...]) -> None:
    examples = _examples(_command(path))
    assert examples, f"{' '.join(path)}: the Examples: paragraph is empty"
    for line in examples:
        assert line.startswith("sclzonal "), line
        try:
            ran = _parse_example(line)
        except click.UsageError as exc:
            pytest.fail(f"example {line!r}: {exc.format_message()}")
        assert ran[:len(path)] == path, f"{line!r} is not an example of {' '.join(path)}"
    if not isinstance(_command(path), click.Group):
        assert any(_parse_example(line) == path for line in examples)


def test_examples_keep_their_lines_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scl", "load", "--help"]) == 0
    out = capsys.readouterr().out
    for line in _examples(_command(("scl", "load"))):
        assert f"    {line}\n" in out


def test_help_shows_the_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    table = out[out.index("Exit codes:"):].splitlines()[1:]
    assert [int(line.split()[0]) for line in table] == [0, 1, 2, 3, 130]
    assert [code for code, _ in exit_codes.EXIT_CODES] == [0, 1, 2, 3, 130]


def test_unreachable_database_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_cli(capsys, "postgresql://nobody@127.0.0.1:1/none", "verdicts")
    assert code == 1
    assert err.startswith("sclzonal: error: cannot connect to the database: ")
    assert len(err.strip().splitlines()) == 1 and out == ""


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scl", "load"]) == exit_codes.USAGE == 2
    assert "Missing argument" in capsys.readouterr().err
    assert main(["-v", "-q", "db", "status"]) == 2
    assert "give -v/--verbose or -q/--quiet, not both" in capsys.readouterr().err


def test_an_aborted_prompt_exits_130(capsys: pytest.CaptureFixture[str], database_url: str,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> str:
        raise click.exceptions.Abort()

    monkeypatch.setattr(click, "prompt", interrupted)
    code, out, err = run_cli(capsys, database_url, "qgis", "role", "--name", "never_made",
                             "--prompt-password")
    assert code == exit_codes.ABORTED == 130
    assert err == "sclzonal: aborted\n" and out == ""


@pytest.mark.process
def test_console_script_runs(database_url: str) -> None:
    result = subprocess.run([sys.executable, "-m", "sclzonal.cli", "--database-url", database_url,
                             "db", "status"], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "database revision" in result.stdout


def _loaded_by(modules: str, unwanted: tuple[str, ...]) -> list[str]:
    """Which of `unwanted` a fresh interpreter has imported after importing `modules`."""
    code = (f"import sys; from sclzonal.cli import cli; import {modules}; "
            f"print(','.join(sorted(m for m in {unwanted!r} if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return [name for name in result.stdout.strip().split(",") if name]


@pytest.mark.process
def test_loading_rasters_does_not_import_vector_or_service_libraries() -> None:
    assert _loaded_by("sclzonal.cli.scl, sclzonal.flows, sclzonal.ingest.scl_raster",
                      ("fiona", "shapely", "sentinelhub", "alembic", "sqlalchemy")) == []


@pytest.mark.process
def test_refreshing_does_not_import_the_models_or_service_libraries() -> None:
    """A scheduled refresh is a process of its own: SQLAlchemy and GeoAlchemy2 (the models, which
    only migrations need) took 0.56 s of its start (imports 0.90 s, now 0.34 s)."""
    assert _loaded_by("sclzonal.cli.refresh, sclzonal.counting.refresh, sclzonal.counting.pairs",
                      ("sqlalchemy", "geoalchemy2", "alembic", "sentinelhub", "fiona")) == []


def test_an_empty_project_name_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    """It was stored nameless in public.qgis_projects, and the command said nothing about it."""
    code = main(["qgis", "project", "--store-in-db", "--project-name", " "])
    captured = capsys.readouterr()
    assert (code, captured.out) == (1, "")
    assert captured.err == ("sclzonal: error: --project-name is empty: give the project stored in the "
                            "database a name\n")
