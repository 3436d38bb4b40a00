"""Alembic environment and revisions of the sclzonal schema."""
