"""`sclzonal qgis project`: describe the project for QGIS and run the builder under QGIS's Python.

QGIS's bindings (Debian `python3-qgis`) exist for the system interpreter only, so this module,
running in the virtualenv, reads what the project shows from the database, writes a JSON spec
and runs `qgis_project_builder.py` with `/usr/bin/python3` in a headless subprocess. The spec
and the project hold the connection by service name or host, port, database and user, never a
password: the builder gets a password from the URL through libpq's PGPASSWORD only.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import psycopg
from psycopg.conninfo import make_conninfo

from sclzonal.db.connection import connection_spec
from sclzonal.db.migrate import require_relations
from sclzonal.db.qgis_tables import ensure_qgis_tables
from sclzonal.db.settings import SCHEMA
from sclzonal.errors import UserError
from sclzonal.qgis.styles import (
    SCENE_VERDICT,
    VERDICT_LAYERS,
    rule_labels,
    style_qml,
    verdict_categories,
)

QGIS_PYTHON = os.environ.get("SCLZONAL_QGIS_PYTHON", "/usr/bin/python3")
BUILDER = Path(__file__).resolve().parent / "project_builder.py"
PROJECT_SCHEMA = "public"  # qgis_projects lives next to layer_styles, where QGIS looks first
INSTALL_HINT = ("QGIS's Python bindings are missing for {python}: install them with "
                "`apt-get install qgis python3-qgis` (Debian/Ubuntu)")


@dataclass(frozen=True)
class ProjectTarget:
    """Where `sclzonal qgis project` puts the project and how its layers connect."""

    output: Path | None = None
    store_in_db: bool = False
    project_name: str = "sclzonal"
    service: str | None = None
    image: Path | None = None
    image_width: int = 1000


def qgis_environment(password: str | None = None) -> dict[str, str]:
    """Return the environment for a headless QGIS subprocess (password only via PGPASSWORD)."""
    env = dict(os.environ)
    env["QT_QPA_PLATFORM"] = "offscreen"
    runtime = Path(tempfile.gettempdir()) / f"sclzonal-qgis-runtime-{os.getuid()}"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env.setdefault("XDG_RUNTIME_DIR", str(runtime))
    if password:
        env["PGPASSWORD"] = password
    return env


def require_qgis() -> str:
    """Return the QGIS version the bindings report; raise UserError when they cannot be imported."""
    try:
        done = subprocess.run(
            [QGIS_PYTHON, "-c", "from qgis.core import Qgis; print(Qgis.version())"],
            capture_output=True, text=True, timeout=120, env=qgis_environment(), check=False)
    except (OSError, subprocess.TimeoutExpired):
        raise UserError(INSTALL_HINT.format(python=QGIS_PYTHON)) from None
    if done.returncode != 0:
        raise UserError(INSTALL_HINT.format(python=QGIS_PYTHON))
    return done.stdout.strip()


def storage_uri(connection: dict[str, str], project_name: str) -> str:
    """Return QGIS's `postgresql://` URI of the project in public.qgis_projects (no password)."""
    query = {"schema": PROJECT_SCHEMA, "project": project_name}
    if "service" in connection:
        return "postgresql://?" + urlencode({"service": connection["service"], **query})
    authority = f"{quote(connection['user'], safe='')}@{quote(connection['host'], safe='')}"
    ssl = {"sslmode": connection["sslmode"]} if "sslmode" in connection else {}
    return (f"postgresql://{authority}:{connection['port']}?"
            + urlencode({"dbname": connection["dbname"], **ssl, **query}))


