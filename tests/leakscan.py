"""Scan a public extract for values of columns that must not be published."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import polars as pl


def published_cells(out_dir: Path) -> set[str]:
    cells: set[str] = set()
    for p in out_dir.glob("*.csv"):
        if p.name.endswith("_masking_log.csv"):
            continue
        with open(p, newline="", encoding="utf-8") as fh:
            for row in csv.reader(fh):
                cells.update(row)
    for p in out_dir.glob("*.geojson"):
        for f in json.loads(p.read_text(encoding="utf-8"))["features"]:
            cells.update("" if v is None else str(v) for v in f["properties"].values())
    return cells


def leaked_values(core: pl.DataFrame, allowlist: list[str], out_dir: Path, min_len: int = 4) -> list[tuple]:
    """Values of non-allowlisted text columns that appear in the extract: as a whole CSV/GeoJSON cell, or
    inside a composed published value (masking_reason). A value that is also a legitimate value of an
    allowlisted column in core (e.g. the block address that is the full address for block-geocoded feeds)
    is not a leak. Values shorter than min_len characters (Y/N flags, small numbers) are skipped."""
    cells = published_cells(out_dir)
    composed = set()  # the one free-composed published text: the masking reasons
    for p in out_dir.glob("*.csv"):
        if not p.name.endswith("_masking_log.csv"):
            df = pl.read_csv(p, infer_schema=False)
            if "masking_reason" in df.columns:
                composed.update(df["masking_reason"].drop_nulls().unique().to_list())
    legit = set()
    for c in allowlist:
        if c in core.columns:
            legit.update(str(v) for v in core[c].drop_nulls().unique().to_list())
    leaks = []
    for col in core.columns:
        if col in allowlist or core[col].dtype != pl.String:
            continue
        for v in core[col].drop_nulls().unique().to_list():
            if len(v) < min_len or v in legit:
                continue
            if v in cells or any(v in c for c in composed):
                leaks.append((col, v))
    return leaks
