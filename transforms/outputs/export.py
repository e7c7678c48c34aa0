"""GIS layers from the marts: GeoPackage (default), Shapefile, GeoJSON, FlatGeobuf, GeoParquet, FileGDB.

- One layer per mart and agency (`hotspots_metro`), because agencies may use different analysis CRSs.
  Every layer carries its CRS: GeoJSON is written in EPSG:4326 (RFC 7946), every other format in the
  agency's analysis CRS.
- Gi* layers carry Esri-style fields beside sara's (GiZScore, GiPValue, Gi_Bin, NNeighbors) so ArcGIS
  symbology and habits work. GIS formats compare field names without case, so sara's gi_bin appears once,
  as Gi_Bin.
- The GeoPackage embeds a QGIS style (`layer_styles`) colouring gi_bin -3..3, so hot spot layers open styled.
- Shapefile field names are cut to 10 characters, made unique, and listed in a README beside the files.
- Atomic (outputs/atomic.py): everything is written into a temporary folder inside the output folder, then
  renamed into place, so a GIS user never opens a half-written layer.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import geopandas as gpd
import shapely

from transforms.outputs.atomic import atomic_files
from transforms.outputs.dictionary import markdown_table
from transforms.outputs.palette import GI_BIN_COLOURS, GI_BIN_LABELS
from transforms.warehouse.sqlutil import qident

FORMATS = {
    "gpkg": ("GPKG", ".gpkg"),
    "shp": ("ESRI Shapefile", ".shp"),
    "geojson": ("GeoJSON", ".geojson"),
    "fgb": ("FlatGeobuf", ".fgb"),
    "parquet": (None, ".parquet"),
    "filegdb": ("OpenFileGDB", ".gdb"),
}
MART_LAYERS = ("hotspots", "hotspot_counts", "emerging_hotspots", "kde", "units")
ESRI_FIELDS = {"GiZScore": "z", "GiPValue": "p", "Gi_Bin": "gi_bin", "NNeighbors": "n_neighbors"}


def read_layer(con: duckdb.DuckDBPyConnection, mart: str, agency: str, crs: str) -> gpd.GeoDataFrame:
    """One agency's rows of marts.<mart> as a GeoDataFrame in `crs`, with field types every driver takes."""
    df = con.execute(
        f"SELECT * EXCLUDE (geom), ST_AsWKB(geom) AS _wkb FROM marts.{qident(mart)} WHERE agency = ?", [agency]
    ).df()
    geom = shapely.from_wkb([bytes(b) for b in df.pop("_wkb")]) if len(df) else []
    g = gpd.GeoDataFrame(df, geometry=list(geom), crs=crs)
    if mart == "hotspots":
        for esri, ours in ESRI_FIELDS.items():
            g[esri] = g[ours]
        # NOTE: GIS formats compare field names without case, so gi_bin and Gi_Bin cannot both exist:
        # the layer keeps the ArcGIS spelling (same values)
        g = g.drop(columns=["gi_bin"])
    for c in g.columns:  # plain types every driver takes (FileGDB has no 64-bit integers before ArcGIS Pro 3.2)
        # an all-null column (a mart whose statistics were not computed) has no maximum
        if str(g[c].dtype) in ("int64", "Int64") and (g[c].isna().all() or g[c].abs().max() < 2**31):
            g[c] = g[c].astype("int32" if str(g[c].dtype) == "int64" else "Int32")
        if str(g[c].dtype).startswith("datetime64") and getattr(g[c].dt, "tz", None) is not None:
            g[c] = g[c].dt.tz_convert("UTC")
        if g[c].dtype == object and c != "geometry" and len(g) and not isinstance(g[c].iloc[0], str | type(None)):
            g[c] = g[c].astype(str)
    return g


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


