"""The SQL of the schema, one topic per file: package data that migrations read (no Python)."""
