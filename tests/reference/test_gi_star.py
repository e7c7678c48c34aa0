"""Getis–Ord Gi* (transforms/stats/gi_star.py) against outside references: esda/libpysal, scipy, hand counts."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.stats
import shapely
from shapely.geometry import LineString, box

from tests.support.project import need_shared
from transforms.stats.gi_star import (
    distance_band_neighbors,
    fdr_bh,
    gi_bin,
    gi_star_grid,
    gi_star_sparse,
    grid_offsets,
    h3_kring_neighbors,
    neighbor_pattern,
    polygon_queen_neighbors,
    segment_touch_neighbors,
)


def _esda_zs(y, w) -> np.ndarray:
    from esda import G_Local

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return G_Local(np.asarray(y, dtype=float), w, star=True, transform="B", permutations=0).Zs


def _rows(csr) -> list[set[int]]:
    return [set(csr.indices[csr.indptr[i]:csr.indptr[i + 1]].tolist()) for i in range(csr.shape[0])]


# ------------------------------------------------------------------------------------------------
# esda's own doctest case
# ------------------------------------------------------------------------------------------------

POINTS = [(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)]
Y_TOY = np.array([2, 3, 3.2, 5, 8, 7])


def test_esda_toy_distance_band():
    from libpysal.weights import DistanceBand

    res = gi_star_sparse(Y_TOY, distance_band_neighbors(POINTS, 15))
    assert res.z[0] == pytest.approx(-1.3972763, abs=1e-7)  # esda's G_Local doctest, star=True, 'B'
    w = DistanceBand(POINTS, 15, binary=True, silence_warnings=True)
    np.testing.assert_allclose(res.z, _esda_zs(Y_TOY, w), rtol=0, atol=1e-12)
    # two-sided p = 2 x esda's one-sided p_norm
    np.testing.assert_allclose(res.p, 2 * scipy.stats.norm.sf(np.abs(res.z)), rtol=1e-12)
    # the distance band found independently by libpysal, self added
    assert _rows(distance_band_neighbors(POINTS, 15)) == [
        set(w.neighbors[i]) | {i} for i in range(len(POINTS))
    ]


def test_sparse_accepts_lists_and_adds_self():
    nb_with_self = [[0, 1, 3], [0, 1, 3], [2, 4], [0, 1, 3, 4], [2, 3, 4, 5], [4, 5]]
    nb_without = [[j for j in row if j != i] for i, row in enumerate(nb_with_self)]
    nb_dups = [row + row for row in nb_without]
    a = gi_star_sparse(Y_TOY, nb_with_self)
    b = gi_star_sparse(Y_TOY, nb_without)
    c = gi_star_sparse(Y_TOY, nb_dups)
    d = gi_star_sparse(Y_TOY, neighbor_pattern(nb_dups, 6), prepared=True)  # made once, used for many y
    for r in (b, c, d):
        np.testing.assert_array_equal(r.z, a.z)
        np.testing.assert_array_equal(r.n_neighbors, a.n_neighbors)
    np.testing.assert_array_equal(a.n_neighbors, [3, 3, 2, 4, 4, 2])
    np.testing.assert_allclose(a.local_sum, [10, 10, 11.2, 18, 23.2, 15])
    with pytest.raises(ValueError, match="shape"):
        gi_star_sparse(Y_TOY[:5], neighbor_pattern(nb_dups, 6), prepared=True)
    # the formula by hand for unit 0: (S - ybar W) / (s sqrt((n W - W^2) / (n - 1)))
    n, ybar, s = 6, Y_TOY.mean(), Y_TOY.std()
    assert a.z[0] == pytest.approx((10 - 3 * ybar) / (s * np.sqrt((n * 3 - 9) / (n - 1))), abs=1e-14)


def test_negative_mean_keeps_ord_getis_sign():
    # esda's ratio form flips the sign when mean(y) < 0; the Ord & Getis form does not
    nb = distance_band_neighbors(POINTS, 15)
    np.testing.assert_allclose(gi_star_sparse(Y_TOY - 10, nb).z, gi_star_sparse(Y_TOY, nb).z, atol=1e-12)


# ------------------------------------------------------------------------------------------------
# edge cases
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("y", [np.zeros(9), np.full(9, 5.0), np.full(9, 0.1)])
def test_constant_values_give_zero_z(y):
    iy, ix = np.divmod(np.arange(9), 3)
    for res in (gi_star_grid(ix, iy, y), gi_star_sparse(y, [[i] for i in range(9)])):
        np.testing.assert_array_equal(res.z, 0.0)
        np.testing.assert_array_equal(res.p, 1.0)


def test_single_unit_and_empty():
    res = gi_star_grid([0], [0], [3.0])
    assert res.z.tolist() == [0.0] and res.p.tolist() == [1.0] and res.n_neighbors.tolist() == [1]
    assert gi_star_grid([], [], []).z.size == 0


def test_whole_area_neighbourhood_gives_zero():
    # 2 x 2 grid, queen: every unit's neighbourhood is the whole area (W_i = n, zero variance)
    res = gi_star_grid([0, 1, 0, 1], [0, 0, 1, 1], [1.0, 2.0, 3.0, 9.0])
    np.testing.assert_array_equal(res.n_neighbors, 4)
    np.testing.assert_array_equal(res.z, 0.0)


def test_bad_input():
    with pytest.raises(ValueError, match="duplicate"):
        gi_star_grid([0, 0], [1, 1], [1.0, 2.0])
    with pytest.raises(ValueError, match="NaN"):
        gi_star_grid([0, 1], [0, 0], [1.0, np.nan])
    with pytest.raises(ValueError, match="integer"):
        gi_star_grid([0.5, 1], [0, 0], [1.0, 2.0])
    with pytest.raises(ValueError, match="max_dense_cells"):
        gi_star_grid([0, 10**6], [0, 10**6], [1.0, 2.0])


# ------------------------------------------------------------------------------------------------
# grid offsets and a clipped grid counted by hand
# ------------------------------------------------------------------------------------------------


def test_grid_offsets():
    q = grid_offsets(500, None)
    assert sorted(map(tuple, q.tolist())) == [(dx, dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
    d = {tuple(o) for o in grid_offsets(500, 1000).tolist()}
    assert len(d) == 13 and (2, 0) in d and (0, -2) in d and (1, 1) in d and (2, 1) not in d
    # (1, 1) is at 500 * sqrt(2) = 707.1 m: out at 707, in at 708
    assert (1, 1) not in {tuple(o) for o in grid_offsets(500, 707).tolist()}
    assert (1, 1) in {tuple(o) for o in grid_offsets(500, 708).tolist()}
    assert grid_offsets(500, 499).tolist() == [[0, 0]]
    assert len(grid_offsets(100, 1000)) == 317  # lattice points in a disc of radius 10 (Gauss circle)
    with pytest.raises(ValueError):
        grid_offsets(0, 100)


def _ring_with_hole():
    # a 3 x 3 block without its centre, plus an island at (10, 10); ids shifted to negative values
    cells = [(x, y) for y in range(3) for x in range(3) if (x, y) != (1, 1)] + [(10, 10)]
    ix = np.array([c[0] for c in cells]) - 5
    iy = np.array([c[1] for c in cells]) - 7
    y = np.arange(1.0, len(cells) + 1)  # (0,0)=1 (1,0)=2 (2,0)=3 (0,1)=4 (2,1)=5 (0,2)=6 (1,2)=7 (2,2)=8 island=9
    return ix, iy, y


def test_clipped_grid_by_hand():
    ix, iy, y = _ring_with_hole()
    q = gi_star_grid(ix, iy, y)
    # corners see two edge cells + self; edge cells see two corners, two edge cells + self; the hole is absent
    np.testing.assert_array_equal(q.n_neighbors, [3, 5, 3, 5, 5, 3, 5, 3, 1])
    np.testing.assert_array_equal(q.local_sum, [1 + 2 + 4, 2 + 1 + 3 + 4 + 5, 3 + 2 + 5, 4 + 1 + 2 + 6 + 7,
                                                5 + 2 + 3 + 7 + 8, 6 + 4 + 7, 7 + 4 + 5 + 6 + 8, 8 + 5 + 7, 9])
    # distance band of 2 cells: corner (0,0) reaches (1,0) (2,0) (0,1) (0,2); (1,1) is the hole
    d = gi_star_grid(ix, iy, y, grid_offsets(1, 2))
    np.testing.assert_array_equal(d.n_neighbors, [5, 6, 5, 6, 6, 5, 6, 5, 1])
    assert d.local_sum[0] == 1 + 2 + 3 + 4 + 6
    assert d.local_sum[1] == 2 + 1 + 3 + 4 + 5 + 7
    # same answer through the general path
    for offs, res in ((None, q), (grid_offsets(1, 2), d)):
        xy = np.column_stack([ix, iy])
        radius = 1.5 if offs is None else 2.0  # queen = chessboard radius 1 = Euclidean <= 1.5 on a lattice
        sp_res = gi_star_sparse(y, distance_band_neighbors(xy, radius))
        np.testing.assert_array_equal(sp_res.n_neighbors, res.n_neighbors)
        np.testing.assert_allclose(sp_res.z, res.z, atol=1e-12)


def test_grid_large_band_matches_esda():
    """A random clipped grid and a 3.5-cell band (long dx runs: the prefix-sum path) against esda."""
    from libpysal.weights import DistanceBand

    rng = np.random.default_rng(7)
    iy, ix = np.divmod(np.arange(40 * 50), 50)
    keep = rng.random(ix.size) < 0.75
    ix, iy = ix[keep], iy[keep]
    y = rng.poisson(3, ix.size) * 1.0
    y[(ix > 30) & (iy < 10)] += 6
    res = gi_star_grid(ix, iy, y, grid_offsets(100, 350))
    w = DistanceBand(np.column_stack([ix, iy]) * 100.0 + 50.0, 350, binary=True, silence_warnings=True)
    np.testing.assert_allclose(res.z, _esda_zs(y, w), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(res.n_neighbors, np.asarray(w.sparse.sum(axis=1)).ravel() + 1)
    y2 = y + rng.random(y.size)  # non-integer values
    np.testing.assert_allclose(gi_star_grid(ix, iy, y2, grid_offsets(100, 350)).z, _esda_zs(y2, w), atol=1e-9)


# ------------------------------------------------------------------------------------------------
# Chicago aggravated assaults on a 500 m grid clipped to the police beats
# ------------------------------------------------------------------------------------------------

CELL = 500


@pytest.fixture(scope="module")
def chicago_grid():
    shared = need_shared()
    import geopandas as gpd
    import polars as pl
    from pyproj import Transformer

    df = pl.read_csv(shared / "chicago_aggravated_assaults_2010_2019.csv.gz", columns=["longitude", "latitude"])
    tr = Transformer.from_crs("EPSG:4326", "EPSG:26971", always_xy=True)
    x, y = tr.transform(df["longitude"].to_numpy(), df["latitude"].to_numpy())
    x0 = np.floor(x.min() / CELL) * CELL  # integer origin: centroids are exact in float
    y0 = np.floor(y.min() / CELL) * CELL
    cx = np.floor((x - x0) / CELL).astype(np.int64)
    cy = np.floor((y - y0) / CELL).astype(np.int64)
    nx, ny = int(cx.max()) + 1, int(cy.max()) + 1
    counts = np.bincount(cy * nx + cx, minlength=nx * ny).astype(float)
    gy, gx = np.divmod(np.arange(nx * ny), nx)
    beats = gpd.read_file(shared / "chicago_police_beats.gpkg").to_crs(26971).union_all()
    inside = shapely.contains_xy(beats, x0 + (gx + 0.5) * CELL, y0 + (gy + 0.5) * CELL)
    return {"nx": nx, "ny": ny, "gx": gx, "gy": gy, "counts": counts, "inside": inside, "x0": x0, "y0": y0}


@pytest.mark.shared
def test_chicago_full_rectangle_queen_vs_lat2w(chicago_grid):
    from libpysal.weights import lat2W

    g = chicago_grid
    res = gi_star_grid(g["gx"], g["gy"], g["counts"])  # lat2W ids are row * ncols + col
    w = lat2W(g["ny"], g["nx"], rook=False)
    np.testing.assert_allclose(res.z, _esda_zs(g["counts"], w), rtol=0, atol=1e-9)
    assert res.z.max() > 10  # the West and South Side clusters are strong


@pytest.mark.shared
def test_chicago_clipped_queen_vs_own_weights(chicago_grid):
    from libpysal.weights import W

    g = chicago_grid
    m = g["inside"]
    ix, iy, y = g["gx"][m], g["gy"][m], g["counts"][m]
    assert 2000 < ix.size < g["nx"] * g["ny"] and (y == 0).any()
    res = gi_star_grid(ix, iy, y)
    # the slow, obvious neighbour dict: look up all 8 surrounding cells of each cell
    where = {(int(a), int(b)): k for k, (a, b) in enumerate(zip(ix, iy, strict=True))}
    neighbors = {}
    for k, (a, b) in enumerate(zip(ix.tolist(), iy.tolist(), strict=True)):
        neighbors[k] = [where[(a + dx, b + dy)] for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                        if (dx, dy) != (0, 0) and (a + dx, b + dy) in where]
    w = W(neighbors, silence_warnings=True)
    np.testing.assert_allclose(res.z, _esda_zs(y, w), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(res.n_neighbors, [len(neighbors[k]) + 1 for k in range(ix.size)])
    np.testing.assert_array_equal(res.local_sum, [y[k] + y[neighbors[k]].sum() for k in range(ix.size)])


@pytest.mark.shared
def test_chicago_clipped_distance_1000m_vs_distance_band(chicago_grid):
    from libpysal.weights import DistanceBand

    g = chicago_grid
    m = g["inside"]
    ix, iy, y = g["gx"][m], g["gy"][m], g["counts"][m]
    res = gi_star_grid(ix, iy, y, grid_offsets(CELL, 1000))
    centroids = np.column_stack([g["x0"] + (ix + 0.5) * CELL, g["y0"] + (iy + 0.5) * CELL])
    w = DistanceBand(centroids, 1000, binary=True, silence_warnings=True)  # self excluded; esda's star adds it
    np.testing.assert_allclose(res.z, _esda_zs(y, w), rtol=0, atol=1e-9)
    np.testing.assert_array_equal(res.n_neighbors, np.asarray(w.sparse.sum(axis=1)).ravel() + 1)
    assert res.n_neighbors.max() == 13
    # bins are well formed and the hot spots are there after FDR
    bins = gi_bin(res.z, fdr_bh(res.p))
    assert (bins == 3).sum() > 50 and set(np.unique(bins).tolist()) <= set(range(-3, 4))
    out = res.to_polars()
    assert out.columns == ["z", "p", "n_neighbors", "local_sum", "p_fdr", "gi_bin"] and out.height == ix.size


# ------------------------------------------------------------------------------------------------
# FDR and Gi_Bin
# ------------------------------------------------------------------------------------------------


def test_fdr_bh_matches_scipy():
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.random(500) ** 3, [0.0, 1.0, 0.5, 0.5, 0.5, 1e-12]])
    rng.shuffle(p)
    adj = fdr_bh(p)
    np.testing.assert_allclose(adj, scipy.stats.false_discovery_control(p, method="bh"), rtol=1e-13, atol=0)
    assert adj.max() <= 1.0 and (adj >= p).all()
    order = np.argsort(p)
    assert (np.diff(adj[order]) >= 0).all()  # monotone in p
    assert fdr_bh(p.reshape(2, -1)).shape == (2, p.size // 2)
    assert fdr_bh(np.array([])).size == 0
    # by hand: m = 4, p = .01 .02 .03 .5 -> .04 .04 .04 .5
    np.testing.assert_allclose(fdr_bh([0.03, 0.01, 0.5, 0.02]), [0.04, 0.04, 0.5, 0.04])
    with pytest.raises(ValueError):
        fdr_bh([0.1, np.nan])


def test_gi_bin_thresholds():
    z = np.array([3.0, -3.0, 2.5, -2.0, 1.8, -1.7, 0.5, 5.0, -5.0, 0.0])
    p = np.array([0.005, 0.0099, 0.01, 0.049, 0.05, 0.0999, 0.1, 0.2, 0.0, 1.0])
    out = gi_bin(z, p)
    assert out.dtype == np.int8
    assert out.tolist() == [3, -3, 2, -2, 1, -1, 0, 0, -3, 0]


# ------------------------------------------------------------------------------------------------
# neighbour builders on tiny hand-made geometries
# ------------------------------------------------------------------------------------------------


def test_h3_kring_neighbors():
    import h3

    centre = h3.latlng_to_cell(41.8781, -87.6298, 9)
    ring = [c for c in h3.grid_disk(centre, 1) if c != centre]
    far = h3.latlng_to_cell(41.95, -87.75, 9)
    cells = [centre, *ring, far]
    rows = _rows(h3_kring_neighbors(cells))
    assert rows[0] == set(range(7))  # the centre touches its whole ring
    for i in range(1, 7):
        # each ring cell: itself, the centre and its two neighbours along the ring
        assert len(rows[i]) == 4 and {0, i} <= rows[i]
        assert rows[i] - {0, i} == {j for j in range(1, 7) if j != i and h3.are_neighbor_cells(cells[i], cells[j])}
    assert rows[7] == {7}
    # a ring cell missing from the set is simply not a neighbour
    assert _rows(h3_kring_neighbors([centre, far])) == [{0}, {1}]


def test_polygon_queen_neighbors():
    squares = [box(0, 0, 1, 1), box(1, 0, 2, 1), box(0, 1, 1, 2), box(1, 1, 2, 2),  # 2 x 2 block
               box(3, 0, 4, 1), box(4 + 1e-9, 0, 5, 1)]  # apart; a 1e-9 sliver between 4 and 5
    rows = _rows(polygon_queen_neighbors(squares))
    assert rows[:4] == [{0, 1, 2, 3}] * 4  # corners count (queen, not rook)
    assert rows[4:] == [{4}, {5}]
    assert _rows(polygon_queen_neighbors(squares, tolerance=1e-6))[4:] == [{4, 5}, {4, 5}]


def test_segment_touch_neighbors():
    lines = [LineString([(0, 0), (1, 0)]), LineString([(1, 0), (2, 0)]), LineString([(2, 0), (3, 0)]),
             LineString([(1.5, -1), (1.5, 1)]),  # crosses segment 1 mid-way: an overpass, no shared node
             LineString([(2.5, 0), (2.5, 1)])]  # ends on segment 2's interior: a T junction
    rows = _rows(segment_touch_neighbors(lines))
    assert rows == [{0, 1}, {0, 1, 2}, {1, 2, 4}, {3}, {2, 4}]
    rows = _rows(segment_touch_neighbors(lines, predicate="intersects"))
    assert rows == [{0, 1}, {0, 1, 2, 3}, {1, 2, 4}, {1, 3}, {2, 4}]
