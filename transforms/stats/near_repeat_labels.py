"""Per-event near-repeat labels and near-repeat chains.

Near-repeat victimization (Townsley, Homel & Chaseling 2003, "Infectious burglaries: a test of the
near repeat hypothesis", Br. J. Criminol. 43(3):615-633; Johnson & Bowers 2004, "The burglary as a
clue to the future", Eur. J. Criminol. 1(2):237-255) says an event raises the risk at the same place
and nearby places for a short time. This module labels each event against a spatial band D (metres)
and a temporal band T (days), and groups events into chains the way Wheeler's ptools `near_strings`
does (the connected components of the "within D and within T" graph), the series analysts follow up.

Order of events: by time, ties broken by input position, i.e. event a is *earlier* than b when
(t_a, a) < (t_b, b). Two events at the same instant are therefore ordered by index: the lower index
counts as earlier.

Links: two events are linked when they are within D metres (Euclidean distance ≤ D, projected
coordinates) AND within T days (|Δt| ≤ T) of each other, either order. Two events with the same
non-null `location_key` within T days are linked too, whatever their coordinates say, so a repeat
always shares a chain with the event it repeats (same key normally means the same point, so this only
matters when the coordinates of one address disagree).

Labels (exactly one per event):

* ``repeat``: an earlier event has the same non-null `location_key` and is at most T days before it
  (0 ≤ Δt ≤ T, with Δt = 0 only for a lower index);
* ``near_repeat``: not a repeat, but linked to an earlier event (within D metres and T days);
* ``originator``: linked to no earlier event but to at least one later event: it starts a chain;
* ``isolated``: linked to no other event. (The issue names originator / repeat / near_repeat; an event
  linked to nothing is none of those, so it gets this fourth label.)

Chains: `chain_id` numbers the connected components of the link graph (transitive: A-B and B-C linked
puts A, B, C in one chain even if A-C are not). Isolated events get a chain of their own with
`n_in_chain` = 1, so every event has an id. Ids are deterministic: components are numbered 1, 2, …
in the order of their earliest event (by time, then index).

Memory: candidate pairs come from `scipy.spatial.cKDTree.query_pairs(D)` then |Δt| ≤ T is applied; to
keep the pair list bounded on long periods (a busy address has O(n²) pairs within D over years but few
within T), the tree is built per time block of length L ≥ T over that block and the next one only
(L just over max(T, span / 256)), so only pairs less than 2L apart in time are ever listed. Events with NaN
coordinates have no spatial links (they can still be same-key repeats).
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

LABELS = ["originator", "repeat", "near_repeat", "isolated"]
_MAX_BLOCKS = 256


def _spatial_pairs(x: np.ndarray, y: np.ndarray, t: np.ndarray, d_m: float, t_days: float) -> np.ndarray:
    """All pairs (i, j), i < j, within d_m metres and t_days days; shape (m, 2)."""
    ok = np.flatnonzero(np.isfinite(x) & np.isfinite(y))
    if ok.size < 2:
        return np.empty((0, 2), dtype=np.int64)
    ok = ok[np.argsort(t[ok], kind="stable")]
    ts = t[ok]
    span = float(ts[-1] - ts[0])
    # a little over T, so a pair at most T apart never lands two blocks apart through rounding
    block_len = max(t_days, span / _MAX_BLOCKS) * (1 + 1e-9)
    if block_len <= 0:  # every event at one instant
        block = np.zeros(ok.size, dtype=np.int64)
    else:
        block = np.floor((ts - ts[0]) / block_len).astype(np.int64)
    found = []
    blocks = np.unique(block)
    for b in blocks:
        lo = np.searchsorted(block, b, side="left")
        mid = np.searchsorted(block, b, side="right")
        hi = np.searchsorted(block, b + 1, side="right")  # this block and the next one
        members = ok[lo:hi]
        if members.size < 2:
            continue
        pairs = cKDTree(np.column_stack((x[members], y[members]))).query_pairs(d_m, output_type="ndarray")
        if not pairs.size:
            continue
        pairs = pairs[(pairs[:, 0] < mid - lo) | (pairs[:, 1] < mid - lo)]  # next-block pairs: next turn
        i, j = members[pairs[:, 0]], members[pairs[:, 1]]
        keep = np.abs(t[i] - t[j]) <= t_days
        found.append(np.column_stack((i[keep], j[keep])))
    if not found:
        return np.empty((0, 2), dtype=np.int64)
    return np.concatenate(found).astype(np.int64)


def _key_pairs(key: pl.Series, t: np.ndarray, t_days: float) -> np.ndarray:
    """Consecutive same-key events (in time order) at most t_days apart: (earlier, later); shape (m, 2).

    Linking consecutive events is enough: the earlier event of a repeat is the key's previous event,
    and the chain it builds connects the same events as linking every pair within T would.
    """
    df = (
        pl.DataFrame({"key": key, "t": t, "i": np.arange(t.size, dtype=np.int64)})
        .filter(pl.col("key").is_not_null())
        .sort("key", "t", "i")
        .with_columns(
            pl.col("i").shift(1).over("key").alias("prev_i"),
            pl.col("t").shift(1).over("key").alias("prev_t"),
        )
        .filter(pl.col("prev_i").is_not_null() & ((pl.col("t") - pl.col("prev_t")) <= t_days))
    )
    return np.column_stack((df["prev_i"].to_numpy(), df["i"].to_numpy())).astype(np.int64).reshape(-1, 2)


def _as_days(t) -> np.ndarray:
    a = np.asarray(t)
    if a.dtype.kind == "M":
        a = a.astype("datetime64[us]").astype(np.int64) / 86_400_000_000.0
    return a.astype(np.float64).ravel()


def label_events(x, y, t_days, location_key, D_m: float, T_days: float) -> pl.DataFrame:
    """Label each event and assign near-repeat chains; see the module docstring for the rules.

    `x`, `y`: projected coordinates in metres; `t_days`: event time in days (any origin; a datetime64
    array is converted to days); `location_key`: address or location id per event (nulls never
    repeat), or None; `D_m`: distance band in metres; `T_days`: time band in days.

    Returns `event_index` (input position, in input order), `label` (originator, repeat, near_repeat,
    isolated), `chain_id` (1, 2, … by the earliest event of each chain) and `n_in_chain`.
    """
    xs = np.asarray(x, dtype=np.float64).ravel()
    ys = np.asarray(y, dtype=np.float64).ravel()
    t = _as_days(t_days)
    n = t.size
    if xs.size != n or ys.size != n:
        raise ValueError(f"x, y and t_days must have the same length ({xs.size}, {ys.size}, {n})")
    if np.isnan(t).any():
        raise ValueError("t_days contains NaN: every event needs a time")
    if D_m < 0 or T_days < 0:
        raise ValueError("D_m and T_days must be non-negative")
    key = pl.Series("key", [None] * n if location_key is None else location_key)
    if key.len() != n:
        raise ValueError(f"location_key has {key.len()} values but there are {n} events")

    rank = np.empty(n, dtype=np.int64)
    rank[np.lexsort((np.arange(n), t))] = np.arange(n)  # position in (t, index) order

    kp = _key_pairs(key, t, float(T_days))
    sp = _spatial_pairs(xs, ys, t, float(D_m), float(T_days))
    edges = np.concatenate((kp, sp))
    a, b = edges[:, 0], edges[:, 1]
    earlier = np.where(rank[a] < rank[b], a, b)
    later = np.where(rank[a] < rank[b], b, a)

    is_repeat = np.zeros(n, dtype=bool)
    is_repeat[kp[:, 1]] = True
    has_earlier = np.zeros(n, dtype=bool)
    has_earlier[later] = True
    has_later = np.zeros(n, dtype=bool)
    has_later[earlier] = True
    code = np.select([is_repeat, has_earlier, has_later], [1, 2, 0], default=3)

    graph = coo_matrix((np.ones(edges.shape[0], dtype=np.int32), (a, b)), shape=(n, n))
    n_comp, comp = connected_components(graph, directed=False)
    first_rank = np.full(n_comp, n, dtype=np.int64)
    np.minimum.at(first_rank, comp, rank)
    chain_of_comp = np.empty(n_comp, dtype=np.int64)
    chain_of_comp[np.argsort(first_rank)] = np.arange(1, n_comp + 1)
    size = np.bincount(comp, minlength=n_comp)

    return pl.DataFrame(
        {
            "event_index": pl.Series(np.arange(n), dtype=pl.Int64),
            "label": pl.Series(np.asarray(LABELS)[code], dtype=pl.String),
            "chain_id": pl.Series(chain_of_comp[comp], dtype=pl.Int64),
            "n_in_chain": pl.Series(size[comp], dtype=pl.Int64),
        }
    )
