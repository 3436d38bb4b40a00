"""Why a polygon has its verdict: its observations by date and each rule's outcome on them.

The text `sclzonal explain` prints, read from the views that decide the verdicts
(sql/verdict_views.sql): scene_verdict (every scene that holds pixels of the polygon, and which
one is the observation of its date), scene_rule_outcome (each rule's share and outcome),
scene_origin, and the stored row of polygon_verdict with the rule revision it was made under.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import psycopg
from psycopg.rows import dict_row

from sclzonal.errors import UserError

OUTCOME_TEXT = {
    "held": "held: {share} of the clear pixels >= {min_share}",
    "share_below_threshold": "did not hold: {share} of the clear pixels < {min_share}",
    "not_clear": "not evaluated, not clear enough: clear share {clear_share} < {min_clear_share}",
    "partially_observed": "not evaluated, partially observed: coverage {coverage} < {min_coverage}",
}
"""How each outcome of sclzonal.rule_outcome reads, filled with the pair's and the rule's numbers."""


def find_polygon(conn: psycopg.Connection, key: str, *, by_source_fid: bool,
                 source: str | None = None) -> int:
    """Return the id of the polygon named by its internal id, or by its source_fid (and source)."""
    if not by_source_fid:
        try:
            polygon_id = int(key)
        except ValueError:
            raise UserError(f"polygon {key!r}: not an internal id (a whole number); "
                            "give --source-fid to look it up by its feature id") from None
        if conn.execute("SELECT 1 FROM sclzonal.polygon WHERE id = %s", (polygon_id,)).fetchone():
            return polygon_id
        raise UserError(f"no polygon with internal id {polygon_id}")
    rows = conn.execute(
        "SELECT id, source FROM sclzonal.polygon WHERE source_fid = %s"
        " AND (%s::text IS NULL OR source = %s) ORDER BY source",
        (key, source, source)).fetchall()
    if not rows:
        where = f" in source {source!r}" if source is not None else ""
        raise UserError(f"no polygon with source_fid {key!r}{where}")
    if len(rows) > 1:
        raise UserError(f"source_fid {key!r} is in {len(rows)} sources ("
                        + ", ".join(repr(row[1]) for row in rows) + "): give --source")
    return int(rows[0][0])


def _number(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


def _dicts(conn: psycopg.Connection, query: str, params: tuple[Any, ...]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cursor:
        return list(cursor.execute(query, params).fetchall())


def _class_shares(pixels: list[int], total: int) -> str:
    shares = [f"{k}: {count / total:.0%}" for k, count in enumerate(pixels) if count and total]
    return ", ".join(shares) or "none"


def explain(conn: psycopg.Connection, polygon_id: int) -> str:
    """Return the explanation of one polygon's verdict as text."""
    polygon = _dicts(conn, "SELECT id, source, source_fid, name FROM sclzonal.polygon"
                     " WHERE id = %s", (polygon_id,))[0]
    stored = _dicts(conn, "SELECT * FROM sclzonal.polygon_verdict WHERE polygon_id = %s",
                    (polygon_id,))
    rules = {row["id"]: row for row in _dicts(
        conn, "SELECT * FROM sclzonal.verdict_rule ORDER BY priority, id", ())}
    pairs = _dicts(conn, "SELECT sv.*, so.description AS origin FROM sclzonal.scene_verdict AS sv"
                   " JOIN sclzonal.scene_origin AS so ON so.scene_id = sv.scene_id"
                   " WHERE sv.polygon_id = %s ORDER BY sv.acquired_on, sv.is_observation DESC,"
                   " sv.scene_id", (polygon_id,))
    outcomes: dict[int, list[dict[str, Any]]] = {}
    for row in _dicts(conn, "SELECT * FROM sclzonal.scene_rule_outcome WHERE polygon_id = %s"
                      " ORDER BY scene_id, priority, rule_id", (polygon_id,)):
        outcomes.setdefault(row["scene_id"], []).append(row)

    name = f", name {polygon['name']!r}" if polygon["name"] else ""
    lines = [f"polygon {polygon['id']} (source {polygon['source']!r}, source_fid "
             f"{polygon['source_fid']!r}{name})"]
    lines += _stored_lines(stored[0] if stored else None)
    lines.append("rules (as now; a rule edit takes effect at the next refresh):")
    for rule in rules.values():
        state = "" if rule["enabled"] else " (disabled)"
        lines.append(f"  {rule['label']} (revision {rule['revision']}, priority {rule['priority']})"
                     f"{state}: classes {', '.join(map(str, rule['classes']))} at least "
                     f"{rule['min_share']:.2f} of the clear pixels, when coverage >= "
                     f"{rule['min_coverage']:.2f} and clear share >= {rule['min_clear_share']:.2f}")
    if not rules:
        lines.append("  none")
    if not pairs:
        lines.append("observations: none (no counted scene has a pixel centre inside the polygon;"
                     " a polygon smaller than a pixel may hold none)")
        return "\n".join(lines) + "\n"
    lines.append("observations by date (one per date: the scene with the highest coverage):")
    for pair in pairs:
        lines += _pair_lines(pair, outcomes.get(pair["scene_id"], []), rules)
    return "\n".join(lines) + "\n"


