"""GIS layers from the marts: GeoPackage (default), Shapefile, GeoJSON, FlatGeobuf, GeoParquet, FileGDB.

- One layer per product and slice: the marts hold every window x category group x origin; a layer holds one
  of them (by default the report's: transforms/outputs/slice.py `default_slice`), split by product, unit
  type, dataset and agency, so each layer has one geometry type and one row per unit, place, event or area
  (transforms/outputs/gis/layers.py lists them). `full_cube=True` (`sara export --all`) writes instead
  every mart as a table without geometry and one geometry layer per unit type, joined on `unit_id`.
- Every layer carries its CRS: GeoJSON is written in EPSG:4326 (RFC 7946), every other format in the
  agency's analysis CRS (agencies may use different ones, hence one layer per agency).
- Gi* layers carry Esri-style fields (GiZScore, GiPValue, Gi_Bin, NNeighbors) beside sara's, so ArcGIS
  symbology and habits work. GIS formats compare field names without case, so sara's gi_bin appears once,
  as Gi_Bin.
- Every geometry layer has a QGIS style: in the GeoPackage's `layer_styles`, beside Shapefiles, GeoJSON and
  FlatGeobuf as `<layer>.qml` (transforms/outputs/gis/styles.py).
- A README.md beside the layers says the slice, each layer, its geometry and rows, the notes (a dataset
  without the origin, places without a point) and the Shapefile field names (10 characters, unique).
- Atomic (outputs/atomic.py): everything is written into a temporary folder inside the output folder, then
  renamed into place, so a GIS user never opens a half-written layer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.outputs.atomic import atomic_files
from transforms.outputs.gis.layers import cube_layers, slice_layers
from transforms.outputs.gis.styles import qgis_style_qml
from transforms.outputs.gis.write import FORMATS, SINGLE_FILE, readme_text, shapefile_names, write_layers
from transforms.outputs.slice import Slice

__all__ = ["FORMATS", "SINGLE_FILE", "export_layers", "qgis_style_qml", "shapefile_names"]


def export_layers(con: duckdb.DuckDBPyConnection, agencies: dict[str, str], out_dir: Path, fmt: str = "gpkg",
                  slice_: Slice | None = None, *, full_cube: bool = False) -> tuple[list[Path], list[str]]:
    """Write the layers of `slice_` (or with `full_cube` the whole cube) for every agency (`agencies`: code ->
    analysis CRS) into `out_dir`. Returns the paths written (files or folders) and the notes (what a slice
    could not show, and why), which the README beside the layers repeats."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if full_cube:
        layers, notes = cube_layers(con, agencies)
        heading = ("The whole cube (`sara export --all`): each mart as a table without geometry, with every "
                   "window, category group and origin, beside one geometry layer per unit type "
                   "(`units_<unit>_<agency>`). Join a table to its layer on `unit_id`.")
    else:
        if slice_ is None:
            raise ValueError("a slice is needed (transforms.outputs.slice.default_slice) unless full_cube")
        layers, notes = slice_layers(con, agencies, slice_)
        heading = (f"The slice: {slice_.words()} (window_days = {slice_.window_days}, category_group = "
                   f"{slice_.category_group}, origin = {slice_.origin}); each layer's rows carry these fields.")
    notes = list(dict.fromkeys(notes))
    with atomic_files(out_dir, "export") as stage:
        shp_names = write_layers(layers, fmt, stage.path)
        (stage.path / "README.md").write_text(readme_text(fmt, layers, heading, notes, shp_names),
                                              encoding="utf-8")
        (stage.path / "EXPORTED.txt").write_text(f"written by sara at {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC\n")
    return [w for w in stage.written if w.name not in ("EXPORTED.txt",)], notes
