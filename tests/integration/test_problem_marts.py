"""The SARA problem marts (transforms/marts/problems.py) on a hand-made events table in a DuckDB file:
daily counts per area and period, the assessment (WDD, WDQ, Poisson z, E-test) counted by hand."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support.problems import X0, Y0, problem, problem_settings, write_problem
from transforms.config.problems import load_problems
from transforms.marts.problems import build_problem_marts
from transforms.stats.wdd import e_test, poisson_z, wdd
from transforms.warehouse.db import connect

PRE, POST = date(2026, 1, 3), date(2026, 1, 15)


def _events_db(path: Path):
    con = connect(path)
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.events (dataset VARCHAR, source VARCHAR, agency VARCHAR, event_id VARCHAR,
                   event_at TIMESTAMPTZ, local_date DATE, category VARCHAR, event_type VARCHAR, origin VARCHAR,
                   x DOUBLE, y DOUBLE, is_located BOOLEAN, location_key VARCHAR)""")
    rows = []

    def add(n, d, x, y, category="Burglary", located=True, agency="metro", key=None):
        for _ in range(n):
            rows.append(("incidents", "src", agency, f"e{len(rows)}", None, d, category, "BURG", "unknown",
                         x if located else None, y if located else None, located, key))

    add(5, PRE, X0 + 10, Y0)                    # target pre
    add(2, POST, X0, Y0 - 50, key="1 MAIN ST")  # target post
    add(3, PRE, X0 + 150, Y0)                   # buffer (ring 100..300 m) pre
    add(4, POST + timedelta(days=2), X0, Y0 + 250)  # buffer post
    add(10, PRE, 501500, 4999500)               # control pre
    add(12, POST, 501500, 4999500)              # control post
    add(2, PRE, 510000, 5010000)                # outside every area
    add(1, PRE, 0, 0, located=False)            # no coordinates
    add(3, PRE, X0, Y0, category="Larceny")     # another category, in the target
    add(2, date(2025, 12, 31), X0, Y0)          # outside the windows
    add(4, date(2026, 1, 12), X0, Y0, agency="county")  # another agency
    con.executemany("INSERT INTO marts.events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return con


def test_problem_marts_hand_counts(tmp_path):
    s = problem_settings(tmp_path)
    write_problem(tmp_path / "problems", problem())
    problems = load_problems(s, tmp_path / "problems")
    con = _events_db(tmp_path / "w.duckdb")
    assert build_problem_marts(con, s, problems) == 1

    daily = con.execute("SELECT area, period, local_date, n FROM marts.problem_daily ORDER BY ALL").df()
    assert len(daily) == 3 * 20  # 10 pre + 10 post days per area, zeros included
    assert set(daily.period) == {"pre", "post"}
    assert (daily.n == 0).sum() == 60 - 6
    tot = daily.groupby(["area", "period"]).n.sum().to_dict()
    assert tot == {("target", "pre"): 5, ("target", "post"): 2, ("buffer", "pre"): 3, ("buffer", "post"): 4,
                   ("control", "pre"): 10, ("control", "post"): 12}
    one = daily[(daily.area == "buffer") & (daily.local_date.astype(str).str[:10] == str(POST + timedelta(days=2)))]
    assert one.n.tolist() == [4]

    r = con.execute("SELECT * FROM marts.problem_assessment").df().iloc[0]
    assert (r.target_pre, r.target_post, r.buffer_pre, r.buffer_post, r.control_pre, r.control_post) == (
        5, 2, 3, 4, 10, 12)
    # by hand: WDD = (2-5) - (12-10) + (4-3) - (12-10) = -6, Var = 5+2+10+12+3+4+10+12 = 58
    assert r.wdd == pytest.approx(-6) and r.wdd_se == pytest.approx(58**0.5)
    ref = wdd((10, 12), (5, 2), (10, 12), (3, 4))
    assert r.wdd_z == pytest.approx(ref.z) and r.wdd_p == pytest.approx(ref.p_value)
    assert r.wdd_ci_low == pytest.approx(ref.ci_low) and r.wdd_ci_high == pytest.approx(ref.ci_high)
    assert r.wdq_success == pytest.approx(2 / 12 - 5 / 10)
    assert r.wdq_buffer_measure == pytest.approx(4 / 12 - 3 / 10)
    assert r.poisson_z == pytest.approx(poisson_z(5, 2))
    assert r.etest_p_drop == pytest.approx(e_test(5, 2, alternative="greater").p_value)
    assert r.etest_p_two_sided == pytest.approx(e_test(5, 2).p_value)
    assert r.sentence.startswith("Incidents in the target fell from 5 to 2")

    areas = con.execute("SELECT area, area_m2, ST_Area(geom) AS a FROM marts.problem_areas ORDER BY area").df()
    assert list(areas.area) == ["buffer", "control", "target"]
    assert areas.a.to_numpy() == pytest.approx(areas.area_m2.to_numpy())
    assert areas.set_index("area").area_m2["control"] == pytest.approx(1e6)
    con.close()


def test_area_weighting_and_location_keys(tmp_path):
    s = problem_settings(tmp_path)
    folder = tmp_path / "problems"
    write_problem(folder, problem(name="byarea", control_weighting="area"))
    write_problem(folder, problem(name="bykey", target={"location_keys": ["1 MAIN ST"]}))
    con = _events_db(tmp_path / "w.duckdb")
    build_problem_marts(con, s, load_problems(s, folder))
    a = con.execute("SELECT * FROM marts.problem_assessment WHERE problem = 'byarea'").df().iloc[0]
    at, ad, ac = (a.target_area_m2, a.buffer_area_m2, a.control_area_m2)
    ref = wdd((10, 12), (5, 2), (10, 12), (3, 4), area_weights=(ac / at, 1, ac / ad, 1))
    assert a.wdd == pytest.approx(ref.wdd) and a.wdd_z == pytest.approx(ref.z)
    assert a.wdd == pytest.approx(-3 - 2 * at / ac + 1 - 2 * ad / ac)
    k = con.execute("SELECT * FROM marts.problem_assessment WHERE problem = 'bykey'").df().iloc[0]
    assert (k.target_pre, k.target_post) == (0, 2)  # only the events at the key
    con.close()


