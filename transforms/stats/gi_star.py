"""Getis–Ord Gi* hot-spot statistics (binary weights, self included), as in ArcGIS Hot Spot Analysis.

Formula
-------
Getis & Ord (1992), "The analysis of spatial association by use of distance statistics",
Geographical Analysis 24(3); in the standardized form of Ord & Getis (1995), "Local spatial
autocorrelation statistics: distributional issues and an application", Geographical Analysis 27(4),
eq. (3.2), which is the form ArcGIS documents. For n units with values y and, for unit i, a
neighbour set N_i that includes i itself (binary weights w_ij = 1 for j in N_i):

    W_i  = |N_i|                         (n_neighbors, self counted)
    S_i  = sum_{j in N_i} y_j            (local_sum)
    ybar = mean(y)
    s    = sqrt(mean(y**2) - ybar**2)    (population standard deviation, ddof = 0)
    z_i  = (S_i - ybar * W_i) / (s * sqrt((n * W_i - W_i**2) / (n - 1)))

With binary weights sum_j w_ij**2 = W_i, which is why W_i appears twice in the denominator.
p_i is the two-sided normal p-value 2 * Phi(-|z_i|), which is what ArcGIS reports
(esda's `p_norm` is one-sided: ours = 2 * esda's).

Agreement with esda: `esda.G_Local(y, w, star=True, transform="B").Zs` computes
(S_i / sum(y) - W_i / n) / sqrt(W_i (n - W_i) / (n - 1) / n**2 * s**2 / ybar**2), which is the
same number as z_i above whenever ybar > 0 (always the case for counts that are not all zero);
the tests check the two to 1e-9. For ybar < 0 esda's ratio form flips the sign; we keep the
Ord & Getis form, whose sign always means "above / below the mean". s is computed in two passes,
sqrt(mean((y - ybar)**2)), which equals mean(y**2) - ybar**2 exactly in real arithmetic and is
the numerically safer way to evaluate it.

Edge cases (documented choices, not errors):
- n < 2, or all y equal (s = 0, e.g. all-zero counts): every z = 0 and every p = 1. The statistic
  is undefined there (ArcGIS refuses to run); "no evidence of clustering" is the safe reading.
- W_i = n (a unit whose neighbourhood is the whole study area): the variance is 0 and the
  numerator is 0 in exact arithmetic, so z_i = 0, p_i = 1.
- A unit with no neighbours other than itself (an island) gets W_i = 1 and a finite z.
- NaN or infinite y raise ValueError.

Multiple testing and bins
-------------------------
`fdr_bh` gives Benjamini & Hochberg (1995) adjusted p-values ("Controlling the false discovery
rate", JRSS B 57(1)). `gi_bin` maps (z, p) to Esri's Gi_Bin: +/-3 for 99 % confidence
(p < 0.01), +/-2 for 95 % (p < 0.05), +/-1 for 90 % (p < 0.10), else 0, sign from z. Esri's Hot
Spot Analysis applies these levels to the raw p-values, or, with "Apply False Discovery Rate
(FDR) Correction", to the FDR-corrected significance: a feature is significant at level alpha
when the BH step-up procedure at alpha rejects it, which is the same as its BH-adjusted p being
<= alpha. Pass `fdr_bh(p)` to get the FDR bins, or raw `p` for uncorrected bins.

Neighbourhoods
--------------
- `gi_star_grid` works on a regular grid of integer cell ids (ix, iy) with a set of (dx, dy)
  offsets, using dense shifted-array sums over the bounding box (no weights matrix).
  `grid_offsets` gives queen (3 x 3) or fixed-distance-band offsets.
- `gi_star_sparse` takes any neighbour structure as a scipy.sparse CSR pattern or a list of index
  arrays; builders: `h3_kring_neighbors`, `polygon_queen_neighbors`, `segment_touch_neighbors`,
  `distance_band_neighbors`.

Pure numpy / scipy / shapely / h3; no esda, libpysal or prefect here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from math import floor, isfinite

import numpy as np
import polars as pl
import scipy.sparse as sp
from scipy.special import ndtr

__all__ = [
    "GiStarResult",
    "grid_offsets",
    "gi_star_grid",
    "gi_star_sparse",
    "h3_kring_neighbors",
    "polygon_queen_neighbors",
    "segment_touch_neighbors",
    "distance_band_neighbors",
    "fdr_bh",
    "gi_bin",
]

# Runs of at least this many consecutive dx offsets in one dy row are summed with a row-wise prefix sum
# (2 array operations per run) instead of one shifted addition per offset.
_PREFIX_RUN = 4


@dataclass(frozen=True)
class GiStarResult:
    """Per-unit Gi* output, aligned with the input order.

    z            Gi* z-score (Ord & Getis 1995 standardized form; equals esda's G_Local(...).Zs).
    p            two-sided normal p-value, 2 * Phi(-|z|).
    n_neighbors  W_i, number of neighbours including the unit itself.
    local_sum    S_i, sum of y over the neighbourhood including the unit itself.
    n, mean, std the global n, mean(y) and population standard deviation of y.
    """

    z: np.ndarray
    p: np.ndarray
    n_neighbors: np.ndarray
    local_sum: np.ndarray
    n: int
    mean: float
    std: float

    def __getitem__(self, key: str) -> np.ndarray:
        return getattr(self, key)

    def as_dict(self) -> dict[str, np.ndarray]:
        return {"z": self.z, "p": self.p, "n_neighbors": self.n_neighbors, "local_sum": self.local_sum}

    def to_polars(self, fdr: bool = True) -> pl.DataFrame:
        """Columns z, p, n_neighbors, local_sum, then p_fdr (BH-adjusted p) and gi_bin.

        gi_bin uses p_fdr when `fdr` is true (ArcGIS "Apply FDR correction"), the raw p otherwise.
        """
        p_fdr = fdr_bh(self.p)
        return pl.DataFrame({
            "z": self.z,
            "p": self.p,
            "n_neighbors": self.n_neighbors,
            "local_sum": self.local_sum,
            "p_fdr": p_fdr,
            "gi_bin": gi_bin(self.z, p_fdr if fdr else self.p),
        })


# --------------------------------------------------------------------------------------------------------
# the statistic
# --------------------------------------------------------------------------------------------------------


def _as_values(y) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.size and not np.isfinite(y).all():
        raise ValueError("y contains NaN or infinite values")
    return y


def _gi_from_sums(local_sum: np.ndarray, n_neighbors: np.ndarray, y: np.ndarray) -> GiStarResult:
    """z and p from S_i, W_i and y (Ord & Getis 1995, eq. 3.2, binary weights with self)."""
    n = int(y.size)
    ybar = float(y.mean()) if n else 0.0
    z = np.zeros(n, dtype=np.float64)
    std = 0.0
    if n >= 2 and y.max() > y.min():
        d = y - ybar
        std = float(np.sqrt(np.mean(d * d)))
    if std > 0.0:
        w = n_neighbors.astype(np.float64)
        num = local_sum - ybar * w
        den = std * np.sqrt(np.maximum(n * w - w * w, 0.0) / (n - 1))
        ok = den > 0.0  # W_i = n gives a zero variance: z stays 0
        np.divide(num, den, out=z, where=ok)
    p = 2.0 * ndtr(-np.abs(z))
    return GiStarResult(z=z, p=p, n_neighbors=n_neighbors, local_sum=local_sum, n=n, mean=ybar, std=std)


# --------------------------------------------------------------------------------------------------------
# regular grids
# --------------------------------------------------------------------------------------------------------


def grid_offsets(cell_size_m: float, distance_m: float | None = None) -> np.ndarray:
    """(dx, dy) integer cell offsets of a neighbourhood, self (0, 0) included, shape (k, 2), int64.

    distance_m None: the queen neighbourhood, |dx| <= 1 and |dy| <= 1 (9 offsets).

    distance_m d: the fixed distance band between cell centres, every (dx, dy) with
    (dx * c)**2 + (dy * c)**2 <= d**2 for cell size c, i.e. dx**2 + dy**2 <= (d / c)**2, boundary
    included (as ArcGIS's and libpysal's distance bands: distance <= threshold). The test is made
    in exact rational arithmetic on the given numbers (fractions.Fraction of the two floats), so no
    float rounding decides a boundary case: with c = 500 and d = 1000, (2, 0) and (1, 1) are in and
    (2, 1) is out (13 offsets). d < c gives the cell alone.
    """
    if distance_m is None:
        g = np.arange(-1, 2)
        dx, dy = np.meshgrid(g, g, indexing="xy")
        return np.column_stack([dx.ravel(), dy.ravel()]).astype(np.int64)
    if not (isfinite(cell_size_m) and cell_size_m > 0):
        raise ValueError(f"cell_size_m must be a positive finite number, got {cell_size_m!r}")
    if not (isfinite(distance_m) and distance_m >= 0):
        raise ValueError(f"distance_m must be a non-negative finite number, got {distance_m!r}")
    c, d = Fraction(cell_size_m), Fraction(distance_m)
    r2 = (d / c) ** 2  # exact
    r = floor(d / c)
    out = []
    for dy in range(-r, r + 1):
        for dx in range(-r, r + 1):
            if dx * dx + dy * dy <= r2:
                out.append((dx, dy))
    return np.array(out, dtype=np.int64).reshape(-1, 2)


def _as_cell_ids(a, name: str) -> np.ndarray:
    a = np.asarray(a).ravel()
    if a.dtype.kind in "iu":
        return a.astype(np.int64, copy=False)
    if a.dtype.kind == "f" and (a.size == 0 or (np.isfinite(a).all() and (a == np.round(a)).all())):
        return a.astype(np.int64)
    raise ValueError(f"{name} must hold integer cell ids")


def _runs(offsets: np.ndarray) -> list[tuple[int, int, int]]:
    """Group offsets into (dy, dx_first, dx_last) runs of consecutive dx within one dy row."""
    runs: list[tuple[int, int, int]] = []
    for dy in np.unique(offsets[:, 1]):
        dxs = np.sort(offsets[offsets[:, 1] == dy, 0])
        start = prev = int(dxs[0])
        for dx in dxs[1:]:
            dx = int(dx)
            if dx != prev + 1:
                runs.append((int(dy), start, prev))
                start = dx
            prev = dx
        runs.append((int(dy), start, prev))
    return runs


def gi_star_grid(
    ix,
    iy,
    y,
    offsets: np.ndarray | None = None,
    *,
    max_dense_cells: int = 400_000_000,
) -> GiStarResult:
    """Gi* for units on a regular grid, given as integer cell ids (ix, iy) with values y.

    Pass every unit of the study area (zero counts included); the set need not be a full rectangle
    (a grid clipped to a city boundary is fine). The neighbours of unit (ix, iy) are the units
    present at (ix + dx, iy + dy) for (dx, dy) in `offsets` (default: queen, `grid_offsets(1)`);
    (0, 0) is always added, since Gi* includes the unit itself. Offsets may be asymmetric.

    Method: the units are written into a dense array over their bounding box (padded by the largest
    offset) with a presence mask; S_i and W_i are sums of shifted copies of the value array and of
    the mask. Runs of >= 4 consecutive dx in one dy row (large distance bands) use a row-wise
    prefix sum instead. No weights matrix is built. Sums are exact for integer-valued y (counts);
    otherwise prefix-summed runs carry rounding of order 1e-16 x the row total.

    Raises ValueError on duplicate cells, non-integer ids, NaN y, or when the padded bounding box
    exceeds `max_dense_cells` (scattered far-apart cells: use `gi_star_sparse` then).

    Returns a GiStarResult (z, p, n_neighbors, local_sum aligned with the input order).
    """
    ix = _as_cell_ids(ix, "ix")
    iy = _as_cell_ids(iy, "iy")
    yv = _as_values(y)
    n = yv.size
    if not (ix.size == iy.size == n):
        raise ValueError(f"ix, iy and y must have the same length ({ix.size}, {iy.size}, {n})")
    offs = grid_offsets(1.0) if offsets is None else np.asarray(offsets, dtype=np.int64).reshape(-1, 2)
    offs = np.unique(np.vstack([offs, np.zeros((1, 2), dtype=np.int64)]), axis=0)
    if n == 0:
        empty = np.zeros(0)
        return _gi_from_sums(empty, np.zeros(0, dtype=np.int32), yv)

    r = int(np.abs(offs).max())
    x0, y0 = int(ix.min()), int(iy.min())
    nx, ny = int(ix.max()) - x0 + 1, int(iy.max()) - y0 + 1
    px, py = nx + 2 * r, ny + 2 * r
    if px * py > max_dense_cells:
        raise ValueError(
            f"the grid's padded bounding box has {px * py:,} cells (> max_dense_cells={max_dense_cells:,}); "
            "use gi_star_sparse for scattered cells"
        )
    col = ix - x0
    row = iy - y0
    flat = row * nx + col  # index into the (ny, nx) output arrays

    vals = np.zeros((py, px), dtype=np.float64)
    mask = np.zeros((py, px), dtype=np.uint8)
    vals[row + r, col + r] = yv
    mask[row + r, col + r] = 1
    if int(np.count_nonzero(mask)) != n:
        raise ValueError("duplicate (ix, iy) cells: each unit must appear once")

    s_acc = np.zeros((ny, nx), dtype=np.float64)
    w_acc = np.zeros((ny, nx), dtype=np.int32)
    vals_cum = mask_cum = None
    for dy, a, b in _runs(offs):
        rs = slice(r + dy, r + dy + ny)
        if b - a + 1 >= _PREFIX_RUN:
            if vals_cum is None:
                vals_cum = np.zeros((py, px + 1), dtype=np.float64)
                np.cumsum(vals, axis=1, out=vals_cum[:, 1:])
                mask_cum = np.zeros((py, px + 1), dtype=np.int32)
                np.cumsum(mask, axis=1, dtype=np.int32, out=mask_cum[:, 1:])
            hi = slice(r + b + 1, r + b + 1 + nx)
            lo = slice(r + a, r + a + nx)
            s_acc += vals_cum[rs, hi]
            s_acc -= vals_cum[rs, lo]
            w_acc += mask_cum[rs, hi]
            w_acc -= mask_cum[rs, lo]
        else:
            for dx in range(a, b + 1):
                cs = slice(r + dx, r + dx + nx)
                s_acc += vals[rs, cs]
                w_acc += mask[rs, cs]
    local_sum = s_acc.ravel()[flat]
    n_neighbors = w_acc.ravel()[flat]
    return _gi_from_sums(local_sum, n_neighbors, yv)


# --------------------------------------------------------------------------------------------------------
# general neighbour structures
# --------------------------------------------------------------------------------------------------------


def _pattern_csr(rows: np.ndarray, cols: np.ndarray, n: int) -> sp.csr_array:
    """Binary n x n CSR pattern of (rows, cols) plus the diagonal; duplicates collapse to 1."""
    diag = np.arange(n, dtype=np.int64)
    rows = np.concatenate([np.asarray(rows, dtype=np.int64), diag])
    cols = np.concatenate([np.asarray(cols, dtype=np.int64), diag])
    m = sp.coo_array((np.ones(rows.size, dtype=np.float64), (rows, cols)), shape=(n, n)).tocsr()
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


def _neighbors_csr(neighbors, n: int) -> sp.csr_array:
    if sp.issparse(neighbors):
        m = sp.coo_array(neighbors)
        if m.shape != (n, n):
            raise ValueError(f"neighbour matrix has shape {m.shape}, expected {(n, n)}")
        keep = m.data != 0
        return _pattern_csr(m.row[keep], m.col[keep], n)
    if len(neighbors) != n:
        raise ValueError(f"neighbour list has {len(neighbors)} entries, expected {n}")
    lists = [np.asarray(nb, dtype=np.int64).ravel() for nb in neighbors]
    lengths = np.fromiter((a.size for a in lists), dtype=np.int64, count=n)
    cols = np.concatenate(lists) if n else np.zeros(0, dtype=np.int64)
    if cols.size and (cols.min() < 0 or cols.max() >= n):
        raise ValueError("neighbour index out of range")
    rows = np.repeat(np.arange(n, dtype=np.int64), lengths)
    return _pattern_csr(rows, cols, n)


def neighbor_pattern(neighbors, n: int) -> sp.csr_array:
    """The binary n x n pattern A that gi_star_sparse uses (self included, duplicates collapsed): made once for
    a unit set and passed with prepared=True to Gi* on many y."""
    return _neighbors_csr(neighbors, n)


def gi_star_sparse(y, neighbors, prepared: bool = False) -> GiStarResult:
    """Gi* for any neighbour structure (H3 hexes, polygons, street segments, distance bands).

    `neighbors` is either a scipy.sparse matrix/array (row i = neighbours of i; any stored non-zero
    counts as 1, the weights are binary) or a list of n index arrays. The unit itself is always a
    neighbour: it is added when missing, as esda's `star=True` does for binary weights. The pattern
    need not be symmetric. S = A @ y and W = row counts of the binary pattern A. prepared=True: `neighbors`
    is neighbor_pattern's A for these n units, used as it is.
    """
    yv = _as_values(y)
    if prepared:
        if neighbors.shape != (yv.size, yv.size):
            raise ValueError(f"neighbour pattern has shape {neighbors.shape}, expected {(yv.size, yv.size)}")
        a = neighbors
    else:
        a = _neighbors_csr(neighbors, yv.size)
    local_sum = a @ yv
    n_neighbors = np.diff(a.indptr).astype(np.int32)
    return _gi_from_sums(np.asarray(local_sum, dtype=np.float64), n_neighbors, yv)


def h3_kring_neighbors(cells: Sequence[str]) -> sp.csr_array:
    """Binary CSR of H3 k-ring-1 neighbours (`h3.grid_disk(cell, 1)`) restricted to `cells`, self
    included. Cells of the ring missing from the list are simply not neighbours. Duplicates raise."""
    import h3

    cells = list(cells)
    index = {c: i for i, c in enumerate(cells)}
    if len(index) != len(cells):
        raise ValueError("duplicate H3 cells")
    rows: list[int] = []
    cols: list[int] = []
    for i, c in enumerate(cells):
        for nb in h3.grid_disk(c, 1):
            j = index.get(nb)
            if j is not None:
                rows.append(i)
                cols.append(j)
    return _pattern_csr(np.array(rows, dtype=np.int64), np.array(cols, dtype=np.int64), len(cells))


def _geoms_array(geoms) -> np.ndarray:
    return np.asarray(list(geoms), dtype=object)


def polygon_queen_neighbors(geoms, tolerance: float = 0.0) -> sp.csr_array:
    """Binary CSR of queen contiguity between polygons: neighbours share at least one point
    (an edge or a corner), self included. Found with a shapely STRtree and the `intersects`
    predicate, so it is geometric (libpysal's Queen compares shared vertices instead); for a proper
    partition (no overlaps) intersects = touches. With tolerance > 0, polygons within that distance
    (`dwithin`) count too, which bridges digitizing slivers. Empty/None geometries get self only."""
    import shapely

    g = _geoms_array(geoms)
    tree = shapely.STRtree(g)
    if tolerance > 0:
        left, right = tree.query(g, predicate="dwithin", distance=tolerance)
    else:
        left, right = tree.query(g, predicate="intersects")
    return _pattern_csr(left, right, g.size)


def segment_touch_neighbors(lines, predicate: str = "touches") -> sp.csr_array:
    """Binary CSR of street segments that touch, self included (shapely STRtree).

    predicate "touches" (default): segments share an endpoint, or one ends on the other (a T
    junction not split at the node), but their interiors do not cross, so an overpass crossing
    another street without a shared node is not a neighbour. "intersects": any shared point,
    crossings included."""
    import shapely

    if predicate not in ("touches", "intersects"):
        raise ValueError("predicate must be 'touches' or 'intersects'")
    g = _geoms_array(lines)
    left, right = shapely.STRtree(g).query(g, predicate=predicate)
    return _pattern_csr(left, right, g.size)


def distance_band_neighbors(xy, threshold: float) -> sp.csr_array:
    """Binary CSR of points within `threshold` (Euclidean distance <= threshold), self included:
    the fixed distance band of ArcGIS and libpysal's DistanceBand(binary=True)."""
    from scipy.spatial import cKDTree

    pts = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    pairs = cKDTree(pts).query_pairs(float(threshold), output_type="ndarray")
    rows = np.concatenate([pairs[:, 0], pairs[:, 1]])
    cols = np.concatenate([pairs[:, 1], pairs[:, 0]])
    return _pattern_csr(rows, cols, pts.shape[0])


# --------------------------------------------------------------------------------------------------------
# multiple testing and Esri bins
# --------------------------------------------------------------------------------------------------------


def fdr_bh(p) -> np.ndarray:
    """Benjamini & Hochberg (1995) adjusted p-values: for the i-th smallest of m p-values,
    min over k >= i of p_(k) * m / k, capped at 1, returned in the input order. Monotone in p.
    BH at level alpha rejects exactly the tests whose adjusted p <= alpha. NaN raises."""
    p = np.asarray(p, dtype=np.float64)
    shape = p.shape
    p = p.ravel()
    m = p.size
    if m == 0:
        return p.reshape(shape)
    if np.isnan(p).any() or p.min() < 0 or p.max() > 1:
        raise ValueError("p-values must lie in [0, 1]")
    order = np.argsort(p, kind="stable")
    ranked = p[order] * (m / np.arange(1, m + 1, dtype=np.float64))
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m, dtype=np.float64)
    out[order] = np.minimum(ranked, 1.0)
    return out.reshape(shape)


def gi_bin(z, p) -> np.ndarray:
    """Esri's Gi_Bin confidence-level bin, int8 in -3..3.

    +/-3: p < 0.01 (99 % confidence); +/-2: p < 0.05 (95 %); +/-1: p < 0.10 (90 %); 0: not
    significant. The sign is the sign of z (hot spot +, cold spot -). Pass BH-adjusted p-values
    (`fdr_bh(p)`) for ArcGIS's "Apply False Discovery Rate (FDR) Correction" bins, raw p otherwise.
    """
    z = np.asarray(z, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    level = np.where(p < 0.01, 3, np.where(p < 0.05, 2, np.where(p < 0.10, 1, 0)))
    return (np.sign(z) * level).astype(np.int8)
