"""Ingest benchmark: synthetic CAD extract -> raw.<source> -> core.calls, against a plain DuckDB CSV load.

    .venv/bin/python bench/ingest.py                     # 1,000,000 rows
    .venv/bin/python bench/ingest.py --ten-million       # 10,000,000 rows
    .venv/bin/python bench/ingest.py --rows 20000 --quick  # CI smoke run: correctness only

Every stage runs in its own spawned process, so each one's peak RSS is its own. See bench/README.md.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

SOURCE = "bench_calls"
BBOX = (-122.53, 37.70, -122.35, 37.84)
TS_FMT = "%m/%d/%Y %I:%M:%S %p"
T0 = 1_672_531_200  # 2023-01-01 00:00:00, read as local wall time
DAYS = 730
CHUNK = 1_000_000
MAX_RATIO = 2.0
MAX_RSS_MB = 4096

# code, call_type, call_category, origin (40 codes)
CALL_TYPES = [
    ("ASLT", "Assault", "Violent Crime", "community"), ("ROB", "Robbery", "Violent Crime", "community"),
    ("SHOTS", "Shots Fired", "Violent Crime", "community"), ("SEXOFF", "Sex Offense", "Violent Crime", "community"),
    ("WEAP", "Person With Weapon", "Violent Crime", "community"), ("THREAT", "Threats", "Violent Crime", "community"),
    ("BURG", "Burglary", "Property Crime", "community"), ("THEFT", "Theft", "Property Crime", "community"),
    ("AUTOB", "Auto Burglary", "Property Crime", "community"),
    ("VEHTHEFT", "Stolen Vehicle", "Property Crime", "community"),
    ("VAND", "Vandalism", "Property Crime", "community"), ("FRAUD", "Fraud", "Property Crime", "community"),
    ("TRESP", "Trespass", "Other Crime", "community"), ("DRUG", "Drug Activity", "Other Crime", "community"),
    ("WARR", "Warrant Service", "Other Crime", "officer"), ("DV", "Domestic Violence", "Domestic Violence", "community"),
    ("TC", "Traffic Collision", "Traffic", "community"), ("TS", "Traffic Stop", "Traffic", "officer"),
    ("PARK", "Parking Complaint", "Traffic", "community"), ("DUI", "Drunk Driver", "Traffic", "community"),
    ("ALARM", "Alarm", "Alarms", "community"), ("SUSP", "Suspicious Person", "Suspicion", "community"),
    ("SUSPV", "Suspicious Vehicle", "Suspicion", "community"), ("MH", "Mental Health", "Behavioral Health", "community"),
    ("MED", "Medical", "Medical", "community"), ("WELF", "Welfare Check", "Assist Public", "community"),
    ("ASSIST", "Assist Citizen", "Assist Public", "community"), ("CIVIL", "Civil Matter", "Assist Public", "community"),
    ("MISSING", "Missing Person", "Assist Public", "community"), ("LOST", "Lost Property", "Assist Public", "community"),
    ("NOISE", "Noise Complaint", "Quality of Life", "community"), ("DIST", "Disturbance", "Quality of Life", "community"),
    ("ANIMAL", "Animal Complaint", "Quality of Life", "community"),
    ("HOMELESS", "Encampment", "Quality of Life", "community"), ("ADMIN", "Administrative", "Administrative", "officer"),
    ("PC", "Passing Call", "Proactive Policing", "officer"), ("FI", "Field Interview", "Proactive Policing", "officer"),
    ("PATROL", "Directed Patrol", "Proactive Policing", "officer"), ("FIRE", "Fire", "Fire", "community"),
    ("911HU", "911 Hang-up", "Other", "community"),
]
# code, disposition, disposition_category, countable, void (10 codes)
DISPOSITIONS = [
    ("ARR", "Arrest", "Arrest", "true", "false"), ("CIT", "Citation", "Citation", "true", "false"),
    ("RPT", "Report Taken", "Report", "true", "false"), ("ADV", "Advised", "Advised", "true", "false"),
    ("HAN", "Handled", "Handled", "true", "false"), ("GOA", "Gone on Arrival", "Gone on Arrival", "true", "false"),
    ("UTL", "Unable to Locate", "Unable to Locate", "true", "false"), ("UNF", "Unfounded", "Unfounded", "true", "false"),
    ("CAN", "Cancelled", "Cancelled", "false", "false"), ("DUP", "Duplicate", "Duplicate", "false", "false"),
]
STREET_WORDS = """MARKET MISSION VALENCIA GEARY FOLSOM HOWARD BRYANT HARRISON BRANNAN TOWNSEND KING BERRY
    STOCKTON POWELL MASON TAYLOR JONES LEAVENWORTH HYDE LARKIN POLK VAN_NESS FRANKLIN GOUGH OCTAVIA LAGUNA BUCHANAN
    WEBSTER FILLMORE STEINER PIERCE SCOTT DIVISADERO BRODERICK BAKER LYON CENTRAL MASONIC ASHBURY CLAYTON COLE
    STANYAN ARGUELLO FUNSTON FELL OAK PAGE HAIGHT WALLER DUBOCE HERMANN MCALLISTER FULTON GROVE HAYES TURK EDDY ELLIS
    OFARRELL POST SUTTER BUSH PINE CALIFORNIA SACRAMENTO CLAY WASHINGTON JACKSON PACIFIC BROADWAY VALLEJO GREEN UNION
    FILBERT GREENWICH LOMBARD CHESTNUT BAY NORTH_POINT BEACH JEFFERSON CHURCH SANCHEZ NOE CASTRO DIAMOND DOUGLASS
    HOFFMAN GUERRERO DOLORES SHOTWELL CAPP BARTLETT HARRIET RUSS MOSS NATOMA MINNA TEHAMA CLEMENTINA JESSIE STEVENSON
    ALEMANY SILVER CORTLAND PRECITA ARMY CESAR_CHAVEZ POTRERO DE_HARO CAROLINA WISCONSIN ARKANSAS CONNECTICUT
    MISSOURI TEXAS MISSISSIPPI PENNSYLVANIA ILLINOIS INDIANA TENNESSEE MINNESOTA SAN_BRUNO BAYSHORE KEITH LANE
    NEWCOMB OAKDALE PALOU QUESADA REVERE SHAFTER THORNTON GENEVA OCEAN MONTEREY JUDAH IRVING KIRKHAM LAWTON MORAGA
    NORIEGA ORTEGA PACHECO QUINTARA RIVERA SANTIAGO TARAVAL ULLOA VICENTE WAWONA SLOAT PORTOLA CLIPPER ALVARADO
    TWENTY_FOURTH EUREKA GRAND_VIEW CORBETT CRESTMONT PANORAMA""".split()
SUFFIXES = ["ST"] * 6 + ["AVE", "BLVD", "WAY", "DR", "TER", "PL"]
PREMISES = ["CIVIC CENTER BART", "POWELL ST BART", "16TH ST BART", "SAFEWAY", "WALGREENS", "CITY HALL",
            "UNION SQUARE", "DOLORES PARK", "GOLDEN GATE PARK", "SF GENERAL HOSPITAL", "MOSCONE CENTER",
            "FERRY BUILDING", "CHASE CENTER", "ORACLE PARK", "STONESTOWN GALLERIA", "PIER 39"]
FIRST = "JOHN MARIA JAMES LINDA DAVID SUSAN WEI MIGUEL ANH PRIYA KEVIN ROSA DANIEL GRACE OMAR EMILY".split()
LAST = "SMITH GARCIA NGUYEN CHEN LEE WONG JOHNSON LOPEZ BROWN KIM MARTINEZ DAVIS PATEL HERNANDEZ WU MILLER".split()
NARR_A = ["RP STATES", "RP REPORTS", "CALLER ADVISES", "ANON RP REPORTS", "ALARM CO ADVISES", "UNIT REQUESTS"]
NARR_B = ["SUBJ YELLING AT PASSERSBY", "MALE IN DARK HOODIE CHECKING CAR DOORS", "LOUD MUSIC FROM UNIT 3",
          "VEH BLOCKING DRIVEWAY, RED TOYOTA", "TWO SUBJS FIGHTING IN FRONT OF STORE", "FRONT DOOR FOUND OPEN",
          "ELDERLY FEMALE FELL, CONSCIOUS AND BREATHING", 'SUBJ SAID "I WILL COME BACK"', "GLASS SMASHED ON SEDAN",
          "ENCAMPMENT BLOCKING SIDEWALK", "PKG STOLEN FROM PORCH", "SUBJ SLEEPING IN DOORWAY"]
NARR_C = ["", "", "NO WEAPONS SEEN.", "GOA PRIOR.", "RP WILL MEET OFFICERS.", "SEE PRIOR CALL.", "ON CAMERA."]


def ordinal(n: int) -> str:
    return f"{n}{'TH' if 10 <= n % 100 <= 20 else {1: 'ST', 2: 'ND', 3: 'RD'}.get(n % 10, 'TH')}"


def zipf_p(n: int, a: float, rng: np.random.Generator) -> np.ndarray:
    """Skewed probabilities over n items, in a shuffled order (a few hot spots, a long tail)."""
    w = 1.0 / np.arange(1, n + 1) ** a
    return rng.permutation(w / w.sum())


class World:
    """The fixed city: streets, 20,000 blocks with 10 house numbers each, 3,000 intersections, weights.

    one_off: the share of calls sent to an address no other call has (a house number of its own on one of
    the 200 streets, from the call's index: unique up to 20M calls). 0 (the default, this script's own runs):
    every call goes to the 200,000 block addresses or the 3,000 intersections, as before. bench/big_city.py
    sets it so that about 40 % of calls are at an address with another call (a long tail of one-off places)."""

    def __init__(self, seed: int, one_off: float = 0.0):
        self.one_off = one_off
        rng = np.random.default_rng([seed, 0])
        words = [w.replace("_", " ") for w in STREET_WORDS]
        named = [f"{w} {SUFFIXES[i % len(SUFFIXES)]}" for i, w in enumerate(words)]
        numbered = [f"{ordinal(k)} {kind}" for kind in ("ST", "AVE") for k in range(1, 49)]
        self.streets = pl.Series((named + numbered)[:200])
        self.n_blocks = len(self.streets) * 100
        self.house = rng.integers(0, 100, (self.n_blocks, 10))
        x0, y0, x1, y1 = BBOX
        self.block_ll = np.column_stack([rng.uniform(x0 + 0.01, x1 - 0.01, self.n_blocks),
                                         rng.uniform(y0 + 0.01, y1 - 0.01, self.n_blocks)])
        self.block_p = zipf_p(self.n_blocks, 0.8, rng)
        a = rng.integers(0, len(self.streets), 3000)
        b = (a + rng.integers(1, len(self.streets), 3000)) % len(self.streets)
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        self.inter = (self.streets.gather(lo) + " / " + self.streets.gather(hi)).alias("x")
        self.inter_ll = np.column_stack([rng.uniform(x0 + 0.01, x1 - 0.01, 3000), rng.uniform(y0 + 0.01, y1 - 0.01, 3000)])
        self.type_p = zipf_p(len(CALL_TYPES), 0.9, rng)
        self.disp_p = zipf_p(len(DISPOSITIONS), 0.7, rng)


def make_chunk(world: World, seed: int, start: int, n: int) -> tuple[pl.DataFrame, int]:
    """Rows start..start+n of the extract (and how many of them have an unusable received time)."""
    rng = np.random.default_rng([seed, 1, start])
    hour_w = 1.0 - 0.6 * np.cos(2 * np.pi * (np.arange(24) - 4) / 24)  # quietest 04:00, busiest 16:00
    received = (T0 + rng.integers(0, DAYS, n) * 86400 + rng.choice(24, n, p=hour_w / hour_w.sum()) * 3600
                + rng.integers(0, 3600, n))
    prio = rng.choice(5, n, p=[0.08, 0.22, 0.35, 0.25, 0.10]) + 1
    entered = received + rng.gamma(2.0, 15.0, n).astype(np.int64)
    dispatched = entered + rng.exponential(np.array([45, 180, 600, 1500, 3000])[prio - 1]).astype(np.int64)
    onscene = dispatched + rng.exponential(420, n).astype(np.int64)
    cleared = onscene + rng.exponential(1800, n).astype(np.int64)
    u = rng.random(n)
    not_sent = u < 0.15
    dispatched[not_sent] = -1
    onscene[not_sent | (u > 0.92)] = -1
    cleared[rng.random(n) < 0.02] = -1

    # place: a house on a block (90%) or an intersection (10%), geocoded per address
    blk = rng.choice(world.n_blocks, n, p=world.block_p)
    slot = rng.integers(0, 10, n)
    inter = rng.random(n) < 0.10
    xi = rng.integers(0, len(world.inter), n)
    lon = np.where(inter, world.inter_ll[xi, 0], world.block_ll[blk, 0] + slot * 1e-4)
    lat = np.where(inter, world.inter_ll[xi, 1], world.block_ll[blk, 1] + slot * 5e-5)
    if world.one_off:  # drawn from their own generator: the rows above stay as they were
        orng = np.random.default_rng([seed, 2, start])
        one = orng.random(n) < world.one_off
        k = (np.arange(start, start + n, dtype=np.int64) * 7_368_787) % 20_000_000  # a bijection of 0..20M
        ostreet, onum = k % len(world.streets), 10_000 + k // len(world.streets)  # above any block's numbers
        blk = np.where(one, ostreet * 100 + onum // 1000 % 100, blk)  # a block of that street, for the point
        lon = np.where(one, world.block_ll[blk, 0] + onum % 1000 * 1e-6, lon)
        lat = np.where(one, world.block_ll[blk, 1] + onum % 997 * 1e-6, lat)
        inter &= ~one
    g = rng.random(n)
    lon[g < 0.005], lat[g < 0.005] = 0.0, 0.0  # (0, 0) placeholder
    nogeo = (g >= 0.005) & (g < 0.008)  # not geocoded: empty
    lon[nogeo] = lat[nogeo] = np.nan
    oak = (g >= 0.008) & (g < 0.010)  # geocoded across the bay: out of area
    lon[oak] += 0.25
    swap = (g >= 0.010) & (g < 0.0105)  # lat/lon swapped
    lon[swap], lat[swap] = lat[swap], lon[swap].copy()

    r = rng.random(n)
    bad_received = r < 0.0003
    df = pl.DataFrame({
        "call_number": (np.asarray([23, 24])[(received - T0 >= 365 * 86400).astype(int)] * 10**8
                        + np.arange(start, start + n)),
        "received": received, "entered": entered, "dispatched": dispatched, "onscene": onscene, "cleared": cleared,
        "call_type": pl.Series([c[0] for c in CALL_TYPES]).gather(rng.choice(len(CALL_TYPES), n, p=world.type_p)),
        "priority": prio,
        "disposition": pl.Series([d[0] for d in DISPOSITIONS]).gather(rng.choice(len(DISPOSITIONS), n, p=world.disp_p)),
        "house": (np.where(one, onum, blk % 100 * 100 + world.house[blk, slot]) if world.one_off
                  else blk % 100 * 100 + world.house[blk, slot]),
        "street": world.streets.gather(blk // 100),
        "inter": inter,
        "x": world.inter.gather(xi),
        "premise": pl.Series(PREMISES).gather(rng.integers(0, len(PREMISES), n)),
        "lat": lat, "lon": lon,
        "first": pl.Series(FIRST).gather(rng.integers(0, len(FIRST), n)),
        "last": pl.Series(LAST).gather(rng.integers(0, len(LAST), n)),
        "na": pl.Series(NARR_A).gather(rng.integers(0, len(NARR_A), n)),
        "nb": pl.Series(NARR_B).gather(rng.integers(0, len(NARR_B), n)),
        "nc": pl.Series(NARR_C).gather(rng.integers(0, len(NARR_C), n)),
        "r": r, "r2": rng.random(n),
    })

    def ts(c: str) -> pl.Expr:
        return pl.when(pl.col(c) >= 0).then(pl.from_epoch(c, time_unit="s").dt.strftime(TS_FMT)).alias(c)

    col = pl.col
    df = df.select(
        col("call_number").cast(pl.Utf8),
        pl.when(col("r") < 0.0002).then(None)  # empty received: quarantined
        .when(col("r") < 0.0003).then(pl.lit("00/00/0000 00:00:00 AM")).otherwise(ts("received")).alias("received"),
        ts("entered"), ts("dispatched"), ts("onscene"), ts("cleared"),
        "call_type",
        pl.when(col("r2") >= 0.01).then(col("priority").cast(pl.Utf8)).alias("priority"),
        pl.when(col("r2") >= 0.03).then(col("disposition")).alias("disposition"),
        pl.when(col("inter")).then(col("x")).otherwise(pl.format("{} {}", "house", "street")).alias("address"),
        pl.when(col("r2") > 0.95).then(col("premise")).alias("premise"),
        col("lat").fill_nan(None), col("lon").fill_nan(None),
        pl.when(col("r") > 0.45).then(pl.format("{}, {}", "last", "first")).alias("caller_name"),
        pl.when(col("r2") > 0.05).then(pl.concat_str("na", "nb", "nc", separator=" ").str.strip_chars())
        .alias("narrative"),
    )
    return df, int(bad_received.sum())


def write_project(root: Path) -> None:
    """config/sara.toml, the source YAML, two crosswalks and a four-district polygon layer."""
    import geopandas as gpd
    from shapely.geometry import box

    cfg = root / "config"
    (cfg / "sources").mkdir(parents=True)
    (cfg / "crosswalks").mkdir()
    (cfg / "sara.toml").write_text(f"""profile = "bench"
