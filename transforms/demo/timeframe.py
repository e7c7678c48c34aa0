"""The demo's time frame: the generated days, the nightly run instants and local <-> UTC conversion.

Times are generated as local wall-clock times in America/Los_Angeles and kept as UTC epoch seconds.
"Naive" seconds are local wall-clock seconds counted as if the local clock were UTC.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import polars as pl

TZ = "America/Los_Angeles"
HISTORY_START = date(2024, 11, 1)
HISTORY_END = date(2026, 11, 15)  # last day in the night-1 backfill
FIRST_RUN = date(2026, 11, 16)  # night 1 run date (extracts stamped 02:00 local)
N_NIGHTS = 6
LAST_DAY = FIRST_RUN + timedelta(days=N_NIGHTS - 2)  # 2026-11-20: last day of new calls
LATE_STAMP = datetime(2026, 11, 18, 14, 0, 0)  # the late, stale metro CAD extract
N_DAYS = (LAST_DAY - HISTORY_START).days + 1  # number of generated days
DAY0_NAIVE_S = (HISTORY_START - date(1970, 1, 1)).days * 86400  # naive epoch s of day 0, 00:00 local

WEEKDAY_FACTOR = np.array([0.97, 0.95, 0.96, 0.98, 1.06, 1.08, 1.00])  # Mon..Sun


def rng_stream(seed: int, stream: int) -> np.random.Generator:
    """The random generator of one numbered stream: every part of the city draws from its own."""
    return np.random.default_rng([seed, stream])


def local_to_utc(naive: np.ndarray) -> np.ndarray:
    """Naive local epoch seconds -> UTC epoch seconds (DST gap times pushed one hour later,
    ambiguous fall-back times take the first occurrence)."""
    s = pl.from_epoch(pl.Series(np.asarray(naive, dtype=np.int64)), time_unit="s")
    z = s.dt.replace_time_zone(TZ, ambiguous="earliest", non_existent="null")
    if z.null_count():
        z = z.fill_null((s + timedelta(hours=1)).dt.replace_time_zone(TZ, ambiguous="earliest",
                                                                       non_existent="null"))
    return z.dt.epoch("s").to_numpy().astype(np.int64)


def utc_to_naive(utc: np.ndarray) -> np.ndarray:
    """UTC epoch seconds -> naive local epoch seconds."""
    s = pl.from_epoch(pl.Series(np.asarray(utc, dtype=np.int64)), time_unit="s")
    s = s.dt.replace_time_zone("UTC").dt.convert_time_zone(TZ).dt.replace_time_zone(None)
    return s.dt.epoch("s").to_numpy().astype(np.int64)


def day_date(day: int) -> date:
    """The local date of a day index (days counted from HISTORY_START)."""
    return HISTORY_START + timedelta(days=day)


def naive_epoch_s(d: date | datetime) -> int:
    """Naive local epoch seconds of a local date (its midnight) or a local datetime."""
    if isinstance(d, datetime):
        return int((d - datetime(1970, 1, 1)).total_seconds())
    return (d - date(1970, 1, 1)).days * 86400


class Clock:
    """Day grid, day weights (weekly rhythm, mild seasonality) and the nightly run instants.

    Days are counted from HISTORY_START (day 0). Nights are numbered 1..N_NIGHTS.
    """

    def __init__(self):
        d64 = np.datetime64(HISTORY_START.isoformat()) + np.arange(N_DAYS)
        weekday = (d64.astype(int) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        day_of_year = (d64 - d64.astype("datetime64[Y]")).astype(int)
        self.day_weight = WEEKDAY_FACTOR[weekday] * (1 + 0.08 * np.cos(2 * np.pi * (day_of_year - 200) / 365.25))
        self.day_weight /= self.day_weight.mean()
        # UTC instant of 02:00 local on every day (plus a few days of slack)
        self.utc_0200 = local_to_utc(DAY0_NAIVE_S + np.arange(N_DAYS + 8) * 86400 + 7200)
        self.day_end_utc = local_to_utc(DAY0_NAIVE_S + np.arange(N_DAYS + 8) * 86400 + 86399)
        # night -> day index of its run date, and the UTC instant of its 02:00 extract
        self.run_day = {k: (FIRST_RUN - HISTORY_START).days + k - 1 for k in range(1, N_NIGHTS + 1)}
        self.run_instant = {k: int(self.utc_0200[self.run_day[k]]) for k in self.run_day}
        self.late_instant = int(local_to_utc(np.array([naive_epoch_s(LATE_STAMP)]))[0])
        self.last_instant = int(self.day_end_utc[N_DAYS - 1])

    def day_of(self, d: date) -> int:
        return (d - HISTORY_START).days

    def poisson_days(self, rng, rate_per_day: float, lo: int = 0, hi: int = N_DAYS - 1) -> np.ndarray:
        """The day of each event of a Poisson process with the given mean daily rate (days lo..hi)."""
        counts = rng.poisson(rate_per_day * self.day_weight[lo:hi + 1])
        return np.repeat(np.arange(lo, hi + 1), counts)

    def fixed_days(self, rng, n: int, lo: int = 0, hi: int = N_DAYS - 1) -> np.ndarray:
        """The days of exactly n events spread by the day weights (days lo..hi), sorted."""
        w = self.day_weight[lo:hi + 1]
        return np.sort(rng.choice(np.arange(lo, hi + 1), size=n, p=w / w.sum()))

    @staticmethod
    def times(rng, days: np.ndarray, hour_profile: list) -> np.ndarray:
        """UTC epoch seconds of events on the given days, the local hour drawn from the profile."""
        hp = np.asarray(hour_profile, float)
        h = rng.choice(24, size=len(days), p=hp / hp.sum())
        return local_to_utc(DAY0_NAIVE_S + days * 86400 + h * 3600 + rng.integers(0, 3600, len(days)))
