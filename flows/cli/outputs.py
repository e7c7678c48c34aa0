"""`sara export` and `sara publish`: the marts as GIS layers, and the public open-data extract."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from flows.cli.common import ConfigOpt, console, fail, settings_from, warehouse_errors


def export(fmt: str = typer.Option("gpkg", "--format", "-f",
                                   help="gpkg (default, one file, QGIS-styled), shp, geojson (EPSG:4326), fgb, "
                                        "parquet (GeoParquet) or filegdb"),
           out: Path = typer.Option(None, "--out", "-o", help="output folder (default data/exports/<format>)"),
           config: str | None = ConfigOpt) -> None:
    """Write the marts as GIS layers (one per mart and agency), each with its CRS.

    Hot spot layers carry ArcGIS-style fields (GiZScore, GiPValue, Gi_Bin, NNeighbors) beside sara's, and the
    GeoPackage opens in QGIS already styled by gi_bin. Files appear atomically: a GIS user never opens a
    half-written layer.

    Examples:  sara export  |  sara export --format shp --out /srv/gis/sara
    """
    from transforms.outputs.export import FORMATS, export_marts
    from transforms.warehouse.db import open_published

    settings = settings_from(config)
    if fmt not in FORMATS:
        raise fail(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    out = (out or settings.resolve(f"data/exports/{fmt}")).resolve()
    agencies = {code: a.crs for code, a in settings.sara.agencies.items()}
    with warehouse_errors(settings), open_published(settings.warehouse_path) as con, \
            console.status(f"writing {fmt} layers to {out}"):
        paths = export_marts(con, agencies, out, fmt)
    for p in paths:
        console.print(f"wrote {escape(str(p))}")


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
