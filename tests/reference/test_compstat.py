"""CompStat marts on a hand-made handful of events and calls; expected values computed by hand."""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pytest

from transforms.marts import compstat as cs
from transforms.marts.dimensions import periods, write_agency_zones
from transforms.marts.models import run_model
from transforms.warehouse.db import connect

AS_OF = date(2024, 3, 1)  # leap year: the week 2024-02-24..03-01 holds Feb 29

# (event_id, local_date, category, event_type, district, beat, location_key)
EVENTS = [
    ("1", "2024-02-29", "Violent Crime", "Assault", "D1", "B1", "L1"),     # week, 28d, ytd
    ("2", "2024-03-01", "Property Crime", "Burglary", "D1", "B1", "L1"),   # week, 28d, ytd
    ("3", "2024-02-10", "Property Crime", "Burglary", "D1", "B1", "L1"),   # 28d, ytd
    ("4", "2024-01-15", "Violent Crime", "Assault", "D1", "B1", None),     # ytd
    ("5", "2023-02-28", "Violent Crime", "Assault", "D1", "B1", None),     # last year week, 28d, ytd
    ("6", "2023-01-20", "Property Crime", "Burglary", "D1", "B1", None),   # last year ytd
    ("7", "2023-03-02", "Property Crime", "Burglary", "D1", "B1", None),   # after last year's end: out
    ("8", "2024-03-02", "Property Crime", "Burglary", "D1", "B1", None),   # after as_of: out
    ("9", "2023-02-25", "Violent Crime", "Assault", "D2", "B2", None),     # last year week, 28d, ytd
    ("10", "2024-02-05", "Property Crime", "Burglary", "D2", "B2", None),  # 28d, ytd
    ("11", "2024-03-01", "Violent Crime", "Assault", None, None, None),    # week, 28d, ytd; no district
]


def _con() -> duckdb.DuckDBPyConnection:
    con = connect(":memory:", spatial=False)  # sara's session: UTC, the local-time macros
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE SCHEMA core")
    write_agency_zones(con, {"city": "America/Los_Angeles"})
    con.execute("CREATE TABLE marts.category_groups (dataset VARCHAR, category_group VARCHAR, category VARCHAR)")
    con.execute("INSERT INTO marts.category_groups VALUES ('calls', 'all', '*'), ('calls', 'violent', 'Violent Crime'),"
                " ('calls', 'property', 'Property Crime')")
    con.execute("""CREATE TABLE marts.events (dataset VARCHAR, source VARCHAR, agency VARCHAR, event_id VARCHAR,
                   event_at TIMESTAMPTZ, local_date DATE, category VARCHAR, event_type VARCHAR, origin VARCHAR,
                   is_located BOOLEAN, beat VARCHAR, district VARCHAR, location_key VARCHAR,
                   address_block VARCHAR)""")
    for eid, d, cat, et, dist, beat, loc in EVENTS:
        con.execute("INSERT INTO marts.events VALUES ('calls', 'cad', 'city', ?, CAST(? AS DATE) + INTERVAL 20 HOUR,"
                    " CAST(? AS DATE), ?, ?, 'community', true, ?, ?, ?, NULL)", [eid, d, d, cat, et, beat, dist, loc])
    run_model(con, "event_dims")
    run_model(con, "event_days")  # what CompStat counts: the events per day, unit and category
    # the data covers every day from 2023-01-01 to 2024-03-02, no outage
    con.execute("""CREATE TABLE marts.coverage_daily AS SELECT 'city' AS agency, 'calls' AS dataset, 'cad' AS source,
                   CAST(d AS DATE) AS local_date, false AS is_outage
                   FROM range(DATE '2023-01-01', DATE '2024-03-03', INTERVAL 1 DAY) t(d)""")
    return con


def _row(con, unit_type, unit_id, group, period):
    where = "unit_id IS NULL" if unit_id is None else "unit_id = ?"
    params = [unit_type, group, period] + ([] if unit_id is None else [unit_id])
    rows = con.execute(
        f"SELECT n, n_last_year, change, pct_change, poisson_z FROM marts.compstat WHERE unit_type = ? "
        f"AND category_group = ? AND period = ? AND {where}", params).fetchall()
    assert len(rows) == 1
    return rows[0]


