"""Counting: pixel maps per grid, class counts per (polygon, scene), and the refresh that stores them."""

DEFAULT_COUNT_BATCH = 20_000
"""Polygons counted per transaction by `sclzonal refresh`."""
