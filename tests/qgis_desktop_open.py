"""Run inside the QGIS desktop (`qgis --project LOCATION --code THIS`) by tests/test_qgis_desktop.py.

Switches every layer of the opened project on, lets the map canvas draw it ten times (the desktop
draws layers in parallel by default) and writes what the canvas showed to the JSON file named by
SCLZ_DESKTOP_REPORT: its extent, CRS and scale after opening, the renders, every message QGIS
logged, and the frames of the Temporal Controller. Then it ends QGIS at once.
"""

import json
import os
import time

from qgis.core import QgsApplication, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface

REDRAWS = 10
WATCHDOG_MS = 120_000  # report what was drawn by then, if the canvas stops redrawing
started = time.monotonic()
canvas = iface.mapCanvas()
messages = []
QgsApplication.messageLog().messageReceived.connect(
    lambda text, tag, level: messages.append([tag, int(level), text]))
opened_on = {"extent": [canvas.extent().xMinimum(), canvas.extent().yMinimum(),
                        canvas.extent().xMaximum(), canvas.extent().yMaximum()],
             "crs": canvas.mapSettings().destinationCrs().authid(), "scale": canvas.scale()}
drawn = []


def report_and_quit() -> None:
    """Write the report and end QGIS at once (3.22 may crash while closing down)."""
    steps = canvas.temporalController()
    report = {"opened_on": opened_on, "drawn_at": drawn, "messages": messages,
              "visible": [layer.name() for layer in canvas.layers()],
              "time_frames": [steps.dateTimeRangeForFrameNumber(frame).begin().toString("yyyy-MM-dd")
                              for frame in range(steps.totalFrameCount())]}
    with open(os.environ["SCLZ_DESKTOP_REPORT"], "w", encoding="utf-8") as out:
        json.dump(report, out)
    os._exit(0)


def finished_drawing() -> None:
    """Count a finished canvas render; redraw until REDRAWS, then report."""
    drawn.append(round(time.monotonic() - started, 3))
    if len(drawn) < REDRAWS:
        canvas.refreshAllLayers()
    else:
        report_and_quit()


def switch_everything_on() -> None:
    """Tick every layer (and group), as a user looking at all the evidence would."""
    for node in QgsProject.instance().layerTreeRoot().findLayers():
        node.setItemVisibilityCheckedParentRecursive(True)
    canvas.refreshAllLayers()


canvas.mapCanvasRefreshed.connect(finished_drawing)
QTimer.singleShot(0, switch_everything_on)
QTimer.singleShot(WATCHDOG_MS, report_and_quit)