def qgis_style_qml(field: str = "Gi_Bin") -> str:
    """A QGIS categorized renderer colouring gi_bin from -3 (blue) to 3 (red)."""
    cats = "".join(f'<category render="true" symbol="{i}" value="{v}" label="{GI_BIN_LABELS[v]}"/>'
                   for i, v in enumerate(sorted(GI_BIN_COLOURS)))
    syms = "".join(
        f'<symbol type="fill" name="{i}" alpha="1"><layer class="SimpleFill" enabled="1" locked="0">'
        f'<Option type="Map"><Option type="QString" name="color" value="{_rgba(GI_BIN_COLOURS[v])}"/>'
        f'<Option type="QString" name="outline_color" value="128,128,128,255"/>'
        f'<Option type="QString" name="outline_width" value="0.1"/><Option type="QString" name="style" '
        f'value="solid"/></Option></layer></symbol>'
        for i, v in enumerate(sorted(GI_BIN_COLOURS)))
    return ('<!DOCTYPE qgis PUBLIC \'http://mrcc.com/qgis.dtd\' \'SYSTEM\'><qgis version="3.34" '
            f'styleCategories="Symbology"><renderer-v2 type="categorizedSymbol" attr="{field}" '
            f'symbollevels="0" enableorderby="0" forceraster="0"><categories>{cats}</categories>'
            f'<symbols>{syms}</symbols></renderer-v2></qgis>')


def _rgba(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4)) + ",255"


def _embed_qgis_styles(gpkg: Path, layers: list[str]) -> None:
    con = sqlite3.connect(gpkg)
    try:
        con.execute(
            """CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, f_table_catalog TEXT,
               f_table_schema TEXT, f_table_name TEXT, f_geometry_column TEXT, styleName TEXT, styleQML TEXT,
               styleSLD TEXT, useAsDefault BOOLEAN, description TEXT, owner TEXT, ui TEXT,
               update_time DATETIME DEFAULT CURRENT_TIMESTAMP)""")
        for layer in layers:
            con.execute(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner) VALUES "
                "('', '', ?, 'geom', ?, ?, '', 1, 'Gi* bins, -3 cold to 3 hot (FDR-corrected)', 'sara')",
                [layer, f"{layer} gi_bin", qgis_style_qml()])
        con.commit()
    finally:
        con.close()


def export_marts(con: duckdb.DuckDBPyConnection, agencies: dict[str, str], out_dir: Path, fmt: str = "gpkg",
                 marts: tuple[str, ...] = MART_LAYERS) -> list[Path]:
    """Write every mart as layers, one per agency. `agencies` maps agency code -> analysis CRS.
    Returns the paths written (files or .gdb folders)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    driver, ext = FORMATS[fmt]
    with atomic_files(out_dir, "export") as stage:
        tmp = stage.path
        layers: list[tuple[str, str, gpd.GeoDataFrame]] = []  # (mart, agency, layer)
        for mart in marts:
            for agency, crs in agencies.items():
                layers.append((mart, agency, read_layer(con, mart, agency, crs)))
        single = {"gpkg": "sara.gpkg", "filegdb": "sara.gdb"}.get(fmt)
        readme: list[str] = []
        for mart, agency, g in layers:
            name = f"{mart}_{agency}"
            if fmt == "geojson":
                g = g.to_crs("EPSG:4326")
            if single:
                target = tmp / single
                g.to_file(target, layer=name, driver=driver, engine="pyogrio")
            elif fmt == "parquet":
                # Hive-style partitions, <mart>/agency=<code>/part-0.parquet: DuckDB (hive_partitioning),
                # Spark and Trino read a mart's folder as one table with an agency column from the path, so
                # the files themselves leave it out. Each agency's file is GeoParquet in its analysis CRS.
                d = tmp / mart / f"agency={agency}"
                d.mkdir(parents=True, exist_ok=True)
                g.drop(columns=["agency"], errors="ignore").to_parquet(d / f"part-0{ext}")
            elif fmt == "shp":
                names = shapefile_names(list(g.columns))
                g.rename(columns=names).to_file(tmp / f"{name}{ext}", driver=driver, engine="pyogrio",
                                                 encoding="UTF-8")
                readme += [f"## {name}{ext}", ""]
                readme += markdown_table(["field", "column"], [(short, col) for col, short in names.items()])
                readme += [""]
            else:
                g.to_file(tmp / f"{name}{ext}", driver=driver, engine="pyogrio")
        if fmt == "gpkg":
            _embed_qgis_styles(tmp / single, [f"{m}_{a}" for m, a, _ in layers if m == "hotspots"])
        if fmt == "shp":
            (tmp / "README.md").write_text(
                "# Shapefile field names\n\nShapefile (dBase) field names are at most 10 characters; this is how "
                "they map to the columns of the marts.\n\n" + "\n".join(readme), encoding="utf-8")
        (tmp / "EXPORTED.txt").write_text(f"written by sara at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
    return [w for w in stage.written if w.name not in ("EXPORTED.txt",)]
