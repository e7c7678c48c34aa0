"""Scan a public extract for values of columns that must not be published."""

from __future__ import annotations

import csv
import json
import re
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


# --------------------------------------------------------------------------------------------- house numbers
# What the scan treats as a house number (written here on its own, not imported from transforms/stats/masking.py, so
# the test does not share the code under test): every maximal run of digits in a cell, upper-cased, EXCEPT
#   - a multiple of 100 (0 included, leading zeros ignored): the block number of "1200 BLOCK ELM ST";
#   - an ordinal street number: 1 to 3 digits, no leading zero, directly followed by its own suffix (1ST, 2ND,
#     3RD, 4TH, 11TH, 12TH, 13TH, 21ST, 101ST, 111TH ...) and then a non-alphanumeric character or the end;
#     a wrong suffix ("1234TH", "12ST"), a letter before the digits ("N21ST") or 4 digits makes it a number;
#   - a route number: 1 to 3 digits, no leading zero, directly after a whole route word and one space or
#     hyphen (I, INTERSTATE, US, SR, HWY, HIGHWAY, ROUTE, RTE, RT, COUNTY ROAD, COUNTY RD), and then a
#     non-alphanumeric character or the end: "HWY 101", "I-80", "US 50", "STATE ROUTE 9".
# So "12.5" is two numbers (12 and 5), "1/2" is 1 and 2, a zip code is a number, "12XX" holds 12.
# Cells of a column whose whole value has a known non-address format (NON_ADDRESS_FORMATS: ISO hours,
# decimal coordinates, masking-log counts and fixed texts) are not scanned; a cell of such a column that does
# not fully match its format is scanned like any other.

_ROUTE_WORD_BEFORE = re.compile(r"(?:^|[^A-Z0-9])(?:I|INTERSTATE|US|SR|HWY|HIGHWAY|ROUTE|RTE|RT|COUNTY ROAD|"
                                r"COUNTY RD)[ -]$")
ISO_HOUR = r"\d{4}-\d{2}-\d{2}T\d{2}:00:00[+-]\d{2}:\d{2}"
NON_ADDRESS_FORMATS: dict[str, str] = {
    "event_hour": ISO_HOUR,
    "lon": r"-?\d{1,3}\.\d+",
    "lat": r"-?\d{1,2}\.\d+",
    # the masking log: counts, and the fixed details written by transforms/stats/masking.py
    "rows": r"\d+",
    "detail": r"snapped to \d+ m grid cell centre|block has < \d+ distinct points: grid cell centre",
}


