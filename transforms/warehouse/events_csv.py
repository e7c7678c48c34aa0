"""Events from a CSV file for `sara near-repeat` (and the Knox benchmark): x, y and a date per row.

The file is the Near Repeat Calculator's own format (no header; columns X, Y, date) or any CSV with a
header. Dates are read with one format for the whole column, given or detected; an ambiguous column
(every day <= 12, so dd/mm and mm/dd both read it) is refused, never guessed. Errors name the file, the
line and the column. The Knox test itself (transforms/stats/knox.py) takes the arrays and reads no file.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl

# ---------------------------------------------------------------------------------------------
# Dates
# ---------------------------------------------------------------------------------------------

_DATE_PARTS = ["%Y-%m-%d", "%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d-%m-%Y", "%m-%d-%Y", "%d.%m.%Y",
               "%d/%m/%y", "%m/%d/%y"]
_TIME_PARTS = ["", " %H:%M", " %H:%M:%S", " %H:%M:%S%.f", " %I:%M %p", " %I:%M:%S %p"]
DATE_FORMATS: list[str] = [d + tp for d in _DATE_PARTS for tp in _TIME_PARTS] + [
    "%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%.f"]
"""The formats tried when no format is given (strftime codes; %.f = fractional seconds)."""

_CODE_RE = {"%Y": r"\d{4}", "%y": r"\d{2}", "%m": r"\d{1,2}", "%d": r"\d{1,2}", "%H": r"\d{1,2}",
            "%I": r"\d{1,2}", "%M": r"\d{2}", "%S": r"\d{2}", "%p": r"(?i:am|pm)", "%.f": r"\.\d{1,9}"}


def _format_regex(fmt: str) -> str:
    out, k = [], 0
    while k < len(fmt):
        for code, rx in _CODE_RE.items():
            if fmt.startswith(code, k):
                out.append(rx)
                k += len(code)
                break
        else:
            out.append(re.escape(fmt[k]))
            k += 1
    return "^" + "".join(out) + "$"


def _has_time_code(fmt: str) -> bool:
    return any(c in fmt for c in ("%H", "%I", "%M", "%S", "%T", "%R", "%r", "%c"))


def _parse_with(s: pl.Series, fmt: str) -> pl.Series:
    """Days since 1970-01-01 as Float64 (null where the value does not parse)."""
    if _has_time_code(fmt):
        us = s.str.strptime(pl.Datetime("us"), fmt, strict=False).cast(pl.Int64)
        return us.cast(pl.Float64) / 86_400_000_000.0
    return s.str.strptime(pl.Date, fmt, strict=False).cast(pl.Int32).cast(pl.Float64)


def _parse_dates(values, fmt: str | None, where: Callable[[int], str], column: str) -> tuple[np.ndarray, bool]:
    """where(k) names value k ("row 3", "file.csv line 4"); column names the column ("" for none)."""

    def loc(k: int) -> str:
        return f"{where(k)}, {column}" if column else where(k)

    s = pl.Series("v", values, dtype=pl.String) if not isinstance(values, pl.Series) else values.cast(pl.String)
    s = s.str.strip_chars()
    missing = (s.is_null() | (s == "")).arg_true()
    if missing.len():
        raise ValueError(f"{loc(int(missing[0]))}: no date; every event needs a date")
    if s.len() == 0:
        return np.empty(0, dtype=np.float64), False

    if fmt is not None:
        days = _parse_with(s, fmt)
        bad = days.is_null().arg_true()
        if bad.len():
            k = int(bad[0])
            raise ValueError(f"{loc(k)}: {s[k]!r} does not match the date format {fmt!r} "
                             f"({bad.len()} of {s.len()} values do not)")
        chosen = fmt
    else:
        fits: list[tuple[str, pl.Series]] = []
        best: tuple[int, str, int] | None = None  # (values read, format, first value not read)
        for f in DATE_FORMATS:
            shape_ok = s.str.contains(_format_regex(f))
            if not shape_ok.any():
                continue
            days = _parse_with(s, f)
            ok = shape_ok & days.is_not_null()
            n_ok = int(ok.sum())
            if n_ok == s.len():
                fits.append((f, days))
            elif n_ok and (best is None or n_ok > best[0]):
                best = (n_ok, f, int((~ok).arg_true()[0]))
        if not fits:
            hint = "Pass the format with --date-format (strftime codes, e.g. '%d/%m/%Y %H:%M')."
            if best is not None:
                n_ok, f, k = best
                raise ValueError(f"{loc(k)}: {s[k]!r} is not a date in the format {f!r}, which reads {n_ok} of "
                                 f"{s.len()} values; no known format reads them all. Fix the value, or: {hint}")
            raise ValueError(f"{loc(0)}: could not recognise the date format of {s[0]!r}. {hint}")
        distinct: list[tuple[str, pl.Series]] = []
        for f, days in fits:
            if not any(days.equals(d2) for _, d2 in distinct):
                distinct.append((f, days))
        if len(distinct) > 1:
            (f1, d1), (f2, d2) = distinct[0], distinct[1]
            k = int((d1 != d2).arg_true()[0])
            names = ", ".join(repr(f) for f, _ in distinct)

            def iso(v: float) -> str:
                return str(np.datetime64(int(round(v * 86400)), "s")).replace("T00:00:00", "")

            raise ValueError(
                f"{column or 'dates'}: the dates are ambiguous, more than one format reads every value: {names}. "
                f"For example {s[k]!r} ({where(k)}) is {iso(d1[k])} with {f1!r} but {iso(d2[k])} with {f2!r}. "
                f"sara does not guess: pass the right one with --date-format (e.g. --date-format '{f1}').")
        chosen, days = distinct[0]
    arr = days.to_numpy().astype(np.float64)
    has_time = _has_time_code(chosen) and bool(np.any(arr != np.floor(arr)))
    return arr, has_time


def parse_dates(values: list[str] | pl.Series, fmt: str | None = None) -> tuple[np.ndarray, bool]:
    """Dates (optionally with times of day) as days since 1970-01-01 (float), and a has_time flag.

    With ``fmt`` (strftime codes, e.g. "%d/%m/%Y %H:%M") every value must match it. Without, the
    format is detected from the WHOLE column among ``DATE_FORMATS``; if more than one format reads
    every value with different results (e.g. every day <= 12, so dd/mm and mm/dd both work) it raises
    ValueError naming the candidates: it never guesses. Whole days for dates only; fractional days
    for times. has_time is True when the format has a time of day and some value is not at midnight.
    """
    return _parse_dates(values, fmt, lambda k: f"row {k + 1}", "")


# ---------------------------------------------------------------------------------------------
# Event files
# ---------------------------------------------------------------------------------------------


class Events(NamedTuple):
    x: np.ndarray
    y: np.ndarray
    t: np.ndarray  # days since 1970-01-01
    has_time: bool


def _is_number(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _pick_column(header: list[str], wanted: str | None, role: str, path: Path) -> int:
    low = [h.strip().lower() for h in header]
    if wanted is not None:
        if wanted in header:
            return header.index(wanted)
        if wanted.strip().lower() in low:
            return low.index(wanted.strip().lower())
        raise ValueError(f"{path}: no column {wanted!r} (--{role}); the header has {header}")
    if role in low:
        return low.index(role)
    if role == "date":
        hits = [k for k, h in enumerate(low) if "date" in h]
        if len(hits) == 1:
            return hits[0]
    raise ValueError(f"{path}: which column is {role.upper()}? Pass --{role} NAME; the header has {header}")


def read_events_csv(path: str | Path, x: str | None = None, y: str | None = None, date: str | None = None,
                    date_format: str | None = None) -> Events:
    """Events from a CSV: the Near Repeat Calculator's own format (no header; columns X, Y, date) or a
    file with a header, where ``x``, ``y`` and ``date`` name the columns (default: columns called x,
    y and date, or the one column whose name contains "date"). A header is recognised by the first
    row's X not being a number. Returns (x, y, t in days since 1970-01-01, has_time).

    Errors name the file, the line and the column."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as fh:
        reader = csv.reader(fh)
        rows: list[list[str]] = []
        lines: list[int] = []
        for row in reader:
            if not row or all(not c.strip() for c in row):
                continue
            rows.append(row)
            lines.append(reader.line_num)
    if not rows:
        raise ValueError(f"{path}: the file is empty")
    first = rows[0]
    has_header = not _is_number(first[0].strip())
    if has_header:
        header = [h.strip() for h in first]
        ix, iy, it = (_pick_column(header, x, "x", path), _pick_column(header, y, "y", path),
                      _pick_column(header, date, "date", path))
        names = header[ix], header[iy], header[it]
        rows, lines = rows[1:], lines[1:]
    else:
        if x is not None or y is not None or date is not None:
            raise ValueError(f"{path}: the file has no header row (its first value {first[0]!r} is a number), "
                             "so --x/--y/--date cannot name columns; a headerless file is X, Y, date")
        ix, iy, it = 0, 1, 2
        names = ("X (column 1)", "Y (column 2)", "date (column 3)")
    need = max(ix, iy, it) + 1
    for row, ln in zip(rows, lines, strict=True):
        if len(row) < need:
            raise ValueError(f"{path} line {ln}: {len(row)} column(s), expected at least {need}"
                             + ("" if has_header else " (X, Y, date)"))

    def coords(col: int, name: str) -> np.ndarray:
        vals = [row[col].strip() for row in rows]
        try:
            arr = np.array(vals, dtype=np.float64)
        except ValueError:
            arr = None
        if arr is None or not np.all(np.isfinite(arr)):
            for v, ln in zip(vals, lines, strict=True):
                if not _is_number(v) or not math.isfinite(float(v)):
                    what = "empty" if v == "" else f"{v!r} is not a number"
                    raise ValueError(f"{path} line {ln}, column {name}: {what}")
        return arr

    xs = coords(ix, names[0])
    ys = coords(iy, names[1])
    t, has_time = _parse_dates([row[it] for row in rows], date_format,
                               lambda k: f"{path} line {lines[k]}", f"column {names[2]}")
    return Events(xs, ys, t, has_time)
