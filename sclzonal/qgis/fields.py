"""How QGIS presents the verdict layers' fields: aliases, the verdict's value map, a map tip.

Part of the QML that sclzonal.qgis.styles writes (the default style in `public.layer_styles`,
and the style the project builder applies), so the attribute table, forms and identify results
read "Decided by scene of" and "Vegetation" instead of `acquired_on` and `vegetation`.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

# Aliases every verdict layer shares (a field a layer lacks is left out of its style).
COMMON_ALIASES = {
    "id": "Feature key", "polygon_id": "Polygon id", "source": "Source file",
    "source_fid": "Feature id in the source file", "name": "Name", "verdict": "Verdict",
    "scene_id": "Scene", "coverage": "Coverage (observed / expected pixels, 0-1)",
    "clear_share": "Clear share (of the observed pixels, 0-1)",
    "rule_share": "Share of the rule's classes (of the clear pixels, 0-1)",
    "vegetation_share": "Vegetation share (class 4, of the clear pixels, 0-1)",
    "pixels": "Pixels counted", "clear_pixels": "Clear pixels", "expected_pixels": "Expected pixels",
    "observed_pixels": "Observed pixels", "observations": "Observations (dates)",
    "clear_observations": "Clear observations", "partial_observations": "Partially observed dates",
    "first_observed_on": "First observed on", "last_observed_on": "Last observed on",
    "rule_label": "Rule that decided", "rule_id": "Rule id", "problem": "Problem",
    "is_observation": "Best scene of its date", "month_start": "Month from", "month_end": "Month to",
    "verdict_acquired_on": "Decided by scene of", "class_shares": "Class shares of the month",
}
ACQUIRED_ON = {"polygon_verdict": "Decided by scene of", "scene_verdict_layer": "Acquired on"}
FIELDS = {
    "polygon_verdict": [
        "polygon_id", "source", "source_fid", "name", "verdict", "acquired_on", "scene_id",
        "coverage", "clear_share", "rule_share", "vegetation_share", "pixels", "clear_pixels",
        "expected_pixels", "observed_pixels", "observations", "clear_observations",
        "partial_observations", "first_observed_on", "last_observed_on", "rule_label", "problem"],
    "scene_verdict_layer": [
        "id", "polygon_id", "scene_id", "source", "source_fid", "name", "acquired_on", "verdict",
        "rule_id", "rule_share", "clear_share", "vegetation_share", "pixels", "clear_pixels",
        "expected_pixels", "observed_pixels", "coverage", "is_observation"],
    "polygon_month_verdict": [
        "id", "polygon_id", "source", "source_fid", "name", "month_start", "month_end", "verdict",
        "verdict_acquired_on", "observations", "clear_observations", "partial_observations",
        "pixels", "clear_pixels", "vegetation_share", "class_shares"],
}
# What hovering a polygon says, e.g. "Vegetation on 2017-10-13: 98 % of 420 clear pixels,
# 5 of 6 observations clear" (QGIS expressions between [% and %]).
POLYGON_MAP_TIP = (
    "<b>[% \"name\" %]</b><br>[% represent_value(\"verdict\") %]"
    "[% CASE WHEN \"acquired_on\" IS NOT NULL THEN ' on ' || format_date(\"acquired_on\", 'yyyy-MM-dd')"
    " || ': ' || round(\"vegetation_share\" * 100) || ' % of ' || \"clear_pixels\" || ' clear pixels'"
    " ELSE '' END %], [% \"clear_observations\" %] of [% \"observations\" %] observations clear")


# Shares (0-1) shown as percentages: a virtual field each, "Vegetation share (%)" = round(share *
# 100, 1); the attribute table shows it in place of the share, which stays for expressions.
PERCENT_FIELDS = {"coverage": "Coverage (%)", "clear_share": "Clear share (%)",
                  "rule_share": "Rule share (%)", "vegetation_share": "Vegetation share (%)"}
PERCENT_SUFFIX = "_percent"
# How the attribute table sorts its rows: by polygon (and date, for the per scene layer).
SORT_EXPRESSIONS = {"polygon_verdict": '"polygon_id"',
                    "scene_verdict_layer": "lpad(to_string(\"polygon_id\"), 15, '0') || ' '"
                                           " || format_date(\"acquired_on\", 'yyyy-MM-dd')",
                    "polygon_month_verdict": '"id"'}  # polygon_id * 100000 + month


def percent_fields(table: str) -> dict[str, tuple[str, str]]:
    """Return the percentage virtual fields of `table`: name -> (expression, alias)."""
    return {f"{share}{PERCENT_SUFFIX}": (f'round("{share}" * 100, 1)', alias)
            for share, alias in PERCENT_FIELDS.items() if share in FIELDS[table]}


def aliases(table: str) -> dict[str, str]:
    """Return the alias of each field of the verdict layer `table`."""
    named = {**COMMON_ALIASES, **({"acquired_on": ACQUIRED_ON[table]} if table in ACQUIRED_ON else {})}
    return {field: named[field] for field in FIELDS[table]}


def _option(parent: ET.Element, name: str | None, value: str | None = None,
            kind: str = "QString") -> ET.Element:
    attributes = {"type": kind, **({"name": name} if name is not None else {}),
                  **({"value": value} if value is not None else {})}
    return ET.SubElement(parent, "Option", attributes)


def append_field_presentation(root: ET.Element, table: str, verdict_labels: dict[str, str]) -> None:
    """Append to the QML `root` the aliases of `table`'s fields, a value map that shows each
    verdict by its legend label (`verdict_labels`: value to label) and, for the verdict per
    polygon, the map tip."""
    configuration = ET.SubElement(root, "fieldConfiguration")
    field = ET.SubElement(configuration, "field", {"name": "verdict", "configurationFlags": "None"})
    widget = ET.SubElement(field, "editWidget", {"type": "ValueMap"})
    listed = _option(_option(ET.SubElement(widget, "config"), None, kind="Map"), "map", kind="List")
    for value, label in verdict_labels.items():
        _option(_option(listed, None, kind="Map"), label, value)
    alias_list = ET.SubElement(root, "aliases")
    percent = percent_fields(table)
    for name, alias in [*aliases(table).items(), *((n, a) for n, (_, a) in percent.items())]:
        ET.SubElement(alias_list, "alias", {"field": name, "name": alias})
    expression_fields = ET.SubElement(root, "expressionfields")
    for name, (expression, _) in percent.items():
        ET.SubElement(expression_fields, "field", {
            "name": name, "expression": expression, "type": "6", "typeName": "double precision",
            "subType": "0", "length": "0", "precision": "1", "comment": ""})
    _append_table_config(root, table, percent)
    if table == "polygon_verdict":
        ET.SubElement(root, "mapTip").text = POLYGON_MAP_TIP


def _append_table_config(root: ET.Element, table: str, percent: dict[str, tuple[str, str]]) -> None:
    """Append the attribute table's configuration: rows sorted by polygon, the fields in their
    order with each share's percentage in its place (the share itself hidden)."""
    config = ET.SubElement(root, "attributetableconfig", {
        "sortExpression": SORT_EXPRESSIONS[table], "sortOrder": "0", "actionWidgetStyle": "dropDown"})
    columns = ET.SubElement(config, "columns")
    for name in FIELDS[table]:
        shown = f"{name}{PERCENT_SUFFIX}" in percent
        ET.SubElement(columns, "column", {"type": "field", "name": name, "width": "-1",
                                          "hidden": "1" if shown else "0"})
        if shown:
            ET.SubElement(columns, "column", {"type": "field", "name": f"{name}{PERCENT_SUFFIX}",
                                              "width": "-1", "hidden": "0"})
    ET.SubElement(columns, "column", {"type": "actions", "width": "-1", "hidden": "1"})
