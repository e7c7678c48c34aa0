"""GIS export: the whole cube (`sara export --all`) of the hand-made square city in every format, read back
with pyogrio and with DuckDB, and joined back to its unit layers; the helpers shared with publish."""

from __future__ import annotations

import pyogrio
import pytest

from transforms.outputs.export import FORMATS, export_layers, shapefile_names
from transforms.warehouse import db as wh

CRS = {"city": "EPSG:32610"}


def _table(fmt: str, out, name: str):
    """(pyogrio frame, DuckDB source, parameters) of a table of the cube: a GeoPackage/FileGDB table, a dBase
    file beside Shapefiles, CSV beside GeoJSON and FlatGeobuf, Parquet."""
    if fmt in ("gpkg", "filegdb"):
        src = out / f"sara.{'gpkg' if fmt == 'gpkg' else 'gdb'}"
        return pyogrio.read_dataframe(src, layer=name), "ST_Read(?, layer = ?)", [str(src), name]
    if fmt == "parquet":
        stem, agency = name.rsplit("_", 1)
        src = out / stem / f"agency={agency}" / "part-0.parquet"
        return __import__("pandas").read_parquet(src), "read_parquet(?)", [str(src)]
    src = out / f"{name}{'.dbf' if fmt == 'shp' else '.csv'}"
    return pyogrio.read_dataframe(src, read_geometry=False), "ST_Read(?)", [str(src)]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_the_whole_cube_is_tables_joined_to_one_layer_per_unit_type(square_city, tmp_path, fmt):
    con, _, _ = square_city
    out = tmp_path / "out"
    paths, _ = export_layers(con, CRS, out, fmt, full_cube=True)
    assert paths and not list(out.glob(".sara-export-*"))
    spatial = wh.connect(":memory:")
    n_hot = con.execute("SELECT count(*) FROM marts.hotspots WHERE unit_type = 'grid'").fetchone()[0]
    n_grid = con.execute("SELECT count(*) FROM marts.units WHERE unit_type = 'grid'").fetchone()[0]
    cell = con.execute("""SELECT z, gi_bin, n FROM marts.hotspots WHERE unit_type = 'grid' AND unit_id = '1_1'
                          AND window_days = 7 AND origin = 'all' AND category_group = 'all'""").fetchone()
    table, src, args = _table(fmt, out, "hotspots_grid_city")
    assert len(table) == n_hot > n_grid  # every window x group x origin, as rows of a table
    assert "geometry" not in table.columns
    win = "window_day" if fmt == "shp" else "window_days"
    grp = "category_g" if fmt == "shp" else "category_group"
    row = table[(table["unit_id"] == "1_1") & (table[win].astype(int) == 7) & (table["origin"] == "all")
                & (table[grp] == "all")]
    assert len(row) == 1 and float(row["GiZScore"].iloc[0]) == pytest.approx(cell[0], abs=1e-6)
    assert int(row["Gi_Bin"].iloc[0]) == cell[1] and int(row["n"].iloc[0]) == cell[2]
    assert spatial.execute(f"SELECT count(*) FROM {src}", args).fetchone()[0] == n_hot
    # the unit layer: one polygon per grid cell, in the analysis CRS (GeoJSON: EPSG:4326)
    if fmt in ("gpkg", "filegdb"):
        lsrc, largs = "ST_Read(?, layer = ?)", [args[0], "units_grid_city"]
    elif fmt == "parquet":
        lsrc, largs = "read_parquet(?)", [str(out / "units_grid" / "agency=city" / "part-0.parquet")]
    else:
        lsrc, largs = "ST_Read(?)", [str(out / f"units_grid_city{FORMATS[fmt][1]}")]
    geom = {"parquet": "geometry", "filegdb": "SHAPE"}.get(fmt, "geom")
    crs = 4326 if fmt == "geojson" else 32610
    got = spatial.execute(f"SELECT count(*), count(DISTINCT unit_id), list(DISTINCT ST_GeometryType({geom})::VARCHAR), "
                          f"any_value(typeof({geom})) FROM {lsrc}", largs).fetchone()
    assert got[:2] == (n_grid, n_grid) and len(got[2]) == 1 and got[3] == f"GEOMETRY('EPSG:{crs}')", got
    # the join the README names: table.unit_id = layer.unit_id, every row finds its cell
    joined = spatial.execute(f"SELECT count(*) FROM (SELECT * FROM {src}) t JOIN (SELECT unit_id FROM {lsrc}) u "
                             "USING (unit_id)", [*args, *largs]).fetchone()[0]
    assert joined == n_hot
    readme = (out / "README.md").read_text()
    assert "unit_id = units_grid_city.unit_id" in readme


