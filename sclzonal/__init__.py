"""sclzonal: per-polygon Sentinel-2 SCL class statistics and verdicts in PostGIS."""

__version__ = "0.1.0"