sources = ["{SOURCE}"]
allowed_roots = ["landing"]   # this throw-away project lands its files outside data/

[warehouse]
path = "warehouse/sara.duckdb"
landing_dir = "landing"

[agencies.bench]
name = "Bench City Police Department"
timezone = "America/Los_Angeles"
crs = "EPSG:26910"
bbox = {list(BBOX)}
""")
    times = "\n".join(f"  {canon}:\n    columns: [{col}]\n    formats: [\"{TS_FMT}\"]" for canon, col in [
        ("received_at", "received"), ("entered_at", "entered"), ("dispatched_at", "dispatched"),
        ("onscene_at", "onscene"), ("cleared_at", "cleared")])
    (cfg / "sources" / f"{SOURCE}.yaml").write_text(f"""name: {SOURCE}
kind: calls
agency: bench
description: synthetic CAD extract for bench/ingest.py
format: csv
file_pattern: "*.csv"
record_id: [call_number]
update_mode: upsert
event_grain: record
timezone: America/Los_Angeles
timestamps:
{times}
columns:
  call_type_code: call_type
  priority: priority
  disposition: disposition
  address: address
  premise: premise
coordinates:
  x: lon
  y: lat
  crs: EPSG:4326
crosswalks:
  call_types: config/crosswalks/bench_call_types.csv
  dispositions: config/crosswalks/bench_dispositions.csv
