"""Gi* with conditional permutation inference (binary weights, self included): pseudo p-values for sparse counts.

Why
---
The normal approximation of Gi* (gi_star.py) assumes each neighbourhood sum is roughly normal. With sparse
counts (most cells 0 or 1 in a 28-day window) it is not: a neighbourhood holding a single event can reach
z > 2.6. Conditional randomization (Anselin 1995, "Local indicators of spatial association - LISA",
Geographical Analysis 27(2), section on inference) asks instead how often the unit's neighbourhood would be
as extreme if the other values were shuffled over the map.

Definition (that of esda's `G_Local(star=True, transform="B", permutations=P)`)
---------------------------------------------------------------------------
For unit i with value y_i and W_i neighbours including itself (k_i = W_i - 1 others), the observed statistic
is its neighbourhood sum S_i. One permutation keeps y_i at i and fills the k_i other places with k_i values
drawn without replacement from the n - 1 values of the other units; its sum is y_i + R. Gi* (as esda's G,
S_i / sum(y), or as the z of Ord & Getis) is increasing in S_i with n, W_i and sum(y) fixed, so comparing
sums is comparing the statistic. With O_i = S_i - y_i the observed sum of the others:

    ge_i = #{permutations with R >= O_i}      le_i = #{permutations with R <= O_i}
    p_sim_i = (min(ge_i, le_i) + 1) / (P + 1)

one-sided and folded: the tail the observation lies in (as esda's p_sim, GeoDa's and ArcGIS's pseudo
p-values). `high` is True when ge_i <= le_i (the observation lies in the upper tail: a hot spot).

One difference from esda, on purpose: esda folds with P - ge_i, the permutations strictly below O_i, so a
tie in the lower tail does not count against the observation. A unit whose whole neighbourhood is empty
(O_i = 0, every permutation >= 0) then gets esda's smallest p, 1 / (P + 1), as a "significant" cold spot
even when most permutations tie with it. Here ties count in both tails ("as or more extreme"), so that unit
gets the share of permutations that are as empty. Without ties (continuous values) the two are equal.

Draws. As esda does, one table of P draws is shared by every unit: row r holds k_max distinct indices into
the n - 1 other units, in random order, and unit i uses the first k_i of them, index j meaning unit j for
j < i and unit j + 1 otherwise. Each prefix of a row is then a uniform random k_i-subset of the others.
The table comes from numpy's `default_rng(seed)`: Floyd's algorithm for the subset (Bentley & Floyd 1987,
"Programming pearls: a sample of brilliance", CACM 30(9)), then a Fisher-Yates shuffle of it, both driven by
2 * k_max uniforms per row, so the same (n, k_max, P, seed) always gives the same table.

Cost: n x P x mean(k) additions, in a compiled kernel parallel over units; no weights matrix.
Pure numpy + numba.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit, prange

from transforms.stats.gi_star import fdr_bh, gi_bin

__all__ = ["GiPermutationResult", "neighbour_draws", "gi_star_permutation", "gi_bin_sim"]


@dataclass(frozen=True)
class GiPermutationResult:
    """Per-unit permutation inference, aligned with the input order.

    p_sim         (min(ge, le) + 1) / (permutations + 1), one-sided folded pseudo p-value.
    high          True where the observation lies in the upper tail (ge <= le): the hot side.
    ge, le        permutations whose neighbourhood sum is >= / <= the observed one.
    permutations  P.
    """

    p_sim: np.ndarray
    high: np.ndarray
    ge: np.ndarray
    le: np.ndarray
    permutations: int


@njit(cache=True)
def _floyd_shuffled(u: np.ndarray, pool: int, k: int) -> np.ndarray:
    """Row r: k distinct integers of 0 .. pool - 1 (Floyd's algorithm on u[r, :k]), shuffled (Fisher-Yates
    on u[r, k:2k]). u holds uniforms in [0, 1)."""
    rows = u.shape[0]
    out = np.empty((rows, k), dtype=np.int32)
    for r in range(rows):
        m = 0
        for j in range(pool - k, pool):
            t = min(int(u[r, m] * (j + 1)), j)  # uniform in 0 .. j
            seen = False
            for q in range(m):
                if out[r, q] == t:
                    seen = True
                    break
            out[r, m] = j if seen else t
            m += 1
        for q in range(k - 1, 0, -1):
            s = min(int(u[r, k + q] * (q + 1)), q)  # uniform in 0 .. q
            tmp = out[r, q]
            out[r, q] = out[r, s]
            out[r, s] = tmp
    return out


def neighbour_draws(n: int, k_max: int, permutations: int, seed: int | None) -> np.ndarray:
    """(permutations, k_max) int32: each row k_max distinct indices into the n - 1 units other than the one
    tested, in random order (see the module notes). Reusable for every y over the same n units."""
    if n < 1 or k_max < 0 or permutations < 1:
        raise ValueError(f"need n >= 1, k_max >= 0 and permutations >= 1 (got {n}, {k_max}, {permutations})")
    if k_max > n - 1:
        raise ValueError(f"k_max = {k_max} neighbours cannot be drawn from the {n - 1} other units")
    u = np.random.default_rng(seed).random((permutations, 2 * k_max))
    return _floyd_shuffled(u, n - 1, k_max)


@njit(parallel=True, cache=True)
def _tails(y: np.ndarray, others: np.ndarray, k: np.ndarray, draws: np.ndarray, tol: float):
    """ge[i], le[i]: draws whose sum over the first k[i] indices (skipping unit i) is >= / <= others[i]."""
    n = y.shape[0]
    perms = draws.shape[0]
    ge = np.zeros(n, dtype=np.int64)
    le = np.zeros(n, dtype=np.int64)
    for i in prange(n):
        ki = k[i]
        o = others[i]
        g = 0
        lo = 0
        for r in range(perms):
            s = 0.0
            for m in range(ki):
                j = draws[r, m]
                if j >= i:
                    j += 1
                s += y[j]
            if s >= o - tol:
                g += 1
            if s <= o + tol:
                lo += 1
        ge[i] = g
        le[i] = lo
    return ge, le


def gi_star_permutation(y, local_sum, n_neighbors, permutations: int = 999, seed: int | None = None,
                        draws: np.ndarray | None = None) -> GiPermutationResult:
    """Conditional permutation pseudo p-values of Gi* for every unit.

    y: the values (counts) of all n units; local_sum: S_i, the neighbourhood sums including the unit
    itself; n_neighbors: W_i, the neighbourhood sizes including the unit itself (both as returned by
    gi_star_grid / gi_star_sparse, so any neighbour structure works: only S, W and y are needed).
    `draws` (from `neighbour_draws(n, max(W) - 1 or more, permutations, seed)`) may be passed to reuse one
    table for many y over the same units; otherwise it is drawn from `seed`.

    Sums are compared with a tolerance of 1e-9 x max|y| x max(k) (exact for integer counts), so a
    permutation that draws the observed neighbourhood back counts as a tie whatever the summation order.
    A unit with no other neighbour (k = 0), or whose neighbourhood is every unit, ties with every
    permutation: p_sim = 1.
    """
    yv = np.ascontiguousarray(y, dtype=np.float64).ravel()
    s = np.asarray(local_sum, dtype=np.float64).ravel()
    w = np.asarray(n_neighbors).ravel().astype(np.int64)
    n = yv.size
    if not (s.size == w.size == n):
        raise ValueError(f"y, local_sum and n_neighbors must have the same length ({n}, {s.size}, {w.size})")
    if n and not np.isfinite(yv).all():
        raise ValueError("y contains NaN or infinite values")
    if n and (w.min() < 1 or w.max() > n):
        raise ValueError("n_neighbors must lie in 1 .. n (the unit itself is always a neighbour)")
    permutations = int(permutations)
    if permutations < 1:
        raise ValueError(f"permutations must be >= 1, got {permutations}")
    if n == 0:
        e = np.zeros(0)
        return GiPermutationResult(e, e.astype(bool), e.astype(np.int64), e.astype(np.int64), permutations)
    k = w - 1
    k_max = int(k.max())
    if draws is None:
        draws = neighbour_draws(n, k_max, permutations, seed)
    draws = np.ascontiguousarray(draws, dtype=np.int32)
    if draws.shape[0] != permutations or draws.shape[1] < k_max:
        raise ValueError(f"draws has shape {draws.shape}; need ({permutations}, >= {k_max})")
    if draws.size and (draws.min() < 0 or draws.max() > n - 2):
        raise ValueError(f"draws must index the {n - 1} other units (0 .. {n - 2})")
    tol = 1e-9 * float(np.abs(yv).max()) * max(k_max, 1)
    ge, le = _tails(yv, s - yv, k, draws, tol)
    p_sim = (np.minimum(ge, le) + 1.0) / (permutations + 1.0)
    return GiPermutationResult(p_sim=p_sim, high=ge <= le, ge=ge, le=le, permutations=permutations)


def gi_bin_sim(res: GiPermutationResult, fdr: bool = True) -> np.ndarray:
    """Esri-style bins -3..3 from permutation inference, on the same confidence levels as gi_bin of the normal
    approximation (whose p is two-sided): the two-sided pseudo p, min(1, 2 p_sim), Benjamini-Hochberg adjusted
    over the units when `fdr`, binned at 0.01 / 0.05 / 0.10; the sign is the tail (+ upper, - lower)."""
    p2 = np.minimum(1.0, 2.0 * res.p_sim)
    p = fdr_bh(p2) if fdr else p2
    return gi_bin(np.where(res.high, 1.0, -1.0), p)
