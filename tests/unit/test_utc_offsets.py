"""UTC -> local through marts.agency_utc_offsets (transforms.warehouse.dst, `sara_local`): the wall clock of
every instant is exactly ICU's `timezone(zone, instant)`.

The instants: every 7 min 13.000123 s across two days either side of each offset change from 1995 to 2055
(so before the table's first day, 2000-01-01, and after its last, 2049-12-31, where ICU reads them), random
instants over the same years, and NULL. Zones with unusual clocks: half-hour DST (Lord_Howe), negative DST
(Dublin), a :45 offset (Kathmandu), a country that skipped a day (Apia, 2011-12-30), a zone that changed its
standard offset (Caracas), Newfoundland's :30 offset, and the real feeds' zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import duckdb
import pytest

from transforms.marts.dimensions import write_agency_zones
from transforms.warehouse import db

ZONES = ["America/Los_Angeles", "America/Chicago", "America/New_York", "Australia/Lord_Howe", "Europe/Dublin",
         "Asia/Kathmandu", "Pacific/Apia", "America/Caracas", "America/St_Johns", "UTC"]


def _changes(zone: str) -> list[datetime]:
    """Noon UTC of the days of the offset changes of `zone` between 1995 and 2055, by Python."""
    z, out = ZoneInfo(zone), []
    d = datetime(1995, 1, 1, 12, tzinfo=UTC)
    prev = d.astimezone(z).utcoffset()
    while d.year < 2055:
        d += timedelta(days=1)
        off = d.astimezone(z).utcoffset()
        if off != prev:
            out.append(d)
        prev = off
    return out


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    c = db.connect(tmp_path_factory.mktemp("zones") / "w.duckdb", spatial=False)
    c.execute("CREATE SCHEMA marts")
    write_agency_zones(c, {f"a{i}": z for i, z in enumerate(ZONES)})
    return c


@pytest.mark.parametrize("zone", ZONES)
def test_local_time_through_the_day_table_is_icus(con, zone):
    agency = f"a{ZONES.index(zone)}"
    starts = [c - timedelta(days=2) for c in _changes(zone)]
    con.execute("CREATE OR REPLACE TEMP TABLE t AS "
                "SELECT s + to_microseconds(k * 433000123) AS ts, false AS plain "
                "FROM unnest(?::TIMESTAMPTZ[]) u(s), range(800) r(k) "
                "UNION ALL SELECT TIMESTAMPTZ '1995-01-01 00:00:00+00' + to_microseconds(CAST(random() * 1.9e15 "
                "AS BIGINT)), true FROM range(50000) "
                "UNION ALL SELECT NULL, false", [starts])
    n, differ, plain_in_table, through_table = con.execute(
        """SELECT count(*), count(*) FILTER (WHERE sara_local(t.ts, o.utc_offset_us, z.timezone)
                                              IS DISTINCT FROM timezone(z.timezone, t.ts)),
                  count(*) FILTER (WHERE t.plain AND t.ts >= TIMESTAMPTZ '2000-01-01 00:00:00+00'
                                   AND t.ts < TIMESTAMPTZ '2050-01-01 00:00:00+00'),
                  count(o.utc_offset_us) FILTER (WHERE t.plain)
           FROM t JOIN marts.agency_zones z ON z.agency = ?
           LEFT JOIN marts.agency_utc_offsets o ON o.agency = z.agency AND o.utc_day = sara_utc_day(t.ts)""",
        [agency]).fetchone()
    assert n > 50_000 and differ == 0
    # the random instants of 2000-2049 are nearly all read through the table (ICU only within a day of a
    # change, at most 4 days in 365): the check above is of the fast path, not of ICU against itself
    assert through_table > 0.95 * plain_in_table


def test_days_of_a_change_have_no_row(con):
    # America/Chicago sprang forward on 2024-03-10 at 08:00 UTC: that UTC day has no row (ICU reads it), the
    # days well before and after do, with CST and CDT
    day = {d: o for d, o in con.execute(
        "SELECT utc_day, utc_offset_us FROM marts.agency_utc_offsets WHERE agency = 'a1'").fetchall()}
    n = (date(2024, 3, 10) - date(1970, 1, 1)).days
    assert n not in day
    assert day[n - 5] == -6 * 3_600_000_000 and day[n + 5] == -5 * 3_600_000_000
    # UTC has a row for every day of 2000-2049
    assert con.execute("SELECT count(*) FROM marts.agency_utc_offsets WHERE agency = 'a9'").fetchone()[0] == 18_263


def test_every_connection_has_the_macros(tmp_path):
    c = duckdb.connect()  # a plain connection has no such macro ...
    with pytest.raises(duckdb.CatalogException):
        c.execute("SELECT sara_utc_day(now())")
    w = db.connect(tmp_path / "w.duckdb", spatial=False)  # ... sara's has
    assert w.execute("SELECT sara_utc_day(TIMESTAMPTZ '1970-01-02 00:00:00+00')").fetchone()[0] == 1
