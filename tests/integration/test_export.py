"""GIS export: every format written from the marts of the hand-made square city, then read back with pyogrio
and with DuckDB's ST_Read."""

from __future__ import annotations

import sqlite3

import pyogrio
import pytest
import shapely

from transforms.outputs.export import FORMATS, export_marts, shapefile_names
from transforms.warehouse import db as wh

CRS = {"city": "EPSG:32610"}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_format_round_trips(square_city, tmp_path, fmt):
    con, _, _ = square_city
    expected = dict(con.execute("SELECT 'hotspots_city', count(*) FROM marts.hotspots UNION ALL "
                                "SELECT 'units_city', count(*) FROM marts.units").fetchall())
    cell = con.execute("""SELECT z, gi_bin, n FROM marts.hotspots WHERE unit_type = 'grid' AND unit_id = '1_1'
                          AND window_days = 7 AND origin = 'all' AND category_group = 'all'""").fetchone()
    paths = export_marts(con, CRS, tmp_path / "out", fmt)
    assert paths and not list((tmp_path / "out").glob(".sara-export-*"))  # no temporary folder left
    single = {"gpkg": "sara.gpkg", "filegdb": "sara.gdb"}.get(fmt)
    ext = FORMATS[fmt][1]
    spatial = wh.connect(":memory:")
    for layer, n in expected.items():
        if single:
            src, kw = tmp_path / "out" / single, {"layer": layer}
        elif fmt == "parquet":  # hive partitions: <mart>/agency=<code>/part-0.parquet
            mart, agency = layer.rsplit("_", 1)
            src, kw = tmp_path / "out" / mart / f"agency={agency}" / "part-0.parquet", {}
            # count(agency), not count(*): DuckDB 1.5.5 fails with an internal error on count(*) next to an
            # aggregate of a hive partition column
            hive = spatial.execute("SELECT count(agency), min(agency), max(agency) FROM read_parquet(?, "
                                   "hive_partitioning = true)", [str(tmp_path / "out" / mart / "*" / "*.parquet")]
                                   ).fetchone()
            assert hive == (n, agency, agency)
        else:
            src, kw = tmp_path / "out" / f"{layer}{ext}", {}
        df = pyogrio.read_dataframe(src, **kw) if fmt != "parquet" else __import__("geopandas").read_parquet(src)
        assert len(df) == n, (fmt, layer)
        want = "EPSG:4326" if fmt == "geojson" else "EPSG:32610"
        assert df.crs is not None and df.crs.to_epsg() == int(want.split(":")[1])
        assert shapely.is_valid(df.geometry.values).all()
        if layer == "hotspots_city":
            names = shapefile_names([*df.columns]) if fmt == "shp" else {c: c for c in df.columns}
            z_col = "z"
            bin_col = "Gi_Bin"
            sub = df[(df["unit_type"] == "grid") & (df["unit_id"] == "1_1") & (df["origin"] == "all")
                     & (df[names.get("category_group", "category_g")] == "all")
                     & (df[names.get("window_days", "window_day")] == 7)]
            assert len(sub) == 1
            assert sub[z_col].iloc[0] == pytest.approx(cell[0], abs=1e-9)
            assert int(sub[bin_col].iloc[0]) == cell[1] and int(sub["n"].iloc[0]) == cell[2]
            assert sub["GiZScore"].iloc[0] == pytest.approx(cell[0], abs=1e-9)
        if fmt != "parquet":  # DuckDB reads the same layer through GDAL
            path = str(src)
            args = [path, layer] if single else [path]
            q = "SELECT count(*) FROM ST_Read(?, layer = ?)" if single else "SELECT count(*) FROM ST_Read(?)"
            assert spatial.execute(q, args).fetchone()[0] == n
    if fmt == "gpkg":
        styles = sqlite3.connect(tmp_path / "out" / "sara.gpkg").execute(
            "SELECT f_table_name, styleQML FROM layer_styles").fetchall()
        assert [s[0] for s in styles] == ["hotspots_city"] and 'attr="Gi_Bin"' in styles[0][1]
    if fmt == "shp":
        readme = (tmp_path / "out" / "README.md").read_text()
        assert "| category_g | category_group |" in readme


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
