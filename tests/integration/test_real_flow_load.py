"""The real Prefect nightly flow over the four real public feeds in ../shared/data.

One flow run loads all four sources (module-scoped fixture); the tests then read the published
warehouse read-only and check it against facts computed independently from the files (polars,
geopandas/shapely, pyproj) or by hand. Two later runs check that known bytes are skipped.
"""

from __future__ import annotations

import contextlib
import functools
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import PROJECT, copy_real_config, need_shared

pytestmark = [pytest.mark.shared, pytest.mark.slow]

SF_FILE = "sf_police_calls_2016_2020.csv"
VAN_FILE = "vancouver_crimes_2020.csv"
CHI_FILE = "chicago_aggravated_assaults_2010_2019.csv.gz"
NH_STEM = "new_haven/incidents_2014_09"

# source -> (core table, id column, agency code, rows in the file)
SOURCES = {
    "sf_calls": ("core.calls", "call_id", "sfpd", 24_833),
    "vancouver_incidents": ("core.incidents", "incident_id", "vpd", 37_512),
    "chicago_assaults": ("core.incidents", "incident_id", "cpd", 148_636),
    "new_haven_incidents": ("core.incidents", "incident_id", "nhpd", 3_293),
}


@dataclass
class Run:
    result: dict
    flow_run_id: str


@dataclass
class RealProject:
    proj: Path
    data: Path
    first: Run
    snapshot: Path  # byte copy of the published warehouse right after the first run


def _run_nightly(proj: Path) -> Run:
    """Run the real flow. The flow finds its project from the working directory (see find_project_dir)."""
    from flows.nightly import nightly

    with contextlib.chdir(proj):
        state = nightly(config_path=str(proj / "config" / "sara.toml"), return_state=True)
    result = state.result()
    return Run(result, str(state.state_details.flow_run_id))


@pytest.fixture(scope="module")
def real(request, tmp_path_factory) -> RealProject:
    data = need_shared()  # before the Prefect harness starts, so a skip costs nothing
    request.getfixturevalue("prefect_harness")
    proj = copy_real_config(tmp_path_factory.mktemp("real"))
    landing = proj / "data" / "landing"
    files = {
        "sf_calls": [SF_FILE],
        "vancouver_incidents": [VAN_FILE],
        "chicago_assaults": [CHI_FILE],
        "new_haven_incidents": [f"{NH_STEM}.{ext}" for ext in ("shp", "shx", "dbf")],
    }
    for source, names in files.items():
        (landing / source).mkdir(parents=True)
        for name in names:
            shutil.copyfile(data / name, landing / source / Path(name).name)
    first = _run_nightly(proj)
    published = proj / "data" / "warehouse" / "sara.duckdb"
    snapshot = proj / "run1.duckdb"
    shutil.copyfile(published, snapshot)
    return RealProject(proj, data, first, snapshot)


@pytest.fixture(scope="module")
def con(real):
    from transforms.warehouse.db import connect

    c = connect(real.snapshot, read_only=True)
    yield c
    c.close()


def _core(con, source: str, cols: str) -> pl.DataFrame:
    table = SOURCES[source][0]
    return con.execute(f"SELECT {cols} FROM {table} WHERE source = ? ORDER BY source_row", [source]).pl()


def _csv(data: Path, name: str) -> pl.DataFrame:
    """The file as text, with its 1-based data-row number (the warehouse's source_row)."""
    return pl.read_csv(data / name, infer_schema=False).with_row_index("source_row", offset=1)


def _core_counts(con) -> dict:
    out = {}
    for source, (table, id_col, _, _) in SOURCES.items():
        out[source] = con.execute(
            f"SELECT count(*), count(DISTINCT {id_col}), sum(hash({id_col})) FROM {table} WHERE source = ?",
            [source],
        ).fetchone()
    return out


def _loads(con) -> list[tuple]:
    return con.execute("SELECT * FROM meta.loads ORDER BY load_id").fetchall()


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
    rows = _core(con, source, "source_row")["source_row"]
    assert rows.to_list() == list(range(1, n_file + 1))


