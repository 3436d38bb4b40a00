"""The database refuses verdict rules that make no sense, whoever writes them (SQL, QGIS)."""

from __future__ import annotations

import psycopg
import pytest

from tests.helpers import run_cli


@pytest.mark.parametrize(("assignment", "constraint"), [
    ("classes = '{4,NULL}'", "verdict_rule_classes_valid_check"),
    ("classes = '{}'", "verdict_rule_classes_valid_check"),
    ("classes = '{4,12}'", "verdict_rule_classes_valid_check"),
    ("classes = '{-1}'", "verdict_rule_classes_valid_check"),
    ("classes = '{{4},{5}}'", "verdict_rule_classes_valid_check"),
    ("min_share = 1.5", "verdict_rule_min_share_range_check"),
    ("min_share = -0.1", "verdict_rule_min_share_range_check"),
    ("min_clear_share = 2", "verdict_rule_min_clear_share_range_check"),
    ("min_coverage = 1.01", "verdict_rule_min_coverage_range_check"),
    ("min_coverage = -0.5", "verdict_rule_min_coverage_range_check"),
    ("label = 'partially_observed'", "verdict_rule_label_not_reserved_check"),
])
def test_nonsense_is_refused_naming_the_constraint(conn: psycopg.Connection, assignment: str,
                                                   constraint: str) -> None:
    before = conn.execute("SELECT classes, min_share, min_clear_share FROM sclzonal.verdict_rule"
                          " WHERE label = 'vegetation'").fetchone()
    with pytest.raises(psycopg.errors.CheckViolation, match=constraint):
        conn.execute(f"UPDATE sclzonal.verdict_rule SET {assignment} WHERE label = 'vegetation'")
    after = conn.execute("SELECT classes, min_share, min_clear_share FROM sclzonal.verdict_rule"
                         " WHERE label = 'vegetation'").fetchone()
    assert after == before


def test_null_classes_and_shares_are_refused(conn: psycopg.Connection) -> None:
    for column in ("classes", "min_share", "min_clear_share", "min_coverage"):
        with pytest.raises(psycopg.errors.NotNullViolation):
            conn.execute(f"UPDATE sclzonal.verdict_rule SET {column} = NULL WHERE label = 'vegetation'")


def test_sensible_rules_are_taken_and_refresh_uses_them(capsys: pytest.CaptureFixture[str],
                                                        database_url: str, conn: psycopg.Connection) -> None:
    conn.execute("INSERT INTO sclzonal.verdict_rule (label, classes, min_share, min_clear_share, priority)"
                 " VALUES ('water_or_snow', '{6,11}', 0, 1, 5)")
    try:
        code, _, err = run_cli(capsys, database_url, "refresh")
        assert code == 0, err
    finally:
        conn.execute("DELETE FROM sclzonal.verdict_rule WHERE label = 'water_or_snow'")
