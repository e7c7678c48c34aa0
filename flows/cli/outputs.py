"""`sara export` and `sara publish`: the marts as GIS layers, and the public open-data extract."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from flows.cli.common import ConfigOpt, console, fail, settings_from, warehouse_errors


def export(fmt: str = typer.Option("gpkg", "--format", "-f",
                                   help="gpkg (default: one file, every layer QGIS-styled), shp, geojson (EPSG:4326), "
                                        "fgb, parquet (GeoParquet, Hive partitions by agency) or filegdb"),
           out: Path = typer.Option(None, "--out", "-o",
                                    help="output folder (default data/exports/<format>, or data/exports/<format>/"
                                         "<window>d_<group>_<origin> for another slice, data/exports/<format>/all "
                                         "with --all)"),
           window: int = typer.Option(None, "--window", "-w",
                                      help="window in days, one of windows_days (default 28, or the configured "
                                           "window nearest to 28)"),
           group: str = typer.Option(None, "--group", "-g",
                                     help="category group: all (default), violent, property, burglary, disorder or "
                                          "one from the config"),
           origin: str = typer.Option(None, "--origin",
                                      help="all, community, officer or unknown (default [analysis] default_origin; "
                                           "a dataset without that origin, such as incidents, shows all)"),
           full_cube: bool = typer.Option(False, "--all",
                                          help="the whole cube instead of one slice: every mart as a table without "
                                               "geometry plus one layer per unit type, joined on unit_id"),
           config: str | None = ConfigOpt) -> None:
    """Write the marts as GIS layers: one layer per product, unit type, dataset and agency, for one slice.

    A slice is one window x category group x origin; the default is the scanning report's (28 days, all
    categories, the configured default origin). Layers: hot spots per unit type (grid, h3, street segments,
    each polygon layer), kernel density, emerging hot spots, repeat locations (points), near-repeat events
    (points) and tracked problems' target, buffer and control areas. Each layer has one geometry type, its
    CRS (GeoJSON EPSG:4326, else the agency's analysis CRS) and a QGIS style; hot spots carry ArcGIS's
    GiZScore, GiPValue, Gi_Bin and NNeighbors. A README.md beside the layers lists them. Files appear
    atomically: a GIS user never opens a half-written layer.

    Examples:

      sara export                                              the report's slice, data/exports/gpkg/sara.gpkg

      sara export --window 7 --group violent --origin community   last week's violent community calls

      sara export --format shp --out /srv/gis/sara             Shapefiles (+ .qml styles) for ArcGIS

      sara export --all --format parquet                       the whole cube, for DuckDB, Spark or Trino
    """
    from transforms.outputs.export import FORMATS, export_layers
    from transforms.outputs.gis.layers import layer_token
    from transforms.outputs.slice import Slice, default_slice
    from transforms.warehouse.db import open_published

    settings = settings_from(config)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    base = default_slice(settings)
    chosen = Slice(base.window_days if window is None else window,
                   base.category_group if group is None else group, base.origin if origin is None else origin)
    if chosen.window_days not in settings.sara.windows_days:
        raise fail(f"--window {chosen.window_days}: not a configured window; use one of "
                   f"{', '.join(map(str, settings.sara.windows_days))}")
    if chosen.origin not in ("all", "community", "officer", "unknown"):
        raise fail(f"--origin {chosen.origin!r}: use all, community, officer or unknown")
    tag = "all" if full_cube else None if chosen == base else \
        f"{chosen.window_days}d_{layer_token(chosen.category_group)}_{chosen.origin}"
    out = (out or settings.resolve(f"data/exports/{fmt}" + (f"/{tag}" if tag else ""))).resolve()
    agencies = {code: a.crs for code, a in settings.sara.agencies.items()}
    what = "the whole cube" if full_cube else chosen.words()
    with warehouse_errors(settings), open_published(settings.warehouse_path) as con, \
            console.status(f"writing {fmt} layers ({what}) to {out}"):
        try:
            paths, notes = export_layers(con, agencies, out, fmt, chosen, full_cube=full_cube)
        except ValueError as exc:
            raise fail(str(exc)) from None
    console.print(f"{escape(what)}:")
    sidecars = {".shx", ".prj", ".cpg", ".qml"}
    for p in paths:
        if p.suffix not in sidecars and not (p.suffix == ".dbf" and p.with_suffix(".shp").exists()):
            console.print(f"wrote {escape(str(p))}")
    for note in notes:
        console.print(f"note: {escape(note)}")


def publish(out: Path = typer.Option(None, "--out", "-o", help="output folder (default data/exports/public)"),
            config: str | None = ConfigOpt) -> None:
    """Write a public open-data extract of calls and incidents (CSV + GeoJSON + a data dictionary per source).

    Only allowlisted columns leave ([publish] columns in the config): no names, phone numbers or narratives.
    Addresses are generalized to the block; published coordinates are snapped to a grid cell or block centroid,
    never the exact point; times are rounded to the hour. Sensitive categories (sexual offences, domestic
    violence, behavioral health, and juvenile-flagged rows where a feed has the flag) keep only their district,
    and each masked row says why.

    Example:  sara publish --out /srv/opendata/sara
    """
    import polars as pl

    from transforms.outputs.publish import publish_events, write_extract
    from transforms.warehouse.db import open_published
    from transforms.warehouse.status import source_events

    settings = settings_from(config)
    out = (out or settings.resolve("data/exports/public")).resolve()
    policy = settings.sara.publish
    with warehouse_errors(settings), open_published(settings.warehouse_path) as con:
        for name, src in settings.sources.items():
            df = pl.from_arrow(source_events(con, name, src.kind))
            if df.is_empty():
                continue
            agency = settings.sara.agencies[src.agency]
            public, log = publish_events(df, src.kind, policy, has_juvenile_flag="juvenile_flag" in src.columns,
                                         analysis_crs=agency.crs, timezone=agency.timezone)
            paths = write_extract(public, out, name, policy=policy, dataset=src.kind, masking_log=log)
            masked = log.filter((pl.col("kind") == "masking") & (pl.col("reason") == "any"))["rows"].sum()
            console.print(f"{name}: {public.height} rows, {masked} location(s) generalized -> "
                          f"{escape(str(paths[0].parent))}")
