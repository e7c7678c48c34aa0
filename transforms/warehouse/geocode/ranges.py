"""House-number ranges learned from the agency's located history, and interpolation along them.

Learning (`learn_ranges(located, index)`), per named street:
- the located events whose address parses to a number on that street (`1605 WHALLEY AVE`; a block address
  counts at its middle number, 1750 for `1700 BLOCK JERROLD AVE`);
- the centreline: the streets layer's (each merged piece of it apart: an event goes to the nearest piece,
  and is dropped farther than `MAX_SNAP_M` from it), or, without a streets layer, the polyline through the
  median points of the street's located blocks in block-number order (San Francisco, where the history is
  all block addresses);
- each event's position along the piece (linear referencing) and its signed offset (+ left of the line's
  direction); per distinct number, the median position: the fit is the piecewise-linear curve through
  those (number, position) pairs, extended past its ends by the street's average metres per number;
- the odd side: where at least `PARITY_MIN_EVENTS` events lie off the line and `PARITY_AGREEMENT` of them
  agree with "odd numbers on one side, even on the other", that side; else none (no offset).

Placing (`Ranges.place(parsed)`):
- `interpolated`: a house number on the curve, moved `offset` metres (the median distance of the street's
  located events from its centreline) to its parity's side when one was learned;
  precision = spread + |metres per number| x (distance in numbers to the nearest located number), with
  spread the median distance of located events from the centreline (at least `MIN_SPREAD_M`);
- `block`: a block address at its middle number on the curve, on the centreline; precision as above with
  the distance at least half a block (50 numbers);
- a number more than `MAX_EXTRAPOLATION` numbers beyond the learned range is not placed ("number 5000
  outside the learned range 100-1900 of JERROLD AVE"), nor one on a street with fewer than two located
  numbers ("no number range learned for ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
import shapely

from transforms.warehouse.geocode.names import parse_frame
from transforms.warehouse.geocode.streets import StreetIndex

MAX_SNAP_M = 100.0
MIN_SPREAD_M = 10.0
MAX_EXTRAPOLATION = 200
PARITY_MIN_EVENTS = 4
PARITY_AGREEMENT = 0.75
OFF_LINE_M = 3.0  # an event this close to the centreline says nothing about its side


@dataclass
class Fit:
    """One piece of one street: its line, the learned (number, position) pairs, side and spread."""

    line: object
    nums: np.ndarray
    pos: np.ndarray
    m_per_number: float  # signed: positions grow (+) or fall (-) with the number
    odd_side: int  # +1 odd numbers left of the line's direction, -1 right, 0 unknown
    offset_m: float
    spread_m: float
    n_events: int

    def position(self, n: np.ndarray) -> np.ndarray:
        inside = np.interp(n, self.nums, self.pos)
        lo = self.pos[0] + (n - self.nums[0]) * self.m_per_number
        hi = self.pos[-1] + (n - self.nums[-1]) * self.m_per_number
        out = np.where(n < self.nums[0], lo, np.where(n > self.nums[-1], hi, inside))
        return np.clip(out, 0.0, self.line.length)

    def gap(self, n: np.ndarray) -> np.ndarray:
        """Distance in house numbers to the nearest located number."""
        k = np.clip(np.searchsorted(self.nums, n), 1, len(self.nums) - 1) if len(self.nums) > 1 else 0
        return np.minimum(np.abs(n - self.nums[k - 1]), np.abs(n - self.nums[k]))


@dataclass
class Ranges:
    """Learned fits per normalized street name, and why a street has none."""

    fits: dict[str, list[Fit]] = field(default_factory=dict)
    why_not: dict[str, str] = field(default_factory=dict)
    source: str = "history"

    def place(self, todo: pl.DataFrame) -> pl.DataFrame:
        """todo: rows of (kind in {address, block}, number, street). Returns x, y, precision_m, method,
        status in the same order (x null where not placed, status saying why)."""
        n_rows = len(todo)
        x, y, prec = np.full(n_rows, np.nan), np.full(n_rows, np.nan), np.full(n_rows, np.nan)
        status = np.full(n_rows, None, dtype=object)
        method = np.where(todo["kind"].to_numpy() == "block", "block", "interpolated").astype(object)
        tf = todo.with_row_index("_r")
        for (street,), g in tf.group_by("street"):
            rows = g["_r"].to_numpy()
            fits = self.fits.get(street)
            if not fits:
                status[rows] = self.why_not.get(street, f"no number range learned for {street}: "
                                                        "no located address on it")
                continue
            block = g["kind"].to_numpy() == "block"
            n = g["number"].to_numpy().astype(np.float64) + np.where(block, 50.0, 0.0)
            # the piece whose learned range is nearest the number
            dist = np.stack([np.maximum(0, np.maximum(f.nums[0] - n, n - f.nums[-1])) for f in fits])
            which = dist.argmin(axis=0)
            for k, f in enumerate(fits):
                sel = which == k
                if not sel.any():
                    continue
                r, nn, bl = rows[sel], n[sel], block[sel]
                far = dist[k, sel] > MAX_EXTRAPOLATION
                status[r[far]] = [f"number {int(v)} outside the learned range {int(f.nums[0])}-"
                                  f"{int(f.nums[-1])} of {street}" for v in nn[far]]
                r, nn, bl = r[~far], nn[~far], bl[~far]
                if not len(r):
                    continue
                pos = f.position(nn)
                p = shapely.line_interpolate_point(f.line, pos)
                px, py = shapely.get_x(p), shapely.get_y(p)
                a = shapely.line_interpolate_point(f.line, np.clip(pos - 1, 0, f.line.length))
                b = shapely.line_interpolate_point(f.line, np.clip(pos + 1, 0, f.line.length))
                tx, ty = shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)
                norm = np.hypot(tx, ty)
                norm[norm == 0] = 1.0
                odd = (nn.astype(np.int64) % 2) == 1
                side = np.where(bl, 0, f.odd_side * np.where(odd, 1, -1))
                x[r] = px + side * f.offset_m * (-ty / norm)
                y[r] = py + side * f.offset_m * (tx / norm)
                gap = np.where(bl, np.maximum(f.gap(nn), 50.0), f.gap(nn))
                prec[r] = f.spread_m + np.abs(f.m_per_number) * gap
                status[r] = "ok"
        return pl.DataFrame({"x": x, "y": y, "precision_m": prec, "method": method.tolist(), "status": status.tolist()},
                            schema={"x": pl.Float64, "y": pl.Float64, "precision_m": pl.Float64,
                                    "method": pl.Utf8, "status": pl.Utf8}).with_columns(
            pl.col("x").fill_nan(None), pl.col("y").fill_nan(None), pl.col("precision_m").fill_nan(None))


def _numbered(located: pl.DataFrame) -> pl.DataFrame:
    """Located events with a house number: street, n (block -> its middle), x, y."""
    addr = located.select(pl.col("address").cast(pl.Utf8)).unique()
    parsed = parse_frame(addr["address"]).rename({"text": "address"})
    return (located.join(parsed, on="address", how="inner", nulls_equal=False)
            .filter(pl.col("kind").is_in(["address", "block"]) & pl.col("x").is_finite()
                    & pl.col("y").is_finite())
            .select("street", "kind", n=pl.col("number").cast(pl.Float64)
                    + pl.when(pl.col("kind") == "block").then(50.0).otherwise(0.0), x="x", y="y"))


def _history_line(g: pl.DataFrame):
    """Without a streets layer: the polyline through the median points of the street's blocks."""
    med = (g.with_columns(b=(pl.col("n") // 100) * 100).group_by("b")
           .agg(pl.col("x").median(), pl.col("y").median()).sort("b"))
    if len(med) < 2:
        return None
    xy = med.select("x", "y").to_numpy()
    keep = np.r_[True, np.hypot(*np.diff(xy, axis=0).T) > 0]
    return shapely.linestrings(xy[keep]) if keep.sum() >= 2 else None


def _fit_piece(line, n: np.ndarray, px: np.ndarray, py: np.ndarray) -> Fit | None:
    pts = shapely.points(px, py)
    pos = shapely.line_locate_point(line, pts)
    on = shapely.line_interpolate_point(line, pos)
    a = shapely.line_interpolate_point(line, np.clip(pos - 1, 0, line.length))
    b = shapely.line_interpolate_point(line, np.clip(pos + 1, 0, line.length))
    tx, ty = shapely.get_x(b) - shapely.get_x(a), shapely.get_y(b) - shapely.get_y(a)
    dx, dy = px - shapely.get_x(on), py - shapely.get_y(on)
    off = np.sign(tx * dy - ty * dx) * np.hypot(dx, dy)  # + left of the line's direction
    df = pl.DataFrame({"n": n, "pos": pos}).group_by("n").agg(pl.col("pos").median()).sort("n")
    if len(df) < 2:
        return None
    nums, mpos = df["n"].to_numpy(), df["pos"].to_numpy()
    slope = float(np.polyfit(nums, mpos, 1)[0])
    if slope == 0 or not np.isfinite(slope):
        return None
    # odd side: events off the line, agreeing with "odd on side s, even on -s"
    off_line = np.abs(off) > OFF_LINE_M
    odd_side = 0
    if off_line.sum() >= PARITY_MIN_EVENTS:
        parity = np.where(n[off_line].astype(np.int64) % 2 == 1, 1, -1)
        agree = float(np.mean(np.sign(off[off_line]) == parity))
        odd_side = 1 if agree >= PARITY_AGREEMENT else -1 if agree <= 1 - PARITY_AGREEMENT else 0
    absoff = float(np.median(np.abs(off)))
    return Fit(line, nums, mpos, slope, odd_side, absoff if odd_side else 0.0, max(MIN_SPREAD_M, absoff), len(n))


def learn_ranges(located: pl.DataFrame, index: StreetIndex | None = None) -> Ranges:
    """Fits per street from located events (address, x, y in the metric CRS); see the module docstring."""
    ev = _numbered(located)
    out = Ranges(source=index.source if index is not None else "history (street lines from located blocks)")
    for (street,), g in ev.group_by("street"):
        n, px, py = g["n"].to_numpy(), g["x"].to_numpy(), g["y"].to_numpy()
        if index is None:
            line = _history_line(g)
            parts = [] if line is None else [line]
        else:
            geom = index.geometry(street)
            parts = [] if geom is None else list(shapely.get_parts(geom))
            if geom is None:
                out.why_not[street] = f"unmatched street: {street}"
                continue
        fits = []
        if parts:
            pts = shapely.points(px, py)
            d = np.stack([shapely.distance(p, pts) for p in parts])
            which, near = d.argmin(axis=0), d.min(axis=0) <= (MAX_SNAP_M if index is not None else np.inf)
            for k, part in enumerate(parts):
                sel = (which == k) & near
                f = _fit_piece(part, n[sel], px[sel], py[sel]) if sel.sum() >= 2 else None
                if f is not None:
                    fits.append(f)
        if fits:
            out.fits[street] = fits
        else:
            k = len(np.unique(n))
            out.why_not[street] = (f"no number range learned for {street}: {len(n)} located event(s) at "
                                   f"{k} number(s)")
    return out
