"""Aoristic hour-of-week weights: hand-computed windows (2024-01-01 is a Monday)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from transforms.stats.aoristic import N_SLOTS, aoristic_weights, exact_profile, profile


def _dt(*values):
    return np.array([v if v is not None else "NaT" for v in values], dtype="datetime64[us]")


def _weights(start, end=None) -> dict[int, dict[int, float]]:
    df = aoristic_weights(_dt(*start), None if end is None else _dt(*end))
    out: dict[int, dict[int, float]] = {}
    for ev, slot, w in df.iter_rows():
        out.setdefault(ev, {})[slot] = w
    return out


def test_slot_numbering_monday_zero_sunday_167():
    w = _weights(["2024-01-01T00:00", "2024-01-02T05:10", "2024-01-07T23:59", "2023-12-31T23:00"])
    assert w == {0: {0: 1.0}, 1: {29: 1.0}, 2: {167: 1.0}, 3: {167: 1.0}}


def test_window_inside_one_hour():
    assert _weights(["2024-01-03T14:10"], ["2024-01-03T14:40"]) == {0: {2 * 24 + 14: 1.0}}


def test_window_over_three_hours():
    assert _weights(["2024-01-01T09:30"], ["2024-01-01T11:30"]) == {0: {9: 0.25, 10: 0.5, 11: 0.25}}


def test_window_wraps_sunday_to_monday():
    assert _weights(["2024-01-07T23:00"], ["2024-01-08T01:00"]) == {0: {167: 0.5, 0: 0.5}}


def test_window_ending_on_the_hour_does_not_touch_the_next_hour():
    assert _weights(["2024-01-01T09:00"], ["2024-01-01T11:00"]) == {0: {9: 0.5, 10: 0.5}}


@pytest.mark.parametrize("end", ["2024-01-08T09:30", "2024-01-11T09:30", "2024-02-20T00:00"])
def test_a_week_or_more_is_uniform(end):
    w = _weights(["2024-01-01T09:30"], [end])[0]
    assert sorted(w) == list(range(N_SLOTS))
    assert set(w.values()) == {1 / 168}


def test_just_under_a_week_merges_the_shared_slot():
    # Mon 09:30 -> next Mon 09:29: Mon 09:00 slot gets 30 + 29 minutes of 10,079
    w = _weights(["2024-01-01T09:30"], ["2024-01-08T09:29"])[0]
    assert len(w) == N_SLOTS
    assert w[9] == pytest.approx(59 / 10_079)
    assert w[10] == pytest.approx(60 / 10_079)
    assert sum(w.values()) == pytest.approx(1.0)


def test_missing_end_and_end_not_after_start_use_the_start_hour():
    w = _weights(
        ["2024-01-01T09:30", "2024-01-01T09:30", "2024-01-01T09:30"],
        [None, "2024-01-01T08:00", "2024-01-01T09:30"],
    )
    assert w == {0: {9: 1.0}, 1: {9: 1.0}, 2: {9: 1.0}}
    assert _weights(["2024-01-02T03:45"]) == {0: {27: 1.0}}  # no end array at all


def test_missing_start_has_no_rows():
    assert _weights([None, "2024-01-01T01:00"], ["2024-01-01T05:00", None]) == {1: {1: 1.0}}


def test_each_event_sums_to_one():
    start = _dt("2024-01-01T09:30", "2024-01-05T17:17", "2024-01-07T22:59", "2024-01-01T00:00")
    end = _dt("2024-01-01T11:30", "2024-01-07T02:03", "2024-01-09T00:01", "2024-03-01T00:00")
    sums = aoristic_weights(start, end).group_by("event_index").agg(pl.col("weight").sum())
    assert sums.height == 4
    assert sums["weight"].to_list() == pytest.approx([1.0] * 4)


def test_profile_sums_slots_and_groups_by_key():
    start = _dt("2024-01-01T09:30", "2024-01-07T23:00", "2024-01-08T10:15")
    end = _dt("2024-01-01T11:30", "2024-01-08T01:00", None)
    p = profile(start, end)
    assert p.height == N_SLOTS and p.columns == ["slot", "weekday", "hour", "weight"]
    w = dict(zip(p["slot"].to_list(), p["weight"].to_list(), strict=True))
    assert {s: v for s, v in w.items() if v} == {9: 0.25, 10: 1.5, 11: 0.25, 167: 0.5, 0: 0.5}
    assert p.filter(pl.col("slot") == 167).row(0)[:3] == (167, 6, 23)

    g = profile(start, end, key=pl.Series("offence", ["burglary", None, "burglary"]))
    assert g.columns == ["offence", "slot", "weekday", "hour", "weight"]
    assert g.height == 2 * N_SLOTS
    assert g["offence"].to_list()[::N_SLOTS] == ["burglary", None]  # nulls last
    by = g.group_by("offence").agg(pl.col("weight").sum()).sort("offence", nulls_last=True)
    assert by["weight"].to_list() == [2.0, 1.0]


def test_profile_in_small_chunks_matches():
    start = _dt("2024-01-01T09:30", "2024-01-07T23:00", "2024-01-08T10:15", None, "2024-01-02T00:00")
    end = _dt("2024-01-01T11:30", "2024-01-08T01:00", None, None, "2024-01-20T00:00")
    whole = profile(start, end)["weight"].to_numpy()
    chunked = profile(start, end, chunk_rows=2)["weight"].to_numpy()
    assert np.allclose(whole, chunked)
    assert whole.sum() == pytest.approx(4.0)


def test_exact_profile_keeps_hourless_out_and_counts_them():
    start = _dt("2024-01-01T09:30", "2024-01-02T00:00", "2024-01-03T00:00", None)
    end = _dt("2024-01-01T09:45", None, "2024-01-03T06:00", None)
    prec = ["exact", "unknown_time", "date_only", "exact"]
    res = exact_profile(start, prec, end)
    assert (res.n_left_out, res.n_spread, res.n_missing_start) == (2, 0, 1)
    nz = res.profile.filter(pl.col("weight") > 0)
    assert nz.select("slot", "weight").rows() == [(9, 1.0)]


def test_exact_profile_spread_unknown_over_its_day():
    start = _dt("2024-01-01T09:30", "2024-01-02T00:00", "2024-01-03T13:00")
    end = _dt("2024-01-01T09:45", None, "2024-01-03T18:00")  # an hourless event's end is ignored
    res = exact_profile(start, ["exact", "unknown_time", "date_only"], end, spread_unknown=True)
    assert (res.n_left_out, res.n_spread, res.n_missing_start) == (0, 2, 0)
    w = dict(zip(res.profile["slot"].to_list(), res.profile["weight"].to_list(), strict=True))
    assert w[9] == 1.0
    for day in (1, 2):  # Tuesday and Wednesday
        for hour in range(24):
            assert w[day * 24 + hour] == pytest.approx(1 / 24)
    assert sum(w.values()) == pytest.approx(3.0)


def test_exact_profile_rejects_unknown_precision():
    with pytest.raises(ValueError, match="time_precision"):
        exact_profile(_dt("2024-01-01T09:30"), ["approximate"])
