"""Hot spots per unit: marts.hotspot_counts (non-zero counts, SQL) and marts.hotspots (Getis-Ord Gi*).

Every unit of the study area takes part in Gi* (zero-event units included) and every one is in the output,
for each combination of dataset, category group, origin and window that has at least one event (a
combination with no events at all has nothing to test and no rows). Neighbours: grid cells by integer
offsets (queen, or gi_distance_m), H3 k-ring 1, street segments that touch, polygons by queen contiguity;
self included everywhere (esda's G_Local star=True, binary weights). p is two-sided; p_fdr is
Benjamini-Hochberg over the units of one combination; gi_bin as ArcGIS's Gi_Bin on p_fdr. n is the unit's own
count: Gi* is a neighbourhood statistic, so a unit with n = 0 can be hot through its neighbours alone.

With `[analysis] gi_permutations` > 0, p_sim and gi_bin_sim give conditional permutation inference beside the
normal approximation (transforms/stats/gi_permutation.py; one seeded draw table per agency and unit type,
from `gi_seed`, shared by every combination); both are NULL when it is off.
"""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import shapely

from transforms.config import Settings
from transforms.marts import counts, events, units
from transforms.marts.frames import groups
from transforms.marts.models import run_model
from transforms.marts.write import Mart, create_build_info, write_mart
from transforms.stats import gi_permutation as gp
from transforms.stats import gi_star as gi
from transforms.warehouse.sqlutil import relation_exists

DIMS = ["dataset", "category_group", "origin", "window_days"]
TEXT = ("agency", "unit_type", "unit_id", "dataset", "category_group", "origin")

HOTSPOT_STATS = Mart(
    "hotspot_stats",
    "agency VARCHAR, unit_type VARCHAR, unit_id VARCHAR, dataset VARCHAR, category_group VARCHAR, origin VARCHAR, "
    "window_days BIGINT, n BIGINT, z DOUBLE, p DOUBLE, p_fdr DOUBLE, gi_bin TINYINT, n_neighbors INTEGER, "
    "p_sim DOUBLE, gi_bin_sim TINYINT",
    "the rows of marts.hotspots without geometry",
    nan_is_null=False,
    column_comments={
        "n": "the unit's own events in the window (Gi* looks at the neighbourhood: a unit with n = 0 can be "
             "hot)",
        "z": "Getis-Ord Gi* z (binary weights, self included; = esda G_Local star)",
        "p": "two-sided p of z (normal approximation)",
        "p_fdr": "p after the Benjamini-Hochberg false discovery rate over the units of the combination",
        "gi_bin": "-3..3: hot (+) or cold (-) spot at 99/95/90 % confidence after FDR, 0 = not significant "
                  "(as ArcGIS Gi_Bin)",
        "n_neighbors": "units in the neighbourhood, the unit itself counted",
        "p_sim": "conditional permutation pseudo p, one-sided in the observed tail (gi_permutations > 0; "
                 "else null)",
        "gi_bin_sim": "-3..3 on min(1, 2 p_sim) after FDR (gi_permutations > 0; else null)",
    })


def build_hotspot_counts(con: duckdb.DuckDBPyConnection) -> dict:
    """marts.hotspot_counts: non-zero counts per unit type, unit, dataset, category group, origin, window.

    marts.hotspot_count_rows is kept between nights: when marts.events was updated in this connection from the
    generation the counts were made from, and marts.event_units followed it, a night adds what changed (the days
    that entered or left each window, the records marts.events took again: sql/marts/hotspot_count_update.sql).
    Otherwise, or when the category groups, the windows' lengths or the agencies changed, or a window moved by
    more than MAX_MOVE_DAYS, the counts are made from scratch (sql/marts/hotspot_count_rows.sql). Returns
    {"rebuilt": bool, "days": days that entered or left a window (None when rebuilt)}."""
    create_build_info(con)
    state = _counts_state(con)
    days = _moved_days(con, state)
    if days is not None:
        run_model(con, "hotspot_count_update", days=days[0], old_windows=days[1])
        if not counts.apply_delta(con, "hotspot_count_rows", "_hc_delta", COUNT_KEYS):
            days = None  # a count below zero: the counts were not what the state says; made from scratch
        con.execute("DROP TABLE _hc_delta")
    if days is None:
        run_model(con, "hotspot_count_rows")
    _record(con, state)
    run_model(con, "hotspot_counts")
    return {"rebuilt": days is None, "days": None if days is None else len(days[0])}


