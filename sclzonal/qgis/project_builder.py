"""Build, write and render the sclzonal QGIS project with QGIS's own Python bindings.

QGIS's bindings exist only for the system interpreter, so this file runs as a script under
`/usr/bin/python3` (never the project's virtualenv), headless (`QT_QPA_PLATFORM=offscreen`):

    /usr/bin/python3 sclzonal/qgis_project_builder.py < spec.json

`sclzonal qgis project` writes the JSON spec (connection without password, scenes, SCL classes,
the verdict styles as QML) and reads the JSON report this prints. Errors: one line on stderr,
exit code 2. It imports nothing but the standard library and QGIS, and the tests import its
functions (open_project, render_map) under the same interpreter.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any

SCHEMA = "sclzonal"
POLYGON_VERDICT = "Verdict per polygon"
SCENE_VERDICT = "Verdict per scene"
MONTH_VERDICT = "Verdict per month"
POLYGONS = "Polygons"
SCL_GROUP = "SCL scenes"
SCL_LEGEND_TITLE = "SCL class (Sen2Cor)"  # heads each scene's legend instead of "Band 1"
SWATCH_OUTLINE = "#505050"  # around each class's swatch in the scenes' legend: class 9 is white
LEGEND_TEXT = "#202020"
VIEW_MARGIN = 1.05  # the saved view: the polygons' extent, 5 % wider


try:
    from sclzonal.qgis import project_forms
except ImportError:  # run as a script (the package is not on QGIS's Python's path): this folder is
    import project_forms  # type: ignore[no-redef]


class BuildError(Exception):
    """A problem the user can fix; main() prints it as one line."""


def start_qgis() -> Any:
    """Start a headless QgsApplication (providers loaded) and return it."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication

    app = QgsApplication([], False)
    app.initQgis()
    return app


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def connection_text(connection: dict[str, Any]) -> str:
    """Return libpq key=value text for a connection spec: service, or host/port/dbname/user."""
    keys = ("service",) if connection.get("service") else ("host", "port", "dbname", "user", "sslmode")
    return " ".join(f"{key}={_quote(connection[key])}" for key in keys if connection.get(key))


def vector_uri(connection: dict[str, Any], table: str, key: str) -> str:
    """Return a `postgres` provider URI for a MultiPolygon layer of the sclzonal schema."""
    from qgis.core import QgsDataSourceUri, QgsWkbTypes

    uri = QgsDataSourceUri(connection_text(connection))
    uri.setDataSource(SCHEMA, table, "geom", "", key)
    uri.setSrid("4326")
    uri.setWkbType(QgsWkbTypes.MultiPolygon)
    uri.setParam("checkPrimaryKeyUnicity", "0")  # unique by construction; the check scans views
    return str(uri.uri(False))


def scene_uri(connection: dict[str, Any], table: str) -> str:
    """Return a `postgresraster` provider URI for one scene's table of tiles.

    QGIS's own provider, because it is safe when layers are drawn in parallel: its queries go
    through QGIS's connection, one at a time. GDAL's PostGISRaster driver shares one libpq
    connection between all datasets a thread opened on a database, and QGIS hands those datasets
    to other drawing threads: protocol errors, then crashes. The scene's own table (a partition
    of scene_tile) has raster constraints, so the provider reads its CRS, grid and extent from
    raster_columns instead of going through its tiles.
    """
    from qgis.core import QgsDataSourceUri

    uri = QgsDataSourceUri(connection_text(connection))
    uri.setDataSource(SCHEMA, table, "rast", "", "id")
    return str(uri.uri(False))


def _date_range(day: str) -> Any:
    from qgis.core import QgsDateTimeRange
    from qgis.PyQt.QtCore import QDate, QDateTime, QTime

    # The whole day, end included: a range ending at the next midnight (end excluded) still
    # shows the layer in a frame starting at that midnight in QGIS 3.22.
    date = QDate.fromString(day, "yyyy-MM-dd")
    return QgsDateTimeRange(QDateTime(date, QTime(0, 0)), QDateTime(date, QTime(23, 59, 59)))


def _styled(layer: Any, qml: str) -> Any:
    from qgis.PyQt.QtXml import QDomDocument

    document = QDomDocument()
    if not document.setContent(qml):
        raise BuildError(f"the style of {layer.name()} is not valid XML")
    ok, message = layer.importNamedStyle(document)
    if not ok:
        raise BuildError(f"QGIS refused the style of {layer.name()}: {message}")
    return layer


def _checked(layer: Any) -> Any:
    if not layer.isValid():
        error = layer.error().summary() if layer.error() else ""
        raise BuildError(f"QGIS cannot open layer {layer.name()!r} from {layer.source()!r}"
                         f"{': ' + error if error else ''}")
    return layer


