"""The sclzonal QGIS project's forms, relation and per-acquisition themes (QGIS's Python only).

Imported by project_builder.py, which runs under `/usr/bin/python3` with QGIS's bindings; like
it, this imports nothing but the standard library and QGIS. It adds to the built project:

- *Observations (by date)*: each polygon's observation per acquisition date (the rows of
  `scene_verdict_layer` with `is_observation`; a hidden layer, listed by date in words), and
  the relation from *Verdict per polygon* to it, so a polygon's form lists its history;
- the polygon's form: a tab with the verdict and how sure it is, one with the attributes of the
  polygon's source file (joined from *Polygons*), and one with the history: a chart of the
  class shares over time (a QML widget with QtCharts) above the observations;
- a map theme and a spatial bookmark per acquisition date.
"""

from __future__ import annotations

import json
import re
from typing import Any

OBSERVATIONS = "Observations (by date)"
RELATION_ID = "polygon_observations"
RELATION_NAME = "Observations of the polygon, by date"
SOURCE_PREFIX = "source_"
SOURCE_ATTRIBUTES = "source_attributes"  # the polygon's attributes (jsonb), joined from Polygons
THEME_PREFIX = "Acquisition "
BOOKMARK_GROUP = "Acquisitions"
# The verdict tab of a polygon's form: what it is, its verdict, how sure, what it rests on.
VERDICT_TAB = [
    "name", "verdict", "acquired_on", "vegetation_share_percent", "clear_pixels",
    "clear_observations", "observations", "partial_observations", "coverage_percent",
    "clear_share_percent", "rule_share_percent", "rule_label", "problem", "first_observed_on",
    "last_observed_on", "pixels", "expected_pixels", "observed_pixels", "scene_id", "polygon_id",
    "source", "source_fid"]
# Per observation, oldest first: "2024-06-05;0,0.02,...,0|2024-06-20;..." (pixel_shares[k + 1] is
# the share of class k); the chart of the polygon's form evaluates it for the polygon shown.
HISTORY_EXPRESSION = (
    f"relation_aggregate('{RELATION_ID}', 'concatenate', format_date(\"acquired_on\", 'yyyy-MM-dd')"
    " || ';' || array_to_string(\"pixel_shares\", ','), concatenator:='|', order_by:=\"acquired_on\")")
CHART_QML = """import QtQml 2.0
import QtCharts 2.0

// The polygon's class shares over time: one line per SCL class it ever showed (% of its
// counted pixels per observation). Built by sclzonal (sclzonal/qgis/project_forms.py); only
// QtCharts, the QML module Debian's QGIS ships, besides QtQml.
ChartView {
    id: chart
    width: 820
    height: 360
    antialiasing: true
    legend.alignment: Qt.AlignBottom
    title: "Class shares per observation (% of the counted pixels)"
    property var classes: CLASSES_JSON
    // QGIS sets `expression` (evaluated for the form's feature) after loading this, and again
    // for each feature shown: the binding follows it.
    property string history: typeof expression === "undefined" ? ""
        : String(expression.evaluate("HISTORY_EXPRESSION_QML") || "")
    onHistoryChanged: draw()
    Component.onCompleted: draw()
    DateTimeAxis { id: dates; format: "d MMM yyyy"; titleText: "Acquired on" }
    ValueAxis { id: shares; min: 0; max: 100; labelFormat: "%d"; titleText: "%" }
    function draw() {
        chart.removeAllSeries();
        var rows = history.length ? history.split("|") : [];
        if (!rows.length) return;
        var first = Date.parse(rows[0].split(";")[0]);
        var last = Date.parse(rows[rows.length - 1].split(";")[0]);
        dates.min = new Date(first - 86400000);
        dates.max = new Date(last + 86400000);
        dates.tickCount = Math.min(rows.length + 2, 7);
        for (var k = 0; k < classes.length; k++) {
            var points = [];
            var seen = false;
            for (var i = 0; i < rows.length; i++) {
                var parts = rows[i].split(";");
                var share = Number(parts[1].split(",")[k]) * 100;
                points.push([Date.parse(parts[0]), share]);
                seen = seen || share > 0;
            }
            if (!seen) continue;
            var series = chart.createSeries(ChartView.SeriesTypeLine, classes[k].name, dates, shares);
            // white (class 9) would vanish on the white chart: a grey dotted line instead
            series.color = classes[k].colour === "#ffffff" ? "#9e9e9e" : classes[k].colour;
            if (classes[k].colour === "#ffffff") series.style = Qt.DotLine;
            series.width = 2;
            series.pointsVisible = true;
            for (var j = 0; j < points.length; j++) series.append(points[j][0], points[j][1]);
        }
    }
}
"""


