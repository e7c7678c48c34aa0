"""The real Prefect nightly flow over the four real public feeds in ../shared/data: what the first run loaded.

One flow run loads all four sources (the session fixture `real`); the tests read the published warehouse
(a snapshot, read-only) and check it against facts computed independently from the files (polars,
geopandas/shapely, pyproj) or by hand. Later runs: tests/integration/test_real_flow_outputs.py.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.support.project import PROJECT
from tests.support.real import (
    CHI_FILE,
    NH_STEM,
    SF_FILE,
    SOURCES,
    VAN_FILE,
    core_rows,
    file_rows,
)

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture
def con(real_con):
    """The warehouse as the first run published it."""
    return real_con


# ---------------------------------------------------------------------------------------------
# counts and reconciliation
# ---------------------------------------------------------------------------------------------


def test_first_run_is_ok_and_loads_every_file(real):
    res = real.first.result
    assert res["status"] == "ok", res["message"]
    assert res["published"] is True
    for source, (*_, n) in SOURCES.items():
        d = res["sources"][source]
        assert (d["files"], d["skipped"], d["failed"]) == (1, 0, 0), (source, d)
        assert d["read"] == n, (source, d)


@pytest.mark.parametrize("source", list(SOURCES))
def test_loads_reconcile_and_core_holds_every_row(con, source):
    table, id_col, _, n_file = SOURCES[source]
    rows = con.execute(
        "SELECT rows_read, rows_loaded, rows_duplicate, rows_quarantined, status FROM meta.loads WHERE source = ?",
        [source],
    ).fetchall()
    assert len(rows) == 1, rows
    read, loaded, dup, quar, status = rows[0]
    assert status == "loaded"
    assert read == n_file
    assert read == loaded + dup + quar
    assert dup == 0  # dedupe is off everywhere and every file has one version per record
    n_quarantine = con.execute("SELECT count(*) FROM core.quarantine WHERE source = ?", [source]).fetchone()[0]
    assert n_quarantine == quar
    n_core, n_ids = con.execute(
        f"SELECT count(*), count(DISTINCT {id_col}) FROM {table} WHERE source = ?", [source]
    ).fetchone()
    assert n_core == loaded  # one row per record
    assert n_ids == n_core


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_file_row_is_in_core_exactly_once(con, source):
    n_file = SOURCES[source][3]
    rows = core_rows(con, source, "source_row")["source_row"]
    assert rows.to_list() == list(range(1, n_file + 1))


@pytest.mark.parametrize(("source", "name", "n_dup"), [
    ("vancouver_incidents", VAN_FILE, 1_739),
    ("chicago_assaults", CHI_FILE, 111),
])
def test_exact_duplicate_rows_are_kept_as_separate_records(real, con, source, name, n_dup):
    df = file_rows(real.data, name)
    cols = [c for c in df.columns if c != "source_row"]
    assert df.height - df.select(cols).unique().height == n_dup
    # every copy after the first of an identical row
    extra = df.filter(pl.int_range(pl.len()).over(cols) > 0)["source_row"]
    assert extra.len() == n_dup
    id_col = SOURCES[source][1]
    core = core_rows(con, source, f"source_row, {id_col} AS id").filter(pl.col("source_row").is_in(extra.implode()))
    assert core.height == n_dup
    assert core["id"].n_unique() == n_dup
    # and the first copies are there too, with their own ids
    groups = df.filter(pl.struct(cols).is_duplicated())["source_row"]
    core_all = core_rows(con, source, f"source_row, {id_col} AS id").filter(pl.col("source_row").is_in(groups.implode()))
    assert core_all.height == groups.len()
    assert core_all["id"].n_unique() == groups.len()


# ---------------------------------------------------------------------------------------------
# locations
# ---------------------------------------------------------------------------------------------


@functools.cache
def _area_lonlat(data: Path, source: str):
    """The agency area in lon/lat, built here from the files (or the configured bbox), prepared."""
    import geopandas as gpd
    import shapely
    from shapely.geometry import box

    layer = {
        "sf_calls": "sf_police_districts.gpkg",
        "vancouver_incidents": "vancouver_neighbourhoods.geojson",
        "chicago_assaults": "chicago_police_beats.gpkg",
    }.get(source)
    if layer is None:  # New Haven: config/sara.toml gives a bbox, no polygon layer
        area = box(-73.0, 41.24, -72.85, 41.36)
    else:
        g = gpd.read_file(data / layer)
        assert g.crs is not None
        area = shapely.union_all(g.to_crs("EPSG:4326").geometry.values)
    shapely.prepare(area)
    return area


def _raw_points(data: Path, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Raw coordinates of every file row, as lon/lat (NaN where missing), in file order."""
    from pyproj import Transformer

    if source == "new_haven_incidents":
        import pyogrio
        import shapely

        g = pyogrio.read_dataframe(data / f"{NH_STEM}.shp")
        assert g.crs is None  # no .prj: lon/lat by the README
        return shapely.get_x(g.geometry.values), shapely.get_y(g.geometry.values)
    name, xc, yc, crs = {
        "sf_calls": (SF_FILE, "lon", "lat", "EPSG:4326"),
        "vancouver_incidents": (VAN_FILE, "X", "Y", "EPSG:32610"),
        "chicago_assaults": (CHI_FILE, "longitude", "latitude", "EPSG:4326"),
    }[source]
    df = pl.read_csv(data / name, infer_schema=False, columns=[xc, yc])
    x = df[xc].cast(pl.Float64, strict=False).to_numpy()
    y = df[yc].cast(pl.Float64, strict=False).to_numpy()
    zero = (x == 0) & (y == 0)
    x, y = np.where(zero, np.nan, x), np.where(zero, np.nan, y)
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


