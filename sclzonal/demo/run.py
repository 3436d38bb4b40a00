"""The demo: a whole run on generated data, from an empty database to printed verdicts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from sclzonal.counting.refresh import refresh
from sclzonal.db import migrate
from sclzonal.db.connection import connect
from sclzonal.demo.data import generate_demo
from sclzonal.flows import Progress, Silent, load_scl_files
from sclzonal.ingest.polygons import load_polygons
from sclzonal.qgis.styles import write_default_styles
from sclzonal.verdicts import fetch_verdicts

DEMO_SOURCE = "demo-fields"


def run_demo(conninfo: str, *, data_dir: Path, scenes: int, fields: int,
             progress: Progress | None = None) -> list[dict[str, Any]]:
    """Migrate, generate, load, refresh; return the verdicts. Safe to run again (loads are idempotent).

    The scenes load through the same checks as `sclzonal scl load` (sclzonal.flows).
    """
    progress = progress or Silent()
    connect(conninfo).close()
    progress.note("migrating the database ...")
    migrate.upgrade(conninfo)
    progress.note(f"generating {scenes} SCL scenes and {fields} fields in {data_dir} ...")
    data = generate_demo(data_dir, scenes=scenes, fields=fields)
    with connect(conninfo, autocommit=True) as conn:
        report = load_polygons(conn, data.polygons_path, layer=data.polygons_layer,
                               source=DEMO_SOURCE, id_field="field_id", name_field="name")
        progress.note(f"polygons: {report.inserted} new, {report.updated} updated, "
                      f"{report.unchanged} unchanged")
        for item in load_scl_files(conn, data.scene_paths, progress=progress):
            progress.note(f"{Path(item.name).name}: scene {item.scene.scene_id}"
                          f"{'' if item.scene.created else ' (already loaded)'}")
        with progress.bar(desc="counting", unit=" pairs") as bar:
            result = refresh(conn, on_start=lambda total: bar.reset(total=total),
                             on_pairs=bar.update)
        progress.note(f"counted {result.pairs_counted} new polygon-scene pairs")
        rows = fetch_verdicts(conn)
        write_default_styles(conn)
    return rows


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
