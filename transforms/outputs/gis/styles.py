"""QGIS styles (QML) for every GIS layer sara writes, and their place in a GeoPackage (`layer_styles`).

QGIS opens a GeoPackage layer with the style of its `layer_styles` row marked `useAsDefault`, and a file layer
(Shapefile, GeoJSON, FlatGeobuf) with the `.qml` of the same base name beside it. Each product has one
renderer:
- hot spots: categories of `Gi_Bin` -3..3 in the one Gi* palette (transforms/outputs/palette.py);
- emerging hot spots: categories of `pattern`, hot patterns in reds and cold ones in blues (ColorBrewer's
  Reds and Blues, colorbrewer2.org; the order of intensity is sara's choice), no pattern in light grey;
- kernel density: five quantile classes of `density_km2` (ColorBrewer YlOrRd), breaks taken from the layer;
- repeat locations: points graded by `n_repeat_window` (1, 2-4, 5-9, 10-24, 25 and more events);
- near repeats: categories of `label` (originator, near_repeat, repeat, isolated);
- problem areas: categories of `area` (target, buffer, control), half-transparent;
- demand by district: five quantile classes of `n_calls` (ColorBrewer Blues), breaks taken from the layer;
- unit layers of `--all`: outlines only.
Polygons get fill symbols, street segments line symbols, points circle markers.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from transforms.outputs.palette import GI_BIN_COLOURS, GI_BIN_LABELS

# Esri's 17 emerging hot spot patterns (8 hot, 8 cold, no pattern): hot from strongest to weakest
_EHSA_KINDS = ("Persistent", "Intensifying", "Consecutive", "New", "Oscillating", "Sporadic", "Diminishing",
               "Historical")
_REDS = ("#99000d", "#cb181d", "#ef3b2c", "#fb6a4a", "#fc9272", "#fcbba1", "#fee0d2", "#fff5f0")
_BLUES = ("#084594", "#2171b5", "#4292c6", "#6baed6", "#9ecae1", "#c6dbef", "#deebf7", "#f7fbff")
EHSA_COLOURS = {**{f"{k} Hot Spot": c for k, c in zip(_EHSA_KINDS, _REDS, strict=True)},
                **{f"{k} Cold Spot": c for k, c in zip(_EHSA_KINDS, _BLUES, strict=True)},
                "No Pattern Detected": "#e0e0e0"}
NEAR_REPEAT_COLOURS = {"originator": "#d7301f", "near_repeat": "#fc8d59", "repeat": "#7a0177",
                       "isolated": "#bdbdbd"}
PROBLEM_AREA_COLOURS = {"target": "#e31a1c", "buffer": "#fd8d3c", "control": "#969696"}
KDE_COLOURS = ("#ffffb2", "#fecc5c", "#fd8d3c", "#f03b20", "#bd0026")
REPEAT_CLASSES = ((1, 1, "1 event", 1.6), (2, 4, "2-4 events", 2.4), (5, 9, "5-9 events", 3.2),
                  (10, 24, "10-24 events", 4.2), (25, None, "25 events and more", 5.4))


@dataclass(frozen=True)
class Style:
    """What a layer is coloured by: `kind` categorized (values -> (label, colour)), graduated (ranges), or single."""

    kind: str
    field: str = ""
    categories: tuple[tuple[object, str, str], ...] = ()          # (value, label, #colour)
    ranges: tuple[tuple[float, float, str, str, float], ...] = ()  # (lower, upper, label, #colour, size)
    description: str = ""


def gi_bin_style(field: str = "Gi_Bin") -> Style:
    return Style("categorized", field, tuple((v, GI_BIN_LABELS[v], GI_BIN_COLOURS[v]) for v in sorted(GI_BIN_COLOURS)),
                 description="Gi* bins, -3 cold to 3 hot (FDR-corrected)")


def categories_style(field: str, colours: dict[str, str], description: str) -> Style:
    return Style("categorized", field, tuple((v, v.replace("_", " "), c) for v, c in colours.items()),
                 description=description)


def kde_style(values) -> Style:
    """Five quantile classes of the layer's own densities (one class when they are all equal)."""
    import numpy as np

    v = np.asarray([x for x in values if x == x and x is not None], dtype=float)
    if not len(v):
        return Style("single", description="kernel density (no values)")
    breaks = sorted(set(np.quantile(v, [0, 0.2, 0.4, 0.6, 0.8, 1.0]).round(6)))
    if len(breaks) == 1:
        breaks = [breaks[0], breaks[0]]
    ranges = tuple((lo, hi, f"{lo:,.1f} - {hi:,.1f} per km²", KDE_COLOURS[min(i, 4)], 0.0)
                   for i, (lo, hi) in enumerate(zip(breaks, breaks[1:], strict=False)))
    return Style("graduated", "density_km2", ranges=ranges, description="kernel density, events per km², quantiles")


def demand_style(values) -> Style:
    """Five quantile classes of the layer's own call counts (one class when they are all equal)."""
    import numpy as np

    v = np.asarray([x for x in values if x == x and x is not None], dtype=float)
    if not len(v):
        return Style("single", description="calls per district (no values)")
    breaks = sorted(set(np.quantile(v, [0, 0.2, 0.4, 0.6, 0.8, 1.0]).round(6)))
    if len(breaks) == 1:
        breaks = [breaks[0], breaks[0]]
    colours = _BLUES[4::-1]  # light to dark
    ranges = tuple((lo, hi, f"{lo:,.0f} - {hi:,.0f} calls", colours[min(i, 4)], 0.0)
                   for i, (lo, hi) in enumerate(zip(breaks, breaks[1:], strict=False)))
    return Style("graduated", "n_calls", ranges=ranges, description="calls per district, quantiles")


