"""The offline geocoder on hand-built streets (metres): history, intersections, ranges, parity, blocks, precision
(transforms/warehouse/geocode/)."""

from __future__ import annotations

import geopandas as gpd
import polars as pl
import pytest
from shapely.geometry import LineString

from transforms.warehouse.geocode import StreetIndex, geocode, learn_ranges

LINES = {
    "Main Street": [(0, 0), (1000, 0)],
    "Oak Avenue": [(300, -500), (300, 500)],  # crosses MAIN once, at (300, 0)
    "Loop Rd": [(100, -200), (100, 200), (800, 200), (800, -200)],  # crosses MAIN twice, 700 m apart
    "Elm St": [(0, 2000), (1000, 2000)],  # never meets MAIN
    "First Avenue": [(600, -300), (600, 300)],
    "West Water Street": [(900, -300), (900, 300)],
}


def _index(lines=LINES) -> StreetIndex:
    gdf = gpd.GeoDataFrame({"FULLNAME": list(lines)}, geometry=[LineString(c) for c in lines.values()],
                           crs="EPSG:26910")
    return StreetIndex.from_frame(gdf, "FULLNAME", source="streets: test")


def _located(rows) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["address", "x", "y"], orient="row")


NONE = _located([("X", 0.0, 0.0)]).clear()


def _one(address, located=NONE, streets=None, cross=None) -> dict:
    todo = {"key": [1], "address": [address]}
    if cross is not None:
        todo["cross_streets"] = [cross]
    return geocode(pl.DataFrame(todo), located, streets).row(0, named=True)


@pytest.mark.parametrize("text", ["MAIN ST / OAK AVE", "MAIN/OAK", "Main & Oak", "MAIN AND OAK AVENUE",
                                  "OAK AVE/MAIN ST"])
def test_intersection_forms(text):
    r = _one(text, streets=_index())
    assert r["geocode_method"] == "intersection", r
    assert r["x"] == pytest.approx(300) and r["y"] == pytest.approx(0)
    assert r["geocode_source"] == "streets: test" and r["geocode_status"] == "ok"


def test_intersection_with_ordinal_and_directional_names():
    idx = _index()
    assert _one("1ST AVE / MAIN ST", streets=idx)["x"] == pytest.approx(600)
    assert _one("W WATER ST & MAIN", streets=idx)["x"] == pytest.approx(900)


def test_ambiguous_intersection_is_not_placed():
    r = _one("MAIN ST / LOOP RD", streets=_index())
    assert r["geocode_method"] is None and r["x"] is None
    assert r["geocode_status"] == "ambiguous intersection: 2 crossings 700 m apart"


def test_unmatched_intersections():
    idx = _index()
    r = _one("MAIN ST / POND LILLY", streets=idx)
    assert (r["geocode_method"], r["geocode_status"]) == (None, "unmatched street: POND LILLY")
    r = _one("MAIN ST / ELM ST", streets=idx)
    assert r["geocode_method"] is None
    assert r["geocode_status"].startswith("unmatched intersection: ELM ST and MAIN ST do not meet")


def _main_history(reverse=False, odd_left=True):
    """Located events on MAIN ST every 20 numbers from 100 to 900, at x = number; odd ones 10 m to one side."""
    rows = []
    for n in list(range(100, 901, 20)) + list(range(101, 902, 20)):
        side = 10.0 if (n % 2 == 1) == odd_left else -10.0
        rows.append((f"{n} MAIN ST", float(n), side if not reverse else side))
    return _located(rows)


@pytest.mark.parametrize("reverse", [False, True])
def test_parity_and_side_learned_from_history(reverse):
    """Odd numbers lie on +y (left of a line drawn west to east); the learned side holds however the line is
    digitized."""
    lines = dict(LINES)
    if reverse:
        lines["Main Street"] = [(1000, 0), (0, 0)]
    idx = _index(lines)
    hist = _main_history()
    odd, even = _one("451 MAIN ST", hist, idx), _one("450 MAIN ST", hist, idx)
    assert odd["geocode_method"] == even["geocode_method"] == "interpolated"
    assert odd["x"] == pytest.approx(451, abs=1) and odd["y"] == pytest.approx(10, abs=0.5)
    assert even["x"] == pytest.approx(450, abs=1) and even["y"] == pytest.approx(-10, abs=0.5)
    assert odd["geocode_source"] == "ranges: 82 located events on MAIN ST"
    # the other way round in the history: odd on the right
    odd = _one("451 MAIN ST", _main_history(odd_left=False), idx)
    assert odd["y"] == pytest.approx(-10, abs=0.5)


def test_no_side_without_a_parity_pattern():
    rows = [(f"{n} MAIN ST", float(n), 10.0 if i % 2 else -10.0) for i, n in enumerate(range(100, 901, 20))]
    r = _one("451 MAIN ST", _located(rows), _index())
    assert r["geocode_method"] == "interpolated" and r["y"] == pytest.approx(0, abs=0.5)


def test_block_address_goes_to_its_blocks_middle_on_the_centreline():
    r = _one("400 BLOCK MAIN ST", _main_history(), _index())
    assert r["geocode_method"] == "block"
    assert r["x"] == pytest.approx(450, abs=1) and r["y"] == pytest.approx(0, abs=0.01)
    r = _one("0 BLOCK MAIN ST", _main_history(), _index())  # the 0 block: its middle, 50, 50 numbers below 100
    assert r["geocode_method"] == "block" and r["x"] == pytest.approx(50, abs=1)
    r = _one("17XX MAIN ST", _main_history(), _index())  # beyond the learned range 100-901 by 849 numbers
    assert r["geocode_method"] == "street"
    assert r["geocode_status"] == "ok (by street: number 1750 outside the learned range 100-901 of MAIN ST)"


