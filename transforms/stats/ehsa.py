"""Emerging Hot Spot Analysis (EHSA) on a grid-cell space-time cube, following Esri's definition.

Sources:
- Esri, "How Emerging Hot Spot Analysis works" (ArcGIS Pro, Space Time Pattern Mining toolbox): a
  space-time Getis-Ord Gi* per bin with a False Discovery Rate correction, a Mann-Kendall trend test on
  each location's series of Gi* z-scores, and 17 pattern classes. Esri requires at least 10 time steps.
- Getis & Ord (1992), Ord & Getis (1995): the Gi* statistic (binary weights, self included).
- Mann (1945), Kendall (1975): the Mann-Kendall trend test; the tie-corrected variance and continuity
  correction are the textbook ones (e.g. Hipel & McLeod 1994).
- Benjamini & Hochberg (1995): the FDR step-up procedure.

The cube
    cells   = the full study area: every grid cell (ix, iy), including cells with zero events in every
              step. (Esri keeps only locations with at least one event unless a polygon analysis mask is
              given; passing the masked study area here corresponds to the masked case.) The cell set may
              be clipped and non-rectangular: a neighbour is used only if its cell is present.
    counts  = array (n_cells, n_steps); counts[c, t] is the value of bin (c, t).

Space-time Gi* (one global mean and variance over the whole cube)
    A bin (c, t) has as neighbours the bins (c', tau) where c' is a present cell at (ix+dx, iy+dy) for an
    offset (dx, dy) in `offsets` (default queen incl. self) and t - k_time <= tau <= t (fewer at the start).
    With n = n_cells * n_steps, ybar and s the mean and population SD of all n values, S = sum of the
    neighbours' values and W = number of neighbours (binary weights: sum w = sum w^2 = W):
        z = (S - ybar * W) / (s * sqrt((n * W - W^2) / (n - 1)))
    Two-sided normal p; BH-FDR over every bin of the cube; hot = z > 0 and p_fdr < alpha, cold = z < 0 and
    p_fdr < alpha.

Mann-Kendall on each cell's z series (same alpha): S = sum_{i<j} sign(z_j - z_i),
    Var(S) = [T(T-1)(2T+5) - sum_g t_g(t_g-1)(2t_g+5)] / 18   (t_g = size of tie group g),
    z_MK = (S - 1)/sqrt(Var) if S > 0, (S + 1)/sqrt(Var) if S < 0, else 0; p = 2 * (1 - Phi(|z_MK|)).
    trend = +1 (up) if p < alpha and S > 0, -1 (down) if p < alpha and S < 0, else 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import sparse
from scipy.special import ndtr

MIN_STEPS = 10  # Esri: the space-time cube must have at least ten time steps

QUEEN: tuple[tuple[int, int], ...] = tuple((dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1))
ROOK: tuple[tuple[int, int], ...] = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))

_KINDS = (
    "New",
    "Consecutive",
    "Intensifying",
    "Persistent",
    "Diminishing",
    "Sporadic",
    "Oscillating",
    "Historical",
)
NO_PATTERN = "No Pattern Detected"
# Pattern codes: 0 = no pattern, 1..8 = hot kinds in _KINDS order, 9..16 = cold kinds; -1 = not classified.
PATTERNS: tuple[str, ...] = (
    (NO_PATTERN,) + tuple(f"{k} Hot Spot" for k in _KINDS) + tuple(f"{k} Cold Spot" for k in _KINDS)
)
NOT_CLASSIFIED = -1
_HOT0, _COLD0 = 1, 1 + len(_KINDS)
_K = {k: i for i, k in enumerate(_KINDS)}


# --- space-time Gi* -----------------------------------------------------------------------------------------


def neighbour_index(ix, iy, offsets: Sequence[tuple[int, int]] = QUEEN) -> np.ndarray:
    """Row index of the cell at (ix+dx, iy+dy) for each cell and offset, or -1 where that cell is absent.

    Returns int64 (n_cells, n_offsets). Raises ValueError on duplicate cells.
    """
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    if ix.ndim != 1 or ix.shape != iy.shape:
        raise ValueError("ix and iy must be 1-D arrays of the same length")
    off = np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    n = ix.size
    out = np.full((n, len(off)), -1, dtype=np.int64)
    if n == 0:
        return out
    pad = int(np.abs(off).max()) if off.size else 0
    x0, y0 = int(ix.min()) - pad, int(iy.min()) - pad
    span_y = int(iy.max()) - y0 + pad + 1  # the padding keeps a shifted key from wrapping into another column
    key = (ix - x0) * span_y + (iy - y0)
    order = np.argsort(key, kind="stable")
    skey = key[order]
    if n > 1 and np.any(skey[1:] == skey[:-1]):
        raise ValueError("duplicate (ix, iy) cells")
    for j, (dx, dy) in enumerate(off):
        q = key + dx * span_y + dy
        pos = np.minimum(np.searchsorted(skey, q), n - 1)
        out[:, j] = np.where(skey[pos] == q, order[pos], -1)
    return out


_CHUNK = 8192  # cells per block in the blockwise steps: temporaries stay small and in cache


def _check_cube(values) -> np.ndarray:
    x = np.asarray(values)
    if x.ndim != 2:
        raise ValueError("values must be (n_cells, n_steps)")
    if x.dtype.kind == "b":
        x = x.astype(np.int8)
    if x.dtype.kind not in "iuf":
        raise ValueError("values must be numeric")
    if x.dtype.kind == "f" and not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    return x


def cube_mean_sd(values) -> tuple[float, float]:
    """Mean and population SD (ddof = 0) of every value of the cube, in float64, two passes over row blocks
    (no full-size float temporary)."""
    x = _check_cube(values)
    n = x.size
    if n == 0:
        return float("nan"), float("nan")
    total = sum(float(x[a : a + _CHUNK].sum(dtype=np.float64)) for a in range(0, x.shape[0], _CHUNK))
    ybar = total / n
    ss = sum(
        float(np.square(x[a : a + _CHUNK].astype(np.float64) - ybar).sum())
        for a in range(0, x.shape[0], _CHUNK)
    )
    return ybar, float(np.sqrt(ss / n))


def space_time_weights(nbr: np.ndarray, n_steps: int, k_time: int = 1) -> np.ndarray:
    """W per bin, int32 (n_cells, n_steps): present spatial neighbours (self incl.) x steps in the window."""
    w_sp = (np.asarray(nbr) >= 0).sum(axis=1)
    n_t = np.minimum(np.arange(n_steps), k_time) + 1
    return (w_sp[:, None] * n_t[None, :]).astype(np.int32)


def space_time_gi_star(values, nbr: np.ndarray, k_time: int = 1) -> np.ndarray:
    """Space-time Gi* z for every bin: float64 (n_cells, T). values (n_cells, T), integer or float;
    nbr from `neighbour_index` (self included). W per bin is `space_time_weights(nbr, T, k_time)`.

    z is 0 where it is undefined (all values equal, or a neighbourhood that is the whole cube).
    Memory: the output plus O(nnz(nbr) + _CHUNK * T); the input is not copied.
    """
    x = _check_cube(values)
    if x.shape[0] != nbr.shape[0]:
        raise ValueError("values must have one row per cell of nbr")
    if k_time < 0:
        raise ValueError("k_time must be >= 0")
    n_cells, n_steps = x.shape
    n = x.size
    ybar, s = cube_mean_sd(x)  # population SD, as in Getis-Ord / Esri
    present = nbr >= 0
    # binary spatial weights as a sparse (n_cells, n_cells) matrix: one sparse-dense product sums every
    # bin's spatial neighbours in every step at once
    rows = np.repeat(np.arange(n_cells), present.sum(axis=1))
    w_mat = sparse.csr_matrix((np.ones(rows.size), (rows, nbr[present])), shape=(n_cells, n_cells))
    out = np.asarray(w_mat @ x, dtype=np.float64)  # spatial sums, overwritten below by z, block by block
    del w_mat, rows
    w_sp = present.sum(axis=1).astype(np.float64)
    n_t = (np.minimum(np.arange(n_steps), k_time) + 1).astype(np.float64)
    for a in range(0, n_cells, _CHUNK):
        sp = out[a : a + _CHUNK]
        s_sum = sp.copy()
        for lag in range(1, min(k_time, n_steps - 1) + 1):  # the k previous steps
            s_sum[:, lag:] += sp[:, :-lag]
        w = w_sp[a : a + _CHUNK, None] * n_t[None, :]
        den = s * np.sqrt(np.maximum(n * w - w * w, 0.0) / max(n - 1, 1))
        z = np.zeros_like(s_sum)
        np.divide(s_sum - ybar * w, den, out=z, where=den > 0)
        sp[...] = z
    return out


def _fdr_bh(p: np.ndarray) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values over all entries of p (any shape)."""
    p = np.asarray(p, dtype=np.float64)
    flat = p.ravel()
    m = flat.size
    if m == 0:
        return p.copy()
    order = np.argsort(flat, kind="stable")
    adj = flat[order] * (m / np.arange(1, m + 1, dtype=np.float64))
    adj = np.minimum.accumulate(adj[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out.reshape(p.shape)


def _fdr_bh_significant(p: np.ndarray, alpha: float) -> np.ndarray:
    """The same decision as `_fdr_bh(p) < alpha`, from a plain sort (no argsort, no adjusted array).

    With p_(1) <= ... <= p_(m) and K = the largest k with p_(k) * m / k < alpha, the adjusted p of an entry
    is below alpha exactly when p <= p_(K): its adjusted value is the minimum of p_(k') * m / k' over the ranks
    k' >= its highest tied rank, and K always ends a group of ties (equal p, larger k: smaller product).
    The products are formed exactly as in `_fdr_bh`, so the two agree bit for bit.
    """
    p = np.asarray(p, dtype=np.float64)
    srt = np.sort(p, axis=None)
    m = srt.size
    last = -1
    step = 1 << 20
    for a in range(0, m, step):
        k = np.arange(a + 1, min(a + step, m) + 1, dtype=np.float64)
        ok = np.flatnonzero(srt[a : a + step] * (m / k) < alpha)
        if ok.size:
            last = a + int(ok[-1])
    if last < 0:
        return np.zeros(p.shape, dtype=bool)
    return p <= srt[last]


# --- Mann-Kendall -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MannKendall:
    s: np.ndarray  # int64 (n,)
    var_s: np.ndarray  # float64 (n,), tie-corrected
    z: np.ndarray  # float64 (n,), continuity-corrected
    p: np.ndarray  # float64 (n,), two-sided
    trend: np.ndarray  # int8 (n,): +1 up, -1 down, 0 none (at alpha)


def mann_kendall(y, alpha: float = 0.05, chunk: int = 4096) -> MannKendall:
    """Mann-Kendall trend test on each row of y (n_series, T).

    Vectorized over rows, `chunk` rows at a time (the temporaries stay in cache):
    O(n * T^2) time, O(n + chunk * T) extra memory.
    """
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2:
        raise ValueError("y must be 1-D or 2-D")
    if not np.all(np.isfinite(y)):
        raise ValueError("y must be finite")
    n, t = y.shape
    s = np.zeros(n, dtype=np.int64)
    ties = np.zeros(n)
    for a in range(0, n, max(int(chunk), 1)):
        block = y[a : a + chunk]
        m = block.shape[0]
        yt = np.ascontiguousarray(block.T)  # (T, m): each lag is a difference of two contiguous row blocks
        s_f = np.zeros(m)
        for lag in range(1, t):
            s_f += np.sign(yt[lag:] - yt[:-lag]).sum(axis=0)  # sums of +-1/0: exact in float64
        s[a : a + m] = s_f.astype(np.int64)
        # tie groups: runs of equal values in each sorted row
        srt = np.sort(block, axis=1)
        start = np.ones_like(srt, dtype=bool)
        start[:, 1:] = srt[:, 1:] != srt[:, :-1]
        run_len = np.bincount(np.cumsum(start.ravel()) - 1).astype(np.float64)
        run_row = np.repeat(np.arange(m), start.sum(axis=1))
        ties[a : a + m] = np.bincount(
            run_row, weights=run_len * (run_len - 1) * (2 * run_len + 5), minlength=m
        )
    var_s = (t * (t - 1) * (2 * t + 5) - ties) / 18.0
    sd = np.sqrt(np.maximum(var_s, 0.0))
    num = (s - np.sign(s)).astype(np.float64)
    z = np.zeros(n)
    np.divide(num, sd, out=z, where=sd > 0)
    p = 2.0 * ndtr(-np.abs(z))
    trend = np.where(p < alpha, np.sign(s), 0).astype(np.int8)
    return MannKendall(s=s, var_s=var_s, z=z, p=p, trend=trend)


# --- classification -----------------------------------------------------------------------------------------
#
# PRECEDENCE. Several definitions can fit one series; the first match in this order wins:
#   1. Intensifying / Persistent / Diminishing  (>= 90 % of steps hot, final step hot; by the MK trend)
#   2. Oscillating   (final hot, < 90 % hot, cold in some earlier step: an earlier bin of the opposite sign
#                     outranks New and Consecutive)
#   3. New           (final hot, never hot before)
#   4. Consecutive   (final run of >= 2 hot bins, never hot before that run, < 90 % hot)
#   5. Sporadic      (final hot, < 90 % hot, never cold) -- with 1-4 failed, every other final-hot series
#   6. Historical    (final step not hot, >= 90 % of steps hot)
#   7. No Pattern Detected
# "x % of steps" counts bins: n_hot >= 0.9 * T is tested exactly as 10 * n_hot >= 9 * T.
#
# COLD SIDE mirrors with hot and cold swapped. The MK trend is on the z-scores, so an Intensifying Cold Spot
# has a significant DOWNWARD trend (z more negative over time) and a Diminishing Cold Spot an upward one.
#
# HOT vs COLD. A cell is classified by the sign of its final bin: final hot -> hot patterns, final cold ->
# cold patterns; a final bin that is neither -> Historical Hot Spot if >= 90 % hot, Historical Cold Spot if
# >= 90 % cold (both cannot hold: no bin is hot and cold), else No Pattern Detected. This equals applying the
# precedence over both sides at once: ranks 1-5 all need the final bin of their own side, so only one side can
# match them, and every final-hot (final-cold) series matches one of them. Hence e.g. a cell hot in 9 of 10
# steps whose final bin is cold is an Oscillating Cold Spot (rank 2), not a Historical Hot Spot (rank 6).
#
# Fewer than MIN_STEPS steps: nothing is classified (None / code -1).


def _side_kind(a: np.ndarray, b: np.ndarray, trend: int, sign: int) -> str:
    """Kind for a series whose final bin is significant on side `a` (b = the opposite side)."""
    n_steps = a.size
    n_a = int(a.sum())
    if 10 * n_a >= 9 * n_steps:
        if trend == sign:
            return "Intensifying"
        if trend == -sign:
            return "Diminishing"
        return "Persistent"
    if b.any():
        return "Oscillating"
    if n_a == 1:
        return "New"
    run = n_steps if a.all() else int(np.argmin(a[::-1]))
    if run >= 2 and run == n_a:
        return "Consecutive"
    return "Sporadic"


def classify_series(hot, cold, trend: int) -> str | None:
    """Esri pattern name for one location: hot/cold bool series over T steps, trend = MK trend of its z
    (+1 up, -1 down, 0 none). Returns None (not classified) when T < MIN_STEPS. Reference implementation
    of the rules above; `classify_cells` is the vectorized equivalent."""
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    if hot.ndim != 1 or hot.shape != cold.shape:
        raise ValueError("hot and cold must be 1-D of the same length")
    if np.any(hot & cold):
        raise ValueError("a bin cannot be both hot and cold")
    n_steps = hot.size
    if n_steps < MIN_STEPS:
        return None
    if hot[-1]:
        return f"{_side_kind(hot, cold, int(trend), +1)} Hot Spot"
    if cold[-1]:
        return f"{_side_kind(cold, hot, int(trend), -1)} Cold Spot"
    if 10 * int(hot.sum()) >= 9 * n_steps:
        return "Historical Hot Spot"
    if 10 * int(cold.sum()) >= 9 * n_steps:
        return "Historical Cold Spot"
    return NO_PATTERN


def _trailing_run(a: np.ndarray) -> np.ndarray:
    rev_off = ~a[:, ::-1]
    return np.where(rev_off.any(axis=1), rev_off.argmax(axis=1), a.shape[1])


def classify_cells(hot, cold, trend) -> np.ndarray:
    """Vectorized `classify_series`: hot, cold bool (n_cells, T); trend int (n_cells,).

    Returns int8 pattern codes (index into PATTERNS), -1 for every cell when T < MIN_STEPS.
    """
    hot = np.asarray(hot, dtype=bool)
    cold = np.asarray(cold, dtype=bool)
    trend = np.asarray(trend).astype(np.int8).ravel()
    if hot.ndim != 2 or hot.shape != cold.shape or trend.size != hot.shape[0]:
        raise ValueError("hot, cold must be (n_cells, T) and trend (n_cells,)")
    if np.any(hot & cold):
        raise ValueError("a bin cannot be both hot and cold")
    n_cells, n_steps = hot.shape
    if n_steps < MIN_STEPS:
        return np.full(n_cells, NOT_CLASSIFIED, dtype=np.int8)
    n_hot, n_cold = hot.sum(axis=1), cold.sum(axis=1)
    conds: list[np.ndarray] = []
    codes: list[int] = []
    for a, n_a, n_b, sign, base in ((hot, n_hot, n_cold, 1, _HOT0), (cold, n_cold, n_hot, -1, _COLD0)):
        final = a[:, -1]
        ge90 = 10 * n_a >= 9 * n_steps
        run = _trailing_run(a)
        for cond, kind in (
            (final & ge90 & (trend == sign), "Intensifying"),
            (final & ge90 & (trend == -sign), "Diminishing"),
            (final & ge90, "Persistent"),
            (final & (n_b > 0), "Oscillating"),
            (final & (n_a == 1), "New"),
            (final & (run >= 2) & (run == n_a), "Consecutive"),
            (final, "Sporadic"),
        ):
            conds.append(cond)
            codes.append(base + _K[kind])
    neither = ~hot[:, -1] & ~cold[:, -1]
    conds += [neither & (10 * n_hot >= 9 * n_steps), neither & (10 * n_cold >= 9 * n_steps)]
    codes += [_HOT0 + _K["Historical"], _COLD0 + _K["Historical"]]
    return np.select(conds, [np.int8(c) for c in codes], default=np.int8(0)).astype(np.int8)


def pattern_names(codes) -> np.ndarray:
    """Pattern names (object array, None for -1) for codes from `classify_cells`."""
    codes = np.asarray(codes)
    names = np.array((*PATTERNS, None), dtype=object)
    return names[np.where(codes < 0, len(PATTERNS), codes)]


# --- the whole analysis -------------------------------------------------------------------------------------


@dataclass
class EHSAResult:
    status: str  # "ok" | "too_few_steps"
    message: str
    n_steps: int
    cells: pl.DataFrame  # one row per cell (see emerging_hot_spots)
    bins: pl.DataFrame | None = None  # one row per bin, when asked for
    mean: float | None = None  # global mean of the cube
    sd: float | None = None  # global population SD of the cube


_CELL_SCHEMA = {
    "ix": pl.Int64,
    "iy": pl.Int64,
    "pattern": pl.String,
    "n_hot": pl.Int32,
    "n_cold": pl.Int32,
    "final_z": pl.Float64,
    "trend_s": pl.Int64,
    "trend_z": pl.Float64,
    "trend_p": pl.Float64,
    "trend": pl.String,
}


def emerging_hot_spots(
    ix,
    iy,
    counts,
    offsets: Sequence[tuple[int, int]] = QUEEN,
    k_time: int = 1,
    alpha: float = 0.05,
    return_bins: bool = False,
) -> EHSAResult:
    """Esri-style Emerging Hot Spot Analysis of a grid-cell space-time cube.

    ix, iy   integer cell ids (n_cells,), the full study area including zero cells
    counts   (n_cells, n_steps) values per bin, steps in time order
    offsets  spatial neighbour offsets (dx, dy); must include (0, 0) (Gi* counts the bin itself)
    k_time   number of previous steps in a bin's neighbourhood

    Returns EHSAResult. `cells` has: ix, iy, pattern (Esri name; null if not classified), n_hot, n_cold,
    final_z (Gi* z of the final bin), trend_s, trend_z, trend_p (Mann-Kendall on the cell's z series),
    trend ("up" / "down" / "none"). With return_bins, `bins` has ix, iy, step, value, z, p, p_fdr, hot, cold.
    With fewer than MIN_STEPS steps, status is "too_few_steps" and every statistic column is null.
    """
    ix = np.asarray(ix, dtype=np.int64)
    iy = np.asarray(iy, dtype=np.int64)
    x = _check_cube(counts)
    if x.shape[0] != ix.size:
        raise ValueError("counts must be (n_cells, n_steps) with one row per (ix, iy) cell")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    if (0, 0) not in {(int(dx), int(dy)) for dx, dy in offsets}:
        raise ValueError("offsets must include (0, 0): Gi* includes the bin itself")
    n_cells, n_steps = x.shape
    if n_steps < MIN_STEPS:
        null = {
            c: pl.Series(c, [None] * n_cells, dtype=t)
            for c, t in _CELL_SCHEMA.items()
            if c not in ("ix", "iy")
        }
        cells = pl.DataFrame({"ix": ix, "iy": iy, **null}, schema=_CELL_SCHEMA)
        return EHSAResult(
            status="too_few_steps",
            message=f"{n_steps} time steps; Emerging Hot Spot Analysis needs at least {MIN_STEPS}",
            n_steps=n_steps,
            cells=cells,
        )
    nbr = neighbour_index(ix, iy, offsets)
    z = space_time_gi_star(x, nbr, k_time)
    p = np.abs(z)
    np.negative(p, out=p)
    ndtr(p, out=p)
    p *= 2.0  # two-sided normal p
    sig = _fdr_bh_significant(p, alpha)
    hot = sig & (z > 0)
    cold = sig & (z < 0)
    if not return_bins:
        del p
    mk = mann_kendall(z, alpha)
    codes = classify_cells(hot, cold, mk.trend)
    cells = pl.DataFrame(
        {
            "ix": ix,
            "iy": iy,
            "pattern": pattern_names(codes),
            "n_hot": hot.sum(axis=1).astype(np.int32),
            "n_cold": cold.sum(axis=1).astype(np.int32),
            "final_z": z[:, -1],
            "trend_s": mk.s,
            "trend_z": mk.z,
            "trend_p": mk.p,
            "trend": np.array(["down", "none", "up"], dtype=object)[mk.trend + 1],
        },
        schema=_CELL_SCHEMA,
    )
    bins = None
    if return_bins:
        bins = pl.DataFrame(
            {
                "ix": np.repeat(ix, n_steps),
                "iy": np.repeat(iy, n_steps),
                "step": np.tile(np.arange(n_steps, dtype=np.int32), n_cells),
                "value": x.ravel(),
                "z": z.ravel(),
                "p": p.ravel(),
                "p_fdr": _fdr_bh(p).ravel(),
                "hot": hot.ravel(),
                "cold": cold.ravel(),
            }
        )
    ybar, sd = cube_mean_sd(x)
    return EHSAResult(
        status="ok",
        message=f"{n_cells} cells x {n_steps} steps; {int(hot.sum())} hot and {int(cold.sum())} cold bins",
        n_steps=n_steps,
        cells=cells,
        bins=bins,
        mean=ybar,
        sd=sd,
    )
