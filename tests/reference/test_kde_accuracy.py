"""Quartic kernel density and hot-spot prediction accuracy (hit rate, PAI, PEI) on hand-made fixtures."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transforms.stats.accuracy import n_top_cells, prediction_accuracy, rank_cells
from transforms.stats.kde import quartic_kde, quartic_kernel

# --- quartic KDE --------------------------------------------------------------------------------------------

H = 100.0


def _grid(step=1.0, half=H):
    g = np.arange(-half, half + step / 2, step)
    gx, gy = np.meshgrid(g, g, indexing="ij")
    return gx.ravel(), gy.ravel()


def test_single_event_integrates_to_one():
    cx, cy = _grid(step=1.0)  # 1 m cells covering the whole kernel support
    d = quartic_kde([0.0], [0.0], cx, cy, H)
    assert d.sum() * 1.0 == pytest.approx(1.0, rel=0.01)
    # off-centre event, 2 m cells: still 1 event in total
    cx2, cy2 = _grid(step=2.0, half=130)
    d2 = quartic_kde([3.3], [-7.1], cx2, cy2, H)
    assert d2.sum() * 4.0 == pytest.approx(1.0, rel=0.01)


def test_peak_value_and_support():
    peak = 3 / (math.pi * H * H)
    cx = np.array([0.0, 50.0, 99.9, 100.0, 100.5, 150.0, 0.0])
    cy = np.array([0.0, 0.0, 0.0, 0.0, 0.0, 0.0, -150.0])
    d = quartic_kde([0.0], [0.0], cx, cy, H)
    assert d[0] == pytest.approx(peak)
    assert d[1] == pytest.approx(peak * (1 - 0.25) ** 2)
    assert d[2] > 0
    assert d[3:].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert quartic_kernel([0.0, 50.0, 120.0], H).tolist() == pytest.approx([peak, peak * 0.5625, 0.0])


def test_two_events_superpose_and_weights_scale():
    cx, cy = _grid(step=10.0, half=250)
    a = quartic_kde([0.0], [0.0], cx, cy, H)
    b = quartic_kde([60.0], [-20.0], cx, cy, H)
    both = quartic_kde([0.0, 60.0], [0.0, -20.0], cx, cy, H)
    np.testing.assert_allclose(both, a + b, rtol=1e-12, atol=0)
    w = quartic_kde([0.0, 60.0], [0.0, -20.0], cx, cy, H, weights=[2.0, 0.5])
    np.testing.assert_allclose(w, 2 * a + 0.5 * b, rtol=1e-12, atol=0)
    np.testing.assert_allclose(quartic_kde([0.0], [0.0], cx, cy, H, unit="km2"), a * 1e6, rtol=1e-12)


def test_blocks_match_brute_force():
    rng = np.random.default_rng(4)
    px, py = rng.uniform(0, 2000, 300), rng.uniform(0, 2000, 300)
    cx, cy = (v.ravel() for v in np.meshgrid(np.arange(25, 2000, 50.0), np.arange(25, 2000, 50.0)))
    d = np.hypot(cx[:, None] - px[None, :], cy[:, None] - py[None, :])
    brute = quartic_kernel(d, 250.0).sum(axis=1)
    for max_pairs in (1, 97, 2_000_000):  # 1: a block per cell
        np.testing.assert_allclose(quartic_kde(px, py, cx, cy, 250.0, max_pairs=max_pairs), brute, rtol=1e-10)


def test_no_events_and_bad_input():
    assert quartic_kde([], [], [0.0, 500.0], [0.0, 0.0], H).tolist() == [0.0, 0.0]
    with pytest.raises(ValueError, match="positive"):
        quartic_kde([0.0], [0.0], [0.0], [0.0], 0.0)
    with pytest.raises(ValueError, match="finite"):
        quartic_kde([np.nan], [0.0], [0.0], [0.0], H)
    with pytest.raises(ValueError, match="longitude/latitude"):  # degrees with a bandwidth in metres
        quartic_kde([-122.41, -122.40], [37.77, 37.78], [-122.405], [37.775], 400.0)


# --- accuracy: hit rate, PAI, PEI ---------------------------------------------------------------------------

COUNTS = [5, 0, 3, 2, 0, 1, 4, 0, 0, 5]  # this period, N = 20
SCORES = [0.2, 0.9, 0.5, 0.9, 0.1, 0.3, 0.8, 0.0, 0.4, 0.6]  # last period; cells 1 and 3 tie at 0.9


def test_hand_computed_equal_cells():
    # ranking: cell 1 (0.9, lower id wins the tie), 3 (0.9), 6 (0.8), 9 (0.6), 2 (0.5), ...
    # busiest cells this period: 5, 5, 4, 3, ...
    r = prediction_accuracy(SCORES, COUNTS, coverages=(0.1, 0.2, 0.3))
    assert r["n_cells"].to_list() == [1, 2, 3]
    assert r["n_events"].to_list() == [0, 2, 6]  # cell 1: 0; + cell 3: 2; + cell 6: 4
    assert r["n_best"].to_list() == [5, 10, 14]
    assert r["hit_rate"].to_list() == pytest.approx([0.0, 0.1, 0.3])
    assert r["pai"].to_list() == pytest.approx([0.0, 0.5, 1.0])  # (n/N) / (a/A)
    assert r["pai_best"].to_list() == pytest.approx([2.5, 2.5, 14 / 20 / 0.3])
    assert r["pei"].to_list() == pytest.approx([0.0, 0.2, 6 / 14])  # PAI / PAI* = n / n*
    assert r["area_share"].to_list() == pytest.approx([0.1, 0.2, 0.3])


def test_tie_break_by_cell_id():
    # the same cells, ids reversed: cell 3 (id 6) now beats cell 1 (id 8) at 10 %
    r = prediction_accuracy(SCORES, COUNTS, cell_id=list(range(9, -1, -1)), coverages=(0.1,))
    assert r["n_events"][0] == 2
    assert r["hit_rate"][0] == pytest.approx(0.1)
    assert r["pai"][0] == pytest.approx(1.0)
    assert r["pei"][0] == pytest.approx(0.4)
    assert rank_cells([1.0, np.nan, 1.0, 2.0]).tolist() == [3, 0, 2, 1]  # NaN last


def test_default_coverages_and_area_rule():
    rng = np.random.default_rng(0)
    n = 1000
    r = prediction_accuracy(rng.random(n), rng.poisson(1.0, n))
    assert r["coverage"].to_list() == [0.01, 0.05, 0.10]
    assert r["n_cells"].to_list() == [10, 50, 100]
    # unequal areas: whole cells, the smallest number whose area reaches p * A
    assert n_top_cells([2.0, 1.0, 1.0, 1.0, 5.0], 0.1) == 1  # 2 >= 1.0
    assert n_top_cells([0.5, 0.5, 1.0, 1.0, 7.0], 0.1) == 2  # 0.5 < 1.0 <= 1.0
    assert n_top_cells([0.5, 0.4, 1.0, 1.0, 7.1], 0.1) == 3
    r = prediction_accuracy([3, 2, 1, 0], [1, 1, 1, 1], areas=[1.0, 1.0, 2.0, 4.0], coverages=(0.25, 0.3))
    assert r["n_cells"].to_list() == [2, 3]  # A = 8: 0.25 * 8 = 2 is reached by 1 + 1; 2.4 needs 1 + 1 + 2
    assert r["area"].to_list() == [2.0, 4.0]
    assert r["pai"].to_list() == pytest.approx([(2 / 4) / (2 / 8), (3 / 4) / (4 / 8)])


def test_pai_one_when_events_are_uniform():
    rng = np.random.default_rng(1)
    r = prediction_accuracy(rng.random(200), np.full(200, 3), coverages=(0.01, 0.05, 0.1, 0.5))
    assert r["pai"].to_list() == pytest.approx([1.0] * 4)
    assert r["pei"].to_list() == pytest.approx([1.0] * 4)


def test_pei_never_exceeds_one_and_perfect_forecast():
    rng = np.random.default_rng(2)
    for _ in range(50):
        n = int(rng.integers(20, 300))
        counts = rng.poisson(rng.gamma(0.5, 2.0, n))
        r = prediction_accuracy(rng.normal(size=n), counts, coverages=(0.01, 0.05, 0.1, 0.3))
        pei = r["pei"].drop_nans().to_numpy()
        assert np.all(pei <= 1 + 1e-12) and np.all(pei >= 0)
    counts = rng.poisson(2.0, 100)
    r = prediction_accuracy(counts.astype(float), counts)  # this period's counts as the score
    assert r["pei"].to_list() == pytest.approx([1.0, 1.0, 1.0])


def test_no_events_gives_nan():
    r = prediction_accuracy([1.0, 2.0, 3.0], [0, 0, 0], coverages=(0.5,))
    assert math.isnan(r["hit_rate"][0]) and math.isnan(r["pei"][0])