def test_precision_grows_away_from_known_numbers():
    rows = [(f"{n} MAIN ST", float(n), 0.0) for n in (100, 120, 140, 800, 820, 840)]
    hist, idx = _located(rows), _index()
    near, mid = _one("150 MAIN ST", hist, idx), _one("450 MAIN ST", hist, idx)
    assert near["geocode_method"] == mid["geocode_method"] == "interpolated"
    assert near["x"] == pytest.approx(150, abs=1) and mid["x"] == pytest.approx(450, abs=1)
    assert near["geocode_precision_m"] < mid["geocode_precision_m"]
    assert mid["geocode_precision_m"] == pytest.approx(10 + 1.0 * 310, abs=2)  # spread floor + 310 numbers x 1 m


def test_history_takes_the_median_and_its_spread():
    hist = _located([("123 PINE ST", float(x), 5.0) for x in (0, 20, 40, 60, 80)] + [("123 pine street", 40.0, 5.0)])
    r = _one("123 Pine Street", hist)
    assert r["geocode_method"] == "history"
    assert (r["x"], r["y"]) == (40.0, 5.0)
    assert r["geocode_precision_m"] == pytest.approx(40.0)  # 90th percentile of 40, 20, 0, 0, 20, 40
    assert r["geocode_source"] == "history: 6 located events"


def test_ranges_without_a_streets_layer_use_the_located_blocks():
    """No centrelines: the street's line is learned through the median points of its located blocks."""
    rows = [(f"{b} BLOCK JERROLD AVE", float(b), float(b) / 2) for b in (100, 200, 300, 500, 600)]
    hist = _located(rows)
    r = _one("400 BLOCK JERROLD AVE", hist)
    assert r["geocode_method"] == "block"
    assert r["x"] == pytest.approx(400) and r["y"] == pytest.approx(200)
    assert learn_ranges(hist).fits["JERROLD AVE"][0].n_events == 5


def test_street_only_and_cross_streets():
    idx = _index()
    r = _one("MAIN ST", streets=idx)
    assert r["geocode_method"] == "street" and r["geocode_precision_m"] == pytest.approx(1000)
    assert (r["x"], r["y"]) == (pytest.approx(500), pytest.approx(0))
    # New Haven style: an address with the block's two corners as cross streets
    r = _one("450 MAIN ST", streets=idx, cross="OAK/FIRST")
    assert r["geocode_method"] == "intersection" and r["x"] == pytest.approx(450)
    assert r["geocode_precision_m"] == pytest.approx(15 + 150)


def test_every_todo_row_comes_back_in_order():
    todo = pl.DataFrame({"key": [3, 1, 2, 4], "address": ["MAIN/OAK", None, "MAIN/OAK", "MAIN ST / LOOP RD"]})
    out = geocode(todo, NONE, _index())
    assert out["key"].to_list() == [3, 1, 2, 4]
    assert out["geocode_method"].to_list() == ["intersection", None, "intersection", None]
    assert out["geocode_status"][1] == "no usable address"


def test_located_rows_without_finite_coordinates_are_not_history():
    hist = _located([("123 PINE ST", 40.0, 5.0), ("123 PINE ST", float("nan"), 5.0), ("123 PINE ST", None, None)])
    r = _one("123 PINE ST", hist)
    assert (r["x"], r["y"], r["geocode_source"]) == (40.0, 5.0, "history: 1 located events")


def test_crossings_closer_than_the_tolerance_are_one_intersection():
    """A dual carriageway (two lines 30 m apart under one name) crosses MAIN twice, 30 m apart: one corner."""
    lines = dict(LINES)
    lines["Broad Street"] = [(480, -300), (480, 300)]
    lines["Broad St "] = [(510, 300), (510, -300)]
    r = _one("BROAD ST / MAIN ST", streets=_index(lines))
    assert r["geocode_method"] == "intersection"
    assert (r["x"], r["y"]) == (pytest.approx(495), pytest.approx(0))
    assert r["geocode_precision_m"] == pytest.approx(15 + 15)  # corner precision + half the spread


def test_learned_ranges_come_before_the_cross_street_corners():
    """An address with both: the number on its learned range (metres) beats the block between two corners."""
    r = _one("451 MAIN ST", _main_history(), _index(), cross="OAK/FIRST")
    assert r["geocode_method"] == "interpolated" and r["x"] == pytest.approx(451, abs=1)
    r = _one("5000 MAIN ST", _main_history(), _index(), cross="OAK/FIRST")  # beyond the range: the corners
    assert r["geocode_method"] == "intersection" and r["x"] == pytest.approx(450)
    assert r["geocode_status"] == "ok (by intersection: number 5000 outside the learned range 100-901 of MAIN ST)"


def test_a_miss_lists_every_reason_once():
    r = _one("451 POND LILLY", _main_history(), _index(), cross="MAIN/OAK")
    assert r["geocode_method"] is None and r["x"] is None
    assert r["geocode_status"] == ("no number range learned for POND LILLY: no located address on it; "
                                   "unmatched street: POND LILLY")
