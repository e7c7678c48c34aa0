"""The masking rules of the public open-data extract: rows of core.calls / core.incidents made transparent
without harming victims.

Pure functions over Polars frames: no files, no database, no settings. The policy they apply (which columns,
which categories are sensitive, how points are snapped) is passed in: anything with the attributes of
`MaskingRules`, in practice the [publish] section of sara.toml (transforms/config/publish.py). Writing the
extract is transforms/outputs/publish.py. The rules:

- Allowlist: a published frame holds ONLY the columns listed in `policy.columns[dataset]`, in that
  order. `raw_*` columns, `address`, `location_key` and `x`/`y` can never be listed (the policy refuses them),
  and `lon`/`lat` are never the exact point: they are always replaced by a snapped point.
- Time: every published time is rounded DOWN to the hour in the agency's local time zone and published as
  text with its UTC offset, e.g. `2024-03-05T14:00:00-08:00` (ISO 8601; the offset says which side of a
  daylight-saving change the hour is on). `event_at` is published as `event_hour`; any other allowlisted
  time column keeps its name and is rounded the same way. Naive input times are taken as UTC (as in core).
- Location: `address_block` (e.g. "1700 BLOCK JERROLD AVE") is the published address, but only when a strict
  parse of the value itself says it is a block or an intersection (`is_publishable_address`); core is not
  trusted to have generalized it. Any other value (a house number, a unit, a PO box, a mile marker, a bare
  street, lower case, ...) is suppressed to the district (block, beat and coordinates null, district kept)
  with `masking_reason = unparsed_address`. The rule applies only when `address_block` is allowlisted.
  Coordinates are snapped before publication:
  * grid (default): the centre of the `grid_cell_m` square cell containing the point, cells aligned on the
    origin (0, 0) of the analysis CRS (metres): cx = (floor(x / g) + 0.5) * g, likewise cy; then converted
    to lon/lat (EPSG:4326) with pyproj.
  * block: the mean of the block's points (every located row of the frame with the same agency and
    `address_block`). A block with fewer than `k_min` distinct points would give away an exact point, so it
    falls back to its grid cell centre (logged as `location_snapped:grid_fallback`).
- Sensitive rows: the category is in `sensitive_categories`, a word of the call type / offense starts with one
  of `sensitive_type_patterns` (case-insensitive, so "rape" does not match "grape"; needed because some
  crosswalks file sexual assault under "Violent Crime"), `juvenile_flag` is true when the feed has one, or the
  code is unmapped (fail closed: the category is `Unmapped` or `Unknown` or null, or the frame has no
  category column) and the code is not listed in `safe_unmapped_codes[dataset]`; reason `unmapped_code`. An
  unmapped code may be anything (`288` is child sexual abuse in the California penal code); a category-less
  row cannot be judged, so it is treated as sensitive. Their location is generalized to the
  district (`sensitive_location="district"`: district kept; block, beat and coordinates null) or removed
  (`"suppress"`: district null too). `masking_reason` says why, reasons joined with "; ", e.g.
  `sensitive_category:Sexual Offense; juvenile_flag`.
- Void records (`is_void`) are left out, as in every mart.
- Counts: `aggregate_with_suppression` blanks (null, `suppressed = true`) every group with 0 < n < k_min.
  Note: suppressing cells does not stop recovering them from published totals (complementary suppression
  is not done); publish totals from the same suppressed table.

Limitation: an incident is judged on its own `offense_category`; a sensitive secondary offense (core.offenses)
must be folded into that column, or into `juvenile_flag`, by the caller. Likewise the unmapped-code rule reads
the category of the final call type: core has no category for `call_type_initial`, which is judged by the type
patterns only.

Publishable address (the strict parse):
    block        := N " BLOCK " street         N = 0 or a positive multiple of 100, no leading zero
    intersection := street " / " street        exactly two streets
    street       := token (" " token)*
    token        := word | ordinal | route_number
    word         := letters A-Z, hyphens only between letters ("JEAN-PAUL")
    ordinal      := 1 to 3 digits, no leading zero, with its own suffix: 1ST 2ND 3RD 4TH 11TH 12TH 13TH 21ST
                    101ST 111TH ("1234TH", "12ST" and "N21ST" are not ordinals)
    route_number := 1 to 3 digits, no leading zero, right after a route word (I, INTERSTATE, US, SR, HWY,
                    HIGHWAY, ROUTE, RTE, RT, or COUNTY ROAD / COUNTY RD), or one token I-80, US-50, SR-9,
                    HWY-1, RTE-9
Upper case only (core upper-cases every address). So the only numbers a published address can hold are block
numbers (multiples of 100), ordinal street names and route numbers; a numbered highway is a street name, not
a house number. Everything else, including a bare street without a block ("ELM ST"), fails.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
import polars as pl
from pyproj import CRS, Transformer

DATASETS = {"calls": "call_category", "incidents": "offense_category"}
CODE_COLUMNS = {"calls": "call_type_code", "incidents": "offense_code"}
# core's category for a code missing from the crosswalk, and for a row without a code (null counts too)
UNMAPPED_CATEGORIES = ("unmapped", "unknown", "")
TYPE_COLUMNS = {"calls": ("call_type", "call_type_initial"), "incidents": ("offense",)}
# columns that place a row more finely than its district: null on every masked row
FINE_LOCATION_COLUMNS = ("address_block", "beat", "lon", "lat")
DERIVED_COLUMNS = ("event_hour", "masking_reason")
# the polygon tags kept beside a feed's own beat/district are diagnostics that masking would not blank: the
# public gets beat and district
NEVER_PUBLISHED = ("address", "location_key", "x", "y", "beat_polygon", "district_polygon")
JUVENILE_NOTE = "juvenile masking relies on the category list alone"
UNMAPPED_CODE, UNPARSED_ADDRESS = "unmapped_code", "unparsed_address"

class MaskingRules(Protocol):
    """What the rules read from a publication policy (transforms.config.publish.PublishPolicy is one)."""

    columns: Mapping[str, Sequence[str]]        # dataset -> the allowlisted columns, in order
    sensitive_categories: Sequence[str]
    sensitive_type_patterns: Sequence[str]      # a word of the type starting with one of them is sensitive
    safe_unmapped_codes: Mapping[str, Sequence[str]]
    sensitive_location: Literal["district", "suppress"]
    coordinate_snap: Literal["block", "grid"]
    grid_cell_m: float
    k_min: int

    def allowlist(self, dataset: str) -> list[str]: ...


# ----------------------------------------------------------------------------------------------- helpers

def _utc(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    return expr.dt.replace_time_zone("UTC") if getattr(dtype, "time_zone", None) is None else expr


def round_hour(expr: pl.Expr, dtype: pl.DataType, timezone: str) -> pl.Expr:
    """Round a time down to the local hour; ISO 8601 text with the UTC offset."""
    local = _utc(expr, dtype).dt.convert_time_zone(timezone)
    return local.dt.truncate("1h").dt.strftime("%Y-%m-%dT%H:%M:%S%:z")


def grid_centroid(v: np.ndarray, cell_m: float) -> np.ndarray:
    """Centre of the cell (aligned on 0) containing each coordinate; NaN stays NaN."""
    return (np.floor(v / cell_m) + 0.5) * cell_m


def _to_lonlat(x: np.ndarray, y: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    tr = Transformer.from_crs(CRS.from_user_input(crs), CRS.from_user_input("EPSG:4326"), always_xy=True)
    lon, lat = tr.transform(x, y)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _float(df: pl.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(df.height, np.nan)
    return df[col].cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(float)


def _snap(df: pl.DataFrame, policy: MaskingRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Snapped x, y (analysis CRS) and a method label per row ('' where unlocated)."""
    x, y = _float(df, "x"), _float(df, "y")
    ok = np.isfinite(x) & np.isfinite(y)
    gx, gy = grid_centroid(x, policy.grid_cell_m), grid_centroid(y, policy.grid_cell_m)
    method = np.where(ok, "grid", "")
    if policy.coordinate_snap == "grid" or "address_block" not in df.columns:
        return gx, gy, method
    keys = ["agency", "address_block"] if "agency" in df.columns else ["address_block"]
    pts = df.select(keys).with_columns(_x=pl.Series(x), _y=pl.Series(y), _ok=pl.Series(ok),
                                        _row=pl.int_range(pl.len()))
    blocks = (pts.filter(pl.col("_ok") & pl.col("address_block").is_not_null())
              .group_by(keys).agg(_bx=pl.col("_x").mean(), _by=pl.col("_y").mean(),
                                  _npts=pl.struct("_x", "_y").n_unique()))
    j = pts.join(blocks, on=keys, how="left").sort("_row")
    use = ok & (j["_npts"].fill_null(0).to_numpy() >= policy.k_min)
    bx, by = j["_bx"].fill_null(float("nan")).to_numpy(), j["_by"].fill_null(float("nan")).to_numpy()
    return (np.where(use, bx, gx), np.where(use, by, gy),
            np.where(use, "block", np.where(ok, "grid_fallback", "")))


