"""The dimensions every mart shares, the dates each mart family needs, and marts.events.

- dataset         calls or incidents
- category_group  named groups of call_category / offense_category from config ('*' = every category)
- origin          all, community, officer, unknown (unknown is its own share, never folded in)
- window_days     windows ending at each agency's own as_of (marts.periods), counted on local dates of event_at

Every window is per agency: an agency's as_of is the last complete local day of its own data minus the data
lag, or a date from config (transforms/marts/periods.py), never "now" itself; an agency without one has no
windows and no events in the marts. Void and non-countable records are left out of every mart
(marts.events); marts.event_dims fans each event out to the category groups and origin dimensions it
belongs to.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb
import polars as pl

from transforms.config import Settings
from transforms.marts import event_days, events
from transforms.marts.models import run_model
from transforms.marts.periods import agency_ends
from transforms.marts.write import Mart, write_mart
from transforms.warehouse.dst import utc_day_offsets

PERIODS = ("week", "28d", "ytd")  # the CompStat periods

AGENCY_ZONES = Mart("agency_zones", "agency VARCHAR, timezone VARCHAR", "agency -> IANA time zone, for local dates",
    column_comments={
        "timezone": "the agency's IANA time zone (config [agencies.<code>] timezone): local dates and "
                    "*_local times",
    })
AGENCY_UTC_OFFSETS = Mart(
    "agency_utc_offsets", "agency VARCHAR, utc_day INTEGER, utc_offset_us BIGINT",
    "one row per agency and UTC day (2000-2049) on which its zone keeps one UTC offset all day, as DuckDB's ICU "
    "reads it: the marts read local times through it (macro sara_local, transforms/warehouse/dst.py); a day "
    "within a day of a change of offset has no row, and a time on it goes through ICU itself",
    column_comments={
        "utc_day": "the UTC day, as days since 1970-01-01",
        "utc_offset_us": "the zone's offset that whole day: local wall clock minus UTC, microseconds",
    })
CATEGORY_GROUPS = Mart("category_groups", "dataset VARCHAR, category_group VARCHAR, category VARCHAR",
                       "named groups of categories per dataset; category '*' means every category",
    column_comments={
        "category_group": "the group's name (defaults: all, violent, property, burglary, disorder; plus "
                          "config)",
        "category": "a sara category (call_category or offense_category) in the group; '*' = every category",
    })
WINDOWS = Mart("windows", "agency VARCHAR, window_days BIGINT, start_date DATE, end_date DATE",
               "analysis windows per agency: local dates start_date..end_date (inclusive), ending at the agency's "
               "as_of (marts.periods)",
    column_comments={
        "start_date": "first local date of the window (agency zone), inclusive",
        "end_date": "last local date of the window, inclusive: the agency's as_of",
    })
HORIZON = Mart("horizon", "agency VARCHAR, needed_by VARCHAR, first_date DATE, is_first BOOLEAN",
               "per agency, the first local date each mart family needs; marts.events (and so every mart) holds "
               "the agency's events from the earliest of them (is_first) on",
    column_comments={
        "needed_by": "the mart family that needs the date, by its setting: windows_days, repeat_window_days, "
                     "ehsa_steps, prediction_period_days, kde_windows_days, compstat (...) or problem <name>",
        "first_date": "the first local date (agency zone) that family reads",
        "is_first": "this is the agency's earliest first_date: marts.events starts there",
    })


def ehsa_first_day(settings: Settings, as_of: date) -> date:
    """The first local date of the emerging hot spot cube (ehsa_steps weeks or months ending at as_of)."""
    an = settings.sara.analysis
    T = an.ehsa_steps
    if an.ehsa_step == "week":
        return as_of - timedelta(days=7 * T - 1)
    y, m = as_of.year, as_of.month - (T - 1)
    while m <= 0:
        y, m = y - 1, m + 12
    return date(y, m, 1)


def last_year(d: date) -> date:
    """The same calendar date one year earlier; Feb 29 -> Feb 28."""
    if d.month == 2 and d.day == 29:
        return date(d.year - 1, 2, 28)
    return d.replace(year=d.year - 1)


def periods(as_of: date) -> list[tuple[str, date, date, date, date]]:
    """CompStat's (period, start, end, last_year_start, last_year_end) for week, 28d and ytd ending at as_of."""
    starts = {"week": as_of - timedelta(days=6), "28d": as_of - timedelta(days=27), "ytd": date(as_of.year, 1, 1)}
    return [(p, starts[p], as_of, last_year(starts[p]), last_year(as_of)) for p in PERIODS]


