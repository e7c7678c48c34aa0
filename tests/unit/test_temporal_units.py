"""marts.temporal_profile per unit (transforms/marts/temporal_profile.py `_unit_profile`), by hand: the spread
events and the point counts add up per slot, and a unit's n_left_out counts its own events without a time of
day, not its agency's."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from transforms.marts.temporal_profile import _unit_profile

# the spread input (inputs/temporal_events.sql): an incident window Monday 2024-03-04 10:30-11:30 in beat A,
# three date-only calls in beat A and one in beat B
EVENTS = pl.DataFrame({
    "category_group": ["all"] * 5,
    "time_precision": ["exact", "date_only", "date_only", "date_only", "date_only"],
    "beat": ["A", "A", "A", "A", "B"],
    "district": ["1"] * 5,
    "start_local": [datetime(2024, 3, 4, 10, 30), *[datetime(2024, 3, 4)] * 4],
    "end_local": [datetime(2024, 3, 4, 11, 30), *[None] * 4],
})
# the point counts (inputs/temporal_slots.sql): 2 calls in slot 10 (Monday 10:00) in beat B
POINTS = pl.DataFrame({"category_group": ["all"], "beat": ["B"], "district": ["1"],
                       "slot": pl.Series([10], dtype=pl.Int16), "n": [2]})


def _rows(key):
    prof = _unit_profile(EVENTS, POINTS, "pd", key)
    return {(r["unit_id"], r["slot"]): (r["weight"], r["n_left_out"]) for r in prof.iter_rows(named=True)
            if r["weight"] or r["slot"] == 0}


def test_agency_unit_adds_windows_and_points():
    rows = _rows(None)
    # slot 10: half the window and both points; slot 11: the window's other half
    assert rows[("pd", 10)] == (2.5, 4) and rows[("pd", 11)] == (0.5, 4)
    assert rows[("pd", 0)][1] == 4  # every row of the unit carries its count of events left out


def test_each_beat_counts_its_own_events_left_out():
    rows = _rows("beat")
    assert rows[("A", 10)] == (0.5, 3) and rows[("A", 11)] == (0.5, 3)
    assert rows[("B", 10)] == (2.0, 1)
    assert _unit_profile(EVENTS, POINTS, "pd", "beat").height == 2 * 168  # every slot of both beats
