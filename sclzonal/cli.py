"""The `sclzonal` command line: a thin Click layer over db/, ingest/ and sclzonal/.

Errors a user can fix are printed as one line (`sclzonal: error: ...`) with exit code 1.
Commands import what they need when they run (GDAL, shapely, sentinelhub-py), so that each
starts quickly: `sclzonal scl load` does not pay for Sentinel Hub or vector libraries.
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
import psycopg

from db import migrate
from db.connection import connect
from db.settings import resolve_database_url
from ingest import DEFAULT_TILE_SIZE
from sclzonal import DEFAULT_COUNT_BATCH, __version__
from sclzonal.cli_support import conninfo, parse_option_date, progress, ready_connection
from sclzonal.errors import UserError, first_line


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


# Commands defined in modules of their own, registered by name here (imported when used).
@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]},
             lazy_commands={"qgis": "sclzonal.qgis_cli:qgis",
                            "ingest": "sclzonal.fetch_cli:ingest_command"})
@click.option("--database-url", envvar=None, default=None, metavar="URL",
              help="PostgreSQL URL; default: $DATABASE_URL, else libpq's PG* variables.")
@click.version_option(__version__, prog_name="sclzonal")
@click.pass_context
def cli(ctx: click.Context, database_url: str | None) -> None:
    """Per-polygon Sentinel-2 SCL class statistics and verdicts in PostGIS, for QGIS and SQL."""
    ctx.ensure_object(dict)
    ctx.obj["conninfo"] = resolve_database_url(database_url)


@cli.group(cls=LazyGroup, lazy_commands={"roles": "sclzonal.db_roles:roles_command"})
def db() -> None:
    """Create and migrate the sclzonal schema; create its owner, ingest and reader roles."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database to the newest schema (creates postgis, postgis_raster, views)."""
    target = conninfo(ctx)
    connect(target).close()
    migrate.upgrade(target, revision)
    click.echo(f"database at revision {migrate.head_revision() if revision == 'head' else revision}")


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database down to REVISION (`base` removes every sclzonal table)."""
    target = conninfo(ctx)
    connect(target).close()
    migrate.downgrade(target, revision)
    click.echo(f"database at revision {revision}")


@db.command("status")
@click.pass_context
def db_status(ctx: click.Context) -> None:
    """Print the database's revision and the one this sclzonal needs."""
    with connect(conninfo(ctx)) as conn:
        current = migrate.current_revision(conn)
    head = migrate.head_revision()
    click.echo(f"database revision: {current or 'none'}; code head: {head}")
    if current != head:
        raise UserError("the database is not at head: run `sclzonal db upgrade`")


@cli.group()
def polygons() -> None:
    """Load polygons (fields, parcels) from vector files."""


@polygons.command("load")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--layer", help="Layer to read (needed when the file has several).")
@click.option("--source", help="Name of this source; default: the file name without extension.")
@click.option("--id-field", help="Field holding a stable feature id; default: the file's feature id.")
@click.option("--name-field", help="Field holding the polygon's name.")
@click.option("--encoding", metavar="NAME",
              help="Encoding of the text attributes (e.g. latin1, cp1252); default: the one the "
                   "file declares (Shapefile .cpg or code page; GeoPackage and GeoJSON: UTF-8).")
@click.pass_context
def polygons_load(ctx: click.Context, path: Path, layer: str | None, source: str | None,
                  id_field: str | None, name_field: str | None, encoding: str | None) -> None:
    """Load or update the polygons of PATH (GeoPackage, Shapefile, GeoJSON; any CRS)."""
    from ingest.polygons import load_polygons

    with ready_connection(ctx) as conn, progress(desc="polygons", unit=" features") as bar:
        report = load_polygons(conn, path, layer=layer, source=source, id_field=id_field,
                               name_field=name_field, encoding=encoding, on_progress=bar.update)

    def ids(count: int, named: list[str]) -> str:
        return f" ({', '.join(named)}{', ...' if count > len(named) else ''})" if named else ""

    click.echo(
        f"{report.source}: {report.features} features: {report.inserted} new, "
        f"{report.updated} updated, {report.unchanged} unchanged, "
        f"{report.repaired} repaired{ids(report.repaired, report.repaired_ids)}, "
        f"{report.skipped_empty} skipped as empty, null or without area"
        f"{ids(report.skipped_empty, report.skipped_ids)}"
    )


@cli.group(cls=LazyGroup, lazy_commands={"fetch": "sclzonal.fetch_cli:fetch"})
def scl() -> None:
    """Load Sentinel-2 Scene Classification (SCL) rasters."""


@scl.command("load")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--date", "date_text", metavar="YYYY-MM-DD",
              help="Acquisition date; default: the ACQUISITION_DATE tag, else a date in the name.")
@click.option("--tile-size", default=DEFAULT_TILE_SIZE, show_default=True,
              type=click.IntRange(16, 4096), help="Tile width and height in pixels.")
@click.option("--replace", is_flag=True,
              help="Replace a scene of the same grid, date and source loaded from another file "
                   "(refused without this).")
