"""QGIS styles for the verdict layers, written to `public.layer_styles` without QGIS.

QGIS applies the row of `public.layer_styles` marked `useasdefault` when a PostGIS layer is added
(matched on database name, schema, table and geometry column). This module builds that style as
QGIS's own QML (a categorized renderer on `verdict`, readable legend labels) plus an SLD for other
clients, and writes one default row per verdict layer. The project builder applies the same QML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import psycopg

from sclzonal.db.qgis_tables import ensure_qgis_tables
from sclzonal.db.settings import SCHEMA
from sclzonal.qgis.fields import append_field_presentation

STYLE_NAME = "sclzonal verdicts"
OUTLINE = "#3c3c3c"
# Opacity of a verdict's fill: the SCL classes under a polygon stay readable, the outline and
# the tint still say the verdict.
FILL_OPACITY = 0.4
# Colours of rule labels other than vegetation, in rule priority order (ColorBrewer, readable).
RULE_PALETTE = ("#2c7bb6", "#d7191c", "#7b3294", "#fdae61", "#01665e", "#c51b7d", "#8c510a")


@dataclass(frozen=True)
class Category:
    """One legend entry: the verdict value, its label, fill and outline colours."""

    value: str
    label: str
    fill: str
    outline: str = OUTLINE
    dashed: bool = False


@dataclass(frozen=True)
class VerdictLayer:
    """A layer of verdicts that gets a default style: table, geometry column, legend title."""

    table: str
    title: str
    description: str


POLYGON_VERDICT = VerdictLayer("polygon_verdict", "Verdict per polygon",
                               "Verdict of each polygon (its most recent clear scene)")
SCENE_VERDICT = VerdictLayer("scene_verdict_layer", "Verdict per scene",
                             "Verdict of each polygon in each scene (Temporal Controller: acquired_on)")
MONTH_VERDICT = VerdictLayer("polygon_month_verdict", "Verdict per month",
                             "Verdict of each polygon in each month it was observed (Temporal "
                             "Controller: month_start to month_end)")
VERDICT_LAYERS = (POLYGON_VERDICT, SCENE_VERDICT, MONTH_VERDICT)
GEOMETRY_COLUMN = "geom"

VEGETATION = Category("vegetation", "Vegetation", "#4dac26")
NOT_CLEAR = Category("not_clear", "Not clear (clouds, shadows, no data)", "#bdbdbd")
PARTIALLY_OBSERVED = Category("partially_observed", "Partially observed (coverage too low)",
                              "#fee0b6", outline="#b35806", dashed=True)
NO_CLEAR_OBSERVATION = Category("no_clear_observation", "No clear observation", "#969696")
NO_PIXELS = Category("no_pixels", "No pixels", "#f0f0f0", outline="#969696", dashed=True)
NOT_COUNTABLE = Category("not_countable", "Not countable (see sclzonal explain)", "#ffffff",
                         outline="#d7191c", dashed=True)


def _readable(label: str) -> str:
    text = label.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def verdict_categories(layer: VerdictLayer, rule_labels: list[str]) -> list[Category]:
    """Return the legend of `layer`: the rule labels, other, the no-verdict cases.

    No catch-all row: a legend lists what can be on the map. A rule added later has no
    category until the styles are written again (the project's Polygons layer still outlines
    its polygons)."""
    extra = [label for label in rule_labels if label != VEGETATION.value]
    categories = [VEGETATION]
    for index, label in enumerate(extra):
        categories.append(Category(label, _readable(label), RULE_PALETTE[index % len(RULE_PALETTE)]))
    other_label = "Other (no rule holds)" if extra else "Not vegetation (other)"
    categories.append(Category("other", other_label, "#d8b365"))
    if layer == SCENE_VERDICT:
        categories += [NOT_CLEAR, PARTIALLY_OBSERVED]
    elif layer == MONTH_VERDICT:
        categories += [PARTIALLY_OBSERVED, NO_CLEAR_OBSERVATION]
    else:
        categories += [PARTIALLY_OBSERVED, NO_CLEAR_OBSERVATION, NO_PIXELS, NOT_COUNTABLE]
    return categories


def _rgba(hex_colour: str, opacity: float = 1.0) -> str:
    value = hex_colour.lstrip("#")
    red, green, blue = (int(value[i:i + 2], 16) for i in (0, 2, 4))
    return f"{red},{green},{blue},{round(255 * opacity)}"


def _option(parent: ET.Element, name: str, value: str) -> None:
    ET.SubElement(parent, "Option", {"name": name, "value": value, "type": "QString"})


def fill_symbol_xml(parent: ET.Element, name: str, category: Category) -> None:
    """Append a QGIS fill <symbol> for `category` to `parent`: a see-through fill, a broad
    band in the verdict's colour (or its dashed outline colour) and a thin dark edge."""
    symbol = ET.SubElement(parent, "symbol", {"type": "fill", "name": name, "alpha": "1",
                                              "clip_to_extent": "1", "force_rhr": "0"})
    band = category.outline if category.dashed else category.fill
    for kind, options in (
            ("SimpleFill", (("color", _rgba(category.fill, FILL_OPACITY)), ("style", "solid"),
                            ("outline_color", _rgba(band)),
                            ("outline_style", "dash" if category.dashed else "solid"),
                            ("outline_width", "0.6"), ("outline_width_unit", "MM"),
                            ("joinstyle", "bevel"))),
            ("SimpleLine", (("line_color", _rgba(OUTLINE)), ("line_style", "solid"),
                            ("line_width", "0.15"), ("line_width_unit", "MM"),
                            ("joinstyle", "bevel")))):
        layer = ET.SubElement(symbol, "layer", {"class": kind, "pass": "0", "locked": "0",
                                                "enabled": "1"})
        listed = ET.SubElement(layer, "Option", {"type": "Map"})
        for key, value in options:
            _option(listed, key, value)


