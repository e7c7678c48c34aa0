"""Hour-of-week profiles with aoristic weights (Ratcliffe 2000).

Aoristic analysis (Ratcliffe & McCullagh 1998, "Aoristic crime analysis", Int. J. Geogr. Inf. Sci.
12(7):751-764; Ratcliffe 2000, "Aoristic analysis: the spatial interpretation of unspecific temporal
events", Int. J. Geogr. Inf. Sci. 14(7):669-679) spreads an event whose time is only known as a window
[start, end) (a burglary between leaving for work and coming home) over the time units the window
touches, in proportion to the time that falls in each unit, so each event still weighs 1 in total.

Hour-of-week slot: 0 = Monday 00:00-01:00 local, 1 = Monday 01:00-02:00, …, 24 = Tuesday 00:00-01:00,
…, 167 = Sunday 23:00-24:00; i.e. slot = weekday · 24 + hour with Monday = 0 (ISO order). Times are
local naive wall-clock `datetime64` values (converted to microseconds), so a DST day simply has the
hours its wall clock shows.

Weights for one event with window [start, end):

* each slot gets (time of the window that falls in that slot) ÷ (window length); a window that crosses
  Sunday 24:00 wraps around to Monday 00:00, and a window longer than a day or spanning several weeks
  adds up every visit to a slot;
* a window of one week (10,080 minutes) or more gives exactly 1/168 to every slot;
* a missing end (NaT, or no `end` array at all), or an end at or before the start, puts the whole
  weight on the start's hour;
* a missing start (NaT) gives no weight at all (the event is left out).

Vectorized: each event with a window shorter than a week touches at most 169 consecutive clock hours
(the first and last can fall in the same slot; those two are merged), so the long form is built with
`np.repeat` and no Python loop per event. `profile` works through the events in chunks to bound memory.

Reproducible: `profile` adds the weights of each group's events in one canonical order (by start, then end),
whatever order they came in, so the same events give the same bits (floating-point addition is not
associative; a DuckDB query without ORDER BY returns rows in no particular order).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import polars as pl

N_SLOTS = 168
_HOUR_US = 3_600_000_000
_DAY_US = 24 * _HOUR_US
_WEEK_US = N_SLOTS * _HOUR_US
# The Unix epoch (1970-01-01) is a Thursday; 1970-01-05 00:00 is the first Monday 00:00.
_MONDAY_US = 4 * _DAY_US
_NAT = np.iinfo(np.int64).min

HOURLESS_PRECISIONS = ["unknown_time", "date_only"]
PRECISIONS = ["exact", *HOURLESS_PRECISIONS]


def _as_us(values, n: int | None = None) -> np.ndarray:
    """datetime-like array -> int64 microseconds (NaT -> int64 min)."""
    if values is None:
        return np.full(n or 0, _NAT, dtype=np.int64)
    a = np.asarray(values)
    if a.dtype.kind != "M":
        a = a.astype("datetime64[us]")
    return a.astype("datetime64[us]").astype(np.int64).ravel()


def _slot(t_us: np.ndarray) -> np.ndarray:
    return ((t_us - _MONDAY_US) // _HOUR_US) % N_SLOTS


def _hours_touched(s: np.ndarray, e: np.ndarray):
    """Per event: window masks, time since the first Monday, duration, first clock hour, hours touched."""
    has_start = s != _NAT
    has_end = (e != _NAT) & has_start
    dur = np.zeros(s.size, dtype=np.int64)
    dur[has_end] = e[has_end] - s[has_end]
    point = has_start & (dur <= 0)
    full = has_start & (dur >= _WEEK_US)
    window = has_start & ~point & ~full
    ws = np.where(has_start, s - _MONDAY_US, 0)  # time since the first Monday 00:00
    h0 = ws // _HOUR_US  # first clock hour touched
    k = np.zeros(s.size, dtype=np.int64)  # clock hours touched: 1 (point), 168 (a week or more), else 1..169
    k[point] = 1
    k[full] = N_SLOTS
    k[window] = (ws[window] + dur[window] - 1) // _HOUR_US - h0[window] + 1  # the end is exclusive
    return window, full, ws, dur, h0, k


def _long_arrays(s: np.ndarray, e: np.ndarray, offset: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Aoristic long form as (event_index, slot, weight) arrays.

    Rows come by event, and within an event by clock hour from the start's hour on (so a window across
    Sunday midnight lists slot 167 before slot 0).
    """
    window, full, ws, dur, h0, k = _hours_touched(s, e)
    rep = np.repeat(np.arange(s.size), k)
    first_row = np.cumsum(k) - k
    h = h0[rep] + (np.arange(rep.size) - first_row[rep])
    lo = np.maximum(ws[rep], h * _HOUR_US)
    hi = np.minimum((ws + dur)[rep], (h + 1) * _HOUR_US)
    w = np.where(window[rep], (hi - lo) / np.maximum(dur, 1)[rep], np.where(full[rep], 1.0 / N_SLOTS, 1.0))
    sl = h % N_SLOTS

    wrapped = np.flatnonzero(k > N_SLOTS)  # first and last clock hour fall in the same slot: merge
    if wrapped.size:
        first, last = first_row[wrapped], first_row[wrapped] + N_SLOTS
        w[first] += w[last]
        keep = np.ones(rep.size, dtype=bool)
        keep[last] = False
        rep, sl, w = rep[keep], sl[keep], w[keep]
    return rep + offset, sl, w