def chart_qml(scl_classes: list[dict[str, Any]]) -> str:
    """Return the QML of the class shares chart, with the SCL classes' names and colours."""
    classes = [{"name": f"{c['value']} {c['name']}", "colour": c["colour"]}
               for c in sorted(scl_classes, key=lambda c: int(c["value"]))]
    return (CHART_QML.replace("CLASSES_JSON", json.dumps(classes))
            .replace("HISTORY_EXPRESSION_QML", HISTORY_EXPRESSION.replace("\\", "\\\\")
                     .replace('"', '\\"')))


def observations_layer(connection_text: str, schema: str) -> Any:
    """Return each polygon's observations (one per date), drawn like the verdict per scene.

    With its geometry, although the form needs none: QGIS 3.22 logs four libpq notices for
    a PostGIS layer without geometry (it looks up the CRS of SRID 0 and reads an empty result).
    """
    from qgis.core import QgsDataSourceUri, QgsVectorLayer, QgsWkbTypes

    uri = QgsDataSourceUri(connection_text)
    uri.setDataSource(schema, "scene_verdict_layer", "geom", '"is_observation"', "id")
    uri.setSrid("4326")
    uri.setWkbType(QgsWkbTypes.MultiPolygon)
    uri.setParam("checkPrimaryKeyUnicity", "0")
    return QgsVectorLayer(str(uri.uri(False)), OBSERVATIONS, "postgres")


# How an observation is listed in the polygon's form (and the observations' attribute table).
OBSERVATION_DISPLAY = (
    "format_date(\"acquired_on\", 'yyyy-MM-dd') || ': ' || represent_value(\"verdict\")"
    " || ', vegetation ' || coalesce(to_string(round(\"vegetation_share\" * 100)) || ' %', '-')"
    " || ', clear ' || round(\"clear_share\" * 100) || ' %'"
    " || ', coverage ' || coalesce(to_string(round(\"coverage\" * 100)) || ' %', '-')")
OBSERVATION_FORM = ["acquired_on", "verdict", "class_shares_text", "coverage_percent",
                    "clear_share_percent", "vegetation_share_percent", "rule_share_percent",
                    "pixels", "clear_pixels", "expected_pixels", "observed_pixels", "scene_id"]


def class_shares_expression(scl_classes: list[dict[str, Any]]) -> str:
    """Return a QGIS expression listing an observation's classes with their shares, e.g.
    "4 Vegetation 97.9 %, 5 Not vegetated 2.1 %" (from pixel_shares)."""
    ordered = sorted(scl_classes, key=lambda c: int(c["value"]))
    names = ", ".join("'" + f"{c['value']} {c['name']}".replace("'", "''") + "'" for c in ordered)
    return (f"array_to_string(array_filter(array_foreach(generate_series(0, {len(ordered) - 1}),"
            " CASE WHEN \"pixel_shares\"[@element] > 0 THEN"
            f" array({names})[@element] || ' ' || round(\"pixel_shares\"[@element] * 100, 1) || ' %'"
            " END), @element IS NOT NULL), ', ')")


def present_observations(layer: Any, scl_classes: list[dict[str, Any]]) -> None:
    """List the observations by date in words, with their class shares; a form of what matters."""
    from qgis.core import QgsAttributeEditorField, QgsEditFormConfig, QgsField
    from qgis.PyQt.QtCore import QVariant

    index = layer.addExpressionField(class_shares_expression(scl_classes),
                                     QgsField("class_shares_text", QVariant.String))
    layer.setFieldAlias(index, "Class shares (% of the counted pixels)")
    layer.setDisplayExpression(OBSERVATION_DISPLAY)
    config = layer.attributeTableConfig()
    config.setSortExpression('"acquired_on"')
    layer.setAttributeTableConfig(config)
    form = layer.editFormConfig()
    form.setLayout(QgsEditFormConfig.TabLayout)
    form.clearTabs()
    fields = layer.fields()
    for name in OBSERVATION_FORM:
        if fields.indexOf(name) >= 0:
            form.addTab(QgsAttributeEditorField(name, fields.indexOf(name), form.invisibleRootContainer()))
    layer.setEditFormConfig(form)


