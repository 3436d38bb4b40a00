"""`sclzonal explain`: why a polygon has its verdict."""

from __future__ import annotations

import click

from sclzonal.cli.support import ready_connection


@click.command("explain")
@click.argument("polygon", metavar="POLYGON")
@click.option("--source-fid", "by_source_fid", is_flag=True,
              help="POLYGON is the feature id from the loaded file (polygon.source_fid), not the "
                   "internal id.")
@click.option("--source", metavar="NAME",
              help="With --source-fid: the source (layer name) the feature came from, when the "
                   "same feature id is in several.")
@click.pass_context
def explain(ctx: click.Context, polygon: str, by_source_fid: bool, source: str | None) -> None:
    """Explain a polygon's verdict: its observations by date and each rule's outcome on them.

    For every acquisition date with pixels inside the polygon: the scenes that hold them, the
    one used (highest coverage), its coverage, clear share and class shares, and for each
    enabled rule whether it held or why not (share below the threshold, not clear enough,
    partially observed). Then what the stored verdict rests on: scene, origin, rule revision.

    \b
    Examples:
      sclzonal explain 42
      sclzonal explain --source-fid 1017
      sclzonal explain --source-fid 1017 --source parcels_2024
    """
    from sclzonal.explanation import explain as explain_polygon
    from sclzonal.explanation import find_polygon

    if source is not None and not by_source_fid:
        raise click.UsageError("--source needs --source-fid")
    with ready_connection(ctx) as conn:
        polygon_id = find_polygon(conn, polygon, by_source_fid=by_source_fid, source=source)
        text = explain_polygon(conn, polygon_id)
    click.echo(text, nl=False)
