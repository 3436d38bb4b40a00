"""Run inside the QGIS desktop (`qgis --code THIS`) by tests/test_qgis_plugin.py.

Adds the layer of SCLZ_PLUGIN_LAYER, selects five of its features and runs the installed plugin's
"Load polygons from a layer" on the selection; then runs "Build and open the project" as the
toolbox would, waits for the project it wrote to be opened in this QGIS, and writes what QGIS then
holds to the JSON file named by SCLZ_PLUGIN_REPORT: the algorithms' results, the provider's
settings as the options dialog shows them, the project's file name, its layers and whether each
is valid, and the messages QGIS logged. Then it ends QGIS at once.
"""

import json
import os

import processing
from processing.core.ProcessingConfig import ProcessingConfig
from qgis.core import QgsApplication, QgsProcessingFeatureSourceDefinition, QgsProject, QgsVectorLayer
from qgis.PyQt.QtCore import QTimer

REPORT = os.environ["SCLZ_PLUGIN_REPORT"]
TARGET = os.environ["SCLZ_PLUGIN_PROJECT"]
WATCHDOG_MS = 120_000
messages = []
QgsApplication.messageLog().messageReceived.connect(
    lambda text, tag, level: messages.append([tag, int(level), text]))
report = {"providers": [p.id() for p in QgsApplication.processingRegistry().providers()],
          "settings": {name: ProcessingConfig.getSetting(name)
                       for name in ("SCLZONAL_EXECUTABLE", "SCLZONAL_DATABASE_URL", "SCLZONAL_PG_SERVICE")}}


def finish() -> None:
    """Write the report and end QGIS at once (3.22 may crash while closing down)."""
    project = QgsProject.instance()
    report.update(file=project.fileName(),
                  layers={layer.name(): layer.isValid() for layer in project.mapLayers().values()},
                  messages=messages)
    with open(REPORT, "w", encoding="utf-8") as out:
        json.dump(report, out)
    os._exit(0)


def wait_for_the_project(tries: int = 0) -> None:
    """Poll until the project the algorithm wrote is the open one (or give up after 60 s)."""
    if QgsProject.instance().fileName() == TARGET or tries > 600:
        finish()
    else:
        QTimer.singleShot(100, lambda: wait_for_the_project(tries + 1))


def run_the_algorithm() -> None:
    """Run the algorithm; an exception is reported, not raised."""
    try:
        layer = QgsVectorLayer(os.environ["SCLZ_PLUGIN_LAYER"], "my fields", "ogr")
        QgsProject.instance().addMapLayer(layer)
        layer.selectByExpression('"field_id" IN (3, 5, 8, 13, 21)')
        selection = QgsProcessingFeatureSourceDefinition(layer.id(), selectedFeaturesOnly=True)
        report["loaded"] = processing.run("sclzonal:loadpolygons", {
            "INPUT": selection, "ID_FIELD": "field_id", "NAME_FIELD": "name", "SOURCE": "selected"})
        QgsProject.instance().setDirty(False)  # opening the next project asks nothing
        report["results"] = processing.run("sclzonal:project", {"OUTPUT": TARGET, "OPEN": True})
    except Exception as exc:  # reported to the test, which fails on it
        report["error"] = str(exc)
        finish()
    wait_for_the_project()


QTimer.singleShot(0, run_the_algorithm)
QTimer.singleShot(WATCHDOG_MS, finish)
