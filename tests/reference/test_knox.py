"""The Knox test (transforms/stats/knox.py) against references.

Correctness is checked three ways: against a brute-force O(n^2) count written independently here
(ties on band edges included), against a brute-force permutation test using the documented random
scheme, and against published reference tables for Chicago burglaries in 2016 (directly and through
`sara near-repeat`).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from tests.support.cli import invoke_near_repeat
from tests.support.project import SHARED_DATA
from transforms.stats.knox import knox, knox_test, period_mask
from transforms.warehouse.events_csv import read_events_csv

BURGLARY = SHARED_DATA / "chicago_burglary_2014_2017.csv"
COLUMNS = ["space_lo", "space_hi", "time_lo", "time_hi", "observed", "expected_mean", "expected_median",
           "knox_ratio", "p_value", "z", "p_note"]


# ---------------------------------------------------------------------------------------------
# An independent brute force
# ---------------------------------------------------------------------------------------------


def _band(d: np.ndarray, edges, closed: str) -> np.ndarray:
    """Band by definition: [a, b) counts the edges <= d; (a, b] (first band [0, b]) the edges < d."""
    k = np.zeros(d.shape, dtype=np.int64)
    for e in edges[1:]:
        k += (d >= e) if closed == "left" else (d > e)
    return k


def brute_table(x, y, t, space_edges, time_edges, closed="left", metric="manhattan") -> np.ndarray:
    """Observed counts (space bands x time bands, open-ended bands included), from every pair."""
    i, j = np.triu_indices(len(x), 1)
    dx, dy = np.abs(x[i] - x[j]), np.abs(y[i] - y[j])
    ds = dx + dy if metric == "manhattan" else np.sqrt(dx * dx + dy * dy)
    dt = np.abs(t[i] - t[j])
    out = np.zeros((len(space_edges), len(time_edges)), dtype=np.int64)
    np.add.at(out, (_band(ds, space_edges, closed), _band(dt, time_edges, closed)), 1)
    return out


def _observed(table: pl.DataFrame, n_sb: int, n_tb: int) -> np.ndarray:
    return table["observed"].to_numpy().reshape(n_sb, n_tb)


def _tied_events(n: int = 300, seed: int = 7):
    """Integer coordinates and whole days in small ranges: many distances exactly on the edges."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, n).astype(float)
    y = rng.integers(0, 40, n).astype(float)
    t = rng.integers(0, 60, n).astype(float)
    return x, y, t


SPACE = [0, 1, 5, 10, 20]  # 5 and 10 and 20 are Euclidean distances of integer points (3-4-5 etc.)
TIME = [0, 1, 3, 7, 14]


@pytest.mark.parametrize("metric", ["manhattan", "euclidean"])
@pytest.mark.parametrize("closed", ["left", "right"])
def test_observed_matches_brute_force_with_ties(metric, closed):
    x, y, t = _tied_events()
    want = brute_table(x, y, t, SPACE, TIME, closed, metric)
    got = knox_test(x, y, t, SPACE, TIME, closed=closed, metric=metric, perms=0)
    assert got.columns == COLUMNS
    assert got.height == len(SPACE) * len(TIME)
    np.testing.assert_array_equal(_observed(got, len(SPACE), len(TIME)), want)
    # ties really happen on every edge, so both closings are exercised
    i, j = np.triu_indices(len(x), 1)
    dx, dy = np.abs(x[i] - x[j]), np.abs(y[i] - y[j])
    ds = dx + dy if metric == "manhattan" else np.sqrt(dx * dx + dy * dy)
    for e in SPACE:
        assert np.any(ds == e), e
    for e in TIME:
        assert np.any(np.abs(t[i] - t[j]) == e), e


@pytest.mark.parametrize("closed", ["left", "right"])
def test_fractional_days_match_brute_force(closed):
    """Times of day (fractional days, here exact quarters so ties on edges happen) take the float path."""
    rng = np.random.default_rng(3)
    n = 250
    x, y = rng.uniform(0, 300, n), rng.uniform(0, 300, n)
    t = rng.integers(0, 40 * 4, n) / 4.0
    space, time_ = [0, 25, 50.5, 100], [0, 0.5, 1.25, 3, 7.75]
    want = brute_table(x, y, t, space, time_, closed, "euclidean")
    got = knox_test(x, y, t, space, time_, closed=closed, metric="euclidean", perms=0)
    np.testing.assert_array_equal(_observed(got, len(space), len(time_)), want)