def aoristic_weights(start, end=None) -> pl.DataFrame:
    """Long form of aoristic hour-of-week weights: `event_index`, `slot`, `weight`.

    `start` and `end` are local naive datetimes (numpy `datetime64` arrays, polars Datetime series or
    anything `np.asarray` turns into one); `end` may be None or hold NaT. `event_index` is the position
    in `start`. Only slots with a positive share are listed, by event and then by clock hour from the
    start's hour on (slot 167 comes before slot 0 in a window across Sunday midnight); each event's
    weights sum to 1 (an event with a missing start has no rows). See the module docstring for the rules.
    """
    s = _as_us(start)
    e = _as_us(end, s.size)
    if e.size != s.size:
        raise ValueError(f"start has {s.size} values but end has {e.size}")
    ev, sl, w = _long_arrays(s, e)
    return pl.DataFrame(
        {
            "event_index": pl.Series(ev, dtype=pl.Int64),
            "slot": pl.Series(sl, dtype=pl.Int16),
            "weight": pl.Series(w, dtype=pl.Float64),
        }
    )


def _group_codes(key, n: int) -> tuple[np.ndarray, pl.Series]:
    """Dense codes 0..G-1 for `key` (nulls are a group of their own, last) and the key value per code."""
    k = pl.Series("key", key) if not isinstance(key, pl.Series) else key
    if k.len() != n:
        raise ValueError(f"key has {k.len()} values but start has {n}")
    rank = k.rank("dense")
    n_nonnull = int(rank.max() or 0)
    codes = rank.fill_null(n_nonnull + 1).to_numpy().astype(np.int64) - 1
    _, first = np.unique(codes, return_index=True)  # first occurrence of each code, in code order
    return codes, k.gather(first)


