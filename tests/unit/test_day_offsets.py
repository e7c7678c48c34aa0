"""The local -> UTC conversion through the per-date offset list (transforms.warehouse.dst) gives exactly the
instant DuckDB's ICU gives (`timezone(zone, local)`, the documented DST rule), and a time that took its offset
from the list has DST code 0 (staging then skips the per-row DST test for it).

Zones with unusual clocks: half-hour DST (Lord_Howe), negative DST (Dublin), a :45 offset (Kathmandu), a
country that skipped a day (Apia, 2011-12-30), a zone that changed its standard offset (Caracas), and the
four real feeds' zones; times every 7 min 13.000123 s across each change in 1985-2035, plus times before
the list's first date and after its last (left to ICU)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from transforms.warehouse.dst import (
    day_offset_sql,
    day_offsets_sql,
    dst_code_sql,
    local_to_utc_sql,
    transition_dates,
)

ZONES = ["America/Los_Angeles", "America/Chicago", "America/New_York", "America/Vancouver", "Australia/Lord_Howe",
         "Europe/Dublin", "Asia/Kathmandu", "Pacific/Apia", "America/Caracas", "America/St_Johns", "UTC"]
FIRST, LAST = date(1990, 1, 1), date(2030, 12, 31)


def _changes(zone: str) -> list[date]:
    """Local dates of the offset changes of `zone` between 1985 and 2035 (noon to noon), by Python."""
    z, out = ZoneInfo(zone), []
    d = date(1985, 1, 1)
    prev = datetime(1985, 1, 1, 12, tzinfo=z).utcoffset()
    while d < date(2035, 1, 1):
        d += timedelta(days=1)
        off = datetime(d.year, d.month, d.day, 12, tzinfo=z).utcoffset()
        if off != prev:
            out.append(d)
        prev = off
    return out


@pytest.mark.parametrize("zone", ZONES)
def test_offset_list_matches_icu(zone: str) -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    days = [c + timedelta(days=k) for c in _changes(zone) for k in (-2, -1, 0, 1)]
    days += [date(1985, 6, 1), date(1989, 12, 31), date(1990, 1, 1), date(2030, 12, 31), date(2031, 1, 1),
             date(2034, 7, 1)] + [date(1990, 1, 1) + timedelta(days=97 * k) for k in range(150)]
    con.execute("CREATE TABLE d (day DATE)")
    con.executemany("INSERT INTO d VALUES (?)", [[x] for x in sorted(set(days))])
    con.execute("""CREATE TABLE t AS SELECT CAST(day AS TIMESTAMP) + to_microseconds(k * 433000123 % 86400000000)
                   AS l FROM d, range(60) AS r(k) UNION ALL SELECT NULL""")
    dates = transition_dates(zone)
    params = {"zone": zone, "first": FIRST, "n": (LAST - FIRST).days + 1}
    bound = "$dates::DATE[]" if dates else None
    if dates:
        params["dates"] = list(dates)
    offset = day_offset_sql("l", "z._offs", "$first")
    rows = con.execute(
        f"""SELECT l, {local_to_utc_sql('l', '$zone', offset)} AS via_list, timezone($zone, l) AS icu,
                   {offset} AS off,
                   {dst_code_sql('l', 'timezone($zone, l)', '$zone', '$dates::DATE[]') if dates else '0'} AS code
            FROM t, ({day_offsets_sql('$zone', bound, '$first', '$n')}) AS z""", params).fetchall()
    assert len(rows) > 60 * 150
    wrong = [(r[0], r[1], r[2]) for r in rows if r[1] != r[2]]
    assert not wrong, f"{zone}: {len(wrong)} times differ from ICU, e.g. {wrong[:3]}"
    from_list = [r for r in rows if r[3] is not None]
    # the list serves the ordinary dates inside its span, none outside it and none on a transition date
    assert len(from_list) > 60 * 100
    assert all(FIRST <= r[0].date() <= LAST and r[0].date() not in dates for r in from_list)
    assert all(r[4] == 0 for r in from_list)
    # ... and the transition dates inside it are left to ICU
    assert any(r[0] is not None and r[3] is None and FIRST <= r[0].date() <= LAST for r in rows) == \
        any(FIRST <= d <= LAST for d in dates)
