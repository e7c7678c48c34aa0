"""marts.location_days: the per-day aggregate of the events at each place, kept between nights.

One row per agency x dataset x local date x location_key x category x origin x countable x block address x
point, with its number of events and first/last event time: what marts.repeat_places reads instead of the
events (sql/marts/repeat_places.sql). It covers every day of core (not only the marts' horizon), so
a night that looks at an older as_of reads the same aggregate.

Kept between nights (build.KEEP) with two side tables:
- marts.location_day_events: the local day and place of each counted event version (dataset, source, event_id,
  load_id), so a night knows the old day and place of a version that an update replaced, moved or voided;
- marts.location_day_loads: the loads already folded in (with the loads that ended a version, so a record an
  extract dropped is found from its version history).
A night rebuilds from core only the places of the (agency, dataset, local date) it touched
(sql/marts/location_days_update.sql says which); the result equals a build from scratch
(tests/integration/test_incremental_marts.py). A change of the agencies' zones (the local dates) or of this
aggregate's layout (SIGNATURE_VERSION) rebuilds it whole; the category groups, windows and as_of are applied when
it is read, so they need no rebuild.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta

import duckdb

from transforms.marts.models import run_model
from transforms.marts.write import comment_columns, create_build_info
from transforms.warehouse.sqlutil import qident, qstr

TABLES = ("location_days", "location_day_events", "location_day_loads")
SIGNATURE_KEY = "location_days_signature"
SIGNATURE_VERSION = 3  # raise when the aggregate's columns, grain or loads change: every warehouse rebuilds it

COMMENTS = {
    "location_days": (
        "per-day aggregate of every non-void call and incident with a location_key, kept between nights: one row "
        "per agency, dataset, local date, place, category, origin, countable flag, block address and point; a "
        "night rebuilds only the days it touched (the input of marts.repeat_location_rows)",
        {"local_date": "local date (agency zone, marts.agency_zones) of the events",
         "location_key": "the place (core.*.location_key)",
         "category": "sara category: call_category (calls) or offense_category (incidents)",
         "origin": "the events' own origin: community, officer or unknown (null when not recorded)",
         "is_countable": "the events are countable (calls: core.calls.is_countable; incidents: always)",
         "address_block": "the events' block address (null when not recorded)",
         "is_located": "the events have a point inside the agency area",
         "x": "easting of the events' point, analysis CRS, metres (null when not located)",
         "y": "northing of the events' point, analysis CRS, metres (null when not located)",
         "lon": "longitude of the events' point, WGS 84 (null when not located)",
         "lat": "latitude of the events' point, WGS 84 (null when not located)",
         "n": "events in the row",
         "first_at": "the row's first event time, UTC",
         "last_at": "the row's last event time, UTC"}),
    "location_day_events": (
        "the local day and place of each event version counted in marts.location_days, kept between nights, so a "
        "night knows the old day and place of a version that an update replaced, moved or voided",
        {"event_id": "call_id (calls) or incident_id (incidents)",
         "load_id": "the load of the version counted (meta.loads)",
         "local_date": "its local date (agency zone)",
         "location_key": "its place (core.*.location_key)"}),
    "location_day_loads": (
        "the loads marts.location_days has folded in: a row of core from any other load, or a version another "
        "load ended, marks its place and day to rebuild",
        {"load_id": "a load (meta.loads) with rows in core.calls or core.incidents, or that ended a version of "
                    "core.call_versions or core.incident_versions"}),
}


def signature(con: duckdb.DuckDBPyConnection) -> str:
    """What the aggregate depends on besides core: each agency's zone (the local dates) and its layout."""
    zones = con.execute("SELECT agency, timezone FROM marts.agency_zones ORDER BY agency").fetchall()
    return json.dumps({"version": SIGNATURE_VERSION, "zones": [list(z) for z in zones]})


def _exists(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND "
                       "schema_name = 'marts' AND table_name = ?", [name]).fetchone()[0] > 0


def present(con: duckdb.DuckDBPyConnection) -> bool:
    """The kept tables are all there (a scaled-out agency part copies them from the build file)."""
    return all(_exists(con, t) for t in TABLES)


def folded(con: duckdb.DuckDBPyConnection) -> str:
    """A fingerprint of the loads marts.location_days has folded in (what its rows are a function of, with
    core): a reader that kept something from the aggregate compares it with the one it kept."""
    n, h = con.execute("SELECT count(*), coalesce(sum(hash(load_id)), 0) FROM marts.location_day_loads").fetchone()
    return f"{n}:{h}"


def build_location_days(con: duckdb.DuckDBPyConnection) -> dict:
    """Bring marts.location_days up to date with core: from scratch when it is missing or its signature
    changed, else only the places on the days touched since. Returns {"rebuilt": bool, "days": days touched,
    "places": places rebuilt on them}.

    An update leaves, for the connection's later steps, the temporary table location_day_changed (agency,
    dataset, location_key: every place it rebuilt on any day) and location_day_changed_span (folded_before,
    folded_after: `folded` before and after), so a reader that kept something per place from the aggregate
    as it was before can redo only those places (transforms/marts/repeat_locations.py)."""
    create_build_info(con)
    sig = signature(con)
    old = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [SIGNATURE_KEY]).fetchone()
    for t in ("location_day_changed", "location_day_changed_span"):
        con.execute(f"DROP TABLE IF EXISTS temp.{qident(t)}")
    run_model(con, "location_day_domain")
    try:
        if old is None or old[0] != sig or not all(_exists(con, t) for t in TABLES):
            run_model(con, "location_days")
            run_model(con, "location_day_loads")
            con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)", [SIGNATURE_KEY, sig])
            _comment(con)
            return {"rebuilt": True, "days": None, "places": None}
        before = folded(con)
        run_model(con, "location_days_update")
        run_model(con, "location_day_loads")
        places, days, first, last = con.execute(
            "SELECT count(*), count(DISTINCT (agency, dataset, local_date)), min(local_date), max(local_date) "
            "FROM location_day_touched").fetchone()
        if days:
            # a local day lies within a day of its UTC date either way
            run_model(con, "location_days_refill",
                      first_utc=datetime.combine(first - timedelta(days=1), time(), UTC),
                      last_utc=datetime.combine(last + timedelta(days=2), time(), UTC))
        con.execute("CREATE TEMP TABLE location_day_changed AS "
                    "SELECT DISTINCT agency, dataset, location_key FROM location_day_touched")
        con.execute("CREATE TEMP TABLE location_day_changed_span AS SELECT ? AS folded_before, ? AS folded_after",
                    [before, folded(con)])
        return {"rebuilt": False, "days": int(days), "places": int(places)}
    finally:
        for t in ("location_day_new", "location_day_touched", "location_day_refill"):
            con.execute(f"DROP TABLE IF EXISTS temp.{qident(t)}")
        con.execute("DROP VIEW IF EXISTS temp.location_day_domain")


def _comment(con: duckdb.DuckDBPyConnection) -> None:
    for name, (table_comment, columns) in COMMENTS.items():
        con.execute(f"COMMENT ON TABLE marts.{qident(name)} IS {qstr(table_comment)}")
        comment_columns(con, f"marts.{qident(name)}", columns)
