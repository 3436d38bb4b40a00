"""The plugin object: registers the sclzonal Processing provider, on the desktop and in qgis_process."""

from __future__ import annotations

from qgis.core import QgsApplication

from .provider import SclzonalProvider


class SclzonalPlugin:
    """Adds the provider when QGIS starts the plugin, removes it when QGIS unloads it."""

    def __init__(self, iface: object) -> None:
        self.iface = iface
        self.provider: SclzonalProvider | None = None

    def initProcessing(self) -> None:
        """Register the provider (qgis_process calls only this)."""
        if self.provider is None:
            self.provider = SclzonalProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)

    def initGui(self) -> None:
        """Register the provider for the desktop; its algorithms are in the Processing Toolbox."""
        self.initProcessing()

    def unload(self) -> None:
        """Remove the provider."""
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
