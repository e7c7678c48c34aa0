"""`sara export` on the published demo night (scale 0.05): the default slice in every format, read back with
pyogrio and with DuckDB (ST_Read through GDAL; read_parquet for GeoParquet, which neither GDAL build reads),
checked against the marts queried directly; the styles; the CLI."""

from __future__ import annotations

import re
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import pyogrio
import pytest
from typer.testing import CliRunner

from flows.cli import app
from transforms.outputs.export import FORMATS, export_layers
from transforms.outputs.slice import Slice
from transforms.warehouse import db as wh

CONFIG = "config/demo.toml"
AGENCIES = {"metro": "EPSG:32610", "county": "EPSG:32610"}
SLICE = Slice(28, "all", "community")  # default_slice of config/demo.toml
HOT = ("SELECT count(*) FROM marts.hotspots WHERE agency = ? AND unit_type = ? AND dataset = ? "
       "AND category_group = 'all' AND origin = ? AND window_days = 28")
# layer -> (its one geometry type, the count of its rows in the marts, parameters)
EXPECTED = {
    "hotspots_grid_calls_metro": ("Polygon", HOT, ["metro", "grid", "calls", "community"]),
    "hotspots_street_calls_metro": ("LineString", HOT, ["metro", "street", "calls", "community"]),
    "hotspots_h3_incidents_metro": ("Polygon", HOT, ["metro", "h3", "incidents", "all"]),  # no community origin
    "hotspots_beat_calls_county": ("Polygon", HOT, ["county", "beat", "calls", "community"]),
    "kde_calls_metro": ("Polygon", "SELECT count(*) FROM marts.kde WHERE agency = ? AND dataset = 'calls' "
                        "AND category_group = 'all' AND origin = 'community' AND window_days = 28", ["metro"]),
    "repeat_locations_calls_metro": ("Point", "SELECT count(*) FROM marts.repeat_locations WHERE agency = ? AND "
                                     "dataset = 'calls' AND category_group = 'all' AND origin = 'community' "
                                     "AND geom IS NOT NULL", ["metro"]),
    "near_repeats_burglary_incidents_metro": ("Point", "SELECT count(*) FROM marts.near_repeat_events WHERE "
                                              "agency = ? AND dataset = 'incidents' AND category_group = 'burglary'",
                                              ["metro"]),
    "problem_areas_metro": ("Polygon", "SELECT count(*) FROM marts.problem_areas WHERE problem IN (SELECT problem "
                            "FROM marts.problem_assessment WHERE agency = ?)", ["metro"]),
}