@pytest.mark.parametrize("source", list(SOURCES))
def test_every_located_point_is_inside_its_city(real, con, source):
    import shapely

    area = _area_lonlat(real.data, source)
    core = core_rows(con, source, "source_row, lon, lat, is_located, location_issue")
    located = core.filter(pl.col("is_located"))
    assert located.height > 0.95 * core.height or source == "vancouver_incidents"
    assert located["lon"].null_count() == 0 and located["lat"].null_count() == 0
    pts = shapely.points(located["lon"].to_numpy(), located["lat"].to_numpy())
    outside = ~shapely.covers(area, pts)
    assert not outside.any(), located.filter(pl.Series(outside)).head(10)
    # unlocated rows carry no coordinates and say why
    unlocated = core.filter(~pl.col("is_located"))
    assert unlocated["lon"].null_count() == unlocated.height
    assert unlocated["location_issue"].null_count() == 0


@pytest.mark.parametrize("source", list(SOURCES))
def test_is_located_and_lonlat_match_an_independent_recompute(real, con, source):
    """From the raw file coordinates: located exactly when inside the area, and lon/lat as projected here."""
    import shapely

    lon, lat = _raw_points(real.data, source)
    area = _area_lonlat(real.data, source)
    ok = np.isfinite(lon) & np.isfinite(lat)
    inside = np.zeros(len(lon), dtype=bool)
    inside[ok] = shapely.covers(area, shapely.points(lon[ok], lat[ok]))
    core = core_rows(con, source, "source_row, lon, lat, is_located")
    assert core.height == len(lon)
    is_located = core["is_located"].to_numpy()
    assert (is_located != inside).sum() == 0
    np.testing.assert_allclose(core["lon"].to_numpy()[is_located], lon[is_located], rtol=0, atol=1e-7)
    np.testing.assert_allclose(core["lat"].to_numpy()[is_located], lat[is_located], rtol=0, atol=1e-7)


