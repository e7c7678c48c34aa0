"""The Knox test for near repeats: do events close in space also happen close in time?

Every unordered pair of events (i < j) is put in one space band (by the distance between the two
points) and one time band (by the number of days between the two events). The observed table counts
the pairs in each space band x time band cell. Under the null hypothesis, when an event happened has
nothing to do with where it happened; the null distribution comes from shuffling the event times over
the fixed locations (a Monte Carlo permutation test) and recounting. A cell with many more pairs than
the permutations give (Knox ratio > 1, small p) is a near-repeat pattern: events near each other in
space cluster in time too.

The test is Knox's (Knox 1964, "The detection of space-time interactions", Applied Statistics 13(1):
25-29). Its use for near-repeat victimisation, with Monte Carlo permutations of the times, follows
Johnson et al. (2007, "Space-time patterns of risk: a cross national assessment of residential
burglary victimization", Journal of Quantitative Criminology 23: 201-219) and Ratcliffe's Near Repeat
Calculator (Temple University, 2009). The band conventions are chosen so that sara reproduces those
tools' answers:

- Bands come from edges, e.g. 0, 1, 100, 200, 300. With ``closed="left"`` (default) the bands are
  [0, 1) [1, 100) [100, 200) [200, 300) and an open-ended [300, inf). With ``closed="right"`` they are
  [0, 1] (closed at 0 so that a distance of 0 is counted) (1, 100] (100, 200] (200, 300] (300, inf).
  Time bands work the same way.
- Distance is Manhattan (|dx| + |dy|, the Calculator's default) or Euclidean, in the units of x/y.
- Time distance is |t_i - t_j| in days: whole days when the input has dates only, fractional days when
  it has times of day.
- ``p_value`` = (number of permutations with a count >= observed + 1) / (perms + 1), so it is never
  below 1 / (perms + 1); ``z`` = (observed - mean) / sd of the permutation counts (ddof = 1).
- The open bands get no ``p_value`` and no ``z`` (NaN), and ``p_note`` says why. Shuffling times over
  fixed places keeps two sets of margins of the table fixed: the pairs per time band (all pairs, whatever
  their distance: the multiset of times does not change) and the pairs per space band (the places do not
  move). So a cell of the open distance band holds (all pairs in its time band) - (the closer bands' pairs in
  it), in the data and in every permutation: its excess over chance is exactly the closer bands' shortfall
  in that time band, and the last cell (open in both) holds the sum of every closed cell's excess. With a
  real near-repeat pattern that corner shows a ratio of 1.00 (a tiny excess on millions of pairs) with the
  smallest p of all, which reads as "far apart and far in time: a near-repeat pattern". The open time band
  is the mirror of the shorter time bands at the same distance in the same way. Neither tests whether
  events close in space are close in time, so neither gets a p-value. Observed, expected and the ratio are
  kept as description.

How it stays fast and small. Space distances do not change when times are shuffled, so the pairs
closer than the largest finite space edge are found once (a k-d tree, ``cKDTree.query_pairs``), with
their space band. Each permutation only recomputes the time band of those pairs, in a compiled
parallel kernel (numba). Pairs farther apart than the largest edge (the open-ended space band) are
never enumerated: the number of ALL pairs in each time band depends only on the multiset of times,
which shuffling does not change, so it is counted once from the sorted times in O(n log n), and the
open-ended space band is (all pairs) - (close pairs) per time band. Memory grows with the number of
close pairs, never with n x n.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Literal

import numpy as np
import polars as pl
from numba import get_num_threads, njit, prange

Closed = Literal["left", "right"]

# Why an open band has no p-value (see the module notes)
OPEN_NOTES = {
    "space": "no p: the open distance band holds all pairs of its time band (fixed under permutation) less the "
             "closer bands', so it mirrors them and tests no near repeat",
    "time": "no p: the open time band holds all pairs of its distance band (fixed: places do not move) less the "
            "shorter time bands', so it mirrors them and tests no near repeat",
    "both": "no p: open in distance and time, this cell's excess is the sum of every closed cell's excess; "
            "it tests no near repeat of its own",
}
Metric = Literal["manhattan", "euclidean"]

__all__ = [
    "KnoxResult",
    "band_labels",
    "knox",
    "knox_test",
    "parse_edges",
    "period_mask",
    "warm_up",
]


# ---------------------------------------------------------------------------------------------
# Bands
# ---------------------------------------------------------------------------------------------


def parse_edges(edges: Sequence[float] | np.ndarray | str, what: str = "edges") -> np.ndarray:
    """Band edges as a float array: finite, starting at 0, strictly increasing, at least two.

    A string is read as a comma list ("0,7,14,21"). The last edge starts the open-ended band.
    """
    if isinstance(edges, str):
        parts = [p.strip() for p in edges.split(",") if p.strip()]
        try:
            vals = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"{what}: {edges!r} is not a comma list of numbers (e.g. 0,7,14,21)") from None
    else:
        vals = [float(v) for v in np.asarray(edges, dtype=float).ravel()]
    e = np.asarray(vals, dtype=np.float64)
    if e.size < 2:
        raise ValueError(f"{what}: give at least two edges, e.g. 0,7 (bands [0, 7) and [7, inf))")
    if not np.all(np.isfinite(e)):
        raise ValueError(f"{what}: edges must be finite numbers (the band after the last edge is open-ended)")
    if e[0] != 0:
        raise ValueError(f"{what}: the first edge must be 0, got {vals[0]:g}")
    if np.any(np.diff(e) <= 0):
        raise ValueError(f"{what}: edges must increase strictly, got {', '.join(f'{v:g}' for v in vals)}")
    return e


def _band_index(d: np.ndarray, edges: np.ndarray, closed: Closed) -> np.ndarray:
    """Band of each distance (d >= 0): 0 .. len(edges) - 1, the last being open-ended."""
    if closed == "left":  # [a, b): the number of inner edges <= d
        return np.searchsorted(edges, d, side="right") - 1
    # (a, b], first band [0, b]: the number of inner edges < d
    return np.maximum(np.searchsorted(edges, d, side="left") - 1, 0)


def band_labels(edges: Sequence[float] | np.ndarray, closed: Closed = "left", unit: str = "") -> list[str]:
    """Human labels for the bands, e.g. ['[0, 7)', '[7, 14)', '[14, inf)'] or with ``closed='right'``
    ['[0, 7]', '(7, 14]', '(14, inf)']."""
    e = [float(v) for v in edges]
    u = f" {unit}" if unit else ""
    out = []
    for k, lo in enumerate(e):
        hi = e[k + 1] if k + 1 < len(e) else math.inf
        his = "inf" if math.isinf(hi) else f"{hi:g}"
        if closed == "left":
            out.append(f"[{lo:g}, {his}){u}")
        else:
            opener = "[" if k == 0 else "("
            closer = ")" if math.isinf(hi) else "]"
            out.append(f"{opener}{lo:g}, {his}{closer}{u}")
    return out


# ---------------------------------------------------------------------------------------------
# Compiled kernels
# ---------------------------------------------------------------------------------------------


@njit(cache=True, nogil=True)
def _all_pairs_cumulative(ts: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """For sorted times ts and each threshold e: the number of pairs i < j with ts[j] - ts[i] < e.
    Two pointers, O(n) per threshold.

    The difference is computed by subtraction, exactly as the permutation kernel computes |t_i - t_j|
    (float subtraction is monotone, so the pointer only moves forward), so the two always agree on a
    pair sitting exactly on an edge."""
    n = ts.shape[0]
    out = np.zeros(thresholds.shape[0], dtype=np.int64)
    for m in range(thresholds.shape[0]):
        e = thresholds[m]
        hi = 0
        total = 0
        for i in range(n):
            if hi < i + 1:
                hi = i + 1
            while hi < n and ts[hi] - ts[i] < e:
                hi += 1
            total += hi - i - 1
        out[m] = total
    return out


@njit(parallel=True, cache=True, nogil=True)
def _count_close_pairs(pi: np.ndarray, pj: np.ndarray, base: np.ndarray, times: np.ndarray,
                       thresholds: np.ndarray, n_cells: int, n_chunks: int) -> np.ndarray:
    """Counts per (space band, time band) cell of the close pairs, for B time vectors at once.

    pi, pj: the two events of each close pair; base: space band * n_time_bands of each pair;
    times: (n, B), event e's time in permutation b at [e, b], so one pair reads two short contiguous
    rows and serves all B permutations; thresholds (same dtype as times): a pair's time band is the
    number of thresholds <= its time distance. Parallel over chunks of pairs, each chunk with its own
    (B x cells) counts. The band is computed for all B permutations in straight-line loops the
    compiler vectorizes, then the counts are incremented."""
    npairs = pi.shape[0]
    nb = times.shape[1]
    ne = thresholds.shape[0]
    out = np.zeros((n_chunks, nb * n_cells), dtype=np.int64)
    size = (npairs + n_chunks - 1) // n_chunks
    for c in prange(n_chunks):
        acc = out[c]
        cell = np.empty(nb, dtype=np.int64)
        for k in range(c * size, min(npairs, (c + 1) * size)):
            ri = times[pi[k]]
            rj = times[pj[k]]
            off = base[k]
            for b in range(nb):
                cell[b] = b * n_cells + off
            for q in range(ne):
                e = thresholds[q]
                for b in range(nb):
                    cell[b] += abs(ri[b] - rj[b]) >= e
            for b in range(nb):
                acc[cell[b]] += 1
    return out.sum(axis=0).reshape(nb, n_cells)


@njit(cache=True, nogil=True)
def _fill_column(out: np.ndarray, col: int, tk: np.ndarray, perm: np.ndarray, order: np.ndarray) -> None:
    """out[p, col] = tk[perm[order[p]]]: permutation ``perm`` of the times (original event order),
    laid out in the tree order of the close pairs, as column ``col`` of the kernel's (n, B) input."""
    for p in range(order.shape[0]):
        out[p, col] = tk[perm[order[p]]]