def profile(start, end=None, key=None, chunk_rows: int = 4_000_000) -> pl.DataFrame:
    """Sum aoristic weights into the 168 hour-of-week slots.

    Returns one row per slot (`slot`, `weekday` 0 = Monday, `hour`, `weight`), every slot listed even when
    empty. With `key` (an array as long as `start`, e.g. the offence type or the beat), one block of 168
    rows per key value, sorted by key (null last), with the key as the first column, named after the
    series if `key` is a named polars Series, else `key`. Weight totals equal the number of events with a
    start. Events go through in chunks of about `chunk_rows` long-form rows, which bounds the memory.
    """
    s = _as_us(start)
    e = _as_us(end, s.size)
    if e.size != s.size:
        raise ValueError(f"start has {s.size} values but end has {e.size}")
    n = s.size
    if key is None:
        codes, values, n_groups = np.zeros(n, dtype=np.int64), None, 1
    else:
        codes, values = _group_codes(key, n)
        n_groups = values.len()
    total = np.zeros(n_groups * N_SLOTS)
    canon = np.lexsort((e, s, codes))  # the canonical order: the sums do not depend on the input order
    s, e, codes = s[canon], e[canon], codes[canon]
    # chunks of about `chunk_rows` long-form rows (at least one event each) bound the memory
    rows = np.cumsum(_hours_touched(s, e)[-1])
    lo = 0
    while lo < n:
        hi = max(int(np.searchsorted(rows, (rows[lo - 1] if lo else 0) + chunk_rows, side="right")), lo + 1)
        ev, sl, w = _long_arrays(s[lo:hi], e[lo:hi], offset=lo)
        total += np.bincount(codes[ev] * N_SLOTS + sl, weights=w, minlength=n_groups * N_SLOTS)
        lo = hi
    slots = np.tile(np.arange(N_SLOTS), n_groups)
    out = pl.DataFrame(
        {
            "slot": pl.Series(slots, dtype=pl.Int16),
            "weekday": pl.Series(slots // 24, dtype=pl.Int8),
            "hour": pl.Series(slots % 24, dtype=pl.Int8),
            "weight": total,
        }
    )
    if values is not None:
        name = key.name if isinstance(key, pl.Series) and key.name else "key"
        out.insert_column(0, values.gather(np.repeat(np.arange(n_groups), N_SLOTS)).alias(name))
    return out


class ExactProfile(NamedTuple):
    """Result of `exact_profile`."""

    profile: pl.DataFrame
    n_left_out: int  # events without an hour (unknown_time / date_only) kept out of the profile
    n_spread: int  # events without an hour spread 1/24 over the hours of their day
    n_missing_start: int  # events of any precision with no start at all (no weight anywhere)


def exact_profile(
    start, precision, end=None, key=None, spread_unknown: bool = False, chunk_rows: int = 4_000_000
) -> ExactProfile:
    """Hour-of-week profile that respects `time_precision` ('exact', 'date_only', 'unknown_time').

    Events whose precision is `unknown_time` or `date_only` have no hour of day. By default they are
    kept out of the profile and counted in `n_left_out`. With `spread_unknown=True` each such event is
    spread evenly over the 24 hours of its (local) day, 1/24 per slot, ignoring its end, and counted in
    `n_spread` instead. Exact events get the aoristic weights of [start, end) (see `profile`).
    """
    s = _as_us(start)
    n = s.size
    e = _as_us(end, n)
    if e.size != n:
        raise ValueError(f"start has {n} values but end has {e.size}")
    prec = precision if isinstance(precision, pl.Series) else pl.Series("precision", precision)
    prec = prec.cast(pl.String)
    if prec.len() != n:
        raise ValueError(f"precision has {prec.len()} values but start has {n}")
    bad = prec.filter(~prec.is_in(PRECISIONS) | prec.is_null()).unique()
    if bad.len():
        raise ValueError(f"unknown time_precision values {bad.to_list()}; expected one of {PRECISIONS}")
    hourless = prec.is_in(HOURLESS_PRECISIONS).to_numpy()
    has_start = s != _NAT
    n_missing = int((~has_start).sum())
    n_hourless = int((hourless & has_start).sum())

    s = s.copy()
    e = e.copy()
    if spread_unknown:
        m = hourless & has_start
        s[m] = (s[m] // _DAY_US) * _DAY_US  # local midnight
        e[m] = s[m] + _DAY_US
    else:
        s[hourless] = _NAT
    prof = profile(s.astype("datetime64[us]"), e.astype("datetime64[us]"), key=key, chunk_rows=chunk_rows)
    return ExactProfile(
        profile=prof,
        n_left_out=0 if spread_unknown else n_hourless,
        n_spread=n_hourless if spread_unknown else 0,
        n_missing_start=n_missing,
    )
