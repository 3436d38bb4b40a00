"""`sclzonal demo`: the whole job on generated data, from an empty database to printed verdicts."""

from __future__ import annotations

from pathlib import Path

import click

from sclzonal.cli.output import CliProgress
from sclzonal.cli.support import conninfo


@click.command("demo")
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("demo-data"), show_default=True, help="Where to write the demo files.")
@click.option("--scenes", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Number of SCL scenes.")
@click.option("--fields", default=300, show_default=True, type=click.IntRange(1, 100_000),
              help="Number of field polygons.")
@click.pass_context
def demo(ctx: click.Context, data_dir: Path, scenes: int, fields: int) -> None:
    """Migrate, generate demo SCL scenes and fields, load them, refresh and print the verdicts.

    What scripts/demo runs. Running it again loads nothing twice.

    \b
    Examples:
      sclzonal demo
      sclzonal demo --data-dir /tmp/demo --scenes 5 --fields 1000
    """
    from sclzonal.demo.run import connection_help, run_demo
    from sclzonal.verdicts import as_table

    target = conninfo(ctx)
    rows = run_demo(target, data_dir=data_dir, scenes=scenes, fields=fields, progress=CliProgress())
    click.echo(as_table(rows, limit=20), nl=False)
    click.echo(connection_help(target))
