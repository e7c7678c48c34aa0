"""Offline geocoding: place address-only and intersection-only events from the agency's own streets layer and
its own located history (issue 19). Nothing leaves the machine; nothing outside the agency's data is used.

Contract (the normalize hook calls `geocode`):

    geocode(todo, located, streets=None, ranges=None) -> pl.DataFrame
      todo     key (any type, one row per key), address (text), cross_streets (text, optional column)
      located  address (text), x, y: the agency's events that have real coordinates, in the metric CRS
      streets  StreetIndex of the centrelines in the same CRS, or None (history and learned lines only)
      ranges   learned ranges to reuse (default: learn_ranges(located, streets))
      returns  key, x, y, geocode_method, geocode_precision_m, geocode_source, geocode_status, one row per
               todo row, in todo's order

Geocoders are tried in order; the first that places a location wins:
1. `history`: the same normalized key (address, block, intersection or street) among the located events:
   their median point, precision their spread (history.py).
2. `intersection`: an intersection text (`A ST / B ST`, `A/B`, `A & B`, `A AND B`): where the two
   centrelines meet; two meetings farther apart than a tolerance are ambiguous and nothing is placed; no
   meeting is unmatched (streets.py).
3. `interpolated` / `block`: a house number, or a block's middle, on the street's number ranges learned
   from located history (ranges.py), offset to its parity's side when the history shows one.
   Then `intersection` again for an address with a cross-street pair (`cross_streets`, New Haven's
   `AMITY/POND LILY`: the two corners of its block) that no range placed: the middle of its street between
   the two corners; with one usable cross street (`WELTON/INTERSECTION`), that corner. (After the ranges,
   not before: on New Haven's hidden half, median error 5 m this way against 11 m the other way round.)
4. `street`: a street name alone, or an address no range places: the point of the street nearest its
   centroid, precision the street's length (of the learned line when there is no streets layer).

geocode_method is one of "history", "intersection", "interpolated", "block", "street", or null (not
placed). geocode_precision_m is an honest radius in metres: its meaning per method is in each module.
geocode_source says what was used ("history: 14 located events", "streets: FULLNAME", "ranges: 23 located
events on WHALLEY AVE"). geocode_status is "ok" for a placed row (with the reasons better methods failed,
"ok (by street: no number range learned for ...)"), else why nothing was placed ("ambiguous
intersection: 2 crossings 1.4 km apart", "unmatched street: POND LILLY", "no number range learned for ...").

Everything works on distinct (address, cross_streets) pairs: a 1M-row feed costs its distinct locations.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from transforms.warehouse.geocode.history import learn_history
from transforms.warehouse.geocode.names import Parsed, normalize_street, parse_frame, parse_location
from transforms.warehouse.geocode.ranges import Ranges, learn_ranges
from transforms.warehouse.geocode.streets import Meeting, StreetIndex

__all__ = ["METHODS", "Parsed", "Ranges", "StreetIndex", "geocode", "learn_history", "learn_ranges",
           "normalize_street", "parse_frame", "parse_location"]

METHODS = ("history", "intersection", "interpolated", "block", "street")
OUT_SCHEMA = {"x": pl.Float64, "y": pl.Float64, "geocode_method": pl.Utf8, "geocode_precision_m": pl.Float64,
              "geocode_source": pl.Utf8, "geocode_status": pl.Utf8}


class _Result:
    """Per distinct location: the arrays every step fills where the row is still not placed."""

    def __init__(self, n: int):
        self.x, self.y, self.prec = np.full(n, np.nan), np.full(n, np.nan), np.full(n, np.nan)
        self.method = np.full(n, None, dtype=object)
        self.source = np.full(n, None, dtype=object)
        self.status = np.full(n, None, dtype=object)

    def open(self) -> np.ndarray:
        return np.isnan(self.x)

    def put(self, i: int, m: Meeting, method: str, source: str) -> None:
        before = self.status[i]
        if m.status == "ok":  # placed: "ok", or "ok (by street: why the better methods failed)"
            self.x[i], self.y[i], self.prec[i] = m.x, m.y, m.precision_m
            self.method[i], self.source[i] = method, source
            self.status[i] = f"ok (by {method}: {before})" if before else "ok"
        elif not before:
            self.status[i] = m.status
        elif m.status not in before:
            self.status[i] = f"{before}; {m.status}"  # every reason a method failed, in order

    def fail(self, i, why: str) -> None:
        self.put(i, Meeting(None, None, None, why), "", "")


def _cross_pairs(loc: pl.DataFrame) -> pl.DataFrame:
    """The usable cross streets of each location: c1, c2 (null where none)."""
    texts = loc["cross_streets"].cast(pl.Utf8)
    p = parse_frame(texts)
    return pl.DataFrame({"c1": p["street"], "c2": p["street2"]})


def _intersections(loc: pl.DataFrame, res: _Result, streets: StreetIndex | None) -> None:
    kind = loc["kind"].to_numpy()
    todo = res.open() & (kind == "intersection")
    if streets is None:
        for i in np.flatnonzero(todo):
            res.fail(int(i), "no streets layer: an intersection is placed only from history")
    else:
        cache: dict[tuple, Meeting] = {}
        for i in np.flatnonzero(todo):
            a, b = loc["street"][int(i)], loc["street2"][int(i)]
            m = cache.get((a, b)) or cache.setdefault((a, b), streets.meet(a, b))
            res.put(int(i), m, "intersection", streets.source)


def _cross_streets(loc: pl.DataFrame, res: _Result, streets: StreetIndex | None) -> None:
    if "c1" not in loc.columns:
        return
    kind = loc["kind"].to_numpy()
    c1, c2, street = loc["c1"].to_list(), loc["c2"].to_list(), loc["street"].to_list()
    todo = res.open() & np.isin(kind, ["address", "block", "street"]) & loc["c1"].is_not_null().to_numpy()
    if streets is None:
        return
    cache2: dict[tuple, Meeting] = {}
    for i in np.flatnonzero(todo):
        s, a, b = street[i], c1[i], c2[i]
        key = (s, a, b)
        if key not in cache2:
            cache2[key] = streets.between(s, a, b) if b else streets.corner(s, a)
        res.put(int(i), cache2[key], "intersection",
                f"{streets.source}: cross streets {a}{' / ' + b if b else ''} on {s}")


def _interpolate(loc: pl.DataFrame, res: _Result, ranges: Ranges) -> None:
    sel = res.open() & np.isin(loc["kind"].to_numpy(), ["address", "block"])
    idx = np.flatnonzero(sel)
    if not len(idx):
        return
    sub = loc[idx].select("kind", "number", "street")
    placed = ranges.place(sub)
    events = pl.DataFrame({"street": list(ranges.fits), "ev": [sum(f.n_events for f in v) for v in ranges.fits.values()]},
                          schema={"street": pl.Utf8, "ev": pl.Int64})
    src = sub.join(events, on="street", how="left", maintain_order="left").select(
        pl.format("ranges: {} located events on {}", pl.col("ev").fill_null(0), "street")).to_series()
    ok = (placed["status"] == "ok").fill_null(False).to_numpy()
    i = idx[ok]
    res.x[i], res.y[i] = placed["x"].to_numpy()[ok], placed["y"].to_numpy()[ok]
    res.prec[i] = placed["precision_m"].to_numpy()[ok]
    res.method[i], res.status[i] = placed["method"].to_numpy()[ok], "ok"
    res.source[i] = src.to_numpy()[ok]
    for j in np.flatnonzero(~ok):  # the misses: their reasons joined to any earlier one
        res.fail(int(idx[j]), placed["status"][int(j)])


def _street_only(loc: pl.DataFrame, res: _Result, streets: StreetIndex | None, ranges: Ranges) -> None:
    sel = res.open() & np.isin(loc["kind"].to_numpy(), ["address", "block", "street"])
    street = loc["street"].to_list()
    cache: dict[str, tuple[Meeting, str]] = {}
    for i in np.flatnonzero(sel):
        s = street[i]
        if s not in cache:
            if streets is not None:
                cache[s] = (streets.centre(s), f"{streets.source}: street centre")
            elif s in ranges.fits:
                longest = max(ranges.fits[s], key=lambda f: f.line.length)
                cache[s] = (StreetIndex([s], [longest.line], "history").centre(s),
                            "history: street line from located blocks, its centre")
            else:
                cache[s] = (Meeting(None, None, None, f"unmatched street: {s} (no streets layer, no located "
                                                      "blocks on it)"), "")
        m, src = cache[s]
        res.put(int(i), m, "street", src)


def geocode(todo: pl.DataFrame, located: pl.DataFrame, streets: StreetIndex | None = None,
            ranges: Ranges | None = None) -> pl.DataFrame:
    """Place the todo rows; see the module docstring for the contract."""
    for col in ("key", "address"):
        if col not in todo.columns:
            raise ValueError(f"geocode: todo has no column {col!r} (columns: {todo.columns})")
    for col in ("address", "x", "y"):
        if col not in located.columns:
            raise ValueError(f"geocode: located has no column {col!r} (columns: {located.columns})")
    has_cross = "cross_streets" in todo.columns
    cols = ["address", "cross_streets"] if has_cross else ["address"]
    t = todo.with_columns(pl.col(c).cast(pl.Utf8) for c in cols)
    loc = t.select(cols).unique(maintain_order=True)
    loc = pl.concat([loc, parse_frame(loc["address"]).drop("text")], how="horizontal")
    if has_cross:
        loc = pl.concat([loc, _cross_pairs(loc)], how="horizontal")
    res = _Result(len(loc))
    res.status[:] = np.where(loc["kind"].to_numpy() == "unknown", "no usable address", None)
    located = located.select(pl.col("address").cast(pl.Utf8), pl.col("x").cast(pl.Float64),
                             pl.col("y").cast(pl.Float64)).filter(pl.col("x").is_finite() & pl.col("y").is_finite())

    hist = loc.select("key").with_row_index("_i").join(learn_history(located), on="key", how="inner")
    i = hist["_i"].to_numpy()
    res.x[i], res.y[i], res.prec[i] = hist["hx"].to_numpy(), hist["hy"].to_numpy(), hist["h_precision_m"].to_numpy()
    res.method[i], res.status[i] = "history", "ok"
    res.source[i] = hist.select(pl.format("history: {} located events", "h_events")).to_series().to_numpy()

    _intersections(loc, res, streets)
    if ranges is None:
        ranges = learn_ranges(located, streets)
    _interpolate(loc, res, ranges)
    _cross_streets(loc, res, streets)
    _street_only(loc, res, streets, ranges)

    out = loc.select(cols).with_columns(
        pl.Series("x", res.x).fill_nan(None), pl.Series("y", res.y).fill_nan(None),
        pl.Series("geocode_method", res.method.tolist(), dtype=pl.Utf8),
        pl.Series("geocode_precision_m", res.prec).fill_nan(None),
        pl.Series("geocode_source", res.source.tolist(), dtype=pl.Utf8),
        pl.Series("geocode_status", res.status.tolist(), dtype=pl.Utf8).fill_null("not placed"))
    return t.select("key", *cols).join(out, on=cols, how="left", nulls_equal=True, maintain_order="left").select(
        "key", *OUT_SCHEMA)
