"""Gi* permutation inference against esda's G_Local(star=True, transform="B", permutations=999) on the same values
and weights, each with a fixed seed. The two draw different random tables, so the check is on distributions
(two-sample Kolmogorov-Smirnov, the share of significant units, per-unit agreement at 0.05), never on digits."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy.stats import ks_2samp

from transforms.stats.gi_permutation import gi_star_permutation
from transforms.stats.gi_star import gi_star_grid

PERMS = 999
SIDE = 30


def _grid(y_fn):
    rng = np.random.default_rng(20240601)
    iy, ix = np.divmod(np.arange(SIDE * SIDE), SIDE)
    y = y_fn(rng, ix, iy)
    return ix, iy, y.astype(float)


def _esda(ix, iy, y):
    from esda import G_Local
    from libpysal.weights import lat2W

    w = lat2W(SIDE, SIDE, rook=False)  # id = row * SIDE + col, the order of _grid
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = G_Local(y, w, transform="B", star=True, permutations=PERMS, seed=12345)
    return np.asarray(g.p_sim, dtype=float), np.asarray(g.Zs)


def _ours(ix, iy, y):
    res = gi_star_grid(ix, iy, y)
    return gi_star_permutation(y, res.local_sum, res.n_neighbors, PERMS, seed=20240601), res


def _compare(a: np.ndarray, b: np.ndarray) -> None:
    # the two-sample KS test does not tell the two apart (counts give clumps of equal p, which the Monte Carlo
    # noise of either side shifts a little, so the test's p-value is the fair yardstick, not the statistic)
    ks = ks_2samp(a, b)
    assert ks.pvalue > 0.01 and ks.statistic < 0.15, ks
    assert abs(np.mean(a <= 0.05) - np.mean(b <= 0.05)) < 0.03
    assert np.mean((a <= 0.05) == (b <= 0.05)) >= 0.95


def test_continuous_values_agree_with_esda():
    """Continuous values with a smooth hot region: no ties, so the two definitions are the same."""
    def y_fn(rng, ix, iy):
        return rng.gamma(2.0, 1.0, ix.size) + 3.0 * np.exp(-((ix - 8) ** 2 + (iy - 20) ** 2) / 20)

    ix, iy, y = _grid(y_fn)
    p_esda, z_esda = _esda(ix, iy, y)
    sim, res = _ours(ix, iy, y)
    np.testing.assert_allclose(res.z, z_esda, atol=1e-9)  # same values, same weights
    _compare(sim.p_sim, p_esda)
    # the side: esda's p_sim is about the tail the observation is in; so is `high`, which follows z
    strong = np.abs(res.z) > 2
    assert np.all(sim.high[strong] == (res.z[strong] > 0))


def test_sparse_counts_agree_on_the_hot_side():
    """Sparse Poisson counts (many ties). Where fewer than half the draws are as high as the observation, esda
    and sara both count the draws >= it (ties included), so those units agree; in the lower tail esda does not count ties against the observation, so every
    unit whose neighbours are all empty gets its smallest p, 1/(P+1), while sara gives it the share of draws
    that are as empty."""
    def y_fn(rng, ix, iy):
        lam = np.where((abs(ix - 20) <= 2) & (abs(iy - 9) <= 2), 3.0, 0.15)
        return rng.poisson(lam)

    ix, iy, y = _grid(y_fn)
    p_esda, _ = _esda(ix, iy, y)
    sim, res = _ours(ix, iy, y)
    hot = sim.ge <= PERMS / 2
    assert hot.sum() > 100
    _compare(sim.p_sim[hot], p_esda[hot])
    # cells with the same neighbourhood size and the same observed sum of the neighbours test the same thing,
    # and each side answers all of them from one table of draws: per such group the two mean p must lie within
    # 4 Monte Carlo standard errors of each other
    others, k = (res.local_sum - y)[hot], (res.n_neighbors - 1)[hot]
    for key in {(float(o), int(kk)) for o, kk in zip(others, k, strict=True)}:
        m = (others == key[0]) & (k == key[1])
        pa, pb = sim.p_sim[hot][m].mean(), p_esda[hot][m].mean()
        p = (pa + pb) / 2
        assert abs(pa - pb) <= 4 * (np.sqrt(2 * p * (1 - p) / PERMS) + 2 / PERMS), (key, pa, pb)
    empty = res.local_sum - y == 0
    assert empty.sum() > 100
    assert np.all(p_esda[empty] == pytest.approx(1 / (PERMS + 1)))
    # here about (1 - 0.15)^8 ~ a quarter of random neighbourhoods are empty too: far from significant
    assert np.all(sim.p_sim[empty] > 0.1)