@pytest.mark.parametrize(("source", "name", "n_dup"), [
    ("vancouver_incidents", VAN_FILE, 1_739),
    ("chicago_assaults", CHI_FILE, 111),
])
def test_exact_duplicate_rows_are_kept_as_separate_records(real, con, source, name, n_dup):
    df = _csv(real.data, name)
    cols = [c for c in df.columns if c != "source_row"]
    assert df.height - df.select(cols).unique().height == n_dup
    # every copy after the first of an identical row
    extra = df.filter(pl.int_range(pl.len()).over(cols) > 0)["source_row"]
    assert extra.len() == n_dup
    id_col = SOURCES[source][1]
    core = _core(con, source, f"source_row, {id_col} AS id").filter(pl.col("source_row").is_in(extra.implode()))
    assert core.height == n_dup
    assert core["id"].n_unique() == n_dup
    # and the first copies are there too, with their own ids
    groups = df.filter(pl.struct(cols).is_duplicated())["source_row"]
    core_all = _core(con, source, f"source_row, {id_col} AS id").filter(pl.col("source_row").is_in(groups.implode()))
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
    core = _core(con, source, "source_row, lon, lat, is_located, location_issue")
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
    core = _core(con, source, "source_row, lon, lat, is_located")
    assert core.height == len(lon)
    is_located = core["is_located"].to_numpy()
    assert (is_located != inside).sum() == 0
    np.testing.assert_allclose(core["lon"].to_numpy()[is_located], lon[is_located], rtol=0, atol=1e-7)
    np.testing.assert_allclose(core["lat"].to_numpy()[is_located], lat[is_located], rtol=0, atol=1e-7)


def test_vancouver_privacy_offset_rows_are_kept_unlocated_with_unknown_time(real, con):
    df = _csv(real.data, VAN_FILE)
    zero = df.filter((pl.col("X").cast(pl.Float64) == 0) & (pl.col("Y").cast(pl.Float64) == 0))
    assert zero.height == 3_750
    assert set(zero["HUNDRED_BLOCK"].unique()) == {"OFFSET TO PROTECT PRIVACY"}
    core = _core(con, "vancouver_incidents", "source_row, is_located, location_issue, time_precision, lon")
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
    df = _csv(real.data, VAN_FILE)
    missing = df.filter(pl.col("X").is_null() | pl.col("Y").is_null())
    assert missing.height == 1
    row = missing["source_row"][0]
    core = _core(con, "vancouver_incidents", "source_row, is_located, location_issue, occurred_from")
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
    sf = _csv(real.data, SF_FILE).filter(pl.col("crime_id") == "161100690")
    assert sf["call_date_time"].to_list() == ["04/19/2016 07:45:00 AM"]
    van = _csv(real.data, VAN_FILE).filter(pl.col("source_row").is_in([1, 28]))
    assert van.select("YEAR", "MONTH", "DAY", "HOUR", "MINUTE").rows() == [
        ("2020", "6", "19", "3", "40"), ("2020", "12", "7", "18", "48")]
    chi = _csv(real.data, CHI_FILE).filter(pl.col("source_row").is_in([1, 8997, 15365]))
    assert chi["date"].to_list() == ["2010-01-01 00:05", "2010-07-04 00:05", "2010-11-07 01:30"]
    import pyogrio

    nh = pyogrio.read_dataframe(real.data / f"{NH_STEM}.shp", read_geometry=False, max_features=1)
    assert (nh["date"][0], nh["time"][0]) == ("Thu, Sept. 18th 2014", "01:53 p.m.")


@pytest.mark.parametrize(("source", "name", "col", "raw", "block"), [
    ("sf_calls", SF_FILE, "address", "1700 Block Of Jerrold Av", "1700 BLOCK JERROLD AVE"),
    ("vancouver_incidents", VAN_FILE, "HUNDRED_BLOCK", "10XX ALBERNI ST", "1000 BLOCK ALBERNI ST"),
])
def test_address_block_examples(real, con, source, name, col, raw, block):
    rows = _csv(real.data, name).filter(pl.col(col) == raw)["source_row"]
    assert rows.len() > 0
    core = _core(con, source, "source_row, address_block").filter(pl.col("source_row").is_in(rows.implode()))
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