def test_a_layer_mixing_single_and_multi_parts_is_written_as_multi_parts(tmp_path):
    """A grid cell clipped by a boundary can fall in two parts: beside whole cells the layer would mix Polygon and
    MultiPolygon, which a Shapefile reader and ArcGIS take as one type but a GeoPackage declares as one."""
    from transforms.outputs.gis.layers import _frame

    con = wh.connect(":memory:")
    con.execute("CREATE TABLE u AS SELECT * FROM (VALUES ('a', ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')), "
                "('b', ST_GeomFromText('MULTIPOLYGON(((2 2,3 2,3 3,2 2)),((4 4,5 4,5 5,4 4)))'))) t(unit_id, geom)")
    g = _frame(con, "SELECT unit_id, ST_AsWKB(geom) AS _wkb FROM u ORDER BY unit_id", [], "EPSG:32610")
    assert list(g.geom_type) == ["MultiPolygon", "MultiPolygon"] and g.geometry.iloc[0].area == 0.5
    g.to_file(tmp_path / "m.gpkg", layer="m", engine="pyogrio")
    assert pyogrio.read_info(tmp_path / "m.gpkg", layer="m")["geometry_type"] == "MultiPolygon"


def test_shapefile_names_are_unique_within_ten_characters():
    names = shapefile_names(["category_group", "category_grouping", "window_days", "geometry", "n"])
    assert all(len(v) <= 10 for v in names.values())
    assert len({v.lower() for v in names.values()}) == len(names)
    assert names["category_group"] == "category_g" and names["category_grouping"] == "category_1"


def test_atomic_files_replaces_whole_entries_or_leaves_the_folder_as_it_was(tmp_path):
    """The helper export and publish share: entries appear whole, a folder entry (FileGDB) is swapped, other
    entries are left alone, and a failed write moves nothing and leaves no temporary folder."""
    from transforms.outputs.atomic import atomic_files

    out = tmp_path / "out"
    (out / "layer.gdb").mkdir(parents=True)
    (out / "layer.gdb" / "old.bin").write_text("old")
    (out / "keep.txt").write_text("not ours")
    (out / "a.csv").write_text("old")
    with atomic_files(out, "test") as stage:
        (stage.path / "a.csv").write_text("new")
        (stage.path / "layer.gdb").mkdir()
        (stage.path / "layer.gdb" / "new.bin").write_text("new")
        assert (out / "a.csv").read_text() == "old"  # nothing moves before the block ends
    assert stage.written == [out / "a.csv", out / "layer.gdb"]
    assert (out / "a.csv").read_text() == "new" and (out / "keep.txt").read_text() == "not ours"
    assert [p.name for p in (out / "layer.gdb").iterdir()] == ["new.bin"]
    with pytest.raises(RuntimeError), atomic_files(out, "test") as stage:
        (stage.path / "a.csv").write_text("half")
        raise RuntimeError("the writer failed")
    assert (out / "a.csv").read_text() == "new"
    assert sorted(p.name for p in out.iterdir()) == ["a.csv", "keep.txt", "layer.gdb"]  # no .sara-* or .old-*


def test_markdown_table_is_one_renderer_for_every_dictionary():
    from transforms.outputs.dictionary import markdown_table

    assert markdown_table(["field", "column"], [("a|b", "c"), ("d", "")]) == [
        "| field | column |", "|---|---|", "| a\\|b | c |", "| d |  |"]