@pytest.mark.parametrize("closed", ["left", "right"])
def test_long_time_span_matches_brute_force(closed):
    """Whole days spanning more than 32,767 days take the int32 path."""
    x, y, _ = _tied_events(n=200, seed=2)
    t = np.random.default_rng(2).integers(0, 60, 200).astype(float)
    t[:3] = [0.0, 40_000.0, 40_007.0]
    want = brute_table(x, y, t, SPACE, TIME, closed)
    got = knox_test(x, y, t, SPACE, TIME, closed=closed, perms=0)
    np.testing.assert_array_equal(_observed(got, len(SPACE), len(TIME)), want)


def test_open_ended_bands_present_and_consistent():
    x, y, t = _tied_events(n=280, seed=11)
    tab = knox_test(x, y, t, SPACE, TIME, perms=19, seed=1)
    assert tab.filter(pl.col("space_hi").is_infinite()).height == len(TIME)
    assert tab.filter(pl.col("time_hi").is_infinite()).height == len(SPACE)
    last = tab.row(-1, named=True)
    assert last["space_lo"] == SPACE[-1] and last["time_lo"] == TIME[-1]
    # space-major order
    assert tab["space_lo"].to_list()[: len(TIME)] == [0.0] * len(TIME)
    assert tab["time_lo"].to_list()[: len(TIME)] == [float(v) for v in TIME]
    # per time band, the sum over all space bands = all pairs with that time distance (brute force)
    i, j = np.triu_indices(len(t), 1)
    per_time = np.bincount(_band(np.abs(t[i] - t[j]), TIME, "left"), minlength=len(TIME))
    np.testing.assert_array_equal(_observed(tab, len(SPACE), len(TIME)).sum(axis=0), per_time)
    assert int(tab["observed"].sum()) == len(t) * (len(t) - 1) // 2
    # the same holds in every permutation, so the expected counts sum to the same totals
    exp = tab["expected_mean"].to_numpy().reshape(len(SPACE), len(TIME)).sum(axis=0)
    np.testing.assert_allclose(exp, per_time)


def test_distance_exactly_on_the_largest_edge_counted_once():
    # two events 10 m apart (3-4-5 triangle scaled), same day; a third far away
    x = np.array([0.0, 6.0, 1000.0])
    y = np.array([0.0, 8.0, 1000.0])
    t = np.array([5.0, 5.0, 5.0])
    for closed, want_band in (("left", 2), ("right", 1)):  # [10, inf) vs (5, 10]
        tab = knox_test(x, y, t, [0, 5, 10], [0, 7], closed=closed, metric="euclidean", perms=0)
        obs = _observed(tab, 3, 2)
        assert obs.sum() == 3
        assert obs[want_band, 0] == 1 + (2 if want_band == 2 else 0), (closed, obs)
    # a distance of exactly 0 is in the first band for both closings, also with a tiny first edge
    tab = knox_test(np.zeros(2), np.zeros(2), np.array([0.0, 0.0]), [0, 0.1, 200], [0, 7], closed="right",
                    perms=0)
    assert _observed(tab, 3, 2)[0, 0] == 1


# ---------------------------------------------------------------------------------------------
# The permutation null model
# ---------------------------------------------------------------------------------------------