# re.ASCII: \d is 0-9 only, so no other script's digits pass as a block number
_BLOCK_RE = re.compile(r"(0|[1-9]\d*00) BLOCK (.+)", re.ASCII)
_WORD_RE = re.compile(r"[A-Z]+(?:-[A-Z]+)*")
_ORDINAL_RE = re.compile(r"([1-9]\d{0,2})(ST|ND|RD|TH)", re.ASCII)
_ROUTE_NUMBER_RE = re.compile(r"[1-9]\d{0,2}", re.ASCII)
_ROUTE_TOKEN_RE = re.compile(r"(?:I|US|SR|HWY|RTE)-[1-9]\d{0,2}", re.ASCII)
ROUTE_WORDS = ("I", "INTERSTATE", "US", "SR", "HWY", "HIGHWAY", "ROUTE", "RTE", "RT", "COUNTY ROAD", "COUNTY RD")


def _ordinal_suffix(n: int) -> str:
    if n % 100 in (11, 12, 13):
        return "TH"
    return {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")


def _is_street(s: str) -> bool:
    tokens = s.split(" ")
    for i, t in enumerate(tokens):
        if _WORD_RE.fullmatch(t) or _ROUTE_TOKEN_RE.fullmatch(t):
            continue
        m = _ORDINAL_RE.fullmatch(t)
        if m and m.group(2) == _ordinal_suffix(int(m.group(1))):
            continue
        if _ROUTE_NUMBER_RE.fullmatch(t) and (
                (i >= 1 and tokens[i - 1] in ROUTE_WORDS) or (i >= 2 and " ".join(tokens[i - 2:i]) in ROUTE_WORDS)):
            continue
        return False
    return True


def is_publishable_address(value: str) -> bool:
    """True when `value` is a block ("1200 BLOCK ELM ST") or an intersection of two streets ("3RD ST / ELM ST")
    by the strict parse in the module docstring; anything else (a house number, unit, box, mile marker, bare
    street, lower case, stray spaces) is False."""
    m = _BLOCK_RE.fullmatch(value)
    if m:
        return _is_street(m.group(2))
    sides = value.split(" / ")
    return len(sides) == 2 and all(_is_street(side) for side in sides)


def _unparsed(df: pl.DataFrame, dataset: str, policy: MaskingRules) -> pl.Expr:
    """Rows whose published address_block is neither a block nor an intersection (null address: false)."""
    if "address_block" not in policy.allowlist(dataset) or "address_block" not in df.columns:
        return pl.lit(False)
    values = df["address_block"].drop_nulls().unique().to_list()
    ok = [v for v in values if is_publishable_address(v)]
    return pl.col("address_block").is_not_null() & ~pl.col("address_block").is_in(ok)


def _unmapped(df: pl.DataFrame, dataset: str, policy: MaskingRules) -> pl.Expr:
    """Rows whose code is missing from the crosswalk or whose category is unknown, unless the code is listed
    safe for this dataset. A frame without the category column: every row."""
    cat, code = DATASETS[dataset], CODE_COLUMNS[dataset]
    if cat not in df.columns:
        return pl.lit(True)
    unknown = pl.col(cat).str.strip_chars().str.to_lowercase().is_in(UNMAPPED_CATEGORIES).fill_null(True)
    safe = [c.strip().upper() for c in policy.safe_unmapped_codes.get(dataset, [])]
    if safe and code in df.columns:
        listed = pl.col(code).cast(pl.String).str.strip_chars().str.to_uppercase().is_in(safe).fill_null(False)
        return unknown & ~listed
    return unknown


def _reasons(df: pl.DataFrame, dataset: str, policy: MaskingRules, has_juvenile_flag: bool) -> pl.Series:
    """`masking_reason` per row. A type column's VALUE is quoted only when that column is published anyway;
    otherwise the reason names the column (`sensitive_type:call_type_initial`), so no value leaks through it."""
    cat = DATASETS[dataset]
    published = set(policy.allowlist(dataset))
    parts: list[pl.Expr] = []
    if cat in df.columns:
        parts.append(pl.when(pl.col(cat).is_in(policy.sensitive_categories))
                     .then(pl.lit("sensitive_category:") + pl.col(cat)))
    pats = [p.lower() for p in policy.sensitive_type_patterns if p]
    for tcol in TYPE_COLUMNS[dataset]:
        if tcol in df.columns and pats:
            low = pl.col(tcol).str.to_lowercase()
            hit = pl.any_horizontal([low.str.contains(r"\b" + re.escape(p)) for p in pats]).fill_null(False)
            label = pl.col(tcol) if tcol in published else pl.lit(tcol)
            parts.append(pl.when(hit).then(pl.lit("sensitive_type:") + label))
    if has_juvenile_flag:
        parts.append(pl.when(pl.col("juvenile_flag").fill_null(False)).then(pl.lit("juvenile_flag")))
    parts.append(pl.when(_unmapped(df, dataset, policy)).then(pl.lit(UNMAPPED_CODE)))
    parts.append(pl.when(_unparsed(df, dataset, policy)).then(pl.lit(UNPARSED_ADDRESS)))
    out = df.select(pl.concat_list(parts).list.drop_nulls().list.unique(maintain_order=True)
                    .alias("r"))["r"]
    return out.list.join("; ").replace("", None).alias("masking_reason")


# ----------------------------------------------------------------------------------------------- API

def mask_events(df: pl.DataFrame, dataset: str, policy: MaskingRules, *,
                has_juvenile_flag: bool, analysis_crs: str, timezone: str = "UTC",
                ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Public rows of core.calls (`dataset="calls"`) or core.incidents (`"incidents"`).

    `analysis_crs` is the CRS of core x/y (metres); `timezone` the IANA zone the hours are published in.
    Returns (public frame with exactly the allowlisted columns, masking log). The log has columns
    kind (excluded | masking | location | note), reason, rows, detail: rows per masking reason (a row with
    several reasons counts under each), rows masked in all, how locations were published, and notes -- when
    `has_juvenile_flag` is False, the note "juvenile masking relies on the category list alone".
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; use one of {sorted(DATASETS)}")
    cols = policy.allowlist(dataset)
    if has_juvenile_flag and "juvenile_flag" not in df.columns:
        raise ValueError("has_juvenile_flag=True but the frame has no juvenile_flag column")
    missing = [c for c in cols if c not in df.columns and c not in DERIVED_COLUMNS + ("lon", "lat")]
    if missing:
        raise ValueError(f"allowlisted columns missing from the {dataset} frame: {missing}")

    log: list[dict] = []
    if "is_void" in df.columns:
        n_void = int(df["is_void"].fill_null(False).sum())
        df = df.filter(~pl.col("is_void").fill_null(False))
        log.append({"kind": "excluded", "reason": "void", "rows": n_void, "detail": "void records left out"})

    reason = _reasons(df, dataset, policy, has_juvenile_flag)
    masked = reason.is_not_null().to_numpy()  # any reason: block, beat and coordinates null
    # sensitive: any reason but unparsed_address alone (it comes last), since an address that does not parse is
    # not sensitive: it keeps its district even when sensitive_location = suppress
    sensitive = (reason.is_not_null() & (reason != UNPARSED_ADDRESS)).to_numpy()
    sx, sy, method = _snap(df, policy)
    located = np.isfinite(sx) & np.isfinite(sy) & ~masked
    lon, lat = np.full(df.height, np.nan), np.full(df.height, np.nan)
    if located.any():
        lon[located], lat[located] = _to_lonlat(sx[located], sy[located], analysis_crs)

    work = df.with_columns(
        pl.Series("__lon", lon).fill_nan(None), pl.Series("__lat", lat).fill_nan(None),
        reason, pl.Series("__masked", masked), pl.Series("__sensitive", sensitive))
    exprs: list[pl.Expr] = []
    schema = work.schema
    blank_district = policy.sensitive_location == "suppress"
    for c in cols:
        if c == "event_hour":
            src = "event_at"
            e = round_hour(pl.col(src), schema[src], timezone)
        elif c in ("lon", "lat"):
            e = pl.col(f"__{c}")
        elif c == "masking_reason":
            e = pl.col(c)
        elif isinstance(schema[c], pl.Datetime):
            e = round_hour(pl.col(c), schema[c], timezone)
        else:
            e = pl.col(c)
        if c in FINE_LOCATION_COLUMNS:
            e = pl.when(pl.col("__masked")).then(None).otherwise(e)
        elif c == "district" and blank_district:
            e = pl.when(pl.col("__sensitive")).then(None).otherwise(e)
        exprs.append(e.alias(c))
    public = work.select(exprs)

    generalized = "location generalized to district" if not blank_district else "location suppressed"
    details = {UNMAPPED_CODE: f"code missing from the crosswalk or category unknown: {generalized}",
               UNPARSED_ADDRESS: "address is not a block or an intersection: location generalized to district"}
    for r, n in (reason.drop_nulls().str.split("; ").explode().value_counts(sort=True, name="n")
                 .sort(["n", "masking_reason"], descending=[True, False]).iter_rows()):
        log.append({"kind": "masking", "reason": r, "rows": int(n), "detail": details.get(r, generalized)})
    log.append({"kind": "masking", "reason": "any", "rows": int(masked.sum()), "detail": "rows masked in all"})
    for m, detail in (("grid", f"snapped to {policy.grid_cell_m:g} m grid cell centre"),
                      ("block", "snapped to the mean of the block's points"),
                      ("grid_fallback", f"block has < {policy.k_min} distinct points: grid cell centre")):
        n = int(((method == m) & located).sum())
        if n or m == policy.coordinate_snap:
            log.append({"kind": "location", "reason": f"location_snapped:{m}", "rows": n, "detail": detail})
    n_unloc = int((~np.isfinite(sx) & ~masked).sum())
    log.append({"kind": "location", "reason": "no_location", "rows": n_unloc,
                "detail": "no coordinates in core; published without a point"})
    if not has_juvenile_flag:
        log.append({"kind": "note", "reason": "juvenile", "rows": None, "detail": JUVENILE_NOTE})
    log_df = pl.DataFrame(log, schema={"kind": pl.String, "reason": pl.String, "rows": pl.Int64,
                                       "detail": pl.String})
    return public, log_df


def notes(masking_log: pl.DataFrame) -> list[str]:
    """The notes of a masking log (e.g. the juvenile note), for the data dictionary."""
    return masking_log.filter(pl.col("kind") == "note")["detail"].to_list()


def aggregate_with_suppression(df: pl.DataFrame, by: list[str], k_min: int = 3) -> pl.DataFrame:
    """Rows per group of `by`; groups with 0 < n < k_min get n = null and suppressed = true."""
    counts = df.group_by(by).agg(n=pl.len()).sort(by, nulls_last=True)
    small = (pl.col("n") > 0) & (pl.col("n") < k_min)
    return counts.with_columns(
        n=pl.when(small).then(None).otherwise(pl.col("n")).cast(pl.Int64), suppressed=small)