polygons:
  district:
    path: config/districts.geojson
    field: district
""")
    pl.DataFrame(CALL_TYPES, schema=["code", "call_type", "call_category", "origin"], orient="row").write_csv(
        cfg / "crosswalks" / "bench_call_types.csv")
    pl.DataFrame(DISPOSITIONS, schema=["code", "disposition", "disposition_category", "countable", "void"],
                 orient="row").write_csv(cfg / "crosswalks" / "bench_dispositions.csv")
    x0, y0, x1, y1 = BBOX
    xm, ym = (x0 + x1) / 2, (y0 + y1) / 2
    quads = {"NORTHWEST": (x0, ym, xm, y1), "NORTHEAST": (xm, ym, x1, y1),
             "SOUTHWEST": (x0, y0, xm, ym), "SOUTHEAST": (xm, y0, x1, ym)}
    gpd.GeoDataFrame({"district": list(quads)}, geometry=[box(*b) for b in quads.values()],
                     crs="EPSG:4326").to_file(cfg / "districts.geojson", driver="GeoJSON")


def write_extract(path: Path, world: World, rows: int, seed: int) -> int:
    """The CSV, written chunk by chunk. Returns the number of rows with an unusable received time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = 0
    with open(path, "wb") as fh:
        for start in range(0, rows, CHUNK):
            df, b = make_chunk(world, seed, start, min(CHUNK, rows - start))
            df.write_csv(fh, include_header=start == 0, float_precision=6)
            bad += b
    return bad


