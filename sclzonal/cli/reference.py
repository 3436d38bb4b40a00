"""docs/cli.md, generated from the commands' own help: `python -m sclzonal.cli.reference > docs/cli.md`.

scripts/cli-docs runs it; tests/test_cli_reference.py fails when docs/cli.md differs from what
this module prints. The help is rendered at a fixed width, so the page does not depend on the
terminal it was made in.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import click

from sclzonal.cli import cli, exit_codes
from sclzonal.cli.json_reports import FIELDS

WIDTH = 100
"""Columns the help is rendered in."""

REGENERATE = "scripts/cli-docs"
"""The command that rewrites docs/cli.md."""

_INTRO = f"""\
# Command reference

<!-- Generated from the commands' help by {REGENERATE} (python -m sclzonal.cli.reference).
     Do not edit: change the command's help, then run {REGENERATE}. -->

Every command of `sclzonal`, with the help it prints (`sclzonal COMMAND --help`). How to install
and a first run are in the [README](../README.md).

## Conventions

- **Database.** `--database-url URL`, else `DATABASE_URL`, else libpq's own environment
  (`PGHOST`, `PGSERVICE`, ...). Every command except `db upgrade`, `db downgrade`, `db status`
  and `demo` refuses a database that is not at the code's schema revision and says to run
  `sclzonal db upgrade`.
- **Output.** A command's result goes to stdout: a line of text, or with `--json` (where
  offered) one JSON object. Progress bars (only on a terminal) and notes go to stderr.
  `-q/--quiet` silences the bars and notes; `-v/--verbose` adds timings of each step and of the
  whole command. Errors are shown either way.
- **Errors.** An error you can fix is one line, `sclzonal: error: ...`, never a traceback.
- **Re-running** any command is safe: loads are idempotent, `refresh` counts only what is new.
"""


def _json_section() -> str:
    lines = ["## JSON output", "",
             "`--json` prints one JSON object on one line of stdout. Dates are `YYYY-MM-DD`, "
             "durations seconds.", ""]
    for command, fields in FIELDS.items():
        lines += [f"### `sclzonal {command} --json`", "", "| key | holds |", "|---|---|"]
        lines += [f"| `{key}` | {meaning} |" for key, meaning in fields.items()]
        lines.append("")
    return "\n".join(lines)


def _contexts(command: click.Command, ctx: click.Context) -> Iterator[click.Context]:
    """Yield a context for the command and for each of its subcommands, depth first."""
    yield ctx
    if isinstance(command, click.Group):
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None
            yield from _contexts(sub, click.Context(sub, info_name=name, parent=ctx))


def reference() -> str:
    """Return the whole of docs/cli.md."""
    root = click.Context(cli, info_name="sclzonal", terminal_width=WIDTH, max_content_width=WIDTH,
                         **cli.context_settings)
    sections = [_INTRO, "## Exit codes\n\n" + exit_codes.markdown_table(), _json_section()]
    contexts = list(_contexts(cli, root))
    sections.append("## Commands\n\n" + "\n".join(
        f"- [`{ctx.command_path}`](#{ctx.command_path.replace(' ', '-')})" for ctx in contexts) + "\n")
    for ctx in contexts:
        text = ctx.command.get_help(ctx).rstrip()
        sections.append(f"## {ctx.command_path}\n\n```text\n{text}\n```\n")
    return "\n".join(sections)


def main() -> None:
    """Print docs/cli.md."""
    sys.stdout.write(reference())


if __name__ == "__main__":
    main()
