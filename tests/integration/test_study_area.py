"""The study-area check (marts.study_area, the run's warning) and Gi* permutation inference in the hot spot mart,
through a real nightly flow on two synthetic agencies: one whose area is a generous bbox with every event in one
corner, one whose small area the events fill."""

from __future__ import annotations

import contextlib
import shutil

import duckdb
import numpy as np
import pytest

from tests.support.project import write_project

TOML = """
sources = ["cad_wide", "cad_tight"]
windows_days = [7, 28]
[time]
as_of = "2024-03-31"
[agencies.wide]
name = "Wide County"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-122.52, 37.70, -122.40, 37.80]
[agencies.tight]
name = "Tight Town"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-122.300, 37.800, -122.290, 37.808]
[analysis]
cell_size_m = 250
knox_groups = []
gi_permutations = 9999
"""

CAD = r"""
name: NAME
kind: calls
agency: AGENCY
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  received_at: {columns: [when], formats: ["%Y-%m-%d %H:%M"]}
columns: {call_type_code: type}
coordinates: {x: lon, y: lat, crs: EPSG:4326}
crosswalks: {call_types: config/crosswalks/types.csv}
"""
TYPES = "code,call_type,call_category,origin\nDIST,Disturbance,Disorder,community\n"


def _events(rng, n: int, lon: tuple[float, float], lat: tuple[float, float]) -> list[str]:
    rows = ["id,when,type,lon,lat"]
    for i in range(n):
        rows.append(f"E{i},2024-03-{4 + i % 27:02d} 12:00,DIST,{rng.uniform(*lon):.6f},{rng.uniform(*lat):.6f}")
    return rows


@pytest.fixture(scope="module")
def night(tmp_path_factory, prefect_harness):
    from flows.nightly import nightly

    tmp = tmp_path_factory.mktemp("study_area")
    sources = {f"cad_{a}": CAD.replace("NAME", f"cad_{a}").replace("AGENCY", a) for a in ("wide", "tight")}
    proj = write_project(tmp / "proj", sources, toml=TOML, crosswalks={"types.csv": TYPES})
    rng = np.random.default_rng(4)
    data = {"wide": _events(rng, 80, (-122.518, -122.513), (37.701, 37.705)),   # ~450 m x 450 m in a corner
            "tight": _events(rng, 80, (-122.2995, -122.2905), (37.8005, 37.8075))}
    for a, rows in data.items():
        landing = proj / "data" / "landing" / f"cad_{a}"
        landing.mkdir(parents=True)
        (landing / "calls.csv").write_text("\n".join(rows) + "\n")
    with contextlib.chdir(proj):
        result = nightly(config_path=str(proj / "config" / "sara.toml"))
    yield proj, result
    shutil.rmtree(tmp, ignore_errors=True)


def test_a_generous_bbox_is_warned_about(night):
    proj, result = night
    assert result["status"] == "ok", result["message"]
    with duckdb.connect(result["warehouse"], read_only=True) as con:
        rows = {r[0]: r[1:] for r in con.execute(
            """SELECT agency, area_from, n_cells, n_cells_with_events_window, share_empty_window,
                      share_in_data_extent, warning FROM marts.study_area""").fetchall()}
    area_from, n_cells, with_events, share_empty, in_extent, warning = rows["wide"]
    assert area_from == "bbox" and n_cells > 1000 and with_events <= 9
    assert share_empty > 0.99 and in_extent < 0.01
    assert "much larger than where events happen" in warning and "agencies.wide.boundary" in warning
    # the tight town's events fill its area: no warning
    assert rows["tight"][0] == "bbox" and rows["tight"][3] < 0.5 and rows["tight"][5] is None
    # the run says so: in its result (which `sara run` prints) and in the health artifact's text
    assert [w["agency"] for w in result["area_warnings"]] == ["wide"]
    assert result["area_warnings"][0]["warning"] == warning


def test_sara_run_prints_the_warning(night):
    from flows.cli.common import console
    from flows.cli.nightly import _print_run

    _, result = night
    with console.capture() as cap:
        _print_run(result)
    text = " ".join(cap.get().split())
    assert "study area, wide:" in text and "much larger than where events happen" in text
    assert "study area, tight" not in text


def test_hot_spots_carry_permutation_inference_and_own_counts(night):
    _, result = night
    with duckdb.connect(result["warehouse"], read_only=True) as con:
        rows = con.execute(
            """SELECT n, z, gi_bin, p_sim, gi_bin_sim FROM marts.hotspot_stats
               WHERE agency = 'wide' AND unit_type = 'grid' AND window_days = 28 AND origin = 'all'
                 AND category_group = 'all'""").fetchall()
    n, z, gi_bin, p_sim, gi_bin_sim = (np.array(c, dtype=float) for c in zip(*rows, strict=True))
    assert n.sum() == 80 and np.isfinite(p_sim).all()
    assert p_sim.min() >= 1 / 10_000 and p_sim.max() <= 1
    # the corner cluster is hot both ways; the permutation bins flag no cell far from it
    hot_sim = gi_bin_sim > 0
    assert hot_sim.any() and (gi_bin > 0).any()
    assert np.all(z[hot_sim] > 0)


def test_emerging_hot_spot_rows_carry_the_cells_own_counts(night):
    _, result = night
    with duckdb.connect(result["warehouse"], read_only=True) as con:
        got = con.execute(
            """SELECT sum(n), sum(n_last_step) FROM marts.emerging_hotspot_rows
               WHERE agency = 'wide' AND category_group = 'all' AND origin = 'all'""").fetchone()
        last_week = con.execute(
            """SELECT count(*) FROM core.calls WHERE agency = 'wide'
               AND CAST(timezone('America/Los_Angeles', event_at) AS DATE) > DATE '2024-03-24'""").fetchone()[0]
    assert got == (80, last_week) and last_week > 0
