"""marts.repeat_locations: which places keep coming back (sql/marts/repeat_location_rows.sql).

One row per agency x location_key x dataset x category group x origin with an event in the repeat window
(`repeat_window_days` ending at the agency's as_of): counts per window (n_<days>d), first and last seen,
distinct days, rank, the 80/20 table, is_repeat (at least `repeat_min_events` events in the repeat window) and
a label to show for the place (transforms/marts/location_labels.py: a place without an address is named after
its nearest street).

The counts are read from marts.location_days, the per-day aggregate kept between nights, so a night's cost
is that of the days it touched plus one pass over the aggregate's rows in the longest window.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb

from transforms.config import Settings
from transforms.marts.location_labels import build_location_labels
from transforms.marts.models import run_model
from transforms.marts.periods import agency_ends
from transforms.marts.write import comment_columns
from transforms.warehouse.sqlutil import qstr


def count_windows(settings: Settings) -> list[int]:
    """The windows counted per place (n_<days>d): the analysis windows and the repeat window, ascending."""
    return sorted(set(settings.sara.windows_days) | {settings.sara.analysis.repeat_window_days})


def window_counts_sql(windows: list[int]) -> str:
    """The aggregate columns n_<days>d of sql/marts/repeat_location_rows.sql: countable events fewer than `days`
    local days before the agency's as_of (dates as_of - days + 1 .. as_of), one per window, from integers only."""
    return "".join(f"cast(coalesce(sum(n_countable) filter (where as_of - local_date < {int(w)}), 0) "
                   f"as bigint) as n_{int(w)}d,\n           " for w in windows)


def build_repeat_locations(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> None:
    """marts.location_labels, marts.repeat_location_rows and the marts.repeat_locations view, each agency's
    windows ending at its as_of (or at the date given), from marts.location_days (build it first:
    transforms/marts/location_days.py)."""
    an = settings.sara.analysis
    build_location_labels(con, settings)
    windows = count_windows(settings)
    ranges = [{"agency": a, "as_of": end, "first_date": end - timedelta(days=max(windows) - 1),
               "repeat_first_date": end - timedelta(days=an.repeat_window_days - 1)}
              for a, end in agency_ends(con, as_of).items()]
    run_model(con, "repeat_location_rows", fragments={"window_counts": window_counts_sql(windows)},
              ranges=ranges, repeat_min_events=an.repeat_min_events)
    # one count column per window: its comment is made here, with the window's length
    comment_columns(con, "marts.repeat_location_rows", {
        f"n_{w}d": f"countable events at the place in the {w} local days (agency zone) ending at the agency's as_of"
        for w in windows})
    run_model(con, "repeat_locations")
    # the comment names the configured window and threshold, and COMMENT ON takes no bound value
    con.execute(
        "COMMENT ON VIEW marts.repeat_locations IS "
        + qstr(f"one row per agency, location_key, dataset, category group and origin with an event in the last "
               f"{an.repeat_window_days} days: counts of countable events per window (n_<days>d, n_repeat_window; "
               f"cancelled and duplicate calls are not countable), n_repeat_window_all (every non-void event in the "
               f"repeat window, countable or not), first_seen/last_seen (UTC; *_local: local time), "
               f"distinct_days, rank and the 80/20 table (cum_share_events, cum_share_locations) by "
               f"n_repeat_window, is_repeat = at least {an.repeat_min_events} events in the repeat window; "
               f"location_label = what to show for the place (a place without an address: near its street); "
               f"point = the most frequent located point of the place, analysis CRS"))
