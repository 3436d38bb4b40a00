"""`sclzonal demo`: a whole run on generated data, from an empty database to printed verdicts."""

from __future__ import annotations

from pathlib import Path

import click
from psycopg.conninfo import conninfo_to_dict

from db import migrate
from db.connection import connect
from ingest.polygons import load_polygons
from ingest.scl_raster import inspect_scl_file, load_scene
from sclzonal.cli_support import progress
from sclzonal.demo_data import generate_demo
from sclzonal.qgis_styles import write_default_styles
from sclzonal.refresh import refresh
from sclzonal.verdicts import as_table, fetch_verdicts

DEMO_SOURCE = "demo-fields"


def run_demo(conninfo: str, *, data_dir: Path, scenes: int, fields: int) -> None:
    """Migrate, generate, load, refresh and print; safe to run again (loads are idempotent)."""
    connect(conninfo).close()
    click.echo("migrating the database ...", err=True)
    migrate.upgrade(conninfo)
    click.echo(f"generating {scenes} SCL scenes and {fields} fields in {data_dir} ...", err=True)
    data = generate_demo(data_dir, scenes=scenes, fields=fields)
    with connect(conninfo, autocommit=True) as conn:
        report = load_polygons(conn, data.polygons_path, layer=data.polygons_layer,
                               source=DEMO_SOURCE, id_field="field_id", name_field="name")
        click.echo(f"polygons: {report.inserted} new, {report.updated} updated, "
                   f"{report.unchanged} unchanged", err=True)
        for path in data.scene_paths:
            scl_file = inspect_scl_file(path)
            with progress(total=scl_file.height, desc=path.name, unit=" rows") as bar:
                loaded = load_scene(conn, scl_file, on_rows=bar.update)
            click.echo(f"{path.name}: scene {loaded.scene_id}"
                       f"{'' if loaded.created else ' (already loaded)'}", err=True)
        with progress(desc="counting", unit=" pairs") as bar:
            result = refresh(conn, on_start=lambda total: bar.reset(total=total),
                             on_pairs=bar.update)
        click.echo(f"counted {result.pairs_counted} new polygon-scene pairs", err=True)
        rows = fetch_verdicts(conn)
        write_default_styles(conn)
    click.echo(as_table(rows, limit=20), nl=False)
    click.echo(connection_help(conninfo))


def connection_help(conninfo: str) -> str:
    """Return how to open the verdicts in QGIS for this database (never prints a password)."""
    params = conninfo_to_dict(conninfo) if conninfo else {}
    where = ", ".join(
        f"{label} {params[key]}"
        for key, label in (("host", "host"), ("port", "port"), ("dbname", "database"),
                           ("user", "user"))
        if params.get(key)
    ) or "the host, port and database of your PG* environment"
    return (
        "\nOpen the verdicts in QGIS: Layer > Add Layer > Add PostGIS Layers > New connection\n"
        f"({where}), connect, and add sclzonal.polygon_verdict: it comes styled by verdict.\n"
        "A project with the SCL scenes too: sclzonal qgis project --output sclzonal.qgs --store-in-db\n"
        "(needs QGIS: apt-get install qgis python3-qgis), then open it in QGIS.\n"
        "Or ask with SQL: SELECT verdict, count(*) FROM sclzonal.polygon_verdict GROUP BY verdict;"
    )
