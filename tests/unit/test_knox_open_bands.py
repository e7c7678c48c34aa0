"""The Knox test's open bands (transforms/stats/knox.py): why they carry no p-value.

Shuffling times over fixed places keeps the pairs per time band and the pairs per distance band fixed, so the
open distance band is all pairs of a time band less the closer bands, and the open time band is all pairs of a
distance band less the shorter time bands. With a planted near-repeat pattern, the cell open in both (far apart,
long after) then gets ratio 1.00 and the smallest p of the table, which a reader takes for a near-repeat
pattern; it is only the sum of the closed cells' excess."""

from __future__ import annotations

import numpy as np
import polars as pl

from transforms.stats.knox import OPEN_NOTES, knox_test

SPACE = [0, 100, 200, 400]
TIME = [0, 7, 14]
PERMS = 99


def planted() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """600 background events over 5 km x 5 km and a year, plus 150 follow-ups each within 60 m and 5 days of
    a background event: a near-repeat pattern."""
    rng = np.random.default_rng(3)
    x, y, t = rng.uniform(0, 5000, 600), rng.uniform(0, 5000, 600), rng.integers(0, 365, 600).astype(float)
    src = rng.integers(0, 600, 150)
    fx = x[src] + rng.uniform(-30, 30, 150)
    fy = y[src] + rng.uniform(-30, 30, 150)
    ft = np.minimum(t[src] + rng.integers(0, 6, 150), 364)
    return np.concatenate([x, fx]), np.concatenate([y, fy]), np.concatenate([t, ft])


def grid(tab: pl.DataFrame, col: str) -> np.ndarray:
    return tab[col].to_numpy().reshape(len(SPACE), len(TIME))


def test_open_bands_mirror_the_closed_cells():
    tab = knox_test(*planted(), SPACE, TIME, perms=PERMS, seed=1)
    dev = grid(tab, "observed") - grid(tab, "expected_mean")
    # the open distance band's excess in each time band is the closer bands' shortfall there
    np.testing.assert_allclose(dev[-1, :], -dev[:-1, :].sum(axis=0), atol=1e-6)
    # the open time band's excess at each distance is the shorter time bands' shortfall there
    np.testing.assert_allclose(dev[:, -1], -dev[:, :-1].sum(axis=1), atol=1e-6)
    # so the cell open in both holds the sum of every closed cell's excess
    assert abs(dev[-1, -1] - dev[:-1, :-1].sum()) < 1e-6
    # the planted pattern: the closest, shortest cell is a strong near repeat ...
    assert grid(tab, "knox_ratio")[0, 0] > 2 and grid(tab, "p_value")[0, 0] == 1 / (PERMS + 1)
    # ... and the far, late corner shows ratio 1.00 on a large count (what the report used to shade)
    assert round(float(grid(tab, "knox_ratio")[-1, -1]), 2) == 1.00 and dev[-1, -1] > 0


def test_open_bands_have_no_p_and_say_why():
    tab = knox_test(*planted(), SPACE, TIME, perms=PERMS, seed=1)
    p, z, note = grid(tab, "p_value"), grid(tab, "z"), tab["p_note"].to_numpy().reshape(len(SPACE), len(TIME))
    assert np.isnan(p[-1, :]).all() and np.isnan(p[:, -1]).all()
    assert np.isnan(z[-1, :]).all() and np.isnan(z[:, -1]).all()
    assert np.isfinite(p[:-1, :-1]).all() and all(v is None for v in note[:-1, :-1].ravel())
    assert note[-1, 0] == OPEN_NOTES["space"] and note[0, -1] == OPEN_NOTES["time"]
    assert note[-1, -1] == OPEN_NOTES["both"]
    # observed, expected and the ratio stay, as description
    assert np.isfinite(grid(tab, "knox_ratio")).all()
