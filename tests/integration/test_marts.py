"""The shared dimensions, units, event-unit assignment, counts and Gi* marts on a hand-made city (the fixture
square_city in tests/conftest.py: a 1 km square in UTM 10N, 12 burglaries in one cell and four other calls)."""

from __future__ import annotations

from datetime import date

import pytest
import shapely

from transforms.config import load_settings
from transforms.marts import build as marts


def test_grid_is_clipped_and_ids_are_stable(square_city):
    con, counts, _ = square_city
    assert counts["as_of"] == "2024-03-31"
    grid = con.execute("SELECT unit_id, area_m2 FROM marts.units WHERE unit_type = 'grid' ORDER BY unit_id").fetchall()
    # the square spans x 550100..551100 -> cells 0..4 (origin 550000, 250 m); same for y: 5 x 5 = 25 cells
    assert len(grid) == 25
    assert abs(sum(a for _, a in grid) - 1_000_000) < 1e-3  # clipped to the city: the areas add up to it
    assert dict(grid)["1_1"] == pytest.approx(250 * 250)
    assert dict(grid)["0_0"] == pytest.approx(150 * 150)  # a corner cell clipped by the boundary


def test_counts_by_window_origin_and_group(square_city):
    con, _, _ = square_city
    got = dict(((w, o, g), n) for w, o, g, n in con.execute(
        """SELECT window_days, origin, category_group, sum(n) FROM marts.hotspot_counts
           WHERE unit_type = 'grid' GROUP BY ALL""").fetchall())
    assert got[(7, "all", "all")] == 12 and got[(7, "community", "property")] == 12
    assert got[(28, "all", "all")] == 13 and got[(28, "officer", "all")] == 1
    assert (7, "officer", "all") not in got  # only non-zero counts are stored
    assert con.execute("SELECT count(*) FROM marts.hotspot_counts WHERE unit_type = 'grid' AND window_days = 7 "
                       "AND origin = 'all' AND category_group = 'all'").fetchone()[0] == 1


def test_gi_star_covers_every_unit_and_finds_the_cluster(square_city):
    con, _, _ = square_city
    rows = con.execute(
        """SELECT unit_id, n, z, gi_bin, n_neighbors FROM marts.hotspots
           WHERE unit_type = 'grid' AND window_days = 7 AND origin = 'all' AND category_group = 'all'"""
    ).fetchall()
    assert len(rows) == 25  # every cell of the study area, zero-count ones included
    by_id = {r[0]: r for r in rows}
    assert by_id["1_1"][1] == 12 and by_id["1_1"][2] > 0
    assert by_id["0_0"][4] == 4 and by_id["2_2"][4] == 9  # corner: self + 3; interior: queen 9
    # hand check of Gi* for the cluster cell: n = 25, y = 12 at one cell, queen of 1_1 holds it
    n, w, s_i, ybar = 25, 9, 12.0, 12 / 25
    s = (12 ** 2 / 25 - ybar ** 2) ** 0.5
    z = (s_i - ybar * w) / (s * ((n * w - w * w) / (n - 1)) ** 0.5)
    assert by_id["1_1"][2] == pytest.approx(z, abs=1e-9)


def test_rebuild_is_idempotent_and_incremental(square_city):
    con, counts, settings = square_city
    before = con.execute("SELECT count(*) FROM marts.event_units").fetchone()[0]
    again = marts.build_all(con, settings)
    assert again == counts
    assert con.execute("SELECT count(*) FROM marts.event_units").fetchone()[0] == before
    assert again["as_of"] == str(date(2024, 3, 31))


def test_emerging_kde_and_accuracy_marts_exist_for_every_cell(square_city):
    con, _, _ = square_city
    em = con.execute("""SELECT count(*), count(DISTINCT status) FROM marts.emerging_hotspots
                        WHERE dataset = 'calls' AND category_group = 'all' AND origin = 'all'""").fetchone()
    assert em == (25, 1)
    kde = dict(con.execute("""SELECT unit_id, density_km2 FROM marts.kde WHERE window_days = 28
                              AND category_group = 'all' AND origin = 'all'""").fetchall())
    assert len(kde) == 25 and kde["1_1"] == max(kde.values()) and kde["4_4"] < kde["1_1"]
    # no events in the period before the last 28 days: nothing to predict from, so no accuracy rows
    assert con.execute("SELECT count(*) FROM marts.hotspot_accuracy").fetchone()[0] == 0


