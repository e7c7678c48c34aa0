"""The six nights of extracts: night 1 the backfill, nights 2..6 the previous day's new records plus
updated versions of records from the days before, and on night 6 a late, stale metro CAD extract.
Also the delivery of a night's files into the landing folders."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np

from transforms.demo.city import STREAM_LATE_EXTRACT, DemoCity
from transforms.demo.timeframe import FIRST_RUN, LATE_STAMP, N_NIGHTS, rng_stream
from transforms.demo.writers import write_county_csv, write_metro_csv, write_rms_parquet


@dataclass
class DemoNight:
    night: int  # 1..N
    run_date: date  # the local date the nightly run happens (extracts are stamped 02:00 that day)
    files: list[tuple[str, Path]]  # (source name, path under out_dir/extracts/night_XX/<source>/)


class _Feed(NamedTuple):
    source: str  # the source name (folder)
    records: object  # Calls or Incidents: delivered_by(night), number, n
    renderer: object  # MetroCadFeed, Incidents or CountyCadFeed: frame(instant, selected)
    file_name: str
    write: Callable


def write_nights(city: DemoCity, out_dir: Path) -> tuple[list[DemoNight], list[dict], dict]:
    """Write every night's extracts under out_dir/extracts/night_NN/<source>/. Returns the nights, each
    night's manifest entry and the row/record counts of every file."""
    clock, metro_calls = city.clock, city.metro_calls
    nights: list[DemoNight] = []
    volumes: dict = {}
    night_entries: list = []
    first_night = {"demo_metro_calls": np.zeros(metro_calls.n, int),
                   "demo_county_calls": np.zeros(city.county_calls.n, int),
                   "demo_metro_incidents": np.zeros(city.incidents.n, int)}  # record -> night first delivered
    latest_update = np.full(metro_calls.n, -1, np.int64)  # metro call -> latest LastUpdated delivered
    for k in range(1, N_NIGHTS + 1):
        run = FIRST_RUN + timedelta(days=k - 1)
        instant = clock.run_instant[k]
        stamp = f"{run:%Y%m%d}T020000"
        base = out_dir / "extracts" / f"night_{k:02d}"
        files, entry = [], {"night": k, "run_date": run.isoformat(), "extract_time": f"{run}T02:00:00"}
        for feed in (
                _Feed("demo_metro_calls", metro_calls, city.metro_cad, f"metro_cad_{stamp}.csv", write_metro_csv),
                _Feed("demo_metro_incidents", city.incidents, city.incidents, f"metro_rms_{stamp}.parquet",
                      write_rms_parquet),
                _Feed("demo_county_calls", city.county_calls, city.county_cad, f"so_cad_{run:%Y%m%d}.csv",
                      write_county_csv)):
            selected = feed.records.delivered_by(k)
            df = feed.renderer.frame(instant, selected)
            path = base / feed.source / feed.file_name
            feed.write(df, path)
            files.append((feed.source, path))
            first = first_night[feed.source]
            new_ids = np.flatnonzero(selected & (first == 0))
            updated_ids = np.flatnonzero(selected & (first > 0))
            first[new_ids] = k
            volumes[f"night_{k:02d}/{feed.source}/{feed.file_name}"] = {"rows": df.height,
                                                                         "records": int(selected.sum())}
            file_entry = {"file": f"extracts/night_{k:02d}/{feed.source}/{feed.file_name}", "rows": df.height,
                          "new_records": len(new_ids), "updated_records": len(updated_ids)}
            if k > 1:
                numbers = feed.records.number
                file_entry["updated_by_first_night"] = {
                    str(f): numbers[updated_ids[first[updated_ids] == f]].tolist()
                    for f in sorted(set(first[updated_ids]))}
            entry[feed.source] = file_entry
            if feed.records is metro_calls:
                latest_update = np.where(selected, np.maximum(latest_update, metro_calls.last_updated(instant)),
                                         latest_update)
        if k == N_NIGHTS:
            files.append(_write_late_extract(city, base, k, first_night["demo_metro_calls"], latest_update,
                                             volumes, entry))
        files.sort(key=lambda f: (f[0], f[1].name))
        nights.append(DemoNight(night=k, run_date=run, files=files))
        night_entries.append(entry)
    return nights, night_entries, volumes


def _write_late_extract(city: DemoCity, base: Path, k: int, first_night: np.ndarray, latest_update: np.ndarray,
                        volumes: dict, entry: dict) -> tuple[str, Path]:
    """The late, stale metro CAD extract: calls in the versions of LATE_STAMP, older than versions
    already delivered (the pipeline must keep the newer ones)."""
    clock, calls = city.clock, city.metro_calls
    late_update = calls.last_updated(clock.late_instant)
    cand = np.flatnonzero((calls.raw.received <= clock.late_instant) & (latest_update > late_update)
                          & (first_night > 0) & (calls.day >= clock.run_day[1] - 4) & ~calls.corrected)
    stale = np.sort(rng_stream(city.seed, STREAM_LATE_EXTRACT).choice(cand, min(city.n_stale_calls, len(cand)),
                                                                      replace=False))
    selected = np.zeros(calls.n, bool)
    selected[stale] = True
    df = city.metro_cad.frame(clock.late_instant, selected)
    file_name = f"metro_cad_{LATE_STAMP:%Y%m%dT%H%M%S}.csv"
    path = base / "demo_metro_calls" / file_name
    write_metro_csv(df, path)
    volumes[f"night_{k:02d}/demo_metro_calls/{file_name}"] = {"rows": df.height, "records": len(stale)}
    entry["late_extract"] = {"file": f"extracts/night_{k:02d}/demo_metro_calls/{file_name}",
                             "stamp": LATE_STAMP.isoformat(), "rows": df.height,
                             "stale_calls": calls.number[stale].tolist(),
                             "note": "older versions (LastUpdatedDT earlier than already delivered): ignore"}
    return ("demo_metro_calls", path)


def deliver_night(demo_dir: Path, night: int) -> list[Path]:
    """Copy night N's generated extracts (extracts/night_NN/<source>/) into the demo's landing folders
    (landing/<source>/), as a night's delivery would arrive. Returns the files delivered."""
    out = []
    src_root = Path(demo_dir) / "extracts" / f"night_{night:02d}"
    for src_dir in sorted(p for p in src_root.iterdir() if p.is_dir()):
        dst = Path(demo_dir) / "landing" / src_dir.name
        dst.mkdir(parents=True, exist_ok=True)
        for f in sorted(src_dir.iterdir()):
            shutil.copy2(f, dst / f.name)
            out.append(dst / f.name)
    return out
