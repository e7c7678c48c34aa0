"""Marts behind "which addresses, and what happens next door" (issue 4).

- marts.repeat_locations    one row per location_key x dataset x category group x origin (and agency)
- marts.concentration       Gini, generalized Gini and the 25/50/80 % shares over full unit sets (street
                            segments, grid cells) and, for addresses, the shares that hold without a zero universe
- marts.concentration_lorenz  Lorenz-curve points for the report
- marts.temporal_profile    hour-of-week counts (168 slots), aoristic for incident windows
- marts.near_repeat         the Knox test per configured category group and agency
- marts.near_repeat_events  each event's label (originator / repeat / near_repeat / isolated) and chain
Windows end at as_of like every mart; the repeat window is `repeat_window_days`.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import pandas as pd
import polars as pl

from transforms.config import Settings
from transforms.marts.build import write_mart
from transforms.warehouse.sqlutil import qstr

UNIVERSE_UNITS = ("street", "grid")  # unit types with a full set of places (zero-event units included)


def _grouped_events(con: duckdb.DuckDBPyConnection, start: date, end: date, located_only: bool = False) -> str:
    """SQL of events on local dates start..end, one row per category group and origin dimension."""
    return f"""
        SELECT e.*, g.category_group, o.origin_dim
        FROM marts.events e
        JOIN marts.category_groups g ON g.dataset = e.dataset AND (g.category = '*' OR g.category = e.category)
        , (SELECT unnest(['all', 'community', 'officer', 'unknown']) AS origin_dim) o
        WHERE (o.origin_dim = 'all' OR o.origin_dim = e.origin)
          AND e.local_date BETWEEN DATE '{start.isoformat()}' AND DATE '{end.isoformat()}'
          {"AND e.is_located" if located_only else ""}"""


def build_repeat_locations(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    an = settings.sara.analysis
    windows = sorted(set(settings.sara.windows_days) | {an.repeat_window_days})
    longest = max(windows)
    start = as_of - timedelta(days=longest - 1)
    rep_start = as_of - timedelta(days=an.repeat_window_days - 1)
    counts = ", ".join(
        f"count(*) FILTER (WHERE local_date >= DATE '{(as_of - timedelta(days=w - 1)).isoformat()}') AS n_{w}d"
        for w in windows)
    con.execute(f"""
        CREATE OR REPLACE TABLE marts.repeat_location_rows AS
        WITH ev AS ({_grouped_events(con, start, as_of)}),
        per_location AS (
          SELECT agency, dataset, category_group, origin_dim AS origin, location_key,
                 -- ties go to the smallest value, so the result does not depend on row order
                 mode(address_block ORDER BY address_block) AS address_block,
                 mode(CASE WHEN is_located THEN struct_pack(x := x, y := y, lon := lon, lat := lat) END
                      ORDER BY x, y) AS pt,
                 {counts},
                 count(*) FILTER (WHERE local_date >= DATE '{rep_start.isoformat()}') AS n_repeat_window,
                 min(event_at) AS first_seen, max(event_at) AS last_seen, count(DISTINCT local_date) AS distinct_days
          FROM ev WHERE location_key IS NOT NULL
          GROUP BY ALL),
        ranked AS (
          SELECT *,
            rank() OVER w AS rank,
            sum(n_repeat_window) OVER (w ROWS UNBOUNDED PRECEDING) /
              sum(n_repeat_window) OVER (PARTITION BY agency, dataset, category_group, origin) AS cum_share_events,
            row_number() OVER w / count(*) OVER (PARTITION BY agency, dataset, category_group, origin)
              AS cum_share_locations
          FROM per_location WHERE n_repeat_window > 0
          WINDOW w AS (PARTITION BY agency, dataset, category_group, origin
                       ORDER BY n_repeat_window DESC, location_key))
        SELECT * EXCLUDE (pt), pt.x AS x, pt.y AS y, pt.lon AS lon, pt.lat AS lat,
               n_repeat_window >= {int(an.repeat_min_events)} AS is_repeat
        FROM ranked""")
    con.execute(
        """CREATE OR REPLACE VIEW marts.repeat_locations AS
           SELECT r.*, CASE WHEN r.x IS NOT NULL THEN ST_Point(r.x, r.y) END AS geom
           FROM marts.repeat_location_rows r""")
    con.execute("COMMENT ON TABLE marts.repeat_location_rows IS 'the rows of marts.repeat_locations without geometry'")
    con.execute(
        "COMMENT ON VIEW marts.repeat_locations IS "
        + qstr(f"one row per agency, location_key, dataset, category group and origin with an event in the last "
               f"{an.repeat_window_days} days: counts per window (n_<days>d), first_seen/last_seen (UTC), "
               f"distinct_days, rank and the 80/20 table (cum_share_events, cum_share_locations) by "
               f"n_repeat_window, is_repeat = at least {an.repeat_min_events} events in the repeat window; "
               f"point = the most frequent located point of the place, analysis CRS"))


def build_concentration(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    from transforms.stats.concentration import concentration_summary, lorenz_points, top_share

    an = settings.sara.analysis
    start = as_of - timedelta(days=an.repeat_window_days - 1)
    units = con.execute("SELECT agency, unit_type, unit_id FROM marts.units WHERE unit_type IN "
                        f"({', '.join(qstr(u) for u in UNIVERSE_UNITS)})").df()
    counts = con.execute(f"""
        WITH ev AS ({_grouped_events(con, start, as_of, located_only=True)} AND e.origin IS NOT NULL)
        SELECT ev.agency, ev.dataset, ev.category_group, eu.unit_type, eu.unit_id, count(*) AS n
        FROM ev JOIN marts.event_units eu USING (dataset, source, event_id)
        WHERE ev.origin_dim = 'all' AND eu.unit_id IS NOT NULL AND eu.unit_type IN ('street', 'grid')
        GROUP BY ALL""").df()
    loc = con.execute("""SELECT agency, dataset, category_group, n_repeat_window AS n, is_repeat
                         FROM marts.repeat_location_rows WHERE origin = 'all'""").df()
    rows, lorenz = [], []
    for (agency, unit_type), u in units.groupby(["agency", "unit_type"]):
        pos = pd.Series(np.arange(len(u)), index=u["unit_id"].to_numpy())
        c = counts[(counts["agency"] == agency) & (counts["unit_type"] == unit_type)]
        for (dataset, group), g in c.groupby(["dataset", "category_group"]):
            y = np.zeros(len(u))
            y[pos[g["unit_id"]].to_numpy()] = g["n"].to_numpy()
            s = concentration_summary(y)
            rows.append({"agency": agency, "dataset": dataset, "category_group": group, "unit_type": unit_type,
                         **s, "share_events_at_repeat_locations": None, "share_events_top_1pct": top_share(y, 0.01),
                         "share_events_top_5pct": top_share(y, 0.05), "share_events_top_10pct": top_share(y, 0.10)})
            lp = lorenz_points(y).to_pandas()
            lorenz.append(lp.assign(agency=agency, dataset=dataset, category_group=group, unit_type=unit_type))
    for (agency, dataset, group), g in loc.groupby(["agency", "dataset", "category_group"]):
        y = g["n"].to_numpy(dtype=float)
        # NOTE: addresses have no zero-event universe, so no Gini: only the shares that hold over places with events
        rows.append({"agency": agency, "dataset": dataset, "category_group": group, "unit_type": "location",
                     "n_units": len(y), "n_events": int(y.sum()), "share_units_25": None, "share_units_50": None,
                     "share_units_80": None, "gini": None, "generalized_gini": None,
                     "share_events_at_repeat_locations": float(y[g["is_repeat"].to_numpy()].sum() / y.sum()),
                     "share_events_top_1pct": top_share(y, 0.01), "share_events_top_5pct": top_share(y, 0.05),
                     "share_events_top_10pct": top_share(y, 0.10)})
    df = pd.DataFrame(rows)
    if df.empty:
        df = pd.DataFrame({c: pd.Series(dtype=float) for c in ("n_units", "n_events", "gini")}).assign(
            agency="", dataset="", category_group="", unit_type="").iloc[:0]
    df["window_days"] = an.repeat_window_days
    write_mart(con, "concentration", df,
           "crime concentration per agency, dataset, category group and unit type over the repeat window: over "
           "every street segment / grid cell (zero-event units included) the shares of units holding 25/50/80 % of "
           "events, the Gini and the generalized Gini G' = max(1, U/E)(G - 1) + 1 (Bernasco & Steenbeek 2017); for "
           "locations (addresses, no zero universe) the share of events at repeat locations and at the top "
           "1/5/10 % of locations with any event")
    ldf = pd.concat(lorenz, ignore_index=True) if lorenz else pd.DataFrame(
        {"share_units": pd.Series(dtype=float), "share_events": pd.Series(dtype=float)})
    write_mart(con, "concentration_lorenz", ldf, "Lorenz-curve points (share of units, highest first; share of events)")


def build_temporal_profile(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    """Hour-of-week profile per agency, dataset, category group and unit (the agency, beats, districts)."""
    from transforms.stats.aoristic import exact_profile

    an = settings.sara.analysis
    start = as_of - timedelta(days=an.repeat_window_days - 1)
    ev = con.execute(f"""
        WITH ev AS ({_grouped_events(con, start, as_of)}),
        with_to AS (
          SELECT ev.*, z.timezone FROM ev JOIN marts.agency_zones z ON z.agency = ev.agency)
        SELECT agency, dataset, category_group, time_precision, beat, district,
               CAST(timezone(timezone, event_at) AS TIMESTAMP) AS start_local,
               CAST(timezone(timezone, occurred_to) AS TIMESTAMP) AS end_local
        FROM with_to WHERE origin_dim = 'all'""").df()
    out = []
    # one profile call per agency, dataset and unit type, keyed by "category group|unit"
    for (agency, dataset), g in ev.groupby(["agency", "dataset"]):
        for unit_type, key in (("agency", None), ("beat", "beat"), ("district", "district")):
            sub = g if key is None else g[g[key].notna()]
            if sub.empty:
                continue
            unit = np.full(len(sub), agency, dtype=object) if key is None else sub[key].astype(str).to_numpy()
            keys = pl.Series("k", sub["category_group"].astype(str).to_numpy() + "|" + unit)
            res = exact_profile(sub["start_local"].to_numpy("datetime64[us]"), sub["time_precision"].to_numpy(),
                                end=sub["end_local"].to_numpy("datetime64[us]"), key=keys)
            prof = res.profile.to_pandas()
            split = prof["k"].str.split("|", n=1, expand=True)
            prof = prof.drop(columns=["k"]).assign(category_group=split[0], unit_id=split[1], agency=agency,
                                                   dataset=dataset, unit_type=unit_type)
            left_out = sub[sub["time_precision"] != "exact"].groupby("category_group").size()
            prof["n_left_out"] = prof["category_group"].map(left_out).fillna(0).astype(int)
            out.append(prof)
    df = pd.concat(out, ignore_index=True) if out else pd.DataFrame(
        {"slot": pd.Series(dtype=int), "weight": pd.Series(dtype=float)})
    write_mart(con, "temporal_profile", df,
           "hour-of-week counts (slot 0 = Monday 00:00-01:00 local ... 167 = Sunday 23:00) per agency, dataset, "
           "category group and unit (agency, beat, district) over the repeat window; incident windows "
           "(occurred_from..occurred_to) spread by aoristic weights; events with unknown_time or date_only "
           "precision are left out and counted in n_left_out")


def build_near_repeat(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> None:
    """The Knox test and per-event labels for each configured category group, per agency."""
    from transforms.stats.knox import knox_test
    from transforms.stats.near_repeat_labels import label_events

    an = settings.sara.analysis
    start = as_of - timedelta(days=an.repeat_window_days - 1)
    ev = con.execute(f"""
        WITH ev AS ({_grouped_events(con, start, as_of, located_only=True)})
        SELECT agency, dataset, category_group, source, event_id, x, y, location_key,
               CAST(epoch(CAST(local_date AS TIMESTAMP)) / 86400 AS DOUBLE) AS t_days
        FROM ev WHERE origin_dim = 'all'
        ORDER BY agency, dataset, category_group, source, event_id""").df()  # permutations follow row order
    tables, labels = [], []
    for group in an.knox_groups:
        for (agency, dataset), g in ev[ev["category_group"] == group].groupby(["agency", "dataset"]):
            if len(g) < 3:
                continue
            # NOTE: whole local days for every event, so unknown_time events take part at day resolution
            kt = knox_test(g["x"].to_numpy(), g["y"].to_numpy(), g["t_days"].to_numpy(), an.knox_space_bands,
                           an.knox_time_bands, metric="manhattan", perms=an.knox_perms, seed=20240601).to_pandas()
            tables.append(kt.assign(agency=agency, dataset=dataset, category_group=group, n_events=len(g)))
            lab = label_events(g["x"].to_numpy(), g["y"].to_numpy(), g["t_days"].to_numpy(),
                               g["location_key"].to_numpy(), an.near_repeat_distance_m,
                               an.near_repeat_days).to_pandas()
            lab["source"] = g["source"].to_numpy()[lab["event_index"].to_numpy()]
            lab["event_id"] = g["event_id"].to_numpy()[lab["event_index"].to_numpy()]
            labels.append(lab.drop(columns=["event_index"]).assign(agency=agency, dataset=dataset,
                                                                    category_group=group))
    kdf = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        {"observed": pd.Series(dtype=float), "knox_ratio": pd.Series(dtype=float)})
    write_mart(con, "near_repeat", kdf,
           "Knox test per agency, dataset and configured category group over the repeat window: pairs of events per "
           "space band (metres, Manhattan) x time band (days); observed, expected mean/median under permutation of "
           "event times over fixed locations, knox_ratio, p_value = (#sim >= obs + 1)/(perms + 1), z")
    ldf = pd.concat(labels, ignore_index=True) if labels else pd.DataFrame(
        {"label": pd.Series(dtype=str), "chain_id": pd.Series(dtype=int)})
    write_mart(con, "near_repeat_events", ldf,
           "each event of a near-repeat category group: originator (starts a chain), repeat (same location within "
           "T days of an earlier event), near_repeat (within D metres and T days of an earlier one) or isolated; "
           "chain_id = connected component of events linked within D and T (as ptools near_strings)")