def _check(got, n, ly, change, pct, z):
    assert got[0] == n and got[1] == ly and got[2] == change
    assert (got[3] is None) if pct is None else got[3] == pytest.approx(pct)
    assert got[4] == pytest.approx(z)


def test_periods_leap_day():
    p = {x[0]: x[1:] for x in periods(date(2024, 2, 29))}
    assert p["week"] == (date(2024, 2, 23), date(2024, 2, 29), date(2023, 2, 23), date(2023, 2, 28))
    assert p["ytd"] == (date(2024, 1, 1), date(2024, 2, 29), date(2023, 1, 1), date(2023, 2, 28))
    p = {x[0]: x[1:] for x in periods(AS_OF)}
    assert p["28d"] == (date(2024, 2, 3), date(2024, 3, 1), date(2023, 2, 3), date(2023, 3, 1))


def test_compstat_hand_computed():
    con = _con()
    n = cs.build_compstat(con, AS_OF)
    # keys: D1 x {all, violent, property}, D2 x {all, violent, property}, null x {all, violent};
    # x 2 unit types x 3 periods; plus the agency total x {all, violent, property} x 3 periods
    assert n == 8 * 2 * 3 + 3 * 3
    # the agency total is the sum over its districts (the unrecorded district included)
    tot = con.execute("""SELECT period, n, n_last_year FROM marts.compstat WHERE unit_type = 'agency'
                         AND category_group = 'all' ORDER BY period""").fetchall()
    sums = con.execute("""SELECT period, sum(n), sum(n_last_year) FROM marts.compstat WHERE unit_type = 'district'
                          AND category_group = 'all' GROUP BY period ORDER BY period""").fetchall()
    assert tot == sums
    r2 = math.sqrt(2)
    # D1 all: week now {1,2} ly {5}; 28d now {1,2,3} ly {5}; ytd now {1,2,3,4} ly {5,6}
    _check(_row(con, "district", "D1", "all", "week"), 2, 1, 1, 100.0, 2 * (r2 - 1))  # 0.828427
    _check(_row(con, "district", "D1", "all", "28d"), 3, 1, 2, 200.0, 2 * (math.sqrt(3) - 1))  # 1.464102
    _check(_row(con, "district", "D1", "all", "ytd"), 4, 2, 2, 100.0, 2 * (2 - r2))  # 1.171573
    _check(_row(con, "beat", "B1", "all", "ytd"), 4, 2, 2, 100.0, 1.1715729)
    # D1 violent: week {1} vs {5}; ytd {1,4} vs {5}
    _check(_row(con, "district", "D1", "violent", "week"), 1, 1, 0, 0.0, 0.0)
    _check(_row(con, "district", "D1", "violent", "ytd"), 2, 1, 1, 100.0, 0.8284271)
    # D2: zero now, some last year (week) and some now, none last year (property 28d); 0/0 row kept
    _check(_row(con, "district", "D2", "all", "week"), 0, 1, -1, -100.0, -2.0)
    _check(_row(con, "district", "D2", "all", "28d"), 1, 1, 0, 0.0, 0.0)
    _check(_row(con, "district", "D2", "property", "28d"), 1, 0, 1, None, 2.0)
    _check(_row(con, "district", "D2", "property", "week"), 0, 0, 0, None, 0.0)
    # events without a district: unit_id '(unassigned)'
    _check(_row(con, "district", "(unassigned)", "all", "week"), 1, 0, 1, None, 2.0)
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'compstat'").fetchone()[0]
    types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                             "WHERE table_name = 'compstat'").fetchall())
    assert types["period_start"] == "DATE" and types["unit_id"] == "VARCHAR" and types["n"] == "BIGINT"

    # only call_type_growth: no hotspot or repeat marts exist
    top = con.execute("SELECT district, kind, rank, item, score, n, n_compare FROM marts.compstat_top "
                      "ORDER BY district, kind, rank").fetchall()
    # D1 28d: Burglary {2,3} vs none (+2), Assault {1} vs {5} (0: not growth); D2: Burglary {10} vs none
    assert top == [("D1", "call_type_growth", 1, "Burglary", 2.0, 2, 0),
                   ("D2", "call_type_growth", 1, "Burglary", 1.0, 1, 0)]