# --- stages, each run in a fresh spawned process -----------------------------------------------------------


def _cpu() -> float:
    """CPU seconds (user + system, all threads) of this process: steadier than wall time on a busy machine."""
    return sum(os.times()[:2])


def _peak_mb() -> float:
    """Peak RSS of this process in MB. On Linux, VmHWM: ru_maxrss of a spawned child also counts the
    parent's peak at fork time (the kernel carries it across fork+exec), so it would overstate a stage."""
    try:
        with open("/proc/self/status") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmHWM")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def stage_count(csv: str) -> dict:
    import duckdb

    con = duckdb.connect()
    t, c = time.perf_counter(), _cpu()
    n = con.execute("SELECT count(*) FROM read_csv(?, all_varchar = true)", [csv]).fetchone()[0]
    return {"wall": time.perf_counter() - t, "cpu": _cpu() - c, "rows": n, "rss_mb": _peak_mb()}


def stage_baseline(csv: str, db: str, memory_limit: str | None) -> dict:
    import duckdb

    con = duckdb.connect(db, config={"memory_limit": memory_limit} if memory_limit else {})
    t, c = time.perf_counter(), _cpu()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?, all_varchar = true)", [csv])
    out = {"wall": time.perf_counter() - t, "cpu": _cpu() - c, "rss_mb": _peak_mb()}
    out["rows"] = con.execute("SELECT count(*) FROM t").fetchone()[0]
    return out