def verdict_layers(spec: dict[str, Any]) -> list[Any]:
    """Return the verdict layers and the polygons (styled; per scene and per month temporal)."""
    from qgis.core import QgsFillSymbol, QgsSingleSymbolRenderer, QgsUnitTypes, QgsVectorLayer
    from qgis.core import QgsVectorLayerTemporalProperties as Temporal

    connection = spec["connection"]

    def styled(table: str, key: str, name: str) -> Any:
        layer = _checked(QgsVectorLayer(vector_uri(connection, table, key), name, "postgres"))
        return _styled(layer, spec["styles"][table])

    polygon_verdict = styled("polygon_verdict", "polygon_id", POLYGON_VERDICT)
    scene_verdict = styled("scene_verdict_layer", "id", SCENE_VERDICT)
    temporal = scene_verdict.temporalProperties()
    temporal.setMode(Temporal.ModeFeatureDateTimeInstantFromField)
    temporal.setStartField("acquired_on")
    temporal.setFixedDuration(1)
    temporal.setDurationUnits(QgsUnitTypes.TemporalDays)
    temporal.setIsActive(True)
    month_verdict = styled("polygon_month_verdict", "id", MONTH_VERDICT)
    monthly = month_verdict.temporalProperties()
    monthly.setMode(Temporal.ModeFeatureDateTimeStartAndEndFromFields)
    monthly.setStartField("month_start")
    monthly.setEndField("month_end")
    monthly.setIsActive(True)
    polygons = _checked(QgsVectorLayer(vector_uri(connection, "polygon", "id"), POLYGONS, "postgres"))
    outline = QgsFillSymbol.createSimple({"style": "no", "outline_color": "40,40,40,255",
                                          "outline_width": "0.3"})
    polygons.setRenderer(QgsSingleSymbolRenderer(outline))
    return [polygon_verdict, scene_verdict, month_verdict, polygons]


def scl_layer(spec: dict[str, Any], scene: dict[str, Any], legend: str) -> Any:
    """Return one scene's SCL raster with a paletted renderer, `legend` (scl_legend_image, the
    same for every scene) as its legend, and its date as temporal range."""
    from qgis.core import QgsPalettedRasterRenderer, QgsRasterLayer
    from qgis.core import QgsRasterLayerTemporalProperties as Temporal
    from qgis.PyQt.QtGui import QColor

    name = f"SCL {scene['acquired_on']} (scene {scene['id']})"
    layer = _checked(QgsRasterLayer(scene_uri(spec["connection"], scene["table"]), name,
                                    "postgresraster"))
    classes = [QgsPalettedRasterRenderer.Class(int(k["value"]), QColor(k["colour"]),
                                               f"{k['value']} {k['name']}")
               for k in spec["scl_classes"]]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes))
    layer.setLegendPlaceholderImage(legend)
    temporal = layer.temporalProperties()
    temporal.setMode(Temporal.ModeFixedTemporalRange)
    temporal.setFixedTemporalRange(_date_range(scene["acquired_on"]))
    temporal.setIsActive(True)
    return layer


def scl_legend_image(classes: list[dict[str, Any]]) -> str:
    """Return the scenes' legend, a PNG as QGIS's image cache takes it inline ("base64:...").

    QGIS 3.22 draws a raster layer's legend swatches as plain fills, with nothing a project or
    style can change, so class 9's near-white swatch vanishes on the white Layers panel. A
    legend placeholder image (stored in the project, so it works from a file and from the
    database) is the one way to give each swatch an outline: the title, then per class its
    swatch, outlined, and "value name".
    """
    from qgis.PyQt.QtCore import QBuffer, QByteArray, QIODevice, QRect, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPen

    font, bold = QFont(), QFont()
    bold.setBold(True)
    row, swatch, gap = max(18, QFontMetrics(font).height() + 4), 14, 6
    labels = [f"{k['value']} {k['name']}" for k in classes]
    width = 2 + swatch + gap + max([QFontMetrics(font).horizontalAdvance(label) for label in labels]
                                   + [QFontMetrics(bold).horizontalAdvance(SCL_LEGEND_TITLE) - swatch - gap])
    image = QImage(width + 4, row * (len(classes) + 1), QImage.Format_ARGB32)
    image.fill(Qt.transparent)
    painter = QPainter(image)
    painter.setPen(QColor(LEGEND_TEXT))
    painter.setFont(bold)
    painter.drawText(QRect(2, 0, width, row), int(Qt.AlignVCenter | Qt.AlignLeft), SCL_LEGEND_TITLE)
    painter.setFont(font)
    for index, (k, label) in enumerate(zip(classes, labels, strict=True), start=1):
        top = index * row + (row - swatch) // 2
        painter.fillRect(QRect(3, top + 1, swatch - 2, swatch - 2), QColor(k["colour"]))
        painter.setPen(QPen(QColor(SWATCH_OUTLINE), 1))
        painter.drawRect(QRect(2, top, swatch - 1, swatch - 1))  # the 1 px ring around the fill
        painter.setPen(QColor(LEGEND_TEXT))
        painter.drawText(QRect(2 + swatch + gap, index * row, width, row),
                         int(Qt.AlignVCenter | Qt.AlignLeft), label)
    painter.end()
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.WriteOnly)
    image.save(buffer, "PNG")
    return "base64:" + bytes(data.toBase64()).decode("ascii")


