"""Gi* conditional permutation inference (transforms/stats/gi_permutation.py) on cases small enough to know the
answer exactly: every subset of the other units enumerated, the draws checked for uniformity, the edge cases."""

from __future__ import annotations

from itertools import combinations
from math import comb

import numpy as np
import pytest

from transforms.stats.gi_permutation import gi_bin_sim, gi_star_permutation, neighbour_draws
from transforms.stats.gi_star import gi_star_grid, gi_star_sparse


def exact_tails(y: np.ndarray, nbrs: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """P(R >= O_i) and P(R <= O_i) under conditional randomization, by enumerating every k_i-subset of the
    n - 1 other values (each equally likely when k_i values are drawn without replacement)."""
    n = y.size
    ge, le = np.zeros(n), np.zeros(n)
    for i in range(n):
        others = [j for j in range(n) if j != i]
        k = len(nbrs[i])
        obs = sum(y[j] for j in nbrs[i])
        sums = [sum(y[j] for j in c) for c in combinations(others, k)]
        assert len(sums) == comb(n - 1, k)
        ge[i] = np.mean([s >= obs for s in sums])
        le[i] = np.mean([s <= obs for s in sums])
    return ge, le


# five units on a line, each the neighbour of the next (self added by Gi*): 0-1-2-3-4
LINE = [[1], [0, 2], [1, 3], [2, 4], [3]]
Y5 = np.array([0.0, 1.0, 7.0, 6.0, 2.0])


def test_five_units_match_exact_enumeration():
    """The Monte Carlo pseudo p converges to the exact conditional-randomization p; with 200,000 draws it is
    within 5 binomial standard errors of it for every unit."""
    res = gi_star_sparse(Y5, LINE)
    perms = 200_000
    sim = gi_star_permutation(Y5, res.local_sum, res.n_neighbors, perms, seed=7)
    ge, le = exact_tails(Y5, LINE)
    exact = np.minimum(ge, le)
    se = np.sqrt(exact * (1 - exact) / perms) + 1 / perms
    assert np.all(np.abs(sim.p_sim - exact) <= 5 * se), (sim.p_sim, exact)
    np.testing.assert_allclose(sim.ge / perms, ge, atol=5 * np.sqrt(0.25 / perms))
    np.testing.assert_allclose(sim.le / perms, le, atol=5 * np.sqrt(0.25 / perms))
    # by hand: unit 3 (value 6) has neighbours 2 and 4 (7 + 2 = 9); of the 6 pairs of {0, 1, 7, 2} only
    # {7, 2} reaches 9, so P(R >= 9) = 1/6, and the unit is on the upper side
    assert ge[3] == pytest.approx(1 / 6) and sim.high[3]
    # unit 0 (value 0) has neighbour 1 (value 1): of {1, 7, 6, 2}, one value is <= 1, so P(R <= 1) = 1/4
    assert le[0] == pytest.approx(1 / 4) and not sim.high[0]


def test_ties_count_in_both_tails():
    """A unit whose neighbours are all empty, among mostly empty units: most draws tie with it, so it is not
    a significant cold spot (esda's folding would give it 1 / (P + 1))."""
    y = np.array([0, 0, 0, 0, 0, 0, 5.0, 0])
    nbrs = [[1], [0], [3], [2], [5], [4], [7], [6]]
    res = gi_star_sparse(y, nbrs)
    sim = gi_star_permutation(y, res.local_sum, res.n_neighbors, 9999, seed=3)
    ge, le = exact_tails(y, nbrs)
    # unit 0: neighbour 1 holds 0; the other 6 of its 7 other units hold 0 too, so P(R <= 0) = 6/7
    assert le[0] == pytest.approx(6 / 7) and ge[0] == 1.0
    assert sim.p_sim[0] == pytest.approx(6 / 7, abs=0.02)
    # unit 7's neighbour 6 holds the only event: P(R >= 5) = 1/7
    assert sim.p_sim[7] == pytest.approx(1 / 7, abs=0.02) and sim.high[7]


def test_integer_sums_are_exact_and_reproducible():
    rng = np.random.default_rng(1)
    ix, iy = np.divmod(np.arange(400), 20)
    y = rng.poisson(0.7, 400).astype(float)
    res = gi_star_grid(ix, iy, y)
    a = gi_star_permutation(y, res.local_sum, res.n_neighbors, 499, seed=11)
    b = gi_star_permutation(y, res.local_sum, res.n_neighbors, 499, seed=11)
    c = gi_star_permutation(y, res.local_sum, res.n_neighbors, 499, seed=12)
    np.testing.assert_array_equal(a.p_sim, b.p_sim)
    assert not np.array_equal(a.p_sim, c.p_sim)
    # a table drawn once serves any y over the same units
    draws = neighbour_draws(400, 8, 499, 11)
    d = gi_star_permutation(y, res.local_sum, res.n_neighbors, 499, draws=draws)
    np.testing.assert_array_equal(a.p_sim, d.p_sim)
    assert np.all((a.p_sim >= 1 / 500) & (a.p_sim <= 1))
    assert np.all(a.ge + a.le >= 499)  # every draw is >= or <= the observation (both when it ties)


def test_draws_are_uniform_subsets_in_random_order():
    """Every prefix of a row is a uniform random subset: each of the 9 indices appears in position 0 and in
    the first 3 positions equally often (chi-square, fixed seed), and rows hold distinct indices."""
    d = neighbour_draws(10, 5, 60_000, seed=5)
    assert d.shape == (60_000, 5) and d.min() == 0 and d.max() == 8
    assert all(len(set(r)) == 5 for r in d[:2000].tolist())
    from scipy.stats import chisquare

    first = np.bincount(d[:, 0], minlength=9)
    assert chisquare(first).pvalue > 1e-4
    first3 = np.bincount(d[:, :3].ravel(), minlength=9)
    assert chisquare(first3).pvalue > 1e-4


def test_units_without_information_get_p_one():
    y = np.array([3.0, 0, 1, 2])
    # unit 0 is an island (itself only); unit 1's neighbourhood is the whole area
    res = gi_star_sparse(y, [[], [0, 2, 3], [1], [1]])
    sim = gi_star_permutation(y, res.local_sum, res.n_neighbors, 99, seed=1)
    assert sim.p_sim[0] == 1.0 and sim.p_sim[1] == 1.0
    assert gi_bin_sim(sim)[:2].tolist() == [0, 0]


def test_bins_two_sided_with_fdr():
    """gi_bin_sim uses min(1, 2 p_sim): a one-sided p_sim of 0.03 is a two-sided 0.06, the 90 % bin."""
    from transforms.stats.gi_permutation import GiPermutationResult

    p = np.array([0.001, 0.003, 0.03, 0.2, 0.004])
    high = np.array([True, True, True, True, False])
    r = GiPermutationResult(p, high, np.zeros(5, int), np.zeros(5, int), 999)
    assert gi_bin_sim(r, fdr=False).tolist() == [3, 3, 1, 0, -3]
    # BH on the two-sided p: 0.002, 0.006, 0.06, 0.4, 0.008 -> 0.01, 0.0133, 0.075, 0.4, 0.0133 (none < 0.01)
    assert gi_bin_sim(r).tolist() == [2, 2, 1, 0, -2]


def test_bad_input():
    with pytest.raises(ValueError, match="same length"):
        gi_star_permutation([1.0, 2.0], [1.0], [1, 1])
    with pytest.raises(ValueError, match="n_neighbors"):
        gi_star_permutation([1.0, 2.0], [1.0, 2.0], [0, 1])
    with pytest.raises(ValueError, match="cannot be drawn"):
        neighbour_draws(3, 3, 10, 1)
    with pytest.raises(ValueError, match="NaN"):
        gi_star_permutation([np.nan, 2.0], [1.0, 2.0], [1, 1])
