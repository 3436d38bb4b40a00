"""The `sclzonal qgis` commands: default styles, a ready-styled project, a read-only role, the plugin.

Registered in sclzonal/cli/__init__.py. Styles and the role need only the database; the project is
built by QGIS itself (Debian `qgis`, `python3-qgis`) in a subprocess.
"""

from __future__ import annotations

from pathlib import Path

import click

from sclzonal.cli.support import ready_connection
from sclzonal.errors import UserError
from sclzonal.qgis.project import ProjectTarget, build_project
from sclzonal.qgis.styles import write_default_styles
from sclzonal.roles.grants import password_from_env
from sclzonal.roles.reader import DEFAULT_ROLE, create_reader_role, service_entry


@click.group("qgis")
def qgis() -> None:
    """Make the database ready for QGIS: default styles, a project, a read-only role.

    \b
    Examples:
      sclzonal qgis styles
      sclzonal qgis project --output sclzonal.qgs --store-in-db
      sclzonal qgis role --prompt-password
      sclzonal qgis plugin --output sclzonal_qgis.zip
    """


@qgis.command("styles")
@click.pass_context
def styles(ctx: click.Context) -> None:
    """Write the default styles of the verdict layers to public.layer_styles (re-runnable).

    QGIS applies them when sclzonal.polygon_verdict or sclzonal.scene_verdict_layer is added
    from the database. Run again after adding verdict rules, so their labels get colours.

    \b
    Examples:
      sclzonal qgis styles
    """
    with ready_connection(ctx) as conn:
        written = write_default_styles(conn)
        database = conn.info.dbname
    for table, categories in written.items():
        click.echo(f"{database}: default style of sclzonal.{table}: {categories} categories")


@qgis.command("project")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.qgs",
              help="Write the project to this .qgs file.")
@click.option("--store-in-db", is_flag=True,
              help="Store the project in public.qgis_projects (Project > Open From > PostgreSQL).")
@click.option("--project-name", default="sclzonal", show_default=True,
              help="Name of the project stored in the database.")
@click.option("--service", metavar="NAME",
              help="Connect the layers through this pg_service.conf entry instead of host, port, "
                   "database and user (never a password).")
@click.option("--image", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.png",
              help="Also render the verdicts over the newest SCL scene to this PNG.")
@click.option("--image-width", default=1000, show_default=True, type=click.IntRange(200, 8000),
              help="Width of the PNG in pixels.")
@click.pass_context
def project(ctx: click.Context, output: Path | None, store_in_db: bool, project_name: str,
            service: str | None, image: Path | None, image_width: int) -> None:
    """Write a ready-styled QGIS project: verdict layers, polygons and SCL scenes.

    It holds the verdict per polygon (categorized by verdict; its form shows the polygon's
    source attributes and history: a chart of its class shares and its observations by
    date), the verdict per scene (set up for the Temporal Controller on acquired_on), the
    polygons, and one SCL raster layer per scene with the class names and EO Browser colours,
    a map theme per acquisition. Needs QGIS (apt: qgis python3-qgis).

    \b
    Examples:
      sclzonal qgis project --output sclzonal.qgs
      sclzonal qgis project --service sclzonal --store-in-db
      sclzonal qgis project --output sclzonal.qgs --image verdicts.png --image-width 1600
    """
    if store_in_db and not project_name.strip():
        raise UserError("--project-name is empty: give the project stored in the database a name")
    target = ProjectTarget(output=output, store_in_db=store_in_db, project_name=project_name,
                           service=service, image=image, image_width=image_width)
    with ready_connection(ctx) as conn:
        report = build_project(conn, target)
        where = f"{conn.info.dbname} (public.qgis_projects)"
    layers = len(report["layers"])
    if report.get("output"):
        click.echo(f"wrote {report['output']}: {layers} layers (QGIS {report['qgis_version']})")
    if report.get("stored"):
        click.echo(f"stored project {report['stored']!r} in {where}: Project > Open From > "
                   "PostgreSQL")
    if report.get("image"):
        click.echo(f"rendered {report['image']['path']} ({report['image']['width']} x "
                   f"{report['image']['height']} px)")


def _password(password_env: str | None, prompt: bool) -> str | None:
    if password_env and prompt:
        raise UserError("give either --password-env or --prompt-password, not both")
    if password_env:
        return password_from_env("--password-env", password_env)
    if prompt:
        return str(click.prompt("password for the role", hide_input=True, confirmation_prompt=True))
    return None


@qgis.command("role")
@click.option("--name", default=DEFAULT_ROLE, show_default=True,
              help="Name of the read-only login role.")
@click.option("--password-env", metavar="VAR",
              help="Set the role's password from this environment variable.")
@click.option("--prompt-password", is_flag=True, help="Ask for the role's password (not echoed).")
@click.pass_context
def role(ctx: click.Context, name: str, password_env: str | None, prompt_password: bool) -> None:
    """Create a read-only login role for QGIS users (re-runnable).

    It may SELECT the verdict layers, polygons, scenes, SCL tiles and classes, and the QGIS
    styles and projects; nothing else, and its transactions are read-only.

    \b
    Examples:
      sclzonal qgis role --prompt-password
      sclzonal qgis role --name field_team --password-env FIELD_TEAM_PW
    """
    password = _password(password_env, prompt_password)
    with ready_connection(ctx) as conn:
        report = create_reader_role(conn, name, password)
        entry = service_entry(conn, name)
    state = "created" if report.created else "already there, privileges renewed"
    click.echo(f"role {name}: {state}{'; password set' if report.password_set else ''}")
    click.echo(f"it may read: {', '.join(report.readable)}")
    click.echo("for QGIS, add to ~/.pg_service.conf (a password goes in ~/.pgpass):\n" + entry)


@qgis.command("plugin")
@click.option("--output", type=click.Path(path_type=Path, dir_okay=False), metavar="FILE.zip",
              default=Path("sclzonal_qgis.zip"), show_default=True, help="Write the plugin zip here.")
def plugin(output: Path) -> None:
    """Write the sclzonal QGIS plugin as a zip (Plugins > Manage and Install Plugins > Install from ZIP).

    The plugin adds Processing algorithms that run this sclzonal command line: load a layer's
    polygons, load SCL rasters, fetch, refresh, change a rule's thresholds, build and open the
    project. It needs no database and no QGIS to be written (QGIS 3.22 or newer to use it).

    \b
    Examples:
      sclzonal qgis plugin
      sclzonal qgis plugin --output /tmp/sclzonal_qgis.zip
    """
    from sclzonal.qgis.plugin_zip import build_plugin_zip

    written = build_plugin_zip(output)
    click.echo(f"wrote {written.path}: QGIS plugin sclzonal {written.version} ({len(written.names)} files); "
               "install it with Plugins > Manage and Install Plugins > Install from ZIP")
