"""Inspect sclzonal's QGIS project with real QGIS; run by tests/test_qgis.py under /usr/bin/python3.

    /usr/bin/python3 tests/qgis_checks.py SPEC_JSON

SPEC_JSON: {"projects": {label: file path or postgresql:// URI}, "render": {label: png path},
"default_style_uris": {table: postgres provider URI}, "browse": {"conninfo": ..., "schema": ...}}.
Prints one JSON object describing every layer (validity, provider, feature count, renderer,
categories or palette, temporal settings), the project's time settings, the renderer QGIS picks
up for a layer added bare from the database (the default style from public.layer_styles), and
the raster tables QGIS lists for a connection as the Browser does, each opened as a raster
layer (CRS, size, pixels, what QGIS logged). The pytest side asserts on it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sclzonal.qgis.project_builder import open_project, render_map, start_qgis  # noqa: E402


def _stroke_style(symbol: Any) -> str:
    """The outline style of a fill symbol's first layer ("solid", "dash", ...)."""
    from qgis.core import QgsSymbolLayerUtils

    return str(QgsSymbolLayerUtils.encodePenStyle(symbol.symbolLayer(0).strokeStyle()))


def _renderer(layer: Any) -> dict[str, Any]:
    renderer = layer.renderer()
    if renderer is None:  # a table without geometry (the observations by date)
        return {"type": None}
    described: dict[str, Any] = {"type": renderer.type()}
    if renderer.type() == "categorizedSymbol":
        described["field"] = renderer.classAttribute()
        described["categories"] = [[str(c.value()), c.label(), c.symbol().color().name(),
                                    _stroke_style(c.symbol())] for c in renderer.categories()]
    if renderer.type() == "paletted":
        described["band"] = renderer.band()
        described["classes"] = [[int(c.value), c.color.name(), c.label] for c in renderer.classes()]
    return described


def _temporal(layer: Any) -> dict[str, Any]:
    temporal = layer.temporalProperties()
    modes = {getattr(type(temporal), name): name for name in dir(type(temporal)) if name.startswith("Mode")}
    described: dict[str, Any] = {"active": temporal.isActive(), "mode": modes.get(temporal.mode())}
    if layer.type() == 0:  # vector
        from qgis.core import QgsUnitTypes

        described.update(start_field=temporal.startField(), duration=temporal.fixedDuration(),
                         duration_unit=QgsUnitTypes.toString(temporal.durationUnits()))
        if temporal.endField():
            described["end_field"] = temporal.endField()
    else:
        fixed = temporal.fixedTemporalRange()
        described.update(begin=fixed.begin().toString("yyyy-MM-ddTHH:mm:ss"),
                         end=fixed.end().toString("yyyy-MM-ddTHH:mm:ss"))
    return described


def fields(layer: Any) -> dict[str, Any]:
    """A vector layer's field aliases, the verdict's editor widget, and its map tip as shown for
    each feature (by polygon_id), when it has one."""
    from qgis.core import QgsExpression, QgsExpressionContext, QgsExpressionContextUtils

    widget = layer.editorWidgetSetup(layer.fields().indexOf("verdict"))
    described: dict[str, Any] = {
        "aliases": {field.name(): field.alias() for field in layer.fields() if field.alias()},
        "verdict_widget": {"type": widget.type(), "config": widget.config()},
    }
    if layer.mapTipTemplate():
        context = QgsExpressionContext(QgsExpressionContextUtils.globalProjectLayerScopes(layer))
        tips = {}
        for feature in layer.getFeatures():
            context.setFeature(feature)
            tips[str(feature["polygon_id"])] = QgsExpression.replaceExpressionText(
                layer.mapTipTemplate(), context)
        described["map_tips"] = tips
    return described


def describe_layer(layer: Any) -> dict[str, Any]:
    """Return what the tests check of one layer."""
    described: dict[str, Any] = {
        "name": layer.name(), "valid": layer.isValid(), "provider": layer.providerType(),
        "source": layer.source(), "crs": layer.crs().authid(), "renderer": _renderer(layer),
        "temporal": _temporal(layer),
    }
    if layer.type() == 0:
        described["features"] = layer.featureCount()
        described["counted"] = sum(1 for _ in layer.getFeatures())
        described.update(fields(layer))
    else:
        provider = layer.dataProvider()
        described.update(width=layer.width(), height=layer.height(),
                         nodata=provider.sourceNoDataValue(1) if provider.sourceHasNoDataValue(1)
                         else None)
    return described


