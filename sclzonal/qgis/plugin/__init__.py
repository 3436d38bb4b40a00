"""The sclzonal QGIS plugin: Processing algorithms that run the `sclzonal` command line.

This folder is shipped inside the sclzonal package only as data: `sclzonal qgis plugin` zips it
as the plugin folder `sclzonal_qgis` for Plugins > Manage and Install Plugins > Install from ZIP.
Its modules import QGIS, Qt and the standard library, never sclzonal (QGIS's Python lacks its
dependencies), and nothing here is imported by sclzonal itself.
"""


def classFactory(iface):
    """Return the plugin object QGIS asks every plugin for (iface is None under qgis_process)."""
    from .plugin import SclzonalPlugin

    return SclzonalPlugin(iface)
