"""Metro RMS incidents: reports written from CAD calls closed RPT/ARR plus online/front-counter reports,
their occurrence windows, offences (NIBRS), status life cycle, and the Parquet frame of a night."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
from pyproj import Transformer

from transforms.demo.codes import (
    CALL_TYPE_CODES,
    CALL_TYPES,
    OFFENSES,
    ONLINE_MIX,
    SECONDARY_OFFENSES,
    SOCIETY_OFFENSES,
    WINDOW_OFFENSES,
)
from transforms.demo.geography import Geography, to_lonlat
from transforms.demo.patterns import HOUR_DAYTIME, METRO_ONLINE_REPORTS_PER_DAY
from transforms.demo.text import fixed_decimal_expr, local_time_expr, people, sequence_numbers, take
from transforms.demo.timeframe import DAY0_NAIVE_S, N_NIGHTS, Clock, utc_to_naive
from transforms.demo.writers import RMS_COLUMNS, RMS_FMT, MetroCadFeed

STATUSES = ["CLOSED", "UNFOUNDED", "ACTIVE", "DELETED"]
CLOSED, UNFOUNDED, ACTIVE, DELETED = range(4)  # indexes into STATUSES


class Incidents:
    """Incidents (one per report) and their offences (one per row of the extract)."""

    def __init__(self, rng, cad: MetroCadFeed, geo: Geography, clock: Clock, scale: float):
        calls = cad.calls
        src = np.flatnonzero(calls.has_incident)
        # CAD-derived incidents
        reported = calls.raw.received[src]
        created = calls.closed_at[src] + rng.integers(600, 8 * 3600, len(src))
        loc = calls.raw.location[src]
        lon, lat = cad.lon[src], cad.lat[src]
        final_type = calls.final_type[src]
        code = np.empty(len(src), dtype=object)
        for t in np.unique(final_type):
            m = final_type == t
            offences = CALL_TYPES[CALL_TYPE_CODES[t]].offences
            keys = list(offences)
            w = np.array([offences[k] for k in keys], float)
            code[m] = np.array(keys, dtype=object)[rng.choice(len(keys), m.sum(), p=w / w.sum())]
        # online / front-counter reports (no CAD call)
        days = clock.poisson_days(rng, METRO_ONLINE_REPORTS_PER_DAY * scale)
        o_reported = clock.times(rng, days, HOUR_DAYTIME)
        o_loc = geo.sample(rng, len(days), p_intersection=0.0)
        o_lon, o_lat = to_lonlat(geo.x[o_loc] + rng.normal(0, 2.0, len(days)),
                                 geo.y[o_loc] + rng.normal(0, 2.0, len(days)))
        keys = list(ONLINE_MIX)
        o_code = np.array(keys, dtype=object)[rng.choice(len(keys), len(days), p=list(ONLINE_MIX.values()))]
        reported = np.r_[reported, o_reported]
        created = np.r_[created, o_reported + rng.integers(60, 1800, len(days))]
        loc, lon, lat, code = np.r_[loc, o_loc], np.r_[lon, o_lon], np.r_[lat, o_lat], np.r_[code, o_code]
        self.from_call = np.r_[src, np.full(len(days), -1)]
        order = np.lexsort((np.arange(len(reported)), reported))
        reported, created, loc, lon, lat, code, self.from_call = (
            a[order] for a in (reported, created, loc, lon, lat, code, self.from_call))
        n = self.n = len(reported)
        self.clock = clock
        naive = utc_to_naive(reported)
        self.day = (naive - DAY0_NAIVE_S) // 86400
        self.number = np.array(sequence_numbers("R", naive), dtype=object)
        self.reported, self.created, self.code, self.location = reported, created, code, loc

        # occurrence window
        window = np.isin(code, list(WINDOW_OFFENSES))
        fraud = code == "26A"
        to = reported - rng.integers(0, 3 * 3600, n)
        span = np.clip(rng.lognormal(math.log(8 * 3600), 1.0, n), 1800, 5 * 86400).astype(np.int64)
        frm = np.where(window, to - span, reported - rng.integers(0, 1800, n))
        frm = np.where(fraud, reported - rng.integers(86400, 60 * 86400, n), frm)
        to = np.where(fraud, reported - rng.integers(0, 86400, n), to)
        keep_to = np.where(window | fraud, rng.random(n) < 0.9, rng.random(n) < 0.2)
        to = np.where(keep_to, np.where(window | fraud, to, frm + rng.integers(60, 1800, n)), -1)
        self.to_before_from = (to >= 0) & (rng.random(n) < 0.01 / max(keep_to.mean(), 1e-9))
        frm, to = np.where(self.to_before_from, to, frm), np.where(self.to_before_from, frm, to)

        # status life cycle: the final status is entered after a lag (ACTIVE stays as created)
        status = rng.choice(4, n, p=[0.55, 0.05, 0.398, 0.002])
        lag = np.where(rng.random(n) < 0.25, rng.integers(2 * 3600, 70 * 3600, n),
                       rng.integers(3 * 86400, 120 * 86400, n))
        self.status = status
        self.status_at = np.where(status == ACTIVE, -1, created + lag)

        # offences: 10% of incidents carry 2-3
        n_offences = np.where(rng.random(n) < 0.10, rng.choice([2, 3], n, p=[0.75, 0.25]), 1)
        offence_incident = np.repeat(np.arange(n), n_offences)
        offence_seq = (np.arange(len(offence_incident)) - np.repeat(np.cumsum(n_offences) - n_offences, n_offences)
                       + 1)
        secondary = np.array(SECONDARY_OFFENSES, dtype=object)
        pick = rng.integers(0, len(secondary), len(offence_incident))
        offence_code = code[offence_incident].copy()
        extra = offence_seq > 1
        alt = secondary[(pick + offence_seq) % len(secondary)]
        alt = np.where(alt == offence_code, secondary[(pick + offence_seq + 3) % len(secondary)], alt)
        offence_code[extra] = alt[extra]
        # a 3rd offence must differ from the 2nd
        third = offence_seq == 3
        offence_code[third] = np.where(offence_code[third] == offence_code[np.flatnonzero(third) - 1],
                                       secondary[(pick[third] + 5) % len(secondary)], offence_code[third])
        self.offence_incident, self.offence_code = offence_incident, offence_code

        # State Plane Washington South, US survey feet
        xf, yf = Transformer.from_crs("EPSG:4326", "EPSG:2286", always_xy=True).transform(lon, lat)
        self.no_xy = rng.random(n) < 0.005
        victim = people(rng, n, 0.02, proper=False).to_numpy()
        juvenile = np.where(rng.random(n) < 0.03, "Y", "N")
        juvenile_offence = np.where(offence_code == "36B", "Y", juvenile[offence_incident])
        incident_df = pl.DataFrame({
            "IncidentNumber": self.number, "ReportedDT": reported, "OccurredFromDT": frm, "OccurredToDT": to,
            "StreetAddress": geo.address[loc], "X_FT": np.where(self.no_xy, np.nan, xf),
            "Y_FT": np.where(self.no_xy, np.nan, yf), "victim": victim,
        }, nan_to_null=True).with_columns(
            local_time_expr("ReportedDT", RMS_FMT), local_time_expr("OccurredFromDT", RMS_FMT),
            local_time_expr("OccurredToDT", RMS_FMT), fixed_decimal_expr("X_FT", 2), fixed_decimal_expr("Y_FT", 2))
        self.static = incident_df[offence_incident].with_columns(
            pl.Series("OffenseSeq", offence_seq).cast(pl.Utf8),
            pl.Series("OffenseCode", offence_code, dtype=pl.Utf8),
            pl.Series("OffenseDesc", [OFFENSES[x] for x in offence_code], dtype=pl.Utf8),
            pl.Series("JuvenileInvolved", juvenile_offence, dtype=pl.Utf8),
            pl.when(pl.Series(np.isin(offence_code, list(SOCIETY_OFFENSES)))).then(None).otherwise(pl.col("victim"))
            .alias("VictimName"),
        ).drop("victim")

    def force_updates(self, rng, per_day: int) -> None:
        """Every night closes some incidents reported on each of the three days before the previous day."""
        clock = self.clock
        used = np.zeros(self.n, bool)
        for k in range(2, N_NIGHTS + 1):
            for days_back in (2, 3, 4):
                day = clock.run_day[k] - days_back
                eligible = (self.day == day) & (self.created < clock.utc_0200[day + 1]) & ~used
                pick = np.sort(rng.choice(np.flatnonzero(eligible), min(per_day, int(eligible.sum())), replace=False))
                self.status_at[pick] = rng.integers(clock.run_instant[k - 1] + 3600, clock.run_instant[k] - 3600,
                                                    len(pick))
                self.status[pick] = CLOSED
                used[pick] = True

    def last_modified(self, instant: int) -> np.ndarray:
        changed = np.where(self.status_at <= instant, self.status_at, -1)
        return np.where(self.created <= instant, np.maximum(self.created, changed), -1)

    def delivered_by(self, night: int) -> np.ndarray:
        """Incidents delivered by a night's extract (created by then): the backfill, then the previous day
        plus the modified incidents of the three days before."""
        clock = self.clock
        instant = clock.run_instant[night]
        exists = self.created <= instant
        if night == 1:
            return exists & (self.day <= clock.run_day[1] - 1)
        run_day = clock.run_day[night]
        lm = self.last_modified(instant)
        return exists & ((self.day == run_day - 1)
                         | ((self.day >= run_day - 4) & (self.day <= run_day - 2)
                            & (lm > clock.run_instant[night - 1])))

    def frame(self, instant: int, selected: np.ndarray) -> pl.DataFrame:
        rows = np.flatnonzero(selected[self.offence_incident])
        incident = self.offence_incident[rows]
        status = np.where(self.status_at[incident] <= instant, self.status[incident], ACTIVE)
        return self.static[rows].with_columns(
            pl.Series("Status", take(STATUSES, status), dtype=pl.Utf8),
            pl.Series("LastModifiedDT", self.last_modified(instant)[incident]),
        ).with_columns(local_time_expr("LastModifiedDT", RMS_FMT)).select(RMS_COLUMNS)
