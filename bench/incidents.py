"""A synthetic RMS extract for the benchmarks: one row per incident, at the places of bench/ingest.py's city.

Imported by bench/big_city.py (not a benchmark of its own). The source is `bench_incidents` (kind incidents,
agency bench, upsert on incident_number), written beside bench/ingest.py's project by `write_source`.
"""

from __future__ import annotations

from pathlib import Path

import ingest as bi
import numpy as np
import polars as pl

SOURCE = "bench_incidents"
TS_FMT = "%Y-%m-%d %H:%M:%S"
# NIBRS code, offence, category, crime against, severity rank (a subset of the demo's crosswalk)
OFFENSES = [
    ("09A", "Murder and Nonnegligent Manslaughter", "Homicide", "Person", 1),
    ("120", "Robbery", "Robbery", "Property", 3),
    ("13A", "Aggravated Assault", "Aggravated Assault", "Person", 4),
    ("220", "Burglary/Breaking and Entering", "Burglary", "Property", 5),
    ("23C", "Shoplifting", "Larceny", "Property", 6),
    ("23F", "Theft From Motor Vehicle", "Theft From Vehicle", "Property", 6),
    ("23H", "All Other Larceny", "Larceny", "Property", 6),
    ("240", "Motor Vehicle Theft", "Motor Vehicle Theft", "Property", 7),
    ("13B", "Simple Assault", "Simple Assault", "Person", 10),
    ("35A", "Drug/Narcotic Violations", "Drugs", "Society", 12),
    ("26A", "False Pretenses/Swindle/Confidence Game", "Fraud", "Property", 13),
    ("290", "Destruction/Damage/Vandalism of Property", "Vandalism", "Property", 14),
    ("90C", "Disorderly Conduct", "Disorder", "Society", 15),
    ("90J", "Trespass of Real Property", "Other Crime", "Society", 16),
]
STATUS = ["OPEN", "CLOSED", "CLEARED ARREST", "UNFOUNDED"]


def make_incidents(world: bi.World, seed: int, start: int, n: int, t0: int, days: int,
                   status_shift: int = 0) -> tuple[pl.DataFrame, int]:
    """Incidents start..start+n over `days` days from t0 (local wall time), at the city's blocks (most) or a
    one-off house number. status_shift moves each row's status on (a re-delivery). Returns the rows and
    how many have no usable time: 0.02 % have both times empty and are quarantined (a row with only its
    occurred time empty is kept: its event time is the reported time)."""
    rng = np.random.default_rng([seed, 11, start])
    occurred = t0 + rng.integers(0, days * 86400, n)
    reported = occurred + rng.exponential(3 * 3600, n).astype(np.int64)
    blk = rng.choice(world.n_blocks, n, p=world.block_p)
    slot = rng.integers(0, 10, n)
    one = rng.random(n) < 0.3
    num = np.where(one, 10_000 + (np.arange(start, start + n) * 7_368_787) % 20_000_000 // 200,
                   blk % 100 * 100 + world.house[blk, slot])
    bad = rng.random(n) < 0.0002
    df = pl.DataFrame({
        "incident_number": np.arange(start, start + n) + 9 * 10**9,
        "occurred": occurred, "reported": reported,
        "offense": pl.Series([o[0] for o in OFFENSES]).gather(rng.integers(0, len(OFFENSES), n)),
        "house": num, "street": world.streets.gather(blk // 100),
        "lon": world.block_ll[blk, 0] + slot * 1e-4, "lat": world.block_ll[blk, 1] + slot * 5e-5,
        "status": pl.Series(STATUS).gather((rng.integers(0, len(STATUS) - 1, n) + status_shift) % len(STATUS)),
        "bad": bad,
    })
    col = pl.col
    df = df.select(
        col("incident_number").cast(pl.Utf8),
        pl.when(~col("bad")).then(pl.from_epoch("occurred", time_unit="s").dt.strftime(TS_FMT)).alias("occurred"),
        pl.when(~col("bad")).then(pl.from_epoch("reported", time_unit="s").dt.strftime(TS_FMT)).alias("reported"),
        "offense", pl.format("{} {}", "house", "street").alias("address"), "lat", "lon", "status",
    )
    return df, int(bad.sum())


def write_incidents(path: Path, world: bi.World, seed: int, rows: int, t0: int, days: int,
                    first_index: int = 0) -> int:
    """The extract, chunk by chunk; returns the rows with an unusable occurred time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = 0
    with open(path, "wb") as fh:
        for s in range(0, rows, bi.CHUNK):
            df, b = make_incidents(world, seed, first_index + s, min(bi.CHUNK, rows - s), t0, days)
            df.write_csv(fh, include_header=s == 0, float_precision=6)
            bad += b
    return bad


def write_source(root: Path) -> None:
    """The source YAML and its offence crosswalk, and the source added to config/sara.toml's list."""
    cfg = root / "config"
    toml = cfg / "sara.toml"
    toml.write_text(toml.read_text().replace(f'sources = ["{bi.SOURCE}"]',
                                             f'sources = ["{bi.SOURCE}", "{SOURCE}"]', 1))
    (cfg / "sources" / f"{SOURCE}.yaml").write_text(f"""name: {SOURCE}
kind: incidents
agency: bench
description: synthetic RMS extract for bench/big_city.py
format: csv
file_pattern: "*.csv"
record_id: [incident_number]
update_mode: upsert
event_grain: record
timezone: America/Los_Angeles
timestamps:
  occurred_from: {{columns: [occurred], formats: ["{TS_FMT}"]}}
  reported_at: {{columns: [reported], formats: ["{TS_FMT}"]}}
columns:
  offense_code: offense
  address: address
coordinates: {{x: lon, y: lat, crs: EPSG:4326}}
void:
  column: status
  values: [UNFOUNDED]
crosswalks:
  offenses: config/crosswalks/bench_offenses.csv
polygons:
  district: {{path: config/districts.geojson, field: district}}
""")
    pl.DataFrame(OFFENSES, schema=["code", "offense", "offense_category", "crime_against", "severity_rank"],
                 orient="row").write_csv(cfg / "crosswalks" / "bench_offenses.csv")
