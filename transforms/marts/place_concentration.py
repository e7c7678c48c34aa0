"""marts.concentration and marts.concentration_lorenz: how concentrated crime is at places.

Over the repeat window (`repeat_window_days` ending at the agency's as_of), per agency, dataset and category group:
- over every street segment and grid cell (zero-event units included): the shares of units holding
  25/50/80 % of events, the Gini and the generalized Gini (Bernasco & Steenbeek 2017), the top 1/5/10 %
  shares, and Lorenz-curve points;
- over locations (addresses, which have no zero-event universe): the share of events at repeat locations
  and at the top 1/5/10 % of locations with any event.
The statistics are transforms.stats.concentration.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from transforms.config import Settings
from transforms.marts.frames import groups
from transforms.marts.models import read_model
from transforms.marts.periods import agency_ends, day_ranges
from transforms.marts.write import Mart, write_mart
from transforms.stats.concentration import concentration_summary, lorenz_points, top_share

UNIVERSE_UNITS = ("street", "grid")  # unit types with a full set of places (zero-event units included)

CONCENTRATION = Mart(
    "concentration",
    "agency VARCHAR, dataset VARCHAR, category_group VARCHAR, unit_type VARCHAR, n_places BIGINT, n_events BIGINT, "
    "share_units_25 DOUBLE, share_units_50 DOUBLE, share_units_80 DOUBLE, gini DOUBLE, generalized_gini DOUBLE, "
    "share_events_at_repeat_locations DOUBLE, share_events_top_1pct DOUBLE, share_events_top_5pct DOUBLE, "
    "share_events_top_10pct DOUBLE, window_days BIGINT",
    "crime concentration per agency, dataset, category group and unit type over the repeat window: over every "
    "street segment / grid cell (zero-event units included) the shares of units holding 25/50/80 % of events, "
    "the Gini and the generalized Gini G' = max(1, U/E)(G - 1) + 1 (Bernasco & Steenbeek 2017); for locations "
    "(addresses, no zero universe) the share of events at repeat locations and at the top 1/5/10 % of "
    "locations with any event",
    column_comments={
        "unit_type": "street (segments), grid (cells) or location (places by location_key: only those with "
                     "an event)",
        "n_places": "units counted: every street segment or grid cell (zero-event ones included), or the "
                    "places with an event",
        "n_events": "events in the repeat window on them",
        "share_units_25": "smallest share (0..1) of the units holding 25 % of the events",
        "share_units_50": "smallest share of the units holding 50 % of the events",
        "share_units_80": "smallest share of the units holding 80 % of the events",
        "gini": "Gini coefficient of events over the units (0 = even, 1 = all in one)",
        "generalized_gini": "generalized Gini G' = max(1, U/E)(G - 1) + 1 for few events over many units "
                            "(Bernasco & Steenbeek 2017)",
        "share_events_at_repeat_locations": "location: share (0..1) of events at repeat locations "
                                            "(is_repeat); null for street and grid",
        "share_events_top_1pct": "location: share of events at the top 1 % of places with any event; else "
                                 "null",
        "share_events_top_5pct": "location: share of events at the top 5 % of places; else null",
        "share_events_top_10pct": "location: share of events at the top 10 % of places; else null",
        "window_days": "the repeat window, local days ending at the agency's as_of",
    })
CONCENTRATION_LORENZ = Mart(
    "concentration_lorenz",
    "share_units DOUBLE, share_events DOUBLE, agency VARCHAR, dataset VARCHAR, category_group VARCHAR, "
    "unit_type VARCHAR",
    "Lorenz-curve points (share of units, highest first; share of events)",
    column_comments={
        "share_units": "cumulative share (0..1) of the units, highest count first",
        "share_events": "cumulative share (0..1) of the events they hold",
        "unit_type": "street (segments) or grid (cells)",
    })


def build_concentration(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> None:
    """marts.concentration and marts.concentration_lorenz (after marts.repeat_location_rows), each agency's
    repeat window ending at its as_of (or at the date given)."""
    an = settings.sara.analysis
    ranges = day_ranges(agency_ends(con, as_of), lambda end: end - timedelta(days=an.repeat_window_days - 1))
    units = con.execute("SELECT agency, unit_type, unit_id FROM marts.units WHERE list_contains(?, unit_type)",
                        [list(UNIVERSE_UNITS)]).pl()
    counts = dict(groups(read_model(con, "inputs/concentration_counts", ranges=ranges),
                         ["agency", "unit_type"]))
    rows, lorenz = [], []
    for (agency, unit_type), u in groups(units, ["agency", "unit_type"]):
        c = counts.get((agency, unit_type))
        if c is None:
            continue
        pos = pl.DataFrame({"unit_id": u["unit_id"], "_pos": np.arange(len(u))})
        for (dataset, group), g in groups(c.join(pos, on="unit_id", how="left"), ["dataset", "category_group"]):
            y = np.zeros(len(u))
            y[g["_pos"].to_numpy()] = g["n"].to_numpy()
            s = concentration_summary(y)
            rows.append({"agency": agency, "dataset": dataset, "category_group": group, "unit_type": unit_type,
                         "n_places": s["n_units"], "n_events": s["n_events"], "share_units_25": s["share_units_25"],
                         "share_units_50": s["share_units_50"], "share_units_80": s["share_units_80"],
                         "gini": s["gini"], "generalized_gini": s["generalized_gini"],
                         "share_events_at_repeat_locations": None, "share_events_top_1pct": top_share(y, 0.01),
                         "share_events_top_5pct": top_share(y, 0.05), "share_events_top_10pct": top_share(y, 0.10)})
            lorenz.append(lorenz_points(y).with_columns(agency=pl.lit(agency), dataset=pl.lit(dataset),
                                                        category_group=pl.lit(group), unit_type=pl.lit(unit_type)))
    places = read_model(con, "inputs/concentration_places")
    for (agency, dataset, group), g in groups(places, ["agency", "dataset", "category_group"]):
        y = g["n"].to_numpy().astype(float)
        # NOTE: addresses have no zero-event universe, so no Gini: only the shares that hold over places with events
        rows.append({"agency": agency, "dataset": dataset, "category_group": group, "unit_type": "location",
                     "n_places": len(y), "n_events": int(y.sum()), "share_units_25": None, "share_units_50": None,
                     "share_units_80": None, "gini": None, "generalized_gini": None,
                     "share_events_at_repeat_locations": float(y[g["is_repeat"].to_numpy()].sum() / y.sum()),
                     "share_events_top_1pct": top_share(y, 0.01), "share_events_top_5pct": top_share(y, 0.05),
                     "share_events_top_10pct": top_share(y, 0.10)})
    write_mart(con, CONCENTRATION, CONCENTRATION.frame([{**r, "window_days": an.repeat_window_days} for r in rows]))
    write_mart(con, CONCENTRATION_LORENZ, pl.concat(lorenz) if lorenz else None)
