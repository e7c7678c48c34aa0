"""Emerging Hot Spot Analysis (transforms/stats/ehsa.py): the 17 patterns against a classifier of Esri's
published definitions written independently here, hand-built series, Mann-Kendall by hand and against
scipy's Kendall tau, space-time Gi* by hand and by brute force, end to end on a synthetic cube."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from transforms.stats import ehsa
from transforms.stats.ehsa import PATTERNS, classify_cells, classify_series, emerging_hot_spots, mann_kendall

T = 10


def series(hot_steps=(), cold_steps=(), n=T):
    hot = np.zeros(n, dtype=bool)
    cold = np.zeros(n, dtype=bool)
    hot[list(hot_steps)] = True
    cold[list(cold_steps)] = True
    return hot, cold


# --- an independent classifier of Esri's published definitions ----------------------------------------------
# Esri, "How Emerging Hot Spot Analysis works" (ArcGIS Pro, Space Time Pattern Mining), the table of pattern
# definitions, for the hot side (the cold side is the same with hot and cold swapped; for a cold spot,
# "intensifying" means the clustering of low values grows, a falling z, so its trend is -1):
#   New           hot in the final step, never hot before
#   Consecutive   a single uninterrupted run of at least two hot bins in the final steps, never hot before
#                 that run, and less than 90 % of all bins hot
#   Intensifying  hot in at least 90 % of the steps including the final one; significant upward trend
#   Persistent    hot in at least 90 % of the steps (the final one included: a final step that is not hot is
#                 Historical), no significant trend
#   Diminishing   hot in at least 90 % of the steps including the final one; significant downward trend
#   Sporadic      hot in the final step, on-again off-again hot before it, less than 90 % hot, never cold
#   Oscillating   hot in the final step, cold in some earlier step, less than 90 % hot
#   Historical    the final step is not hot, but at least 90 % of the steps are
#   No Pattern Detected: none of these.
# Read literally, the definitions overlap in one way only: an earlier bin of the other side makes a New or a
# Consecutive spot Oscillating too, and a series hot in 90 % of its steps whose final bin is cold is both a
# Historical Hot Spot and an Oscillating Cold Spot (and perhaps a New or Consecutive one). Oscillating wins
# (the precedence transforms/stats/ehsa.py documents); esri_pattern checks that nothing else overlaps.
# Plain Python over lists, on purpose: nothing here is shared with the module under test.


def esri_definitions(hot, cold, trend: int) -> set[str]:
    """Every pattern whose published definition the series meets."""
    hot, cold = [bool(v) for v in hot], [bool(v) for v in cold]
    n = len(hot)
    met = set()
    for side, mine, other, rising in (("Hot", hot, cold, +1), ("Cold", cold, hot, -1)):
        at_least_90 = 10 * sum(mine) >= 9 * n  # "90 percent of the time-step intervals", exactly
        final = mine[-1]
        run = 0  # the final uninterrupted run of this side
        while run < n and mine[n - 1 - run]:
            run += 1
        hot_before_run = any(mine[: n - run])
        if final and not any(mine[:-1]):
            met.add(f"New {side} Spot")
        if run >= 2 and not hot_before_run and not at_least_90:
            met.add(f"Consecutive {side} Spot")
        if final and at_least_90:
            kind = {rising: "Intensifying", -rising: "Diminishing", 0: "Persistent"}[int(trend)]
            met.add(f"{kind} {side} Spot")
        if final and not at_least_90 and hot_before_run and not any(other):
            met.add(f"Sporadic {side} Spot")
        if final and not at_least_90 and any(other[:-1]):
            met.add(f"Oscillating {side} Spot")
        if not final and at_least_90:
            met.add(f"Historical {side} Spot")
    return met


def esri_pattern(hot, cold, trend: int) -> str | None:
    """The one pattern of a series by Esri's definitions (None below Esri's minimum of 10 steps)."""
    if len(hot) < 10:
        return None
    met = esri_definitions(hot, cold, trend)
    oscillating = {m for m in met if m.startswith("Oscillating")}
    if oscillating:
        assert len(oscillating) == 1, met
        assert {m.split()[0] for m in met - oscillating} <= {"New", "Consecutive", "Historical"}, met
        return oscillating.pop()
    assert len(met) <= 1, f"definitions overlap: {met}"
    return met.pop() if met else "No Pattern Detected"


ALL = range(T)
# one hand-built series per class: (hot steps, cold steps, MK trend) -> expected Esri name
CASES = [
    ((), (), 0, "No Pattern Detected"),
    ((9,), (), 0, "New Hot Spot"),
    ((7, 8, 9), (), 0, "Consecutive Hot Spot"),
    (ALL, (), +1, "Intensifying Hot Spot"),
    (range(1, T), (), 0, "Persistent Hot Spot"),  # 9 of 10 = 90 % incl. the final step
    (ALL, (), -1, "Diminishing Hot Spot"),
    ((2, 5, 9), (), 0, "Sporadic Hot Spot"),
    ((6, 9), (3,), 0, "Oscillating Hot Spot"),
    (range(0, T - 1), (), 0, "Historical Hot Spot"),
    ((), (9,), 0, "New Cold Spot"),
    ((), (7, 8, 9), 0, "Consecutive Cold Spot"),
    ((), ALL, -1, "Intensifying Cold Spot"),  # z falling: clustering of low values intensifies
    ((), range(1, T), 0, "Persistent Cold Spot"),
    ((), ALL, +1, "Diminishing Cold Spot"),
    ((), (2, 5, 9), 0, "Sporadic Cold Spot"),
    ((3,), (6, 9), 0, "Oscillating Cold Spot"),
    ((), range(0, T - 1), 0, "Historical Cold Spot"),
]


def test_cases_cover_all_17_classes():
    assert sorted(c[3] for c in CASES) == sorted(PATTERNS)
    assert len(PATTERNS) == 17


@pytest.mark.parametrize(("hot_steps", "cold_steps", "trend", "expected"), CASES, ids=[c[3] for c in CASES])
def test_each_class(hot_steps, cold_steps, trend, expected):
    hot, cold = series(hot_steps, cold_steps)
    assert classify_series(hot, cold, trend) == expected
    code = classify_cells(hot[None], cold[None], np.array([trend]))[0]
    assert PATTERNS[code] == expected


PRECEDENCE = [
    ((9,), (2,), 0, "Oscillating Hot Spot", "new vs oscillating: an earlier cold bin outranks new"),
    ((7, 8, 9), (1,), 0, "Oscillating Hot Spot", "consecutive vs oscillating"),
    ((0, 7, 8, 9), (), 0, "Sporadic Hot Spot", "consecutive vs sporadic: hot long before the final run"),
    ((8, 9), (), 0, "Consecutive Hot Spot", "a run of 2 is consecutive"),
    ((5, 6, 7, 8, 9), (), 0, "Consecutive Hot Spot", "a longer final run, nothing before it"),
    ((9,), (), +1, "New Hot Spot", "trend does not matter below 90 %"),
    ((7, 9), (), 0, "Sporadic Hot Spot", "an interrupted final run is not consecutive"),
    (range(1, T), (0,), +1, "Intensifying Hot Spot", "rank 1 (>= 90 %) outranks oscillating"),
    (range(1, T), (0,), 0, "Persistent Hot Spot", "rank 1 outranks oscillating"),
    (range(0, T - 1), (), +1, "Historical Hot Spot", "final not hot: historical whatever the trend"),
    (range(0, T - 1), (9,), 0, "Oscillating Cold Spot", "final cold: cold side, oscillating beats historical"),
    ((), range(0, T - 1), 0, "Historical Cold Spot", "mirror of historical hot"),
    ((0, 1, 2, 3, 4, 5, 6, 7), (), 0, "No Pattern Detected", "80 % hot, final not hot"),
    ((2,), (5,), 0, "No Pattern Detected", "nothing in the final step, under 90 %"),
    ((), (9,), +1, "New Cold Spot", "new cold"),
    ((2,), (7, 8, 9), 0, "Oscillating Cold Spot", "consecutive cold vs oscillating cold"),
    ((), (0, 7, 8, 9), 0, "Sporadic Cold Spot", "consecutive cold vs sporadic cold"),
]


@pytest.mark.parametrize(("hot_steps", "cold_steps", "trend", "expected", "why"), PRECEDENCE)
def test_precedence(hot_steps, cold_steps, trend, expected, why):
    hot, cold = series(hot_steps, cold_steps)
    assert classify_series(hot, cold, trend) == expected, why
    assert PATTERNS[classify_cells(hot[None], cold[None], np.array([trend]))[0]] == expected, why


def test_ninety_percent_boundary():
    n = 20
    # 17 of 20 hot (85 %) incl. the final step, interrupted, never cold -> sporadic
    hot, cold = series([0, *range(4, 20)], n=n)
    assert hot.sum() == 17 and classify_series(hot, cold, 0) == "Sporadic Hot Spot"
    # 18 of 20 (exactly 90 %) -> rank 1
    hot, cold = series([0, *range(3, 20)], n=n)
    assert hot.sum() == 18 and classify_series(hot, cold, 0) == "Persistent Hot Spot"
    assert classify_series(hot, cold, +1) == "Intensifying Hot Spot"
    # one uninterrupted final run of 17 (85 %), nothing before it -> consecutive
    hot, cold = series(range(3, 20), n=n)
    assert classify_series(hot, cold, 0) == "Consecutive Hot Spot"
    # a final run of 18 (90 %) is no longer consecutive but persistent
    hot, cold = series(range(2, 20), n=n)
    assert classify_series(hot, cold, 0) == "Persistent Hot Spot"
    # historical: 18 of 20 hot, the final step not hot
    hot, cold = series(range(0, 18), n=n)
    assert classify_series(hot, cold, 0) == "Historical Hot Spot"
    hot, cold = series(range(1, 18), n=n)
    assert classify_series(hot, cold, 0) == "No Pattern Detected"


def test_the_reference_classifier_gives_every_hand_built_answer():
    """The classifier of Esri's definitions above agrees with the hand-built series, so it can judge the
    module on series nobody classified by hand."""
    for hot_steps, cold_steps, trend, expected, *_ in CASES + PRECEDENCE:
        hot, cold = series(hot_steps, cold_steps)
        assert esri_pattern(hot, cold, trend) == expected, (hot_steps, cold_steps, trend)
    assert esri_pattern(*series((7, 8), n=9), 0) is None


def test_vectorized_matches_reference_on_random_series():
    """classify_cells and classify_series against esri_pattern on random series of 10 to 52 steps."""
    rng = np.random.default_rng(7)
    seen = set()
    for n_steps in (10, 11, 20, 52):
        n = 4000
        u = rng.random((n, n_steps))
        dense = rng.random(n) < 0.4  # many near-90 % series so rank 1 and historical are exercised
        hot = np.where(dense[:, None], u < 0.93, u < 0.3)
        cold = ~hot & (rng.random((n, n_steps)) < np.where(dense[:, None], 0.5, 0.2))
        flip = rng.random(n) < 0.3
        hot[flip], cold[flip] = cold[flip], hot[flip].copy()
        tail = rng.random(n) < 0.3  # final runs with nothing before them
        run = rng.integers(1, 5, n)
        for i in np.flatnonzero(tail):
            hot[i] = False
            cold[i] = False
            hot[i, n_steps - run[i] :] = True
        trend = rng.integers(-1, 2, n)
        codes = classify_cells(hot, cold, trend)
        ref = [esri_pattern(hot[i].tolist(), cold[i].tolist(), int(trend[i])) for i in range(n)]
        assert [PATTERNS[c] for c in codes] == ref
        assert [classify_series(hot[i], cold[i], trend[i]) for i in range(n)] == ref
        assert len(set(ref)) >= 12  # the mix reaches most classes at every length
        seen |= set(ref)
    assert seen == set(PATTERNS)  # every one of the 17 patterns is judged


def test_fewer_than_ten_steps_classifies_nothing():
    hot, cold = series((7, 8), n=9)
    assert classify_series(hot, cold, 0) is None
    assert (classify_cells(hot[None], cold[None], [0]) == ehsa.NOT_CLASSIFIED).all()
    ix, iy = np.meshgrid(np.arange(5), np.arange(4), indexing="ij")
    counts = np.random.default_rng(0).poisson(3, (20, 9))
    r = emerging_hot_spots(ix.ravel(), iy.ravel(), counts)
    assert r.status == "too_few_steps"
    assert "10" in r.message
    assert r.cells.height == 20
    assert r.cells["pattern"].null_count() == 20
    assert r.cells["trend_z"].null_count() == 20
    assert (
        r.cells.select("ix", "iy").to_numpy().tolist() == np.column_stack([ix.ravel(), iy.ravel()]).tolist()
    )


# --- Mann-Kendall -------------------------------------------------------------------------------------------


def test_mann_kendall_hand_computed_no_ties():
    # x = 1 3 2 5 4: concordant pairs 8, discordant 2 -> S = 6; Var = 5*4*15/18 = 50/3
    mk = mann_kendall([1, 3, 2, 5, 4])
    assert mk.s[0] == 6
    assert mk.var_s[0] == pytest.approx(50 / 3)
    z = (6 - 1) / math.sqrt(50 / 3)  # continuity correction
    assert mk.z[0] == pytest.approx(z)  # 1.224745
    assert mk.z[0] == pytest.approx(1.2247449, abs=1e-6)
    assert mk.p[0] == pytest.approx(0.2206714, abs=1e-6)  # 2 * (1 - Phi(1.2247))
    assert mk.trend[0] == 0


def test_mann_kendall_hand_computed_with_ties():
    # x = 1 2 2 3 1: S = (+3) + (0) + (0) + (-1) = 2; tie groups {1, 1} and {2, 2}: 2 * (2*1*9) = 36
    # Var = (5*4*15 - 36) / 18 = 264/18; z = (2 - 1) / sqrt(264/18) = 0.2611165
    mk = mann_kendall([1, 2, 2, 3, 1])
    assert mk.s[0] == 2
    assert mk.var_s[0] == pytest.approx(264 / 18)
    assert mk.z[0] == pytest.approx(0.2611165, abs=1e-6)
    assert mk.p[0] == pytest.approx(0.7940027, abs=1e-6)
    # Kendall's tau-b against time: S / sqrt((n0 - 0)(n0 - n_ties_y)), n0 = 10 pairs, 2 tied pairs in y
    tau = stats.kendalltau(np.arange(5), [1, 2, 2, 3, 1]).statistic
    assert tau == pytest.approx(2 / math.sqrt(10 * 8))


def test_mann_kendall_monotone_and_constant():
    mk = mann_kendall(np.vstack([np.arange(12.0), -np.arange(12.0), np.zeros(12)]))
    assert mk.s.tolist() == [66, -66, 0]
    assert mk.trend.tolist() == [1, -1, 0]
    assert mk.z[2] == 0 and mk.p[2] == 1.0  # all tied: Var = 0, no trend


def test_mann_kendall_matches_kendall_tau_on_random_series():
    rng = np.random.default_rng(3)
    y = np.round(rng.normal(size=(200, 15)), 1)  # rounding makes ties
    y[:50] += np.linspace(0, 3, 15)  # some trends
    mk = mann_kendall(y)
    t = np.arange(15)
    n0 = 15 * 14 // 2
    for i in range(200):
        res = stats.kendalltau(t, y[i])
        _, cnt = np.unique(y[i], return_counts=True)
        n2 = int((cnt * (cnt - 1) // 2).sum())
        assert np.sign(mk.s[i]) == np.sign(res.statistic)
        assert mk.s[i] == pytest.approx(res.statistic * math.sqrt(n0 * (n0 - n2)))
    assert (mk.trend[:50] == 1).mean() > 0.8


# --- space-time Gi* -----------------------------------------------------------------------------------------


def test_gi_star_one_bin_by_hand():
    # four cells in a row, two steps, queen neighbours, k_time = 1
    #   cell (0,0): 1 0   (1,0): 2 3   (2,0): 0 4   (3,0): 5 1
    # n = 8, mean = 16/8 = 2, population variance = 56/8 - 4 = 3
    # bin ((0,0), t=1): neighbours cells 0,1 x steps 0,1 -> W = 4, S = 1+0+2+3 = 6
    #   z = (6 - 2*4) / (sqrt(3) * sqrt((8*4 - 16)/7)) = -sqrt(7/12)
    # bin ((1,0), t=0): cells 0,1,2 at step 0 only -> W = 3, S = 3; z = -3 / sqrt(3 * 15/7) = -sqrt(1.4)
    ix = np.array([0, 1, 2, 3])
    iy = np.zeros(4, dtype=int)
    x = np.array([[1, 0], [2, 3], [0, 4], [5, 1]], dtype=float)
    nbr = ehsa.neighbour_index(ix, iy)
    z = ehsa.space_time_gi_star(x, nbr, k_time=1)
    w = ehsa.space_time_weights(nbr, 2, k_time=1)
    assert w.tolist() == [[2, 4], [3, 6], [3, 6], [2, 4]]
    assert z[0, 1] == pytest.approx(-math.sqrt(7 / 12))
    assert z[1, 0] == pytest.approx(-math.sqrt(1.4))


def _gi_star_brute(ix, iy, x, offsets, k):
    n_cells, n_steps = x.shape
    n = x.size
    ybar = x.sum() / n
    s = math.sqrt((x**2).sum() / n - ybar**2)
    where = {(int(a), int(b)): c for c, (a, b) in enumerate(zip(ix, iy, strict=True))}
    z = np.zeros_like(x)
    for c in range(n_cells):
        for t in range(n_steps):
            nb = [where[(ix[c] + dx, iy[c] + dy)] for dx, dy in offsets if (ix[c] + dx, iy[c] + dy) in where]
            ssum, w = 0.0, 0
            for tau in range(max(0, t - k), t + 1):
                for j in nb:
                    ssum += x[j, tau]
                    w += 1
            z[c, t] = (ssum - ybar * w) / (s * math.sqrt((n * w - w * w) / (n - 1)))
    return z


@pytest.mark.parametrize(("offsets", "k"), [(ehsa.QUEEN, 1), (ehsa.ROOK, 2), (ehsa.QUEEN, 0)])
def test_gi_star_matches_brute_force_on_clipped_cube(offsets, k):
    rng = np.random.default_rng(1)
    gx, gy = np.meshgrid(np.arange(-2, 4), np.arange(5, 10), indexing="ij")
    keep = ~((gx.ravel() >= 2) & (gy.ravel() >= 8))  # a non-rectangular study area
    ix, iy = gx.ravel()[keep], gy.ravel()[keep]
    perm = rng.permutation(ix.size)  # row order must not matter
    ix, iy = ix[perm], iy[perm]
    x = rng.poisson(2.0, (ix.size, 6)).astype(float)
    z = ehsa.space_time_gi_star(x, ehsa.neighbour_index(ix, iy, offsets), k_time=k)
    np.testing.assert_allclose(z, _gi_star_brute(ix, iy, x, offsets, k), rtol=1e-12, atol=1e-12)
    # integer input (used as is, not copied to float) gives the same z
    np.testing.assert_array_equal(
        ehsa.space_time_gi_star(x.astype(np.int32), ehsa.neighbour_index(ix, iy, offsets), k), z
    )


def test_blockwise_steps_do_not_change_results(monkeypatch):
    rng = np.random.default_rng(8)
    gx, gy = np.meshgrid(np.arange(9), np.arange(7), indexing="ij")
    x = rng.poisson(1.0, (63, 12))
    x[:10, 4:] += 5
    whole = emerging_hot_spots(gx.ravel(), gy.ravel(), x, return_bins=True)
    monkeypatch.setattr(ehsa, "_CHUNK", 5)  # blocks of 5 cells
    blocks = emerging_hot_spots(gx.ravel(), gy.ravel(), x, return_bins=True)
    assert whole.cells["n_hot"].sum() > 0
    for col in ("pattern", "n_hot", "n_cold", "trend_s", "trend"):
        assert blocks.cells[col].to_list() == whole.cells[col].to_list()
    # the SD is summed block by block: the last bit may differ
    np.testing.assert_allclose(
        blocks.bins["z"].to_numpy(), whole.bins["z"].to_numpy(), rtol=1e-13, atol=1e-13
    )
    assert blocks.bins["hot"].to_list() == whole.bins["hot"].to_list()
    z = whole.bins["z"].to_numpy().reshape(63, 12)
    a, b = mann_kendall(z), mann_kendall(z, chunk=4)
    assert np.array_equal(a.s, b.s) and np.array_equal(a.var_s, b.var_s)


def test_neighbour_index_rejects_duplicates():
    with pytest.raises(ValueError, match="duplicate"):
        ehsa.neighbour_index([0, 1, 0], [0, 0, 0])


def test_offsets_must_include_self():
    with pytest.raises(ValueError, match=r"\(0, 0\)"):
        emerging_hot_spots([0, 1], [0, 0], np.ones((2, 10)), offsets=((1, 0), (-1, 0)))


def test_fdr_is_over_the_whole_cube():
    rng = np.random.default_rng(2)
    ix, iy = np.meshgrid(np.arange(8), np.arange(7), indexing="ij")
    x = rng.poisson(1.5, (56, 12))
    x[:4, -3:] += 6
    r = emerging_hot_spots(ix.ravel(), iy.ravel(), x, return_bins=True)
    b = r.bins
    assert b.height == 56 * 12
    np.testing.assert_allclose(
        b["p_fdr"].to_numpy(), stats.false_discovery_control(b["p"].to_numpy()), rtol=1e-12
    )
    np.testing.assert_allclose(b["p"].to_numpy(), 2 * stats.norm.sf(np.abs(b["z"].to_numpy())), rtol=1e-9)
    sig = b["p_fdr"].to_numpy() < 0.05
    assert (b["hot"].to_numpy() == (sig & (b["z"].to_numpy() > 0))).all()
    assert (b["cold"].to_numpy() == (sig & (b["z"].to_numpy() < 0))).all()
    n_hot = b.group_by("ix", "iy").agg(pl.col("hot").sum().alias("h")).sort("ix", "iy")["h"].to_list()
    assert n_hot == r.cells.sort("ix", "iy")["n_hot"].to_list()


def test_fdr_decision_from_sort_equals_adjusted_p():
    rng = np.random.default_rng(9)
    for _ in range(30):
        m = int(rng.integers(1, 400))
        p = rng.beta(0.3, 1.0, m)
        p[rng.random(m) < 0.3] = rng.choice(p, 1)[0]  # heavy ties
        p = np.round(p, int(rng.integers(2, 6)))
        adj = ehsa._fdr_bh(p)
        np.testing.assert_allclose(adj, stats.false_discovery_control(p), rtol=1e-12)
        for alpha in (0.01, 0.05, 0.2):
            assert (ehsa._fdr_bh_significant(p, alpha) == (adj < alpha)).all()


# --- end to end ---------------------------------------------------------------------------------------------


def test_end_to_end_synthetic_cube():
    rng = np.random.default_rng(5)
    gx, gy = np.meshgrid(np.arange(30), np.arange(30), indexing="ij")
    ix, iy = gx.ravel(), gy.ravel()
    keep = ~((ix < 5) & (iy > 24))  # clip a corner: non-rectangular study area
    ix, iy = ix[keep], iy[keep]
    n_steps = 20
    lam = np.full((ix.size, n_steps), 2.0)
    emerging = (np.abs(ix - 8) <= 1) & (np.abs(iy - 8) <= 1)
    always = (np.abs(ix - 21) <= 1) & (np.abs(iy - 21) <= 1)
    lam[emerging, -4:] += 10.0  # hot only in the last 4 steps
    counts = rng.poisson(lam)
    # hot throughout at a constant 8 per cell and step. Constant, not Poisson: the centre's neighbourhood lies
    # inside the block, so its z is the same in every step after the first (the first has no previous step,
    # W = 9 not 18, and a lower z). MK: S = 19, one tie group of 19, Var = (20*19*45 - 19*18*43)/18 = 133,
    # z = 18/sqrt(133) = 1.56, p = 0.12 -> no trend -> persistent, whatever the background noise.
    counts[always, :] = 8
    r = emerging_hot_spots(ix, iy, counts, k_time=1, alpha=0.05)
    assert r.status == "ok" and r.n_steps == n_steps
    c = r.cells
    assert c.height == ix.size
    centre_a = c.filter((pl.col("ix") == 8) & (pl.col("iy") == 8)).row(0, named=True)
    centre_b = c.filter((pl.col("ix") == 21) & (pl.col("iy") == 21)).row(0, named=True)
    assert centre_a["pattern"] == "Consecutive Hot Spot"
    assert centre_a["n_hot"] == 4
    assert centre_b["pattern"] == "Persistent Hot Spot"
    assert centre_b["n_hot"] == n_steps and centre_b["trend"] == "none"
    assert centre_b["trend_s"] == 19 and centre_b["trend_z"] == pytest.approx(18 / math.sqrt(133))
    # far from both blocks nothing is found
    far = c.filter((pl.col("ix") - 15).abs() + (pl.col("iy") - 2).abs() <= 2)
    assert far["pattern"].to_list() == ["No Pattern Detected"] * far.height
    assert set(c["pattern"].unique()) <= set(PATTERNS)
    assert r.mean == pytest.approx(counts.mean())
