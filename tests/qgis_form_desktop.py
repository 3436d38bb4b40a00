"""Run inside the QGIS desktop (`qgis --project LOCATION --code THIS`) by tests/test_qgis_forms.py.

Opens the form of the polygon SCLZ_FORM_POLYGON of *Verdict per polygon* at its History tab,
waits for it to draw, and writes to the folder SCLZ_FORM_OUT: form.png (the dialog), chart.png
(the QML chart alone) and form.json (the chart's QQuickWidget status, the number of observations
the relation editor lists, errors). Then it ends QGIS at once.
"""

import json
import os
import sys
import traceback

from qgis.core import QgsFeatureRequest, QgsProject
from qgis.PyQt.QtCore import QTimer
from qgis.PyQt.QtWidgets import QListView, QWidget
from qgis.utils import iface

sys.path.insert(0, os.environ["SCLZ_CHECKOUT"])
from sclzonal.qgis import project_forms  # noqa: E402

OUT = os.environ["SCLZ_FORM_OUT"]
DRAW_MS = 6000
state = {}


def finish(report):
    """Write the report and leave at once (3.22 may crash while closing down)."""
    with open(os.path.join(OUT, "form.json"), "w", encoding="utf-8") as out:
        json.dump(report, out)
    os._exit(0)


def grab():
    """Save the pictures and what the form shows."""
    try:
        dialog = state["dialog"]
        dialog.grab().save(os.path.join(OUT, "form.png"))
        charts = [w for w in dialog.findChildren(QWidget) if w.metaObject().className() == "QQuickWidget"]
        if charts:
            charts[0].grab().save(os.path.join(OUT, "chart.png"))
        lists = [w for w in dialog.findChildren(QListView)
                 if w.metaObject().className() == "QgsFeatureListView"]  # the observations listed
        finish({"chart_status": [int(w.property("status")) for w in charts],
                "related_rows": [w.model().rowCount() for w in lists],
                "listed": [w.model().index(row, 0).data() for w in lists
                           for row in range(w.model().rowCount())]})
    except Exception:  # noqa: BLE001 - reported to the test
        finish({"error": traceback.format_exc()})


def open_form():
    """Open the polygon's form at its History tab."""
    try:
        layer = QgsProject.instance().mapLayersByName("Verdict per polygon")[0]
        request = QgsFeatureRequest().setFilterExpression(
            f'"polygon_id" = {int(os.environ["SCLZ_FORM_POLYGON"])}')
        feature = next(layer.getFeatures(request))
        state["dialog"] = project_forms.open_history(iface, layer, feature, 900, 1100)
        QTimer.singleShot(DRAW_MS, grab)
    except Exception:  # noqa: BLE001 - reported to the test
        finish({"error": traceback.format_exc()})


QTimer.singleShot(2000, open_form)
QTimer.singleShot(120_000, lambda: finish({"error": "timed out"}))
