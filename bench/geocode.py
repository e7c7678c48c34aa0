"""Offline geocoding benchmark (issue 19): accuracy on real data against a naive baseline, the chain's hot-spot
agreement, and speed against the ingest of the same feed.

    .venv/bin/python bench/geocode.py            # real data + a 1,000,000-row synthetic feed
    .venv/bin/python bench/geocode.py --quick    # CI smoke run: real data + a 20,000-row feed

Measures (each against its baseline, in the same run):
1. New Haven (../shared/data/new_haven, incidents with a street address, a cross-street pair and a true
   point; TIGER centrelines): every incident from its cross streets alone (the pair read as an intersection,
   and the pair read as the two corners of the address's block); then the hidden half's addresses
   interpolated on ranges learned from the other half. Baseline: the centre of the named street.
2. San Francisco (../shared/data/sf_police_calls_2016_2020.csv, block addresses with points): a random 20 %
   of blocks hidden entirely, placed on ranges learned from the rest, with street lines learned from the
   located blocks themselves (no streets layer). Baseline: the median point of the street's located events.
3. The chain on feeds whose coordinates were all removed (New Haven; San Francisco 2020 with 2016-2019 as
   history): the share each method places, and Gi* bin-3 cells (150 m grid, queen, FDR, as marts.hotspots)
   found and false against the map from true coordinates, with and without the precision rule (an event
   enters a cell only when its precision is at most the cell size).
4. Speed: bench/ingest.py's synthetic CAD feed, ingested (raw load + normalize), then every distinct address
   of it geocoded, with the rows of a random half of the addresses as located history (its points are random
   per block, so only the time means something here). Target: geocoding <= the ingest's wall time.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from transforms.stats import gi_star as gi  # noqa: E402
from transforms.warehouse.geocode import StreetIndex, geocode, learn_ranges, parse_frame  # noqa: E402

SHARED = ROOT.parent / "shared" / "data"
NEW_HAVEN = SHARED / "new_haven"
SF = SHARED / "sf_police_calls_2016_2020.csv"
NH_CRS, SF_CRS = "EPSG:32618", "EPSG:26910"
CELL_M = 150.0  # transforms/config/settings.py AnalysisConfig.cell_size_m default
SEED = 20261206
NH_FLOOR = 0.85  # cross-street match floor judged here (measured 90 %)
EMPTY = pl.DataFrame(schema={"address": pl.Utf8, "x": pl.Float64, "y": pl.Float64})


def errors(out: pl.DataFrame, tx: np.ndarray, ty: np.ndarray, placed: np.ndarray | None = None) -> dict:
    """Match rate, median and 90th-percentile error (m), share within the stated precision."""
    x, y = out["x"].to_numpy().astype(float), out["y"].to_numpy().astype(float)
    ok = ~np.isnan(x) if placed is None else placed
    err = np.hypot(x[ok] - tx[ok], y[ok] - ty[ok])
    prec = out["geocode_precision_m"].to_numpy().astype(float)[ok] if "geocode_precision_m" in out.columns \
        else np.full(ok.sum(), np.nan)
    return {"n": len(x), "matched": int(ok.sum()), "rate": float(ok.mean()) if len(x) else 0.0,
            "median": float(np.median(err)) if len(err) else np.nan,
            "p90": float(np.percentile(err, 90)) if len(err) else np.nan,
            "within": float(np.mean(err <= prec)) if len(err) and not np.isnan(prec).all() else np.nan}


def line(name: str, r: dict) -> str:
    w = "" if np.isnan(r["within"]) else f"   within stated precision {r['within']:6.1%}"
    return (f"  {name:52} {r['matched']:>6,} / {r['n']:<6,} {r['rate']:6.1%}   median {r['median']:7.0f} m"
            f"   p90 {r['p90']:7.0f} m{w}")


def street_centre_baseline(streets: list, idx: StreetIndex | None, located: pl.DataFrame | None) -> pl.DataFrame:
    """The naive baseline: the named street's centre (layer) or the median point of its located events."""
    if idx is not None:
        todo = pl.DataFrame({"key": range(len(streets)), "address": streets})
        return geocode(todo, EMPTY, idx)
    med = (located.with_columns(street=parse_frame(located["address"])["street"]).group_by("street")
           .agg(pl.col("x").median(), pl.col("y").median()))
    return pl.DataFrame({"street": streets}).join(med, on="street", how="left", maintain_order="left").with_columns(
        geocode_precision_m=pl.lit(None, pl.Float64))


