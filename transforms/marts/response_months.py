"""The response-time marts kept between nights per agency x local month: a night computes only the months it
touched and the months new in the agency's period.

The marts (marts.response_times, response_times_agency, response_times_excluded: what they hold is in
transforms/marts/compstat.py) have one set of rows per agency x whole local month, and a month's rows depend on
that month's calls only (a percentile is exact per month: quantile_cont over the month's calls). So they are
kept (build.KEEP) with two side tables:
- marts.response_months: the months whose rows the marts hold (a month with no call is listed too);
- marts.response_month_loads: the loads whose call versions are folded in.
A night (build_response_months):
1. sync: the local months of every call version (core.call_versions) brought or ended by a load not folded in
   yet (a new call, the old and the new month of a changed, voided or moved call, a call a replaced day dropped)
   are deleted from the marts and from marts.response_months (sql/marts/response_month_touched.sql);
2. window: each agency's whole months (marts.horizon, coverage, periods); the months outside it are deleted,
   the months inside it not in marts.response_months are computed from core.calls and added
   (sql/marts/response_month_todo.sql, response_time_calls.sql, response_times*.sql).
The result equals a build from scratch (tests/integration/test_incremental_marts.py). Everything is computed
again (the tables created empty) when a kept table is missing, when the agencies' zones (the local months) or
the layout (SIGNATURE_VERSION) changed, or when the warehouse has no version history to tell what changed.

Scale-out: the writer runs the sync over all of core (transforms/marts/parts.py prepare_partitions); each agency
part copies the agency's kept rows and computes its missing months; the parts are merged back.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, time, timedelta

import duckdb

from transforms.marts.models import run_model
from transforms.marts.write import create_build_info
from transforms.warehouse.sqlutil import qident, relation_exists

MARTS = ("response_times", "response_times_agency", "response_times_excluded")
TABLES = (*MARTS, "response_months", "response_month_loads")
SIGNATURE_KEY = "response_months_signature"
SIGNATURE_VERSION = 1  # raise when a mart's columns or the rule of a month's rows change: every warehouse recomputes
MODELS = ("response_times", "response_times_agency", "response_times_excluded")


def signature(con: duckdb.DuckDBPyConnection) -> str:
    """What the kept months depend on besides core.calls: each agency's zone (its local months) and the layout."""
    zones = con.execute("SELECT agency, timezone FROM marts.agency_zones ORDER BY agency").fetchall()
    return json.dumps({"version": SIGNATURE_VERSION, "zones": [list(z) for z in zones]})


def present(con: duckdb.DuckDBPyConnection) -> bool:
    """The kept tables are all there (a scaled-out agency part copies them from the build file)."""
    return all(relation_exists(con, "marts", t) for t in TABLES)


def sync(con: duckdb.DuckDBPyConnection) -> dict:
    """Step 1: delete the months touched since the last night, or empty the kept tables when they cannot be
    kept. Returns {"rebuilt": bool, "touched": months deleted (None when rebuilt)}."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    create_build_info(con)
    sig = signature(con)
    old = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [SIGNATURE_KEY]).fetchone()
    history = relation_exists(con, "core", "call_versions")
    if not history or old is None or old[0] != sig or not present(con):
        run_model(con, "response_months")
        if history:
            run_model(con, "response_month_loads")
            con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)", [SIGNATURE_KEY, sig])
        else:  # nothing tells the next night what changed: it computes every month again
            con.execute("DELETE FROM marts.build_info WHERE key = ?", [SIGNATURE_KEY])
        return {"rebuilt": True, "touched": None}
    try:
        run_model(con, "response_month_touched")
        touched = con.execute("SELECT count(*) FROM response_month_touched").fetchone()[0]
    finally:
        con.execute("DROP TABLE IF EXISTS temp.response_month_touched")
    return {"rebuilt": False, "touched": int(touched)}


def fill(con: duckdb.DuckDBPyConnection) -> int:
    """Step 2: drop the months outside each agency's period, compute the missing ones. Returns the months
    computed."""
    try:
        run_model(con, "response_month_todo")
        n, first, last = con.execute("SELECT count(*), min(month), max(month) FROM response_month_todo").fetchone()
        if n:
            run_model(con, "response_time_calls", **_utc_bounds(first, last))
            for model in MODELS:
                run_model(con, model)
            con.execute("INSERT INTO marts.response_months SELECT agency, month FROM response_month_todo")
        return int(n)
    finally:
        for t in ("response_time_calls", "response_month_window", "response_month_todo", "response_month_days"):
            con.execute(f"DROP TABLE IF EXISTS temp.{qident(t)}")


def _utc_bounds(first: date, last: date) -> dict:
    """UTC bounds around the local months first..last (a zone is less than a day off UTC)."""
    end = date(last.year + last.month // 12, last.month % 12 + 1, 1)
    return {"first_utc": datetime.combine(first - timedelta(days=1), time(), UTC),
            "last_utc": datetime.combine(end + timedelta(days=1), time(), UTC)}


def build_response_months(con: duckdb.DuckDBPyConnection, synced: bool = False) -> dict:
    """Bring the response-time marts up to date with core.calls and each agency's period; synced=True: step 1
    was done elsewhere (a scaled-out part copied tables the writer synced). Returns {"rebuilt", "touched",
    "computed"}."""
    out = {"rebuilt": False, "touched": None} if synced and present(con) else sync(con)
    return {**out, "computed": fill(con)}
