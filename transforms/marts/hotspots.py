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

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import shapely

from transforms.config import Settings
from transforms.marts.frames import groups
from transforms.marts.models import run_model
from transforms.marts.write import Mart, write_mart
from transforms.stats import gi_permutation as gp
from transforms.stats import gi_star as gi

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


def build_hotspot_counts(con: duckdb.DuckDBPyConnection) -> None:
    """marts.hotspot_counts: non-zero counts per unit type, unit, dataset, category group, origin, window."""
    run_model(con, "hotspot_count_rows")
    run_model(con, "hotspot_counts")


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
