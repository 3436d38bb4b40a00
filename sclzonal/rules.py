"""Read and change the verdict rules (sclzonal.verdict_rule): `sclzonal rules`.

A change takes effect at the next `sclzonal refresh`, which decides every polygon's verdict again
after any edit of a rule (a trigger notes it). The database bumps the rule's revision and keeps
the old one in verdict_rule_revision, so verdicts made before can still be explained.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import psycopg
from psycopg import sql

from sclzonal.errors import UserError


@dataclass(frozen=True)
class Rule:
    """One row of sclzonal.verdict_rule."""

    label: str
    classes: list[int]
    min_share: float
    min_clear_share: float
    min_coverage: float
    priority: int
    enabled: bool
    revision: int


@dataclass(frozen=True)
class RuleChange:
    """What `change_rule` sets; None leaves the column as it is."""

    classes: list[int] | None = None
    min_share: float | None = None
    min_clear_share: float | None = None
    min_coverage: float | None = None
    priority: int | None = None
    enabled: bool | None = None

    def columns(self) -> dict[str, object]:
        """Return the columns to set and their new values."""
        values = {field.name: getattr(self, field.name) for field in fields(self)}
        return {name: value for name, value in values.items() if value is not None}


_COLUMNS = [field.name for field in fields(Rule)]


def list_rules(conn: psycopg.Connection) -> list[Rule]:
    """Return every rule, in the order verdicts consult them (priority, then id)."""
    query = sql.SQL("SELECT {} FROM sclzonal.verdict_rule ORDER BY priority, id").format(
        sql.SQL(", ").join(map(sql.Identifier, _COLUMNS)))
    return [Rule(*row) for row in conn.execute(query).fetchall()]


def parse_classes(text: str) -> list[int]:
    """Return the SCL classes of '4' or '4,5' (each 0-11, no repeats); UserError otherwise."""
    parts = [part.strip() for part in text.split(",")]
    if not all(part.isdigit() for part in parts):
        raise UserError(f"--classes {text!r}: give SCL class numbers separated by commas, e.g. 4,5")
    classes = [int(part) for part in parts]
    wrong = [c for c in classes if c > 11]
    if wrong:
        raise UserError(f"--classes {text!r}: SCL classes are 0-11, not {wrong[0]}")
    if len(set(classes)) != len(classes):
        raise UserError(f"--classes {text!r}: a class is given twice")
    return classes


def change_rule(conn: psycopg.Connection, label: str, change: RuleChange) -> tuple[Rule, Rule]:
    """Set the columns of `change` on the rule `label`; return the rule before and after.

    One transaction; the rule's revision goes up when something changed. UserError when no rule
    has that label or nothing is to be changed.
    """
    columns = change.columns()
    if not columns:
        raise UserError("nothing to change: give --min-share, --min-clear-share, --min-coverage, "
                        "--classes, --priority, --enable or --disable")
    selected = sql.SQL(", ").join(map(sql.Identifier, _COLUMNS))
    with conn.transaction():
        row = conn.execute(sql.SQL("SELECT {} FROM sclzonal.verdict_rule WHERE label = %s FOR UPDATE")
                           .format(selected), [label]).fetchone()
        if row is None:
            known = ", ".join(rule.label for rule in list_rules(conn)) or "none"
            raise UserError(f"no verdict rule is labelled {label!r} (rules: {known})")
        assignments = sql.SQL(", ").join(
            sql.SQL("{} = %s").format(sql.Identifier(name)) for name in columns)
        after = conn.execute(
            sql.SQL("UPDATE sclzonal.verdict_rule SET {} WHERE label = %s RETURNING {}").format(
                assignments, selected), [*columns.values(), label]).fetchone()
    assert after is not None
    return Rule(*row), Rule(*after)