def style_qml(categories: list[Category], table: str | None = None, field: str = "verdict") -> str:
    """Return QGIS QML with a categorized renderer on `field`, one category per verdict, and
    with `table`, how that verdict layer's fields are presented (sclzonal.qgis.fields)."""
    kinds = "Symbology|Fields|Forms|MapTips|AttributeTable" if table else "Symbology"
    root = ET.Element("qgis", {"version": "3.22.0", "styleCategories": kinds})
    renderer = ET.SubElement(root, "renderer-v2", {
        "type": "categorizedSymbol", "attr": field, "symbollevels": "0", "enableorderby": "0",
        "forceraster": "0", "referencescale": "-1"})
    listed = ET.SubElement(renderer, "categories")
    symbols = ET.SubElement(renderer, "symbols")
    for index, category in enumerate(categories):
        ET.SubElement(listed, "category", {"value": category.value, "label": category.label,
                                           "symbol": str(index), "render": "true"})
        fill_symbol_xml(symbols, str(index), category)
    ET.SubElement(renderer, "rotation")
    ET.SubElement(renderer, "sizescale")
    if table:
        append_field_presentation(root, table, {c.value: c.label for c in categories})
    body = ET.tostring(root, encoding="unicode")
    return "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n" + body


SLD = "http://www.opengis.net/sld"
SE = "http://www.opengis.net/se"
OGC = "http://www.opengis.net/ogc"


def style_sld(name: str, categories: list[Category], field: str = "verdict") -> str:
    """Return the same legend as an SLD 1.1 document (for clients other than QGIS)."""
    ET.register_namespace("", SLD)
    ET.register_namespace("se", SE)
    ET.register_namespace("ogc", OGC)
    root = ET.Element(f"{{{SLD}}}StyledLayerDescriptor", {"version": "1.1.0"})
    named = ET.SubElement(root, f"{{{SLD}}}NamedLayer")
    ET.SubElement(named, f"{{{SE}}}Name").text = name
    feature_style = ET.SubElement(ET.SubElement(named, f"{{{SLD}}}UserStyle"),
                                  f"{{{SE}}}FeatureTypeStyle")
    for category in categories:
        rule = ET.SubElement(feature_style, f"{{{SE}}}Rule")
        ET.SubElement(rule, f"{{{SE}}}Name").text = category.label
        equal = ET.SubElement(ET.SubElement(rule, f"{{{OGC}}}Filter"), f"{{{OGC}}}PropertyIsEqualTo")
        ET.SubElement(equal, f"{{{OGC}}}PropertyName").text = field
        ET.SubElement(equal, f"{{{OGC}}}Literal").text = category.value
        polygon = ET.SubElement(rule, f"{{{SE}}}PolygonSymbolizer")
        fill = ET.SubElement(polygon, f"{{{SE}}}Fill")
        ET.SubElement(fill, f"{{{SE}}}SvgParameter", {"name": "fill"}).text = category.fill
        ET.SubElement(fill, f"{{{SE}}}SvgParameter", {"name": "fill-opacity"}).text = str(FILL_OPACITY)
        stroke = ET.SubElement(polygon, f"{{{SE}}}Stroke")
        ET.SubElement(stroke, f"{{{SE}}}SvgParameter", {"name": "stroke"}).text = category.outline
        ET.SubElement(stroke, f"{{{SE}}}SvgParameter", {"name": "stroke-width"}).text = "1"
    return ET.tostring(root, encoding="unicode")


def rule_labels(conn: psycopg.Connection) -> list[str]:
    """Return the labels of the enabled verdict rules, in priority order."""
    rows = conn.execute(
        f"SELECT label FROM {SCHEMA}.verdict_rule WHERE enabled ORDER BY priority, id"
    ).fetchall()
    return [str(row[0]) for row in rows]


_WHERE = ("f_table_catalog = %(catalog)s AND f_table_schema = %(schema)s "
          "AND f_table_name = %(table)s AND f_geometry_column = %(geom)s")


