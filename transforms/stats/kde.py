"""Quartic (biweight) kernel density of events at grid-cell centres, in metres.

    K(d) = 3 / (pi h^2) * (1 - d^2 / h^2)^2   for d < h,   0 otherwise
    density(cell) = sum over events i of w_i * K(d_i)          (events per m^2; per km^2 with unit="km2")

This is the quartic kernel of CrimeStat (Levine, CrimeStat manual, "Kernel density interpolation"
chapter) and of ArcGIS "Kernel Density" (Esri, "How Kernel Density works", after Silverman 1986, eq. 4.5).
It integrates to 1 over the plane, so density x cell area, summed over a grid that covers every event's
window, gives back the number (or total weight) of events.

UNITS. Coordinates and the bandwidth must be in metres in a projected analysis CRS (sara's agency
`analysis_crs`, e.g. a UTM zone). Never pass longitude/latitude: a bandwidth of 400 "metres" would then be
400 degrees and every event would fall in every cell's window. `check_units` rejects the obvious case (all
coordinates inside the lon/lat ranges and the whole extent smaller than one bandwidth); it is a guard, not a
proof.

MEMORY. The distinct event points go in a scipy cKDTree. The number of (cell, point) pairs within h is
counted per cell first (`query_ball_point(..., return_length=True)`), then cells are processed in consecutive
blocks holding at most `max_pairs` pairs (a cell with more pairs than that is a block of its own), each block
with one `sparse_distance_matrix` call; each pair then adds one term per event at its point, in chunks of whole
cells of at most `max_pairs` terms. Peak memory is O(n_events + n_cells x n_sets + max_pairs).

SETS. `quartic_kde_sets` gives the density of several sets of events (say each category x origin) in one
pass: a point shared by several sets is paired with the cells once. Column s is bit for bit `quartic_kde` of
set s alone (tests/unit/test_float_order.py).

REPRODUCIBLE. Floating-point addition is not associative, so a sum depends on the order of its terms. The
events are put in one canonical order first (by x, then y, then weight) and each cell's terms are added in
that order, whatever order the events and cells came in (a DuckDB query without ORDER BY has none) and
whatever the tree's traversal or the block sizes: the same events give the same bits.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

_UNITS = {"m2": 1.0, "km2": 1e6}


def quartic_kernel(d, bandwidth_m: float) -> np.ndarray:
    """K(d) = 3/(pi h^2) (1 - d^2/h^2)^2 for d < h, else 0 (per m^2)."""
    h = float(bandwidth_m)
    u = 1.0 - (np.asarray(d, dtype=np.float64) / h) ** 2
    return np.where(u > 0, 3.0 / (np.pi * h * h) * u * u, 0.0)


def _check_units(xy: np.ndarray, h: float) -> None:
    if xy.size == 0:
        return
    lon_lat = np.all(np.abs(xy[:, 0]) <= 180.0) and np.all(np.abs(xy[:, 1]) <= 90.0)
    extent = float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1])))
    if lon_lat and extent < h:
        raise ValueError(
            "coordinates look like longitude/latitude (all within +-180/+-90 and the whole extent is smaller "
            f"than the bandwidth {h} m); project them to the analysis CRS (metres) first"
        )


def quartic_kde(px, py, cell_x, cell_y, bandwidth_m: float, weights=None, *, unit: str = "m2",
                max_pairs: int = 2_000_000, check_units: bool = True) -> np.ndarray:
    """Quartic kernel density at each cell centre (cell_x, cell_y), from events (px, py), all in metres.

    weights: optional per-event weights (default 1). unit: "m2" (events per square metre) or "km2".
    Returns float64 (n_cells,).
    """
    return quartic_kde_sets(px, py, cell_x, cell_y, bandwidth_m, weights, unit=unit, max_pairs=max_pairs,
                            check_units=check_units)[:, 0]


def quartic_kde_sets(px, py, cell_x, cell_y, bandwidth_m: float, weights=None, sets=None, *,
                     n_sets: int | None = None, unit: str = "m2", max_pairs: int = 2_000_000,
                     check_units: bool = True) -> np.ndarray:
    """The density of several sets of events at once: column s of the result is, bit for bit,
    `quartic_kde` of the events whose `sets` code is s (0 .. n_sets - 1; default: one set).

    Many sets share points (a repeat address is in the set of every category and origin it has a call of),
    so the (cell, point) distances are found once for the distinct points of all sets, and each pair then
    adds one term per event at that point to its set's sum, in the canonical order (see REPRODUCIBLE).
    Returns float64 (n_cells, n_sets).
    """
    if unit not in _UNITS:
        raise ValueError(f"unit must be one of {sorted(_UNITS)}")
    h = float(bandwidth_m)
    if not np.isfinite(h) or h <= 0:
        raise ValueError("bandwidth_m must be a positive number of metres")
    ev = np.column_stack([np.asarray(px, dtype=np.float64).ravel(), np.asarray(py, dtype=np.float64).ravel()])
    cells = np.column_stack(
        [np.asarray(cell_x, dtype=np.float64).ravel(), np.asarray(cell_y, dtype=np.float64).ravel()]
    )
    if not (np.all(np.isfinite(ev)) and np.all(np.isfinite(cells))):
        raise ValueError("coordinates must be finite (drop unlocated events first)")
    w = np.ones(len(ev)) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    if w.shape != (len(ev),):
        raise ValueError("weights must have one value per event")
    s = np.zeros(len(ev), dtype=np.int64) if sets is None else np.asarray(sets, dtype=np.int64).ravel()
    if s.shape != (len(ev),):
        raise ValueError("sets must have one code per event")
    n_sets = (int(s.max()) + 1 if s.size else 1) if n_sets is None else int(n_sets)
    if s.size and (s.min() < 0 or s.max() >= n_sets):
        raise ValueError(f"set codes must be in 0 .. {n_sets - 1}")
    if check_units:
        _check_units(np.vstack([ev, cells]), h)
    out = np.zeros((len(cells), n_sets))
    if len(ev) == 0 or len(cells) == 0:
        return out
    canon = np.lexsort((w, ev[:, 1], ev[:, 0]))  # the canonical event order (see REPRODUCIBLE)
    ev, w, s = ev[canon], w[canon], s[canon]
    # the distinct points, in the same order; the events of point p are rows first[p] .. first[p + 1] - 1
    new = np.ones(len(ev), dtype=bool)
    new[1:] = (ev[1:, 0] != ev[:-1, 0]) | (ev[1:, 1] != ev[:-1, 1])
    first = np.append(np.flatnonzero(new), len(ev))
    at_point = np.diff(first)
    ptree = cKDTree(ev[first[:-1]])
    n_pairs = np.asarray(ptree.query_ball_point(cells, r=h, return_length=True), dtype=np.int64)
    todo = np.flatnonzero(n_pairs)
    cum = np.cumsum(n_pairs[todo])
    start = 0
    while start < todo.size:
        before = cum[start - 1] if start else 0
        stop = max(int(np.searchsorted(cum, before + max_pairs, side="right")), start + 1)
        idx = todo[start:stop]
        pairs = cKDTree(cells[idx]).sparse_distance_matrix(ptree, h, output_type="ndarray")
        pairs = pairs[np.lexsort((pairs["j"], pairs["i"]))]  # per cell, its points in the canonical order
        u = 1.0 - (pairs["v"] / h) ** 2
        _add_terms(out, idx, pairs["i"], pairs["j"], np.where(u > 0, u * u, 0.0), first, at_point, w, s,
                   max_pairs)
        start = stop
    return out * (3.0 / (np.pi * h * h) * _UNITS[unit])


def _add_terms(out, idx, i, j, k, first, at_point, w, s, max_pairs) -> None:
    """Add to out[idx] one term k * w per (cell, point) pair and event at the point, to the event's set, in
    the order of the pairs and then of the events: the order `quartic_kde` of each set alone adds them in.
    Each cell's terms are summed in one go (never split across chunks, which would change the bits), in
    chunks of whole cells holding at most max_pairs terms (a cell with more is a chunk of its own)."""
    if len(i) == 0:
        return
    n_sets = out.shape[1]
    per_pair = at_point[j]
    cell_starts = np.append(np.flatnonzero(np.r_[True, i[1:] != i[:-1]]), len(i))
    cum = np.cumsum(per_pair)[cell_starts[1:] - 1]  # the terms up to the end of each cell
    a = 0
    while a < len(cell_starts) - 1:
        before = cum[a - 1] if a else 0
        b = max(int(np.searchsorted(cum, before + max_pairs, side="right")), a + 1)
        lo, hi = cell_starts[a], cell_starts[b]
        cnt = per_pair[lo:hi]
        rows = np.repeat(first[j[lo:hi]], cnt) + (np.arange(cnt.sum()) - np.repeat(np.cumsum(cnt) - cnt, cnt))
        cell = np.repeat(i[lo:hi], cnt)
        base = i[lo]
        sums = np.bincount((cell - base) * n_sets + s[rows], weights=np.repeat(k[lo:hi], cnt) * w[rows],
                           minlength=(i[hi - 1] - base + 1) * n_sets)
        out[idx[base:i[hi - 1] + 1]] += sums.reshape(-1, n_sets)
        a = b
