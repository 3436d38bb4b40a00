"""The Processing provider "sclzonal": its algorithms and its settings (executable, database).

The settings show in Processing > Options > Providers > sclzonal and are stored in QGIS's settings
under Processing/Configuration/SCLZONAL_*; the algorithms read them from there when they run.
"""

from __future__ import annotations

import os

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .runner import DATABASE_URL, EXECUTABLE, PG_SERVICE

SETTINGS = [
    (EXECUTABLE, "Path to the sclzonal executable (empty: found on PATH)", "file"),
    (DATABASE_URL, "Database URL, postgresql://USER@HOST:PORT/DB (empty: the service below, else "
                   "QGIS's own DATABASE_URL or PG* variables)", "string"),
    (PG_SERVICE, "pg_service.conf entry to connect through (used when no database URL is set)", "string"),
]
ICON = os.path.join(os.path.dirname(__file__), "icon.svg")


class SclzonalProvider(QgsProcessingProvider):
    """Processing algorithms that run the sclzonal command line."""

    def id(self) -> str:
        """Return the provider's id, the prefix of its algorithms' ids (sclzonal:refresh)."""
        return "sclzonal"

    def name(self) -> str:
        """Return the name shown in the Processing Toolbox."""
        return "sclzonal"

    def longName(self) -> str:
        """Return the name shown in the options dialog."""
        return "sclzonal: Sentinel-2 SCL statistics and verdicts in PostGIS"

    def icon(self) -> QIcon:
        """Return the provider's icon."""
        return QIcon(ICON)

    def load(self) -> bool:
        """Register the settings with Processing's options dialog, then the algorithms."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig, Setting
        except ImportError:  # Processing's Python part absent: settings still read from QgsSettings
            return super().load()
        for name, description, kind in SETTINGS:
            valuetype = Setting.FILE if kind == "file" else None
            ProcessingConfig.addSetting(Setting(self.name(), name, description, "", valuetype=valuetype))
        ProcessingConfig.readSettings()
        self.refreshAlgorithms()
        return True

    def unload(self) -> None:
        """Remove the settings from Processing's options dialog."""
        try:
            from processing.core.ProcessingConfig import ProcessingConfig
        except ImportError:
            return
        for name, _, _ in SETTINGS:
            ProcessingConfig.removeSetting(name)

    def loadAlgorithms(self) -> None:
        """Add one instance of each algorithm."""
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())