# ---------------------------------------------------------------------------------------------
# idempotence (these runs change the published warehouse; the tests above read the snapshot)
# ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rerun(real):
    return _run_nightly(real.proj)


def _published(real):
    from transforms.warehouse.db import connect

    return connect(real.proj / "data" / "warehouse" / "sara.duckdb", read_only=True)


def test_second_run_over_the_same_files_changes_nothing(real, con, rerun):
    res = rerun.result
    assert res["status"] == "ok", res["message"]
    assert rerun.flow_run_id != real.first.flow_run_id
    for source in SOURCES:
        d = res["sources"][source]
        assert (d["files"], d["skipped"], d["failed"], d["read"], d["loaded"]) == (1, 1, 0, 0, 0), (source, d)
    before_counts, before_loads = _core_counts(con), _loads(con)
    after = _published(real)
    try:
        assert _core_counts(after) == before_counts
        assert _loads(after) == before_loads
        run = after.execute(
            "SELECT status, files_loaded, files_skipped, rows_read FROM meta.runs WHERE run_id = ?",
            [rerun.flow_run_id],
        ).fetchall()
        assert run == [("ok", 0, 4, 0)]
    finally:
        after.close()


def test_a_renamed_copy_of_a_loaded_file_is_skipped_as_the_same_bytes(real, con, rerun):
    copy = real.proj / "data" / "landing" / "sf_calls" / "sf_calls_copy_under_another_name.csv"
    shutil.copyfile(real.data / SF_FILE, copy)
    run = _run_nightly(real.proj)
    d = run.result["sources"]["sf_calls"]
    assert (d["files"], d["skipped"], d["failed"], d["read"], d["loaded"]) == (2, 2, 0, 0, 0), d
    before_counts, before_loads = _core_counts(con), _loads(con)
    after = _published(real)
    try:
        assert _core_counts(after) == before_counts
        assert _loads(after) == before_loads
        assert after.execute("SELECT count(*) FROM meta.loads WHERE path = ?", [str(copy)]).fetchone()[0] == 0
    finally:
        after.close()


# ---------------------------------------------------------------------------------------------
# street segments: New Haven incidents snapped to the TIGER centrelines
# ---------------------------------------------------------------------------------------------