class TimedConnection:
    """Wraps a DuckDB connection; logs wall and CPU time of every execute() and the peak RSS after it."""

    def __init__(self, con):
        self._con, self.log = con, []

    def execute(self, sql: str, params=None):
        t, c = time.perf_counter(), _cpu()
        out = self._con.execute(sql) if params is None else self._con.execute(sql, params)
        self.log.append((time.perf_counter() - t, _cpu() - c, _peak_mb(), " ".join(sql.split())))
        return out

    def __getattr__(self, name):
        return getattr(self._con, name)


def stage_normalize(project: str, csv: str, db: str, memory_limit: str | None) -> dict:
    import transforms.warehouse.enrich as nz
    from transforms.config import load_settings
    from transforms.warehouse import db as warehouse
    from transforms.warehouse import loader, versions

    root = Path(project)
    settings = load_settings(root / "config" / "sara.toml", root)
    con = warehouse.connect(db, memory_limit=memory_limit)
    warehouse.apply_schema(con)
    tcon = TimedConnection(con)
    py_steps: dict[str, tuple[float, float]] = {}  # step -> (wall s, CPU s), each timed whole
    # the two Python-side lookups, and the version history (core.call_versions), a step of normalize_load
    for mod, name in ((nz, "address_lookup"), (nz, "location_lookup"), (versions, "record")):

        def timed(*a, _f=getattr(mod, name), _n=name, **k):
            t, c = time.perf_counter(), _cpu()
            out = _f(*a, **k)
            py_steps[_n] = (time.perf_counter() - t, _cpu() - c)
            return out

        setattr(mod, name, timed)
    rss0 = _peak_mb()
    t0, c0 = time.perf_counter(), _cpu()
    raw = loader.load_raw_file(tcon, settings, SOURCE, Path(csv), "bench")
    t1, c1 = time.perf_counter(), _cpu()
    n_raw_sql = len(tcon.log)
    outs = loader.normalize_pending(tcon, settings, SOURCE, "bench")
    t2, c2 = time.perf_counter(), _cpu()
    out = {
        "wall": t2 - t0, "cpu": c2 - c0, "raw_wall": t1 - t0, "raw_cpu": c1 - c0,
        "rss_mb": _peak_mb(), "rss0_mb": rss0,
        "status": [raw.status] + [o.status for o in outs],
        "message": raw.message + "".join(o.message for o in outs),
        "raw_sql": tcon.log[:n_raw_sql], "sql": tcon.log[n_raw_sql:], "py_steps": py_steps,
    }  # fmt: skip
    out["loads"] = con.execute(
        "SELECT rows_read, rows_loaded, rows_duplicate, rows_quarantined, status FROM meta.loads"
    ).fetchall()
    out["core"], out["located"], out["district"], out["mapped"] = con.execute(
        """SELECT count(*), avg(is_located::INT), avg((district IS NOT NULL)::INT),
                  avg((call_category NOT IN ('Unmapped', 'Unknown'))::INT) FROM core.calls"""
    ).fetchone()
    out["quarantine"] = con.execute("SELECT count(*) FROM core.quarantine").fetchone()[0]
    return out


