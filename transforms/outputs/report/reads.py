"""How the sections read the warehouse: read-only queries with bound values, and what a section needs first.

A section asks for its table and columns with `require`; when they are not there (an older warehouse, a mart
not built yet) it raises `Missing`, and the page shows a short note instead of the section.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from transforms.config import Settings
from transforms.outputs.report.markup import Missing, esc
from transforms.warehouse.sqlutil import qident

STATE_WORDS = {"empty": "Not available", "partial": "Partly available", "not applicable": "Not applicable"}


class Ctx:
    """What every section gets: the connection, the settings, the as-of date of the page, each agency's own
    as_of (marts.periods; the page's date when the warehouse has none), the agencies' names and why a mart is
    empty or partial for an agency (marts.mart_status)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date):
        self.con, self.settings, self.as_of = con, settings, as_of
        self.origin = settings.sara.analysis.default_origin
        self.names = {k: a.name for k, a in settings.sara.agencies.items()}
        ends = report_as_of(con)
        self.as_ofs = {a: ends.get(a, as_of) for a in self.names} if ends else {a: as_of for a in self.names}
        self.rules = dict(fetch_pairs(con, "SELECT agency, rule FROM marts.periods", "marts.periods", ["rule"]))
        self.status = {(r["mart"], r["agency"]): (r["state"], r["reason"]) for r in (
            fetch(con, "SELECT mart, agency, state, reason FROM marts.mart_status WHERE category_group IS NULL")
            if table_columns(con, "marts.mart_status") else [])}

    def name(self, agency: object) -> str:
        return self.names.get(str(agency), str(agency))

    def agency_as_of(self, agency: object) -> date:
        return self.as_ofs.get(str(agency), self.as_of)

    def status_notes(self, mart: str | None, failed: bool = False) -> str:
        """A note per agency whose `mart` is empty, partial or not applicable, with the reason from
        marts.mart_status; failed=True (the section could not be drawn): also say so when nothing explains it."""
        if mart is None:
            return ""
        notes = [(a, *self.status[(mart, a)]) for a in self.names if (mart, a) in self.status
                 and self.status[(mart, a)][0] != "ok"]
        return "".join(f'<p class="na">{esc(STATE_WORDS.get(state, state))} for {esc(self.name(a))}: '
                       f"{esc(reason)}.</p>" for a, state, reason in notes)


def report_as_of(con: duckdb.DuckDBPyConnection) -> dict[str, date]:
    """agency -> its as_of (marts.periods); empty when the warehouse has none."""
    return dict(fetch_pairs(con, "SELECT agency, as_of FROM marts.periods WHERE as_of IS NOT NULL ORDER BY 1",
                            "marts.periods", ["as_of"]))


def fetch_pairs(con: duckdb.DuckDBPyConnection, sql: str, table: str, cols: Sequence[str]) -> list[tuple]:
    """The rows of a two-column query on `table`; none when the table or one of `cols` is missing."""
    have = table_columns(con, table)
    if not have or any(c not in have for c in cols):
        return []
    return con.execute(sql).fetchall()


def qtable(qualified: str) -> str:
    """`schema.table` with both parts quoted."""
    return ".".join(qident(part) for part in qualified.split("."))


def qcols(cols: Sequence[str]) -> str:
    """A quoted column list for SELECT."""
    return ", ".join(qident(c) for c in cols)


def table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """The columns of `schema.table` in order; empty when the table does not exist."""
    schema, table = qualified.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", [schema, table]).fetchall()
    return [r[0] for r in rows]


def require(con: duckdb.DuckDBPyConnection, qualified: str, cols: Sequence[str] = ()) -> list[str]:
    """The table's columns; Missing when the table or one of `cols` is not there."""
    have = table_columns(con, qualified)
    if not have:
        raise Missing(f"{qualified} is not in the warehouse")
    missing = [c for c in cols if c not in have]
    if missing:
        raise Missing(f"{qualified} has no column {', '.join(missing)}")
    return have


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[dict]:
    """Rows of a query as dicts; values are bound from `params`."""
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def pick(available: Sequence[object], preferred: Sequence[object]) -> object | None:
    """The first of `preferred` that is available, else the first available."""
    for p in preferred:
        if p in available:
            return p
    return available[0] if available else None


def nearest(available: Sequence[int], target: int) -> int | None:
    """The available value closest to target (the smaller one on a tie)."""
    return min(available, key=lambda w: (abs(w - target), w)) if available else None


def hot_choice(c: Ctx, table: str, agency: str, origin_pref: Sequence[str], dataset: str = "calls",
               window: int = 28, group: str = "all") -> tuple[str, int] | None:
    """(origin, window_days) of the grid hot spots of `table` to show for an agency, dataset and category group:
    the first of origin_pref it has (else its first origin) and its window nearest to `window`; None when it has
    none."""
    avail = fetch(c.con, f"""SELECT DISTINCT origin, window_days FROM {qtable(table)}
                             WHERE agency = ? AND unit_type = 'grid' AND dataset = ?
                               AND category_group = ?""", [agency, dataset, group])
    origin = pick(sorted({r["origin"] for r in avail}), origin_pref)
    if origin is None:
        return None
    w = nearest(sorted({int(r["window_days"]) for r in avail if r["origin"] == origin}), window)
    return (str(origin), int(w)) if w is not None else None


def agency_datasets(c: Ctx, agency: str) -> set[str] | None:
    """The datasets (calls, incidents) the agency has data for (marts.coverage); None without that mart."""
    if not table_columns(c.con, "marts.coverage"):
        return None
    return {r["dataset"] for r in fetch(c.con, "SELECT DISTINCT dataset FROM marts.coverage WHERE agency = ?",
                                        [agency])}
