"""Crime concentration: Gini (population form), generalized Gini, Lorenz points and shares."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transforms.stats.concentration import (
    concentration_summary,
    generalized_gini,
    gini,
    lorenz_points,
    share_of_units_holding,
    top_share,
)

MORE_EVENTS = [10, 8, 2] + [0] * 7  # U = 10, E = 20
FEWER_EVENTS = [5, 2, 1] + [0] * 7  # U = 10, E = 8


def test_gini_vectors():
    assert round(gini(MORE_EVENTS), 2) == 0.78
    assert round(generalized_gini(MORE_EVENTS), 2) == 0.78
    assert round(gini(FEWER_EVENTS), 2) == 0.80
    assert round(generalized_gini(FEWER_EVENTS), 2) == 0.75


def test_gini_is_the_population_mean_absolute_difference_form():
    # Σ|xi − xj| over ordered pairs = 312, n = 10, mean = 2: 312 / (2 · 100 · 2) = 0.78 exactly.
    assert gini(MORE_EVENTS) == pytest.approx(0.78, abs=1e-12)
    # 128 / (2 · 100 · 0.8) = 0.80; G′ = 1.25 · (0.8 − 1) + 1 = 0.75.
    assert gini(FEWER_EVENTS) == pytest.approx(0.80, abs=1e-12)
    assert generalized_gini(FEWER_EVENTS) == pytest.approx(0.75, abs=1e-12)
    rng = np.random.default_rng(7)
    x = rng.poisson(1.5, 57)
    brute = np.abs(x[:, None] - x[None, :]).sum() / (2 * x.size**2 * x.mean())
    assert gini(x) == pytest.approx(brute, abs=1e-12)


def test_gini_ignores_unit_order_and_bounds():
    assert gini([2, 0, 10, 0, 8, 0, 0, 0, 0, 0]) == pytest.approx(gini(MORE_EVENTS))
    assert gini([3, 3, 3, 3]) == 0.0
    assert gini([0, 0, 0, 7]) == pytest.approx(3 / 4)  # (n − 1) / n


def test_edge_cases_zero_events_and_one_unit():
    assert math.isnan(gini([0, 0, 0]))
    assert math.isnan(generalized_gini([0, 0, 0]))
    assert math.isnan(gini([]))
    assert math.isnan(share_of_units_holding([0, 0], 0.5))
    assert math.isnan(top_share([0, 0], 0.1))
    assert gini([5]) == 0.0
    assert generalized_gini([5]) == 0.0
    assert share_of_units_holding([5], 0.5) == 1.0
    assert top_share([5], 0.01) == 1.0
    s = concentration_summary([0, 0, 0])
    assert s["n_units"] == 3 and s["n_events"] == 0 and math.isnan(s["gini"])


def test_bad_input():
    with pytest.raises(ValueError):
        gini([1, -1])
    with pytest.raises(ValueError):
        gini([1, float("nan")])
    with pytest.raises(ValueError):
        top_share([1, 2], 1.5)


def test_lorenz_points_from_highest_down():
    df = lorenz_points([2, 10, 0, 8])
    assert df.columns == ["share_units", "share_events"]
    assert df["share_units"].to_list() == [0.0, 0.25, 0.5, 0.75, 1.0]
    assert df["share_events"].to_list() == [0.0, 0.5, 0.9, 1.0, 1.0]
    zero = lorenz_points([0, 0])
    assert zero.row(0) == (0.0, 0.0) and math.isnan(zero["share_events"][-1])


def test_share_of_units_holding_whole_units():
    # sorted 10, 8, 2, 0…: cumulative shares 0.5, 0.9, 1.0 at 1, 2, 3 units of 10
    assert share_of_units_holding(MORE_EVENTS, 0.25) == 0.1
    assert share_of_units_holding(MORE_EVENTS, 0.50) == 0.1  # exactly reached by one unit
    assert share_of_units_holding(MORE_EVENTS, 0.80) == 0.2  # 1.6 units needed -> 2 whole units
    assert share_of_units_holding(MORE_EVENTS, 1.0) == 0.3
    assert share_of_units_holding(MORE_EVENTS, 0.0) == 0.0
    # float-exactness: 3 of 30 events is "at least 10 %"
    assert share_of_units_holding([3] + [1] * 27, 0.1) == pytest.approx(1 / 28)


def test_top_share_ceil_units():
    # top 10 % of 10 units = 1 unit = 10/20; top 1 % = ceil(0.1) = 1 unit too
    assert top_share(MORE_EVENTS, 0.10) == 0.5
    assert top_share(MORE_EVENTS, 0.01) == 0.5
    assert top_share(MORE_EVENTS, 0.15) == 0.9  # ceil(1.5) = 2 units
    assert top_share(MORE_EVENTS, 0.0) == 0.0
    assert top_share(MORE_EVENTS, 1.0) == 1.0
    # ties: the top 1 of [4, 4, 2] holds 4/10 whichever 4 is taken
    assert top_share([4, 4, 2], 1 / 3) == 0.4
    # 0.1 · 30 = 3.0000000000000004 must still be 3 units, not 4
    x = [1] * 30
    assert top_share(x, 0.1) == pytest.approx(0.1)


def test_concentration_summary():
    s = concentration_summary(FEWER_EVENTS)
    assert set(s) == {
        "n_units",
        "n_events",
        "share_units_25",
        "share_units_50",
        "share_units_80",
        "gini",
        "generalized_gini",
    }
    assert s["n_units"] == 10 and s["n_events"] == 8
    # sorted 5, 2, 1: cumulative 0.625, 0.875, 1.0
    assert (s["share_units_25"], s["share_units_50"], s["share_units_80"]) == (0.1, 0.1, 0.2)
    assert round(s["gini"], 2) == 0.80 and round(s["generalized_gini"], 2) == 0.75