def build_project(spec: dict[str, Any]) -> Any:
    """Return a new QgsProject holding the verdict layers, the polygons and the SCL scenes."""
    from qgis.core import QgsCoordinateReferenceSystem, QgsDateTimeRange, QgsProject, QgsUnitTypes

    project = QgsProject()
    project.setTitle(spec.get("title", "sclzonal"))
    project.setCrs(QgsCoordinateReferenceSystem(spec["crs"]))
    root = project.layerTreeRoot()
    vectors = verdict_layers(spec)
    for layer in vectors:
        project.addMapLayer(layer, False)
        node = root.addLayer(layer)
        node.setItemVisibilityChecked(layer.name() in (POLYGON_VERDICT, POLYGONS))
    group = root.addGroup(SCL_GROUP)
    scenes = sorted(spec["scenes"], key=lambda s: (s["acquired_on"], s["id"]), reverse=True)
    scene_layers = {}
    legend = scl_legend_image(spec["scl_classes"])
    for index, scene in enumerate(scenes):
        layer = scene_layers[scene["id"]] = scl_layer(spec, scene, legend)
        project.addMapLayer(layer, False)
        _scene_node(group.addLayer(layer), newest=index == 0)
    observations = project_forms.complete(
        project, spec, {layer.name(): layer for layer in vectors},
        [scene_layers[scene["id"]] for scene in spec["scenes"]],
        connection_text(spec["connection"]), SCHEMA)
    root.insertLayer(len(vectors), observations).setItemVisibilityChecked(False)
    save_view(project, vectors[0], [node.layer() for node in group.findLayers()])
    if scenes:
        first, last = _date_range(scenes[-1]["acquired_on"]), _date_range(scenes[0]["acquired_on"])
        time_settings = project.timeSettings()
        time_settings.setTemporalRange(QgsDateTimeRange(first.begin(), last.end()))
        time_settings.setTimeStep(1)
        time_settings.setTimeStepUnit(QgsUnitTypes.TemporalIrregularStep)
    return project


def _scene_node(node: Any, newest: bool) -> None:
    """Show only the newest scene and fold every scene's legend (an image headed by what it
    shows, not QGIS's "Band 1 (Gray)": scl_legend_image)."""
    node.setItemVisibilityChecked(newest)
    node.setExpanded(False)


def save_view(project: Any, polygons: Any, scenes: list[Any]) -> None:
    """Save the view the project opens on: the polygons (the scenes without polygons), in the
    project's CRS. Without it QGIS opens a project written headless at 1:1 on an empty map."""
    from qgis.core import QgsCoordinateTransform, QgsRectangle, QgsReferencedRectangle

    extent = QgsRectangle()
    for layer in [polygons] if polygons.featureCount() > 0 else scenes:
        part = QgsCoordinateTransform(layer.crs(), project.crs(), project).transformBoundingBox(
            layer.extent())
        if extent.isEmpty():
            extent = part
        else:
            extent.combineExtentWith(part)
    if not extent.isEmpty():
        extent.scale(VIEW_MARGIN)
        project.viewSettings().setDefaultViewExtent(QgsReferencedRectangle(extent, project.crs()))


def open_project(location: str) -> Any:
    """Read a project from a .qgs file or a `postgresql://` storage URI; raise when it fails."""
    from qgis.core import QgsProject

    project = QgsProject()
    if not project.read(location):
        raise BuildError(f"QGIS cannot read the project {location}: {project.error()}")
    return project


