"""Knox test benchmark: every burglary in ../shared/data/chicago_burglary_2014_2017.csv (45,319 events).

    .venv/bin/python bench/knox.py                 # 99 permutations (target < 8 s end to end)
    .venv/bin/python bench/knox.py --perms 999     # 999 permutations (target < 30 s end to end)
    .venv/bin/python bench/knox.py --quick         # CI smoke run: 19 permutations, 1 baseline permutation

Manhattan distance, space edges 0, 0.1, 200, 400, 600 m, time edges 0, 7, 14, 21, 28 days, [a, b)
bands. "End to end" is reading the CSV (date format detection included), finding the close pairs and
running every permutation; the numba kernels are compiled or loaded from cache first and that time is
printed on its own line.

The baseline is a straightforward numpy implementation: the close pairs are precomputed the same way
(k-d tree), then each permutation shuffles the times and bins every pair with vectorized numpy
(abs, searchsorted, bincount). It is timed on a few permutations and extrapolated per permutation.
Both must give the same observed table.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import time
from datetime import date
from pathlib import Path

import numpy as np

from transforms.stats.knox import close_pairs, knox, parse_edges
from transforms.warehouse.events_csv import read_events_csv

ROOT = Path(__file__).resolve().parents[1]

DATA = ROOT.parent / "shared" / "data" / "chicago_burglary_2014_2017.csv"
SPACE = [0, 0.1, 200, 400, 600]
TIME = [0, 7, 14, 21, 28]
TARGET_S = {99: 8.0, 999: 30.0}


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _ram_gb() -> float:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        return float("nan")


def baseline(x, y, t, perms: int, seed: int, metric: str) -> tuple[np.ndarray, float, float, int]:
    """Plain numpy: close pairs once (the same k-d tree search), then per permutation vectorized
    binning of every close pair. Returns the observed close-band table, seconds for the pair search,
    seconds per permutation, and the number of close pairs."""
    se, te = parse_edges(SPACE), parse_edges(TIME)
    t0 = time.perf_counter()
    cp = close_pairs(x, y, se, "left", metric)
    i, j, sb = cp.i.astype(np.int64), cp.j.astype(np.int64), cp.band.astype(np.int64)
    t_pairs = time.perf_counter() - t0
    n_tb = te.size
    n_cells = (se.size - 1) * n_tb

    def table(times: np.ndarray) -> np.ndarray:
        tt = times[cp.order]  # pair indices are positions in the tree order
        d = np.abs(tt[i] - tt[j])
        tb = np.searchsorted(te, d, side="right") - 1
        return np.bincount(sb * n_tb + tb, minlength=n_cells).reshape(se.size - 1, n_tb)

    observed = table(t)
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    for _ in range(perms):
        table(t[rng.permutation(t.size)])
    return observed, t_pairs, (time.perf_counter() - t0) / max(perms, 1), len(cp)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--perms", type=int, default=99, help="permutations (99 and 999 have targets)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 19 permutations, 1 baseline permutation")
    ap.add_argument("--baseline-perms", type=int, default=5, help="permutations timed for the numpy baseline")
    ap.add_argument("--metric", choices=["manhattan", "euclidean"], default="manhattan")
    ap.add_argument("--seed", type=int, default=20160101)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args()
    perms = 19 if args.quick else args.perms
    base_perms = 1 if args.quick else args.baseline_perms
    if not DATA.is_file():
        print(f"SKIP: {DATA} is absent (it sits beside the checkout)")
        return 0

    from numba import get_num_threads

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"date {date.today()}  nproc {os.cpu_count()}  numba threads {get_num_threads()}  "
          f"RAM {_ram_gb():.1f} GB  load average {load:.2f}  python {platform.python_version()}  "
          f"{platform.machine()}")

    # compile (or load the cached) kernels on a tiny input, so end-to-end time is the work itself
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    knox(rng.random(50) * 1000, rng.random(50) * 1000, rng.integers(0, 60, 50).astype(float), SPACE, TIME,
         perms=2, metric=args.metric)
    print(f"kernels compiled or loaded from the numba cache: {time.perf_counter() - t0:.2f} s")

    t0 = time.perf_counter()
    ev = read_events_csv(DATA)
    t_read = time.perf_counter() - t0
    res = knox(ev.x, ev.y, ev.t, SPACE, TIME, perms=perms, seed=args.seed, metric=args.metric)
    total = time.perf_counter() - t0
    per_perm = res.seconds_permutations / max(perms, 1)
    print(f"events {res.n_events:,}  all pairs {res.n_pairs:,}  close pairs (< {SPACE[-1]} m, {args.metric}) "
          f"{res.n_close_pairs:,}")
    print(f"sara:     read {t_read:.2f} s + pairs {res.seconds_pairs:.2f} s + {perms} permutations "
          f"{res.seconds_permutations:.2f} s ({per_perm * 1000:.2f} ms each) = {total:.2f} s end to end")

    obs_b, pairs_b, per_perm_b, n_close_b = baseline(ev.x, ev.y, ev.t, base_perms, args.seed, args.metric)
    total_b = t_read + pairs_b + per_perm_b * perms
    print(f"baseline: read {t_read:.2f} s + pairs {pairs_b:.2f} s + {perms} permutations "
          f"{per_perm_b * perms:.2f} s ({per_perm_b * 1000:.1f} ms each, timed on {base_perms}, extrapolated) "
          f"= {total_b:.2f} s")
    obs = res.table["observed"].to_numpy().reshape(len(SPACE), len(TIME))[:-1]
    same = bool(np.array_equal(obs, obs_b)) and n_close_b == res.n_close_pairs
    print(f"speed-up: {per_perm_b / per_perm:.1f}x per permutation, {total_b / total:.1f}x end to end; "
          f"observed tables identical: {same}")
    print(f"peak RSS {_rss_mb():.0f} MB")
    print(res.table.select("space_lo", "space_hi", "time_lo", "time_hi", "observed", "expected_mean",
                           "knox_ratio", "p_value").head(len(TIME)))

    ok = same
    target = TARGET_S.get(perms)
    if target is not None:
        met = total < target
        ok = ok and met
        print(f"target {perms} permutations < {target:.0f} s end to end: {'PASS' if met else 'FAIL'} "
              f"({total:.2f} s)")
    return 0 if (ok or not args.strict) else 1


if __name__ == "__main__":
    raise SystemExit(main())
