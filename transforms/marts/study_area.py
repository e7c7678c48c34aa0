"""marts.study_area: does the study area fit the data? (sql/marts/study_area.sql)

Gi* compares each neighbourhood with the mean and variance of every cell of the agency's area, and emerging hot
spots do the same over the space-time cube. Cells that can never hold an event (water, another city, the empty
corners of a generous bbox) lower the mean and the variance, so thin clusters of a few events come out hot, and
a cell's emerging class can change with the box alone. This step measures, per agency, the share of grid cells
with no located event in the longest analysis window and in all history the marts read, and whether the events
cover the area, and writes a warning when more than `[analysis] study_area_empty_share` of the cells are empty.
`study_area_warnings` lists them for the run's output.
"""

from __future__ import annotations

from datetime import date

import duckdb

from transforms.config import Settings
from transforms.marts.models import run_model
from transforms.marts.periods import agency_ends
from transforms.warehouse.sqlutil import relation_exists


def build_study_area(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> None:
    """marts.study_area, one row per agency with grid cells and an as_of (after the hot spot counts); history up
    to each agency's as_of (or the date given)."""
    sara = settings.sara
    ends = [{"agency": a, "as_of": end} for a, end in agency_ends(con, as_of).items()]
    run_model(con, "study_area", ends=ends, window_days=max(sara.windows_days),
              empty_share=sara.analysis.study_area_empty_share,
              bbox_agencies=[a for a, cfg in sara.agencies.items() if cfg.boundary is None])


def study_area_warnings(con: duckdb.DuckDBPyConnection) -> list[dict[str, str]]:
    """[{"agency", "warning"}] for every agency whose study area is mostly empty (none when the mart is absent)."""
    if not relation_exists(con, "marts", "study_area"):
        return []
    rows = con.execute("SELECT agency, warning FROM marts.study_area WHERE warning IS NOT NULL "
                       "ORDER BY agency").fetchall()
    return [{"agency": a, "warning": w} for a, w in rows]
