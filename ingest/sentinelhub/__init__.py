"""Sentinel Hub and CDSE: request planning, the sentinelhub-py client, fetching into scenes."""