def _stored_lines(row: dict[str, Any] | None) -> list[str]:
    if row is None:
        return ["verdict: none stored yet (run `sclzonal refresh`)"]
    lines = [f"verdict: {row['verdict']} (stored by the last refresh); {row['observations']} "
             f"observations, {row['clear_observations']} clear, {row['partial_observations']} "
             "partially observed"]
    if row["problem"] is not None:
        lines.append(f"  cannot be counted on {row['problem']}; the polygon is left out of the "
                     "verdicts until its geometry changes")
    if row["scene_id"] is not None:
        lines.append(f"  rests on the observation of {row['acquired_on'].isoformat()}: scene "
                     f"{row['scene_id']}, coverage {_number(row['coverage'])}, clear share "
                     f"{_number(row['clear_share'])}")
        lines.append(f"  scene origin: {row['scene_origin']}")
    if row["rule_label"] is not None:
        lines.append(f"  rule {row['rule_label']} revision {row['rule_revision']}: classes "
                     f"{', '.join(map(str, row['rule_classes']))}, share {_number(row['rule_share'])}"
                     f" >= {row['rule_min_share']:.2f}, clear share >= "
                     f"{row['rule_min_clear_share']:.2f}, coverage >= {row['rule_min_coverage']:.2f}")
    elif row["verdict"] == "other":
        lines.append(f"  no rule held; evaluated: {', '.join(row['evaluated_rules'] or [])}")
    return lines


def _pair_lines(pair: dict[str, Any], outcomes: list[dict[str, Any]],
                rules: dict[int, dict[str, Any]]) -> list[str]:
    day: dt.date = pair["acquired_on"]
    expected = "unknown" if pair["expected_pixels"] is None else str(pair["expected_pixels"])
    classes = _class_shares(pair["class_pixels"], pair["total_pixels"])
    head = (f"  {day.isoformat()}  scene {pair['scene_id']}  coverage {_number(pair['coverage'])} "
            f"({pair['observed_pixels']} of {expected} pixels observed)  clear share "
            f"{_number(pair['clear_share'])}  classes {classes}")
    if not pair["is_observation"]:
        return [head + "  - another scene of this date covers more: not used"]
    lines = [head, f"      verdict of this date: {pair['verdict']}   ({pair['origin']})"]
    for outcome in outcomes:
        rule = rules[outcome["rule_id"]]
        text = OUTCOME_TEXT[outcome["outcome"]].format(
            share=_number(outcome["rule_share"]), min_share=f"{rule['min_share']:.2f}",
            clear_share=_number(pair["clear_share"]), min_clear_share=f"{rule['min_clear_share']:.2f}",
            coverage=_number(pair["coverage"]), min_coverage=f"{rule['min_coverage']:.2f}")
        lines.append(f"      {outcome['label']}: {text}")
    return lines
