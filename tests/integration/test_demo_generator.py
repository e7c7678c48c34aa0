"""The synthetic demo city (transforms/demo/): the session's demo city (tests/conftest.py: demo_city, scale
0.05) checked file by file, and a second generation byte for byte."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
import shapely
from pyproj import Transformer

from tests.support.project import DEMO_SCALE, PROJECT
from transforms.demo import CALL_TYPE_CODES, COUNTY_COLUMNS, METRO_COLUMNS, RMS_COLUMNS, generate_demo_city

CAD_FMT = "%m/%d/%Y %I:%M:%S %p"


@pytest.fixture(scope="module")
def demo(demo_city):
    """(folder, nights, manifest) of the session's demo city; read only."""
    return demo_city.path, demo_city.nights, demo_city.manifest


def _files(nights, source):
    return [p for n in nights for s, p in n.files if s == source]


def _layer(out: Path, name: str):
    fc = json.loads((out / "layers" / f"{name}.geojson").read_text())
    return [(f["properties"], shapely.geometry.shape(f["geometry"])) for f in fc["features"]]


def _read_metro(path: Path) -> pl.DataFrame:
    return pl.read_csv(path, infer_schema=False)


def _read_county(path: Path) -> pl.DataFrame:
    text = path.read_bytes().decode("cp1252")
    return pl.read_csv(io.StringIO(text).read().encode(), separator=";", infer_schema=False)


def _all_metro(nights) -> pl.DataFrame:
    return pl.concat([_read_metro(p).with_columns(pl.lit(p.name).alias("file"))
                      for p in _files(nights, "demo_metro_calls")])


def _utm(lon, lat):
    return Transformer.from_crs("EPSG:4326", "EPSG:32610", always_xy=True).transform(lon, lat)


# ------------------------------------------------------------------------------ determinism
def test_deterministic_bytes(demo, tmp_path):
    out_a, _, _ = demo
    out_b = tmp_path / "demo_b"
    generate_demo_city(out_b, scale=DEMO_SCALE)

    def digests(root: Path):
        return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(root.rglob("*")) if p.is_file()}

    a, b = digests(out_a), digests(out_b)
    assert a.keys() == b.keys()
    assert len(a) == 6 * 3 + 1 + 6 + 1  # extracts + late extract + layers + manifest
    assert a == b


# ------------------------------------------------------------------------------ layout
def test_nights_and_file_names(demo):
    out, nights, _ = demo
    assert [n.night for n in nights] == [1, 2, 3, 4, 5, 6]
    assert [n.run_date.isoformat() for n in nights] == [f"2026-11-{d}" for d in range(16, 22)]
    for n in nights:
        for source, path in n.files:
            assert path.is_file()
            assert path.parent == out / "extracts" / f"night_{n.night:02d}" / source
    names = {p.name for p in _files(nights, "demo_metro_calls")}
    assert "metro_cad_20261116T020000.csv" in names and "metro_cad_20261118T140000.csv" in names
    assert nights[0].files[2][1].name == "metro_rms_20261116T020000.parquet"
    assert nights[5].files[0][1].name == "so_cad_20261121.csv"


def test_metro_csv_format(demo):
    _, nights, _ = demo
    for path in _files(nights, "demo_metro_calls"):
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbf")
        text = raw.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
        assert rows[0] == METRO_COLUMNS
        assert all(len(r) == len(METRO_COLUMNS) for r in rows[1:])
    df = _read_metro(_files(nights, "demo_metro_calls")[0])
    # 12-hour local timestamps, call-number pattern, codes
    assert df["CallReceivedDT"].drop_nulls().str.contains(r"^\d\d/\d\d/\d{4} \d\d:\d\d:\d\d [AP]M$").all()
    assert df["CallNumber"].str.contains(r"^M2[456]-\d{6}$").all()
    assert set(df["InitialCallType"]) <= set(CALL_TYPE_CODES) and "XYZ9" in set(df["InitialCallType"])
    assert set(df["Priority"]) <= {"E", "1", "2", "3", "4", "5"}
    assert (df["ClearDT"] == "01/01/1900 12:00:00 AM").any()
    assert df["CallReceivedDT"].null_count() >= 3  # quarantine candidates
    assert df["Narrative"].str.contains("\n").any() and df["Narrative"].str.contains('"').any()
    calls = df.unique("CallNumber")
    assert 1.25 < df.height / calls.height < 1.6  # one row per responding unit
    assert (calls["FinalCallType"] != calls["InitialCallType"]).mean() > 0.02


