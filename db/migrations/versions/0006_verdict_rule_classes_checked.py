"""A verdict rule's classes are checked by the database: a non-empty list of SCL classes 0-11.

Edits from SQL or QGIS that would store NULL in the list, a class outside 0-11, an empty or a
nested list are refused with the constraint's name (the shares were already checked to be within
0..1). A database holding such a rule stops this upgrade with that message; fix the rule first.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

CLASSES_VALID = ("array_ndims(classes) = 1 AND cardinality(classes) > 0"
                 " AND array_position(classes, NULL) IS NULL"
                 " AND classes <@ ARRAY[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]::smallint[]")


def upgrade() -> None:
    op.create_check_constraint(op.f("verdict_rule_classes_valid_check"), "verdict_rule",
                               CLASSES_VALID, schema="sclzonal")


def downgrade() -> None:
    op.drop_constraint(op.f("verdict_rule_classes_valid_check"), "verdict_rule", type_="check",
                       schema="sclzonal")
