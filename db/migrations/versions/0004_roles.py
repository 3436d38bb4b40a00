"""Roles: the registry of sclzonal's roles, the verdict refresh function, their privileges.

sql/verdict_refresh.sql: sclzonal.refresh_polygon_verdict(), which refreshes the verdict view as
its owner, so the ingest role needs no ownership. sql/roles.sql: the privileges of the roles
registered in sclzonal.database_role (none yet on a new database: `sclzonal db roles` creates
and registers them).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sclzonal.db.migrate import apply_recorded_sql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# The SHA-256 of each file of sql/ this revision applies, in order (see migrate.recorded_sql):
# when sql/ changes, the old text is kept in db/migrations/frozen/0004/.
SQL_FILES = {
    "verdict_refresh.sql": "adda17d57a58d9049037b522345417fe3ac8adbf43d8f221e8a1c46869933780",
    "roles.sql": "182c3fb3be2cb28417d0e6136b6990ae5a8f783dc34a81f3ee6654505c68434b",
}


def upgrade() -> None:
    op.create_table(
        "database_role",
        sa.Column("role_name", sa.Text(), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.CheckConstraint("purpose IN ('owner', 'ingest', 'reader')",
                           name=op.f("database_role_purpose_check")),
        sa.PrimaryKeyConstraint("role_name", name=op.f("database_role_pkey")),
        schema="sclzonal",
    )
    apply_recorded_sql(op.get_bind(), revision, SQL_FILES)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS sclzonal.refresh_polygon_verdict()")
    op.drop_table("database_role", schema="sclzonal")
