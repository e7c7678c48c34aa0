"""Daylight saving time for times read from local text: which local dates hold a clock change, and the SQL
that gives each local reading its DST code.

A local wall-clock time in a zone with DST is one of
- ordinary: one instant;
- in a spring-forward gap (02:30 on 2024-03-10 in America/Denver never happened on the clock): the
  documented rule (DuckDB's ICU) reads it with the offset in force before the gap, 02:30 MST = 09:30 UTC,
  which the clock then showed as 03:30 MDT;
- in an autumn overlap (01:30 on 2024-11-03 in Denver happened twice, MDT then MST): the rule reads it as
  the later, standard-time instant, 01:30 MST = 08:30 UTC.
The rule is kept for every time; what changes is that such times are known. Their DST code (`_dst_<time>`
in staging, INTEGER) is 0 for an ordinary local reading, +s for a time in a gap of s seconds, -s for a time
in an overlap of s seconds, and NULL for a time not read from local text (an instant, an epoch in UTC, a
sentinel, nothing delivered). sql/core/ turns the codes into time issues (`dst_gap_<time>`,
`dst_overlap_<time>`) and reads the intervals that touch such a time by the DST interval rule (the shortest
reading the change allows that is not negative).

The exact test is DuckDB's own conversion (ICU): a gap time does not survive local -> UTC -> local, and an
overlap time has an earlier instant that shows the same wall time. It runs only on the local dates within a
day of a change of UTC offset (from Python's tz database, with a day's margin on each side), so ordinary
rows cost one date lookup.

The conversion itself reads no zone per row (`day_offsets_sql`, `local_to_utc_sql`): a list built once per
load gives, for each local date from the time floor to the future tolerance, the UTC offset DuckDB's ICU
reads that date with, when that offset holds all day (ICU reads the date's first and last microsecond with
it) and the date is not a transition date; a time on such a date is its wall-clock time minus the offset,
and its DST code is 0. Every other time (on a transition date, outside the list's dates) is converted by
ICU itself, as before. So each time gets exactly the instant and the code the documented rule gives it.
The offset only changes on transition dates, so a finer (hourly) table would serve no other rows.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

FIRST_YEAR, LAST_YEAR = 1900, 2100  # local dates outside these years are never flagged


@lru_cache(maxsize=64)
def transition_dates(zone: str) -> tuple[date, ...]:
    """Local dates on which the UTC offset of `zone` may change (with a day's margin each side), sorted.
    Empty for a zone without DST or other offset changes in FIRST_YEAR..LAST_YEAR (UTC, for one)."""
    z = ZoneInfo(zone)
    out: set[date] = set()
    d = date(FIRST_YEAR, 1, 1)
    end = date(LAST_YEAR + 1, 1, 1)
    prev = datetime(d.year, d.month, d.day, 12, tzinfo=z).utcoffset()
    while d < end:
        n = d + timedelta(days=1)
        off = datetime(n.year, n.month, n.day, 12, tzinfo=z).utcoffset()
        if off != prev:  # the change lies between noon on d and noon on n
            out.update(d + timedelta(days=k) for k in (-1, 0, 1, 2))
        prev, d = off, n
    return tuple(sorted(out))


DAY_US = 86_400_000_000


def day_offsets_sql(zone: str, dates: str | None, first: str, n_days: str) -> str:
    """SQL for the offset list of one zone: one row, `_offs` (BIGINT[]): element k+1 is the UTC offset
    (wall clock minus UTC, microseconds) of the local date `first` + k days, for k < `n_days`, or NULL when
    ICU reads the date's last microsecond with another offset than its first, or the date is one of the
    transition `dates` (DATE[]; None for a zone without changes). All arguments are bound SQL values."""
    last = "(_d + INTERVAL 1 DAY - INTERVAL 1 MICROSECOND)"
    off_first = f"(epoch_us(_d) - epoch_us(timezone({zone}, _d)))"
    # try(): a date at the end of the calendar has no last microsecond to read; it is left to ICU
    off_last = f"try(epoch_us({last}) - epoch_us(timezone({zone}, {last})))"
    plain = f" AND NOT (CAST(_d AS DATE) = ANY({dates}))" if dates else ""
    return (f"SELECT list(CASE WHEN {off_last} = {off_first}{plain} THEN {off_first} END ORDER BY _d) AS _offs "
            f"FROM (SELECT CAST({first} AS TIMESTAMP) + to_days(CAST(_k AS INTEGER)) AS _d "
            f"FROM range({n_days}) AS _r(_k))")


def day_offset_sql(local: str, offs: str, first: str) -> str:
    """SQL for the offset of a local TIMESTAMP from the list `offs` that starts at the bound date `first`;
    NULL when the list has none for its date."""
    return (f"CASE WHEN {local} >= CAST({first} AS TIMESTAMP) THEN "
            f"{offs}[(epoch_us({local}) - epoch_us(CAST({first} AS TIMESTAMP))) // {DAY_US} + 1] END")


def local_to_utc_sql(local: str, zone: str, offset: str) -> str:
    """SQL for a local TIMESTAMP read in `zone` as TIMESTAMPTZ by the documented rule: wall clock minus the
    date's `offset` (from `day_offset_sql`) when there is one, else by ICU (`timezone(zone, local)`)."""
    return (f"CASE WHEN {offset} IS NOT NULL THEN make_timestamptz(epoch_us({local}) - {offset}) "
            f"ELSE timezone({zone}, {local}) END")


def dst_code_sql(local: str, instant: str, zone: str, dates: str) -> str:
    """SQL for the DST code of one local reading.

    `local` is the wall-clock TIMESTAMP as delivered, `instant` its TIMESTAMPTZ reading by the documented rule
    (`timezone(zone, local)`), `zone` and `dates` the bound zone name and its transition dates (DATE[]).
    A gap time does not come back from UTC as itself: the difference is the gap. An overlap time (read as
    the later, standard instant) shows the same wall time `shift` seconds earlier, where `shift` is the
    offset 12 hours before minus the offset it was read with."""
    offset = f"(epoch({local}) - epoch({instant}))"
    before = f"({instant} - INTERVAL 12 HOUR)"
    offset_before = f"(epoch(timezone({zone}, {before})) - epoch({before}))"
    shift = f"CAST({offset_before} - {offset} AS INTEGER)"
    back = f"timezone({zone}, {instant})"
    return (f"CASE WHEN NOT (CAST({local} AS DATE) = ANY({dates})) THEN 0 "
            f"WHEN {back} <> {local} THEN CAST(epoch({back}) - epoch({local}) AS INTEGER) "
            f"WHEN {offset_before} > {offset} AND timezone({zone}, {instant} - to_seconds({shift})) = {local} "
            f"THEN -{shift} ELSE 0 END")


# --- the other way: UTC instants to local wall-clock times, in the marts -------------------------------------
#
# DuckDB's `timezone(zone, instant)` with the zone from a column runs ICU per row, about ten times the cost
# of reading the offset from the day table below (bench/local_time.py; bench/RESULTS.md, "Local times"). The
# marts convert every event of their horizon, so marts.agency_utc_offsets holds, per agency and UTC day from
# UTC_OFFSETS_FROM on, ICU's offset when ICU reads the day's first and last microsecond with the same offset
# and the day is not within a day of a transition date. A model left-joins it on sara_utc_day(ts) and reads
# the time with sara_local(ts, offset, zone) (temp macros defined on every connection,
# transforms/warehouse/db.py): through the offset, or through ICU where the day has none (a transition day, a
# day outside the table). So every time gets exactly ICU's wall clock. (A list column per agency instead of
# rows would be copied into every joined row.)

UTC_OFFSETS_FROM = date(2000, 1, 1)  # UTC days from here ...
UTC_OFFSETS_DAYS = 18_263  # ... to 2049-12-31; a time outside goes through ICU

LOCAL_TIME_MACROS = f"""
CREATE OR REPLACE TEMP MACRO sara_utc_day(ts) AS CAST(epoch_us(ts) // {DAY_US} AS INTEGER);
CREATE OR REPLACE TEMP MACRO sara_local(ts, offset_us, zone) AS
    coalesce(make_timestamp(epoch_us(ts) + offset_us), timezone(zone, ts));
"""


def utc_day_offsets_sql(zone: str, dates: str | None, first: str, n_days: str) -> str:
    """SQL for the UTC days of one zone that have one offset all day: rows (utc_day INTEGER: days since
    1970-01-01, utc_offset_us BIGINT: ICU's wall clock minus UTC, microseconds) for the days `first` + k,
    k < `n_days`, where the day's last microsecond reads with the offset of its first and the day is not one of
    `dates` (DATE[], the zone's transition dates; None for a zone without changes). Arguments are bound SQL
    values."""
    start = "make_timestamptz(epoch_us(CAST(_day AS TIMESTAMP)))"
    last = f"make_timestamptz(epoch_us(CAST(_day AS TIMESTAMP)) + {DAY_US} - 1)"
    off_first = f"(epoch_us(timezone({zone}, {start})) - epoch_us({start}))"
    off_last = f"(epoch_us(timezone({zone}, {last})) - epoch_us({last}))"
    plain = f" AND NOT (_day = ANY({dates}))" if dates else ""
    return (f"SELECT CAST(_day - DATE '1970-01-01' AS INTEGER) AS utc_day, {off_first} AS utc_offset_us "
            f"FROM (SELECT CAST({first} AS DATE) + CAST(_k AS INTEGER) AS _day FROM range({n_days}) AS _r(_k)) "
            f"WHERE {off_last} = {off_first}{plain}")


def utc_day_offsets(con, zone: str) -> list[tuple[int, int]]:
    """(utc_day, utc_offset_us) of `zone` from UTC_OFFSETS_FROM (utc_day_offsets_sql), by this connection's ICU."""
    dates = list(transition_dates(zone))
    sql = utc_day_offsets_sql("$zone", "$dates" if dates else None, "$first", "$n")
    params = {"zone": zone, "first": UTC_OFFSETS_FROM, "n": UTC_OFFSETS_DAYS}
    if dates:
        params["dates"] = dates
    return con.execute(sql, params).fetchall()