def render_map(project: Any, path: str, width: int = 1000, legend: bool = True) -> dict[str, Any]:
    """Render the verdicts over the newest SCL scene to a PNG, the map `width` px wide.

    With `legend`, a panel on the right lists the verdict categories and the SCL classes.
    """
    from qgis.core import QgsCoordinateTransform, QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor

    verdicts = project.mapLayersByName(POLYGON_VERDICT)[0]
    group = project.layerTreeRoot().findGroup(SCL_GROUP)
    newest = [node.layer() for node in group.findLayers()][:1] if group else []
    if verdicts.featureCount() == 0 or verdicts.extent().isEmpty():
        raise BuildError("no polygons to draw: load polygons before asking for an image")
    extent = QgsCoordinateTransform(verdicts.crs(), project.crs(), project).transformBoundingBox(
        verdicts.extent())
    extent.scale(1.04)
    height = max(1, round(width * extent.height() / extent.width()))
    settings = QgsMapSettings()
    settings.setLayers([verdicts, *newest])
    settings.setDestinationCrs(project.crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(width, height))
    settings.setBackgroundColor(QColor("white"))
    settings.setTransformContext(project.transformContext())
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    if legend:
        image = _with_legend(image, _legend_entries(verdicts, newest[0] if newest else None))
    if not image.save(path, "PNG"):
        raise BuildError(f"cannot write the image {path}")
    return {"path": path, "width": image.width(), "height": image.height(), "map_width": width}


def _legend_entries(verdicts: Any, scl: Any) -> list[tuple[Any, str]]:
    """Return (colour or None for a heading, text) rows: verdict categories, then SCL classes."""
    from qgis.PyQt.QtGui import QColor

    entries: list[tuple[Any, str]] = [(None, verdicts.name())]
    entries += [(c.symbol().color(), c.label()) for c in verdicts.renderer().categories() if c.value()]
    if scl is not None:
        entries += [(None, ""), (None, scl.name())]
        entries += [(QColor(item.color), item.label) for item in scl.renderer().classes()]
    return entries


def _with_legend(image: Any, entries: list[tuple[Any, str]]) -> Any:
    """Return `image` with a legend panel on its right."""
    from qgis.PyQt.QtCore import QRect, Qt
    from qgis.PyQt.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter

    regular = QFont("DejaVu Sans")
    regular.setPixelSize(max(11, image.width() // 65))
    bold = QFont(regular)
    bold.setBold(True)
    line = QFontMetrics(regular).height() + 6
    text_width = max(QFontMetrics(bold).horizontalAdvance(text) for _, text in entries)
    left = image.width() + 12
    framed = QImage(left + line + text_width + 12, max(image.height(), 24 + line * len(entries)),
                    QImage.Format_ARGB32)
    framed.fill(QColor("white"))
    painter = QPainter(framed)
    painter.drawImage(0, 0, image)
    painter.setPen(QColor("black"))
    for row, (colour, text) in enumerate(entries):
        top = 12 + row * line
        painter.setFont(bold if colour is None else regular)
        if colour is not None:
            swatch = QRect(left, top + 4, line - 8, line - 8)
            painter.fillRect(swatch, colour)
            painter.drawRect(swatch)
        painter.drawText(QRect(left + (0 if colour is None else line), top, text_width + line, line),
                         Qt.AlignVCenter, text)
    painter.end()
    return framed


def write_file(project: Any, path: str) -> None:
    """Write the project to `path` whole or not at all (and without QGIS's `path~` backup)."""
    folder, name = os.path.split(path)
    partial = os.path.join(folder, f".{name}.{os.getpid()}.qgs")
    try:
        if not project.write(partial):
            raise BuildError(f"cannot write the project to {path}: {project.error()}")
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Build the project, write it where the spec says, render the image; return a report."""
    project = build_project(spec)
    report: dict[str, Any] = {"layers": [
        {"name": layer.name(), "provider": layer.providerType(), "valid": layer.isValid()}
        for layer in project.mapLayers().values()]}
    if spec.get("image"):  # first: a map that cannot be drawn leaves nothing written
        report["image"] = render_map(project, spec["image"], int(spec.get("image_width", 1000)))
    if spec.get("output"):
        write_file(project, spec["output"])
        report["output"] = spec["output"]
    if spec.get("storage_uri"):
        if not project.write(spec["storage_uri"]):
            raise BuildError(f"cannot store the project in the database: {project.error()}")
        report["stored"] = spec["project_name"]
    return report


def qgis_version() -> str:
    """Return the running QGIS version, e.g. 3.22.16-Białowieża."""
    from qgis.core import Qgis

    return str(Qgis.version())


def main() -> int:
    """Read the spec from stdin, run it, print the report as JSON on stdout."""
    spec = json.load(sys.stdin)
    app = start_qgis()
    try:
        report = run(spec)
        report["qgis_version"] = qgis_version()
        print(json.dumps(report))
        return 0
    except BuildError as exc:
        print(str(exc).replace("\n", " "), file=sys.stderr)
        return 2
    finally:
        app.exitQgis()


if __name__ == "__main__":
    sys.exit(main())