def test_unit_sets_are_cached_by_value(square_city):
    """The unit sets depend on config and layer files only: two loads of one config share them, and a
    changed config or layer file builds them again."""
    import os

    from transforms.marts.units import static_units

    _, _, settings = square_city
    first = static_units(settings)
    again = load_settings(settings.config_path, project_dir=settings.project_dir)
    assert again is not settings and static_units(again) is first
    coarser = load_settings(settings.config_path, project_dir=settings.project_dir)
    coarser.sara = coarser.sara.model_copy(update={"analysis": coarser.sara.analysis.model_copy(
        update={"cell_size_m": 500})})
    assert static_units(coarser) is not first and len(static_units(coarser)["city"]["grid"].unit_id) < 25
    boundary = settings.resolve(settings.sara.agencies["city"].boundary)
    st = boundary.stat()
    os.utime(boundary, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert static_units(settings) is not first


def _columns(con, table: str) -> list[tuple[str, str]]:
    return [tuple(r) for r in con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = ? "
        "ORDER BY column_index", [table]).fetchall()]


def test_an_empty_mart_has_its_full_schema(square_city):
    """A mart with no rows has the columns and types it has with rows (a GIS layer or a report reading an
    empty night still finds every column)."""
    con, _, _ = square_city
    # no events before the last 28 days: no accuracy rows; no problem files: no problem rows
    for table in ("hotspot_accuracy", "problem_assessment", "problem_daily", "problem_areas"):
        assert con.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0] == 0, table
    assert _columns(con, "hotspot_accuracy") == [
        ("agency", "VARCHAR"), ("dataset", "VARCHAR"), ("category_group", "VARCHAR"), ("origin", "VARCHAR"),
        ("method", "VARCHAR"), ("coverage", "DOUBLE"), ("n_cells", "BIGINT"), ("area", "DOUBLE"),
        ("area_share", "DOUBLE"), ("n_events", "DOUBLE"), ("total_events", "DOUBLE"), ("hit_rate", "DOUBLE"),
        ("pai", "DOUBLE"), ("n_best", "DOUBLE"), ("pai_best", "DOUBLE"), ("pei", "DOUBLE"),
        ("last_period", "VARCHAR"), ("this_period", "VARCHAR")]
    cols = dict(_columns(con, "problem_assessment"))
    assert len(cols) == 43 and cols["wdd"] == "DOUBLE" and cols["response_date"] == "DATE"


def test_every_mart_written_from_python_has_its_declared_schema(square_city):
    from transforms.marts import (
        compstat,
        density,
        dimensions,
        emerging_hotspots,
        hotspots,
        near_repeat,
        place_concentration,
        problems,
        temporal_profile,
        units,
    )
    from transforms.marts.write import Mart

    con, _, _ = square_city
    declared = [m for mod in (compstat, density, dimensions, emerging_hotspots, hotspots, near_repeat,
                              place_concentration, problems, temporal_profile, units)
                for m in vars(mod).values() if isinstance(m, Mart)]
    assert len(declared) == 21
    for m in declared:
        assert _columns(con, m.name) == m.columns, m.name
        comment = con.execute("SELECT comment FROM duckdb_tables() WHERE schema_name = 'marts' AND table_name = ?",
                              [m.name]).fetchone()[0]
        assert comment == m.comment, m.name


