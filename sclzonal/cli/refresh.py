"""`sclzonal refresh`: count the new (polygon, scene) pairs, then refresh the verdicts."""

from __future__ import annotations

import click
import psycopg

from sclzonal.cli import json_reports
from sclzonal.cli.json_reports import json_option
from sclzonal.cli.output import note, progress, warn
from sclzonal.cli.support import conninfo, ready_connection
from sclzonal.counting import DEFAULT_COUNT_BATCH
from sclzonal.qgis.styles import StylesNotWritable, keep_default_styles_current

UNCOUNTABLE_SHOWN = 10
"""How many polygons that cannot be counted `refresh` names (all are in uncountable_polygon)."""


@click.command("refresh")
@click.option("--batch-size", default=DEFAULT_COUNT_BATCH, show_default=True,
              type=click.IntRange(1, 1_000_000),
              help="Polygons counted per transaction.")
@click.option("--recount", is_flag=True,
              help="Look for every pair without stored counts, not only new ones (after restoring "
                   "a backup without sclzonal.counted_pair); then decide every verdict again.")
@click.option("--rebuild-verdicts", is_flag=True,
              help="Decide every polygon's verdict again from the definitions, not only those "
                   "whose counts, geometry or scenes changed since the last refresh.")
@click.option("--scheduler", metavar="ADDRESS", envvar="DASK_SCHEDULER_ADDRESS",
              help="Count on the Dask cluster of this scheduler (tcp://HOST:8786; default: "
                   "$DASK_SCHEDULER_ADDRESS, else in this process). Its workers need sclzonal "
                   "installed and must reach the database at the same URL.")
@click.option("--wait", "wait_seconds", type=click.FloatRange(0), metavar="SECONDS",
              help="When another refresh is running, wait at most this long for it, then exit "
                   "with code 3 having done nothing (default: wait until it ends).")
@json_option("refresh")
@click.pass_context
def refresh(ctx: click.Context, batch_size: int, recount: bool, rebuild_verdicts: bool,
            scheduler: str | None, wait_seconds: float | None, as_json: bool) -> None:
    """Count class pixels for new (polygon, scene) pairs and refresh the verdicts.

    Only pairs not counted yet are counted; then only the polygons whose counts, geometry or
    scenes changed get their verdicts decided again (all of them after a rule change), in one
    transaction that never blocks readers (QGIS). One refresh at a time: a second one waits
    (--wait limits it). When the rules changed, it rewrites the verdict layers' QGIS default
    styles (if this role may), so a new rule's label gets its colour.

    \b
    Examples:
      sclzonal refresh
      sclzonal -v refresh
      sclzonal refresh --recount
      sclzonal refresh --rebuild-verdicts
      sclzonal refresh --scheduler tcp://dask-scheduler:8786
      sclzonal -q refresh --json
    """
    from sclzonal.counting.refresh import refresh as run_refresh

    with ready_connection(ctx) as conn, progress(desc="counting", unit=" pairs") as bar:
        def start(total: int) -> None:
            bar.reset(total=total)

        report = run_refresh(conn, batch_size=batch_size, on_start=start, on_pairs=bar.update,
                             on_wait=lambda: note("another refresh is running; waiting"),
                             recount=recount, rebuild_verdicts=rebuild_verdicts,
                             wait_seconds=wait_seconds, scheduler=scheduler,
                             conninfo=conninfo(ctx))
        _keep_styles_current(conn)
    if report.uncountable:
        shown = "; ".join(f"polygon {pid} ({source} {fid}) on EPSG:{epsg}: {reason}"
                          for pid, source, fid, epsg, reason in report.uncountable[:UNCOUNTABLE_SHOWN])
        more = len(report.uncountable) - UNCOUNTABLE_SHOWN
        warn(f"{len(report.uncountable)} polygon-grid pairs cannot be counted (verdict "
             f"not_countable; the other polygons are counted): {shown}"
             + (f"; and {more} more (sclzonal.uncountable_polygon)" if more > 0 else ""))
    if as_json:
        json_reports.emit(json_reports.refresh(report))
        return
    if report.coverage_filled:
        note(f"measured the coverage of {report.coverage_filled} pairs counted before revision 0007")
    click.echo(f"counted {report.pairs_counted} new polygon-scene pairs on {report.scenes} scenes "
               f"in {report.count_seconds:.1f} s; verdicts of {report.verdicts_decided} polygons "
               f"decided in {report.verdict_seconds:.1f} s")


def _keep_styles_current(conn: psycopg.Connection) -> None:
    """Rewrite QGIS's default styles of the verdict layers when the rules changed (and this role
    may); warn, naming the fix, when it may not."""
    try:
        written = keep_default_styles_current(conn)
    except StylesNotWritable as exc:
        warn(f"the QGIS default styles of {', '.join(exc.tables)} do not match the verdict rules "
             f"and role {conn.info.user} may not rewrite them: run `sclzonal qgis styles` as the owner")
        return
    if written:
        note(f"wrote the QGIS default styles of {', '.join(written)} (public.layer_styles)")