def test_compstat_top_hotspot_and_repeat():
    con = _con()
    con.execute("""CREATE TABLE marts.event_units AS SELECT * FROM (VALUES
        ('calls', 'cad', '1', 'city', 'grid', 'c1'), ('calls', 'cad', '2', 'city', 'grid', 'c1'),
        ('calls', 'cad', '10', 'city', 'grid', 'c4'))
        t(dataset, source, event_id, agency, unit_type, unit_id)""")
    con.execute("""CREATE TABLE marts.hotspot_stats AS SELECT * FROM (VALUES
        ('city', 'grid', 'c1', 'calls', 'all', 'all', 28, 2, 2.5),
        ('city', 'grid', 'c2', 'calls', 'all', 'all', 28, 0, 1.0),
        ('city', 'grid', 'c4', 'calls', 'all', 'all', 28, 1, -0.5),
        ('city', 'grid', 'c1', 'calls', 'all', 'all', 7, 2, 9.0),
        -- an incident hot cell: its own list (dataset incidents), its district from the events of any dataset
        ('city', 'grid', 'c1', 'incidents', 'all', 'all', 28, 1, 1.9))
        t(agency, unit_type, unit_id, dataset, category_group, origin, window_days, n, z)""")
    con.execute("""CREATE TABLE marts.repeat_location_rows AS SELECT * FROM (VALUES
        ('city', 'calls', 'all', 'all', 'L1', '100 Main St', 'L1', 3, 1),
        ('city', 'calls', 'all', 'all', 'L9', '900 Elm St', 'L9', 5, 1),
        -- a place without an address: labelled by marts.location_labels
        ('city', 'incidents', 'all', 'all', 'L1', NULL, 'near Main St', 2, 1))
        t(agency, dataset, category_group, origin, location_key, address_block, location_label, n_repeat_window,
          rank)""")
    cs.build_compstat(con, AS_OF)
    top = con.execute("SELECT dataset, district, kind, rank, item, label, score, n FROM marts.compstat_top "
                      "WHERE kind <> 'call_type_growth' ORDER BY dataset, district, kind, rank").fetchall()
    # c2 has no events (district not derivable), c4 has z < 0, L9 has no events: all skipped
    assert top == [("calls", "D1", "hotspot", 1, "c1", None, 2.5, 2),
                   ("calls", "D1", "repeat_location", 1, "L1", "100 Main St", 3.0, 3),
                   ("incidents", "D1", "hotspot", 1, "c1", None, 1.9, 1),
                   ("incidents", "D1", "repeat_location", 1, "L1", "near Main St", 2.0, 2)]


