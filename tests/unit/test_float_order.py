"""Float noise: the statistics that sum in Python give the same bits whatever order their input comes in."""

from __future__ import annotations

import numpy as np


def test_kde_does_not_depend_on_input_order():
    """The same events in another order, the same cells in another order, other block sizes: the same bits."""
    from transforms.stats.kde import quartic_kde

    rng = np.random.default_rng(7)
    n = 4000
    px, py = rng.normal(0, 300, n), rng.normal(0, 300, n)
    px[:50], py[:50] = px[50:100], py[50:100]  # some events at the same place
    w = rng.integers(1, 4, n).astype(float)
    cx, cy = (a.ravel() for a in np.meshgrid(np.arange(-900, 900, 50.0), np.arange(-900, 900, 50.0)))
    ref = quartic_kde(px, py, cx, cy, 400.0, weights=w, unit="km2")
    for seed in range(3):
        r = np.random.default_rng(seed)
        e, c = r.permutation(n), r.permutation(cx.size)
        for max_pairs in (2_000_000, 5000):
            got = np.empty_like(ref)
            got[c] = quartic_kde(px[e], py[e], cx[c], cy[c], 400.0, weights=w[e], unit="km2", max_pairs=max_pairs)
            assert np.array_equal(got, ref), (seed, max_pairs, float(np.max(np.abs(got - ref))))


def test_hour_of_week_profile_does_not_depend_on_input_order():
    from transforms.stats.aoristic import profile

    rng = np.random.default_rng(3)
    n = 20000
    start = np.datetime64("2024-01-01T00:00") + rng.integers(0, 60 * 24 * 90, n).astype("timedelta64[m]")
    end = start + rng.integers(0, 60 * 30, n).astype("timedelta64[m]")
    key = rng.choice(["a", "b", "c"], n)
    for chunk_rows in (4_000_000, 7000):  # the default, and chunks that split every group
        ref = profile(start, end, key=key, chunk_rows=chunk_rows)["weight"].to_numpy()
        for seed in range(3):
            o = np.random.default_rng(seed).permutation(n)
            got = profile(start[o], end[o], key=key[o], chunk_rows=chunk_rows)["weight"].to_numpy()
            assert np.array_equal(got, ref), (seed, chunk_rows, float(np.max(np.abs(got - ref))))


def test_kde_of_many_sets_equals_each_set_alone():
    """quartic_kde_sets shares the (cell, point) distances between sets of events; each column must still be,
    bit for bit, the density of that set alone, whatever the input order, with points in several sets and
    events at the same point within one set."""
    from transforms.stats.kde import quartic_kde, quartic_kde_sets

    rng = np.random.default_rng(11)
    n = 6000
    px, py = rng.normal(0, 300, n).round(0), rng.normal(0, 300, n).round(0)  # rounded: many shared points
    w = rng.integers(1, 5, n).astype(float)
    sets = rng.integers(0, 4, n)
    cx, cy = (a.ravel() for a in np.meshgrid(np.arange(-900, 900, 50.0), np.arange(-900, 900, 50.0)))
    alone = [quartic_kde(px[sets == s], py[sets == s], cx, cy, 400.0, weights=w[sets == s], unit="km2")
             for s in range(5)]
    assert not alone[4].any()  # a set without events is all zero
    for seed, max_pairs in ((0, 2_000_000), (1, 3000), (2, 1)):
        o = np.random.default_rng(seed).permutation(n)
        got = quartic_kde_sets(px[o], py[o], cx, cy, 400.0, weights=w[o], sets=sets[o], n_sets=5, unit="km2",
                               max_pairs=max_pairs)
        assert got.shape == (cx.size, 5)
        for s in range(5):
            assert np.array_equal(got[:, s], alone[s]), (seed, max_pairs, s)