def _thresholds(inner: np.ndarray, closed: Closed, span: float | None) -> np.ndarray:
    """Thresholds such that a time distance d is in band #{thresholds <= d}.

    [a, b) bands: d >= e. (a, b] bands: d > e, i.e. d >= the next float above e. For whole-day
    times (``span`` = the largest possible distance, in days) the thresholds are whole numbers,
    ceil(e) and floor(e) + 1, capped at span + 1 (no distance reaches it) so they fit a small int."""
    if span is None:
        return inner.copy() if closed == "left" else np.nextafter(inner, np.inf)
    th = np.ceil(inner) if closed == "left" else np.floor(inner) + 1
    return np.minimum(th, span + 1).astype(np.int64)


# ---------------------------------------------------------------------------------------------
# The test
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClosePairs:
    """The pairs closer than the largest finite space edge, with their space band.

    For memory locality the events are taken in k-d tree order: ``order`` lists the original event
    indices in that order, and ``i``, ``j`` are positions in it (event ``order[i]`` and event
    ``order[j]``), the pairs in the tree's traversal order, so nearby pairs touch nearby events."""

    i: np.ndarray  # int32
    j: np.ndarray  # int32
    band: np.ndarray  # int32, 0 .. len(space_edges) - 2
    order: np.ndarray  # int64, a permutation of 0 .. n - 1

    def __len__(self) -> int:
        return int(self.i.shape[0])


