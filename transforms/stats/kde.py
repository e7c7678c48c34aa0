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

MEMORY. Events go in a scipy cKDTree. The number of (cell, event) pairs within h is counted per cell first
(`query_ball_point(..., return_length=True)`), then cells are processed in consecutive blocks holding at most
`max_pairs` pairs (a cell with more pairs than that is a block of its own), each block with one
`sparse_distance_matrix` call. Peak memory is O(n_events + n_cells + max_pairs).

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


def quartic_kde(
    px,
    py,
    cell_x,
    cell_y,
    bandwidth_m: float,
    weights=None,
    *,
    unit: str = "m2",
    max_pairs: int = 2_000_000,
    check_units: bool = True,
) -> np.ndarray:
    """Quartic kernel density at each cell centre (cell_x, cell_y), from events (px, py), all in metres.

    weights: optional per-event weights (default 1). unit: "m2" (events per square metre) or "km2".
    Returns float64 (n_cells,).
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
    if check_units:
        _check_units(np.vstack([ev, cells]), h)
    out = np.zeros(len(cells))
    if len(ev) == 0 or len(cells) == 0:
        return out
    canon = np.lexsort((w, ev[:, 1], ev[:, 0]))  # the canonical event order (see REPRODUCIBLE)
    ev, w = ev[canon], w[canon]
    etree = cKDTree(ev)
    n_pairs = np.asarray(etree.query_ball_point(cells, r=h, return_length=True), dtype=np.int64)
    todo = np.flatnonzero(n_pairs)
    cum = np.cumsum(n_pairs[todo])
    start = 0
    while start < todo.size:
        before = cum[start - 1] if start else 0
        stop = max(int(np.searchsorted(cum, before + max_pairs, side="right")), start + 1)
        idx = todo[start:stop]
        pairs = cKDTree(cells[idx]).sparse_distance_matrix(etree, h, output_type="ndarray")
        pairs = pairs[np.lexsort((pairs["j"], pairs["i"]))]  # per cell, its events in the canonical order
        u = 1.0 - (pairs["v"] / h) ** 2
        k = np.where(u > 0, u * u, 0.0) * w[pairs["j"]]
        out[idx] += np.bincount(pairs["i"], weights=k, minlength=idx.size)
        start = stop
    return out * (3.0 / (np.pi * h * h) * _UNITS[unit])
