"""`sclzonal db`: migrate the schema, show its revision, create the owner, loader and reader roles."""

from __future__ import annotations

import click
import psycopg

from sclzonal.cli import json_reports
from sclzonal.cli.json_reports import json_option
from sclzonal.cli.output import note, warn
from sclzonal.cli.support import conninfo, ready_connection
from sclzonal.db import migrate
from sclzonal.db.connection import connect
from sclzonal.errors import UserError
from sclzonal.qgis.styles import StylesNotWritable, keep_default_styles_current
from sclzonal.roles.grants import password_from_env
from sclzonal.roles.setup import RoleNames, create_roles, public_schema_is_open


@click.group("db")
def db() -> None:
    """Create and migrate the sclzonal schema; create its owner, loader and reader roles.

    \b
    Examples:
      sclzonal db upgrade
      sclzonal db status --json
    """


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Target revision.")
@click.pass_context
def db_upgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database to the newest schema (creates postgis, postgis_raster, views).

    All revisions run in one transaction: a failure leaves the database as it was. At head it
    also gives the verdict layers their QGIS default styles (public.layer_styles), unless a
    style someone saved is their default (`sclzonal qgis styles` rewrites them anyway).

    \b
    Examples:
      sclzonal db upgrade
      sclzonal --database-url postgresql://sclzonal_owner@db/sclzonal db upgrade
    """
    target = conninfo(ctx)
    connect(target).close()
    migrate.upgrade(target, revision)
    click.echo(f"database at revision {migrate.head_revision() if revision == 'head' else revision}")
    if revision in ("head", migrate.head_revision()):
        _write_default_styles(target)


def _write_default_styles(target: str) -> None:
    """Give the verdict layers their QGIS default styles (public.layer_styles) unless they have
    them; a role that may not write QGIS's tables gets a warning naming the fix."""
    with connect(target, autocommit=True) as conn:
        try:
            written = keep_default_styles_current(conn, create_tables=True)
        except (StylesNotWritable, psycopg.errors.InsufficientPrivilege):
            warn(f"QGIS default styles not written: role {conn.info.user} may not write "
                 "public.layer_styles; run `sclzonal qgis styles` as a role that may")
            return
    if written:
        note(f"wrote the QGIS default styles of {', '.join(written)} (public.layer_styles)")


@db.command("downgrade")
@click.argument("revision")
@click.pass_context
def db_downgrade(ctx: click.Context, revision: str) -> None:
    """Migrate the database down to REVISION (`base` removes every sclzonal table).

    \b
    Examples:
      sclzonal db downgrade 0003
      sclzonal db downgrade base
    """
    target = conninfo(ctx)
    connect(target).close()
    migrate.downgrade(target, revision)
    click.echo(f"database at revision {revision}")


@db.command("status")
@json_option("db status")
@click.pass_context
def db_status(ctx: click.Context, as_json: bool) -> None:
    """Print the database's revision and the one this sclzonal needs; exit 1 when they differ.

    \b
    Examples:
      sclzonal db status
      sclzonal -q db status --json
    """
    with connect(conninfo(ctx)) as conn:
        current = migrate.current_revision(conn)
    head = migrate.head_revision()
    if as_json:
        json_reports.emit(json_reports.db_status(current, head))
    else:
        click.echo(f"database revision: {current or 'none'}; code head: {head}")
    if current != head:
        raise UserError("the database is not at head: run `sclzonal db upgrade`")


@db.command("roles")
@click.option("--owner", default=RoleNames.owner, show_default=True,
              help="Role that owns the schema and runs `db upgrade`.")
@click.option("--loader", default=None, show_default=RoleNames.loader,
              help="Role that loads data and refreshes (the scheduled job's).")
@click.option("--ingest", "ingest_alias", default=None, hidden=True,
              help="Deprecated name of --loader.")
@click.option("--reader", default=RoleNames.reader, show_default=True,
              help="Read-only role for QGIS users (as `qgis role`).")
@click.option("--owner-password-env", metavar="VAR", help="Set the owner's password from $VAR.")
@click.option("--loader-password-env", metavar="VAR", help="Set the loader role's password from $VAR.")
@click.option("--ingest-password-env", "ingest_password_alias", metavar="VAR", hidden=True,
              help="Deprecated name of --loader-password-env.")
@click.option("--reader-password-env", metavar="VAR", help="Set the reader's password from $VAR.")
@click.pass_context
def roles_command(ctx: click.Context, owner: str, loader: str | None, ingest_alias: str | None,
                  reader: str, owner_password_env: str | None, loader_password_env: str | None,
                  ingest_password_alias: str | None, reader_password_env: str | None) -> None:
    """Create the owner, loader and reader login roles and grant each its rights (re-runnable).

    Run once, as the administrator that ran the first `db upgrade` (it needs CREATEROLE and to
    own the schema's objects, which it gives to the owner role). Afterwards `db upgrade` runs as
    the owner, loading and `refresh` as the loader role, QGIS as the reader: no superuser.

    \b
    Examples:
      sclzonal db roles
      sclzonal db roles --owner-password-env OWNER_PW --loader-password-env LOADER_PW
    """
    loader = _renamed("--loader", loader, "--ingest", ingest_alias) or RoleNames.loader
    loader_password_env = _renamed("--loader-password-env", loader_password_env,
                                   "--ingest-password-env", ingest_password_alias)
    passwords = {"owner": password_from_env("--owner-password-env", owner_password_env),
                 "loader": password_from_env("--loader-password-env", loader_password_env),
                 "reader": password_from_env("--reader-password-env", reader_password_env)}
    with ready_connection(ctx) as conn:
        created = create_roles(conn, RoleNames(owner, loader, reader), passwords)
        public_create = public_schema_is_open(conn)
    for purpose, name in (("owner", owner), ("loader", loader), ("reader", reader)):
        state = "created" if created[purpose] else "already there, privileges renewed"
        password = "; password set" if passwords[purpose] else ""
        click.echo(f"{purpose} role {name}: {state}{password}")
    if public_create:
        # A warning, not a note: shown with --quiet too.
        click.echo("sclzonal: warning: every role may create objects in schema public (PostgreSQL "
                   "before 15); consider REVOKE CREATE ON SCHEMA public FROM PUBLIC", err=True)


def _renamed(option: str, value: str | None, old_option: str, old_value: str | None) -> str | None:
    """Return the value of `option`, or of its deprecated name `old_option` (with a warning)."""
    if old_value is None:
        return value
    if value is not None:
        raise UserError(f"{old_option} is the old name of {option}: give only {option}")
    click.echo(f"sclzonal: warning: {old_option} is deprecated, use {option}", err=True)
    return old_value
