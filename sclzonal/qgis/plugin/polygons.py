"""Algorithm "Load polygons from a layer": the layer (or its selection) through a GeoPackage into sclzonal.

QGIS writes the features to a temporary GeoPackage in the layer's CRS, then `sclzonal polygons
load` stores them. Without an id field, each feature's QGIS feature id is written to an extra field
and used as the stable id, so loading the layer again updates its polygons instead of adding them.
"""

from __future__ import annotations

from qgis.core import (
    QgsFeature,
    QgsField,
    QgsFields,
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeatureSource,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterField,
    QgsProcessingParameterString,
    QgsProcessingUtils,
    QgsVectorFileWriter,
)
from qgis.PyQt.QtCore import QVariant

from .base import SclzonalAlgorithm

FEATURE_ID_FIELD = "qgis_feature_id"
LAYER_NAME = "polygons"


class LoadPolygons(SclzonalAlgorithm):
    """Load the polygons of a vector layer (or only its selected features) with `polygons load`."""

    NAME = "loadpolygons"
    TITLE = "Load polygons from a layer"
    DESCRIPTION = ("Stores the polygons of a layer in the database (sclzonal polygons load): all its "
                   "features, or only the selected ones. Loading again updates them (keyed by the "
                   "source name and the id field, or the QGIS feature id when no field is chosen).")
    INPUT, ID_FIELD, NAME_FIELD, SOURCE = "INPUT", "ID_FIELD", "NAME_FIELD", "SOURCE"

    def initAlgorithm(self, config: dict | None = None) -> None:
        """Declare the layer, its id and name fields, and the source name."""
        self.addParameter(QgsProcessingParameterFeatureSource(
            self.INPUT, "Polygon layer", [QgsProcessing.TypeVectorPolygon]))
        self.addParameter(QgsProcessingParameterField(
            self.ID_FIELD, "Field holding a stable feature id (empty: the QGIS feature id)",
            parentLayerParameterName=self.INPUT, optional=True))
        self.addParameter(QgsProcessingParameterField(
            self.NAME_FIELD, "Field holding the polygon's name", parentLayerParameterName=self.INPUT,
            optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.SOURCE, "Source name the polygons are stored under (empty: the layer's name)",
            optional=True))
        for key, title in (("FEATURES", "Features read"), ("INSERTED", "New polygons"),
                           ("UPDATED", "Polygons changed"), ("UNCHANGED", "Polygons unchanged")):
            self.addOutput(QgsProcessingOutputNumber(key, title))
        self.addOutput(QgsProcessingOutputString("SOURCE_NAME", "Source name"))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict:
        """Write the features to a GeoPackage, then run `sclzonal polygons load --json` on it."""
        source = self.parameterAsSource(parameters, self.INPUT, context)
        if source is None:
            raise QgsProcessingException(self.invalidSourceError(parameters, self.INPUT))
        id_field = self.text(parameters, self.ID_FIELD, context)
        name_field = self.text(parameters, self.NAME_FIELD, context)
        layer = self.parameterAsVectorLayer(parameters, self.INPUT, context)
        source_name = self.text(parameters, self.SOURCE, context) or (
            layer.name() if layer is not None and layer.name() else source.sourceName() or LAYER_NAME)
        path = self._export(source, not id_field, context, feedback)
        feedback.setProgress(40)
        args = ["polygons", "load", path, "--layer", LAYER_NAME, "--source", source_name,
                "--id-field", id_field or FEATURE_ID_FIELD]
        if name_field:
            args += ["--name-field", name_field]
        report = self.cli([*args, "--json"], feedback, as_json=True, progress=(40, 100))
        assert isinstance(report, dict)
        feedback.pushInfo(f"{report.get('features')} features: {report.get('inserted')} new, "
                          f"{report.get('updated')} changed, {report.get('unchanged')} unchanged, "
                          f"{report.get('repaired')} repaired, {report.get('skipped_empty')} skipped "
                          f"as empty (source {report.get('source')!r})")
        feedback.setProgress(100)
        return {"FEATURES": report.get("features"), "INSERTED": report.get("inserted"),
                "UPDATED": report.get("updated"), "UNCHANGED": report.get("unchanged"),
                "SOURCE_NAME": report.get("source")}

    def _export(self, source: QgsProcessingFeatureSource, with_feature_ids: bool,
                context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> str:
        """Write the source's features to a temporary GeoPackage in its CRS; return its path."""
        fields = QgsFields(source.fields())
        if with_feature_ids:
            if fields.indexFromName(FEATURE_ID_FIELD) >= 0:
                raise QgsProcessingException(
                    f"the layer already has a field {FEATURE_ID_FIELD}: choose it as the id field")
            fields.append(QgsField(FEATURE_ID_FIELD, QVariant.LongLong))
        path = QgsProcessingUtils.generateTempFilename("sclzonal_polygons.gpkg")
        options = QgsVectorFileWriter.SaveVectorOptions()
        options.driverName = "GPKG"
        options.layerName = LAYER_NAME
        options.fileEncoding = "UTF-8"
        writer = QgsVectorFileWriter.create(path, fields, source.wkbType(), source.sourceCrs(),
                                            context.transformContext(), options)
        if writer.hasError() != QgsVectorFileWriter.NoError:
            raise QgsProcessingException(f"could not write {path}: {writer.errorMessage()}")
        total = source.featureCount() or 1
        for index, feature in enumerate(source.getFeatures()):
            if feedback.isCanceled():
                break
            copy = QgsFeature(fields)
            copy.setGeometry(feature.geometry())
            values = list(feature.attributes())
            copy.setAttributes([*values, feature.id()] if with_feature_ids else values)
            if not writer.addFeature(copy):
                raise QgsProcessingException(f"could not write feature {feature.id()} to {path}: "
                                             f"{writer.errorMessage()}")
            feedback.setProgress(40 * (index + 1) / total)
        del writer
        if feedback.isCanceled():
            raise QgsProcessingException("canceled")
        feedback.pushInfo(f"wrote the layer's features to {path}")
        return path
