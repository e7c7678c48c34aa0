"""marts.workload and marts.occupancy: what the calls cost in unit time, and the staffing curve.

A unit is busy from its first assignment (dispatch, else en route, else arrival) to its clear time
(core.call_units, from feeds with one row per responding unit); a feed with one row per call counts one unit
per call, dispatch to clear, and says so (unit_basis). marts.workload sums unit-hours, on-scene unit-hours and
units per call per window, call category, origin, district and hour of the week; marts.occupancy sets calls
per hour against units busy per hour, per district and hour of the week. The SQL is sql/marts/workload.sql,
occupancy.sql and inputs/workload_calls.sql.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import duckdb

from transforms.config import Settings
from transforms.marts.models import run_model
from transforms.marts.periods import agency_ends


def build_workload(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> None:
    """marts.workload and marts.occupancy over the analysis windows ending at each agency's as_of."""
    windows = sorted(settings.sara.windows_days)
    ranges = [{"agency": a, "as_of": end, "first_date": end - timedelta(days=max(windows) - 1)}
              for a, end in agency_ends(con, as_of).items()]
    first = min((r["first_date"] for r in ranges), default=date.today())
    unit_sources = [s.name for s in settings.sources.values() if s.kind == "calls" and s.event_grain == "unit"]
    run_model(con, "inputs/workload_calls", ranges=ranges, unit_sources=unit_sources,
              first_utc=datetime.combine(first - timedelta(days=1), time(), UTC))
    try:
        run_model(con, "workload", windows=windows)
        run_model(con, "occupancy", windows=windows)
    finally:
        con.execute("DROP TABLE IF EXISTS _workload_calls")