def _record(con: duckdb.DuckDBPyConnection, state: dict) -> None:
    con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)", [COUNTS_KEY, json.dumps(state, sort_keys=True)])


def record_merged(con: duckdb.DuckDBPyConnection) -> None:
    """After a night of agency parts: the counts the parts made, merged, are the whole file's as a local night
    makes them from marts.events as merged (its generation recorded first: events.record_merged), so the next
    local night goes on from them."""
    create_build_info(con)
    _record(con, _counts_state(con))


COUNT_KEYS = ["agency", "unit_type", "unit_id", "dataset", "category_group", "origin", "window_days"]
COUNTS_KEY = "hotspot_counts_state"  # build_info: what marts.hotspot_count_rows was made from
COUNTS_VERSION = 1  # raise when the counts' grain or rules change: every warehouse makes them again
MAX_MOVE_DAYS = 31  # a window that moved further than this since the counts were made: made from scratch


def _counts_state(con: duckdb.DuckDBPyConnection) -> dict:
    """What marts.hotspot_count_rows is a function of besides marts.events and marts.event_units: its layout,
    the category groups, the windows (which move night after night), and the generation of marts.events."""
    groups_ = con.execute("SELECT * FROM marts.category_groups ORDER BY ALL").fetchall()
    windows = con.execute("SELECT agency, window_days, start_date, end_date FROM marts.windows ORDER BY ALL").fetchall()
    state = {"version": COUNTS_VERSION, "groups": [list(g) for g in groups_],
             "windows": [[a, int(w), s.isoformat(), e.isoformat()] for a, w, s, e in windows],
             "events": events.generation(con)}
    return json.loads(json.dumps(state, sort_keys=True, default=str))  # as it reads back from build_info


def _moved_days(con: duckdb.DuckDBPyConnection, state: dict) -> tuple[list[dict], list[dict]] | None:
    """The days that entered (+1) or left (-1) each window since the counts were made, and the windows they were
    made for, when the counts can be brought up to date from them; None when they must be made from scratch."""
    if not relation_exists(con, "marts", "hotspot_count_rows"):
        return None
    row = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [COUNTS_KEY]).fetchone()
    old = json.loads(row[0]) if row else {}
    if {k: v for k, v in old.items() if k not in ("windows", "events")} != \
            {k: v for k, v in state.items() if k not in ("windows", "events")}:
        return None
    # marts.events was updated from the counts' generation, and marts.event_units followed that same update
    span = units.followed_span(con)
    if span is None or span[0] != old["events"] or not events.changed_since(con, old["events"]):
        return None
    was = {(a, w): (date.fromisoformat(s), date.fromisoformat(e)) for a, w, s, e in old["windows"]}
    now = {(a, w): (date.fromisoformat(s), date.fromisoformat(e)) for a, w, s, e in state["windows"]}
    if was.keys() != now.keys():
        return None
    days, old_windows = [], []
    for (agency, w), (s0, e0) in was.items():
        s1, e1 = now[(agency, w)]
        if abs((e1 - e0).days) > MAX_MOVE_DAYS or abs((s1 - s0).days) > MAX_MOVE_DAYS:
            return None
        old_windows.append({"agency": agency, "window_days": w, "start_date": s0, "end_date": e0})
        before = {s0 + timedelta(days=i) for i in range((e0 - s0).days + 1)}
        after = {s1 + timedelta(days=i) for i in range((e1 - s1).days + 1)}
        days += [{"agency": agency, "window_days": w, "local_date": d, "sign": 1} for d in sorted(after - before)]
        days += [{"agency": agency, "window_days": w, "local_date": d, "sign": -1} for d in sorted(before - after)]
    return days, old_windows


_NEIGHBORS: dict[tuple, object] = {}


def _neighbors(agency: str, unit_type: str, ids: np.ndarray, geoms: np.ndarray):
    """Neighbour pattern of a non-grid unit set, as gi_star_sparse(prepared=True) takes it (cached per process
    by its ids)."""
    key = (agency, unit_type, hash(tuple(ids)))
    if key not in _NEIGHBORS:
        if unit_type == "h3":
            nb = gi.h3_kring_neighbors(list(ids))
        elif unit_type == "street":
            nb = gi.segment_touch_neighbors(geoms)
        else:
            nb = gi.polygon_queen_neighbors(geoms)
        _NEIGHBORS[key] = gi.neighbor_pattern(nb, len(ids))
    return _NEIGHBORS[key]


