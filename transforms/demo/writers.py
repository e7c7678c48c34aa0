"""The vendor files: how each system renders its records and writes its extract.

* metro CAD: CSV, UTF-8 with BOM, CRLF, one row per responding unit, 12-hour local clock, a
  01/01/1900 clear-time sentinel, a few bad coordinates and empty received times;
* metro RMS: Parquet, every column a string, one row per offence, X/Y in State Plane feet
  (EPSG:2286) (the frame itself is built in incidents.py);
* county CAD: CSV in cp1252 with semicolons, one row per call, day-first local times and unit
  times as UTC epoch milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from transforms.demo.calls import Calls
from transforms.demo.codes import CALL_TYPE_CODES, COUNTY_PRIORITY, DISPOSITIONS, TYPE_PRIORITY
from transforms.demo.geography import Geography, to_lonlat
from transforms.demo.patterns import PLACE_NAMES
from transforms.demo.text import (
    SENTINEL_TIME,
    fixed_decimal_expr,
    local_time_expr,
    masked_str,
    narratives,
    people,
    phones,
    take,
)

METRO_COLUMNS = ["CallNumber", "UnitID", "CallReceivedDT", "CallEnteredDT", "DispatchDT", "EnrouteDT",
                 "OnSceneDT", "ClearDT", "InitialCallType", "FinalCallType", "Priority", "Disposition",
                 "Address", "CommonPlace", "Latitude", "Longitude", "OnView", "DuplicateOf", "CallerName",
                 "CallerPhone", "Narrative", "LastUpdatedDT"]
RMS_COLUMNS = ["IncidentNumber", "OffenseSeq", "OffenseCode", "OffenseDesc", "ReportedDT", "OccurredFromDT",
               "OccurredToDT", "StreetAddress", "X_FT", "Y_FT", "Status", "VictimName", "JuvenileInvolved",
               "LastModifiedDT"]
COUNTY_COLUMNS = ["EventNo", "ReceivedTime", "DispatchEpochMs", "ArriveEpochMs", "ClearEpochMs", "Nature",
                  "Prio", "Outcome", "Location", "Lat", "Lon", "Caller", "CallerPhone", "Remarks", "Updated"]
CAD_FMT, RMS_FMT, COUNTY_FMT = "%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"
SENTINEL_DT = "01/01/1900 12:00:00 AM"

# metro CAD coordinate errors, per call
COORD_OK, COORD_ZERO, COORD_EMPTY, COORD_SWAPPED = 0, 1, 2, 3  # 0/0, empty, lat and lon swapped


class MetroCadFeed:
    """The metro CAD extract: call-level fields fixed once, unit rows and versions rendered per instant."""

    def __init__(self, rng, calls: Calls, geo: Geography, scale: float):
        self.calls, raw, n = calls, calls.raw, calls.n
        self.location = raw.location
        # true position at the address (a few metres of geocoder jitter)
        x = geo.x[self.location] + rng.normal(0, 2.0, n)
        y = geo.y[self.location] + rng.normal(0, 2.0, n)
        self.lon, self.lat = to_lonlat(x, y)
        r = rng.random(n)
        self.coord_error = np.select([r < 0.004, r < 0.007, r < 0.008], [COORD_ZERO, COORD_EMPTY, COORD_SWAPPED],
                                     COORD_OK)
        # ~10 calls with empty received/entered (single-unit, well inside the history)
        cand = np.flatnonzero((calls.n_units == 1) & (calls.day < calls.clock.run_day[1] - 30))
        self.no_received = np.sort(rng.choice(cand, max(3, round(10 * scale)), replace=False))
        show_place = (raw.place >= 0) & (rng.random(n) < 0.9)  # call takers sometimes skip it
        common = np.where(show_place, take([""] + PLACE_NAMES, raw.place + 1), "")
        caller = people(rng, n, 0.03, proper=False)
        anonymous = raw.on_view | (rng.random(n) < 0.07)
        phone = phones(rng, n)
        received = raw.received.copy()
        entered = calls.entered_at.copy()
        received[self.no_received] = -1
        entered[self.no_received] = -1
        swapped = self.coord_error == COORD_SWAPPED
        newline_share = 0.002 / max((~raw.on_view).mean(), 1e-9)
        df = pl.DataFrame({
            "CallNumber": calls.number, "CallReceivedDT": received, "CallEnteredDT": entered,
            "InitialCallType": take(CALL_TYPE_CODES, calls.initial_type), "Priority": TYPE_PRIORITY[calls.initial_type],
            "Address": geo.address[self.location], "CommonPlace": common,
            "Latitude": np.where(swapped, self.lon, self.lat), "Longitude": np.where(swapped, self.lat, self.lon),
            "OnView": np.where(raw.on_view, "Y", "N"),
            "DuplicateOf": np.where(calls.duplicate_of >= 0, calls.number[np.maximum(calls.duplicate_of, 0)], ""),
            "CallerName": caller, "CallerPhone": phone,
            "Narrative": narratives(rng, calls.initial_type, raw.on_view, newline_share),
            "anon": anonymous, "ov": raw.on_view, "err": self.coord_error,
        })
        self.static = df.with_columns(
            local_time_expr("CallReceivedDT", CAD_FMT), local_time_expr("CallEnteredDT", CAD_FMT),
            fixed_decimal_expr("Latitude", 6), fixed_decimal_expr("Longitude", 6),
            pl.when(pl.col("anon")).then(pl.lit("")).otherwise(pl.col("CallerName")).alias("CallerName"),
            pl.when(pl.col("ov")).then(pl.lit("")).otherwise(pl.col("CallerPhone")).alias("CallerPhone"),
        ).with_columns(
            pl.when(pl.col("err") == COORD_ZERO).then(pl.lit("0")).when(pl.col("err") == COORD_EMPTY).then(None)
            .otherwise(pl.col("Latitude")).alias("Latitude"),
            pl.when(pl.col("err") == COORD_ZERO).then(pl.lit("0")).when(pl.col("err") == COORD_EMPTY).then(None)
            .otherwise(pl.col("Longitude")).alias("Longitude"),
        ).drop("anon", "ov", "err")
        # unit ids: shift digit (by local hour) + district letter + number, distinct within a call
        hour = (calls.received_naive % 86400) // 3600
        shift = np.where((hour >= 6) & (hour < 14), "1", np.where((hour >= 14) & (hour < 22), "2", "3"))
        base = rng.integers(0, 20, n)
        unit_number = 10 + (base[calls.unit_call] + 7 * calls.unit_order) % 20
        self.unit_id = pl.select(pl.Series(shift[calls.unit_call])
                                 + pl.Series(geo.district[self.location][calls.unit_call])
                                 + pl.Series(unit_number).cast(pl.Utf8)).to_series().to_numpy()

    def frame(self, instant: int, selected: np.ndarray) -> pl.DataFrame:
        """The rows of the selected calls as an extract taken at instant shows them: one per unit
        dispatched by then (a call with none has one row without a unit)."""
        cl = self.calls
        version = cl.version_at(instant, selected)
        pos = np.full(cl.n, -1)
        pos[version.idx] = np.arange(len(version.idx))
        visible = selected[cl.unit_call] & (cl.unit_dispatched <= instant)
        n_visible = np.bincount(cl.unit_call[visible], minlength=cl.n)
        no_unit = np.flatnonzero(selected & (n_visible == 0))
        row_unit = np.r_[np.flatnonzero(visible), np.full(len(no_unit), -1)]
        row_call = np.r_[cl.unit_call[visible], no_unit]
        order = np.lexsort((np.where(row_unit >= 0, cl.unit_order[np.maximum(row_unit, 0)], -1), row_call))
        row_unit, row_call = row_unit[order], row_call[order]
        has_unit = row_unit >= 0
        ru = np.maximum(row_unit, 0)

        def unit_time(a):
            v = a[ru]
            sentinel = has_unit & (v == SENTINEL_TIME) & (cl.cancelled_at[row_call] <= instant)
            return np.where(has_unit & (v <= instant) & (v >= 0), v, np.where(sentinel, SENTINEL_TIME, -1))

        p = pos[row_call]
        df = self.static[row_call].with_columns(
            masked_str("UnitID", self.unit_id[ru], has_unit),
            pl.Series("DispatchDT", unit_time(cl.unit_dispatched)),
            pl.Series("EnrouteDT", unit_time(cl.unit_enroute)),
            pl.Series("OnSceneDT", unit_time(cl.unit_onscene)), pl.Series("ClearDT", unit_time(cl.unit_cleared)),
            pl.Series("FinalCallType", take(CALL_TYPE_CODES, version.final_type[p]), dtype=pl.Utf8),
            pl.Series("Disposition", take(DISPOSITIONS + [""], version.disposition[p]), dtype=pl.Utf8),
            pl.Series("LastUpdatedDT", version.last_updated[p]),
        )
        return df.with_columns(
            local_time_expr("DispatchDT", CAD_FMT), local_time_expr("EnrouteDT", CAD_FMT),
            local_time_expr("OnSceneDT", CAD_FMT), local_time_expr("ClearDT", CAD_FMT, SENTINEL_DT),
            local_time_expr("LastUpdatedDT", CAD_FMT),
        ).select(METRO_COLUMNS)


class CountyCadFeed:
    """The county CAD extract: one row per call, unit times summarised to first dispatch, first arrival
    and last clear."""

    def __init__(self, rng, calls: Calls, geo: Geography):
        self.calls, raw, n = calls, calls.raw, calls.n
        loc = raw.location
        self.lon, self.lat = to_lonlat(geo.county_x[loc] + rng.normal(0, 3.0, n),
                                       geo.county_y[loc] + rng.normal(0, 3.0, n))
        self.empty_coords = rng.random(n) < 0.003
        # call-level unit times: first dispatch, first arrival, last clear (ms precision)
        big = np.iinfo(np.int64).max
        d = np.full(n, big)
        np.minimum.at(d, calls.unit_call, calls.unit_dispatched)
        a = np.full(n, big)
        np.minimum.at(a, calls.unit_call, np.where(calls.unit_onscene >= 0, calls.unit_onscene, big))
        self.dispatched = np.where(d == big, -1, d)
        self.arrived = np.where(a == big, -1, a)
        self.cleared = np.where(calls.n_units > 0, calls.closed_at, -1)
        # epoch milliseconds, kept non-decreasing dispatch <= arrive <= clear
        ms = np.stack([self.dispatched, self.arrived, self.cleared], 1) * 1000 + rng.integers(0, 1000, (n, 3))
        ms[:, 1] = np.where(self.arrived >= 0, np.maximum(ms[:, 1], ms[:, 0]), -1)
        ms[:, 2] = np.where(self.cleared >= 0, np.maximum(ms[:, 2], ms[:, 1]), -1)
        self.epoch_ms = ms
        callers = people(rng, n, 0.25, proper=True).to_numpy()
        # at least one accented (cp1252-only) caller per day so every file is really cp1252
        non_ov = np.flatnonzero(~raw.on_view)
        _, firsts = np.unique(calls.day[non_ov], return_index=True)
        forced = non_ov[firsts]
        callers[forced] = people(rng, len(forced), 1.0, proper=True).to_numpy()
        callers = np.where(raw.on_view, "", callers)
        lat = np.where(self.empty_coords, np.nan, self.lat)
        lon = np.where(self.empty_coords, np.nan, self.lon)
        self.static = pl.DataFrame({
            "EventNo": calls.number, "ReceivedTime": raw.received,
            "Prio": [COUNTY_PRIORITY[p] for p in TYPE_PRIORITY[calls.initial_type]],
            "Location": geo.county_address[loc], "Lat": lat, "Lon": lon, "Caller": callers,
            "CallerPhone": np.where(raw.on_view, "", phones(rng, n).to_numpy()),
            "Remarks": narratives(rng, calls.initial_type, raw.on_view, 0.0),
        }, nan_to_null=True).with_columns(local_time_expr("ReceivedTime", COUNTY_FMT), fixed_decimal_expr("Lat", 6),
                                         fixed_decimal_expr("Lon", 6))

    def frame(self, instant: int, selected: np.ndarray) -> pl.DataFrame:
        version = self.calls.version_at(instant, selected)
        i = version.idx

        def epoch_ms(t, column):
            v = t[i]
            return np.where((v >= 0) & (v <= instant), self.epoch_ms[i, column], -1)

        def as_str(v):
            return masked_str("", v.astype(str), v >= 0)

        return self.static[i].with_columns(
            as_str(epoch_ms(self.dispatched, 0)).alias("DispatchEpochMs"),
            as_str(epoch_ms(self.arrived, 1)).alias("ArriveEpochMs"),
            as_str(epoch_ms(self.cleared, 2)).alias("ClearEpochMs"),
            pl.Series("Nature", take(CALL_TYPE_CODES, version.final_type), dtype=pl.Utf8),
            pl.Series("Outcome", take(DISPOSITIONS + [""], version.disposition), dtype=pl.Utf8),
            pl.Series("Updated", version.last_updated),
        ).with_columns(local_time_expr("Updated", COUNTY_FMT)).select(COUNTY_COLUMNS)


# --------------------------------------------------------------------------- file writers
def _blank_to_null(df: pl.DataFrame) -> pl.DataFrame:
    """Empty strings are written as empty fields, like the nulls (no `""`)."""
    return df.with_columns(pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)).name.keep())


def write_metro_csv(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_blank_to_null(df).write_csv(include_bom=True, line_terminator="\r\n", quote_style="necessary")
                     .encode("utf-8"))


def write_county_csv(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(_blank_to_null(df).write_csv(separator=";", line_terminator="\r\n", quote_style="necessary")
                     .encode("cp1252"))


def write_rms_parquet(df: pl.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df = _blank_to_null(df)
    table = df.to_arrow().cast(pa.schema([(c, pa.string()) for c in df.columns]))
    pq.write_table(table, path, compression="zstd", compression_level=3, use_dictionary=True,
                   write_statistics=True, version="2.6", row_group_size=1 << 20)