def _calls(con):
    con.execute("""CREATE TABLE core.calls (call_id VARCHAR, source VARCHAR, agency VARCHAR, event_at TIMESTAMPTZ,
                   response_s DOUBLE, queue_s DOUBLE, travel_s DOUBLE, priority_level INTEGER, origin VARCHAR,
                   is_countable BOOLEAN, is_void BOOLEAN, disposition_category VARCHAR, district VARCHAR,
                   time_precision VARCHAR DEFAULT 'exact', interval_issue VARCHAR)""")
    feb = "2024-02-10 18:00:00+00"
    rows = [
        # five included calls, priority 1, D1, local month 2024-02
        ("a", feb, 100, 10, 60, 1, "community", True, False, "Report", "D1"),
        ("b", feb, 200, 20, None, 1, "community", True, False, None, "D1"),
        # 05:00 UTC on Mar 1 is 21:00 on Feb 29 in Los Angeles: February
        ("c", "2024-03-01 05:00:00+00", 300, 30, 90, 1, "community", True, False, "Arrest", "D1"),
        ("d", feb, 400, 40, 120, 1, "community", True, False, "Report", "D1"),
        ("e", feb, 1000, 50, 300, 1, "community", True, False, "Report", "D1"),
        # one included call in March, priority 2
        ("f", "2024-03-05 18:00:00+00", 50, 5, 45, 2, "community", True, False, "Report", "D1"),
        # excluded, February (void wins over officer)
        ("g", feb, 10, 1, 9, 1, "officer", True, True, "Report", "D1"),
        ("h", feb, 10, 1, 9, 1, "community", False, False, "Report", "D1"),
        ("i", feb, 10, 1, 9, 1, "officer", True, False, "Report", "D1"),
        ("j", feb, 10, 1, 9, 1, "unknown", True, False, "Report", "D1"),
        ("k", feb, 10, 1, 9, 1, "community", True, False, "Cancelled", "D1"),
        ("l", feb, None, 1, None, 1, "community", True, False, "Report", "D1"),
        # excluded, March
        ("m", "2024-03-06 18:00:00+00", 10, 1, 9, 1, "officer", True, False, None, "D2"),
    ]
    for r in rows:
        con.execute("INSERT INTO core.calls BY NAME SELECT $1 AS call_id, 'cad' AS source, 'city' AS agency, "
                    "CAST($2 AS TIMESTAMPTZ) AS event_at, $3 AS response_s, $4 AS queue_s, $5 AS travel_s, "
                    "$6 AS priority_level, $7 AS origin, $8 AS is_countable, $9 AS is_void, "
                    "$10 AS disposition_category, $11 AS district",
                    list(r))


def _horizon(con, first_date: str, as_of: str = "2024-03-31") -> None:
    con.execute("CREATE OR REPLACE TABLE marts.horizon AS SELECT 'city' AS agency, 'windows_days' AS needed_by, "
                "CAST(? AS DATE) AS first_date, true AS is_first", [first_date])
    # the agency's as_of, and calls from 2024-01-01 on
    con.execute("CREATE OR REPLACE TABLE marts.periods AS SELECT 'city' AS agency, CAST(? AS DATE) AS as_of", [as_of])
    con.execute("CREATE OR REPLACE TABLE marts.coverage AS SELECT 'city' AS agency, 'calls' AS dataset, "
                "DATE '2024-01-01' AS first_day")


def test_response_times_hand_computed():
    con = _con()
    _calls(con)
    _horizon(con, "2024-01-01")
    assert cs.build_response_times(con) == 2
    rows = con.execute("SELECT * FROM marts.response_times ORDER BY month, priority_level").df()
    feb = rows.iloc[0]
    assert (feb["agency"], feb["priority_level"], feb["district"]) == ("city", 1, "D1")
    assert feb["month"].date() == date(2024, 2, 1) and feb["n_calls"] == 5
    # quantile_cont (linear interpolation, position q*(m-1) in the sorted values; median = quantile_cont 0.5)
    # response 100,200,300,400,1000: median 300; p90 pos 3.6 -> 400 + 0.6*600 = 760
    assert feb["response_s_median"] == pytest.approx(300.0)
    assert feb["response_s_p90"] == pytest.approx(760.0)
    # queue 10..50: median 30; p90 pos 3.6 -> 40 + 0.6*10 = 46
    assert feb["queue_s_median"] == pytest.approx(30.0) and feb["queue_s_p90"] == pytest.approx(46.0)
    # travel 60,90,120,300 (one null): median (90+120)/2 = 105; p90 pos 2.7 -> 120 + 0.7*180 = 246
    assert feb["n_travel"] == 4 and feb["n_queue"] == 5
    assert feb["travel_s_median"] == pytest.approx(105.0) and feb["travel_s_p90"] == pytest.approx(246.0)
    mar = rows.iloc[1]
    assert (mar["priority_level"], mar["n_calls"], mar["response_s_median"], mar["response_s_p90"]) == (2, 1, 50, 50)

    ex = con.execute("SELECT CAST(month AS VARCHAR), reason, n_calls FROM marts.response_times_excluded "
                     "ORDER BY month, reason").fetchall()
    assert ex == [("2024-02-01", "cancelled", 1), ("2024-02-01", "no_onscene_time", 1),
                  ("2024-02-01", "not_countable", 1), ("2024-02-01", "officer_initiated", 1),
                  ("2024-02-01", "unknown_origin", 1), ("2024-02-01", "void", 1),
                  ("2024-03-01", "officer_initiated", 1)]
    comments = dict(con.execute("SELECT table_name, comment FROM duckdb_tables() WHERE schema_name = 'marts' "
                                "AND table_name LIKE 'response%'").fetchall())
    assert comments["response_times"] and comments["response_times_excluded"]


