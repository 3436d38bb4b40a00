"""`sclzonal polygons`: load polygons (fields, parcels) from vector files."""

from __future__ import annotations

from pathlib import Path

import click

from sclzonal.cli import json_reports
from sclzonal.cli.json_reports import json_option
from sclzonal.cli.output import progress
from sclzonal.cli.support import ready_connection


@click.group("polygons")
def polygons() -> None:
    """Load polygons (fields, parcels) from vector files.

    \b
    Examples:
      sclzonal polygons load parcels.gpkg --layer parcels --id-field parcel_id
    """


@polygons.command("load")
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--layer", help="Layer to read (needed when the file has several).")
@click.option("--source", help="Name of this source; default: the file name without extension.")
@click.option("--id-field", help="Field holding a stable feature id; default: the file's feature id.")
@click.option("--name-field", help="Field holding the polygon's name.")
@click.option("--encoding", metavar="NAME",
              help="Encoding of the text attributes (e.g. latin1, cp1252); default: the one the "
                   "file declares (Shapefile .cpg or code page; GeoPackage and GeoJSON: UTF-8).")
@json_option("polygons load")
@click.pass_context
def polygons_load(ctx: click.Context, path: Path, layer: str | None, source: str | None,
                  id_field: str | None, name_field: str | None, encoding: str | None,
                  as_json: bool) -> None:
    """Load or update the polygons of PATH (GeoPackage, Shapefile, GeoJSON; any CRS).

    Stored as MultiPolygon in EPSG:4326, keyed by (source, feature id): loading the file again
    updates instead of duplicating. Invalid geometries are repaired; empty ones are skipped;
    both are reported with their ids.

    \b
    Examples:
      sclzonal polygons load fields.geojson
      sclzonal polygons load parcels.gpkg --layer parcels --id-field parcel_id --name-field name
      sclzonal polygons load plots.shp --source plots-2024 --encoding cp1252 --json
    """
    from sclzonal.ingest.polygons import load_polygons

    with ready_connection(ctx) as conn, progress(desc="polygons", unit=" features") as bar:
        report = load_polygons(conn, path, layer=layer, source=source, id_field=id_field,
                               name_field=name_field, encoding=encoding, on_progress=bar.update)
    if as_json:
        json_reports.emit(json_reports.polygon_load(path, report))
        return

    def ids(count: int, named: list[str]) -> str:
        return f" ({', '.join(named)}{', ...' if count > len(named) else ''})" if named else ""

    click.echo(
        f"{report.source}: {report.features} features: {report.inserted} new, "
        f"{report.updated} updated, {report.unchanged} unchanged, "
        f"{report.repaired} repaired{ids(report.repaired, report.repaired_ids)}, "
        f"{report.skipped_empty} skipped as empty, null or without area"
        f"{ids(report.skipped_empty, report.skipped_ids)}"
    )