@pytest.fixture(scope="module")
def demo_con(demo_warehouse):
    con = wh.connect(demo_warehouse / "data/demo/warehouse/sara.duckdb", read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def values(demo_con):
    """One field value per kind of layer, from the marts."""
    q = demo_con.execute
    return {
        "hot": q("SELECT unit_id, z, gi_bin, n FROM marts.hotspots WHERE agency = 'metro' AND unit_type = 'grid' "
                 "AND dataset = 'calls' AND category_group = 'all' AND origin = 'community' AND window_days = 28 "
                 "ORDER BY z DESC, unit_id LIMIT 1").fetchone(),
        "repeat": q("SELECT location_key, location_label, n_repeat_window FROM marts.repeat_locations WHERE "
                    "agency = 'metro' AND dataset = 'calls' AND category_group = 'all' AND origin = 'community' "
                    "AND geom IS NOT NULL ORDER BY rank, location_key LIMIT 1").fetchone(),
        "near": q("SELECT event_id, chain_id, label FROM marts.near_repeat_events WHERE agency = 'metro' AND "
                  "dataset = 'incidents' AND category_group = 'burglary' AND label = 'near_repeat' "
                  "ORDER BY event_id LIMIT 1").fetchone(),
        "target": q("SELECT area_m2 FROM marts.problem_areas WHERE area = 'target' ORDER BY problem LIMIT 1").fetchone(),
    }


def _read(fmt: str, out: Path, layer: str) -> tuple[gpd.GeoDataFrame, str, list]:
    """The layer through pyogrio (GeoParquet: pyarrow), and the DuckDB source expression with its parameters."""
    if fmt in ("gpkg", "filegdb"):
        src = out / ("sara.gpkg" if fmt == "gpkg" else "sara.gdb")
        return pyogrio.read_dataframe(src, layer=layer), "ST_Read(?, layer = ?)", [str(src), layer]
    if fmt == "parquet":
        stem, agency = layer.rsplit("_", 1)
        src = out / stem / f"agency={agency}" / "part-0.parquet"
        return gpd.read_parquet(src), "read_parquet(?)", [str(src)]
    src = out / f"{layer}{FORMATS[fmt][1]}"
    return pyogrio.read_dataframe(src), "ST_Read(?)", [str(src)]


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_default_slice_round_trips_in_every_format(demo_con, values, tmp_path, fmt):
    out = tmp_path / "out"
    paths, notes = export_layers(demo_con, AGENCIES, out, fmt, SLICE)
    assert paths and not list(out.glob(".sara-export-*"))  # no temporary folder left
    spatial = wh.connect(":memory:")
    crs = 4326 if fmt == "geojson" else 32610
    for layer, (gtype, sql, params) in EXPECTED.items():
        n = demo_con.execute(sql, params).fetchone()[0]
        assert n > 0, layer
        df, src, args = _read(fmt, out, layer)
        assert len(df) == n, (fmt, layer)
        # a FileGDB stores every polygon and line as multi-part (the format's own rule): still one type
        gtype = f"Multi{gtype}" if fmt == "filegdb" and gtype != "Point" else gtype
        assert set(df.geom_type) == {gtype}, (fmt, layer)
        assert df.crs.to_epsg() == crs
        geom = {"parquet": "geometry", "filegdb": "SHAPE"}.get(fmt, "geom")  # each format names it its way
        got = spatial.execute(f"SELECT count(*), list(DISTINCT ST_GeometryType({geom})::VARCHAR), "
                              f"any_value(typeof({geom})) FROM {src}", args).fetchone()
        assert got[:2] == (n, [gtype.upper()]), (fmt, layer, got)
        assert got[2] == f"GEOMETRY('EPSG:{crs}')", (fmt, layer, got)  # DuckDB's geometry type carries the CRS
        # Shapefile fields are cut to 10 characters (none of these needs a number to stay unique)
        name = {c: c[:10] if fmt == "shp" else c for c in ("origin", "window_days", "location_key",
                                                            "location_label", "n_repeat_window")}
        if layer == "hotspots_grid_calls_metro":
            unit, z, gi_bin, cell_n = values["hot"]
            row = df[df["unit_id"] == unit].iloc[0]
            assert row["GiZScore"] == pytest.approx(z, abs=1e-9) and int(row["Gi_Bin"]) == gi_bin
            assert int(row["n"]) == cell_n and int(row["NNeighbors"]) > 0 and "gi_bin" not in df.columns
            assert {row[name["origin"]], int(row[name["window_days"]])} == {"community", 28}
            assert spatial.execute(f'SELECT "Gi_Bin", n FROM {src} WHERE unit_id = ?', [*args, unit]).fetchone() \
                == (gi_bin, cell_n)
        if layer == "hotspots_h3_incidents_metro":
            assert set(df["origin"]) == {"all"}
        if layer == "repeat_locations_calls_metro":
            key, label, n_rep = values["repeat"]
            row = df[df[name["location_key"]] == key].iloc[0]
            assert row[name["location_label"]] == label and int(row[name["n_repeat_window"]]) == n_rep
        if layer == "near_repeats_burglary_incidents_metro":
            event, chain, label = values["near"]
            row = df[df["event_id"] == event].iloc[0]
            assert int(row["chain_id"]) == chain and row["label"] == label
        if layer == "problem_areas_metro":
            assert list(df["area"]) == ["target", "buffer", "control"]
            assert df["area_m2"].iloc[0] == pytest.approx(values["target"][0])
    # every layer written has one geometry type, whatever it is
    readme = (out / "README.md").read_text()
    assert "window_days = 28, category_group = all, origin = community" in readme
    assert not re.search(r"\| mixed \|", readme)
    assert any("incidents record no 'community' origin" in n for n in notes)
    if fmt == "shp":
        assert "| category_g | category_group |" in readme and "| location_l | location_label |" in readme


def test_no_layer_stacks_copies_of_a_unit_and_the_geopackage_is_small(demo_con, tmp_path):
    """The old export stacked every window x group x origin of a unit into one layer (80 copies of each cell,
    483 MB at the demo's full scale); a layer of the slice holds each unit once."""
    export_layers(demo_con, AGENCIES, tmp_path, "gpkg", SLICE)
    gpkg = tmp_path / "sara.gpkg"
    units = dict(((a, t), n) for a, t, n in demo_con.execute(
        "SELECT agency, unit_type, count(*) FROM marts.units GROUP BY ALL").fetchall())
    for layer, _ in pyogrio.list_layers(gpkg):
        if layer.startswith("hotspots_"):
            _, unit, _, agency = layer.split("_")
            df = pyogrio.read_dataframe(gpkg, layer=layer, read_geometry=False)
            assert len(df) == units[(agency, unit)] == df["unit_id"].nunique(), layer
    assert gpkg.stat().st_size < 50 * 2**20


def test_every_geopackage_layer_has_a_qgis_style_on_its_own_fields(demo_con, tmp_path):
    export_layers(demo_con, AGENCIES, tmp_path, "gpkg", SLICE)
    gpkg = tmp_path / "sara.gpkg"
    styles = dict(sqlite3.connect(gpkg).execute(
        "SELECT f_table_name, styleQML FROM layer_styles WHERE useAsDefault").fetchall())
    layers = [name for name, geom in pyogrio.list_layers(gpkg) if geom]
    assert layers and sorted(styles) == sorted(layers)
    for layer in layers:
        renderer = ET.fromstring(styles[layer].split(">", 1)[1]).find("renderer-v2")
        df = pyogrio.read_dataframe(gpkg, layer=layer)
        assert df.geom_type.nunique() == 1, layer
        field = renderer.get("attr")
        assert field in df.columns, (layer, field)
        kind = {"Point": "marker", "LineString": "line"}.get(df.geom_type.iloc[0], "fill")
        assert {s.get("type") for s in renderer.iter("symbol")} == {kind}, layer
        if renderer.get("type") == "categorizedSymbol":  # every value of the layer has a category
            values = {c.get("value") for c in renderer.iter("category")}
            assert {str(v) for v in df[field].dropna().unique()} <= values, layer
        else:  # graduated: the ranges cover the layer's values
            ranges = [(float(r.get("lower")), float(r.get("upper"))) for r in renderer.iter("range")]
            assert all(any(lo - 1e-6 <= v <= hi + 1e-6 for lo, hi in ranges) for v in df[field].dropna()), layer


def _export(proj: Path, *args: str):
    return CliRunner().invoke(app, ["export", *args, "--config", str(proj / CONFIG)], env={"COLUMNS": "250"})


def test_export_shp_on_the_demo_warehouse_no_longer_fails(demo_warehouse, tmp_path):
    """Street segments (lines) and grid cells (polygons) once shared one layer, which a Shapefile cannot hold."""
    out = tmp_path / "shp"
    res = _export(demo_warehouse, "--format", "shp", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert sorted(out.glob("hotspots_street_*.shp")) and sorted(out.glob("hotspots_grid_*.shp")), res.output
    assert (out / "hotspots_grid_calls_metro.qml").read_text().count('attr="Gi_Bin"') == 1
    assert 'attr="n_repeat_w"' in (out / "repeat_locations_calls_metro.qml").read_text()


def test_export_slice_flags_choose_the_slice_and_a_wrong_one_names_the_choices(demo_warehouse, demo_con, tmp_path):
    out = tmp_path / "violent"
    res = _export(demo_warehouse, "--window", "7", "--group", "violent", "--origin", "community", "--out", str(out))
    assert res.exit_code == 0, res.output
    df = pyogrio.read_dataframe(out / "sara.gpkg", layer="hotspots_grid_calls_metro")
    assert {(w, g, o) for w, g, o in zip(df["window_days"], df["category_group"], df["origin"], strict=True)} == {
        (7, "violent", "community")}
    n = demo_con.execute("SELECT sum(n) FROM marts.hotspots WHERE agency = 'metro' AND unit_type = 'grid' AND "
                         "dataset = 'calls' AND category_group = 'violent' AND origin = 'community' "
                         "AND window_days = 7").fetchone()[0]
    assert df["n"].sum() == n
    # no officer-initiated violent call in the last 7 days at this scale: no metro calls layer, and a note says
    # why (a dataset that records no such origin at all, incidents, shows origin 'all' instead)
    res = _export(demo_warehouse, "-w", "7", "-g", "violent", "--origin", "officer", "--out", str(tmp_path / "o"))
    assert res.exit_code == 0 and "no calls in the marts for 'violent' and origin 'officer'" in res.output
    layers = [name for name, _ in pyogrio.list_layers(tmp_path / "o" / "sara.gpkg")]
    assert "hotspots_grid_calls_metro" not in layers and "hotspots_grid_incidents_metro" in layers
    bad = _export(demo_warehouse, "--window", "30", "--out", str(tmp_path / "bad"))
    assert bad.exit_code == 2 and "use one of 7, 28, 91, 364" in bad.output, bad.output
    bad = _export(demo_warehouse, "--group", "arson", "--out", str(tmp_path / "bad"))
    assert bad.exit_code == 2 and "no category group 'arson'" in bad.output and "violent" in bad.output
    assert not (tmp_path / "bad").exists() or not list((tmp_path / "bad").iterdir())


def test_export_help_teaches_the_slice_flags_and_examples():
    res = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "200"})
    text = " ".join(res.output.split())
    for flag in ("--window", "--group", "--origin", "--all", "--format"):
        assert flag in text
    assert "default 28" in text and "default_origin" in text
    assert "sara export --window 7 --group violent --origin community" in text and "sara export --all" in text


def test_export_all_writes_the_cube_beside_the_unit_layers(demo_warehouse, demo_con, tmp_path):
    out = tmp_path / "cube"
    res = _export(demo_warehouse, "--all", "--format", "parquet", "--out", str(out))
    assert res.exit_code == 0, res.output
    spatial = wh.connect(":memory:")
    n = demo_con.execute("SELECT count(*) FROM marts.hotspots WHERE unit_type = 'street'").fetchone()[0]
    got = spatial.execute("SELECT count(*), count(DISTINCT agency) FROM read_parquet(?, hive_partitioning = true) t "
                          "JOIN read_parquet(?, hive_partitioning = true) u USING (agency, unit_id)",
                          [str(out / "hotspots_street/*/*.parquet"), str(out / "units_street/*/*.parquet")]).fetchone()
    assert got == (n, 1)  # only metro has a streets layer
    assert "join: unit_id = units_street_metro.unit_id" in (out / "README.md").read_text()
