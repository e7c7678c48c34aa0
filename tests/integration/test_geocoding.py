"""Geocoding in the warehouse (sara issue 19): the geocode columns, the hook that places a load's unlocated rows,
the precision each spatial unit asks of a point, and placeholder points.

Every test loads real CSV files into a real DuckDB warehouse of a 1 km square city (UTM 10N) and builds the real
marts. The geocoder the hook calls is a small real function written here: it places an address by a dict of
known points (the real one, transforms.warehouse.geocode, is tested on its own).
"""

from __future__ import annotations

from functools import partial

import geopandas as gpd
import polars as pl
import pytest
import shapely

from transforms.marts import build as marts
from transforms.warehouse import geocoding, loader

CAD = r"""
name: cad
kind: calls
agency: city
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  received_at: {columns: [when], formats: ["%Y-%m-%d %H:%M"]}
columns: {call_type_code: type, address: address}
coordinates: {x: x, y: y, crs: EPSG:32610}
crosswalks: {call_types: config/crosswalks/types.csv}
polygons: {district: {path: config/districts.geojson, field: name}}
"""
GEOCODE_ON = "geocode: {enabled: true}\n"
TOML_EXTRA = """
[time]
as_of = "2024-03-31"
[analysis]
cell_size_m = 250
knox_groups = ["property"]
knox_perms = 19
[analysis.category_groups.calls]
all = ["*"]
property = ["Property Crime"]
"""
CITY = {"timezone": "America/Los_Angeles", "crs": "EPSG:32610", "boundary": "config/city.geojson",
        "grid_origin": [550000, 4180000],
        # a coarse polygon layer: one 10 km district around the whole city
        "unit_layers": {"district": {"path": "config/districts.geojson", "field": "name"}}}

# the points the test geocoder knows: (x, y, precision in metres)
KNOWN = {
    "100 MAIN ST": (550410.0, 4180420.0, 20.0),   # a house: well inside one 250 m cell
    "MAIN ST": (550600.0, 4180600.0, 2000.0),     # a whole street: known only within 2 km
    "1 FAR AWAY RD": (570000.0, 4190000.0, 10.0),  # outside the city
}


def known_places(todo: pl.DataFrame, located: pl.DataFrame, streets) -> pl.DataFrame:
    """A geocoder by a dict of known addresses: history-like points for KNOWN, 'unmatched street' for the rest."""
    rows = []
    for key, address in todo.select("key", "address").iter_rows():
        hit = KNOWN.get(address)
        if hit is None:
            rows.append((key, None, None, None, None, None, f"unmatched street: {address}"))
        else:
            method = "street" if hit[2] > 100 else "history"
            rows.append((key, hit[0], hit[1], method, hit[2], f"test dict ({len(located)} located)", "matched"))
    return pl.DataFrame(rows, schema=["key", "x", "y", "geocode_method", "geocode_precision_m", "geocode_source",
                                      "geocode_status"], orient="row")


def _project(tiny_project, yaml: str, extra: str = TOML_EXTRA):
    p = tiny_project({"cad": yaml}, city=CITY, name="Square City", top="windows_days = [7, 28]", extra=extra)
    sq = shapely.box(550100, 4180100, 551100, 4181100)
    gpd.GeoDataFrame({"name": ["city"]}, geometry=[sq], crs="EPSG:32610").to_crs("EPSG:4326").to_file(
        p.root / "config" / "city.geojson")
    big = shapely.box(545000, 4175000, 555000, 4185000)
    gpd.GeoDataFrame({"name": ["D1"]}, geometry=[big], crs="EPSG:32610").to_crs("EPSG:4326").to_file(
        p.root / "config" / "districts.geojson")
    return p


def _load(p, rows: list[str], geocoder=None, monkeypatch=None):
    settings, con = p.settings, p.connect()
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True, exist_ok=True)
    (landing / "c.csv").write_text("\n".join(["id,when,type,address,x,y", *rows]) + "\n")
    if geocoder is not None:  # the hook as normalize calls it, with this test's geocoder
        monkeypatch.setattr(geocoding, "place_unlocated", partial(geocoding.place_unlocated, geocoder=geocoder))
    loader.load_raw_file(con, settings, "cad", landing / "c.csv", "r")
    out = loader.normalize_pending(con, settings, "cad", "r")
    assert [o.status for o in out] == ["loaded"], out
    return con, settings