def _insert_default(conn: psycopg.Connection, layer: VerdictLayer, categories: list[Category]) -> None:
    """Replace sclzonal's row of `layer` in public.layer_styles by a new default row."""
    key = {"catalog": conn.info.dbname, "schema": SCHEMA, "table": layer.table,
           "geom": GEOMETRY_COLUMN, "name": STYLE_NAME}
    conn.execute(f"DELETE FROM public.layer_styles WHERE {_WHERE} AND stylename = %(name)s", key)
    conn.execute(f"UPDATE public.layer_styles SET useasdefault = false WHERE {_WHERE}", key)
    conn.execute(
        """
        INSERT INTO public.layer_styles
            (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, stylename,
             styleqml, stylesld, useasdefault, description, type)
        VALUES (%(catalog)s, %(schema)s, %(table)s, %(geom)s, %(name)s,
                XMLPARSE(DOCUMENT %(qml)s), XMLPARSE(DOCUMENT %(sld)s), true,
                %(description)s, NULL)
        """,
        {**key, "qml": style_qml(categories, layer.table), "sld": style_sld(layer.title, categories),
         "description": layer.description},
    )


def write_default_styles(conn: psycopg.Connection) -> dict[str, int]:
    """Write the default style of every verdict layer; return the categories per table.

    Re-runnable: the previous sclzonal row of each layer is replaced, and other styles of the
    same layer stay but are no longer the default (as when QGIS saves a default style). The
    `type` column stays NULL: QGIS 3.22 matches `type = <geometry type of the layer's URI> OR
    type IS NULL`, and a URI without `type=` asks for 'Unknown geometry', one with it 'Polygon'.
    """
    labels = rule_labels(conn)
    written: dict[str, int] = {}
    with conn.transaction():
        ensure_qgis_tables(conn)
        for layer in VERDICT_LAYERS:
            categories = verdict_categories(layer, labels)
            _insert_default(conn, layer, categories)
            written[layer.table] = len(categories)
    return written


def _needs_writing(conn: psycopg.Connection, layer: VerdictLayer, qml: str) -> bool:
    """True when `layer` has no default style, or sclzonal's is the default and differs from
    `qml` (a rule added or renamed, a newer sclzonal). A default someone else saved stays."""
    key = {"catalog": conn.info.dbname, "schema": SCHEMA, "table": layer.table,
           "geom": GEOMETRY_COLUMN, "name": STYLE_NAME, "qml": qml}
    row = conn.execute(
        f"SELECT count(*) FILTER (WHERE stylename = %(name)s AND styleqml::text IS NOT DISTINCT"
        f"                        FROM XMLPARSE(DOCUMENT %(qml)s)::text),"
        f"       count(*) FILTER (WHERE stylename IS DISTINCT FROM %(name)s)"
        f" FROM public.layer_styles WHERE {_WHERE} AND useasdefault", key).fetchone()
    ours_current, theirs = row if row else (0, 0)
    return ours_current == 0 and theirs == 0


def may_write_styles(conn: psycopg.Connection) -> bool:
    """True when public.layer_styles exists and this role may replace rows in it."""
    row = conn.execute(
        "SELECT to_regclass('public.layer_styles') IS NOT NULL"
        " AND has_table_privilege('public.layer_styles', 'INSERT')"
        " AND has_table_privilege('public.layer_styles', 'UPDATE')"
        " AND has_table_privilege('public.layer_styles', 'DELETE')"
        " AND has_sequence_privilege(pg_get_serial_sequence('public.layer_styles', 'id'), 'USAGE')"
    ).fetchone()
    return bool(row and row[0])


def keep_default_styles_current(conn: psycopg.Connection, create_tables: bool = False) -> list[str]:
    """Write the default style of each verdict layer that has none, or whose sclzonal default
    no longer matches the rules (`db upgrade` and `refresh` call it); return those tables.

    Unlike `write_default_styles`, a default style someone else saved is left alone. With
    `create_tables`, QGIS's tables are created when missing. A role that may not write
    public.layer_styles (the loader) writes nothing: raises StylesNotWritable when a
    style needed writing.
    """
    with conn.transaction():
        if create_tables:
            ensure_qgis_tables(conn)
        readable = conn.execute("SELECT to_regclass('public.layer_styles') IS NOT NULL AND"
                                " has_table_privilege('public.layer_styles', 'SELECT')").fetchone()
        if readable != (True,):  # no QGIS tables, or a role that cannot even see the styles
            return []
        labels = rule_labels(conn)
        stale = [(layer, categories) for layer in VERDICT_LAYERS
                 for categories in [verdict_categories(layer, labels)]
                 if _needs_writing(conn, layer, style_qml(categories, layer.table))]
        if stale and not may_write_styles(conn):
            raise StylesNotWritable([layer.table for layer, _ in stale])
        for layer, categories in stale:
            _insert_default(conn, layer, categories)
    return [layer.table for layer, _ in stale]


class StylesNotWritable(Exception):
    """Default styles need writing but this role may not write public.layer_styles."""

    def __init__(self, tables: list[str]) -> None:
        super().__init__(", ".join(tables))
        self.tables = tables
