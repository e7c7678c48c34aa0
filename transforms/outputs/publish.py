"""Public open-data extracts of core.calls / core.incidents that are transparent without harming victims.

Pure functions over polars DataFrames (the caller reads core into polars). The rules:

- Allowlist: a published frame holds ONLY the columns listed in `PublishPolicy.columns[dataset]`, in that
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

import json
import math
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pyproj import CRS, Transformer

DATASETS = {"calls": "call_category", "incidents": "offense_category"}
CODE_COLUMNS = {"calls": "call_type_code", "incidents": "offense_code"}
# core's category for a code missing from the crosswalk, and for a row without a code (null counts too)
UNMAPPED_CATEGORIES = ("unmapped", "unknown", "")
TYPE_COLUMNS = {"calls": ("call_type", "call_type_initial"), "incidents": ("offense",)}
# columns that place a row more finely than its district: null on every masked row
FINE_LOCATION_COLUMNS = ("address_block", "beat", "lon", "lat")
DERIVED_COLUMNS = ("event_hour", "masking_reason")
NEVER_PUBLISHED = ("address", "location_key", "x", "y")
JUVENILE_NOTE = "juvenile masking relies on the category list alone"
UNMAPPED_CODE, UNPARSED_ADDRESS = "unmapped_code", "unparsed_address"

DEFAULT_COLUMNS: dict[str, list[str]] = {
    "calls": ["call_id", "agency", "event_hour", "call_type", "call_category", "priority",
              "disposition_category", "address_block", "beat", "district", "lon", "lat", "masking_reason"],
    "incidents": ["incident_id", "agency", "event_hour", "offense", "offense_category", "crime_against",
                  "address_block", "beat", "district", "lon", "lat", "masking_reason"],
}

DESCRIPTIONS: dict[str, str] = {
    "call_id": "the call id from the CAD source (unique per source)",
    "incident_id": "the incident (report) id from the RMS source",
    "agency": "agency code",
    "source": "source feed name",
    "event_hour": "the hour the call was received / the incident occurred, rounded DOWN to the hour, local "
                  "time with its UTC offset (ISO 8601, e.g. 2024-03-05T14:00:00-08:00)",
    "call_type": "call type as dispatched (final), decoded",
    "call_type_initial": "call type as first entered",
    "call_type_code": "call type code from the CAD source",
    "call_category": "sara call category (crosswalk)",
    "priority": "call priority as in the source",
    "priority_level": "call priority as a number (1 = most urgent)",
    "disposition": "how the call was closed",
    "disposition_category": "sara disposition category",
    "origin": "how the call came in (phone, on-view, ...)",
    "self_initiated": "officer-initiated (on-view) call",
    "offense": "most serious offense, decoded",
    "offense_code": "offense code from the RMS source",
    "offense_category": "sara offense category (crosswalk)",
    "crime_against": "Person, Property or Society (NIBRS)",
    "n_offenses": "number of offenses in the incident",
    "juvenile_flag": "the source marks a juvenile involved",
    "address_block": "block-level address, e.g. 1700 BLOCK JERROLD AVE (house number generalized to the "
                     "hundred block), or an intersection of two streets, e.g. 3RD ST / ELM ST; null for sensitive "
                     "rows, rows whose address is neither (masking_reason unparsed_address) and rows without one",
    "beat": "police beat; null for sensitive rows",
    "district": "police district; kept for sensitive rows when sensitive_location = district",
    "lon": "longitude (EPSG:4326) of the SNAPPED point, never the exact location; null for sensitive and "
           "unlocated rows",
    "lat": "latitude (EPSG:4326) of the SNAPPED point, never the exact location; null for sensitive and "
           "unlocated rows",
    "masking_reason": "why the location was generalized, reasons joined with '; ' "
                      "(sensitive_category:<category>, sensitive_type:<type, or the column name when that column is "
                      "not published>, juvenile_flag, unmapped_code: the code is not in the crosswalk or has no "
                      "category, unparsed_address: the address is not a block or an intersection); null otherwise",
    "time_precision": "exact, date_only or unknown_time (time of day unknown)",
    "response_s": "seconds from received to first unit on scene",
    "is_located": "the source location could be geocoded inside the agency area",
}


class PublishPolicy(BaseModel):
    """What leaves the warehouse. Unknown fields are an error (a typo must not silently publish more)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    columns: dict[str, list[str]] = Field(default_factory=lambda: {k: list(v) for k, v in DEFAULT_COLUMNS.items()})
    sensitive_categories: list[str] = Field(
        default_factory=lambda: ["Sexual Offense", "Domestic Violence", "Behavioral Health"])
    sensitive_type_patterns: list[str] = Field(
        default_factory=lambda: ["sex", "rape", "sodomy", "fondling", "incest", "molest", "juve", "child abuse",
                                 "domestic"])
    # unmapped codes (call_type_code / offense_code, compared case-insensitively) published like mapped ones
    safe_unmapped_codes: dict[str, list[str]] = Field(default_factory=dict)
    sensitive_location: Literal["district", "suppress"] = "district"
    coordinate_snap: Literal["block", "grid"] = "grid"
    grid_cell_m: float = Field(default=250.0, gt=0)
    time_round: Literal["hour"] = "hour"
    k_min: int = Field(default=3, ge=1)

    @field_validator("columns")
    @classmethod
    def _no_forbidden_columns(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        for dataset, cols in v.items():
            bad = [c for c in cols if c.startswith("raw_") or c in NEVER_PUBLISHED]
            if bad:
                raise ValueError(f"{dataset}: columns {bad} can never be published (raw text, exact location)")
            if len(set(cols)) != len(cols):
                raise ValueError(f"{dataset}: duplicate columns in the allowlist")
        return v

    @field_validator("safe_unmapped_codes")
    @classmethod
    def _safe_codes(cls, v: dict[str, list[str]]) -> dict[str, list[str]]:
        bad = sorted(set(v) - set(DATASETS))
        if bad:
            raise ValueError(f"datasets {bad} unknown; use {sorted(DATASETS)}")
        for dataset, codes in v.items():
            if any(not c.strip() for c in codes):
                raise ValueError(f"{dataset}: an empty code cannot be listed safe")
        return v

    def allowlist(self, dataset: str) -> list[str]:
        if dataset not in self.columns:
            raise ValueError(f"no column allowlist for dataset {dataset!r}; the policy lists {sorted(self.columns)}")
        return self.columns[dataset]


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


def _snap(df: pl.DataFrame, policy: PublishPolicy) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
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


def _unparsed(df: pl.DataFrame, dataset: str, policy: PublishPolicy) -> pl.Expr:
    """Rows whose published address_block is neither a block nor an intersection (null address: false)."""
    if "address_block" not in policy.allowlist(dataset) or "address_block" not in df.columns:
        return pl.lit(False)
    values = df["address_block"].drop_nulls().unique().to_list()
    ok = [v for v in values if is_publishable_address(v)]
    return pl.col("address_block").is_not_null() & ~pl.col("address_block").is_in(ok)


def _unmapped(df: pl.DataFrame, dataset: str, policy: PublishPolicy) -> pl.Expr:
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


def _reasons(df: pl.DataFrame, dataset: str, policy: PublishPolicy, has_juvenile_flag: bool) -> pl.Series:
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

def publish_events(df: pl.DataFrame, dataset: str, policy: PublishPolicy | None = None, *,
                   has_juvenile_flag: bool, analysis_crs: str, timezone: str = "UTC",
                   ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Public rows of core.calls (`dataset="calls"`) or core.incidents (`"incidents"`).

    `analysis_crs` is the CRS of core x/y (metres); `timezone` the IANA zone the hours are published in.
    Returns (public frame with exactly the allowlisted columns, masking log). The log has columns
    kind (excluded | masking | location | note), reason, rows, detail: rows per masking reason (a row with
    several reasons counts under each), rows masked in all, how locations were published, and notes -- when
    `has_juvenile_flag` is False, the note "juvenile masking relies on the category list alone".
    """
    policy = policy or PublishPolicy()
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


def data_dictionary(policy: PublishPolicy, dataset: str, extra_notes: list[str] | tuple[str, ...] = ()) -> str:
    """Markdown describing every published column and the masking rules."""
    cols = policy.allowlist(dataset)
    safe = policy.safe_unmapped_codes.get(dataset, [])
    loc = ("generalized to the district (district kept; block, beat, lon and lat null)"
           if policy.sensitive_location == "district" else "suppressed (district, block, beat, lon and lat null)")
    snap = (f"the centre of the {policy.grid_cell_m:g} m grid cell (cells aligned on the origin of the agency's "
            f"analysis CRS) containing the point" if policy.coordinate_snap == "grid" else
            f"the mean of the block's points (blocks with fewer than {policy.k_min} distinct points use the "
            f"centre of their {policy.grid_cell_m:g} m grid cell)")
    lines = [f"# Public extract: {dataset}", "",
             "| column | description |", "|---|---|"]
    for c in cols:
        lines.append(f"| {c} | {DESCRIPTIONS.get(c, 'published as in the warehouse (see sql/schema.sql)')} |")
    lines += ["", "## How the data are protected", "",
              "- Only the columns above are published; caller names, phone numbers, narratives, full addresses "
              "and exact coordinates never are.",
              "- Times are rounded down to the hour, local time with the UTC offset.",
              f"- Coordinates are never the exact location: each point is {snap}, converted to WGS 84 "
              "(EPSG:4326).",
              f"- Sensitive rows have their location {loc}. Sensitive means the category is one of: "
              + ", ".join(policy.sensitive_categories)
              + "; or a word of the call type / offense starts with one of: " + ", ".join(policy.sensitive_type_patterns)
              + "; or the source flags a juvenile; or the code is missing from the crosswalk or has no category "
              "(`unmapped_code`: an unmapped code may be anything, so it is treated as sensitive"
              + (f", except these codes listed safe: {', '.join(safe)}" if safe else "") + "). "
              "`masking_reason` says which rule applied.",
              "- The published address is a hundred block (`1200 BLOCK ELM ST`) or an intersection of two streets "
              "(`3RD ST / ELM ST`); the only numbers in it are block numbers, ordinal street names (`21ST AVE`) "
              "and route numbers (`HWY 101`). Any other address is not published: the row keeps only its "
              "district (`unparsed_address`).",
              "- Void records are left out.",
              f"- Published counts blank (null, suppressed = true) every cell with fewer than {policy.k_min} rows.",
              "- GeoJSON rows with no published location have a null geometry."]
    if extra_notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in extra_notes]
    return "\n".join(lines) + "\n"


def _json_value(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def geojson(public_df: pl.DataFrame, lon_col: str = "lon", lat_col: str = "lat") -> dict:
    """A FeatureCollection (EPSG:4326, RFC 7946): points from lon/lat, null geometry where either is null."""
    feats = []
    for row in public_df.to_dicts():
        lon, lat = row.pop(lon_col, None), row.pop(lat_col, None)
        geom = None
        if lon is not None and lat is not None and math.isfinite(lon) and math.isfinite(lat):
            geom = {"type": "Point", "coordinates": [lon, lat]}
        feats.append({"type": "Feature", "geometry": geom,
                      "properties": {k: _json_value(v) for k, v in row.items()}})
    return {"type": "FeatureCollection", "features": feats}


def write_extract(public_df: pl.DataFrame, out_dir: str | Path, name: str, lon_col: str = "lon",
                  lat_col: str = "lat", *, policy: PublishPolicy, dataset: str,
                  masking_log: pl.DataFrame | None = None) -> list[Path]:
    """Write `<name>.csv`, `<name>.geojson` and `<name>_dictionary.md` (plus `<name>_masking_log.csv` when a
    log is given) atomically: into a temporary folder inside out_dir, then each file os.replace'd into place.
    Refuses a frame with any column outside the policy's allowlist. Returns the paths written."""
    allowed = policy.allowlist(dataset)
    extra = [c for c in public_df.columns if c not in allowed]
    if extra:
        raise ValueError(f"refusing to publish columns not in the {dataset} allowlist: {extra}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".sara-publish-", dir=out))
    written: list[Path] = []
    try:
        public_df.write_csv(tmp / f"{name}.csv")
        (tmp / f"{name}.geojson").write_text(
            json.dumps(geojson(public_df, lon_col, lat_col), ensure_ascii=False, default=str), encoding="utf-8")
        extra_notes = notes(masking_log) if masking_log is not None else []
        (tmp / f"{name}_dictionary.md").write_text(data_dictionary(policy, dataset, extra_notes), encoding="utf-8")
        if masking_log is not None:
            masking_log.write_csv(tmp / f"{name}_masking_log.csv")
        for p in sorted(tmp.iterdir()):
            os.replace(p, out / p.name)
            written.append(out / p.name)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return written
