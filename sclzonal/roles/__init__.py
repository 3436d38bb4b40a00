"""Database roles: the owner, ingest and reader roles and their privileges."""