def test_new_haven_incidents_snap_to_their_nearest_street_within_tolerance(real, tmp_path):
    import geopandas as gpd
    import numpy as np

    from transforms.config import load_settings
    from transforms.marts import build as marts
    from transforms.warehouse.db import connect

    tol = 30.0  # config/sara.toml [analysis] snap_tolerance_m
    # The extract is years old, before the marts' horizon of a run today: build New Haven's marts as of the
    # extract's last day, in a copy of the published warehouse.
    db = tmp_path / "nh.duckdb"
    shutil.copyfile(real.snapshot, db)
    con = connect(db)
    try:
        last = con.execute("SELECT max(CAST(timezone('America/New_York', event_at) AS DATE)) FROM core.incidents "
                           "WHERE source = 'new_haven_incidents'").fetchone()[0]
        settings = load_settings(real.proj / "config" / "sara.toml", real.proj).for_agency("nhpd")
        marts.build_all(con, settings, as_of=last)
        ev = con.execute(
            """SELECT e.event_id, e.x, e.y, eu.unit_id FROM marts.events e
               JOIN marts.event_units eu USING (dataset, source, event_id)
               WHERE e.source = 'new_haven_incidents' AND eu.unit_type = 'street'""").df()
        located = con.execute("SELECT count(*) FROM core.incidents WHERE source = 'new_haven_incidents' "
                              "AND is_located AND NOT is_void").fetchone()[0]
        units = con.execute("SELECT count(*) FROM marts.units WHERE agency = 'nhpd' AND unit_type = 'street'"
                            ).fetchone()
    finally:
        con.close()
    assert len(ev) == located  # every located incident (all within the horizon) has its street row
    streets = gpd.read_file(real.data / "new_haven" / "streets.shp").to_crs("EPSG:26918")
    pts = gpd.GeoSeries(gpd.points_from_xy(ev["x"], ev["y"]), crs="EPSG:26918")
    # independent nearest-segment distance for every event (geopandas sjoin_nearest, not the code under test)
    near = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=pts), streets[["LINEARID", "geometry"]],
                             distance_col="d").groupby(level=0).agg({"d": "min", "LINEARID": "first"})
    snapped = ev["unit_id"].notna().to_numpy()
    assert snapped.sum() > 0.9 * len(ev)  # nearly every incident is on a street
    assert (near["d"].to_numpy()[snapped] <= tol + 1e-6).all()
    assert (near["d"].to_numpy()[~snapped] > tol - 1e-6).all()  # the unsnapped ones are farther away
    same = ev["unit_id"].to_numpy()[snapped] == near["LINEARID"].to_numpy()[snapped]
    d_snap = near["d"].to_numpy()[snapped]
    # where two segments are equally near (an intersection) either is right; elsewhere the same one
    assert same.mean() > 0.9 and np.isfinite(d_snap).all()
    assert units[0] == 1537


@pytest.mark.parametrize("source", ["sf_calls", "vancouver_incidents"])
def test_public_extract_of_real_data_leaks_nothing(real, con, source, tmp_path):
    from tests.leakscan import house_number_leaks, leaked_values
    from transforms.config import load_settings
    from transforms.outputs.publish import publish_events, write_extract

    settings = load_settings(real.proj / "config" / "sara.toml", project_dir=real.proj)
    src = settings.sources[source]
    table = "core.calls" if src.kind == "calls" else "core.incidents"
    core = con.execute(f"SELECT * FROM {table} WHERE source = ?", [source]).pl()
    agency = settings.sara.agencies[src.agency]
    policy = settings.sara.publish
    public, log = publish_events(core, src.kind, policy, has_juvenile_flag="juvenile_flag" in src.columns,
                                 analysis_crs=agency.crs, timezone=agency.timezone)
    write_extract(public, tmp_path, source, policy=policy, dataset=src.kind, masking_log=log)
    assert public.height == core.filter(~pl.col("is_void")).height
    assert leaked_values(core, policy.allowlist(src.kind), tmp_path) == []
    # no published address holds a house number; unmapped codes are masked
    assert house_number_leaks(tmp_path, columns={"address_block"}) == []
    cat = "call_category" if src.kind == "calls" else "offense_category"
    unmapped = public.filter(pl.col(cat).is_in(["Unmapped", "Unknown"]) | pl.col(cat).is_null())
    assert unmapped["masking_reason"].str.contains("unmapped_code").all() and unmapped["lon"].null_count() == unmapped.height
    counts = dict(log.filter(pl.col("kind") == "masking").select("reason", "rows").iter_rows())
    assert counts.get("unmapped_code", 0) == unmapped.height
    # no published point is an exact location
    if source == "vancouver_incidents":
        person = public.filter(pl.col("offense_category").is_in(policy.sensitive_categories))
        assert person["lon"].null_count() == person.height
    exact = set(zip(core["lon"].drop_nulls().round(6).to_list(), core["lat"].drop_nulls().round(6).to_list(),
                    strict=True))
    snapped = public.filter(pl.col("lon").is_not_null())
    hits = sum((round(a, 6), round(b, 6)) in exact for a, b in zip(snapped["lon"], snapped["lat"], strict=True))
    assert hits < 0.001 * max(snapped.height, 1)
    # neither feed has a juvenile flag: the extract says masking relies on the category list alone
    assert "juvenile masking relies on the category list alone" in log.filter(pl.col("kind") == "note")["detail"]
