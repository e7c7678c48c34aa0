"""Writing layers in each format, with a README of what was written (and the Shapefile field names).

| format | geometry layers | tables (`--all`) |
|---|---|---|
| gpkg | layers of `sara.gpkg`, each styled in `layer_styles` | attribute tables of `sara.gpkg` |
| filegdb | feature classes of `sara.gdb` | tables of `sara.gdb` |
| shp | `<layer>.shp` with a `.qml` style beside it | `<table>.dbf` |
| geojson | `<layer>.geojson` in EPSG:4326, `.qml` beside it | `<table>.csv` |
| fgb | `<layer>.fgb` (spatial index), `.qml` beside it | `<table>.csv` |
| parquet | GeoParquet, `<layer>/agency=<code>/part-0.parquet` | Parquet, same layout |

Every format but GeoJSON keeps the agency's analysis CRS.
"""

from __future__ import annotations

from pathlib import Path

import pyogrio

from transforms.outputs.dictionary import markdown_table
from transforms.outputs.gis.layers import Layer
from transforms.outputs.gis.styles import embed_styles, style_qml, symbol_kind

FORMATS = {
    "gpkg": ("GPKG", ".gpkg"),
    "shp": ("ESRI Shapefile", ".shp"),
    "geojson": ("GeoJSON", ".geojson"),
    "fgb": ("FlatGeobuf", ".fgb"),
    "parquet": (None, ".parquet"),
    "filegdb": ("OpenFileGDB", ".gdb"),
}
SINGLE_FILE = {"gpkg": "sara.gpkg", "filegdb": "sara.gdb"}
TABLE_EXT = {"shp": ".dbf", "geojson": ".csv", "fgb": ".csv"}


def shapefile_names(columns: list[str]) -> dict[str, str]:
    """Unique field names of at most 10 characters (dBase limit), stable for the same column list."""
    out: dict[str, str] = {}
    used: set[str] = set()
    for c in columns:
        if c == "geometry":
            continue
        base = c[:10]
        name, k = base, 1
        while name.lower() in used:
            suffix = str(k)
            name = base[: 10 - len(suffix)] + suffix
            k += 1
        used.add(name.lower())
        out[c] = name
    return out


def layer_file(fmt: str, layer: Layer) -> str:
    """Where a layer lands, relative to the output folder (a GeoPackage/FileGDB layer: `sara.gpkg:<name>`)."""
    if fmt in SINGLE_FILE:
        return f"{SINGLE_FILE[fmt]}:{layer.name}"
    if fmt == "parquet":
        return f"{layer.stem}/agency={layer.agency}/part-0.parquet"
    return layer.name + (FORMATS[fmt][1] if layer.spatial else TABLE_EXT[fmt])


def write_layers(layers: list[Layer], fmt: str, tmp: Path) -> list[str]:
    """Write every layer into `tmp`; returns the README's lines about them."""
    driver, ext = FORMATS[fmt]
    readme: list[str] = []
    styles: list[tuple[str, str, str]] = []
    for layer in layers:
        g = layer.frame
        qml = style_qml(layer.style, symbol_kind(layer.geometry_type)) if layer.spatial and layer.style else None
        if fmt == "geojson" and layer.spatial:
            g = g.to_crs("EPSG:4326")
        target = tmp / layer_file(fmt, layer).split(":")[0]
        if fmt in SINGLE_FILE:
            options = {"IDENTIFIER": f"{layer.title} ({layer.agency})", "DESCRIPTION": layer.join or layer.title} \
                if fmt == "gpkg" else {}
            pyogrio.write_dataframe(g, target, layer=layer.name, driver=driver, promote_to_multi=False,
                                    layer_options=options)
            if qml:
                styles.append((layer.name, qml, layer.style.description))
        elif fmt == "parquet":
            # Hive-style partitions, <layer>/agency=<code>/part-0.parquet: DuckDB (hive_partitioning), Spark and
            # Trino read a layer's folder as one table with an agency column from the path, so the files leave
            # it out. A geometry layer is GeoParquet in its agency's analysis CRS.
            target.parent.mkdir(parents=True, exist_ok=True)
            g.drop(columns=["agency"], errors="ignore").to_parquet(target)
        elif fmt == "shp":
            names = shapefile_names(list(g.columns))
            pyogrio.write_dataframe(_text_times(g).rename(columns=names), target, driver=driver, encoding="UTF-8",
                                    promote_to_multi=False)
            readme += [f"### {target.name}", ""]
            readme += markdown_table(["field", "column"], [(short, col) for col, short in names.items()]) + [""]
            if qml:  # the style names the field as the Shapefile spells it
                field = layer.style.field
                qml = style_qml(type(layer.style)(**{**layer.style.__dict__, "field": names.get(field, field)}),
                                symbol_kind(layer.geometry_type))
        elif not layer.spatial:
            g.to_csv(target, index=False)
        else:
            pyogrio.write_dataframe(g, target, driver=driver, promote_to_multi=False)
        if qml and fmt not in SINGLE_FILE and fmt != "parquet":
            target.with_suffix(".qml").write_text(qml, encoding="utf-8")
    if fmt == "gpkg":
        embed_styles(tmp / SINGLE_FILE[fmt], styles)
    return readme


def _text_times(g):
    """Shapefiles (dBase) have no date-time field: times are written as ISO 8601 text, UTC ('Z'), dates as dates."""
    g = g.copy()
    for c in g.columns:
        if str(g[c].dtype).startswith("datetime64"):
            aware = getattr(g[c].dt, "tz", None) is not None
            g[c] = g[c].dt.strftime("%Y-%m-%dT%H:%M:%SZ" if aware else "%Y-%m-%d")
    return g


def readme_text(fmt: str, layers: list[Layer], heading: str, notes: list[str], shp_names: list[str]) -> str:
    """The README.md written beside the layers: the slice, each layer (where, geometry, rows, what), the joins of
    `--all`, the notes and, for Shapefiles, the field names."""
    rows = [(layer_file(fmt, x), _geometry_words(x, fmt), f"{len(x.frame):,}", x.title + (
        f"; join: {x.join}" if x.join else "")) for x in layers]
    lines = [f"# sara GIS export ({fmt})", "", heading, "",
             "CRS: each layer is in its agency's analysis CRS" + (", reprojected to EPSG:4326 (RFC 7946)"
                                                                   if fmt == "geojson" else "") + ".", "",
             "## Layers", "", *markdown_table(["layer", "geometry", "rows", "what"], rows), ""]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    if shp_names:
        lines += ["## Shapefile field names", "", "Shapefile (dBase) field names are at most 10 characters; this is "
                  "how they map to the columns of the marts.", "", *shp_names]
    return "\n".join(lines) + "\n"


def _geometry_words(layer: Layer, fmt: str) -> str:
    if not layer.spatial:
        return "none (table)"
    return layer.geometry_type or "mixed"