def add_relation(project: Any, verdicts: Any, observations: Any) -> Any:
    """Relate each polygon's verdict to its observations; return the relation."""
    from qgis.core import QgsRelation, QgsRelationContext

    relation = QgsRelation(QgsRelationContext(project))  # not QgsProject.instance()
    relation.setId(RELATION_ID)
    relation.setName(RELATION_NAME)
    relation.setReferencedLayer(verdicts.id())
    relation.setReferencingLayer(observations.id())
    relation.addFieldPair("polygon_id", "polygon_id")
    relation.setStrength(QgsRelation.Association)
    if not relation.isValid():
        raise RuntimeError(f"QGIS refused the relation {RELATION_NAME!r}")
    project.relationManager().addRelation(relation)
    return relation


def _field_name(key: str, taken: set[str]) -> str:
    name = SOURCE_PREFIX + (re.sub(r"[^0-9a-z]+", "_", key.lower()).strip("_") or "field")
    unique, number = name, 2
    while unique in taken:
        unique, number = f"{name}_{number}", number + 1
    taken.add(unique)
    return unique


def add_source_attributes(verdicts: Any, polygons: Any, keys: list[str]) -> list[str]:
    """Join the polygons' source attributes to the verdicts; one field per attribute `keys`
    (named source_..., aliased by the attribute's own name); return those field names."""
    from qgis.core import QgsEditorWidgetSetup, QgsField, QgsVectorLayerJoinInfo
    from qgis.PyQt.QtCore import QVariant

    join = QgsVectorLayerJoinInfo()
    join.setJoinLayer(polygons)
    join.setJoinFieldName("id")
    join.setTargetFieldName("polygon_id")
    join.setJoinFieldNamesSubset(["attributes"])
    join.setPrefix(SOURCE_PREFIX)
    join.setUsingMemoryCache(False)
    verdicts.addJoin(join)
    taken = {field.name() for field in verdicts.fields()}
    names = []
    for key in keys:
        name = _field_name(key, taken)
        quoted = "'" + key.replace("'", "''") + "'"
        index = verdicts.addExpressionField(f'map_get("{SOURCE_ATTRIBUTES}", {quoted})',
                                            QgsField(name, QVariant.String))
        verdicts.setFieldAlias(index, key)
        names.append(name)
    index = verdicts.fields().indexOf(SOURCE_ATTRIBUTES)
    if index >= 0:
        verdicts.setFieldAlias(index, "All attributes of the source file")
        verdicts.setEditorWidgetSetup(index, QgsEditorWidgetSetup("JsonEdit", {}))
    return names


def polygon_form(project: Any, verdicts: Any, relation: Any, source_fields: list[str],
                 scl_classes: list[dict[str, Any]]) -> None:
    """Give the verdict per polygon a form in tabs: verdict, source attributes, history."""
    from qgis.core import (
        QgsAttributeEditorContainer,
        QgsAttributeEditorField,
        QgsAttributeEditorQmlElement,
        QgsAttributeEditorRelation,
        QgsEditFormConfig,
    )

    config = verdicts.editFormConfig()
    config.setLayout(QgsEditFormConfig.TabLayout)
    config.clearTabs()
    root = config.invisibleRootContainer()
    fields = verdicts.fields()

    def tab(title: str, names: list[str]) -> Any:
        container = QgsAttributeEditorContainer(title, root)
        container.setIsGroupBox(False)
        for name in names:
            if fields.indexOf(name) >= 0:
                container.addChildElement(QgsAttributeEditorField(name, fields.indexOf(name), container))
        return container

    config.addTab(tab("Verdict", VERDICT_TAB))
    config.addTab(tab("Source file", [*source_fields, SOURCE_ATTRIBUTES]))
    history = QgsAttributeEditorContainer("History", root)
    history.setIsGroupBox(False)
    chart = QgsAttributeEditorQmlElement("Class shares over time", history)
    chart.setQmlCode(chart_qml(scl_classes))
    chart.setShowLabel(False)
    history.addChildElement(chart)
    observations = QgsAttributeEditorRelation(relation, history)
    observations.setLabel(RELATION_NAME)
    observations.setRelationWidgetTypeId("relation_editor")
    observations.setRelationEditorConfiguration({"buttons": "NoButton", "show_first_feature": True})
    history.addChildElement(observations)
    config.addTab(history)
    verdicts.setEditFormConfig(config)
    # setEditFormConfig looks the relation up in QgsProject.instance(), not in `project`, and
    # so loses it (the project would save relation=""): look it up again where it is.
    for element in verdicts.editFormConfig().tabs()[-1].children():
        if isinstance(element, QgsAttributeEditorRelation):
            element.init(project.relationManager())