def close_pairs(x: np.ndarray, y: np.ndarray, space_edges: np.ndarray, closed: Closed = "left",
                metric: Metric = "manhattan") -> ClosePairs:
    """Every pair closer than the largest space edge (strictly below it for [a, b) bands, at or below
    it for (a, b] bands), found once with ``cKDTree.query_pairs``, with its space band."""
    from scipy.spatial import cKDTree

    n = x.shape[0]
    rmax = float(space_edges[-1])
    empty = np.empty(0, dtype=np.int32)
    if n < 2:
        return ClosePairs(empty, empty, empty, np.arange(n, dtype=np.int64))
    pts = np.column_stack([x, y])
    tree = cKDTree(pts)
    order = np.asarray(tree.indices, dtype=np.int64)
    pos = np.empty(n, dtype=np.int64)
    pos[order] = np.arange(n, dtype=np.int64)
    # The tree only proposes candidates: its radius is a hair wider than rmax (so rounding inside the
    # tree cannot lose a pair on the edge) and the exact decision is made below from our own distance.
    r = rmax * (1 + 1e-9) + 8 * np.finfo(float).eps * float(np.max(np.abs(pts)))
    pairs = tree.query_pairs(r, p=1 if metric == "manhattan" else 2, output_type="ndarray")
    del tree, pts
    a, b = pairs[:, 0], pairs[:, 1]
    dx = np.abs(x[a] - x[b])
    dy = np.abs(y[a] - y[b])
    d = dx + dy if metric == "manhattan" else np.sqrt(dx * dx + dy * dy)
    del dx, dy
    keep = d < rmax if closed == "left" else d <= rmax
    pa, pb, d = pos[a[keep]], pos[b[keep]], d[keep]
    del pairs, a, b, keep
    band = _band_index(d, space_edges, closed).astype(np.int32)
    return ClosePairs(pa.astype(np.int32), pb.astype(np.int32), band, order)