def test_vancouver_privacy_offset_rows_are_kept_unlocated_with_unknown_time(real, con):
    df = file_rows(real.data, VAN_FILE)
    zero = df.filter((pl.col("X").cast(pl.Float64) == 0) & (pl.col("Y").cast(pl.Float64) == 0))
    assert zero.height == 3_750
    assert set(zero["HUNDRED_BLOCK"].unique()) == {"OFFSET TO PROTECT PRIVACY"}
    core = core_rows(con, "vancouver_incidents", "source_row, is_located, location_issue, time_precision, lon")
    z = core.filter(pl.col("source_row").is_in(zero["source_row"].implode()))
    assert z.height == 3_750
    assert z["is_located"].sum() == 0
    assert set(z["location_issue"].unique()) == {"zero"}
    assert set(z["time_precision"].unique()) == {"unknown_time"}
    assert z["lon"].null_count() == 3_750
    # and no other row is marked zero or unknown_time
    assert core.filter(pl.col("location_issue") == "zero").height == 3_750
    assert core.filter(pl.col("time_precision") == "unknown_time").height == 3_750


def test_vancouver_row_without_coordinates_is_kept_as_missing(real, con):
    df = file_rows(real.data, VAN_FILE)
    missing = df.filter(pl.col("X").is_null() | pl.col("Y").is_null())
    assert missing.height == 1
    row = missing["source_row"][0]
    core = core_rows(con, "vancouver_incidents", "source_row, is_located, location_issue, occurred_from")
    hit = core.filter(pl.col("source_row") == row)
    assert hit.height == 1
    assert hit["is_located"][0] is False
    assert hit["location_issue"][0] == "missing"
    assert hit["occurred_from"][0] is not None
    assert core.filter(pl.col("location_issue") == "missing").height == 1


# ---------------------------------------------------------------------------------------------
# times and addresses (expected values worked out by hand)
# ---------------------------------------------------------------------------------------------


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(("source", "where", "col", "expected"), [
    # "04/19/2016 07:45:00 AM" Los Angeles, PDT (UTC-7)
    ("sf_calls", "call_id = '161100690'", "received_at", _utc(2016, 4, 19, 14, 45)),
    # row 1: 2020-06-19 03:40 Vancouver, PDT (UTC-7)
    ("vancouver_incidents", "source_row = 1", "occurred_from", _utc(2020, 6, 19, 10, 40)),
    # row 28: 2020-12-07 18:48 Vancouver, PST (UTC-8): the UTC date is the next day
    ("vancouver_incidents", "source_row = 28", "occurred_from", _utc(2020, 12, 8, 2, 48)),
    # row 1: "2010-01-01 00:05" Chicago, CST (UTC-6)
    ("chicago_assaults", "source_row = 1", "occurred_from", _utc(2010, 1, 1, 6, 5)),
    # row 8997: "2010-07-04 00:05" Chicago, CDT (UTC-5)
    ("chicago_assaults", "source_row = 8997", "occurred_from", _utc(2010, 7, 4, 5, 5)),
    # row 15365: "2010-11-07 01:30" happened twice that night; the documented rule takes standard time (UTC-6)
    ("chicago_assaults", "source_row = 15365", "occurred_from", _utc(2010, 11, 7, 7, 30)),
    # row 1: "Thu, Sept. 18th 2014" "01:53 p.m." New Haven, EDT (UTC-4)
    ("new_haven_incidents", "source_row = 1", "occurred_from", _utc(2014, 9, 18, 17, 53)),
])
def test_local_times_are_converted_to_utc(con, source, where, col, expected):
    table = SOURCES[source][0]
    got = con.execute(f"SELECT {col}, event_at FROM {table} WHERE source = ? AND {where}", [source]).fetchall()
    assert len(got) == 1, got
    assert got[0][0] == expected
    assert got[0][1] == expected