def run_child(fn, *args):
    with mp.get_context("spawn").Pool(1, maxtasksperchild=1) as pool:
        return pool.apply(fn, args)


# --- main ---------------------------------------------------------------------------------------------------


def report(rows: int, mb: float, n_bad: int, cnt: dict, base: dict, norm: dict, args) -> bool:
    """Print the figures and the checks. Returns True when everything that is judged passed."""
    ((read, loaded, dup, quar, status),) = norm["loads"]
    ratio = norm["wall"] / base["wall"]
    print(f"\nrows {rows:,}   file {mb:,.1f} MB   normalize {rows / norm['wall']:,.0f} rows/s")
    print(f"{'':10} {'count':>8} {'baseline':>9} {'normalize':>10} {'= raw':>7} {'+ norm':>7} {'ratio':>6}")
    for k in ("wall", "cpu"):
        print(f"{k + ' s':10} {cnt[k]:>8.2f} {base[k]:>9.2f} {norm[k]:>10.2f} {norm['raw_' + k]:>7.2f} "
              f"{norm[k] - norm['raw_' + k]:>7.2f} {norm[k] / base[k]:>6.2f}")
    print(f"{'peak MB':10} {cnt['rss_mb']:>8,.0f} {base['rss_mb']:>9,.0f} {norm['rss_mb']:>10,.0f}"
          f"   (normalize child before work: {norm['rss0_mb']:,.0f} MB)")
    print(f"meta.loads: read {read:,} = loaded {loaded:,} + duplicate {dup:,} + quarantined {quar:,}; located "
          f"{norm['located']:.1%}, district tagged {norm['district']:.1%}, call type mapped {norm['mapped']:.1%}")
    if "record" in norm["py_steps"]:  # information only: the target is judged on the whole normalize
        hw, hc = norm["py_steps"]["record"]
        print(f"of which the version history (core.call_versions): {hw:.2f} s wall, {hc:.2f} s CPU; without it the "
              f"ratio would be {(norm['wall'] - hw) / base['wall']:.2f} wall / {(norm['cpu'] - hc) / base['cpu']:.2f} CPU")
    if norm["message"]:
        print(f"message: {norm['message']}")
    if args.profile:
        for title, log in (("raw load", norm["raw_sql"]), ("normalize_pending", norm["sql"])):
            print(f"\nslowest statements, {title}:   wall s   cpu s   peak MB")
            for wall, cpu, peak, sql in sorted(log, reverse=True)[: 4 if title == "raw load" else 12]:
                print(f"  {sql[:70]:70} {wall:7.2f} {cpu:7.2f} {peak:9,.0f}")
        for name, (wall, cpu) in norm["py_steps"].items():
            label = "[version history: versions.record, all its SQL]" if name == "record" else f"[{name}: Python + its SQL]"
            print(f"  {label:70} {wall:7.2f} {cpu:7.2f}")

    checks = {
        "file read fully (count(*) == rows)": cnt["rows"] == rows and base["rows"] == rows,
        "load status loaded": norm["status"] == ["raw", "loaded"] and status == "loaded",
        "rows_read == rows": read == rows,
        "rows_read == loaded + duplicate + quarantined": read == loaded + dup + quar,
        f"quarantined == {n_bad} bad received times": quar == n_bad == norm["quarantine"],
        "core.calls == rows - quarantined": norm["core"] == rows - quar == loaded,
    }
    targets = {
        f"ratio normalize/baseline (wall) <= {MAX_RATIO}": ratio <= MAX_RATIO,
        f"normalize peak RSS < {MAX_RSS_MB} MB": norm["rss_mb"] < MAX_RSS_MB,
    }
    return verdict(checks, targets, args.quick)


