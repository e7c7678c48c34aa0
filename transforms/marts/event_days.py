"""marts.event_days: the events of marts.events counted per agency, dataset, category, origin, district, beat and
local date, kept between nights.

CompStat and the restatements count these rows instead of the events (sql/marts/compstat.sql,
sql/marts/restatements.sql): a day's events of one category, district and beat are one row. When marts.events was
updated in this connection from the generation the counts were made from (transforms/marts/events.py), a night
adds the rows it took again and takes away the rows it deleted (sql/marts/event_days_delta.sql,
transforms/marts/counts.py); otherwise the counts are made from scratch (sql/marts/event_days.sql). Integer
counts: the result equals a count from scratch (tests/integration/test_incremental_marts.py).
"""

from __future__ import annotations

import json

import duckdb

from transforms.marts import counts, events
from transforms.marts.models import run_model
from transforms.marts.write import create_build_info
from transforms.warehouse.sqlutil import relation_exists

STATE_KEY = "event_days_state"  # build_info: the generation of marts.events the counts were made from
STATE_VERSION = 1  # raise when the counts' columns or grain change: every warehouse counts them again
KEYS = ["agency", "dataset", "category", "origin", "district", "beat", "local_date"]


def build_event_days(con: duckdb.DuckDBPyConnection) -> dict:
    """marts.event_days up to date with marts.events (after it). Returns {"rebuilt": bool, "rows": rows changed
    (None when rebuilt)}."""
    create_build_info(con)
    row = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [STATE_KEY]).fetchone()
    kept = json.loads(row[0]) if row else {}
    changed = None
    if relation_exists(con, "marts", "event_days") and kept.get("version") == STATE_VERSION \
            and events.changed_since(con, kept.get("events")):
        run_model(con, "event_days_delta")
        changed = con.execute("SELECT count(*) FROM _ed_delta").fetchone()[0]
        if not counts.apply_delta(con, "event_days", "_ed_delta", KEYS):
            changed = None  # a count below zero: the counts were not what the state says
        con.execute("DROP TABLE _ed_delta")
    if changed is None:
        run_model(con, "event_days")
    _record(con)
    return {"rebuilt": changed is None, "rows": changed}


def _record(con: duckdb.DuckDBPyConnection) -> None:
    state = {"version": STATE_VERSION, "events": events.generation(con)}
    con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)", [STATE_KEY, json.dumps(state, sort_keys=True)])


def record_merged(con: duckdb.DuckDBPyConnection) -> None:
    """After a night of agency parts: the counts the parts made, merged, are the whole file's, counted from
    marts.events as merged (its generation recorded first: events.record_merged)."""
    create_build_info(con)
    _record(con)