def open_history(iface: Any, layer: Any, feature: Any, width: int, height: int) -> Any:
    """Open `feature`'s form in the QGIS desktop (`iface`) at its History tab; return the dialog
    (scripts/qgis-screenshots and the desktop test use it)."""
    from qgis.PyQt.QtWidgets import QTabWidget

    dialog = iface.getFeatureForm(layer, feature)
    dialog.resize(width, height)
    dialog.show()
    for tabs in dialog.findChildren(QTabWidget):
        for index in range(tabs.count()):
            if tabs.tabText(index) == "History":
                tabs.setCurrentIndex(index)
    return dialog


def _style_of_date(layer: Any, day: str) -> Any:
    """Return `layer`'s style showing only the features acquired on `day`."""
    from qgis.core import QgsMapLayerStyle, QgsRuleBasedRenderer

    original = layer.renderer().clone()
    renderer = QgsRuleBasedRenderer.convertFromRenderer(original)
    for rule in renderer.rootRule().children():
        rule.setFilterExpression(f"\"acquired_on\" = to_date('{day}') AND ({rule.filterExpression()})")
    layer.setRenderer(renderer)
    style = QgsMapLayerStyle()
    style.readFromLayer(layer)
    layer.setRenderer(original)
    return style


def add_acquisition_themes(project: Any, per_scene: Any, polygons: Any, scl_layers: list[Any],
                           scenes: list[dict[str, Any]]) -> list[str]:
    """One map theme per acquisition date (its SCL scenes, the polygons, the verdict of each
    polygon in those scenes) and one bookmark (the scenes' extent); return the theme names."""
    from qgis.core import (
        QgsBookmark,
        QgsCoordinateTransform,
        QgsMapThemeCollection,
        QgsRectangle,
        QgsReferencedRectangle,
    )

    by_id = dict(zip((scene["id"] for scene in scenes), scl_layers, strict=True))
    names = []
    for day in sorted({scene["acquired_on"] for scene in scenes}):
        rasters = [by_id[s["id"]] for s in scenes if s["acquired_on"] == day]
        name = f"{THEME_PREFIX}{day}"
        per_scene.styleManager().addStyle(name, _style_of_date(per_scene, day))
        verdict_record = QgsMapThemeCollection.MapThemeLayerRecord(per_scene)
        verdict_record.usingCurrentStyle = True
        verdict_record.currentStyle = name
        record = QgsMapThemeCollection.MapThemeRecord()
        record.setLayerRecords([verdict_record, QgsMapThemeCollection.MapThemeLayerRecord(polygons),
                                *(QgsMapThemeCollection.MapThemeLayerRecord(r) for r in rasters)])
        project.mapThemeCollection().insert(name, record)
        extent = QgsRectangle()
        extent.setMinimal()
        for raster in rasters:
            extent.combineExtentWith(QgsCoordinateTransform(raster.crs(), project.crs(), project)
                                     .transformBoundingBox(raster.extent()))
        bookmark = QgsBookmark()
        bookmark.setName(name)
        bookmark.setGroup(BOOKMARK_GROUP)
        bookmark.setExtent(QgsReferencedRectangle(extent, project.crs()))
        project.bookmarkManager().addBookmark(bookmark)
        names.append(name)
    return names


def complete(project: Any, spec: dict[str, Any], layers: dict[str, Any], scl_layers: list[Any],
             connection_text: str, schema: str) -> Any:
    """Add the observations, the relation, the polygon's form, the themes and bookmarks to the
    built `project` (`layers` by name; `scl_layers` in the order of spec["scenes"]); return the
    observations layer, for the builder to place in the layer tree."""
    from qgis.PyQt.QtXml import QDomDocument

    verdicts, per_scene, polygons = (layers[name] for name in (
        "Verdict per polygon", "Verdict per scene", "Polygons"))
    observations = observations_layer(connection_text, schema)
    if not observations.isValid():
        raise RuntimeError(f"QGIS cannot open the layer {OBSERVATIONS!r}")
    document = QDomDocument()
    document.setContent(spec["styles"]["scene_verdict_layer"])
    observations.importNamedStyle(document)
    temporal, like = observations.temporalProperties(), per_scene.temporalProperties()
    temporal.setMode(like.mode())
    temporal.setStartField(like.startField())
    temporal.setFixedDuration(like.fixedDuration())
    temporal.setDurationUnits(like.durationUnits())
    temporal.setIsActive(like.isActive())
    present_observations(observations, spec["scl_classes"])
    project.addMapLayer(observations, False)
    relation = add_relation(project, verdicts, observations)
    source_fields = add_source_attributes(verdicts, polygons, spec.get("source_attribute_keys", []))
    polygon_form(project, verdicts, relation, source_fields, spec["scl_classes"])
    add_acquisition_themes(project, per_scene, polygons, scl_layers, spec["scenes"])
    return observations
