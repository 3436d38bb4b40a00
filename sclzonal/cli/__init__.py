"""The `sclzonal` command line: a thin Click layer over sclzonal's library.

One module per command or command group (db, polygons, scl, refresh, rules, verdicts, ingest,
qgis, demo), imported when that command runs, so `sclzonal --help` and each command start quickly:
`sclzonal scl load` does not pay for Sentinel Hub or vector libraries. Errors a user can fix are
printed as one line (`sclzonal: error: ...`) with exit code 1; every exit code is in
`sclzonal.cli.exit_codes`.
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Sequence
from typing import Any

import click
import psycopg

from sclzonal import __version__
from sclzonal.cli import exit_codes
from sclzonal.cli.output import Verbosity, detail
from sclzonal.db.connection import JobBusy
from sclzonal.db.settings import password_candidates, resolve_database_url
from sclzonal.errors import UserError, first_line, hide, redact

COMMANDS = {
    "db": "sclzonal.cli.db:db",
    "polygons": "sclzonal.cli.polygons:polygons",
    "scl": "sclzonal.cli.scl:scl",
    "refresh": "sclzonal.cli.refresh:refresh",
    "rules": "sclzonal.cli.rules:rules",
    "verdicts": "sclzonal.cli.verdicts:verdicts",
    "explain": "sclzonal.cli.explain:explain",
    "check": "sclzonal.cli.check:check",
    "ingest": "sclzonal.cli.ingest:ingest",
    "qgis": "sclzonal.cli.qgis:qgis",
    "demo": "sclzonal.cli.demo:demo",
}
"""Every top-level command: name -> module:attribute."""


class LazyGroup(click.Group):
    """A command group some of whose commands live in other modules, imported when used."""

    def __init__(self, *args: Any, lazy_commands: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy_commands = lazy_commands or {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Return the names of all commands, the lazy ones included."""
        return sorted([*super().list_commands(ctx), *self.lazy_commands])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """Return a command, importing its module first when it is a lazy one."""
        if cmd_name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[cmd_name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             lazy_commands=COMMANDS, epilog=exit_codes.help_epilog())
@click.option("--database-url", envvar=None, default=None, metavar="URL",
              help="PostgreSQL URL; default: $DATABASE_URL, else libpq's PG* variables.")
@click.option("-v", "--verbose", is_flag=True,
              help="More detail on stderr: timings of each step and of the whole command.")
@click.option("-q", "--quiet", is_flag=True,
              help="No progress bars or notes on stderr; results and errors are still shown.")
@click.version_option(__version__, prog_name="sclzonal")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None, verbose: bool, quiet: bool) -> None:
    """Per-polygon Sentinel-2 SCL class statistics and verdicts in PostGIS, for QGIS and SQL.

    Results go to stdout (with --json, where a command offers it, one JSON object); progress
    bars and notes go to stderr. Each command has --help.

    \b
    Examples:
      sclzonal db upgrade
      sclzonal polygons load parcels.gpkg --id-field parcel_id
      sclzonal scl load SCL_2024-06-05.tif
      sclzonal -q refresh --json
      sclzonal verdicts --format csv --output verdicts.csv
    """
    if verbose and quiet:
        raise click.UsageError("give -v/--verbose or -q/--quiet, not both")
    ctx.ensure_object(dict)
    ctx.obj["verbosity"] = level = Verbosity(quiet=quiet, verbose=verbose)
    ctx.obj["conninfo"] = resolve_database_url(database_url)
    hide(*password_candidates(ctx.obj["conninfo"]))
    if level.verbose:
        started = time.perf_counter()
        ctx.call_on_close(lambda: detail(f"{time.perf_counter() - started:.2f} s in all", level))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (`sclzonal.cli.exit_codes`; user errors: one line).

    No message shows the database password: every error line goes through `redact`.
    """
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="sclzonal",
                 standalone_mode=False)
    except JobBusy as exc:
        click.echo(redact(f"sclzonal: busy: {exc}"), err=True)
        return exit_codes.BUSY
    except UserError as exc:
        click.echo(redact(f"sclzonal: error: {exc}"), err=True)
        return exit_codes.ERROR
    except click.exceptions.Abort:
        click.echo("sclzonal: aborted", err=True)
        return exit_codes.ABORTED
    except click.ClickException as exc:
        exc.message = redact(exc.message)  # type: ignore[misc]  # click's stubs say Final
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except psycopg.Error as exc:
        click.echo(redact(f"sclzonal: database error: {first_line(exc)}"), err=True)
        return exit_codes.ERROR
    return exit_codes.OK