@click.pass_context
def scl_load(ctx: click.Context, paths: Sequence[Path], date_text: str | None,
             tile_size: int, replace: bool) -> None:
    """Load single-band SCL GeoTIFFs (any CRS) as scenes; a file loaded before changes nothing.

    A Sen2Cor L2A product (`.SAFE` folder or its `.zip`) loads its 20 m SCL image (JPEG 2000),
    dated by the product name. Another file for a scene already loaded (same grid, date and
    source) is refused unless --replace is given.
    """
    with ready_connection(ctx) as conn:
        # The server loads its raster library (tens of milliseconds) while this process loads
        # GDAL and numpy.
        warm_up = threading.Thread(
            target=lambda: conn.execute("SELECT postgis_raster_lib_version()"), daemon=True)
        warm_up.start()
        from ingest.scene_identity import check_new_scenes
        from ingest.scl_raster import check_pixels, load_scene
        from ingest.sen2cor import inspect_scl_input, source_of

        explicit = parse_option_date(date_text, "--date")
        stack = ctx.with_resource(ExitStack())
        checked = [scl_file for path in paths
                   for scl_file in inspect_scl_input(path, explicit, stack)]
        if len(checked) > 1:
            # A bad file later in the list must not leave the earlier ones loaded: check all
            # pixels first. (A single file is checked while it loads, rolled back on a bad value.)
            for scl_file in progress(iterable=checked, desc="checking", unit=" files"):
                check_pixels(scl_file, tile_size)
        warm_up.join()
        # Nor may a file that the database would refuse (another file of the same acquisition).
        check_new_scenes(conn, [(scl_file, source_of(scl_file)) for scl_file in checked], replace)
        for scl_file in checked:
            with progress(total=scl_file.height, desc=scl_file.path.name, unit=" rows") as bar:
                result = load_scene(conn, scl_file, tile_size=tile_size,
                                    source=source_of(scl_file), on_rows=bar.update,
                                    replace=replace)
            state = f"loaded as scene {result.scene_id} ({result.tiles} tiles)" if result.created \
                else f"already loaded as scene {result.scene_id}, unchanged"
            if result.replaced:
                state += f", replacing scene {', '.join(map(str, result.replaced))}"
            click.echo(f"{scl_file.reference or scl_file.path}: {result.acquired_on.isoformat()}: "
                       f"{state}")


@cli.command()
@click.option("--batch-size", default=DEFAULT_COUNT_BATCH, show_default=True,
              type=click.IntRange(1, 1_000_000),
              help="Polygons counted per transaction.")
@click.option("--recount", is_flag=True,
              help="Look for every pair without stored counts, not only new ones (after restoring "
                   "a backup without sclzonal.zonal_count).")
@click.pass_context
def refresh(ctx: click.Context, batch_size: int, recount: bool) -> None:
    """Count class pixels for new (polygon, scene) pairs and refresh the verdicts."""
    from sclzonal.refresh import refresh as run_refresh

    with ready_connection(ctx) as conn, progress(desc="counting", unit=" pairs") as bar:
        def start(total: int) -> None:
            bar.reset(total=total)

        report = run_refresh(conn, batch_size=batch_size, on_start=start, on_pairs=bar.update,
                             on_wait=lambda: click.echo("another refresh is running; waiting",
                                                        err=True), recount=recount)
    click.echo(f"counted {report.pairs_counted} new polygon-scene pairs on {report.scenes} scenes "
               f"in {report.count_seconds:.1f} s; verdicts refreshed in {report.verdict_seconds:.1f} s")


@cli.command()
@click.option("--format", "output_format", type=click.Choice(["table", "csv", "geojson"]),
              default="table", show_default=True, help="Output format.")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False),
              help="Write to this file instead of standard output.")
@click.option("--limit", type=click.IntRange(1), help="Show at most this many rows (table only).")
@click.pass_context
def verdicts(ctx: click.Context, output_format: str, output: Path | None,
             limit: int | None) -> None:
    """Print or write the verdict of every polygon (sclzonal.polygon_verdict)."""
    from sclzonal.verdicts import as_csv, as_geojson, as_table, fetch_verdicts, write_atomically

    with ready_connection(ctx) as conn:
        rows = fetch_verdicts(conn, with_geometry=output_format == "geojson")
    if output_format == "table":
        text = as_table(rows, limit)
    elif output_format == "csv":
        text = as_csv(rows)
    else:
        text = as_geojson(rows)
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomically(output, text)
        click.echo(f"wrote {len(rows)} verdicts to {output}", err=True)


@cli.command()
@click.option("--data-dir", type=click.Path(path_type=Path, file_okay=False),
              default=Path("demo-data"), show_default=True, help="Where to write the demo files.")
@click.option("--scenes", default=3, show_default=True, type=click.IntRange(1, 20),
              help="Number of SCL scenes.")
@click.option("--fields", default=300, show_default=True, type=click.IntRange(1, 100_000),
              help="Number of field polygons.")
@click.pass_context
def demo(ctx: click.Context, data_dir: Path, scenes: int, fields: int) -> None:
    """Migrate, generate demo SCL scenes and fields, load them, refresh and print the verdicts."""
    from sclzonal.demo import run_demo

    run_demo(conninfo(ctx), data_dir=data_dir, scenes=scenes, fields=fields)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return its exit code (user errors: one line on stderr, exit 1)."""
    try:
        cli.main(args=list(argv) if argv is not None else None, prog_name="sclzonal",
                 standalone_mode=False)
    except UserError as exc:
        click.echo(f"sclzonal: error: {exc}", err=True)
        return 1
    except click.exceptions.Abort:
        click.echo("sclzonal: aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except psycopg.Error as exc:
        click.echo(f"sclzonal: database error: {first_line(exc)}", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
