"""marts.events, kept between nights: the input of every mart, brought up to date with what a night changed.

One row per countable event (calls and incidents) from each agency's first date in marts.horizon on
(sql/marts/inputs/event_rows.sql). A night takes again from core only the records it touched and drops the days
that left the horizon (sql/marts/events_changed.sql lists them, sql/marts/events_update.sql applies them), instead
of writing every event of the windows again; marts.event_loads records the loads folded in. The table is made from scratch (sql/marts/events.sql) when it is
missing, when what its rows are a function of besides core changed (the agencies and their zones, core's
columns, this layout: STATE_VERSION), when an agency's first date moved back (its older days were never
taken), or when the records to take again are more than REDO_SHARE of its rows (a new year moves CompStat's
last-year period, and the horizon with it, by most of a year). The result equals a build from scratch
(tests/integration/test_incremental_marts.py).
"""

from __future__ import annotations

import json
from datetime import date, datetime

import duckdb

from transforms.marts.models import run_model
from transforms.marts.write import create_build_info
from transforms.warehouse.sqlutil import relation_exists

TABLES = ("events", "event_loads")
STATE_KEY = "events_state"
STATE_VERSION = 1  # raise when marts.events' columns or rules change: every warehouse makes it again
REDO_SHARE = 0.1  # more records to take again than this share of the rows: make the table from scratch

# the update's scope: the records of events_changed (sql/marts/events_update.sql)
SCOPE = {
    "calls_scope": "semi join (select source, event_id from events_changed where dataset = 'calls') ch "
                   "on ch.source = c.source and ch.event_id = c.call_id",
    "incidents_scope": "semi join (select source, event_id from events_changed where dataset = 'incidents') ch "
                       "on ch.source = i.source and ch.event_id = i.incident_id",
}
EVERY_RECORD = {"calls_scope": "", "incidents_scope": ""}


def _state(con: duckdb.DuckDBPyConnection) -> dict:
    """What marts.events' rows are a function of besides core's rows and the placeholder points: its layout,
    each agency's zone, core's columns (but the unmapped raw_* columns, which come and go with the files); and
    each agency's first date (which may move forward)."""
    zones = con.execute("SELECT agency, timezone FROM marts.agency_zones ORDER BY agency").fetchall()
    cols = con.execute("SELECT table_name, column_name, data_type FROM duckdb_columns() WHERE database_name = "
                       "current_database() AND schema_name = 'core' AND table_name IN ('calls', 'incidents') "
                       "AND NOT starts_with(column_name, 'raw_') ORDER BY ALL").fetchall()
    first = con.execute("SELECT agency, min(first_date) FROM marts.horizon GROUP BY agency ORDER BY agency").fetchall()
    state = {"version": STATE_VERSION, "zones": [list(z) for z in zones], "core": [list(c) for c in cols],
             "first": {a: d.isoformat() for a, d in first}}
    return json.loads(json.dumps(state, sort_keys=True))  # as it reads back from build_info


def _can_update(con: duckdb.DuckDBPyConnection, state: dict) -> bool:
    """marts.events can be brought up to date from the state it was made with: the same layout, zones and
    core columns, the same agencies, and no agency's first date earlier than before."""
    if not all(relation_exists(con, "marts", t) for t in TABLES):
        return False
    row = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [STATE_KEY]).fetchone()
    old = json.loads(row[0]) if row else {}
    moving = ("first", "placeholders")  # may change between two updates
    if {k: v for k, v in old.items() if k not in moving} != {k: v for k, v in state.items() if k not in moving}:
        return False
    was, now = old["first"], state["first"]
    return was.keys() == now.keys() and all(date.fromisoformat(now[a]) >= date.fromisoformat(was[a]) for a in now)


def build_events(con: duckdb.DuckDBPyConnection, first_utc: datetime | None) -> dict:
    """marts.events and marts.event_loads, after marts.horizon and marts.placeholder_points: updated with the
    records a night touched when it can be, else made from scratch. first_utc: a day before the earliest first
    date of every agency (None: no agency has an as_of, and there are no events). Returns {"rebuilt": bool,
    "records": records taken again (None when rebuilt)}."""
    create_build_info(con)
    state = _state(con)
    for t in ("events_changed", "events_changed_span", "events_removed"):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    records = None
    if _can_update(con, state):
        rows, leaving = con.execute(
            "SELECT count(*), count(*) FILTER (WHERE e.local_date < h.first_date) FROM marts.events e "
            "JOIN (SELECT agency, min(first_date) AS first_date FROM marts.horizon GROUP BY agency) h "
            "USING (agency)").fetchone()
        if leaving <= REDO_SHARE * rows:  # else cheaper made from scratch (a new year's horizon drops most rows)
            run_model(con, "events_changed")
            records = con.execute("SELECT count(*) FROM events_changed").fetchone()[0]
            if records > REDO_SHARE * rows:
                records = None
                con.execute("DROP TABLE events_changed")
    if records is not None:
        before = generation(con)
        run_model(con, "events_update", fragments=SCOPE, sara_first_utc=first_utc)
    else:
        run_model(con, "events", fragments=EVERY_RECORD, sara_first_utc=first_utc)
    _record(con, state)
    if records is not None:
        con.execute("CREATE TEMP TABLE events_changed_span AS SELECT ? AS generation_before, ? AS generation_after",
                    [before, generation(con)])
    return {"rebuilt": records is None, "records": records}


def generation(con: duckdb.DuckDBPyConnection) -> str:
    """A fingerprint of what marts.events holds: the state it was made with (the placeholder points it flagged
    among it) and the loads it folded in. A step that keeps something per event (marts.event_units) records the
    one it is in step with, and may follow an update with the records it took again (the temporary table
    events_changed, left with events_changed_span: the generations before and after, and events_removed: the
    rows the update deleted) only from that one."""
    state = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [STATE_KEY]).fetchone()
    loads = con.execute("SELECT count(*), coalesce(sum(hash(load_id)), 0) FROM marts.event_loads").fetchone()
    return json.dumps([state[0] if state else None, [str(v) for v in loads]])


def changed_since(con: duckdb.DuckDBPyConnection, kept: str | None) -> bool:
    """The temporary table events_changed holds every record that left or entered marts.events since the
    generation `kept` (what a step recorded when it last followed marts.events): marts.events was updated in
    this connection from that generation, and not changed since."""
    if kept is None or not relation_exists(con, "main", "events_changed_span", "temp"):
        return False
    span = con.execute("SELECT generation_before, generation_after FROM events_changed_span").fetchone()
    return span == (kept, generation(con))


def _record(con: duckdb.DuckDBPyConnection, state: dict) -> None:
    """marts.event_loads, and the state marts.events now holds: with the placeholder points it flagged (they
    change as history grows; an update takes their events again)."""
    run_model(con, "event_loads")
    n, h = con.execute("SELECT count(*), coalesce(sum(hash(agency, x, y)), 0) FROM marts.placeholder_points") \
        .fetchone() if relation_exists(con, "marts", "placeholder_points") else (0, 0)
    state = {**state, "placeholders": f"{n}:{h}"}
    con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)", [STATE_KEY, json.dumps(state, sort_keys=True)])


def record_merged(con: duckdb.DuckDBPyConnection) -> None:
    """After a night of agency parts: marts.events, the union of the parts' events, is the whole file's as a
    local night makes it; its loads are recorded from the whole file's core, so the next local night goes on
    from it."""
    create_build_info(con)
    _record(con, _state(con))
