"""marts.near_repeat and marts.near_repeat_events: what happens next door, per configured category group.

- marts.near_repeat         the Knox test per agency, dataset and `knox_groups` category group over the
                            repeat window (transforms.stats.knox)
- marts.near_repeat_events  each event's label (originator / repeat / near_repeat / isolated) and chain
                            (transforms.stats.near_repeat_labels)
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from transforms.config import Settings
from transforms.marts.frames import groups
from transforms.marts.models import read_model
from transforms.marts.periods import agency_ends, day_ranges
from transforms.marts.write import Mart, write_mart
from transforms.stats.knox import knox_test
from transforms.stats.near_repeat_labels import label_events

KNOX_SEED = 20240601  # fixed, so a night's permutations (and p-values) are the same on every rerun

NEAR_REPEAT = Mart(
    "near_repeat",
    "space_lo DOUBLE, space_hi DOUBLE, time_lo DOUBLE, time_hi DOUBLE, observed BIGINT, expected_mean DOUBLE, "
    "expected_median DOUBLE, knox_ratio DOUBLE, p_value DOUBLE, z DOUBLE, p_note VARCHAR, agency VARCHAR, "
    "dataset VARCHAR, category_group VARCHAR, n_events BIGINT",
    "Knox test per agency, dataset and configured category group over the repeat window: pairs of events per "
    "space band (metres, Manhattan) x time band (days); observed, expected mean/median under permutation of "
    "event times over fixed locations, knox_ratio, p_value = (#sim >= obs + 1)/(perms + 1), z; the open last "
    "distance band and the open last time band have no p_value or z (NULL, p_note says why: their counts mirror "
    "the closed bands, since the pairs per time band and per distance band are fixed under permutation)",
    column_comments={
        "space_lo": "the distance band's lower bound, metres (Manhattan distance between the events' points)",
        "space_hi": "its upper bound, metres (inf for the open last band)",
        "time_lo": "the time band's lower bound, days between the events",
        "time_hi": "its upper bound, days (inf for the open last band)",
        "observed": "pairs of events in the band",
        "expected_mean": "mean pairs over the permutations of event times over fixed places",
        "expected_median": "median pairs over the permutations",
        "knox_ratio": "observed / expected_mean (> 1: more pairs close in space and time than chance)",
        "p_value": "(permutations with at least the observed pairs + 1) / (permutations + 1); null for the "
                   "open last distance or time band",
        "z": "(observed - mean) / standard deviation of the permutations; null for the open bands",
        "p_note": "why p_value and z are null (the open bands' counts mirror the closed bands'); null "
                  "otherwise",
        "category_group": "the configured near-repeat group ([analysis] knox_groups)",
        "n_events": "located events of the group in the repeat window (the test's input)",
    })
NEAR_REPEAT_EVENTS = Mart(
    "near_repeat_events",
    "label VARCHAR, chain_id BIGINT, n_in_chain BIGINT, source VARCHAR, event_id VARCHAR, agency VARCHAR, "
    "dataset VARCHAR, category_group VARCHAR",
    "each event of a near-repeat category group: originator (starts a chain), repeat (same location within "
    "T days of an earlier event), near_repeat (within D metres and T days of an earlier one) or isolated; "
    "chain_id = connected component of events linked within D and T (as ptools near_strings)",
    column_comments={
        "label": "originator (starts a chain), repeat (same place within T days of an earlier event), "
                 "near_repeat (within D metres and T days of an earlier one) or isolated",
        "chain_id": "connected component of events linked within D (near_repeat_distance_m) and T "
                    "(near_repeat_days); an isolated event has its own",
        "n_in_chain": "events in the chain (1 = isolated)",
        "category_group": "the configured near-repeat group ([analysis] knox_groups)",
    })


def build_near_repeat(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> None:
    """The Knox test and per-event labels for each configured category group, per agency, over its repeat
    window ending at its as_of (or at the date given)."""
    an = settings.sara.analysis
    ranges = day_ranges(agency_ends(con, as_of), lambda end: end - timedelta(days=an.repeat_window_days - 1))
    ev = read_model(con, "inputs/knox_events", ranges=ranges)  # ordered: see the model
    tables, labels = [], []
    for group in an.knox_groups:
        for (agency, dataset), g in groups(ev.filter(pl.col("category_group") == group), ["agency", "dataset"]):
            if len(g) < 3:
                continue
            x, y, t = g["x"].to_numpy(), g["y"].to_numpy(), g["t_days"].to_numpy()
            # NOTE: whole local days for every event, so unknown_time events take part at day resolution
            kt = knox_test(x, y, t, an.knox_space_bands, an.knox_time_bands, metric="manhattan",
                           perms=an.knox_perms, seed=KNOX_SEED)
            tables.append(kt.with_columns(agency=pl.lit(agency), dataset=pl.lit(dataset),
                                          category_group=pl.lit(group), n_events=pl.lit(len(g))))
            lab = label_events(x, y, t, g["location_key"].to_numpy(), an.near_repeat_distance_m,
                               an.near_repeat_days)
            idx = lab["event_index"]
            labels.append(lab.with_columns(source=g["source"].gather(idx), event_id=g["event_id"].gather(idx),
                                           agency=pl.lit(agency), dataset=pl.lit(dataset),
                                           category_group=pl.lit(group)).drop("event_index"))
    write_mart(con, NEAR_REPEAT, pl.concat(tables, how="vertical_relaxed") if tables else None)
    write_mart(con, NEAR_REPEAT_EVENTS, pl.concat(labels, how="vertical_relaxed") if labels else None)
