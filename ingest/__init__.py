"""Ingestion: polygons from vector files, SCL rasters from GeoTIFFs into PostGIS."""