def test_repeat_concentration_profile_and_near_repeat_marts(square_city):
    import numpy as np

    from transforms.stats.concentration import gini

    con, _, _ = square_city
    # every event of the repeat window is at exactly one location row (per dimension)
    n_loc = con.execute("""SELECT sum(n_repeat_window) FROM marts.repeat_location_rows
                           WHERE dataset = 'calls' AND category_group = 'all' AND origin = 'all'""").fetchone()[0]
    # 12 burglaries + 1 stop in the window; the out-of-area call has neither an address nor a location, so no
    # location_key, and the 2023 call is outside the repeat window
    assert n_loc == 13
    last = con.execute("""SELECT max(cum_share_events), max(cum_share_locations) FROM marts.repeat_location_rows
                          WHERE dataset = 'calls' AND category_group = 'all' AND origin = 'all'""").fetchone()
    assert last == (1.0, 1.0)
    # Gini over the 25 grid cells, recomputed from the counts by the textbook formula
    counts = np.zeros(25)
    got = con.execute("""SELECT eu.unit_id, count(*) FROM marts.events e JOIN marts.event_units eu
                         USING (dataset, source, event_id) WHERE eu.unit_type = 'grid'
                         AND e.local_date >= DATE '2023-04-02' GROUP BY 1""").fetchall()
    for i, (_, n) in enumerate(got):
        counts[i] = n
    g = np.abs(counts[:, None] - counts[None, :]).sum() / (2 * 25 ** 2 * counts.mean())
    row = con.execute("""SELECT gini, n_places, n_events FROM marts.concentration WHERE unit_type = 'grid'
                         AND dataset = 'calls' AND category_group = 'all'""").fetchone()
    assert row[1:] == (25, counts.sum()) and row[0] == pytest.approx(g) == pytest.approx(gini(counts))
    # hour-of-week profile: every event of the window with an exact time (located or not: the out-of-area
    # call counts here), weights summing to the number of events
    prof = con.execute("""SELECT sum(weight), count(*) FROM marts.temporal_profile WHERE unit_type = 'agency'
                          AND dataset = 'calls' AND category_group = 'all'""").fetchone()
    assert prof[1] == 168 and prof[0] == pytest.approx(counts.sum() + 1)
    # Knox on the property group: the 12 burglaries are close in space and time
    # Burglary i is at (550360 + i, 4180360 + i) on 2024-03-(25 + i % 6): any two are sqrt(2) * |i - j| m
    # apart (1.4 to 15.6 m, inside [1, 100) m) and at most 5 days apart (inside [0, 7) days), so every one of
    # the 12 * 11 / 2 = 66 pairs is in this cell; the only other property event with a location (OLD, 2023)
    # is 760 m and a year from them.
    nr = con.execute("""SELECT observed FROM marts.near_repeat WHERE category_group = 'property'
                        AND space_lo = 1 AND space_hi = 100 AND time_lo = 0 AND time_hi = 7""").fetchone()
    assert nr == (66,)
    assert con.execute("SELECT count(DISTINCT chain_id) FROM marts.near_repeat_events").fetchone()[0] >= 1


def test_marts_read_events_from_the_horizon_on(square_city):
    """marts.events starts at the earliest date any mart needs (here compstat's year-to-date of last year,
    2023-01-01), so a night's mart cost is bounded by the windows, not by history."""
    from datetime import timedelta

    con, _, _ = square_city
    need = dict(con.execute("SELECT needed_by, first_date FROM marts.horizon WHERE agency = 'city'").fetchall())
    as_of = date(2024, 3, 31)
    assert need["windows_days"] == as_of - timedelta(days=27)
    assert need["repeat_window_days"] == date(2023, 4, 2)  # 365 local days ending 2024-03-31 (a leap year)
    assert need["prediction_period_days"] == as_of - timedelta(days=55)
    assert need["compstat (ytd and the same period last year)"] == date(2023, 1, 1)
    first = con.execute("SELECT first_date FROM marts.horizon WHERE is_first").fetchall()
    assert first == [(date(2023, 1, 1),)]
    ids = {r[0] for r in con.execute("SELECT event_id FROM marts.events").fetchall()}
    assert "OLD" in ids and "ANCIENT" not in ids
    assert con.execute("SELECT count(*) FROM core.calls WHERE call_id = 'ANCIENT'").fetchone()[0] == 1
    assert con.execute("SELECT count(*) FROM marts.event_units WHERE event_id = 'ANCIENT'").fetchone()[0] == 0
    months = [r[0] for r in con.execute("SELECT DISTINCT month FROM marts.response_times_excluded").fetchall()]
    assert months and min(months) >= date(2023, 1, 1)


def test_a_layer_field_left_empty_is_null_in_the_units(tmp_path):
    """A street without a name (or an id) in its layer file is a NULL in marts.units, never the text 'nan'."""
    import geopandas as gpd

    from transforms.marts.units import street_units, to_arrow

    path = tmp_path / "streets.geojson"
    lines = [shapely.LineString([(550100, 4180100), (550200, 4180100)]),
             shapely.LineString([(550200, 4180100), (550300, 4180100)])]
    gpd.GeoDataFrame({"seg": ["s1", None], "street": ["MAIN ST", None]}, geometry=lines,
                     crs="EPSG:32610").to_file(path)
    t = to_arrow(street_units(str(path), "seg", "street", None, "EPSG:32610"), "city")
    assert t["unit_id"].to_pylist() == ["s1", None] and t["name"].to_pylist() == ["MAIN ST", None]
