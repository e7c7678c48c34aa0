"""Gi* permutation benchmark: sara's conditional permutations against esda's G_Local(permutations=999) on one grid.

    .venv/bin/python bench/gi_star_permutations.py                   # 316 x 316 = 99,856 cells, 999 permutations
    .venv/bin/python bench/gi_star_permutations.py --cells 250000    # 500 x 500
    .venv/bin/python bench/gi_star_permutations.py --quick           # 60 x 60, CI smoke run: the checks only
    .venv/bin/python bench/gi_star_permutations.py --no-esda         # sara only (no ratio, no checks)

Data: a square grid of sparse Poisson(0.3) counts (seeded) with a few planted blocks of Poisson(2), the kind of
counts a 28-day window gives. Both sides get the same (ix, iy, y), in lat2W's id order (id = row * ncols + col),
and queen neighbours with the cell itself (Gi*).

- sara: gi_star_grid (S_i, W_i), then gi_star_permutation(y, S, W, 999, seed), from arrays to p_sim. Timed once
        cold (first call in the process: the compiled kernels load from numba's cache, or compile) and as the best
        of --repeat warm calls.
- esda: lat2W(side, side, rook=False), then G_Local(y, w, transform="B", star=True, permutations=999,
        keep_simulations=False, seed=...), which runs esda's numba conditional randomization on every core
        (n_jobs=-1). keep_simulations=False because sara keeps no simulations either (esda's default keeps an
        n x 999 array). Timed once: weights and G_Local apart.

Each side runs in its own spawned process, so its peak RSS (VmHWM) is its own. The two draw different random
tables, so p_sim is compared as a distribution, on the cells where fewer than half the permutations reach the
observation (there both count ties the same way; see transforms/stats/gi_permutation.py):
- significance at 0.05 must agree for >= 95 % of them;
- per group of cells with the same neighbourhood size and the same observed sum of the neighbours (they test the
  same thing, and each side answers all of them from one table of draws, so their p move together), the two
  sides' mean p must lie within 4 Monte Carlo standard errors, sqrt(2 p (1 - p) / P) + 2 / P, of each other.
  (A KS test over cells assumes independent cells, which the shared tables are not: it is printed, not judged.)
Exit 0 unless --strict and a check fails.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import time
from datetime import UTC, datetime

import numpy as np

AGREE_MIN = 0.95
GROUP_SIGMAS = 4.0


def make_grid(side: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ix, iy, y) for a side x side grid in row-major order: Poisson(0.3) with five planted Poisson(2) blocks."""
    rng = np.random.default_rng(seed)
    lam = np.full((side, side), 0.3)
    b = max(2, side // 40)
    for _ in range(5):
        r0, c0 = rng.integers(0, side - b, size=2)
        lam[r0:r0 + b, c0:c0 + b] = 2.0
    y = rng.poisson(lam).astype(np.float64).ravel()
    iy, ix = np.divmod(np.arange(side * side, dtype=np.int64), side)
    return ix, iy, y


def _peak_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def stage_sara(side: int, seed: int, perms: int, repeat: int) -> dict:
    from transforms.stats.gi_permutation import gi_star_permutation
    from transforms.stats.gi_star import gi_star_grid

    ix, iy, y = make_grid(side, seed)
    t, c = time.perf_counter(), _cpu()
    res = gi_star_grid(ix, iy, y)
    sim = gi_star_permutation(y, res.local_sum, res.n_neighbors, perms, seed=seed)
    cold, cold_cpu = time.perf_counter() - t, _cpu() - c
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        res = gi_star_grid(ix, iy, y)
        gi_star_permutation(y, res.local_sum, res.n_neighbors, perms, seed=seed)
        warm.append(time.perf_counter() - t)
    return {"cold": cold, "cold_cpu": cold_cpu, "warm_best": min(warm) if warm else cold,
            "rss_mb": _peak_mb(), "p_sim": sim.p_sim, "ge": sim.ge, "z": res.z,
            "others": res.local_sum - y, "k": res.n_neighbors - 1}


def stage_esda(side: int, seed: int, perms: int) -> dict:
    import warnings

    from esda import G_Local
    from libpysal.weights import lat2W

    ix, iy, y = make_grid(side, seed)
    t0, c0 = time.perf_counter(), _cpu()
    w = lat2W(side, side, rook=False)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = G_Local(y, w, transform="B", star=True, permutations=perms, keep_simulations=False, seed=seed)
    t2, c2 = time.perf_counter(), _cpu()
    return {"weights": t1 - t0, "g_local": t2 - t1, "total": t2 - t0, "cpu": c2 - c0, "rss_mb": _peak_mb(),
            "p_sim": np.asarray(g.p_sim, dtype=float), "z": np.asarray(g.Zs)}


def group_worst(others: np.ndarray, k: np.ndarray, a: np.ndarray, b: np.ndarray, perms: int) -> float:
    """The largest |mean p_a - mean p_b| over groups of cells with the same (k, observed sum of the others), in
    Monte Carlo standard errors of a difference of two independent estimates of the same p."""
    keys = np.round(others, 9) * 1000 + k
    worst = 0.0
    for key in np.unique(keys):
        m = keys == key
        pa, pb = float(a[m].mean()), float(b[m].mean())
        p = (pa + pb) / 2
        se = np.sqrt(2 * p * (1 - p) / perms) + 2 / perms
        worst = max(worst, abs(pa - pb) / se)
    return worst


def _run(fn, *args) -> dict:
    with mp.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


def _machine() -> str:
    mem = {}
    with open("/proc/meminfo") as fh:
        for line in fh:
            k, v = line.split(":")
            mem[k] = int(v.split()[0]) / 1024**2
    load = os.getloadavg()
    return (f"nproc {os.cpu_count()}, RAM {mem['MemTotal']:.1f} GB total / {mem['MemAvailable']:.1f} GB available, "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=100_000, help="grid cells; the side is round(sqrt(cells))")
    ap.add_argument("--perms", type=int, default=999)
    ap.add_argument("--quick", action="store_true", help="60 x 60 grid, the checks only")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--repeat", type=int, default=3, help="warm sara calls (the best is reported)")
    ap.add_argument("--no-esda", action="store_true", help="skip the esda reference")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a check fails")
    args = ap.parse_args(argv)
    side = 60 if args.quick else int(round(args.cells ** 0.5))
    n = side * side

    import esda
    import libpysal
    import numba

    print(f"date       {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    print(f"machine    {_machine()}")
    print(f"software   Python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
          f"esda {esda.__version__}, libpysal {libpysal.__version__}")
    print(f"grid       {side} x {side} = {n:,} cells, seed {args.seed}, queen (self included), "
          f"{args.perms} permutations\n", flush=True)

    s = _run(stage_sara, side, args.seed, args.perms, args.repeat)
    print(f"sara  gi_star_grid + gi_star_permutation  cold {s['cold']:.2f} s (cpu {s['cold_cpu']:.2f} s), "
          f"warm best {s['warm_best']:.2f} s over {args.repeat}; peak RSS {s['rss_mb']:,.0f} MB", flush=True)
    if args.no_esda:
        return 0
    print("\nesda  lat2W + G_Local(permutations) ...", flush=True)
    e = _run(stage_esda, side, args.seed, args.perms)
    print(f"esda  lat2W(rook=False) {e['weights']:.2f} s, G_Local {e['g_local']:.2f} s, total {e['total']:.2f} s "
          f"(cpu {e['cpu']:.2f} s); peak RSS {e['rss_mb']:,.0f} MB")
    print(f"\nratio esda / sara: {e['total'] / s['cold']:,.1f}x (sara cold), "
          f"{e['total'] / s['warm_best']:,.1f}x (sara warm best); "
          f"G_Local alone / sara cold: {e['g_local'] / s['cold']:,.1f}x")

    from scipy.stats import ks_2samp

    keep = s["ge"] <= args.perms / 2
    a, b = s["p_sim"][keep], e["p_sim"][keep]
    ks = ks_2samp(a, b)
    agree = float(np.mean((a <= 0.05) == (b <= 0.05)))
    print(f"cells where fewer than half the permutations reach the observation: {keep.sum():,}")
    print(f"  share p <= 0.05: sara {np.mean(a <= 0.05):.4f}, esda {np.mean(b <= 0.05):.4f}; "
          f"KS statistic {ks.statistic:.4f} (p {ks.pvalue:.3f}); agreement at 0.05 {agree:.4f}")
    worst = group_worst(s["others"][keep], s["k"][keep], a, b, args.perms)
    print(f"  groups (same k, same observed sum): worst mean-p difference {worst:.2f} Monte Carlo s.e.")
    print(f"  z: max |z_sara - z_esda| = {np.max(np.abs(s['z'] - e['z'])):.2e}\n")
    checks = [(f"agreement at 0.05 >= {AGREE_MIN:.0%}", agree >= AGREE_MIN),
              (f"every group within {GROUP_SIGMAS:g} s.e.", worst <= GROUP_SIGMAS),
              ("z agrees (< 1e-9)", float(np.max(np.abs(s["z"] - e["z"]))) < 1e-9)]
    for name, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    passed = all(ok for _, ok in checks)
    print("\nPASS" if passed else "\nFAIL")
    return 0 if passed or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
