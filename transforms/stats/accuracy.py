"""Hot-spot prediction accuracy: hit rate, PAI and PEI of last period's scores against this period's events.

Sources:
- Chainey, Tompson & Uhlig (2008), "The utility of hotspot mapping for predicting spatial patterns of crime",
  Security Journal 21: the Prediction Accuracy Index PAI = (n / N) / (a / A).
- Hunt (2016), "Do crime hot spots move? Exploring the effects of the modifiable areal unit problem and
  modifiable temporal unit problem on crime hot spot stability" (PhD thesis, American University), and
  Drawve (2016), "A metric comparison of predictive hot spot techniques and RTM", Justice Quarterly 33:
  the Prediction Efficiency Index PEI = PAI / PAI*, PAI* the best PAI any selection of the same size could
  reach in the test period.

Definitions used here
    N   events in the test period (this period), all cells
    A   study area = sum of all cell areas
    selection for coverage p: cells ranked by score, highest first, ties broken by cell id ascending
        (NaN scores rank last); the selection is the smallest number k of top cells whose area reaches
        p * A (whole cells, so a >= p * A; a relative tolerance of 1e-9 absorbs floating-point error)
    a   area of the selected cells;  n  this period's events in them
    hit_rate = n / N;  PAI = (n / N) / (a / A)
    PAI* = (n* / N) / (a / A), where n* = the events in the k cells with the most events THIS period
        (the same number of cells, the same area a: exact for equal cells; for unequal cells -- e.g.
        clipped edge cells -- the area is held at a, an approximation)
    PEI = PAI / PAI* = n / n*   (so 0 <= PEI <= 1; NaN when n* = 0)
(White, Hunt & Green 2023, Security Journal, propose a variant, PEI*, with an operationally realistic
optimum; it is not computed here.)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

COVERAGES: tuple[float, ...] = (0.01, 0.05, 0.10)


def rank_cells(scores, cell_id=None) -> np.ndarray:
    """Cell indices by score descending, ties by cell id ascending, NaN scores last."""
    s = np.asarray(scores, dtype=np.float64).ravel()
    cid = np.arange(s.size) if cell_id is None else np.asarray(cell_id).ravel()
    if cid.shape != s.shape:
        raise ValueError("cell_id must have one value per cell")
    key = np.where(np.isnan(s), -np.inf, s)
    return np.lexsort((cid, np.isnan(s), -key))  # last key is primary


def n_top_cells(ranked_areas, coverage: float) -> int:
    """Smallest k such that the first k areas (in rank order) sum to at least coverage * total."""
    if not 0 < coverage <= 1:
        raise ValueError("coverage must be in (0, 1]")
    cum = np.cumsum(np.asarray(ranked_areas, dtype=np.float64))
    target = coverage * cum[-1] * (1 - 1e-9)
    return int(min(np.searchsorted(cum, target, side="left") + 1, cum.size))


def prediction_accuracy(
    scores,
    counts,
    areas=None,
    cell_id=None,
    coverages: Sequence[float] = COVERAGES,
) -> pl.DataFrame:
    """Hit rate, PAI and PEI for each coverage share (see the module docstring).

    scores: last period's score per cell (Gi* z, KDE density, ...); counts: this period's events per cell;
    areas: cell areas (default 1 each); cell_id: tie-break key (default the position).
    Returns one row per coverage: coverage, n_cells, area, area_share, n_events, total_events, hit_rate, pai,
    n_best, pai_best, pei.
    """
    s = np.asarray(scores, dtype=np.float64).ravel()
    c = np.asarray(counts, dtype=np.float64).ravel()
    ar = np.ones_like(s) if areas is None else np.asarray(areas, dtype=np.float64).ravel()
    if not (s.shape == c.shape == ar.shape) or s.size == 0:
        raise ValueError("scores, counts and areas must have one value per cell (at least one cell)")
    if np.any(~np.isfinite(ar)) or np.any(ar <= 0):
        raise ValueError("cell areas must be positive")
    if np.any(~np.isfinite(c)) or np.any(c < 0):
        raise ValueError("counts must be finite and non-negative")
    order = rank_cells(s, cell_id)
    best = np.sort(c)[::-1]  # the k busiest cells this period, for n*
    total_area = float(ar.sum())
    n_total = float(c.sum())
    rows = []
    for p in coverages:
        k = n_top_cells(ar[order], p)
        sel = order[:k]
        a = float(ar[sel].sum())
        n = float(c[sel].sum())
        n_best = float(best[:k].sum())
        share = a / total_area
        hit = n / n_total if n_total > 0 else float("nan")
        rows.append(
            {
                "coverage": float(p),
                "n_cells": k,
                "area": a,
                "area_share": share,
                "n_events": n,
                "total_events": n_total,
                "hit_rate": hit,
                "pai": hit / share,
                "n_best": n_best,
                "pai_best": (n_best / n_total) / share if n_total > 0 else float("nan"),
                "pei": n / n_best if n_best > 0 else float("nan"),
            }
        )
    return pl.DataFrame(rows)