def project_spec(conn: psycopg.Connection, target: ProjectTarget) -> dict[str, Any]:
    """Return the builder's JSON spec: connection, styles, scenes, SCL classes, outputs."""
    require_relations(conn, [SCENE_VERDICT.table])
    connection = connection_spec(conn, target.service)
    labels = rule_labels(conn)
    scenes = [{"id": int(row[0]), "acquired_on": row[1].isoformat(), "srid": int(row[2]),
               "table": str(row[3])}
              for row in conn.execute(
                  f"SELECT scene_id, acquired_on, srid, table_name FROM {SCHEMA}.scene_tile_partition"
                  " ORDER BY acquired_on, scene_id")]
    classes = [{"value": int(row[0]), "name": str(row[1]), "colour": str(row[2])}
               for row in conn.execute(f"SELECT value, name, colour FROM {SCHEMA}.scl_class ORDER BY value")]
    return {
        "title": "sclzonal verdicts",
        "connection": connection,
        "crs": f"EPSG:{scenes[-1]['srid']}" if scenes else "EPSG:3857",
        "styles": {layer.table: style_qml(verdict_categories(layer, labels), layer.table)
                   for layer in VERDICT_LAYERS},
        "scenes": scenes,
        "scl_classes": classes,
        "source_attribute_keys": source_attribute_keys(conn),
        "project_name": target.project_name,
        "output": str(target.output.resolve()) if target.output else None,
        "storage_uri": storage_uri(connection, target.project_name) if target.store_in_db else None,
        "image": str(target.image.resolve()) if target.image else None,
        "image_width": target.image_width,
    }


def source_attribute_keys(conn: psycopg.Connection, per_source: int = 100) -> list[str]:
    """Return the names of the polygons' source attributes (of `per_source` polygons of each
    source file: a file's features share their fields), the id and name fields included."""
    rows = conn.execute(
        f"SELECT DISTINCT k.key FROM (SELECT DISTINCT source FROM {SCHEMA}.polygon) AS s"
        f" CROSS JOIN LATERAL (SELECT attributes FROM {SCHEMA}.polygon AS p"
        f"                     WHERE p.source = s.source LIMIT %s) AS a"
        " CROSS JOIN LATERAL jsonb_object_keys(a.attributes) AS k(key) ORDER BY 1",
        (per_source,)).fetchall()
    return [str(row[0]) for row in rows]


def run_builder(spec: dict[str, Any], password: str | None = None, timeout: float = 600) -> dict[str, Any]:
    """Run the builder under QGIS's Python with `spec`; return its report or raise UserError."""
    try:
        done = subprocess.run([QGIS_PYTHON, str(BUILDER)], input=json.dumps(spec), capture_output=True,
                              text=True, timeout=timeout, env=qgis_environment(password), check=False)
    except subprocess.TimeoutExpired:
        raise UserError(f"QGIS did not finish building the project within {timeout:.0f} s") from None
    if done.returncode != 0:
        lines = [line for line in done.stderr.splitlines() if line.strip()
                 and not line.startswith(("QStandardPaths", "Warning:"))]
        raise UserError(f"QGIS could not build the project: {lines[-1] if lines else done.returncode}")
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def require_service_can_store(service: str) -> None:
    """Raise UserError unless the role of the service entry `service` may write the projects.

    QGIS stores the project through the layers' connection, the service entry. Readers have an
    entry of that name too, for a read-only role; here it has to name a role that may write.
    """
    try:
        with psycopg.connect(make_conninfo(service=service), connect_timeout=30) as service_conn:
            user = service_conn.info.user
            allowed = all(service_conn.execute("SELECT has_table_privilege(%s, %s)",
                                               (f"{PROJECT_SCHEMA}.qgis_projects", privilege)).fetchone()
                          == (True,) for privilege in ("INSERT", "UPDATE"))
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"--service {service}: cannot connect through that service entry: {first}") from None
    if not allowed:
        raise UserError(f"--service {service} --store-in-db: its role {user} may not write "
                        f"{PROJECT_SCHEMA}.qgis_projects; where this command runs, the entry "
                        f"[{service}] must name a role that may (the owner), while your QGIS users' "
                        "entries of that name name the reader")


def build_project(conn: psycopg.Connection, target: ProjectTarget) -> dict[str, Any]:
    """Check QGIS, describe the project, write it (file and/or database); return the report."""
    if target.output is None and not target.store_in_db:
        raise UserError("say where the project goes: --output FILE.qgs, --store-in-db, or both")
    if target.output is not None and target.output.suffix.lower() != ".qgs":
        raise UserError(f"--output {target.output}: the project file must end in .qgs")
    require_qgis()
    spec = project_spec(conn, target)
    if target.store_in_db:
        ensure_qgis_tables(conn)
        if target.service:
            require_service_can_store(target.service)
    return run_builder(spec, password=None if target.service else conn.info.password)