def test_county_csv_is_cp1252(demo):
    _, nights, _ = demo
    for path in _files(nights, "demo_county_calls"):
        raw = path.read_bytes()
        with pytest.raises(UnicodeDecodeError):
            raw.decode("utf-8")
        text = raw.decode("cp1252")
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
        assert rows[0] == COUNTY_COLUMNS
        assert all(len(r) == len(COUNTY_COLUMNS) for r in rows[1:])
    df = _read_county(_files(nights, "demo_county_calls")[0])
    assert df["ReceivedTime"].str.contains(r"^\d\d/\d\d/\d{4} \d\d:\d\d$").all()
    assert df["DispatchEpochMs"].drop_nulls().str.contains(r"^1\d{12}$").all()
    assert set(df["Prio"]) <= {"P1", "P2", "P3", "P4"}


def test_rms_parquet_format(demo):
    _, nights, _ = demo
    for path in _files(nights, "demo_metro_incidents"):
        schema = pq.read_schema(path)
        assert schema.names == RMS_COLUMNS
        assert all(str(t) == "string" for t in schema.types)
    df = pl.read_parquet(_files(nights, "demo_metro_incidents")[0])
    assert df["IncidentNumber"].str.contains(r"^R2[456]-\d{6}$").all()
    assert df["ReportedDT"].str.contains(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$").all()
    assert set(df["OffenseSeq"]) >= {"1", "2"}
    assert set(df["Status"]) <= {"ACTIVE", "CLOSED", "UNFOUNDED", "DELETED"}
    assert 0.25 < df["OccurredToDT"].null_count() / df.height < 0.55


# ------------------------------------------------------------------------------ geography
def test_layers_tile(demo):
    out, _, _ = demo
    city = _layer(out, "metro_boundary")[0][1]
    county = _layer(out, "county_boundary")[0][1]
    districts = _layer(out, "metro_districts")
    beats = _layer(out, "metro_beats")
    cbeats = _layer(out, "county_beats")
    assert sorted(p["district"] for p, _ in districts) == ["EAST", "NORTH", "SOUTH", "WEST"]
    assert len(beats) == 16 and {p["beat"] for p, _ in beats} >= {"N1", "N4", "S1", "E2", "W3"}
    assert sorted(p["beat"] for p, _ in cbeats) == ["C1", "C2", "C3", "C4"]
    for parts, whole in ((districts, city), (beats, city), (cbeats, county)):
        geoms = [g for _, g in parts]
        assert abs(sum(g.area for g in geoms) - whole.area) / whole.area < 1e-6
        assert abs(shapely.union_all(geoms).area - whole.area) / whole.area < 1e-6
    for p, g in beats:  # each beat inside its district
        d = next(dg for dp, dg in districts if dp["district"] == p["district"])
        assert g.difference(d).area / g.area < 1e-6
    # county is east of the city, adjacent and not overlapping
    assert city.intersection(county).area < 1e-9 and city.touches(county)
    assert county.centroid.x > city.centroid.x
    streets = _layer(out, "metro_streets")
    assert len(streets) > 4000
    props = streets[0][0]
    assert set(props) == {"segment_id", "street", "from_addr", "to_addr"}
    assert all(g.geom_type == "LineString" for _, g in streets)
    assert all(city.buffer(1e-7).contains(g) for _, g in streets[::50])


def test_points_inside_boundaries(demo):
    out, nights, manifest = demo
    city = _layer(out, "metro_boundary")[0][1]
    county = _layer(out, "county_boundary")[0][1]
    dq = manifest["data_quality"]
    metro = _all_metro(nights).unique("CallNumber")
    bad = set(dq["metro_calls"]["zero_coords"]) | set(dq["metro_calls"]["empty_coords"]) \
        | set(dq["metro_calls"]["swapped_coords"])
    ok = metro.filter(~pl.col("CallNumber").is_in(list(bad)))
    assert ok["Latitude"].null_count() == 0
    lat, lon = ok["Latitude"].cast(pl.Float64).to_numpy(), ok["Longitude"].cast(pl.Float64).to_numpy()
    assert shapely.contains_xy(city, lon, lat).all()
    # the planted errors are really there
    zero = metro.filter(pl.col("CallNumber").is_in(dq["metro_calls"]["zero_coords"]))
    assert (zero["Latitude"] == "0").all() and len(zero) > 0
    sw = metro.filter(pl.col("CallNumber").is_in(dq["metro_calls"]["swapped_coords"]))
    assert (sw["Latitude"].cast(pl.Float64) < 0).all()
    assert metro.filter(pl.col("CallNumber").is_in(dq["metro_calls"]["empty_coords"]))["Latitude"].is_null().all()

    rms = pl.concat([pl.read_parquet(p) for p in _files(nights, "demo_metro_incidents")])
    rms = rms.filter(pl.col("X_FT").is_not_null())
    to_ll = Transformer.from_crs("EPSG:2286", "EPSG:4326", always_xy=True)
    rlon, rlat = to_ll.transform(rms["X_FT"].cast(pl.Float64).to_numpy(), rms["Y_FT"].cast(pl.Float64).to_numpy())
    assert shapely.contains_xy(city, rlon, rlat).all()

    cty = pl.concat([_read_county(p) for p in _files(nights, "demo_county_calls")]).filter(pl.col("Lat").is_not_null())
    assert shapely.contains_xy(county, cty["Lon"].cast(pl.Float64).to_numpy(), cty["Lat"].cast(pl.Float64).to_numpy()).all()


# ------------------------------------------------------------------------------ planted patterns
def test_hotspots_denser_than_background(demo):
    out, nights, manifest = demo
    city = _layer(out, "metro_boundary")[0][1]
    calls = _all_metro(nights).unique("CallNumber").filter(
        (pl.col("OnView") == "N") & pl.col("Latitude").is_not_null() & (pl.col("Latitude") != "0")
        & (pl.col("Latitude").cast(pl.Float64) > 0))
    x, y = _utm(calls["Longitude"].cast(pl.Float64).to_numpy(), calls["Latitude"].cast(pl.Float64).to_numpy())
    circles = manifest["hotspots"] + [manifest["emerging"]]
    inside_any = np.zeros(len(x), bool)
    for c in circles:
        cx, cy = _utm(c["center_lon"], c["center_lat"])
        inside_any |= np.hypot(x - cx, y - cy) <= c["radius_m"]
    city_km2 = manifest["city"]["metro_area_km2"]
    circle_km2 = np.pi * (manifest["hotspots"][0]["radius_m"] / 1000) ** 2
    background = (~inside_any).sum() / (city_km2 - len(circles) * circle_km2)
    assert city.area > 0 and background > 0
    for h in manifest["hotspots"]:
        cx, cy = _utm(h["center_lon"], h["center_lat"])
        density = (np.hypot(x - cx, y - cy) <= h["radius_m"]).sum() / circle_km2
        assert density >= 4 * background, (h["id"], density, background)


def test_repeat_addresses_top5(demo):
    _, nights, manifest = demo
    counts = _all_metro(nights).unique("CallNumber").group_by("Address").len().sort(["len", "Address"],
                                                                                      descending=[True, False])
    top5 = counts.head(5)["Address"].to_list()
    assert set(top5) == {r["address"] for r in manifest["repeat_addresses"]}
    assert counts["len"][4] > counts["len"][5]
    named = _all_metro(nights).unique("CallNumber").filter(pl.col("Address") == "1210 MAIN ST")
    assert (named["CommonPlace"] == "QUIK MART").mean() > 0.7


def test_officer_hotspot_and_sensitive(demo):
    _, nights, manifest = demo
    calls = _all_metro(nights).unique("CallNumber")
    oh = calls.filter(pl.col("Address") == manifest["officer_hotspot"]["address"])
    ts = ((oh["InitialCallType"] == "TS") & (oh["OnView"] == "Y")).mean()
    assert len(oh) >= 5 and ts > 0.7
    assert calls.filter(pl.col("InitialCallType").is_in(["TS", "PC", "FI", "PATROL", "ADMIN"]))["OnView"].eq("Y").all()
    assert (calls["InitialCallType"] == "SEXOFF").any() and (calls["InitialCallType"] == "DV").any()
    dup = calls.filter(pl.col("DuplicateOf").is_not_null())
    assert len(dup) > 0 and (dup["Disposition"].drop_nulls() == "DUP").all()
    assert set(dup["DuplicateOf"]) <= set(calls["CallNumber"])
    rms = pl.concat([pl.read_parquet(p) for p in _files(nights, "demo_metro_incidents")])
    assert {"11A", "36B", "220"} <= set(rms["OffenseCode"])
    assert rms.filter(pl.col("OffenseCode").is_in(["35A", "90D"]))["VictimName"].is_null().all()


def test_near_repeat_knox_excess(demo):
    _, nights, manifest = demo
    rms = pl.concat([pl.read_parquet(p) for p in _files(nights, "demo_metro_incidents")]).unique("IncidentNumber")
    b = rms.filter((pl.col("OffenseCode") == "220") & pl.col("X_FT").is_not_null())
    x = b["X_FT"].cast(pl.Float64).to_numpy() * 0.3048006096  # US survey feet -> metres
    y = b["Y_FT"].cast(pl.Float64).to_numpy() * 0.3048006096
    t = b["ReportedDT"].str.to_datetime("%Y-%m-%d %H:%M:%S").dt.epoch("s").to_numpy() / 86400
    iu = np.triu_indices(len(x), 1)
    close_s = np.hypot(x[:, None] - x, y[:, None] - y)[iu] <= 200
    close_t = np.abs(t[:, None] - t)[iu] <= 7
    expected = close_s.sum() * close_t.sum() / len(close_s)
    assert (close_s & close_t).sum() > 3 * max(expected, 1)
    assert manifest["near_repeat"]["knox_cad_burg_200m_7d"]["observed_close_pairs"] > \
        3 * manifest["near_repeat"]["knox_cad_burg_200m_7d"]["expected_close_pairs"]


def test_emerging_only_recent(demo):
    _, nights, manifest = demo
    e = manifest["emerging"]
    calls = _all_metro(nights).unique("CallNumber").filter(
        pl.col("CallReceivedDT").is_not_null() & (pl.col("Latitude").cast(pl.Float64, strict=False) > 0))
    x, y = _utm(calls["Longitude"].cast(pl.Float64).to_numpy(), calls["Latitude"].cast(pl.Float64).to_numpy())
    cx, cy = _utm(e["center_lon"], e["center_lat"])
    near = calls.filter(pl.Series(np.hypot(x - cx, y - cy) <= e["radius_m"]))
    day = near["CallReceivedDT"].str.to_datetime(CAD_FMT).dt.date()
    start = datetime.fromisoformat(e["start"]).date()
    recent = (day >= start).sum()
    assert recent >= 4 * e["extra_calls_per_week"]
    weeks_before = (start - datetime(2024, 11, 1).date()).days / 7
    assert (day < start).sum() / weeks_before < 0.25 * recent / 4


# ------------------------------------------------------------------------------ nightly deltas
def _lu(df: pl.DataFrame) -> pl.DataFrame:
    return df.select("CallNumber", pl.col("LastUpdatedDT").str.to_datetime(CAD_FMT).alias("lu")).unique()


def test_night3_updates_nights_1_and_2(demo):
    _, nights, manifest = demo
    f = {n.night: [p for s, p in n.files if s == "demo_metro_calls"] for n in nights}
    n1, n2, n3 = (_read_metro(f[k][0]) for k in (1, 2, 3))
    ids3 = set(n3["CallNumber"])
    from1, from2 = ids3 & set(n1["CallNumber"]), ids3 & set(n2["CallNumber"])
    assert from1 and from2
    later = _lu(n3).join(_lu(pl.concat([n1, n2])), on="CallNumber", suffix="_old")
    assert len(later) == len(from1) + len(from2)
    assert (later["lu"] > later["lu_old"]).all()
    # updates are really updates: something changed besides LastUpdatedDT
    cols = ["CallNumber", "ClearDT", "Disposition", "FinalCallType", "UnitID", "OnSceneDT"]
    assert n3.select(cols).join(pl.concat([n1, n2]).select(cols), on=cols, how="anti").height > 0
    assert set(manifest["nights"][2]["demo_metro_calls"]["updated_by_first_night"]) == {"1", "2"}
    # the other sources get updates too
    for src in ("demo_metro_incidents", "demo_county_calls"):
        assert set(manifest["nights"][2][src]["updated_by_first_night"]) == {"1", "2"}


def test_late_extract_is_stale(demo):
    _, nights, manifest = demo
    files = _files(nights, "demo_metro_calls")
    late = [p for p in files if p.name == "metro_cad_20261118T140000.csv"]
    assert len(late) == 1 and late[0].parent.parent.name == "night_06"
    stale = _lu(_read_metro(late[0]))
    assert len(stale) >= 5 and set(stale["CallNumber"]) == set(manifest["nights"][5]["late_extract"]["stale_calls"])
    assert (stale["lu"] <= datetime(2026, 11, 18, 14, 0)).all()
    others = _lu(pl.concat([_read_metro(p) for p in files if p != late[0]])).group_by("CallNumber").agg(
        pl.col("lu").max())
    j = stale.join(others, on="CallNumber", suffix="_latest")
    assert len(j) == len(stale) and (j["lu"] < j["lu_latest"]).all()


def test_codes_in_crosswalks(demo):
    """Every code the city uses is in the demo's crosswalks, but the retired call type XYZ9, left out on
    purpose (it must come out as Unmapped, and be masked when published)."""
    _, nights, _ = demo

    def codes(name: str) -> set[str]:
        text = (PROJECT / "config" / "crosswalks" / name).read_text(encoding="utf-8-sig")
        return {row[0].strip() for row in csv.reader(io.StringIO(text))}

    calls = _all_metro(nights)
    used = set(calls["InitialCallType"]) | set(calls["FinalCallType"])
    assert used - codes("demo_call_types.csv") == {"XYZ9"}
    rms = pl.concat([pl.read_parquet(p) for p in _files(nights, "demo_metro_incidents")])
    assert set(rms["OffenseCode"]) <= codes("demo_offenses.csv")