def test_response_times_start_at_the_first_whole_month_of_the_horizon():
    con = _con()
    _calls(con)
    # the horizon starts mid-February: February is not a whole month, so only March counts
    _horizon(con, "2024-02-05")
    assert cs.build_response_times(con) == 1
    assert con.execute("SELECT month, n_calls FROM marts.response_times").fetchall() == [(date(2024, 3, 1), 1)]
    assert con.execute("SELECT month, reason, n_calls FROM marts.response_times_excluded").fetchall() == [
        (date(2024, 3, 1), "officer_initiated", 1)]
    # from March 1 on: the same
    _horizon(con, "2024-03-01")
    assert cs.build_response_times(con) == 1
    # no temporary input is left behind on the connection
    assert not con.execute("SELECT count(*) FROM duckdb_views() WHERE view_name = 'response_time_calls'").fetchone()[0]


def test_response_times_agency_wide_is_the_median_of_the_calls():
    """The agency-wide row is the median of the calls themselves, not a mean of the district medians."""
    con = _con()
    _calls(con)
    # two more counted February priority-1 calls, in district D2
    for cid, resp in (("n", 50), ("o", 60)):
        con.execute("INSERT INTO core.calls BY NAME SELECT ? AS call_id, 'cad' AS source, 'city' AS agency, "
                    "TIMESTAMPTZ '2024-02-12 18:00:00+00' AS event_at, ? AS response_s, 5 AS queue_s, "
                    "20 AS travel_s, 1 AS priority_level, 'community' AS origin, true AS is_countable, "
                    "false AS is_void, 'Report' AS disposition_category, 'D2' AS district", [cid, resp])
    _horizon(con, "2024-01-01")
    cs.build_response_times(con)
    feb = con.execute("SELECT district, n_calls, response_s_median FROM marts.response_times "
                      "WHERE month = DATE '2024-02-01' ORDER BY district").fetchall()
    assert feb == [("D1", 5, 300.0), ("D2", 2, 55.0)]
    rows = con.execute("SELECT agency, priority_level, district, month, n_calls, response_s_median, response_s_p90, "
                       "queue_s_median, n_travel, travel_s_median FROM marts.response_times_agency "
                       "ORDER BY month, priority_level").fetchall()
    # February, priority 1: 50, 60, 100, 200, 300, 400, 1000 s -> median 200; p90 position 0.9 * 6 = 5.4 ->
    # 400 + 0.4 * 600 = 640. Queue 5, 5, 10, 20, 30, 40, 50 -> 20. Travel 20, 20, 60, 90, 120, 300 (b has
    # none) -> (60 + 90) / 2 = 75.
    assert rows[0][:5] == ("city", 1, "(all districts)", date(2024, 2, 1), 7)
    assert rows[0][5] == pytest.approx(200.0) and rows[0][6] == pytest.approx(640.0)
    assert rows[0][7] == pytest.approx(20.0) and rows[0][8] == 6 and rows[0][9] == pytest.approx(75.0)
    # the call-weighted mean of the district medians is (5 * 300 + 2 * 55) / 7 = 230: not the median
    weighted = sum(n * m for _, n, m in feb) / sum(n for _, n, _ in feb)
    assert weighted == pytest.approx(230.0) and weighted != pytest.approx(rows[0][5])
    # March, priority 2: the one call f (50 s)
    assert rows[1][:6] == ("city", 2, "(all districts)", date(2024, 3, 1), 1, 50.0)
    assert len(rows) == 2
    assert con.execute("SELECT comment FROM duckdb_tables() WHERE table_name = 'response_times_agency'").fetchone()[0]
