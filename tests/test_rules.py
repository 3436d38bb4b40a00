"""`sclzonal rules`: list the verdict rules, change a rule's thresholds; refresh applies them."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from sclzonal.demo.data import generate_demo
from tests.helpers import run_cli


@pytest.fixture(scope="module")
def demo(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """40 demo fields on two scenes, counted, with the shipped vegetation rule."""
    data = generate_demo(tmp_path_factory.mktemp("rules"), scenes=2, fields=40, size=300)
    from sclzonal.cli import main

    for args in (["polygons", "load", str(data.polygons_path), "--id-field", "field_id"],
                 ["scl", "load", *map(str, data.scene_paths)], ["refresh"]):
        assert main(["--database-url", database_url, *args]) == 0
    return database_url


def _rule(conn: psycopg.Connection) -> tuple[object, ...]:
    return conn.execute("SELECT classes, min_share, min_clear_share, min_coverage, revision"
                        " FROM sclzonal.verdict_rule WHERE label = 'vegetation'").fetchone() or ()


def _verdicts(conn: psycopg.Connection) -> dict[int, str]:
    return dict(conn.execute("SELECT polygon_id, verdict FROM sclzonal.polygon_verdict").fetchall())


def test_list_prints_the_stored_rules(capsys: pytest.CaptureFixture[str], demo: str) -> None:
    code, out, err = run_cli(capsys, demo, "rules", "list")
    assert code == 0, err
    assert out == ("vegetation: classes 4, min share 0.8, min clear share 0.5, min coverage 0.9, "
                   "priority 100, revision 1\n")


def test_set_changes_the_thresholds_and_refresh_applies_them(capsys: pytest.CaptureFixture[str],
                                                              demo: str, conn: psycopg.Connection) -> None:
    before = _verdicts(conn)
    assert "vegetation" in before.values() and "other" in before.values()
    code, out, err = run_cli(capsys, demo, "rules", "set", "vegetation", "--min-share", "0",
                             "--min-coverage", "0.5")
    assert code == 0, err
    assert out.startswith("changed: vegetation: classes 4, min share 0, min clear share 0.5, "
                          "min coverage 0.5")
    assert _rule(conn) == ([4], 0.0, 0.5, 0.5, 2)
    assert _verdicts(conn) == before  # nothing decided until the refresh
    assert run_cli(capsys, demo, "refresh")[0] == 0
    after = _verdicts(conn)
    # With a share of 0 the rule holds wherever it was evaluated: no polygon stays "other".
    assert "other" not in after.values()
    assert {pid for pid, v in before.items() if v in ("vegetation", "other")} <= \
        {pid for pid, v in after.items() if v == "vegetation"}
    assert conn.execute("SELECT count(*) FROM sclzonal.polygon_verdict WHERE rule_revision = 2"
                        ).fetchone() == (list(after.values()).count("vegetation"),)
    code, out, _ = run_cli(capsys, demo, "rules", "set", "vegetation", "--min-share", "0")
    assert code == 0 and out.startswith("unchanged: vegetation:") and _rule(conn)[4] == 2
    code, _, err = run_cli(capsys, demo, "rules", "set", "vegetation", "--classes", "4,5",
                           "--min-share", "0.8", "--min-coverage", "0.9")
    assert code == 0, err
    assert _rule(conn) == ([4, 5], 0.8, 0.5, 0.9, 3)


@pytest.mark.parametrize(("args", "message"), [
    (["water", "--min-share", "0.5"], "no verdict rule is labelled 'water' (rules: vegetation)"),
    (["vegetation", "--classes", "4,12"], "--classes '4,12': SCL classes are 0-11, not 12"),
    (["vegetation", "--classes", "4,4"], "--classes '4,4': a class is given twice"),
    (["vegetation", "--classes", "veg"], "--classes 'veg': give SCL class numbers separated by commas"),
    (["vegetation"], "nothing to change: give --min-share"),
])
def test_bad_changes_are_refused_in_one_line(capsys: pytest.CaptureFixture[str], demo: str,
                                             conn: psycopg.Connection, args: list[str],
                                             message: str) -> None:
    stored = _rule(conn)
    code, out, err = run_cli(capsys, demo, "rules", "set", *args)
    assert (code, out) == (1, "")
    assert err.startswith(f"sclzonal: error: {message}") and err.count("\n") == 1, err
    assert _rule(conn) == stored


def test_a_share_outside_0_1_is_a_usage_error(capsys: pytest.CaptureFixture[str], demo: str,
                                              tmp_path: Path) -> None:
    code, _, err = run_cli(capsys, demo, "rules", "set", "vegetation", "--min-share", "1.5")
    assert code == 2 and "--min-share" in err
