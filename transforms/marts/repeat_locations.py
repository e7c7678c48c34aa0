"""marts.repeat_locations: which places keep coming back (sql/marts/repeat_location_rows.sql).

One row per agency x location_key x dataset x category group x origin with an event in the repeat window
(`repeat_window_days` ending at the agency's as_of): counts per window (n_<days>d), first and last seen,
distinct days, rank, the 80/20 table, is_repeat (at least `repeat_min_events` events in the repeat window) and
a label to show for the place (transforms/marts/location_labels.py: a place without an address is named after
its nearest street).

The counts are read from marts.location_days, the per-day aggregate kept between nights, and kept per place
between nights too (marts.repeat_places, sql/marts/repeat_places.sql): a night makes again only the places
whose days in a count window changed, the places on a day that entered or left a window and the places
marts.location_days rebuilt (sql/marts/repeat_place_scope.sql); then ranks the kept places per count
(marts.repeat_place_ranks: one row per count, as places with the same count share their rank and 80/20 shares),
marts.repeat_location_rows being a view that joins each place to its count's row
(sql/marts/repeat_location_rows.sql): a night never writes a row per place for the ranking. Everything is made again when what the places depend on changed (the
windows, the category groups, the aggregate's signature; the state in marts.build_info), when the aggregate
changed in a way this connection did not see (a night of agency parts, a step run alone), or when the places to
make again are more than a tenth of the kept rows. The result equals a build from scratch
(tests/integration/test_incremental_marts.py).
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb

from transforms.config import Settings
from transforms.marts import location_days
from transforms.marts.location_labels import build_location_labels
from transforms.marts.models import run_model
from transforms.marts.periods import agency_ends
from transforms.marts.write import comment_columns, create_build_info
from transforms.warehouse.sqlutil import qstr, relation_columns, relation_comments, relation_exists

STATE_KEY = "repeat_places_state"
STATE_VERSION = 1  # raise when marts.repeat_places' columns or grain change: every warehouse makes it again
REDO_SHARE = 0.1  # more places to make again than this share of the kept rows: make every place


def count_windows(settings: Settings) -> list[int]:
    """The windows counted per place (n_<days>d): the analysis windows and the repeat window, ascending."""
    return sorted(set(settings.sara.windows_days) | {settings.sara.analysis.repeat_window_days})


def window_counts_sql(windows: list[int]) -> str:
    """The aggregate columns n_<days>d of sql/marts/repeat_location_rows.sql: countable events fewer than `days`
    local days before the agency's as_of (dates as_of - days + 1 .. as_of), one per window, from integers only."""
    return "".join(f"cast(coalesce(sum(n_countable) filter (where as_of - local_date < {int(w)}), 0) "
                   f"as bigint) as n_{int(w)}d,\n           " for w in windows)


def build_repeat_locations(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> dict:
    """marts.location_labels, marts.repeat_places (kept), marts.repeat_place_ranks and the views
    marts.repeat_location_rows and marts.repeat_locations, each agency's windows ending at its as_of (or at the date given), from
    marts.location_days (build it first: transforms/marts/location_days.py). Returns {"rebuilt": bool,
    "places": places made again (None when every place was)}."""
    an = settings.sara.analysis
    build_location_labels(con, settings)
    windows = count_windows(settings)
    ends = agency_ends(con, as_of)
    ranges = [{"agency": a, "as_of": end, "first_date": end - timedelta(days=max(windows) - 1),
               "repeat_first_date": end - timedelta(days=an.repeat_window_days - 1)} for a, end in ends.items()]
    state = _state(con, settings, ends)
    moved = _moved(con, state, windows)
    places = None
    if moved is not None:
        run_model(con, "repeat_place_scope", moved=moved)
        places = con.execute("SELECT count(*) FROM _rl_scope").fetchone()[0]
        if places > REDO_SHARE * con.execute("SELECT count(*) FROM marts.repeat_places").fetchone()[0]:
            places = None
    if places is None:
        con.execute("DROP TABLE IF EXISTS marts.repeat_places")
        con.execute("CREATE OR REPLACE TEMP TABLE _rl_scope (agency VARCHAR, dataset VARCHAR, location_key VARCHAR)")
    scope = "" if places is None else \
        "semi join _rl_scope s on s.agency = a.agency and s.dataset = a.dataset and s.location_key = a.location_key"
    run_model(con, "repeat_places", fragments={"window_counts": window_counts_sql(windows), "scope": scope},
              ranges=ranges)
    con.execute("DROP TABLE _rl_scope")
    _record(con, state)
    # a warehouse of an older version holds the ranked places as a table (build_all drops it; a step run alone)
    if con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND "
                   "schema_name = 'marts' AND table_name = 'repeat_location_rows'").fetchone()[0]:
        con.execute("DROP TABLE marts.repeat_location_rows")
    run_model(con, "repeat_location_rows", repeat_min_events=an.repeat_min_events)
    rows = set(relation_columns(con, "marts", "repeat_location_rows"))  # the view takes its tables' comments
    for table in ("repeat_places", "repeat_place_ranks"):
        comment_columns(con, "marts.repeat_location_rows",
                        {c: t for c, t in relation_comments(con, "marts", table).items() if c in rows})
    # one count column per window: its comment is made here, with the window's length
    for table in ("repeat_places", "repeat_location_rows"):
        comment_columns(con, f"marts.{table}", {
            f"n_{w}d": f"countable events at the place in the {w} local days (agency zone) ending at the agency's "
                       f"as_of" for w in windows})
    run_model(con, "repeat_locations")
    # the comment names the configured window and threshold, and COMMENT ON takes no bound value
    con.execute(
        "COMMENT ON VIEW marts.repeat_locations IS "
        + qstr(f"one row per agency, location_key, dataset, category group and origin with an event in the last "
               f"{an.repeat_window_days} days: counts of countable events per window (n_<days>d, n_repeat_window; "
               f"cancelled and duplicate calls are not countable), n_repeat_window_all (every non-void event in the "
               f"repeat window, countable or not), first_seen/last_seen (UTC; *_local: local time), "
               f"distinct_days, rank and the 80/20 table (cum_share_events, cum_share_locations: shares at places "
               f"with at least as many events; ties share them) by n_repeat_window, is_repeat = at least {an.repeat_min_events} events in the repeat window; "
               f"location_label = what to show for the place (a place without an address: near its street); "
               f"point = the most frequent located point of the place, analysis CRS"))
    return {"rebuilt": places is None, "places": places}


