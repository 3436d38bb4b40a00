"""sclzonal: per-polygon Sentinel-2 SCL class statistics and verdicts in PostGIS."""

__version__ = "0.1.0"

DEFAULT_COUNT_BATCH = 20_000
"""Polygons counted per transaction by `sclzonal refresh`."""
