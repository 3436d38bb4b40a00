"""Run inside the QGIS desktop by scripts/qgis-screenshots: take the screenshots for docs/.

Waits for the map canvas to finish its first drawing of the project, saves the main window
(docs/qgis-project.png), opens the form of a polygon with several observations at its History
tab and saves it (docs/qgis-form-history.png), writes a JSON report to SCLZ_SHOTS_REPORT (the
seconds from QGIS's start, SCLZ_SHOTS_STARTED, to the first finished drawing; the polygon shown;
the files) and ends QGIS. Runs under QGIS's own Python; nothing here runs in the project's virtualenv.
"""

import json
import os
import sys
import time
import traceback

from qgis.core import QgsApplication, QgsFeatureRequest, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.utils import iface

sys.path.insert(0, os.getcwd())  # the checkout, where scripts/qgis-screenshots runs QGIS
from sclzonal.qgis import project_forms  # noqa: E402

OUT = os.environ["SCLZ_SHOTS_OUT"]
REPORT = os.environ["SCLZ_SHOTS_REPORT"]
started = float(os.environ["SCLZ_SHOTS_STARTED"])  # when the shell started QGIS (epoch seconds)
report = {}
state = {}


def finish():
    """Write the report and leave at once (QGIS 3.22 may crash while closing down)."""
    with open(REPORT, "w", encoding="utf-8") as out:
        json.dump(report, out)
    os._exit(0)


def guarded(step):
    """Run `step`; on an error put it in the report and finish."""
    def run():
        try:
            step()
        except Exception:  # noqa: BLE001 - reported by the shell script
            report["error"] = traceback.format_exc()
            finish()
    return run


def save_form():
    """Save the polygon's form."""
    path = os.path.join(OUT, "qgis-form-history.png")
    state["dialog"].grab().save(path)
    report["form"] = path
    finish()


def open_form():
    """Open the form of a vegetation polygon with the most observations at its History tab."""
    layer = QgsProject.instance().mapLayersByName("Verdict per polygon")[0]
    request = QgsFeatureRequest().setFilterExpression("\"verdict\" = 'vegetation'")
    feature = max(layer.getFeatures(request), key=lambda f: (f["observations"], -f["polygon_id"]))
    report["polygon_id"] = feature["polygon_id"]
    state["dialog"] = project_forms.open_history(iface, layer, feature, 1000, 960)
    QTimer.singleShot(5000, guarded(save_form))


def drawn():
    """After the first finished drawing: save the main window, then the form."""
    if "opened_in_s" in report:
        return
    report["opened_in_s"] = round(time.time() - started, 2)
    path = os.path.join(OUT, "qgis-project.png")
    QgsApplication.processEvents()
    iface.mainWindow().grab().save(path)
    report["project"] = path
    QTimer.singleShot(500, guarded(open_form))


iface.mainWindow().showMaximized()
iface.mapCanvas().mapCanvasRefreshed.connect(guarded(drawn))
QTimer.singleShot(0, iface.mapCanvas().refreshAllLayers)
QTimer.singleShot(180_000, guarded(finish))
