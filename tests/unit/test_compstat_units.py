"""CompStat's units on a hand-made marts.events: events without a district count as '(unassigned)', a unit type
no event has is left out (it would only repeat the agency total), and every agency ends at its own as_of."""

from __future__ import annotations

from datetime import date

import duckdb

from transforms.marts import compstat as cs
from transforms.marts.dimensions import write_agency_zones
from transforms.marts.models import run_model
from transforms.warehouse.db import connect

# (agency, event_id, local_date, district): north has districts on some events, no beats at all
EVENTS = [
    ("north", "1", "2024-03-01", "D1"), ("north", "2", "2024-02-28", "D1"), ("north", "3", "2024-02-27", None),
    ("north", "4", "2024-02-26", None), ("north", "5", "2024-02-25", None),
    ("south", "6", "2024-02-10", "S1"), ("south", "7", "2024-02-09", None),
]


def _con() -> duckdb.DuckDBPyConnection:
    con = connect(":memory:", spatial=False)  # sara's session: UTC, the local-time macros
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.category_groups AS SELECT 'calls' AS dataset, 'all' AS category_group, "
                "'*' AS category")
    con.execute("""CREATE TABLE marts.events (dataset VARCHAR, source VARCHAR, agency VARCHAR, event_id VARCHAR,
                   local_date DATE, category VARCHAR, event_type VARCHAR, origin VARCHAR, district VARCHAR,
                   beat VARCHAR)""")
    for agency, eid, d, district in EVENTS:
        con.execute("INSERT INTO marts.events VALUES ('calls', 'cad', ?, ?, CAST(? AS DATE), 'Traffic', 'Stop', "
                    "'community', ?, NULL)", [agency, eid, d, district])
    run_model(con, "event_dims")
    run_model(con, "event_days")  # what CompStat counts: the events per day, unit and category
    con.execute("""CREATE TABLE marts.coverage_daily AS SELECT a.agency, 'calls' AS dataset, 'cad' AS source,
                   CAST(d AS DATE) AS local_date, false AS is_outage
                   FROM range(DATE '2023-01-01', DATE '2024-03-02', INTERVAL 1 DAY) t(d),
                        (VALUES ('north'), ('south')) a(agency)""")
    # each agency's own as_of
    con.execute("""CREATE TABLE marts.periods AS SELECT * FROM (VALUES ('north', DATE '2024-03-01'),
                   ('south', DATE '2024-02-10')) t(agency, as_of)""")
    return con


def test_unassigned_events_are_their_own_unit_not_the_agency_total():
    con = _con()
    cs.build_compstat(con)
    week = dict(con.execute("SELECT unit_type || ':' || unit_id, n FROM marts.compstat WHERE agency = 'north' "
                            "AND period = 'week'").fetchall())
    # week 2024-02-24..03-01: 2 in D1, 3 without a district, 5 in all; no beat rows (no event has a beat)
    assert week == {"agency:north": 5, "district:D1": 2, "district:(unassigned)": 3}
    assert con.execute("SELECT count(*) FROM marts.compstat WHERE unit_id IS NULL OR unit_id = ''").fetchone()[0] == 0
    # south ends at its own as_of: its week is 2024-02-04..02-10
    got = con.execute("SELECT period_start, period_end, n, comparison FROM marts.compstat WHERE agency = 'south' "
                      "AND unit_type = 'agency' AND period = 'week'").fetchone()
    assert got == (date(2024, 2, 4), date(2024, 2, 10), 2, "ok")


def test_response_time_months_are_whole_months_inside_the_agency_period():
    """as_of 2024-03-20: February counts; March (partial: it ends after as_of) and April (after as_of) do not;
    January is before the first day of the agency's calls (2024-01-15), so it is not whole either."""
    con = _con()
    con.execute("CREATE SCHEMA core")
    con.execute("""CREATE TABLE core.calls (call_id VARCHAR, source VARCHAR, agency VARCHAR, event_at TIMESTAMPTZ,
                   response_s DOUBLE, queue_s DOUBLE, travel_s DOUBLE, priority_level INTEGER, origin VARCHAR,
                   is_countable BOOLEAN, is_void BOOLEAN, disposition_category VARCHAR, district VARCHAR,
                   time_precision VARCHAR DEFAULT 'exact', interval_issue VARCHAR)""")
    for i, when in enumerate(["2024-01-20", "2024-02-10", "2024-02-11", "2024-03-05", "2024-04-02"]):
        con.execute("INSERT INTO core.calls VALUES (?, 'cad', 'north', CAST(? AS DATE) + INTERVAL 20 HOUR, 300, 60, "
                    "240, 1, 'community', true, false, 'Report', 'D1', 'exact', NULL)", [str(i), when])
    write_agency_zones(con, {"north": "UTC"})
    con.execute("CREATE TABLE marts.horizon AS SELECT 'north' AS agency, DATE '2023-01-01' AS first_date")
    con.execute("CREATE OR REPLACE TABLE marts.periods AS SELECT 'north' AS agency, DATE '2024-03-20' AS as_of")
    con.execute("CREATE TABLE marts.coverage AS SELECT 'north' AS agency, 'calls' AS dataset, "
                "DATE '2024-01-15' AS first_day")
    assert cs.build_response_times(con) == 1
    assert con.execute("SELECT month, n_calls FROM marts.response_times").fetchall() == [(date(2024, 2, 1), 2)]
    assert con.execute("SELECT count(*) FROM marts.response_times_excluded").fetchone()[0] == 0
