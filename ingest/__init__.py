"""Ingestion: polygons from vector files, SCL rasters from GeoTIFFs, Sen2Cor products, Sentinel Hub."""

DEFAULT_TILE_SIZE = 256
"""Width and height of the raster tiles a scene is stored in, in pixels."""

MAX_REQUEST_PIXELS = 2500
"""Largest width or height of one Processing API request, in pixels (the API's limit)."""
