"""The GIS export's demand layer on the published demo night: one polygon per district of the district unit
layer, its fields equal to marts.demand and marts.workload queried directly, read back with pyogrio from a
GeoPackage (styled) and a Shapefile (10-character names in the README); an agency without a district layer
gets a note, not a layer."""

from __future__ import annotations

import sqlite3

import pyogrio
import pytest

from transforms.outputs.export import export_layers
from transforms.outputs.slice import Slice
from transforms.warehouse import db as wh

AGENCIES = {"metro": "EPSG:32610", "county": "EPSG:32610"}
SLICE = Slice(28, "all", "community")


@pytest.fixture(scope="module")
def demo_con(demo_warehouse):
    con = wh.connect(demo_warehouse / "data/demo/warehouse/sara.duckdb", read_only=True)
    yield con
    con.close()


def _expected(con) -> dict[str, dict]:
    """Per district of metro, the 28-day window, straight from the marts."""
    out = {}
    for unit, in con.execute("SELECT unit_id FROM marts.units WHERE agency = 'metro' AND unit_type = 'district'"
                             ).fetchall():
        n, comm, alt = con.execute(
            "SELECT coalesce(sum(n_calls), 0), coalesce(sum(n_calls) FILTER (WHERE origin = 'community'), 0), "
            "coalesce(sum(n_calls) FILTER (WHERE origin = 'community' AND response_model = 'alternative'), 0) "
            "FROM marts.demand WHERE agency = 'metro' AND window_days = 28 AND district = ?", [unit]).fetchone()
        top = con.execute("SELECT call_nature, sum(n_calls) AS k FROM marts.demand WHERE agency = 'metro' AND "
                          "window_days = 28 AND district = ? GROUP BY 1 ORDER BY k DESC, call_nature LIMIT 1",
                          [unit]).fetchone()
        hours = con.execute("SELECT coalesce(sum(unit_hours), 0) FROM marts.workload WHERE agency = 'metro' AND "
                            "window_days = 28 AND district = ?", [unit]).fetchone()[0]
        out[unit] = {"n_calls": n, "n_community": comm, "n_alternative": alt, "alt_share": alt / comm if comm else None,
                     "top_nature": top[0] if top else None, "unit_hours": hours}
    return out


@pytest.mark.slow  # the session's demo warehouse
def test_demand_layer_by_district_equals_the_marts(demo_con, tmp_path):
    expected = _expected(demo_con)
    assert len(expected) == 4 and sum(e["n_calls"] for e in expected.values()) > 0
    assert any(e["n_alternative"] for e in expected.values())
    _, notes = export_layers(demo_con, AGENCIES, tmp_path / "gpkg", "gpkg", SLICE)
    gpkg = tmp_path / "gpkg" / "sara.gpkg"
    df = pyogrio.read_dataframe(gpkg, layer="demand_district_metro")
    assert sorted(df["unit_id"]) == sorted(expected) and df["unit_id"].is_unique
    assert set(df.geom_type) == {"Polygon"} and df.crs.to_epsg() == 32610
    for _, row in df.iterrows():
        e = expected[row["unit_id"]]
        assert (int(row["n_calls"]), int(row["n_community"]), int(row["n_alternative"])) == (
            e["n_calls"], e["n_community"], e["n_alternative"])
        assert row["alt_share"] == pytest.approx(e["alt_share"], abs=1e-4)
        assert row["top_nature"] == e["top_nature"] and row["top_label"] and row["top_label"] != e["top_nature"]
        assert row["unit_hours"] == pytest.approx(e["unit_hours"], abs=1e-3) and row["unit_hours"] > 0
        assert int(row["window_days"]) == 28
    # the calls without a district polygon are counted in a note, never dropped silently
    off = demo_con.execute("SELECT sum(n_calls) FROM marts.demand WHERE agency = 'metro' AND window_days = 28"
                           ).fetchone()[0] - sum(e["n_calls"] for e in expected.values())
    assert off > 0 and any(f"demand_district_metro: {off:,} call(s)" in n for n in notes)
    assert any(n.startswith("demand_district_county: the agency has no district layer") for n in notes)
    assert "demand_district_county" not in [name for name, _ in pyogrio.list_layers(gpkg)]
    styles = dict(sqlite3.connect(gpkg).execute("SELECT f_table_name, styleQML FROM layer_styles").fetchall())
    assert 'attr="n_calls"' in styles["demand_district_metro"]


@pytest.mark.slow
def test_demand_layer_as_a_shapefile_names_its_fields_in_the_readme(demo_con, tmp_path):
    export_layers(demo_con, AGENCIES, tmp_path, "shp", SLICE)
    df = pyogrio.read_dataframe(tmp_path / "demand_district_metro.shp")
    assert len(df) == 4 and {"n_communit", "n_alternat", "alt_share", "top_nature", "unit_hours"} <= set(df.columns)
    readme = (tmp_path / "README.md").read_text()
    assert "### demand_district_metro.shp" in readme and "| n_communit | n_community |" in readme
    assert 'attr="n_calls"' in (tmp_path / "demand_district_metro.qml").read_text()