# --- 1. New Haven --------------------------------------------------------------------------------------------


def load_new_haven():
    import geopandas as gpd

    inc = gpd.read_file(NEW_HAVEN / "incidents_2014_09.shp")
    inc = inc.set_crs("EPSG:4326", allow_override=True).to_crs(NH_CRS)  # NOTE: no .prj; lon/lat (data README)
    streets = gpd.read_file(NEW_HAVEN / "streets.shp").to_crs(NH_CRS)
    idx = StreetIndex.from_frame(streets, "FULLNAME", source="streets: streets.shp")
    df = pl.DataFrame({"address": inc["street"].tolist(), "cross": inc["intersecti"].tolist(),
                       "tx": inc.geometry.x.to_numpy(), "ty": inc.geometry.y.to_numpy()}).with_row_index("key")
    return df, idx


def bench_new_haven(checks: dict) -> dict:
    df, idx = load_new_haven()
    tx, ty = df["tx"].to_numpy(), df["ty"].to_numpy()
    n = len(df)
    print(f"\n1. New Haven: {n:,} incidents, {len(idx.names):,} named streets (TIGER)")
    base = street_centre_baseline(parse_frame(df["address"])["street"].to_list(), idx, None)
    rb = errors(base, tx, ty)
    t = time.perf_counter()
    pair = geocode(df.select("key", address="cross"), EMPTY, idx)
    t_pair = time.perf_counter() - t
    corners = geocode(df.select("key", "address", cross_streets="cross"), EMPTY, idx)
    by_corner = corners["geocode_method"].to_numpy() == "intersection"
    r_pair, r_corner = errors(pair, tx, ty), errors(corners, tx, ty, by_corner)
    print("  cross streets alone (every incident):")
    print(line("the pair as an intersection (A meets B)", r_pair))
    print(line("the pair as the block's corners on the address's street", r_corner))
    print(line("baseline: centre of the address's street", rb))
    pair_status = pair.filter(pl.col("x").is_null())["geocode_status"].str.extract(r"^([a-z ]+)", 1).value_counts()
    print("  A meets B, not placed: " + ", ".join(f"{s} {c:,}" for s, c in pair_status.sort("count", descending=True)
                                                 .iter_rows()))
    print(f"  ({t_pair:.2f} s for {n:,} rows)")
    # hide a random half, learn ranges from the other half, interpolate the hidden half's addresses
    rng = np.random.default_rng(SEED)
    hidden = rng.random(n) < 0.5
    seen = df.filter(~pl.Series(hidden))
    located = seen.select("address", x="tx", y="ty")
    ranges = learn_ranges(located, idx)
    hid = df.filter(pl.Series(hidden))
    p = parse_frame(hid["address"])
    placed = ranges.place(p.select("kind", "number", "street")).rename(
        {"precision_m": "geocode_precision_m"})
    htx, hty = hid["tx"].to_numpy(), hid["ty"].to_numpy()
    r_int = errors(placed, htx, hty)
    chain = geocode(hid.select("key", "address"), located, idx)
    r_chain = errors(chain, htx, hty)
    chain_x = geocode(hid.select("key", "address", cross_streets="cross"), located, idx)
    r_chain_x = errors(chain_x, htx, hty)
    r_hb = errors(street_centre_baseline(p["street"].to_list(), idx, None), htx, hty)
    fits = sum(len(v) for v in ranges.fits.values())
    print(f"  hidden half: {hidden.sum():,} incidents; ranges learned on {len(ranges.fits):,} streets ({fits:,} "
          f"pieces) from {n - hidden.sum():,} located; odd side learned on "
          f"{sum(f.odd_side != 0 for v in ranges.fits.values() for f in v):,} pieces")
    print(line("interpolated on learned ranges", r_int))
    print(line("the whole chain (history first, then ranges...)", r_chain))
    print(line("the chain, cross streets given too", r_chain_x))
    print(line("baseline: centre of the address's street", r_hb))
    for name, out in (("chain methods", chain), ("with cross streets", chain_x)):
        print(f"  {name}: " + ", ".join(f"{m or 'not placed'} {c:,}" for m, c in
                                        out["geocode_method"].value_counts().sort("count", descending=True)
                                        .iter_rows()))
    checks[f"New Haven cross-street (corners) match rate >= {NH_FLOOR:.0%}"] = r_corner["rate"] >= NH_FLOOR
    checks["New Haven corners beat the street-centre baseline (median)"] = r_corner["median"] < rb["median"]
    checks["New Haven interpolation beats the street-centre baseline (median)"] = r_int["median"] < r_hb["median"]
    checks["New Haven: every todo row returned once"] = corners["key"].to_list() == df["key"].to_list()
    return {"df": df, "idx": idx, "corners": corners}