def test_hand_checked_rows_are_the_rows_we_think(real):
    """Guards the literals above: the file rows hold the local times the comments say."""
    sf = file_rows(real.data, SF_FILE).filter(pl.col("crime_id") == "161100690")
    assert sf["call_date_time"].to_list() == ["04/19/2016 07:45:00 AM"]
    van = file_rows(real.data, VAN_FILE).filter(pl.col("source_row").is_in([1, 28]))
    assert van.select("YEAR", "MONTH", "DAY", "HOUR", "MINUTE").rows() == [
        ("2020", "6", "19", "3", "40"), ("2020", "12", "7", "18", "48")]
    chi = file_rows(real.data, CHI_FILE).filter(pl.col("source_row").is_in([1, 8997, 15365]))
    assert chi["date"].to_list() == ["2010-01-01 00:05", "2010-07-04 00:05", "2010-11-07 01:30"]
    import pyogrio

    nh = pyogrio.read_dataframe(real.data / f"{NH_STEM}.shp", read_geometry=False, max_features=1)
    assert (nh["date"][0], nh["time"][0]) == ("Thu, Sept. 18th 2014", "01:53 p.m.")


@pytest.mark.parametrize(("source", "name", "col", "raw", "block"), [
    ("sf_calls", SF_FILE, "address", "1700 Block Of Jerrold Av", "1700 BLOCK JERROLD AVE"),
    ("vancouver_incidents", VAN_FILE, "HUNDRED_BLOCK", "10XX ALBERNI ST", "1000 BLOCK ALBERNI ST"),
])
def test_address_block_examples(real, con, source, name, col, raw, block):
    rows = file_rows(real.data, name).filter(pl.col(col) == raw)["source_row"]
    assert rows.len() > 0
    core = core_rows(con, source, "source_row, address_block").filter(pl.col("source_row").is_in(rows.implode()))
    assert core.height == rows.len()
    assert set(core["address_block"].unique()) == {block}


def test_new_haven_address_block(con):
    got = con.execute(
        "SELECT address_block FROM core.incidents WHERE source = 'new_haven_incidents' AND source_row = 1"
    ).fetchall()
    assert got == [("1600 BLOCK WHALLEY AVE",)]  # "1605 WHALLEY AVE" floored to the hundred


# ---------------------------------------------------------------------------------------------
# agency, audits, runs
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("source", list(SOURCES))
def test_agency_is_set_on_every_row(con, source):
    table, _, agency, n = SOURCES[source]
    got = con.execute(f"SELECT agency, count(*) FROM {table} WHERE source = ? GROUP BY ALL", [source]).fetchall()
    assert got == [(agency, n)]


def test_audit_results_cover_every_check_and_no_error_audit_failed(real, con):
    run_id = real.first.flow_run_id
    expected = {p.stem for p in (PROJECT / "sql" / "checks").glob("*.sql")}
    assert len(expected) >= 5
    rows = con.execute(
        "SELECT check_name, severity, status, rows FROM meta.audit_results WHERE run_id = ?", [run_id]
    ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(expected)  # each exactly once
    failed_errors = [r for r in rows if r[1] == "error" and r[2] != "pass"]
    assert failed_errors == []
    assert {r[0]: r[2] for r in rows} == {a["name"]: a["status"] for a in real.first.result["audits"]}
    for name in ("agency_set", "loads_reconcile", "located_inside_area", "unique_call_ids", "unique_incident_ids"):
        assert (name, "error") in {(r[0], r[1]) for r in rows}


def test_meta_runs_records_the_prefect_flow_run(real, con):
    assert real.first.result["run_id"] == real.first.flow_run_id
    rows = con.execute(
        "SELECT run_id, status, sources_ok, sources_failed, files_loaded, files_skipped, rows_read, rows_loaded "
        "FROM meta.runs"
    ).fetchall()
    total = sum(n for *_, n in SOURCES.values())
    assert rows == [(real.first.flow_run_id, "ok", 4, 0, 4, 0, total, total)]
    load_runs = con.execute("SELECT DISTINCT run_id FROM meta.loads").fetchall()
    assert load_runs == [(real.first.flow_run_id,)]