NIGHT = [
    "F1,2024-03-28 10:00,BURG,100 MAIN ST,550410,4180420",   # the feed's own point
    "F2,2024-03-28 11:00,BURG,,550700,4180700",               # the feed's own point, no address
    "H1,2024-03-29 10:00,BURG,100 MAIN ST,,",                 # placed from its address (20 m)
    "S1,2024-03-29 11:00,BURG,MAIN ST,,",                     # placed on its street (2 km)
    "U1,2024-03-29 12:00,BURG,9 NOWHERE LN,,",                # not placed: unmatched
    "O1,2024-03-29 13:00,BURG,1 FAR AWAY RD,,",               # placed outside the area: not placed
    "N1,2024-03-29 14:00,BURG,,,",                            # no address, no point: not tried
]


def test_feed_points_carry_method_feed_and_nothing_else_changes_without_geocoding(tiny_project):
    con, _ = _load(_project(tiny_project, CAD), NIGHT)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT call_id, is_located, geocode_method, geocode_precision_m, geocode_source, geocode_status, "
        "location_issue FROM core.calls").fetchall()}
    assert rows["F1"] == (True, "feed", None, "cad", None, None)
    assert rows["F2"] == (True, "feed", None, "cad", None, None)
    # geocoding is off by default: the address-only rows stay as they were
    for k in ("H1", "S1", "U1", "O1", "N1"):
        assert rows[k] == (False, None, None, None, None, "missing"), k


def test_feed_precision_is_the_configured_one(tiny_project):
    con, _ = _load(_project(tiny_project, CAD + "geocode: {feed_precision_m: 75}\n"), NIGHT[:2])
    assert con.execute("SELECT DISTINCT geocode_method, geocode_precision_m FROM core.calls").fetchall() == \
        [("feed", 75.0)]


def test_hook_places_known_addresses_and_leaves_the_rest_with_the_reason(tiny_project, monkeypatch):
    con, _ = _load(_project(tiny_project, CAD + GEOCODE_ON), NIGHT, known_places, monkeypatch)
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT call_id, is_located, x, y, geocode_method, geocode_precision_m, geocode_status, location_issue, "
        "location_key, district, lon IS NOT NULL FROM core.calls").fetchall()}
    assert rows["H1"][:8] == (True, 550410.0, 4180420.0, "history", 20.0, "matched", None, "100 MAIN ST")
    assert rows["H1"][8:] == ("D1", True)  # tagged by the source's district polygons, as a feed point is
    assert rows["S1"][:6] == (True, 550600.0, 4180600.0, "street", 2000.0, "matched")
    assert rows["U1"] == (False, None, None, None, None, "unmatched street: 9 NOWHERE LN", "missing", "9 NOWHERE LN",
                          None, False)
    assert rows["O1"][0] is False and rows["O1"][5] == "placed outside the agency area (history)"
    assert rows["N1"][0] is False and rows["N1"][5] is None  # no address: never sent to the geocoder
    assert rows["F1"][3:5] == ("feed", None)
    # the load's counts still reconcile: every row loaded, none lost
    assert con.execute("SELECT rows_read, rows_loaded FROM meta.loads").fetchone() == (7, 7)


def _units(con, event_id: str) -> dict[str, tuple]:
    return {r[0]: (r[1], r[2]) for r in con.execute(
        "SELECT unit_type, unit_id, left_out FROM marts.event_units WHERE event_id = ?", [event_id]).fetchall()}


def test_a_2_km_point_stays_out_of_the_250_m_grid_but_enters_a_coarse_district(tiny_project, monkeypatch):
    con, settings = _load(_project(tiny_project, CAD + GEOCODE_ON), NIGHT, known_places, monkeypatch)
    marts.build_all(con, settings)
    h1, s1, f1 = _units(con, "H1"), _units(con, "S1"), _units(con, "F1")
    assert h1["grid"] == ("1_1", None) and h1["district"] == ("D1", None)
    assert s1["grid"] == (None, "imprecise")
    assert s1["h3"] == (None, "imprecise")  # a res-9 hexagon's edge is ~200 m
    assert s1["district"] == ("D1", None)   # a 10 km district: its radius, 5 km, takes a 2 km point
    assert f1["grid"] == ("1_1", None)      # a feed point without a precision enters every unit
    # left out of the grid: not in the grid-cell statistics either
    assert con.execute("SELECT count(*) FROM marts.hotspot_count_rows WHERE unit_type = 'grid' "
                       "AND category_group = 'all' AND origin = 'all' AND window_days = 28").fetchone()[0] >= 1
    grid_total = con.execute("SELECT sum(n) FROM marts.hotspot_count_rows WHERE unit_type = 'grid' "
                             "AND category_group = 'all' AND origin = 'all' AND window_days = 28").fetchone()[0]
    assert grid_total == 3  # F1, F2, H1: S1 is left out


