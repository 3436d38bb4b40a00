"""Draw a whole sclzonal project, every layer on, with QGIS's parallel renderer, many times over.

    /usr/bin/python3 tests/qgis_parallel_render.py LOCATION RENDERS OUTPUT_DIR

LOCATION is a .qgs file or a `postgresql://` storage URI. The desktop draws the map canvas with
`QgsMapRendererParallelJob` (each layer in a thread of its own); this does the same in one QGIS
process, RENDERS times in a row, over the extent of all layers, with every layer of the tree
switched on. Each image goes to OUTPUT_DIR/render-N.png. Prints one JSON object: open time, the
time of each render, the renderer's per-layer errors and every message QGIS logged (tag, level,
text). tests/test_qgis_desktop.py runs it in a subprocess, so a crash shows as a signal.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sclzonal.qgis.project_builder import open_project, start_qgis  # noqa: E402


def full_extent(project: Any, layers: list[Any]) -> Any:
    """Return the extent of all `layers` in the project's CRS."""
    from qgis.core import QgsCoordinateTransform, QgsRectangle

    extent = QgsRectangle()
    for layer in layers:
        transform = QgsCoordinateTransform(layer.crs(), project.crs(), project)
        part = transform.transformBoundingBox(layer.extent())
        if extent.isEmpty():
            extent = part
        else:
            extent.combineExtentWith(part)
    return extent


def render_all(project: Any, renders: int, output: Path, messages: list[list[Any]]) -> dict[str, Any]:
    """Render every layer of `project` `renders` times with the parallel job; save each image."""
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QCoreApplication, QSize

    nodes = project.layerTreeRoot().findLayers()
    for node in nodes:
        node.setItemVisibilityCheckedParentRecursive(True)
    layers = [node.layer() for node in nodes if node.layer().isSpatial()]  # as the canvas draws
    settings = QgsMapSettings()
    settings.setLayers(layers)
    settings.setDestinationCrs(project.crs())
    settings.setExtent(full_extent(project, layers))
    settings.setOutputSize(QSize(700, 700))
    settings.setTransformContext(project.transformContext())
    times, errors = [], []
    for index in range(renders):
        job = QgsMapRendererParallelJob(settings)
        started = time.monotonic()
        job.start()
        job.waitForFinished()
        times.append(round(time.monotonic() - started, 3))
        QCoreApplication.processEvents()  # deliver messages logged from the rendering threads
        errors += [[index, project.mapLayer(error.layerID).name(), error.message] for error in job.errors()]
        job.renderedImage().save(str(output / f"render-{index}.png"), "PNG")
    return {"layers": [layer.name() for layer in layers], "times": times, "errors": errors}


def main() -> int:
    """Open the project, render it, print the JSON report."""
    location, renders, output = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    app = start_qgis()
    from qgis.core import QgsApplication

    messages: list[list[Any]] = []
    QgsApplication.messageLog().messageReceived.connect(
        lambda text, tag, level: messages.append([tag, int(level), text]))
    started = time.monotonic()
    project = open_project(location)
    report: dict[str, Any] = {"open_seconds": round(time.monotonic() - started, 3)}
    report.update(render_all(project, renders, output, messages))
    report["messages"] = messages
    print(json.dumps(report))
    project.clear()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
