"""Crime concentration across places: Gini, generalized Gini, Lorenz curve and "X % of places" shares.

The law of crime concentration (Weisburd 2015, "The law of crime concentration and the criminology of
place", Criminology 53(2):133-157) says that a small share of micro places holds a large share of crime.
It is reported as "the top X % of places hold Y % of crime" (`top_share`), as "Y % of crime sits in
X % of places" (`share_of_units_holding`, Weisburd's 25 % / 50 % benchmarks, plus 80 %) and as a Gini
coefficient over the Lorenz curve.

Input everywhere is `counts`: one non-negative number of events per unit (street segment, grid cell,
address), ALL units of the study area included, zero-count units too. Leaving the zeros out changes
every statistic here.

Gini definition (chosen by the project's test vectors). The population Gini, i.e. the mean absolute
difference over all n² ordered pairs divided by twice the mean, with no small-sample correction::

    G = Σ_i Σ_j |x_i − x_j| / (2 n² x̄)

computed in O(n log n) from the ascending order statistics x_(1) ≤ … ≤ x_(n) as
G = 2 Σ_i i·x_(i) / (n Σ x) − (n + 1) / n. The vectors (10, 8, 2, 0×7) → 0.78 and (5, 2, 1, 0×7) → 0.80
match this form; the n/(n − 1) corrected form would give 0.87 and 0.89. G is 0 for equal counts and
(n − 1)/n when one unit holds every event.

Generalized Gini (Bernasco & Steenbeek 2017, "More places than crimes: Implications for evaluating the
law of crime concentration at place", J. Quant. Criminol. 33:451-467): with U units and E events, when
E < U at least U − E units must be empty even if crime were spread as evenly as possible, so G is
rescaled to run from 0 (that most even spread) to 1::

    G′ = max(1, U / E) · (G − 1) + 1

Edge cases: zero events (or zero units) → `gini` and `generalized_gini` are NaN (there is no
distribution to measure), shares are NaN. One unit → G = 0 (no inequality is possible); with E ≥ 1
event G′ = 0 too.
"""

from __future__ import annotations

import math

import numpy as np
import polars as pl

# Relative tolerance for "at least this share": 0.1 * 30 is 3.0000000000000004 in floating point.
_EPS = 1e-9


def _counts(counts) -> np.ndarray:
    x = np.asarray(counts, dtype=np.float64).ravel()
    if np.isnan(x).any():
        raise ValueError("counts contain NaN")
    if (x < 0).any():
        raise ValueError("counts must be non-negative")
    return x


def _share(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")
    return value


def _descending_cumsum(x: np.ndarray) -> np.ndarray:
    """Cumulative events of the top k units, k = 0..U (stable sort: ties keep input order)."""
    order = np.argsort(-x, kind="stable")
    return np.concatenate(([0.0], np.cumsum(x[order])))


def gini(counts) -> float:
    """Gini coefficient of events over ALL units (zero-count units included).

    Population form G = Σ_i Σ_j |x_i − x_j| / (2 n² x̄) (no n/(n − 1) correction; see the module
    docstring). NaN when there are no units or no events.
    """
    x = _counts(counts)
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        return math.nan
    xs = np.sort(x)
    i = np.arange(1, n + 1, dtype=np.float64)
    g = 2.0 * float(np.dot(i, xs)) / (n * total) - (n + 1.0) / n
    return min(max(g, 0.0), 1.0)


def generalized_gini(counts) -> float:
    """Bernasco & Steenbeek (2017) generalized Gini: G′ = max(1, U/E)·(G − 1) + 1.

    U is the number of units, E the number of events. Equals `gini` when E ≥ U. NaN when E = 0.
    """
    x = _counts(counts)
    g = gini(x)
    if math.isnan(g):
        return math.nan
    factor = max(1.0, x.size / float(x.sum()))
    return factor * (g - 1.0) + 1.0


def lorenz_points(counts) -> pl.DataFrame:
    """The concentration curve: units sorted from the highest count down.

    Row k (k = 0..U) gives `share_units` = k/U and `share_events` = events of the top k units / E, so it
    starts at (0, 0) and ends at (1, 1). Ties keep input order (it does not change the curve). With zero
    events `share_events` is NaN after the first row; with zero units the frame is the single row (0, 0).
    """
    x = _counts(counts)
    n = x.size
    cum = _descending_cumsum(x)
    total = cum[-1]
    share_units = np.arange(n + 1, dtype=np.float64) / n if n else np.zeros(1)
    if total > 0:
        share_events = cum / total
    else:
        share_events = np.full(n + 1, np.nan)
        share_events[0] = 0.0
    return pl.DataFrame({"share_units": share_units, "share_events": share_events})


def share_of_units_holding(counts, share_events: float) -> float:
    """Smallest share of units, highest counts first, that holds at least `share_events` of all events.

    Whole units: the answer is k/U for the smallest whole number k of top units whose events reach
    the share (no interpolation along the Lorenz curve), so it is ceil-like and never understates the
    places needed. `share_events` = 0 gives 0. NaN with zero events.
    """
    share = _share(share_events, "share_events")
    x = _counts(counts)
    cum = _descending_cumsum(x)
    total = cum[-1]
    if total == 0:
        return math.nan
    need = share * total * (1.0 - _EPS)
    k = int(np.searchsorted(cum, need, side="left"))
    return min(k, x.size) / x.size


def top_share(counts, share_units: float) -> float:
    """Share of events held by the top `share_units` of units (e.g. 0.01, 0.05, 0.10).

    Whole units: the top k = ceil(p·U) units (so the top 1 % of 250 units is 3 units), highest counts
    first, ties broken by input order (equal counts give the same sum whichever is taken). NaN with zero
    events.
    """
    p = _share(share_units, "share_units")
    x = _counts(counts)
    cum = _descending_cumsum(x)
    total = cum[-1]
    if total == 0:
        return math.nan
    k = min(math.ceil(p * x.size * (1.0 - _EPS)), x.size)
    return float(cum[k] / total)


def concentration_summary(counts) -> dict:
    """n_units, n_events, share_units_25/50/80 (`share_of_units_holding`), gini, generalized_gini."""
    x = _counts(counts)
    total = float(x.sum())
    return {
        "n_units": int(x.size),
        "n_events": int(total) if total.is_integer() else total,
        "share_units_25": share_of_units_holding(x, 0.25),
        "share_units_50": share_of_units_holding(x, 0.50),
        "share_units_80": share_of_units_holding(x, 0.80),
        "gini": gini(x),
        "generalized_gini": generalized_gini(x),
    }
