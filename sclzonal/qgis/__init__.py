"""QGIS: default layer styles and a ready-styled project built by QGIS itself."""