def repeat_style(field: str, top: float) -> Style:
    ranges = tuple((lo - 0.5, (hi if hi is not None else max(top, lo)) + 0.5, label, _REDS[6 - 1 - i], size)
                   for i, (lo, hi, label, size) in enumerate(REPEAT_CLASSES))
    return Style("graduated", field, ranges=ranges, description="events at the place in the repeat window")


def _rgba(hex_colour: str, alpha: int = 255) -> str:
    h = hex_colour.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + f",{alpha}"


def _opts(**kw: str) -> str:
    return '<Option type="Map">' + "".join(
        f'<Option type="QString" name="{k}" value="{v}"/>' for k, v in kw.items()) + "</Option>"


def _symbol(name: int | str, geom: str, colour: str, size: float = 2.0, alpha: int = 255) -> str:
    """One QGIS symbol: a fill (polygons), a line (street segments) or a circle marker (points)."""
    if geom == "line":
        layer = ('<layer class="SimpleLine" enabled="1" locked="0">'
                 + _opts(line_color=_rgba(colour), line_width="0.8", line_style="solid") + "</layer>")
        return f'<symbol type="line" name="{name}" alpha="1">{layer}</symbol>'
    if geom == "marker":
        layer = ('<layer class="SimpleMarker" enabled="1" locked="0">'
                 + _opts(color=_rgba(colour), name="circle", outline_color="50,50,50,255", outline_width="0.2",
                         size=f"{size:g}") + "</layer>")
        return f'<symbol type="marker" name="{name}" alpha="1">{layer}</symbol>'
    layer = ('<layer class="SimpleFill" enabled="1" locked="0">'
             + _opts(color=_rgba(colour, alpha), outline_color="128,128,128,255", outline_width="0.1",
                     style="solid" if colour else "no") + "</layer>")
    return f'<symbol type="fill" name="{name}" alpha="1">{layer}</symbol>'


def style_qml(style: Style, geom: str = "fill") -> str:
    """The QML document of `style` for a layer of `geom` symbols (fill, line or marker)."""
    alpha = 140 if style.field == "area" else 255  # problem areas overlap the map beneath: half transparent
    if style.kind == "categorized":
        cats = "".join(f'<category render="true" symbol="{i}" value={quoteattr(str(v))} label={quoteattr(lab)}/>'
                       for i, (v, lab, _) in enumerate(style.categories))
        syms = "".join(_symbol(i, geom, c, alpha=alpha) for i, (_, _, c) in enumerate(style.categories))
        body = (f'<renderer-v2 type="categorizedSymbol" attr={quoteattr(style.field)} symbollevels="0" '
                f'enableorderby="0" forceraster="0"><categories>{cats}</categories><symbols>{syms}</symbols>'
                "</renderer-v2>")
    elif style.kind == "graduated":
        rngs = "".join(f'<range render="true" symbol="{i}" lower="{lo:.6f}" upper="{hi:.6f}" '
                       f"label={quoteattr(lab)}/>" for i, (lo, hi, lab, _, _) in enumerate(style.ranges))
        syms = "".join(_symbol(i, geom, c, size=s or 2.0) for i, (_, _, _, c, s) in enumerate(style.ranges))
        body = (f'<renderer-v2 type="graduatedSymbol" attr={quoteattr(style.field)} graduatedMethod="GraduatedColor" '
                f'symbollevels="0" enableorderby="0" forceraster="0"><ranges>{rngs}</ranges>'
                f"<symbols>{syms}</symbols></renderer-v2>")
    else:
        sym = _symbol(0, geom, "#ffffff", alpha=0) if geom == "fill" else _symbol(0, geom, "#636363")
        body = f'<renderer-v2 type="singleSymbol" symbollevels="0" forceraster="0"><symbols>{sym}</symbols></renderer-v2>'
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'><qgis version=\"3.34\" "
            f'styleCategories="Symbology">{body}</qgis>')


def qgis_style_qml(field: str = "Gi_Bin") -> str:
    """The hot spot style: a categorized fill colouring Gi_Bin from -3 (blue) to 3 (red)."""
    return style_qml(gi_bin_style(field), "fill")


def symbol_kind(geometry_type: str | None) -> str:
    t = (geometry_type or "").lower()
    return "line" if "line" in t else "marker" if "point" in t else "fill"


def embed_styles(gpkg: Path, styles: list[tuple[str, str, str]]) -> None:
    """Write (layer, QML, description) rows into the GeoPackage's `layer_styles`, each the layer's default."""
    con = sqlite3.connect(gpkg)
    try:
        con.execute(
            """CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT,
               f_table_schema TEXT, f_table_name TEXT, f_geometry_column TEXT, styleName TEXT, styleQML TEXT,
               styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT, ui TEXT,
               update_time DATETIME DEFAULT CURRENT_TIMESTAMP)""")
        for layer, qml, description in styles:
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner) VALUES "
                "('', '', ?, 'geom', ?, ?, '', 1, ?, 'sara')", [layer, f"{layer} (sara)", qml, description])
        con.commit()
    finally:
        con.close()