def temporal_frames(project: Any) -> dict[str, Any]:
    """Per SCL scene date, what a one-day Temporal Controller frame shows."""
    from qgis.core import QgsDateTimeRange, QgsFeatureRequest, QgsVectorLayerTemporalContext

    per_scene = project.mapLayersByName("Verdict per scene")[0]
    rasters = [layer for layer in project.mapLayers().values() if layer.type() == 1]
    frames: dict[str, Any] = {}
    for layer in rasters:
        day = layer.temporalProperties().fixedTemporalRange().begin()
        frame = QgsDateTimeRange(day, day.addDays(1), True, False)
        context = QgsVectorLayerTemporalContext()
        context.setLayer(per_scene)
        expression = per_scene.temporalProperties().createFilterString(context, frame)
        request = QgsFeatureRequest().setFilterExpression(expression)
        frames[day.toString("yyyy-MM-dd")] = {
            "scene_features": sum(1 for _ in per_scene.getFeatures(request)),
            "rasters": sorted(r.name() for r in rasters
                              if r.temporalProperties().isVisibleInTemporalRange(frame)),
        }
    return frames


def month_frames(project: Any) -> dict[str, int]:
    """Per calendar month from the project's first to its last scene, the features a one-month
    Temporal Controller frame shows of the monthly layer (months showing none are left out)."""
    from qgis.core import QgsDateTimeRange, QgsFeatureRequest, QgsVectorLayerTemporalContext
    from qgis.PyQt.QtCore import QDateTime, QTime

    monthly = project.mapLayersByName("Verdict per month")[0]
    span = project.timeSettings().temporalRange()
    start = span.begin().date()
    month = start.addDays(1 - start.day())
    frames: dict[str, int] = {}
    while month <= span.end().date():
        begin = QDateTime(month, QTime(0, 0))
        frame = QgsDateTimeRange(begin, begin.addMonths(1), True, False)
        context = QgsVectorLayerTemporalContext()
        context.setLayer(monthly)
        expression = monthly.temporalProperties().createFilterString(context, frame)
        shown = sum(1 for _ in monthly.getFeatures(QgsFeatureRequest().setFilterExpression(expression)))
        if shown:
            frames[month.toString("yyyy-MM")] = shown
        month = month.addMonths(1)
    return frames


def _legend_images(nodes: list[Any]) -> list[str]:
    """The legend rows that are images (QgsImageLegendNode), each as a base64 PNG."""
    from qgis.core import QgsImageLegendNode
    from qgis.PyQt.QtCore import QBuffer, QByteArray, QIODevice, Qt

    images = []
    for legend in nodes:
        if isinstance(legend, QgsImageLegendNode):
            data = QByteArray()
            buffer = QBuffer(data)
            buffer.open(QIODevice.WriteOnly)
            legend.data(Qt.DecorationRole).save(buffer, "PNG")
            images.append(bytes(data.toBase64()).decode("ascii"))
    return images


def layer_tree(project: Any) -> list[dict[str, Any]]:
    """Per layer of the tree: ticked or not, legend folded or not, the legend's rows as the
    layers panel lists them, and those rows that are images."""
    from qgis.core import QgsLayerTreeModel

    model = QgsLayerTreeModel(project.layerTreeRoot())
    return [{"name": node.name(), "checked": node.itemVisibilityChecked(), "expanded": node.isExpanded(),
             "legend": [legend.data(0) for legend in model.layerLegendNodes(node)],
             "legend_images": _legend_images(model.layerLegendNodes(node))}
            for node in project.layerTreeRoot().findLayers()]


def saved_view(project: Any) -> dict[str, Any] | None:
    """The view the desktop opens the project on when it has no map canvas state of its own."""
    view = project.viewSettings().defaultViewExtent()
    if view.isNull():
        return None
    return {"crs": view.crs().authid(),
            "extent": [view.xMinimum(), view.yMinimum(), view.xMaximum(), view.yMaximum()]}


