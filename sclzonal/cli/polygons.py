"""`sclzonal polygons`: load polygons (fields, parcels) from vector files."""

from __future__ import annotations

from pathlib import Path

import click

from sclzonal.cli.support import progress, ready_connection


@click.group("polygons")
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
    from sclzonal.ingest.polygons import load_polygons

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
