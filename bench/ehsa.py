"""Emerging Hot Spot Analysis benchmark: transforms.ehsa on a synthetic weekly cube, against a naive baseline.

    .venv/bin/python bench/ehsa.py                          # 50,000 cells x 52 weekly steps
    .venv/bin/python bench/ehsa.py --cells 200000 --steps 104
    .venv/bin/python bench/ehsa.py --quick                  # CI smoke run: 3,000 cells x 20 steps

Both runs get the same cube (written once to a temporary .npz, not timed) and each runs in its own spawned
process, so each peak RSS (VmHWM) is its own. Timed: everything from the counts array to the classified cells
(space-time Gi* over all bins with neighbours in the k previous steps, BH-FDR over the cube, Mann-Kendall per
cell, classification, the polars frame).

- sara:     transforms.ehsa.emerging_hot_spots (one sparse product for all steps, vectorized MK and classes)
- baseline: the straightforward version: neighbour lists from a Python dict, a scipy.sparse weights matrix
            applied step by step in a loop, scipy.stats.false_discovery_control, then a per-cell Python loop
            for Mann-Kendall (np.sign of the pairwise differences, np.unique for ties, scipy.stats.norm) and
            for the classes (transforms.ehsa.classify_series, the reference classifier).

Correctness (always judged): the two z cubes agree to 1e-9, and every cell gets the same pattern and MK S.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def _cpu() -> float:
    return sum(os.times()[:2])


def _peak_mb() -> float:
    """Peak RSS of this process (VmHWM; ru_maxrss of a spawned child would include the parent's peak)."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- the cube -----------------------------------------------------------------------------------------------


def make_cube(n_cells: int, n_steps: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A disc-shaped (non-rectangular) study area of exactly n_cells grid cells and Poisson weekly counts:
    a smooth lognormal background plus persistent, emerging, fading and intermittent blocks."""
    rng = np.random.default_rng(seed)
    side = int(np.ceil(np.sqrt(n_cells * 4 / np.pi))) + 4
    gx, gy = np.meshgrid(np.arange(side), np.arange(side), indexing="ij")
    gx, gy = gx.ravel(), gy.ravel()
    c = (side - 1) / 2
    order = np.argsort((gx - c) ** 2 + (gy - c) ** 2 + rng.random(gx.size) * 1e-3, kind="stable")[:n_cells]
    order.sort()
    ix, iy = gx[order].astype(np.int64), gy[order].astype(np.int64)
    base = 0.25 * np.exp(rng.normal(0.0, 0.6, n_cells))  # events per cell-week
    lam = np.repeat(base[:, None], n_steps, axis=1)
    lam *= 1.0 + 0.15 * np.sin(2 * np.pi * np.arange(n_steps) / 52.0)[None, :]  # seasonality
    n_blocks = max(4, n_cells // 2500)
    centres = rng.choice(n_cells, n_blocks, replace=False)
    t = np.arange(n_steps)
    for b, ci in enumerate(centres):
        block = (np.abs(ix - ix[ci]) <= 2) & (np.abs(iy - iy[ci]) <= 2)
        kind = b % 4
        if kind == 0:  # persistent
            lam[block] += 2.0
        elif kind == 1:  # emerging: the last quarter
            lam[np.ix_(block, t >= n_steps * 3 // 4)] += 3.0
        elif kind == 2:  # fading
            lam[block] += 3.0 * np.linspace(1.0, 0.0, n_steps)[None, :]
        else:  # intermittent
            lam[np.ix_(block, rng.random(n_steps) < 0.3)] += 3.0
    return ix, iy, rng.poisson(lam).astype(np.int32)


# --- the two implementations, each in a fresh spawned process -----------------------------------------------


def stage_sara(path: str, k_time: int, alpha: float, breakdown: bool) -> dict:
    import polars as pl
    from scipy.special import ndtr

    from transforms.stats import ehsa

    d = np.load(path)
    ix, iy, counts = d["ix"], d["iy"], d["counts"]
    rss0 = _peak_mb()
    t, c = time.perf_counter(), _cpu()
    res = ehsa.emerging_hot_spots(ix, iy, counts, k_time=k_time, alpha=alpha)
    out = {"wall": time.perf_counter() - t, "cpu": _cpu() - c, "rss_mb": _peak_mb(), "rss0_mb": rss0}
    cells = res.cells
    out["pattern"] = cells["pattern"].to_numpy()
    out["mk_s"] = cells["trend_s"].to_numpy()
    out["counts"] = cells.group_by("pattern").agg(pl.len()).sort("len", descending=True).rows()
    if breakdown:  # the same steps once more, one by one (not part of the timed run above)
        steps: dict[str, float] = {}
        t = time.perf_counter()
        nbr = ehsa.neighbour_index(ix, iy)
        steps["neighbours"] = time.perf_counter() - t
        t = time.perf_counter()
        z = ehsa.space_time_gi_star(counts, nbr, k_time)
        steps["space-time Gi*"] = time.perf_counter() - t
        t = time.perf_counter()
        sig = ehsa._fdr_bh_significant(2.0 * ndtr(-np.abs(z)), alpha)
        steps["p + BH-FDR"] = time.perf_counter() - t
        t = time.perf_counter()
        mk = ehsa.mann_kendall(z, alpha)
        steps["Mann-Kendall"] = time.perf_counter() - t
        t = time.perf_counter()
        ehsa.classify_cells(sig & (z > 0), sig & (z < 0), mk.trend)
        steps["classify"] = time.perf_counter() - t
        out["steps"] = steps
        out["z"] = z
    return out


def stage_baseline(path: str, k_time: int, alpha: float) -> dict:
    from scipy import sparse, stats

    from transforms.stats.ehsa import MIN_STEPS, QUEEN, classify_series

    d = np.load(path)
    ix, iy, counts = d["ix"], d["iy"], d["counts"]
    rss0 = _peak_mb()
    t0, c0 = time.perf_counter(), _cpu()
    x = counts.astype(np.float64)
    n_cells, n_steps = x.shape
    # neighbour lists and the binary weights matrix (self included)
    where = {(int(a), int(b)): i for i, (a, b) in enumerate(zip(ix, iy, strict=True))}
    rows, cols = [], []
    for i, (a, b) in enumerate(zip(ix.tolist(), iy.tolist(), strict=True)):
        for dx, dy in QUEEN:
            j = where.get((a + dx, b + dy))
            if j is not None:
                rows.append(i)
                cols.append(j)
    w = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_cells, n_cells))
    w_row = np.asarray(w.sum(axis=1)).ravel()
    # space-time Gi*, one step at a time
    n = x.size
    ybar, s = x.mean(), x.std()
    spatial = np.empty_like(x)
    for t in range(n_steps):
        spatial[:, t] = w @ x[:, t]
    z = np.empty_like(x)
    for t in range(n_steps):
        lags = range(0, min(t, k_time) + 1)
        s_sum = sum(spatial[:, t - lag] for lag in lags)
        wt = w_row * len(lags)
        z[:, t] = (s_sum - ybar * wt) / (s * np.sqrt((n * wt - wt**2) / (n - 1)))
    p = 2 * stats.norm.sf(np.abs(z))
    p_fdr = stats.false_discovery_control(p.ravel()).reshape(p.shape)
    hot = (p_fdr < alpha) & (z > 0)
    cold = (p_fdr < alpha) & (z < 0)
    # Mann-Kendall and the classes, cell by cell
    iu = np.triu_indices(n_steps, 1)
    mk_s = np.empty(n_cells, dtype=np.int64)
    pattern = np.empty(n_cells, dtype=object)
    var0 = n_steps * (n_steps - 1) * (2 * n_steps + 5)
    for i in range(n_cells):
        zi = z[i]
        si = int(np.sign(zi[None, :] - zi[:, None])[iu].sum())
        _, tie = np.unique(zi, return_counts=True)
        var = (var0 - float((tie * (tie - 1) * (2 * tie + 5)).sum())) / 18.0
        zmk = 0.0 if var <= 0 or si == 0 else (si - np.sign(si)) / np.sqrt(var)
        pmk = 2 * stats.norm.sf(abs(zmk))
        trend = int(np.sign(si)) if pmk < alpha else 0
        mk_s[i] = si
        pattern[i] = classify_series(hot[i], cold[i], trend) if n_steps >= MIN_STEPS else None
    out = {"wall": time.perf_counter() - t0, "cpu": _cpu() - c0, "rss_mb": _peak_mb(), "rss0_mb": rss0}
    out.update(pattern=pattern, mk_s=mk_s, z=z)
    return out


def run_child(fn, *args):
    with mp.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


# --- main ---------------------------------------------------------------------------------------------------


def _machine() -> str:
    try:
        with open("/proc/meminfo") as fh:
            mem_gb = int(fh.readline().split()[1]) / 1024**2
    except OSError:
        mem_gb = float("nan")
    return (
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; nproc {os.cpu_count()}; RAM {mem_gb:.0f} GB; "
        f"load {os.getloadavg()[0]:.1f}; Python {platform.python_version()}, numpy {np.__version__}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, help="grid cells (default 50,000; 3,000 with --quick)")
    ap.add_argument("--steps", type=int, help="weekly time steps (default 52; 20 with --quick)")
    ap.add_argument("--k-time", type=int, default=1, help="previous steps in the neighbourhood (default 1)")
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--quick", action="store_true", help="CI smoke run: small cube, correctness only")
    ap.add_argument("--strict", action="store_true", help="exit 1 on FAIL")
    args = ap.parse_args(argv)
    n_cells = args.cells or (3_000 if args.quick else 50_000)
    n_steps = args.steps or (20 if args.quick else 52)

    print(_machine())
    root = Path(tempfile.mkdtemp(prefix="sara-bench-ehsa-"))
    try:
        t = time.perf_counter()
        ix, iy, counts = make_cube(n_cells, n_steps, args.seed)
        path = str(root / "cube.npz")
        np.savez(path, ix=ix, iy=iy, counts=counts)
        print(
            f"cube: {n_cells:,} cells x {n_steps} steps = {counts.size:,} bins, "
            f"{int(counts.sum()):,} events, "
            f"k_time {args.k_time}, alpha {args.alpha}; generated in {time.perf_counter() - t:.1f} s",
            flush=True,
        )
        sara = run_child(stage_sara, path, args.k_time, args.alpha, True)
        base = run_child(stage_baseline, path, args.k_time, args.alpha)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print(f"\n{'':10} {'baseline':>10} {'sara':>8} {'baseline/sara':>14}")
    for k in ("wall", "cpu"):
        # A small cube can finish inside the clock's resolution: no ratio then, not a crash.
        ratio = f"{base[k] / sara[k]:.1f}" if sara[k] > 0 else "n/a (sara under the clock)"
        print(f"{k + ' s':10} {base[k]:>10.2f} {sara[k]:>8.2f} {ratio:>14}")
    print(
        f"{'peak MB':10} {base['rss_mb']:>10,.0f} {sara['rss_mb']:>8,.0f}"
        f"   (each child before work: baseline {base['rss0_mb']:,.0f} MB, sara {sara['rss0_mb']:,.0f} MB)"
    )
    print(f"bins/s     {counts.size / base['wall']:>10,.0f} {counts.size / max(sara['wall'], 1e-9):>8,.0f}")
    print(
        "\nsara step by step (a second pass, not in the timed total): "
        + ", ".join(f"{k} {v:.2f} s" for k, v in sara["steps"].items())
    )
    print("\npatterns (sara):")
    for name, n in sara["counts"]:
        print(f"  {str(name):26} {n:>8,}")

    same_pattern = np.array_equal(sara["pattern"].astype(str), base["pattern"].astype(str))
    checks = {
        "z cubes agree (max |dz| <= 1e-9)": float(np.max(np.abs(sara["z"] - base["z"]))) <= 1e-9,
        "same pattern for every cell": same_pattern,
        "same Mann-Kendall S for every cell": np.array_equal(sara["mk_s"], base["mk_s"]),
        "some cells classified beyond 'No Pattern Detected'": len(sara["counts"]) > 1,
    }
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    passed = all(checks.values())
    print("\nPASS" if passed else "\nFAIL")
    return 0 if passed or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
