"""The algorithms that run one sclzonal command each: SCL files, fetching, refresh, rules, the project.

Loading polygons from a layer, which needs QGIS to write the layer out first, is in polygons.py.
"""

from __future__ import annotations

import os

from qgis.core import (
    QgsProcessing,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .base import SclzonalAlgorithm, current_settings
from .polygons import LoadPolygons

DATE_HINT = "YYYY-MM-DD"


class LoadScl(SclzonalAlgorithm):
    """`sclzonal scl load` on raster layers' files."""

    NAME = "loadscl"
    TITLE = "Load SCL rasters"
    DESCRIPTION = ("Stores SCL GeoTIFFs (single band, classes 0-11, any CRS) as scenes (sclzonal scl "
                   "load). The date comes from the file's ACQUISITION_DATE tag or its name, unless "
                   "given. A file loaded before changes nothing; all files are checked before any is "
                   "stored.")
    INPUT, DATE, REPLACE = "INPUT", "DATE", "REPLACE"

    def initAlgorithm(self, config: dict | None = None) -> None:
        """Declare the rasters, the date and --replace."""
        self.addParameter(QgsProcessingParameterMultipleLayers(
            self.INPUT, "SCL rasters (files)", QgsProcessing.TypeRaster))
        self.addParameter(QgsProcessingParameterString(
            self.DATE, f"Acquisition date, {DATE_HINT} (empty: from the tag or the file name)",
            optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.REPLACE, "Replace a scene of the same grid, date and source loaded from another file",
            defaultValue=False))
        self.addOutput(QgsProcessingOutputNumber("LOADED", "Scenes stored"))
        self.addOutput(QgsProcessingOutputNumber("UNCHANGED", "Files loaded before"))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict:
        """Run `sclzonal scl load --json` on the rasters' files."""
        paths = []
        for layer in self.parameterAsLayerList(parameters, self.INPUT, context):
            path = layer.source().split("|")[0]
            if not os.path.exists(path):
                raise QgsProcessingException(f"layer {layer.name()!r} is not a file sclzonal can read: "
                                             f"{layer.source()}")
            paths.append(path)
        if not paths:
            raise QgsProcessingException("no SCL rasters given")
        args = ["scl", "load", "--json", *paths]
        if self.text(parameters, self.DATE, context):
            args[2:2] = ["--date", self.text(parameters, self.DATE, context)]
        if self.parameterAsBoolean(parameters, self.REPLACE, context):
            args.insert(2, "--replace")
        report = self.cli(args, feedback, as_json=True)
        assert isinstance(report, dict)
        for file in report.get("files") or []:
            state = "stored" if file.get("created") else "loaded before"
            feedback.pushInfo(f"{file.get('name')}: scene {file.get('scene_id')} of "
                              f"{file.get('acquired_on')}, {state}, {file.get('tiles')} tiles")
        return {"LOADED": report.get("loaded"), "UNCHANGED": report.get("unchanged")}


class Fetch(SclzonalAlgorithm):
    """`sclzonal scl fetch`: SCL for the loaded polygons from Sentinel Hub or CDSE."""

    NAME = "fetch"
    TITLE = "Fetch SCL from Sentinel Hub or CDSE"
    DESCRIPTION = ("Fetches SCL for the stored polygons and loads it as scenes (sclzonal scl fetch). "
                   "Credentials: SH_CLIENT_ID and SH_CLIENT_SECRET in QGIS's environment, else the "
                   "sentinelhub configuration profile given. A dry run asks only the catalog and "
                   "reports the cost (requests, processing units).")
    ENDPOINTS = ["cdse", "sentinelhub"]
    START, END, ENDPOINT, URL, TOKEN_URL, PROFILE = "START", "END", "ENDPOINT", "URL", "TOKEN_URL", "PROFILE"
    MAX_CLOUD, RESOLUTION, SINCE_LAST, DRY_RUN = "MAX_CLOUD", "RESOLUTION", "SINCE_LAST", "DRY_RUN"

    def initAlgorithm(self, config: dict | None = None) -> None:
        """Declare the period, the endpoint, the credentials' profile and the request options."""
        self.addParameter(QgsProcessingParameterString(self.START, f"First date, {DATE_HINT}", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.END, f"Last date, {DATE_HINT} (empty: today)", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.SINCE_LAST, "Start at the last date already fetched from this endpoint", defaultValue=False))
        self.addParameter(QgsProcessingParameterEnum(self.ENDPOINT, "Endpoint", options=self.ENDPOINTS,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterString(
            self.URL, "Or the base URL of another Processing API deployment", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.TOKEN_URL, "Its OAuth token URL (empty: URL/oauth/token)", optional=True))
        self.addParameter(QgsProcessingParameterString(
            self.PROFILE, "sentinelhub configuration profile with the credentials", optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            self.MAX_CLOUD, "Only dates of at most this cloud cover (%)", QgsProcessingParameterNumber.Double,
            optional=True, minValue=0, maxValue=100))
        self.addParameter(QgsProcessingParameterNumber(
            self.RESOLUTION, "Pixel size (m)", QgsProcessingParameterNumber.Double, defaultValue=20,
            minValue=1, maxValue=1000))
        self.addParameter(QgsProcessingParameterBoolean(
            self.DRY_RUN, "Dry run: plan and cost only, load nothing", defaultValue=False))
        for key, title in (("REQUESTS", "Processing API requests"), ("SCENES", "Scenes loaded"),
                           ("PROCESSING_UNITS", "Processing units")):
            self.addOutput(QgsProcessingOutputNumber(key, title))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict:
        """Run `sclzonal scl fetch --json` with the options given."""
        url = self.text(parameters, self.URL, context)
        endpoint = url or self.ENDPOINTS[self.parameterAsEnum(parameters, self.ENDPOINT, context)]
        args = ["scl", "fetch", "--json", "--endpoint", endpoint,
                "--resolution", f"{self.parameterAsDouble(parameters, self.RESOLUTION, context):g}"]
        for option, name in (("--start", self.START), ("--end", self.END), ("--token-url", self.TOKEN_URL),
                             ("--profile", self.PROFILE)):
            if self.text(parameters, name, context):
                args += [option, self.text(parameters, name, context)]
        max_cloud = self.number(parameters, self.MAX_CLOUD, context)
        if max_cloud is not None:
            args += ["--max-cloud", f"{max_cloud:g}"]
        for flag, name in (("--since-last", self.SINCE_LAST), ("--dry-run", self.DRY_RUN)):
            if self.parameterAsBoolean(parameters, name, context):
                args.append(flag)
        report = self.cli(args, feedback, as_json=True)
        assert isinstance(report, dict)
        scenes = report.get("scenes") or []
        feedback.pushInfo(f"{'planned' if report.get('dry_run') else 'sent'} {report.get('requests')} "
                          f"requests ({report.get('processing_units')} processing units) over "
                          f"{report.get('cells')} cells and {report.get('dates')} dates; "
                          f"{len(scenes)} scenes loaded")
        return {"REQUESTS": report.get("requests"), "SCENES": len(scenes),
                "PROCESSING_UNITS": report.get("processing_units")}


class Refresh(SclzonalAlgorithm):
    """`sclzonal refresh`: count new pairs, decide the verdicts."""

    NAME = "refresh"
    TITLE = "Refresh the counts and verdicts"
    DESCRIPTION = ("Counts the class pixels of every (polygon, scene) pair not counted yet and decides "
                   "the verdicts of the polygons whose counts, geometry, scenes or rules changed "
                   "(sclzonal refresh). QGIS keeps drawing the verdict layers meanwhile.")
    REBUILD = "REBUILD_VERDICTS"

    def initAlgorithm(self, config: dict | None = None) -> None:
        """Declare --rebuild-verdicts and the numbers reported."""
        self.addParameter(QgsProcessingParameterBoolean(
            self.REBUILD, "Decide every polygon's verdict again", defaultValue=False))
        for key, title in (("SCENES", "Scenes with pairs to count"), ("PAIRS_COUNTED", "Pairs counted"),
                           ("VERDICTS_DECIDED", "Verdicts decided")):
            self.addOutput(QgsProcessingOutputNumber(key, title))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict:
        """Run `sclzonal refresh --json`."""
        return refresh(self, self.parameterAsBoolean(parameters, self.REBUILD, context), feedback)


def refresh(algorithm: SclzonalAlgorithm, rebuild: bool, feedback: QgsProcessingFeedback,
            progress: tuple[float, float] = (0, 100)) -> dict:
    """Run `sclzonal refresh --json` for an algorithm; log and return its figures.

    Counting moves the progress bar through the first nine tenths of `progress`; deciding the
    verdicts, which reports no progress, the rest.
    """
    low, high = progress
    report = algorithm.cli(["refresh", "--json", *(["--rebuild-verdicts"] if rebuild else [])], feedback,
                           as_json=True, progress=(low, low + 0.9 * (high - low)))
    feedback.setProgress(high)
    assert isinstance(report, dict)
    feedback.pushInfo(f"counted {report.get('pairs_counted')} pairs on {report.get('scenes')} scenes "
                      f"in {report.get('count_seconds', 0):.1f} s; verdicts of "
                      f"{report.get('verdicts_decided')} polygons decided in "
                      f"{report.get('verdict_seconds', 0):.1f} s")
    for problem in (report.get("uncountable") or [])[:10]:
        feedback.reportError(f"polygon {problem.get('polygon_id')} cannot be counted on EPSG:"
                             f"{problem.get('epsg')}: {problem.get('reason')}", fatalError=False)
    return {"SCENES": report.get("scenes"), "PAIRS_COUNTED": report.get("pairs_counted"),
            "VERDICTS_DECIDED": report.get("verdicts_decided")}


class SetRule(SclzonalAlgorithm):
    """`sclzonal rules set`, then (by default) `sclzonal refresh`."""

    NAME = "setrule"
    TITLE = "Change a verdict rule's thresholds"
    DESCRIPTION = ("Changes the classes or thresholds of a verdict rule (sclzonal rules set), then "
                   "refreshes the verdicts unless told not to. Thresholds left empty keep their "
                   "values; `sclzonal rules list` shows the rules.")
    LABEL, CLASSES, REFRESH = "LABEL", "CLASSES", "REFRESH"
    THRESHOLDS = [("MIN_SHARE", "--min-share", "Share of the clear pixels the classes must make (0-1)"),
                  ("MIN_CLEAR_SHARE", "--min-clear-share", "Share of the pixels that must be clear (0-1)"),
                  ("MIN_COVERAGE", "--min-coverage", "Coverage below which it is partially observed (0-1)")]

    def initAlgorithm(self, config: dict | None = None) -> None:
        """Declare the rule's label, its thresholds, its classes and whether to refresh."""
        self.addParameter(QgsProcessingParameterString(self.LABEL, "Rule (label)", defaultValue="vegetation"))
        for name, _, title in self.THRESHOLDS:
            self.addParameter(QgsProcessingParameterNumber(
                name, title, QgsProcessingParameterNumber.Double, optional=True, minValue=0, maxValue=1))
        self.addParameter(QgsProcessingParameterString(
            self.CLASSES, "SCL classes, e.g. 4 or 4,5 (empty: unchanged)", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.REFRESH, "Refresh the verdicts afterwards", defaultValue=True))
        self.addOutput(QgsProcessingOutputNumber("VERDICTS_DECIDED", "Verdicts decided"))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict:
        """Run `sclzonal rules set LABEL ...`, then `sclzonal refresh --json`."""
        args = ["rules", "set", self.text(parameters, self.LABEL, context)]
        for name, option, _ in self.THRESHOLDS:
            value = self.number(parameters, name, context)
            if value is not None:
                args += [option, repr(value)]
        if self.text(parameters, self.CLASSES, context):
            args += ["--classes", self.text(parameters, self.CLASSES, context)]
        changed = self.cli(args, feedback)
        feedback.pushInfo(str(changed))
        feedback.setProgress(30)
        if not self.parameterAsBoolean(parameters, self.REFRESH, context):
            return {"VERDICTS_DECIDED": 0}
        return {"VERDICTS_DECIDED": refresh(self, False, feedback, (30, 100))["VERDICTS_DECIDED"]}


class BuildProject(SclzonalAlgorithm):
    """`sclzonal qgis project`, then open the project in this QGIS."""

    NAME = "project"
    TITLE = "Build and open the project"
    DESCRIPTION = ("Has sclzonal (re)build the ready-styled project (sclzonal qgis project): the "
                   "verdict layers, the polygons and one SCL layer per scene; writes it to the file "
                   "given and, if asked, stores it in the database; then opens it in this QGIS "
                   "(replacing the current project) unless told not to.")
    OUTPUT, STORE, PROJECT_NAME, SERVICE, OPEN = "OUTPUT", "STORE_IN_DB", "PROJECT_NAME", "SERVICE", "OPEN"

    def __init__(self) -> None:
        super().__init__()
        self.path = ""
        self.open = False

    def initAlgorithm(self, config: dict | None = None) -> None:
        """Declare the file, storing in the database, the service and opening it."""
        self.addParameter(QgsProcessingParameterFileDestination(
            self.OUTPUT, "Project file", fileFilter="QGIS project (*.qgs)"))
        self.addParameter(QgsProcessingParameterBoolean(
            self.STORE, "Also store it in the database (public.qgis_projects)", defaultValue=False))
        self.addParameter(QgsProcessingParameterString(
            self.PROJECT_NAME, "Name of the project stored in the database", defaultValue="sclzonal"))
        self.addParameter(QgsProcessingParameterString(
            self.SERVICE, "Connect the layers through this pg_service.conf entry (empty: the provider's "
                          "service setting, else host, port, database and user)", optional=True))
        self.addParameter(QgsProcessingParameterBoolean(
            self.OPEN, "Open it in QGIS afterwards", defaultValue=True))

    def processAlgorithm(self, parameters: dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> dict:
        """Run `sclzonal qgis project --output FILE ...`."""
        self.path = self.parameterAsFileOutput(parameters, self.OUTPUT, context)
        if not self.path.lower().endswith(".qgs"):
            self.path += ".qgs"
        args = ["qgis", "project", "--output", self.path]
        if self.parameterAsBoolean(parameters, self.STORE, context):
            args += ["--store-in-db", "--project-name", self.text(parameters, self.PROJECT_NAME, context)]
        service = self.text(parameters, self.SERVICE, context) or current_settings().pg_service
        if service:
            args += ["--service", service]
        self.open = self.parameterAsBoolean(parameters, self.OPEN, context)
        feedback.pushInfo(str(self.cli(args, feedback)))
        return {self.OUTPUT: self.path}

    def postProcessAlgorithm(self, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> dict:
        """Open the project in the QGIS desktop (on its main thread); nothing when headless."""
        from qgis.utils import iface

        if self.open and iface is not None and self.path:
            from qgis.PyQt.QtCore import QTimer

            path = self.path
            QTimer.singleShot(0, lambda: iface.addProject(path))
            feedback.pushInfo(f"opening {path}")
        return {self.OUTPUT: self.path}


ALGORITHMS = [LoadPolygons, LoadScl, Fetch, Refresh, SetRule, BuildProject]
"""Every algorithm of the provider."""