def _ordinal_suffix(n: int) -> str:
    if n % 100 in (11, 12, 13):
        return "TH"
    return {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")


def house_numbers(text: str) -> list[str]:
    """The house numbers in `text` by the rule above (empty when there is none)."""
    up = text.upper()
    found = []
    for m in re.finditer(r"\d+", up):
        run, before, after = m.group(), up[:m.start()], up[m.end():]
        if int(run) % 100 == 0:
            continue
        short = len(run) <= 3 and run[0] != "0"
        clean_end = not re.match(r"[A-Z0-9]", after)
        if short and not re.search(r"[A-Z]$", before):
            suffix = _ordinal_suffix(int(run))
            if after.startswith(suffix) and not re.match(r"[A-Z0-9]", after[len(suffix):]):
                continue
        if short and clean_end and _ROUTE_WORD_BEFORE.search(before):
            continue
        found.append(run)
    return found


def published_cells_by_column(out_dir: Path) -> list[tuple[str, str, str]]:
    """(file name, column, cell) for every cell of every CSV (the masking log too) and every GeoJSON
    property in out_dir. Null cells are left out."""
    out = []
    for p in sorted(out_dir.glob("*.csv")):
        with open(p, newline="", encoding="utf-8") as fh:
            rows = csv.reader(fh)
            header = next(rows, [])
            out += [(p.name, h, h) for h in header]
            for row in rows:
                out += [(p.name, c, v) for c, v in zip(header, row, strict=True) if v != ""]
    for p in sorted(out_dir.glob("*.geojson")):
        for f in json.loads(p.read_text(encoding="utf-8"))["features"]:
            out += [(p.name, k, str(v)) for k, v in f["properties"].items() if v is not None]
    return out


def house_number_leaks(out_dir: Path, formats: dict[str, str] | None = None,
                       columns: set[str] | None = None) -> list[tuple[str, str, str, list]]:
    """(file, column, cell, house numbers) for every published cell holding a house number by the rule above.
    `formats` (column -> regex the whole cell must match to be skipped) defaults to NON_ADDRESS_FORMATS;
    `columns`, when given, limits the scan to those columns (real feeds publish codes such as call type 459)."""
    formats = NON_ADDRESS_FORMATS if formats is None else formats
    leaks = []
    for name, col, cell in published_cells_by_column(out_dir):
        if (columns is not None and col not in columns) or (col in formats and re.fullmatch(formats[col], cell)):
            continue
        nums = house_numbers(cell)
        if nums:
            leaks.append((name, col, cell, nums))
    return leaks


def masking_counts(log: pl.DataFrame) -> dict[str, int]:
    """Rows masked per reason, from a masking log."""
    return {r: n for r, n in log.filter(pl.col("kind") == "masking").select("reason", "rows").iter_rows()}


# --- address forms (the scan above says what counts as a house number) ---------------------------------------
# Raw address forms that each hide a house number that is not a multiple of 100, except the Chicago-style
# "0000X" whose digits are 0.
ADVERSARIAL = [
    "APT 4 1234 ELM ST", "#5 1234 ELM ST", "UNIT B 1236 ELM ST", "STE 300 1238 ELM ST",  # unit before
    "1234 ELM ST APT 5", "1234 ELM ST #12", "1234 ELM ST UNIT 5B", "1234 ELM ST STE 301",  # unit after
    "ELM ST 1238", "ELM ST 1238 #4", "1234 ELM ST 5",  # number after the street, bare trailing unit
    "1242-B ELM ST", "1242B ELM ST", "N1244 ELM ST", "W 1244 ELM ST", "1234ELM ST",  # letters glued or before
    "1234 1/2 ELM ST", "1234 1/2", "1234.5 ELM ST", "1,234 ELM ST",  # fractions, decimals, thousands comma
    "1234-1240 ELM ST", "1234 - 1240 ELM ST", "123-45 67TH AVE",  # ranges, Queens-style
    "PO BOX 1234", "P.O. Box 1234", "RR 2 BOX 1234",  # boxes
    "MM 12.5 HWY 1", "MILE MARKER 123", "1234 HWY 101", "HWY 1234",  # mile markers, highways
    "1234 elm st", "1234 Elm St", "1234 n. elm street",  # lower and mixed case
    "01234 ELM ST", "12XX ELM ST", "023XX ELM ST", "012XX W MADISON ST", "0000X W MADISON ST",  # zeros, masks
    "1234 ELM ST, RIVERTON, CA 94110", "ELM ST, RIVERTON, CA 94110",  # city, state, zip
    "1234", "BLOCK 1234", "1234 BLOCK", "ELM ST / 1234 OAK ST", "1234 21ST AVE", "1234TH ST",  # odd shapes
    "1234 COUNTY RD 12", "Apt 4, 1234 Elm St",
]
# What a core that holds these verbatim must never publish either: published-looking values that are not
# a block or an intersection of street names by the strict parse
LOOK_ALIKES = [
    "1250 BLOCK ELM ST", "1200 BLOCK ELM ST 5", "1200 BLOCK ELM ST APT 5", "01200 BLOCK ELM ST",
    "1200 BLOCK 1234TH ST", "1200 BLOCK 12ST ST", "BLOCK ELM ST", "1200 BLOCK", "ELM ST", "PIER 7",
    "1200 block elm st", "1200 BLOCK HWY 1234", "1200 BLOCK ELM ST, CA 94110", "12XX BLOCK ELM ST",
    "1200 BLOCK N1244 ELM ST", "ELM ST / OAK ST / PINE ST", "ELM ST /", "1200 BLOCK ELM ST / OAK ST",
    "1200 BLOCK 21 ST", "1200 BLOCK I-8000", "1200 BLOCK ELM-1234 ST", "\u0661\u0662\u0660\u0660 BLOCK ELM ST",
    "1200 BLOCK ELM  ST", "1200 BLOCK ELM\tST", " 1200 BLOCK ELM ST", "1200 BLOCK ELM ST ",
]
# published as they are: blocks and intersections, with ordinal streets and route numbers
PUBLISHABLE = [
    "1200 BLOCK ELM ST", "0 BLOCK W MADISON ST", "3RD ST / ELM ST", "100 BLOCK 21ST AVE", "1200 BLOCK HWY 101",
    "ELM ST / I-80", "HWY 1 / US 50", "101ST ST / STATE ROUTE 9", "200 BLOCK E 1ST AVE", "12300 BLOCK 111TH ST",
    "1000 BLOCK SE MARINE DR", "ABBOTT ST / W HASTINGS ST", "0 BLOCK RTE 9", "2400 BLOCK E 1ST AVE",
    "800 BLOCK MARTIN LUTHER KING JR WAY", "0 BLOCK US HWY 50", "JEAN-PAUL ST / 12TH ST",
]