def test_the_precision_limit_of_a_unit_type_is_overridable(tiny_project, monkeypatch):
    extra = TOML_EXTRA.replace("knox_perms = 19", "knox_perms = 19\nmax_precision_m = {district = 1000.0}")
    con, settings = _load(_project(tiny_project, CAD + GEOCODE_ON, extra=extra), NIGHT, known_places, monkeypatch)
    marts.build_all(con, settings)
    assert _units(con, "S1")["district"] == (None, "imprecise")
    assert _units(con, "H1")["district"] == ("D1", None)


def test_an_unknown_unit_type_in_max_precision_m_is_refused(tiny_project):
    from transforms.config import ConfigError

    extra = TOML_EXTRA.replace("knox_perms = 19", "knox_perms = 19\nmax_precision_m = {beats = 100.0}")
    with pytest.raises(ConfigError, match="beats"):
        _project(tiny_project, CAD, extra=extra).load_settings()


def pile_up() -> list[str]:
    """6,000 calls: 1,800 real places with one address and 3 calls each, a mall (300 calls, one address) and the
    police station's point holding 300 calls (5 %) from 300 different addresses."""
    rows = []
    for i in range(45):
        for j in range(40):
            k = i * 40 + j
            for n in range(3):
                rows.append(f"R{k}_{n},2024-03-{25 + (k + n) % 6} 10:00,BURG,{1000 + k} ELM ST,"
                            f"{550150 + 20 * i},{4180150 + 20 * j}")
    rows += [f"M{n},2024-03-{25 + n % 6} 12:00,BURG,1 MALL WAY,550505,4180505" for n in range(300)]
    rows += [f"P{n},2024-03-{25 + n % 6} 13:00,BURG,{n + 1} OAK ST,550905,4180905" for n in range(300)]
    return rows


def test_a_planted_pile_up_is_a_placeholder_and_a_busy_mall_is_not(tiny_project):
    p = _project(tiny_project, CAD)
    con, settings = _load(p, pile_up())
    marts.build_all(con, settings)
    flagged = con.execute("SELECT x, y, n_events, n_addresses, share_of_events FROM marts.placeholder_points"
                          ).fetchall()
    assert flagged == [(550905.0, 4180905.0, 300, 300, 0.05)]
    issues = dict(con.execute("SELECT event_id[:1], count(*) FILTER (WHERE location_issue = 'placeholder') "
                              "FROM marts.events GROUP BY 1").fetchall())
    assert issues == {"R": 0, "M": 0, "P": 300}
    # left out of every spatial unit, so out of the hot spots; the mall stays in
    assert _units(con, "P7") == {t: (None, "placeholder") for t in ("grid", "h3", "district")}
    assert _units(con, "M7")["grid"][0] is not None
    grid = con.execute("SELECT sum(n) FROM marts.hotspot_count_rows WHERE unit_type = 'grid' AND "
                       "category_group = 'all' AND origin = 'all' AND window_days = 28").fetchone()[0]
    assert grid == 5700
    # the geocoder does not learn from a placeholder: the station's 300 addresses are not in its history
    history = geocoding.located_history(con, "city")
    assert history.height == 5700 and history.filter(pl.col("address").str.ends_with("OAK ST")).is_empty()
    # coverage says what share of the events sit on placeholders
    cov = dict(con.execute("SELECT method, share FROM marts.coverage_geocode").fetchall())
    assert cov == {"feed": 0.95, "placeholder": 0.05}
    # [analysis] keep_placeholders puts them back (the changed setting reassigns the events)
    p.config.write_text(p.config.read_text().replace("[analysis]", "[analysis]\nkeep_placeholders = true"))
    marts.build_all(con, p.load_settings())
    assert _units(con, "P7")["grid"] == ("3_3", None)