@dataclass(frozen=True)
class KnoxResult:
    table: pl.DataFrame
    n_events: int
    n_pairs: int  # all pairs, n (n - 1) / 2
    n_close_pairs: int  # pairs closer than the largest finite space edge (enumerated)
    perms: int
    seed: int | None
    closed: str
    metric: str
    seconds: float  # the whole test
    seconds_pairs: float = 0.0  # pair counts over all pairs and the close-pair search
    seconds_permutations: float = 0.0  # drawing and counting the permutations


def _check_inputs(x, y, t) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = np.ascontiguousarray(x, dtype=np.float64).ravel()
    y = np.ascontiguousarray(y, dtype=np.float64).ravel()
    t = np.ascontiguousarray(t, dtype=np.float64).ravel()
    if not (x.shape == y.shape == t.shape):
        raise ValueError(f"x, y and t must have the same length, got {x.size}, {y.size}, {t.size}")
    for name, v in (("x", x), ("y", y), ("t", t)):
        bad = np.flatnonzero(~np.isfinite(v))
        if bad.size:
            raise ValueError(f"{name}[{bad[0]}] is {v[bad[0]]}: every event needs a finite {name}")
    return x, y, t


def knox(x, y, t, space_edges, time_edges, *, closed: Closed = "left", metric: Metric = "manhattan",
         perms: int = 999, seed: int | None = None, batch: int | None = None,
         progress: Callable[[int, int], None] | None = None) -> KnoxResult:
    """The Knox test with its bookkeeping (event and pair counts, time taken). See ``knox_test``."""
    t0 = time.perf_counter()
    if closed not in ("left", "right"):
        raise ValueError(f"closed must be 'left' or 'right', got {closed!r}")
    if metric not in ("manhattan", "euclidean"):
        raise ValueError(f"metric must be 'manhattan' or 'euclidean', got {metric!r}")
    perms = int(perms)
    if perms < 0:
        raise ValueError(f"perms must be >= 0, got {perms}")
    x, y, t = _check_inputs(x, y, t)
    se = parse_edges(space_edges, "space edges")
    te = parse_edges(time_edges, "time edges")
    n = x.shape[0]
    n_sb, n_tb = se.size, te.size  # bands, the last of each open-ended
    # Whole-day times run as small integers (less memory traffic); anything else as float64.
    span = float(t.max() - t.min()) if n else 0.0
    integer = bool(np.all(t == np.floor(t))) and span < 2**31 - 2
    if integer:
        th = _thresholds(te[1:], closed, span)
        tdtype = np.int16 if span < 2**15 - 2 else np.int32
        tk = (t - (t.min() if n else 0.0)).astype(tdtype)
        th = th.astype(tdtype)
    else:
        th = _thresholds(te[1:], closed, None)
        tk = t

    # All pairs per time band: fixed under permutation of the times.
    cum = _all_pairs_cumulative(np.sort(tk).astype(np.int64 if integer else np.float64),
                                th.astype(np.int64 if integer else np.float64))
    n_pairs = n * (n - 1) // 2
    all_by_time = np.diff(np.concatenate([[0], cum, [n_pairs]])).astype(np.int64)

    cp = close_pairs(x, y, se, closed, metric)
    base = (cp.band * n_tb).astype(np.int32)
    n_cells = (n_sb - 1) * n_tb
    n_chunks = max(1, min(get_num_threads() * 8, len(cp) // 4096 + 1))

    def counts(tt: np.ndarray) -> np.ndarray:
        """(B, n_sb, n_tb) full tables (open-ended space band included) for the B time vectors in
        the columns of tt (n, B), in the tree order of the close pairs."""
        close = _count_close_pairs(cp.i, cp.j, base, tt, th, n_cells, n_chunks).reshape(-1, n_sb - 1, n_tb)
        open_band = all_by_time[None, :] - close.sum(axis=1)
        return np.concatenate([close, open_band[:, None, :]], axis=1)

    t1 = time.perf_counter()
    observed = counts(np.ascontiguousarray(tk[cp.order][:, None]))[0]
    t2 = time.perf_counter()
    # Permutation r gives event e the time t[perm_r[e]], perm_r = rng.permutation(n), drawn in order:
    # the same seed gives the same permutations whatever the batch size or thread count.
    rng = np.random.default_rng(seed)
    sims = np.empty((perms, n_sb, n_tb), dtype=np.int64)
    if batch is None:
        batch = int(max(1, min(64, (64 << 20) // max(tk.itemsize * n, 1))))
    done = 0
    while done < perms:
        b = min(batch, perms - done)
        tt = np.empty((n, b), dtype=tk.dtype)
        for r in range(b):
            _fill_column(tt, r, tk, rng.permutation(n), cp.order)
        sims[done:done + b] = counts(tt)
        done += b
        if progress is not None:
            progress(done, perms)
    t3 = time.perf_counter()

    with np.errstate(divide="ignore", invalid="ignore"):
        if perms > 0:
            mean = sims.mean(axis=0)
            median = np.median(sims, axis=0)
            sd = sims.std(axis=0, ddof=1) if perms > 1 else np.full(observed.shape, np.nan)
            p = ((sims >= observed[None]).sum(axis=0) + 1) / (perms + 1)
            z = np.where(sd > 0, (observed - mean) / np.where(sd > 0, sd, 1.0), np.nan)
            ratio = np.where(mean > 0, observed / np.where(mean > 0, mean, 1.0),
                             np.where(observed > 0, np.inf, np.nan))
        else:
            mean = median = p = z = ratio = np.full(observed.shape, np.nan)

    open_space = np.zeros((n_sb, n_tb), dtype=bool)
    open_space[-1, :] = True
    open_time = np.zeros((n_sb, n_tb), dtype=bool)
    open_time[:, -1] = True
    p = np.where(open_space | open_time, np.nan, p)
    z = np.where(open_space | open_time, np.nan, z)
    note = np.where(open_space & open_time, OPEN_NOTES["both"],
                    np.where(open_space, OPEN_NOTES["space"], np.where(open_time, OPEN_NOTES["time"], None)))

    s_lo = np.repeat(se, n_tb)
    s_hi = np.repeat(np.append(se[1:], np.inf), n_tb)
    t_lo = np.tile(te, n_sb)
    t_hi = np.tile(np.append(te[1:], np.inf), n_sb)
    table = pl.DataFrame({
        "space_lo": s_lo, "space_hi": s_hi, "time_lo": t_lo, "time_hi": t_hi,
        "observed": observed.ravel().astype(np.int64),
        "expected_mean": np.asarray(mean, dtype=float).ravel(),
        "expected_median": np.asarray(median, dtype=float).ravel(),
        "knox_ratio": np.asarray(ratio, dtype=float).ravel(),
        "p_value": np.asarray(p, dtype=float).ravel(),
        "z": np.asarray(z, dtype=float).ravel(),
        "p_note": pl.Series(note.ravel().tolist(), dtype=pl.String),
    })
    return KnoxResult(table, n, n_pairs, len(cp), perms, seed, closed, metric, time.perf_counter() - t0,
                      seconds_pairs=t1 - t0, seconds_permutations=t3 - t2)


def warm_up() -> None:
    """Load the compiled kernels (numba's on-disk cache; compiled on a first run) for whole-day times, as the
    marts run the test, on three events: about a second the first time in a process, which a command can pay
    early, where it overlaps other work, instead of in its marts."""
    knox(np.array([0.0, 1.0, 2.0]), np.zeros(3), np.array([0.0, 1.0, 3.0]), [0, 1, 100], [0, 1, 2], perms=2,
         seed=0)


def knox_test(x, y, t, space_edges, time_edges, *, closed: Closed = "left", metric: Metric = "manhattan",
              perms: int = 999, seed: int | None = None) -> pl.DataFrame:
    """The Knox test for space-time interaction (near repeats), with a permutation null model.

    x, y: event coordinates (metres in sara); t: event times in days (float). space_edges and
    time_edges: band edges starting at 0, e.g. [0, 1, 100, 200, 300] and [0, 7, 14, 21]; the band
    after the last edge is open-ended. ``closed="left"`` gives [a, b) bands, ``"right"`` gives (a, b]
    with the first band [0, b]. ``metric``: "manhattan" (|dx| + |dy|) or "euclidean".
    ``perms`` permutations of the event times over the fixed locations, drawn with
    ``numpy.random.default_rng(seed)``: the same seed gives the same table.

    Returns one row per space band x time band, space-major, with columns space_lo, space_hi,
    time_lo, time_hi (inf for an open-ended band), observed (pairs), expected_mean and
    expected_median (over the permutations), knox_ratio (observed / expected_mean; inf when only the
    expectation is 0, NaN when both are), p_value ((#{simulated >= observed} + 1) / (perms + 1)),
    z ((observed - mean) / sd with ddof = 1, NaN if sd = 0) and p_note. In the open bands p_value and z are
    NaN and p_note says why (they mirror the closed bands). With perms=0 only ``observed`` is filled.
    """
    return knox(x, y, t, space_edges, time_edges, closed=closed, metric=metric, perms=perms, seed=seed).table


# ---------------------------------------------------------------------------------------------
# Periods
# ---------------------------------------------------------------------------------------------


def period_mask(t: np.ndarray, since: date | str | None = None, until: date | str | None = None) -> np.ndarray:
    """Events on or after ``since`` and on or before ``until`` (dates, both inclusive; t in days)."""
    t = np.asarray(t, dtype=float)
    mask = np.ones(t.shape, dtype=bool)
    if since is not None:
        d = date.fromisoformat(since) if isinstance(since, str) else since
        mask &= t >= (d - date(1970, 1, 1)).days
    if until is not None:
        d = date.fromisoformat(until) if isinstance(until, str) else until
        mask &= t < (d - date(1970, 1, 1)).days + 1
    return mask
