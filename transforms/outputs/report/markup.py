"""HTML pieces every part of the report uses: escaping, number formatting, tables, the "not available" note."""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence

import duckdb


class Missing(Exception):
    """A table or column the section needs is not in the warehouse (yet), or there is nothing to draw."""


def esc(v: object) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def fmt_value(v: object) -> str:
    """A cell value as text: thousands separated, two decimals below 1000, NaN and None empty."""
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def html_table(rows: list[dict], cols: Sequence[str] | None = None,
               cell_class: Callable[[str, object, dict], str] | None = None,
               fmt: Callable[[str, object], str] | None = None) -> str:
    """An HTML table of `rows` (dicts) over `cols`; text columns align left. `cell_class(col, value, row)` adds a
    CSS class to a cell, `fmt(col, value)` replaces fmt_value."""
    if not rows:
        return '<p class="na">No rows.</p>'
    cols = list(cols or rows[0].keys())

    def is_text(c: str) -> bool:
        return not any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)

    text_cols = {c for c in cols if is_text(c)}
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"t" if c in text_cols else ""}">{esc(c)}</th>' for c in cols]
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
    """A share (0..1) as a whole percentage."""
    return "" if v is None else f"{100 * float(v):.0f}%"


def not_available(exc: Exception) -> str:
    """The note a section shows instead of its content when it cannot be built and marts.mart_status has no
    reason for it (a warehouse built before it, a table that is missing): the error, as the reason."""
    if isinstance(exc, Missing | duckdb.CatalogException):
        why = str(exc).splitlines()[0][:200]
    else:
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return f'<p class="na">Not available: {esc(why)}.</p>'
