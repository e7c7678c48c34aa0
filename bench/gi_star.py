"""Gi* benchmark: transforms.gi_star.gi_star_grid against esda.G_Local + libpysal lat2W on one grid.

    .venv/bin/python bench/gi_star.py                  # 1,000 x 1,000 = 1,000,000 cells (esda: ~1 min, ~4 GB)
    .venv/bin/python bench/gi_star.py --cells 250000   # 500 x 500
    .venv/bin/python bench/gi_star.py --quick          # 100 x 100, CI smoke run: correctness only
    .venv/bin/python bench/gi_star.py --no-esda        # sara only (no ratio, no z check)

Data: a square grid of Poisson(2) counts (seeded) with a few planted hot blocks (Poisson(6)).
Both sides get the same (ix, iy, y) arrays, in lat2W's id order (id = row * ncols + col).

- sara:  gi_star_grid(ix, iy, y) with queen offsets, neighbours included (from arrays to z, p).
         Timed once cold (first call in the process) and as the best of --repeat warm calls.
- esda:  lat2W(side, side, rook=False) then G_Local(y, w, transform="B", star=True, permutations=0);
         star=True puts self in each neighbourhood, as gi_star_grid does. Timed once.

Each side runs in its own spawned process, so each peak RSS (VmHWM) is its own. The z-scores of the
two sides are compared (max abs difference, must be < 1e-9). Exit code 0 unless --strict and a check fails.
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

TARGET_RATIO = 20.0
TARGET_SECONDS = 1.0
Z_TOL = 1e-9


def make_grid(side: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ix, iy, y) for a side x side grid in row-major order, Poisson counts with planted hot blocks."""
    rng = np.random.default_rng(seed)
    lam = np.full((side, side), 2.0)
    b = max(2, side // 50)  # block edge in cells: 20 at 1,000 x 1,000
    for _ in range(5):
        r0, c0 = rng.integers(0, side - b, size=2)
        lam[r0:r0 + b, c0:c0 + b] = 6.0
    y = rng.poisson(lam).astype(np.float64).ravel()
    iy, ix = np.divmod(np.arange(side * side, dtype=np.int64), side)
    return ix, iy, y


def _peak_mb() -> float:
    """VmHWM of this process in MB (ru_maxrss would carry the parent's peak across spawn)."""
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024


def _rss_mb() -> float:
    with open("/proc/self/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def stage_sara(side: int, seed: int, repeat: int) -> dict:
    from transforms.stats.gi_star import gi_star_grid, grid_offsets

    ix, iy, y = make_grid(side, seed)
    rss_data = _rss_mb()
    t, c = time.perf_counter(), _cpu()
    res = gi_star_grid(ix, iy, y)
    cold, cold_cpu = time.perf_counter() - t, _cpu() - c
    warm = []
    for _ in range(repeat):
        t = time.perf_counter()
        gi_star_grid(ix, iy, y)
        warm.append(time.perf_counter() - t)
    bands = {}
    for radius in (3, 10):  # fixed distance bands of 3 and 10 cells (29 and 317 offsets), for information
        offs = grid_offsets(1.0, float(radius))
        t = time.perf_counter()
        gi_star_grid(ix, iy, y, offs)
        bands[radius] = (len(offs), time.perf_counter() - t)
    return {"cold": cold, "cold_cpu": cold_cpu, "warm_best": min(warm), "warm_median": float(np.median(warm)),
            "bands": bands, "rss_data_mb": rss_data, "rss_mb": _peak_mb(), "z": res.z,
            "hot_cells": int((res.z > 2.576).sum())}


def stage_esda(side: int, seed: int) -> dict:
    import warnings

    from esda import G_Local
    from libpysal.weights import lat2W

    ix, iy, y = make_grid(side, seed)
    rss_data = _rss_mb()
    t0, c0 = time.perf_counter(), _cpu()
    w = lat2W(side, side, rook=False)
    t1 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        g = G_Local(y, w, transform="B", star=True, permutations=0)
    t2, c2 = time.perf_counter(), _cpu()
    return {"weights": t1 - t0, "g_local": t2 - t1, "total": t2 - t0, "cpu": c2 - c0,
            "rss_data_mb": rss_data, "rss_mb": _peak_mb(), "z": np.asarray(g.Zs)}


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
    ap.add_argument("--cells", type=int, default=1_000_000, help="grid cells; the side is round(sqrt(cells))")
    ap.add_argument("--quick", action="store_true", help="100 x 100 grid, correctness only")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--repeat", type=int, default=5, help="warm gi_star_grid calls (best and median reported)")
    ap.add_argument("--no-esda", action="store_true", help="skip the esda reference")
    ap.add_argument("--strict", action="store_true", help="exit 1 if a check fails")
    args = ap.parse_args(argv)
    side = 100 if args.quick else int(round(args.cells ** 0.5))
    n = side * side

    import esda
    import libpysal
    import scipy

    print(f"date       {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
    print(f"machine    {_machine()}")
    print(f"software   Python {platform.python_version()}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"esda {esda.__version__}, libpysal {libpysal.__version__}")
    print(f"grid       {side} x {side} = {n:,} cells, seed {args.seed}, queen neighbourhood (self included)\n",
          flush=True)

    s = _run(stage_sara, side, args.seed, args.repeat)
    print(f"sara  gi_star_grid        cold {s['cold']:.3f} s (cpu {s['cold_cpu']:.3f} s), "
          f"warm best {s['warm_best']:.3f} s, median {s['warm_median']:.3f} s over {args.repeat}")
    for radius, (k, secs) in s["bands"].items():
        print(f"      distance band {radius:>2} cells ({k} offsets): {secs:.3f} s")
    print(f"      peak RSS {s['rss_mb']:,.0f} MB (data alone {s['rss_data_mb']:,.0f} MB); "
          f"cells with z > 2.576: {s['hot_cells']:,}", flush=True)

    checks: list[tuple[str, bool, bool]] = []  # (name, ok, judged)
    full = not args.quick and n >= 1_000_000
    checks.append((f"sara cold < {TARGET_SECONDS:.0f} s ({n:,} cells; judged at >= 1M)", s["cold"] < TARGET_SECONDS, full))
    if not args.no_esda:
        print("\nesda  lat2W + G_Local ...", flush=True)
        e = _run(stage_esda, side, args.seed)
        print(f"esda  lat2W(rook=False)   {e['weights']:.2f} s")
        print(f"      G_Local(permutations=0) {e['g_local']:.2f} s")
        print(f"      total               {e['total']:.2f} s (cpu {e['cpu']:.2f} s)")
        print(f"      peak RSS {e['rss_mb']:,.0f} MB (data alone {e['rss_data_mb']:,.0f} MB)")
        diff = float(np.max(np.abs(s["z"] - e["z"])))
        ratio_cold, ratio_warm = e["total"] / s["cold"], e["total"] / s["warm_best"]
        print(f"\nratio esda / sara: {ratio_cold:,.0f}x (sara cold), {ratio_warm:,.0f}x (sara warm best)")
        print(f"max |z_sara - z_esda| = {diff:.3e}\n")
        checks.append((f"z agrees with esda (max abs diff < {Z_TOL:g})", diff < Z_TOL, True))
        checks.append((f"ratio >= {TARGET_RATIO:.0f}x (sara cold)", ratio_cold >= TARGET_RATIO, not args.quick))
    passed = True
    for name, ok, judged in checks:
        print(f"{'PASS' if ok else 'FAIL' if judged else 'info'}  {name}")
        passed &= ok or not judged
    print("\nPASS" if passed else "\nFAIL")
    return 0 if passed or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