def test_permutations_match_brute_force_null_model():
    """expected, median, p and z equal a brute-force permutation test drawn the documented way:
    rng = numpy.random.default_rng(seed); permutation r gives event e the time t[rng.permutation(n)][e]."""
    x, y, t = _tied_events(n=120, seed=5)
    perms, seed = 60, 42
    tab = knox_test(x, y, t, SPACE, TIME, closed="right", metric="euclidean", perms=perms, seed=seed)
    obs = brute_table(x, y, t, SPACE, TIME, "right", "euclidean")
    rng = np.random.default_rng(seed)
    sims = np.stack([brute_table(x, y, t[rng.permutation(len(t))], SPACE, TIME, "right", "euclidean")
                     for _ in range(perms)])
    mean, sd = sims.mean(axis=0), sims.std(axis=0, ddof=1)
    p = ((sims >= obs).sum(axis=0) + 1) / (perms + 1)

    def col(name):
        return tab[name].to_numpy().reshape(obs.shape)

    np.testing.assert_array_equal(col("observed"), obs)
    np.testing.assert_allclose(col("expected_mean"), mean)
    np.testing.assert_allclose(col("expected_median"), np.median(sims, axis=0))
    closed_cells = np.s_[:-1, :-1]  # the open bands have no p and no z (tests/unit/test_knox_open_bands.py)
    np.testing.assert_allclose(col("p_value")[closed_cells], p[closed_cells])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (obs - mean) / sd, np.nan)
        ratio = obs / mean
    np.testing.assert_allclose(col("z")[closed_cells], z[closed_cells], equal_nan=True)
    finite = mean > 0
    np.testing.assert_allclose(col("knox_ratio")[finite], ratio[finite])


def test_p_values_reproducible_and_in_range():
    x, y, t = _tied_events(n=200, seed=9)
    perms = 99
    a = knox_test(x, y, t, SPACE, TIME, perms=perms, seed=123)
    b = knox_test(x, y, t, SPACE, TIME, perms=perms, seed=123)
    assert a.equals(b)
    # the batch size (how permutations are grouped for the kernel) does not change anything
    c = knox(x, y, t, SPACE, TIME, perms=perms, seed=123, batch=7).table
    assert a.equals(c)
    p = a["p_value"].to_numpy().reshape(len(SPACE), len(TIME))[:-1, :-1]
    assert np.all(p >= 1 / (perms + 1)) and np.all(p <= 1)
    d = knox_test(x, y, t, SPACE, TIME, perms=perms, seed=124)
    assert not np.allclose(a["expected_mean"].to_numpy(), d["expected_mean"].to_numpy())
    np.testing.assert_array_equal(a["observed"].to_numpy(), d["observed"].to_numpy())


# ---------------------------------------------------------------------------------------------
# Reference results: Chicago residential burglaries, 2016
# ---------------------------------------------------------------------------------------------

REF_RIGHT = [[342, 97, 62], [1892, 1514, 1362], [4145, 3643, 3592], [5805, 5143, 4919]]
REF_LEFT = [[319, 106, 62], [1647, 1539, 1400], [3598, 3660, 3638], [5028, 5167, 4935]]


@pytest.fixture(scope="module")
def burglary_2016():
    if not BURGLARY.is_file():
        pytest.skip(f"reference data not available: {SHARED_DATA} is absent (it sits beside the checkout in CI)")
    ev = read_events_csv(BURGLARY, x="x", y="y", date="date_single")
    assert not ev.has_time
    keep = period_mask(ev.t, "2016-01-01", "2016-12-31")
    return ev.x[keep], ev.y[keep], ev.t[keep]


@pytest.mark.shared
@pytest.mark.parametrize(("closed", "want"), [("right", REF_RIGHT), ("left", REF_LEFT)])
def test_reference_chicago_burglary_2016(burglary_2016, closed, want):
    x, y, t = burglary_2016
    assert len(t) == 11_701
    space, time_ = [0, 0.1, 200, 400, 600], [0, 7, 14, 21]
    tab = knox_test(x, y, t, space, time_, closed=closed, metric="euclidean", perms=9, seed=1)
    obs = _observed(tab, len(space), len(time_))
    np.testing.assert_array_equal(obs[:-1, :-1], np.array(want))  # the finite bands
    assert int(obs.sum()) == len(t) * (len(t) - 1) // 2


@pytest.mark.shared
def test_reference_through_the_cli(burglary_2016, tmp_path):
    out = tmp_path / "knox.csv"
    res = invoke_near_repeat([str(BURGLARY), "--since", "2016-01-01", "--until", "2016-12-31", "--closed", "right",
                   "--metric", "euclidean", "--space-bands", "0,0.1,200,400,600", "--perms", "19", "--seed", "1",
                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "11,701 events" in res.text
    obs = pl.read_csv(out)["observed"].to_numpy().reshape(5, 4)
    np.testing.assert_array_equal(obs[:-1, :-1], np.array(REF_RIGHT))
