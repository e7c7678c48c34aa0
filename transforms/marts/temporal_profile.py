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
from transforms.marts.models import read_model, run_model
from transforms.marts.periods import agency_ends, day_ranges
from transforms.marts.write import Mart, write_mart
from transforms.stats.aoristic import N_SLOTS, exact_profile

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
    """marts.temporal_profile, each agency's repeat window ending at its as_of (or at the date given).

    The events' local times first (inputs/temporal_local.sql); point events (exact time, no window) are then
    counted per slot in SQL (inputs/temporal_slots.sql); the rest (incident windows, events without a time of
    day or a start) go through the aoristic spreading (inputs/temporal_events.sql, transforms.stats.aoristic); a
    unit's weight per slot is the sum of both."""
    days = settings.sara.analysis.repeat_window_days
    ranges = day_ranges(agency_ends(con, as_of), lambda end: end - timedelta(days=days - 1))
    try:
        run_model(con, "inputs/temporal_local", ranges=ranges)
        ev = read_model(con, "inputs/temporal_events")
        pts = read_model(con, "inputs/temporal_slots")
    finally:
        con.execute("DROP TABLE IF EXISTS temp.temporal_local")
    ev_by = dict(groups(ev, ["agency", "dataset"]))
    pts_by = dict(groups(pts, ["agency", "dataset"]))
    out = []
    for agency, dataset in sorted(set(ev_by) | set(pts_by)):
        g, p = ev_by.get((agency, dataset)), pts_by.get((agency, dataset))
        for unit_type, key in (("agency", None), ("beat", "beat"), ("district", "district")):
            prof = _unit_profile(g, p, agency, key)
            if prof is not None:
                out.append(prof.with_columns(agency=pl.lit(agency), dataset=pl.lit(dataset),
                                             unit_type=pl.lit(unit_type)))
    write_mart(con, TEMPORAL_PROFILE, pl.concat(out, how="vertical_relaxed") if out else None)


def _unit_profile(events: pl.DataFrame | None, points: pl.DataFrame | None, agency: str,
                  key: str | None) -> pl.DataFrame | None:
    """One agency's and dataset's profile per category group and unit (the agency itself when key is None, else
    its beats or districts): every slot of every unit and group with an event, the weights of the spread events
    plus the point counts, and n_left_out."""
    def unit(df: pl.DataFrame) -> pl.DataFrame:
        df = df if key is None else df.filter(pl.col(key).is_not_null())
        return df.with_columns(category_group=pl.col("category_group").cast(pl.String),
                               unit_id=pl.lit(agency) if key is None else pl.col(key).cast(pl.String))

    ids = ["category_group", "unit_id"]
    parts, keys, left_out = [], [], None
    if events is not None and not (sub := unit(events)).is_empty():
        k = sub.select(pl.concat_str(ids, separator="|").alias("k")).to_series()
        res = exact_profile(sub["start_local"].to_numpy(), sub["time_precision"].to_numpy(),
                            end=sub["end_local"].to_numpy(), key=k)
        split = pl.col("k").str.splitn("|", 2)
        parts.append(res.profile.select(category_group=split.struct.field("field_0"),
                                        unit_id=split.struct.field("field_1"), slot="slot", weight="weight"))
        keys.append(sub.select(ids))
        # per unit: a beat's own events without a time of day (not its agency's)
        left_out = sub.filter(pl.col("time_precision").ne_missing("exact")).group_by(ids).agg(n_left_out=pl.len())
    if points is not None and not (pt := unit(points)).is_empty():
        parts.append(pt.group_by([*ids, "slot"]).agg(weight=pl.col("n").sum().cast(pl.Float64)))
        keys.append(pt.select(ids))
    if not keys:
        return None
    slots = pl.DataFrame({"slot": pl.Series(range(N_SLOTS), dtype=pl.Int16)})
    grid = pl.concat(keys).unique().join(slots, how="cross")
    weights = pl.concat(parts, how="vertical_relaxed").group_by([*ids, "slot"]).agg(pl.col("weight").sum())
    prof = (grid.join(weights, on=[*ids, "slot"], how="left")
            .with_columns(pl.col("weight").fill_null(0.0),
                          weekday=(pl.col("slot") // 24).cast(pl.Int8), hour=(pl.col("slot") % 24).cast(pl.Int8)))
    if left_out is not None:
        prof = prof.join(left_out, on=ids, how="left")
    else:
        prof = prof.with_columns(n_left_out=pl.lit(None, dtype=pl.UInt32))
    return prof.with_columns(pl.col("n_left_out").fill_null(0)).sort([*ids, "slot"])
