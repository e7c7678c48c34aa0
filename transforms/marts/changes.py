"""What the nights changed (sara issue 18): marts.changes and marts.changes_summary, from the version history
(core.call_versions, core.incident_versions, core.version_changes); the set logic is sql/marts/changes.sql.

    marts.changes          per load of the last [versions] changes_days days (default 90, back from the newest
                           load): each record whose category, disposition, countable or void flag, location or
                           time changed, by kind, with the old and new values in words; and the late arrivals
                           (a new record dated more than late_arrival_days before its load's night)
    marts.changes_summary  per agency: the records the last reclassified_window_days days of loads brought, the
                           share reclassified, and a warning when it is unusually high

Both read the whole history of the agencies, not one agency's horizon of events: a scaled-out night makes them
once on the whole build file before the fan-out (transforms.marts.build.prepare), like marts.periods.
"""

from __future__ import annotations

import duckdb

from transforms.config import Settings
from transforms.marts.models import run_model
from transforms.warehouse.sqlutil import relation_exists

TABLES = ("changes", "changes_summary")


def build_changes(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.changes and marts.changes_summary (after marts.agency_zones). A warehouse without the version
    history (an older file) gets nothing."""
    if not relation_exists(con, "core", "version_changes"):
        return
    v = settings.sara.versions
    run_model(con, "changes", changes_days=v.changes_days, late_arrival_days=v.late_arrival_days,
              window_days=v.reclassified_window_days, warn_share=v.reclassified_warn_share,
              min_records=v.reclassified_min_records)


def reclassified_warnings(con: duckdb.DuckDBPyConnection) -> list[str]:
    """One sentence per agency whose reclassified share is above the threshold (marts.changes_summary)."""
    if not relation_exists(con, "marts", "changes_summary"):
        return []
    rows = con.execute("SELECT agency, records_reclassified, records_loaded, reclassified_share, warn_share "
                       "FROM marts.changes_summary WHERE is_warning ORDER BY agency").fetchall()
    return [f"{a}: {n:,} of {total:,} records loaded recently were reclassified ({share:.1%}, above the "
            f"{warn:.0%} this project warns at): usually a process problem (coding at intake, a crosswalk change) "
            "worth a look" for a, n, total, share, warn in rows]