def verdict(checks: dict[str, bool], targets: dict[str, bool], quick: bool) -> bool:
    """Print each correctness check and each target PASS/FAIL (a target is only `info` in a --quick run, whose
    sizes are too small to judge it) and the overall verdict; return it."""
    print()
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    for name, ok in targets.items():
        print(f"{'PASS' if ok else 'info' if quick else 'FAIL'}  {name}")
    passed = all(checks.values()) and (quick or all(targets.values()))
    print("\nPASS" if passed else "\nFAIL")
    return passed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, help="rows to generate (default 1,000,000; 20,000 with --quick)")
    ap.add_argument("--ten-million", action="store_true", help="10,000,000 rows")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: judge correctness, report the targets")
    ap.add_argument("--keep", action="store_true", help="keep the temporary project folder")
    ap.add_argument("--strict", action="store_true", help="exit 1 on FAIL")
    ap.add_argument("--profile", action="store_true", help="list the slowest SQL statements")
    ap.add_argument("--memory-limit", help="DuckDB memory_limit for both loads, e.g. 3GB (default: DuckDB's)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    rows = 10_000_000 if args.ten_million else args.rows or (20_000 if args.quick else 1_000_000)

    root = Path(tempfile.mkdtemp(prefix="sara-bench-"))
    try:
        t = time.perf_counter()
        world = World(args.seed)
        write_project(root)
        csv = root / "landing" / SOURCE / "calls.csv"
        n_bad = write_extract(csv, world, rows, args.seed)
        size = csv.stat().st_size
        print(f"generated {rows:,} rows, {size / 1e6:,.1f} MB ({size / rows:.0f} B/row) "
              f"in {time.perf_counter() - t:.1f} s", flush=True)
        cnt = run_child(stage_count, str(csv))
        base = run_child(stage_baseline, str(csv), str(root / "baseline.duckdb"), args.memory_limit)
        norm = run_child(stage_normalize, str(root), str(csv), str(root / "sara.duckdb"), args.memory_limit)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    passed = report(rows, size / 1e6, n_bad, cnt, base, norm, args)
    return 0 if passed or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