def describe_project(project: Any) -> dict[str, Any]:
    """Return the project's layers in layer tree order, its CRS and time settings."""
    from qgis.core import QgsTemporalUtils, QgsUnitTypes

    root = project.layerTreeRoot()
    settings = project.timeSettings()
    span = settings.temporalRange()
    return {
        "crs": project.crs().authid(),
        "view": saved_view(project),
        "tree": layer_tree(project),
        "layers": [describe_layer(node.layer()) for node in root.findLayers()],
        "visible": [node.layer().name() for node in root.findLayers() if node.isVisible()],
        "groups": [group.name() for group in root.findGroups()],
        "frames": temporal_frames(project),
        "month_frames": month_frames(project),
        "time": {"begin": span.begin().toString("yyyy-MM-dd"), "end": span.end().toString("yyyy-MM-dd"),
                 "steps": [step.begin().toString("yyyy-MM-dd")
                           for step in QgsTemporalUtils.usedTemporalRangesForProject(project)],
                 "step": settings.timeStep(), "unit": QgsUnitTypes.toString(settings.timeStepUnit())},
    }


def browse(conninfo: str, schema: str) -> dict[str, Any]:
    """List the schema's tables as QGIS's PostgreSQL connection does, and open its rasters."""
    from qgis.core import (
        QgsAbstractDatabaseProviderConnection,
        QgsApplication,
        QgsDataSourceUri,
        QgsProviderRegistry,
        QgsRasterLayer,
    )

    logged: list[str] = []
    QgsApplication.messageLog().messageReceived.connect(
        lambda message, tag, level: logged.append(f"{tag}: {message}"))
    connection = QgsProviderRegistry.instance().providerMetadata("postgres").createConnection(conninfo, {})
    listed = connection.tables(schema)
    rasters: dict[str, Any] = {}
    for table in listed:
        if not table.flags() & QgsAbstractDatabaseProviderConnection.Raster:
            continue
        logged.clear()
        uri = QgsDataSourceUri(conninfo)
        uri.setDataSource(schema, table.tableName(), table.geometryColumn(), "", "id")
        layer = QgsRasterLayer(uri.uri(False), table.tableName(), "postgresraster")
        described: dict[str, Any] = {"valid": layer.isValid(), "comment": table.comment()}
        if layer.isValid():
            block = layer.dataProvider().block(1, layer.extent(), layer.width(), layer.height())
            described.update({
                "crs": layer.crs().authid(), "width": layer.width(), "height": layer.height(),
                "extent": [layer.extent().xMinimum(), layer.extent().yMinimum(),
                           layer.extent().xMaximum(), layer.extent().yMaximum()],
                "pixels": [[int(block.value(row, col)) for col in range(layer.width())]
                           for row in range(layer.height())]})
        QgsApplication.processEvents()
        described["logged"] = list(logged)
        rasters[table.tableName()] = described
        del layer
    return {"tables": sorted(table.tableName() for table in listed), "rasters": rasters}


def main() -> int:
    """Open, describe and render what the spec names; print the JSON result."""
    spec = json.loads(Path(sys.argv[1]).read_text())
    app = start_qgis()
    from qgis.core import Qgis, QgsVectorLayer

    result: dict[str, Any] = {"qgis_version": Qgis.version(), "projects": {}, "defaults": {},
                              "renders": {}}
    for label, location in spec.get("projects", {}).items():
        project = open_project(location)
        result["projects"][label] = describe_project(project)
        if label in spec.get("render", {}):
            result["renders"][label] = render_map(project, spec["render"][label], 600, legend=False)
        project.clear()
    for table, uri in spec.get("default_style_uris", {}).items():
        layer = QgsVectorLayer(uri, table, "postgres")
        result["defaults"][table] = {"valid": layer.isValid(), "renderer": _renderer(layer), **fields(layer)}
        del layer
    if "browse" in spec:
        result["browse"] = browse(spec["browse"]["conninfo"], spec["browse"]["schema"])
    print(json.dumps(result))
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
