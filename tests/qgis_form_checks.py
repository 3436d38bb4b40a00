"""Read the project's forms, relation, themes and bookmarks with real QGIS; run by tests/test_qgis_forms.py.

    /usr/bin/python3 tests/qgis_form_checks.py PROJECT_LOCATION

Reads the project into QgsProject.instance(), as the desktop does (QGIS looks relations up
there), and prints one JSON object: the relation and each polygon's related observations, the
chart's data per polygon (the expression its QML evaluates), the polygon form's tabs, the
percentages, source attributes and attribute table settings of each verdict layer, the map
themes with what each shows, and the bookmarks.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sclzonal.qgis import project_forms  # noqa: E402
from sclzonal.qgis.project_builder import start_qgis  # noqa: E402


def _value(value: Any) -> Any:
    """A QGIS attribute value as JSON: dates as YYYY-MM-DD, NULL as None, lists as lists."""
    if value is None or (hasattr(value, "isNull") and value.isNull()):
        return None
    if hasattr(value, "toString") and hasattr(value, "year"):  # QDate
        return value.toString("yyyy-MM-dd")
    if isinstance(value, (list, tuple)):
        return [_value(v) for v in value]
    return value


def relation(project: Any) -> dict[str, Any]:
    """The polygon-observations relation and every polygon's related observations."""
    from qgis.core import QgsExpression

    found = project.relationManager().relation(project_forms.RELATION_ID)
    verdicts = found.referencedLayer()
    described: dict[str, Any] = {
        "valid": found.isValid(), "name": found.name(),
        "referenced": verdicts.name() if verdicts else None,
        "referencing": found.referencingLayer().name() if found.referencingLayer() else None,
        "pairs": dict(found.fieldPairs()), "related": {}, "history": {}, "tips": {}}
    if not found.isValid():
        return described
    history = QgsExpression(project_forms.HISTORY_EXPRESSION)
    for feature in verdicts.getFeatures():
        key = str(feature["polygon_id"])
        described["related"][key] = sorted(
            [_value(f["acquired_on"]), f["scene_id"], _value(f["coverage"]), _value(f["clear_share"]),
             f["verdict"], _value(f["pixel_shares"]), f["class_shares_text"], f["vegetation_share_percent"]]
            for f in found.getRelatedFeatures(feature))
        context = verdicts.createExpressionContext()
        context.setFeature(feature)
        described["history"][key] = history.evaluate(context)
    observations = found.referencingLayer()
    described["display"] = {}
    for feature in observations.getFeatures():
        context = observations.createExpressionContext()
        context.setFeature(feature)
        described["display"][str(feature["id"])] = QgsExpression(
            observations.displayExpression()).evaluate(context)
    return described


def form(layer: Any) -> dict[str, Any]:
    """The tabs of a layer's drag-and-drop form: per tab, its elements (field names, relation
    ids, QML code)."""
    from qgis.core import QgsAttributeEditorElement as Element

    config = layer.editFormConfig()

    def element(item: Any) -> Any:
        if item.type() == Element.AeTypeField:
            return {"field": item.name()}
        if item.type() == Element.AeTypeRelation:
            return {"relation": item.relation().id(), "widget": item.relationWidgetTypeId()}
        if item.type() == Element.AeTypeQmlElement:  # not cast by the bindings: read its XML
            from qgis.PyQt.QtXml import QDomDocument

            return {"qml": item.toDomElement(QDomDocument()).text()}
        return {"other": item.name()}

    return {"layout": int(config.layout()),
            "tabs": {tab.name(): [element(child) for child in tab.children()]
                     if tab.type() == Element.AeTypeContainer else [element(tab)]
                     for tab in config.tabs()}}


def table(layer: Any) -> dict[str, Any]:
    """Percentages, source fields and attribute table settings of a verdict layer."""
    config = layer.attributeTableConfig()
    fields = layer.fields()
    percent = [f.name() for f in fields if f.name().endswith("_percent")]
    source = [f.name() for i, f in enumerate(fields) if f.name().startswith(project_forms.SOURCE_PREFIX)
              and fields.fieldOrigin(i) == fields.OriginExpression]
    key = "polygon_id" if "polygon_id" in fields.names() else "id"
    return {
        "sort": config.sortExpression(), "sort_order": int(config.sortOrder()),
        "hidden": sorted(c.name for c in config.columns() if c.hidden and c.name),
        "aliases": {name: fields.field(name).alias() for name in percent + source},
        "values": {str(f[key]): {name: _value(f[name]) for name in percent + source}
                   for f in layer.getFeatures()},
        "json_widget": layer.editorWidgetSetup(fields.indexOf(project_forms.SOURCE_ATTRIBUTES)).type()
        if fields.indexOf(project_forms.SOURCE_ATTRIBUTES) >= 0 else None,
    }


def themes(project: Any) -> dict[str, Any]:
    """Per map theme: the layers it shows and, per date, how many scene verdicts it draws."""
    from qgis.core import QgsRenderContext

    collection = project.mapThemeCollection()
    per_scene = project.mapLayersByName("Verdict per scene")[0]
    described = {}
    for name in collection.mapThemes():
        styles = collection.mapThemeStyleOverrides(name)
        manager = per_scene.styleManager()
        record = next(r for r in collection.mapThemeState(name).layerRecords() if r.layer() == per_scene)
        previous = manager.currentStyle()
        manager.setCurrentStyle(record.currentStyle)
        context = QgsRenderContext()
        renderer = per_scene.renderer().clone()
        renderer.startRender(context, per_scene.fields())
        drawn = sum(1 for f in per_scene.getFeatures() if renderer.willRenderFeature(f, context))
        renderer.stopRender(context)
        manager.setCurrentStyle(previous)
        shown = collection.mapThemeVisibleLayers(name)
        described[name] = {"layers": sorted(layer.name() for layer in shown),
                           "styled": sorted(styles.keys()) != [], "drawn": drawn}
    return described


def bookmarks(project: Any) -> list[dict[str, Any]]:
    """The project's bookmarks: name, group, extent and CRS."""
    return [{"name": b.name(), "group": b.group(), "crs": b.extent().crs().authid(),
             "extent": [b.extent().xMinimum(), b.extent().yMinimum(), b.extent().xMaximum(),
                        b.extent().yMaximum()]}
            for b in project.bookmarkManager().bookmarks()]


def main() -> int:
    """Read the project named on the command line; print what the tests check."""
    app = start_qgis()
    from qgis.core import QgsProject

    project = QgsProject.instance()
    if not project.read(sys.argv[1]):
        print(f"cannot read {sys.argv[1]}: {project.error()}", file=sys.stderr)
        return 2
    verdicts = project.mapLayersByName("Verdict per polygon")[0]
    result = {
        "layers": [node.layer().name() for node in project.layerTreeRoot().findLayers()],
        "relation": relation(project),
        "form": form(verdicts),
        "observation_form": form(project.mapLayersByName(project_forms.OBSERVATIONS)[0]),
        "tables": {name: table(project.mapLayersByName(name)[0])
                   for name in ("Verdict per polygon", "Verdict per scene", "Verdict per month",
                                project_forms.OBSERVATIONS)},
        "themes": themes(project),
        "bookmarks": bookmarks(project),
    }
    print(json.dumps(result, default=str))
    project.clear()
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
