"""The demo: generated SCL scenes and fields, loaded, counted and printed."""
