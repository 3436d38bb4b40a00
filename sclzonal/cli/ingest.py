"""`sclzonal ingest`: the scheduled job: fetch every acquisition since the last one, then refresh.

scripts/scheduled-ingest wraps it for cron, systemd and docker compose.
"""

from __future__ import annotations

from typing import Any

import click

from sclzonal.cli import json_reports
from sclzonal.cli.json_reports import json_option
from sclzonal.cli.output import CliProgress
from sclzonal.cli.sentinelhub_options import scene_printer, sentinelhub_options, settings_from
from sclzonal.cli.support import ready_connection


@click.command("ingest")
@click.option("--lookback-days", default=30, show_default=True, type=click.IntRange(0, 3650),
              help="On the first run (nothing fetched from this endpoint yet) start this many "
                   "days before today.")
@click.option("--wait", "wait_seconds", default=0, show_default=True, type=click.FloatRange(0),
              metavar="SECONDS",
              help="When another ingestion run holds the lock, wait this long for it, then exit "
                   "with code 3 having done nothing.")
@sentinelhub_options
@json_option("ingest")
@click.pass_context
def ingest(ctx: click.Context, lookback_days: int, wait_seconds: float, as_json: bool,
           **options: Any) -> None:
    """Scheduled ingestion: fetch every acquisition since the last one fetched, then refresh.

    One run at a time: when another run holds the ingestion lock past --wait, this one says so
    and exits with code 3 (busy), so the scheduler sees a run that could not run.
    Scenes fetched before a failure are kept and counted; the exit code is then 1, and the next
    run starts again at the last date fetched. scripts/scheduled-ingest wraps this for cron,
    systemd and docker compose.

    \b
    Examples:
      sclzonal ingest --endpoint cdse --max-cloud 60
      sclzonal ingest --endpoint cdse --lookback-days 10 --json
    """
    from sclzonal.flows import IngestBusy, IngestFailed
    from sclzonal.flows import ingest as run_ingest

    settings = settings_from(options)
    settings.resolve_endpoint()
    with ready_connection(ctx) as conn:
        try:
            report = run_ingest(conn, settings, lookback_days=lookback_days,
                                on_scene=scene_printer(as_json), progress=CliProgress(),
                                wait_seconds=wait_seconds)
        except (IngestFailed, IngestBusy) as exc:
            _summary(exc.report, as_json)
            raise
    _summary(report, as_json)


def _summary(report: Any, as_json: bool) -> None:
    if as_json:
        json_reports.emit(json_reports.ingest(report))
        return
    if report.fetch is not None:
        click.echo(report.fetch.summary())
    if report.refresh is not None:
        click.echo(f"refresh: counted {report.refresh.pairs_counted} new polygon-scene pairs on "
                   f"{report.refresh.scenes} scenes")