def _state(con: duckdb.DuckDBPyConnection, settings: Settings, ends: dict[str, date]) -> dict:
    """What marts.repeat_places is a function of, besides marts.location_days' rows: its layout, the windows,
    the category groups, the aggregate's signature and the loads it folded in, each agency's as_of."""
    groups = con.execute("SELECT * FROM marts.category_groups ORDER BY ALL").fetchall()
    state = {"version": STATE_VERSION, "windows": count_windows(settings),
             "repeat_window_days": settings.sara.analysis.repeat_window_days, "groups": [list(g) for g in groups],
             "location_days": location_days.signature(con), "folded": location_days.folded(con),
             "ends": {a: end.isoformat() for a, end in ends.items()}}
    return json.loads(json.dumps(state, sort_keys=True, default=str))  # as it reads back from build_info


def _record(con: duckdb.DuckDBPyConnection, state: dict) -> None:
    create_build_info(con)
    con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)", [STATE_KEY, json.dumps(state, sort_keys=True)])


def record_merged(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """After a night of agency parts: the places the parts made, merged, are the whole file's as a local night
    makes them (marts.location_days and the as_of of every agency are the whole file's), so the next local
    night goes on from them."""
    _record(con, _state(con, settings, agency_ends(con)))


def _moved(con: duckdb.DuckDBPyConnection, state: dict, windows: list[int]) -> list[dict] | None:
    """The (agency, local_date) that entered or left a count window since marts.repeat_places was made, when it
    can be brought up to date from them and the places marts.location_days rebuilt in this connection (the
    temporary tables it leaves); None when every place must be made again."""
    if not relation_exists(con, "marts", "repeat_places"):
        return None
    row = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [STATE_KEY]).fetchone()
    old = json.loads(row[0]) if row else {}
    if {k: v for k, v in old.items() if k not in ("folded", "ends")} != \
            {k: v for k, v in state.items() if k not in ("folded", "ends")} or old["ends"].keys() != state["ends"].keys():
        return None
    if old["folded"] != state["folded"]:  # the aggregate changed: the places it rebuilt since must be known
        span = con.execute("SELECT folded_before, folded_after FROM location_day_changed_span").fetchone() \
            if relation_exists(con, "main", "location_day_changed_span", "temp") else None
        if span != (old["folded"], state["folded"]):
            return None
    else:
        con.execute("CREATE TEMP TABLE IF NOT EXISTS location_day_changed "
                    "(agency VARCHAR, dataset VARCHAR, location_key VARCHAR)")
    moved = []
    for agency, end in state["ends"].items():
        a, b = date.fromisoformat(old["ends"][agency]), date.fromisoformat(end)
        if abs((b - a).days) > max(windows):
            return None
        days: set[date] = set()
        for w in windows:  # the days in one of the two windows (end - w, end] and not in the other
            days |= {a - timedelta(days=i) for i in range(w)} ^ {b - timedelta(days=i) for i in range(w)}
        moved += [{"agency": agency, "local_date": d} for d in sorted(days)]
    return moved
