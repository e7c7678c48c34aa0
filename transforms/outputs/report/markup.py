"""HTML pieces every part of the report uses: escaping, number formatting, words, tables, the "not available"
note. A figure with no data is written MISSING (a dash), never 0."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

import duckdb

MISSING = "—"
# a percentage change is printed only when last year's count is at least this; a CompStat change is coloured only
# when its Poisson z is beyond ±2 and the larger of the two counts is at least this
MIN_COUNT = 10
Z_LIMIT = 2.0
DATASET_WORDS = {"calls": "calls for service", "incidents": "recorded crimes"}
PERIOD_WORDS = {"week": "last 7 days", "28d": "last 28 days", "ytd": "year to date"}
ORIGIN_WORDS = {"all": "every origin", "community": "community-generated", "officer": "officer-initiated",
                "unknown": "origin unknown"}


class Missing(Exception):
    """A table or column the section needs is not in the warehouse (yet), or there is nothing to draw."""


def esc(v: object) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def is_missing(v: object) -> bool:
    """No figure: None or NaN (pandas' NA too)."""
    if v is None:
        return True
    try:
        return bool(v != v)
    except TypeError:  # pandas.NA
        return True


def fmt_value(v: object) -> str:
    """A cell value as text: thousands separated, two decimals below 10 (one below 1000), no data MISSING."""
    if is_missing(v):
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v.is_integer() and abs(v) < 1e15:
            return f"{v:,.0f}"
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.1f}" if abs(v) >= 10 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def fmt_minutes(seconds: object) -> str:
    """Seconds as minutes with one decimal (12.5); no data MISSING."""
    return MISSING if is_missing(seconds) else f"{float(seconds) / 60:,.1f}"


def fmt_change(change: object, n_last_year: object) -> str:
    """A change against last year: '+15', with the percentage ('+15 (+9%)') only when last year's count is at
    least MIN_COUNT (a percentage of a handful says nothing)."""
    if is_missing(change):
        return MISSING
    out = f"{int(change):+,}"
    if not is_missing(n_last_year) and int(n_last_year) >= MIN_COUNT:
        out += f" ({100 * int(change) / int(n_last_year):+.0f}%)"
    return out


def change_class(z: object, n: object, n_last_year: object) -> str:
    """'up' or 'down' where the Poisson z is beyond ±Z_LIMIT and the larger count is at least MIN_COUNT, else ''."""
    if is_missing(z) or is_missing(n) or is_missing(n_last_year) or max(int(n), int(n_last_year)) < MIN_COUNT:
        return ""
    return "up" if float(z) >= Z_LIMIT else "down" if float(z) <= -Z_LIMIT else ""


CHANGE_RULE = (f"Red: a likely real increase, blue: a likely real decrease (Poisson z = 2(√now − √last year) beyond "
               f"±{Z_LIMIT:g}, and at least {MIN_COUNT} events in one of the two periods). A percentage is shown only "
               f"when last year had at least {MIN_COUNT} events. {MISSING} = no data for that period.")


def what_words(dataset: object, group: object, origin: str | None = None, period: str | None = None) -> str:
    """'Calls for service, violent, community-generated, last 28 days': what a figure counts, in words."""
    parts = [DATASET_WORDS.get(str(dataset), str(dataset)),
             "all categories" if group == "all" else str(group)]
    if origin is not None:
        parts.append(ORIGIN_WORDS.get(origin, origin))
    if period is not None:
        parts.append(PERIOD_WORDS.get(period, period))
    text = ", ".join(parts)
    return text[:1].upper() + text[1:]


def month_words(d: object) -> str:
    """A month as 'October 2026'."""
    return d.strftime("%B %Y") if isinstance(d, date) else str(d)


def local_time(ts: datetime, zone: str) -> str:
    """A timestamp in the agency's zone: '2026-11-20 14:05 PST'."""
    return ts.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M %Z")


def html_table(rows: list[dict], cols: Sequence[str] | None = None,
               cell_class: Callable[[str, object, dict], str] | None = None,
               fmt: Callable[[str, object], str] | None = None, headers: Mapping[str, str] | None = None) -> str:
    """An HTML table of `rows` (dicts) over `cols`; text columns align left. `cell_class(col, value, row)` adds a
    CSS class to a cell, `fmt(col, value)` replaces fmt_value, `headers` gives a column its heading (else the
    key itself, which callers write in words)."""
    if not rows:
        return '<p class="na">No rows.</p>'
    cols = list(cols or rows[0].keys())
    headers = headers or {}

    def is_text(c: str) -> bool:
        return not any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)

    text_cols = {c for c in cols if is_text(c)}
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"t" if c in text_cols else ""}">{esc(headers.get(c, c))}</th>' for c in cols]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>")
        for c in cols:
            v = r.get(c)
            classes = ["t"] if c in text_cols else []
            if cell_class:
                extra = cell_class(c, v, r)
                if extra:
                    classes.append(extra)
            cls = f' class="{" ".join(classes)}"' if classes else ""
            out.append(f"<td{cls}>{esc(fmt(c, v) if fmt else fmt_value(v))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def pct(v: object) -> str:
    """A share (0..1) as a whole percentage; no data MISSING."""
    return MISSING if is_missing(v) else f"{100 * float(v):.0f}%"


def not_available(exc: Exception) -> str:
    """The note a section shows instead of its content when it cannot be built and marts.mart_status has no
    reason for it (a warehouse built before it, a table that is missing): the error, as the reason."""
    if isinstance(exc, Missing | duckdb.CatalogException):
        why = str(exc).splitlines()[0][:200]
    else:
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return f'<p class="na">Not available: {esc(why)}.</p>'