def horizon(settings: Settings, as_of: date, problem_list: list | None = None) -> dict[str, date]:
    """The first local date each mart family needs, ending at as_of. The marts read events from the
    earliest of them on (marts.events), so a night's mart cost grows with the windows, not with history."""
    an = settings.sara.analysis
    need = {
        "windows_days": as_of - timedelta(days=max(settings.sara.windows_days) - 1),
        "repeat_window_days": as_of - timedelta(days=an.repeat_window_days - 1),
        "kde_windows_days": as_of - timedelta(days=max(an.kde_windows_days, default=1) - 1),
        "ehsa_steps": ehsa_first_day(settings, as_of),
        "prediction_period_days": as_of - timedelta(days=2 * an.prediction_period_days - 1),
        "compstat (ytd and the same period last year)": min(min(s, ls) for _, s, _, ls, _ in periods(as_of)),
    }
    for p in problem_list or []:
        need[f"problem {p.name}"] = min(p.pre.start, p.post.start)
    return need


def write_agency_zones(con: duckdb.DuckDBPyConnection, zones: dict[str, str]) -> None:
    """marts.agency_zones and marts.agency_utc_offsets for {agency: IANA zone}, each zone's days read once."""
    write_mart(con, AGENCY_ZONES, pl.DataFrame({"agency": list(zones), "timezone": list(zones.values())},
                                               schema={"agency": pl.String, "timezone": pl.String}))
    days = {z: utc_day_offsets(con, z) for z in sorted(set(zones.values()))}
    write_mart(con, AGENCY_UTC_OFFSETS, pl.DataFrame(
        [(a, d, o) for a, z in zones.items() for d, o in days[z]], schema=AGENCY_UTC_OFFSETS.names, orient="row"))


def write_config_dimensions(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.agency_zones and marts.category_groups, from config."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    write_agency_zones(con, {code: a.timezone for code, a in settings.sara.agencies.items()})
    rows = [(ds, g, c) for ds, groups in settings.sara.analysis.category_groups.items()
            for g, cats in groups.items() for c in cats]
    write_mart(con, CATEGORY_GROUPS, pl.DataFrame(rows, schema=CATEGORY_GROUPS.names, orient="row"))


def build_dimensions(con: duckdb.DuckDBPyConnection, settings: Settings, problem_list: list | None = None,
                     as_of: date | None = None) -> dict:
    """marts.windows, marts.horizon, marts.events, marts.event_days and the marts.event_dims view, each agency
    ending at its own as_of (marts.periods; a date given here ends every agency's). Returns what marts.events'
    build did (transforms/marts/events.py)."""
    ends = agency_ends(con, as_of)
    days = settings.sara.windows_days
    write_mart(con, WINDOWS, WINDOWS.frame([(code, d, end - timedelta(days=d - 1), end)
                                            for code, end in ends.items() for d in days]))
    rows = []
    for code, end in ends.items():  # a tracked problem reaches back for its own agency only
        need = horizon(settings, end, [p for p in problem_list or [] if p.agency == code])
        first = min(need.values())
        rows += [(code, k, d, d == first) for k, d in need.items()]
    hz = HORIZON.frame(rows).sort(["agency", "first_date", "needed_by"])
    write_mart(con, HORIZON, hz)
    first = hz["first_date"].min()
    # a UTC bound a day early (no zone is a day off UTC) lets the scan skip old row groups; the exact bound
    # is on the local date (no agency with an as_of: no bound, and no events, since none has a horizon)
    did = events.build_events(
        con, None if first is None else datetime(first.year, first.month, first.day) - timedelta(days=1))
    event_days.build_event_days(con)
    run_model(con, "event_dims")
    return did
