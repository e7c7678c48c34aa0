"""The real Prefect nightly flow over the four real public feeds in ../shared/data: later runs over the same
files change nothing, New Haven's incidents snap to their streets, and the public extracts leak nothing.
"""

from __future__ import annotations

import shutil

import polars as pl
import pytest

from tests.support.real import (
    SF_FILE,
    SOURCES,
    all_loads,
    core_counts,
    run_real_nightly,
)

pytestmark = [pytest.mark.shared, pytest.mark.slow]


@pytest.fixture
def con(real_con):
    """The warehouse as the first run published it."""
    return real_con


@pytest.fixture
def rerun(real_rerun):
    """A second nightly run over the same files."""
    return real_rerun


# ---------------------------------------------------------------------------------------------
# idempotence (these runs change the published warehouse; the tests above read the snapshot)
# ---------------------------------------------------------------------------------------------


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
    before_counts, before_loads = core_counts(con), all_loads(con)
    after = _published(real)
    try:
        assert core_counts(after) == before_counts
        assert all_loads(after) == before_loads
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
    run = run_real_nightly(real.proj)
    d = run.result["sources"]["sf_calls"]
    assert (d["files"], d["skipped"], d["failed"], d["read"], d["loaded"]) == (2, 2, 0, 0, 0), d
    before_counts, before_loads = core_counts(con), all_loads(con)
    after = _published(real)
    try:
        assert core_counts(after) == before_counts
        assert all_loads(after) == before_loads
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
    from tests.support.leakscan import house_number_leaks, leaked_values
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