class _TextColumn:
    """A text column of the output, dictionary-encoded as it is built: a few distinct values repeated over up
    to millions of rows (the dictionary in order of first appearance)."""

    def __init__(self) -> None:
        self.values: dict[str, int] = {}
        self.parts: list[np.ndarray] = []

    def codes(self, values) -> np.ndarray:
        return np.fromiter((self.values.setdefault(v, len(self.values)) for v in values), dtype=np.int32)

    def repeat(self, value: str, m: int) -> None:
        self.parts.append(np.full(m, self.codes([value])[0], dtype=np.int32))

    def array(self) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(pa.array(np.concatenate(self.parts)),
                                              pa.array(list(self.values), pa.string()))


def build_hotspots(con: duckdb.DuckDBPyConnection, settings: Settings) -> int:
    """marts.hotspot_stats and the marts.hotspots view: Gi* per unit on the counts of every dimension
    combination. Returns the number of rows."""
    an = settings.sara.analysis
    offsets = gi.grid_offsets(an.cell_size_m, an.gi_distance_m)
    units = con.execute("SELECT agency, unit_type, unit_id, ix, iy, ST_AsWKB(geom) AS wkb FROM marts.units "
                        "ORDER BY agency, unit_type, unit_id").pl()
    counts = con.execute("SELECT * FROM marts.hotspot_count_rows").pl()
    count_sets = dict(groups(counts, ["agency", "unit_type"]))
    perms = an.gi_permutations
    text = {k: _TextColumn() for k in TEXT}
    cols: dict[str, list] = {k: [] for k in ("window_days", "n", "z", "p", "p_fdr", "gi_bin", "n_neighbors",
                                             "p_sim", "gi_bin_sim")}
    for (agency, unit_type), u in groups(units, ["agency", "unit_type"]):
        c = count_sets.get((agency, unit_type))
        if c is None:
            continue
        ids = u["unit_id"].to_numpy().astype(object)
        m = len(ids)
        nb = None if unit_type == "grid" else _neighbors(agency, unit_type, ids,
                                                         shapely.from_wkb(u["wkb"].to_list()))
        c = c.join(pl.DataFrame({"unit_id": ids, "_pos": np.arange(m)}, schema={"unit_id": pl.String,
                                                                             "_pos": pl.Int64}),
                   on="unit_id", how="left")
        ix, iy = u["ix"].to_numpy(), u["iy"].to_numpy()
        id_codes = text["unit_id"].codes(ids)
        draws = None  # the permutation table of this unit set, drawn at its first combination
        for key, g in groups(c, DIMS):
            y = np.zeros(m)
            y[g["_pos"].to_numpy()] = g["n"].to_numpy()
            res = gi.gi_star_grid(ix, iy, y, offsets) if nb is None else gi.gi_star_sparse(y, nb, prepared=True)
            p_fdr = gi.fdr_bh(res.p)
            for k, v in (("agency", agency), ("unit_type", unit_type), *zip(DIMS, key, strict=True)):
                if k in text:
                    text[k].repeat(v, m)
                else:
                    cols[k].append(np.full(m, v, dtype=np.int64))
            text["unit_id"].parts.append(id_codes)
            cols["n"].append(y.astype(np.int64))
            cols["z"].append(res.z)
            cols["p"].append(res.p)
            cols["p_fdr"].append(p_fdr)
            cols["gi_bin"].append(gi.gi_bin(res.z, p_fdr).astype(np.int8))
            cols["n_neighbors"].append(res.n_neighbors.astype(np.int32))
            if perms:
                if draws is None:
                    draws = gp.neighbour_draws(m, int(res.n_neighbors.max()) - 1, perms, an.gi_seed)
                sim = gp.gi_star_permutation(y, res.local_sum, res.n_neighbors, perms, draws=draws)
                cols["p_sim"].append(sim.p_sim)
                cols["gi_bin_sim"].append(gp.gi_bin_sim(sim))
    rows = sum(len(a) for a in cols["n"])
    if not perms:  # NULL, not NaN: the statistic was not asked for
        cols["p_sim"], cols["gi_bin_sim"] = [pa.nulls(rows, pa.float64())], [pa.nulls(rows, pa.int8())]
    table = pa.table({**{k: c.array() for k, c in text.items()},
                      **{k: v[0] if isinstance(v[0], pa.Array) else pa.array(np.concatenate(v))
                         for k, v in cols.items()}}) if cols["n"] else None
    n = write_mart(con, HOTSPOT_STATS, table)
    run_model(con, "hotspots")
    return n