# --- 2. San Francisco ---------------------------------------------------------------------------------------


def load_sf() -> pl.DataFrame:
    from pyproj import Transformer

    df = pl.read_csv(SF, columns=["address", "lon", "lat", "call_date"], infer_schema_length=0)
    df = df.with_columns(pl.col("lon").cast(pl.Float64, strict=False), pl.col("lat").cast(pl.Float64, strict=False))
    df = df.filter(pl.col("lon").is_not_null() & pl.col("lat").is_not_null() & (pl.col("lon") != 0))
    x, y = Transformer.from_crs("EPSG:4326", SF_CRS, always_xy=True).transform(df["lon"].to_numpy(),
                                                                             df["lat"].to_numpy())
    return df.with_columns(tx=pl.Series(x), ty=pl.Series(y)).with_row_index("key")


def bench_sf(checks: dict) -> pl.DataFrame:
    df = load_sf()
    p = parse_frame(df["address"])
    df = df.with_columns(kind=p["kind"], key_text=p["key"], street=p["street"], number=p["number"])
    blocks = df.filter(pl.col("kind") == "block")["key_text"].unique().sort()
    rng = np.random.default_rng(SEED)
    hide = set(blocks.filter(pl.Series(rng.random(len(blocks)) < 0.2)).to_list())
    hidden = df["key_text"].is_in(list(hide)).to_numpy()
    print(f"\n2. San Francisco: {len(df):,} located calls, {len(blocks):,} distinct blocks "
          f"({(df['kind'] == 'block').mean():.0%} of calls); hidden: {len(hide):,} blocks, {hidden.sum():,} calls")
    located = df.filter(~pl.Series(hidden)).select("address", x="tx", y="ty")
    t = time.perf_counter()
    ranges = learn_ranges(located, None)
    t_learn = time.perf_counter() - t
    hid = df.filter(pl.Series(hidden))
    placed = ranges.place(hid.select("kind", "number", "street")).rename({"precision_m": "geocode_precision_m"})
    htx, hty = hid["tx"].to_numpy(), hid["ty"].to_numpy()
    r = errors(placed, htx, hty)
    rb = errors(street_centre_baseline(hid["street"].to_list(), None, located), htx, hty)
    print(f"  street lines learned from located blocks on {len(ranges.fits):,} streets ({t_learn:.2f} s)")
    print(line("hidden blocks on learned ranges", r))
    print(line("baseline: median point of the street's located calls", rb))
    why = placed.filter(pl.col("x").is_null())["status"].str.extract(r"^([a-z ]+)", 1).value_counts()
    print("  not placed: " + ", ".join(f"{s} {c:,}" for s, c in why.sort("count", descending=True).iter_rows()))
    checks["San Francisco hidden blocks beat the street-median baseline (median)"] = r["median"] < rb["median"]
    return df