def test_status_report_and_gis_layers_say_how_events_were_placed(tiny_project, monkeypatch):
    from datetime import date

    from transforms.outputs.gis.layers import slice_layers
    from transforms.outputs.report.coverage import placeholders, placement
    from transforms.outputs.report.reads import Ctx
    from transforms.outputs.slice import Slice
    from transforms.warehouse import status as st

    con, settings = _load(_project(tiny_project, CAD + GEOCODE_ON), NIGHT, known_places, monkeypatch)
    marts.build_all(con, settings)
    # sara status: located share by method, per source
    by = {r[3]: r[4:] for r in st.located_by_method(con).rows}
    assert by == {"feed": (2, 28.6, None), "history": (1, 14.3, 20.0), "street": (1, 14.3, 2000.0),
                  "unlocated": (3, 42.9, None)}
    assert st.placeholder_points(con).rows == []
    assert st.left_out_of_units(con).rows == [("city", "grid", "imprecise", 1), ("city", "h3", "imprecise", 1)]
    # the report's data-quality lines
    c = Ctx(con, settings, date(2024, 3, 31))
    html = placement(c)
    assert "history (the address located before)" in html and "street centroid only" in html
    assert "2,000 m" in html and "43%" in html
    assert "No placeholder points" in placeholders(c)
    # the GIS layers of events carry method and precision
    layers, _ = slice_layers(con, {"city": "EPSG:32610"}, Slice(28, "all", "all"))
    rep = next(la.frame for la in layers if la.stem == "repeat_locations_calls")
    got = {r.location_key: (r.geocode_method, r.geocode_precision_m) for r in rep.itertuples()}
    assert got["MAIN ST"] == ("street", 2000.0)
    assert got["100 MAIN ST"][0] in ("feed", "history") and got["100 MAIN ST"][1] == 20.0
    near = [la.frame for la in layers if la.stem.startswith("near_repeats_")]
    assert near and all({"geocode_method", "geocode_precision_m"} <= set(f.columns) for f in near)
    s1 = near[0][near[0]["event_id"] == "S1"]
    assert list(s1["geocode_method"]) == ["street"] and list(s1["geocode_precision_m"]) == [2000.0]


def test_an_older_warehouse_gets_the_columns_and_its_located_rows_become_feed(tiny_project):
    from transforms.warehouse import db as wh

    con, _ = _load(_project(tiny_project, CAD), NIGHT)
    # the file as a release before the geocode columns made it
    for t in ("core.calls", "core.incidents"):
        for c in ("geocode_method", "geocode_precision_m", "geocode_source", "geocode_status"):
            con.execute(f"ALTER TABLE {t} DROP COLUMN {c}")
    con.execute("DELETE FROM meta.schema_info")
    wh.apply_schema(con)
    rows = {r[0]: r[1:] for r in con.execute("SELECT call_id, geocode_method, geocode_source FROM core.calls"
                                             ).fetchall()}
    assert rows["F1"] == rows["F2"] == ("feed", "cad")
    assert all(rows[k] == (None, None) for k in ("H1", "S1", "U1", "O1", "N1"))
    comments = dict(con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE table_name = 'calls' "
                                "AND column_name LIKE 'geocode_%'").fetchall())
    assert len(comments) == 4 and all(comments.values())


def test_the_shipped_geocoder_places_a_known_address_from_history_through_the_hook(tiny_project):
    """No test geocoder: normalize calls transforms.warehouse.geocode.geocode. 100 MAIN ST was located by the
    feed at three points 10 m apart, so a row of it without a point takes their median (history), with a
    precision from their spread; an address never seen, with no streets layer, stays unlocated with a reason."""
    p = _project(tiny_project, CAD + GEOCODE_ON)
    con, _ = _load(p, [
        "A1,2024-03-28 10:00,BURG,100 MAIN ST,550400,4180420",
        "A2,2024-03-28 10:30,BURG,100 MAIN ST,550410,4180420",
        "A3,2024-03-28 11:00,BURG,100 MAIN ST,550420,4180420",
        "G1,2024-03-29 10:00,BURG,100 Main Street,,",
        "G2,2024-03-29 11:00,BURG,7 NOWHERE LN,,",
    ])
    rows = {r[0]: r[1:] for r in con.execute(
        "SELECT call_id, is_located, round(x), round(y), geocode_method, geocode_precision_m, geocode_status "
        "FROM core.calls").fetchall()}
    assert rows["A1"][:4] == (True, 550400, 4180420, "feed")
    located, x, y, method, precision, status = rows["G1"]
    assert (located, x, y, method) == (True, 550410, 4180420, "history")
    assert 0 < precision <= 50
    assert rows["G2"][0] is False and rows["G2"][3] is None and rows["G2"][5]
