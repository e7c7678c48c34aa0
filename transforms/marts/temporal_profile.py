"""marts.temporal_profile: hour-of-week counts (168 slots) per agency, dataset, category group and unit.

Units are the agency itself, its beats and its districts; the window is the repeat window ending at the
agency's as_of.
Incident windows (occurred_from..occurred_to) are spread over the hours they touch by aoristic weights;
events with unknown_time or date_only precision are left out and counted in n_left_out
(transforms.stats.aoristic).
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from transforms.config import Settings
from transforms.marts.frames import groups
from transforms.marts.models import read_model
from transforms.marts.periods import agency_ends, day_ranges
from transforms.marts.write import Mart, write_mart
from transforms.stats.aoristic import exact_profile

TEMPORAL_PROFILE = Mart(
    "temporal_profile",
    "slot SMALLINT, weekday TINYINT, hour TINYINT, weight DOUBLE, category_group VARCHAR, unit_id VARCHAR, "
    "agency VARCHAR, dataset VARCHAR, unit_type VARCHAR, n_left_out BIGINT",
    "hour-of-week counts (slot 0 = Monday 00:00-01:00 local ... 167 = Sunday 23:00) per agency, dataset, "
    "category group and unit (agency, beat, district) over the repeat window; incident windows "
    "(occurred_from..occurred_to) spread by aoristic weights; events with unknown_time or date_only precision "
    "are left out and counted in n_left_out",
    column_comments={
        "slot": "hour of the week, local time: 0 = Monday 00:00-01:00 ... 167 = Sunday 23:00-24:00",
        "weekday": "0 = Monday ... 6 = Sunday (local)",
        "hour": "hour of the day 0..23 (local)",
        "weight": "events in the slot over the repeat window (incident windows spread by aoristic weights, "
                  "so fractions)",
        "unit_type": "agency (the whole agency), beat or district",
        "unit_id": "the beat or district; the agency code for unit_type agency",
        "n_left_out": "events of the unit and group left out for having no time of day (unknown_time, "
                      "date_only)",
    })


def build_temporal_profile(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> None:
    """marts.temporal_profile, each agency's repeat window ending at its as_of (or at the date given)."""
    days = settings.sara.analysis.repeat_window_days
    ranges = day_ranges(agency_ends(con, as_of), lambda end: end - timedelta(days=days - 1))
    ev = read_model(con, "inputs/temporal_events", ranges=ranges)
    out = []
    # one profile call per agency, dataset and unit type, keyed by "category group|unit"
    for (agency, dataset), g in groups(ev, ["agency", "dataset"]):
        for unit_type, key in (("agency", None), ("beat", "beat"), ("district", "district")):
            sub = g if key is None else g.filter(pl.col(key).is_not_null())
            if sub.is_empty():
                continue
            unit = pl.lit(agency) if key is None else pl.col(key).cast(pl.String)
            keys = sub.select(pl.concat_str([pl.col("category_group").cast(pl.String), unit],
                                            separator="|").alias("k")).to_series()
            res = exact_profile(sub["start_local"].to_numpy(), sub["time_precision"].to_numpy(),
                                end=sub["end_local"].to_numpy(), key=keys)
            left_out = (sub.filter(pl.col("time_precision").ne_missing("exact"))
                        .group_by("category_group").agg(n_left_out=pl.len()))
            parts = pl.col("k").str.splitn("|", 2)
            out.append(res.profile
                       .with_columns(category_group=parts.struct.field("field_0"),
                                     unit_id=parts.struct.field("field_1"))
                       .drop("k")
                       .join(left_out, on="category_group", how="left", maintain_order="left")
                       .with_columns(pl.col("n_left_out").fill_null(0), agency=pl.lit(agency),
                                     dataset=pl.lit(dataset), unit_type=pl.lit(unit_type)))
    write_mart(con, TEMPORAL_PROFILE, pl.concat(out, how="vertical_relaxed") if out else None)