# --- 3. the chain and Gi* -----------------------------------------------------------------------------------


def hot_cells(x: np.ndarray, y: np.ndarray, frame: tuple) -> set:
    """Gi* bin-3 cells (99 % after FDR, queen, self included) of points on a fixed grid over `frame`."""
    x0, y0, nx, ny = frame
    ix, iy = np.floor((x - x0) / CELL_M).astype(np.int64), np.floor((y - y0) / CELL_M).astype(np.int64)
    inside = (ix >= 0) & (ix < nx) & (iy >= 0) & (iy < ny)
    counts = np.bincount(ix[inside] * ny + iy[inside], minlength=nx * ny).astype(float)
    gx, gy = np.divmod(np.arange(nx * ny), ny)
    res = gi.gi_star_grid(gx, gy, counts, gi.grid_offsets(CELL_M))
    b = gi.gi_bin(res.z, gi.fdr_bh(res.p))
    return set(np.flatnonzero(b == 3).tolist())


def grid_frame(tx: np.ndarray, ty: np.ndarray) -> tuple:
    x0, y0 = np.floor(tx.min() / 1000) * 1000, np.floor(ty.min() / 1000) * 1000  # as marts/units.py: 1 km
    return x0, y0, int((tx.max() - x0) // CELL_M) + 1, int((ty.max() - y0) // CELL_M) + 1


def chain_report(name: str, out: pl.DataFrame, tx: np.ndarray, ty: np.ndarray, checks: dict) -> None:
    shares = out["geocode_method"].fill_null("not placed").value_counts(normalize=True).sort("proportion",
                                                                                             descending=True)
    print(f"  {name}: " + ", ".join(f"{m} {s:.1%}" for m, s in shares.iter_rows()))
    frame = grid_frame(tx, ty)
    true = hot_cells(tx, ty, frame)
    x, y = out["x"].to_numpy().astype(float), out["y"].to_numpy().astype(float)
    prec = out["geocode_precision_m"].to_numpy().astype(float)
    for rule, keep in (("every placed event", ~np.isnan(x)), (f"precision <= {CELL_M:.0f} m", prec <= CELL_M)):
        got = hot_cells(x[keep], y[keep], frame)
        found = len(true & got) / len(true) if true else np.nan
        false = len(got - true) / len(got) if got else 0.0
        print(f"    Gi* bin-3 cells ({rule}, {keep.mean():.0%} of events): true map {len(true):,}, geocoded "
              f"{len(got):,}: found {found:.0%}, false {false:.0%}")
    checks[f"{name}: every row returned"] = len(out) == len(tx)


def bench_chain(nh: dict | None, sf: pl.DataFrame | None, checks: dict) -> None:
    print("\n3. The chain on feeds with every coordinate removed")
    if nh is not None:
        df = nh["df"]
        chain_report("New Haven (streets + cross streets, no history)", nh["corners"], df["tx"].to_numpy(),
                     df["ty"].to_numpy(), checks)
    if sf is not None:
        # NOTE: the file's calls are mostly 2019 (2016: 3,767, 2018: 65, 2019: 20,933, 2020: 68), so "the last
        # year" is the 365 days up to its last call date, and the history is everything before them.
        day = sf["call_date"].str.to_date("%Y-%m-%d", strict=False)
        cut = day.max() - timedelta(days=365)
        last = (day > cut).fill_null(False).to_numpy()
        hist = sf.filter(~pl.Series(last)).select("address", x="tx", y="ty")
        feed = sf.filter(pl.Series(last))
        out = geocode(feed.select("key", "address"), hist, None)
        chain_report(f"San Francisco, the 365 days to {day.max()} ({len(feed):,} calls; {len(hist):,} earlier "
                     "located calls as history, no streets layer)", out, feed["tx"].to_numpy(), feed["ty"].to_numpy(), checks)


# --- 4. speed -----------------------------------------------------------------------------------------------


def bench_speed(rows: int, checks: dict, quick: bool) -> None:
    import ingest
    from pyproj import Transformer

    root = Path(tempfile.mkdtemp(prefix="sara-bench-geocode-"))
    try:
        world = ingest.World(SEED)
        ingest.write_project(root)
        csv = root / "landing" / ingest.SOURCE / "calls.csv"
        ingest.write_extract(csv, world, rows, SEED)
        norm = ingest.run_child(ingest.stage_normalize, str(root), str(csv), str(root / "sara.duckdb"), None)
        t, c = time.perf_counter(), ingest._cpu()
        feed = pl.read_csv(csv, columns=["address", "lat", "lon"], schema_overrides={"address": pl.Utf8,
                                                                                     "lat": pl.Float64, "lon": pl.Float64})
        distinct = (feed.group_by("address").agg(pl.col("lon").first(), pl.col("lat").first(), n=pl.len())
                    .sort("address"))  # a fixed order: the seeded half is the same every run
        x, y = Transformer.from_crs("EPSG:4326", "EPSG:26910", always_xy=True).transform(
            distinct["lon"].to_numpy(), distinct["lat"].to_numpy())
        distinct = distinct.with_columns(x=pl.Series(x), y=pl.Series(y)).with_row_index("key")
        rng = np.random.default_rng(SEED)
        hide = pl.Series(rng.random(len(distinct)) < 0.5)
        located = feed.join(distinct.filter(~hide).select("address", "x", "y"), on="address").select(
            "address", "x", "y").filter(pl.col("x").is_finite())
        out = geocode(distinct.select("key", "address"), located, None)  # every distinct address
        wall, cpu = time.perf_counter() - t, ingest._cpu() - c
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(f"\n4. Speed: {rows:,}-row synthetic CAD feed, {len(distinct):,} distinct addresses geocoded; history: the "
          f"{len(located):,} rows of a random half of them ({(~hide).sum():,} addresses)")
    print(f"  ingest (raw load + normalize, its own process): wall {norm['wall']:.2f} s, CPU {norm['cpu']:.2f} s")
    print(f"  geocode (read the feed, distinct addresses, learn, place): wall {wall:.2f} s, CPU {cpu:.2f} s "
          f"= {wall / norm['wall']:.2f} x the ingest")
    print("  methods: " + ", ".join(f"{m or 'not placed'} {k:,}" for m, k in
                                    out["geocode_method"].value_counts().sort("count", descending=True).iter_rows()))
    checks["speed feed: every todo row returned"] = len(out) == len(distinct)
    checks[("info " if quick else "") + "geocoding the distinct addresses <= the ingest (wall)"] = wall <= norm["wall"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI smoke run: 20,000 feed rows; speed reported only")
    ap.add_argument("--rows", type=int, help="rows of the synthetic feed (default 1,000,000; 20,000 with --quick)")
    ap.add_argument("--strict", action="store_true", help="exit 1 on FAIL")
    args = ap.parse_args(argv)
    rows = args.rows or (20_000 if args.quick else 1_000_000)
    checks: dict[str, bool] = {}
    nh = sf = None
    if NEW_HAVEN.is_dir():
        nh = bench_new_haven(checks)
    else:
        print(f"1. New Haven: skipped, {NEW_HAVEN} is absent")
    if SF.is_file():
        sf = bench_sf(checks)
    else:
        print(f"2. San Francisco: skipped, {SF} is absent")
    bench_chain(nh, sf, checks)
    bench_speed(rows, checks, args.quick)
    print()
    for name, ok in checks.items():
        label = "info" if name.startswith("info ") else "PASS" if ok else "FAIL"
        print(f"{label}  {name.removeprefix('info ')}{'' if not name.startswith('info ') else ': ' + str(ok)}")
    passed = all(ok for name, ok in checks.items() if not name.startswith("info "))
    print("\nPASS" if passed else "\nFAIL")
    return 0 if passed or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
