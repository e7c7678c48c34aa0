"""`sara near-repeat`: the Knox test for near repeats, on a CSV file or on the published warehouse.

The statistics live in transforms/stats/knox.py (pure Python, no Prefect); the warehouse's events are read by
transforms/warehouse/status.py.
"""

from __future__ import annotations

import math
from datetime import date
from enum import StrEnum
from pathlib import Path

import numpy as np
import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from flows.cli.common import ConfigOpt, console, err, fail, settings_from, warehouse_errors


class Dataset(StrEnum):
    incidents = "incidents"
    calls = "calls"


class ClosedSide(StrEnum):
    left = "left"
    right = "right"


class DistanceMetric(StrEnum):
    manhattan = "manhattan"
    euclidean = "euclidean"


def _iso(value: str | None, flag: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise fail(f"{flag}: {value!r} is not an ISO date (YYYY-MM-DD)") from None


def _warehouse_events(config: str | None, dataset: Dataset, category: str | None,
                      agency: str | None) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """x, y (metres, agency analysis CRS), t (whole local days since 1970-01-01) of located,
    non-void (calls: countable) events of one agency, from the published warehouse, read-only."""
    from transforms.warehouse import status
    from transforms.warehouse.db import open_published

    settings = settings_from(config)
    table, cat_col = status.knox_table(dataset.value)
    cats = [c.strip().lower() for c in (category or "").split(",") if c.strip()]
    with warehouse_errors(settings), open_published(settings.warehouse_path) as con:
        per_agency = status.knox_per_agency(con, dataset.value, cats)
        if not per_agency:
            known = status.knox_categories(con, dataset.value)
            listing = ", ".join(f"{c} ({n})" for c, n in known) or "none: the table is empty"
            what = f" in categories {category!r}" if cats else ""
            raise fail(f"no located {dataset.value}{what} in {settings.warehouse_path}; "
                       f"{cat_col} values: {listing}")
        if agency is None:
            if len(per_agency) > 1:
                listing = ", ".join(f"{a} ({n:,} events)" for a, n in per_agency.items())
                raise fail(f"the selection spans several agencies ({listing}); each has its own map "
                           "projection and time zone, so test one at a time: pass --agency")
            agency = next(iter(per_agency))
        elif agency not in per_agency:
            raise fail(f"--agency {agency!r}: no matching {dataset.value}; agencies with events: "
                       f"{', '.join(per_agency) or 'none'}")
        if agency not in settings.sara.agencies:
            raise fail(f"agency {agency!r} is not in {settings.config_path}; its time zone is unknown")
        rows = status.knox_points(con, dataset.value, cats, agency, settings.sara.agencies[agency].timezone)
    label = f"{settings.warehouse_path} {table}, agency {agency}" + (f", {cat_col} in {cats}" if cats else "")
    return (np.asarray(rows["x"], dtype=float), np.asarray(rows["y"], dtype=float),
            np.asarray(rows["t"], dtype=float), label)


def _fmt_count(v: float) -> str:
    return "-" if not math.isfinite(v) else f"{v:,.0f}" if v == round(v) else f"{v:,.1f}"


def _print_table(res, space_labels: list[str], time_labels: list[str], alpha: float = 0.05) -> None:
    df = res.table
    n_tb = len(time_labels)
    t = Table(title=f"Knox test: {res.n_events:,} events, {res.n_pairs:,} pairs, {res.perms} permutations",
              caption="cell: observed pairs / expected (permutation mean) / x Knox ratio / p\n"
                      f"[bold white on red3] highlighted [/]: more pairs than chance (ratio > 1, p ≤ {alpha:g}; the open bands have no p)",
              show_lines=True)
    t.add_column("space \\ time", style="bold", no_wrap=True)
    for lab in time_labels:
        t.add_column(lab, justify="right", no_wrap=True)
    rows = df.rows(named=True)
    for s, slab in enumerate(space_labels):
        cells = []
        for k in range(n_tb):
            r = rows[s * n_tb + k]
            ratio, p = r["knox_ratio"], r["p_value"]
            ratio_s = "-" if not math.isfinite(ratio) else f"{ratio:.2f}"
            p_s = "-" if not math.isfinite(p) else f"{p:.3f}"
            text = f"{r['observed']:,}\n{_fmt_count(r['expected_mean'])}\nx {ratio_s}\np {p_s}"
            hot = math.isfinite(p) and p <= alpha and ratio > 1
            cells.append(Text(text, style="bold white on red3" if hot else ""))
        t.add_row(slab, *cells)
    console.print(t)


def near_repeat(
    file: Path | None = typer.Argument(
        None, metavar="FILE", show_default=False,
        help="CSV of events: the Near Repeat Calculator's format (no header: X, Y, date) or with a header "
             "(see --x/--y/--date). Without FILE: the published warehouse."),
    x: str | None = typer.Option(None, "--x", help="header name of the X (easting, metres) column"),
    y: str | None = typer.Option(None, "--y", help="header name of the Y (northing, metres) column"),
    date_col: str | None = typer.Option(None, "--date", help="header name of the date column"),
    date_format: str | None = typer.Option(
        None, "--date-format",
        help="strftime format of the dates, e.g. '%d/%m/%Y' or '%Y-%m-%d %H:%M' (default: detected from "
             "the whole column; an ambiguous column is refused)"),
    dataset: Dataset = typer.Option(Dataset.incidents, "--dataset", help="warehouse mode: which table"),
    category: str | None = typer.Option(
        None, "--category",
        help="warehouse mode: comma list of offense_category (incidents) or call_category (calls) values"),
    agency: str | None = typer.Option(None, "--agency",
                                      help="warehouse mode: agency code (needed when several have events)"),
    config: str | None = ConfigOpt,
    since: str | None = typer.Option(None, "--since", help="first date kept, YYYY-MM-DD (inclusive)"),
    until: str | None = typer.Option(None, "--until", help="last date kept, YYYY-MM-DD (inclusive)"),
    space_bands: str = typer.Option("0,1,100,200,300", "--space-bands",
                                    help="space band edges in metres; the last band is open-ended"),
    time_bands: str = typer.Option("0,7,14,21", "--time-bands",
                                   help="time band edges in days; the last band is open-ended"),
    closed: ClosedSide = typer.Option(ClosedSide.left, "--closed",
                                      help="left: bands [0,7) [7,14) ...; right: bands [0,7] (7,14] ... (the first closed at 0)"),
    metric: DistanceMetric = typer.Option(DistanceMetric.manhattan, "--metric",
                                          help="manhattan |dx| + |dy| (as the Near Repeat Calculator) or "
                                               "euclidean"),
    perms: int = typer.Option(999, "--perms", min=0, help="permutations of the event times (999: p >= 0.001)"),
    seed: int | None = typer.Option(None, "--seed", help="random seed: the same seed gives the same p-values"),
    out: Path | None = typer.Option(None, "--out", help="write the full table (one row per cell) as CSV"),
) -> None:
    """Knox test for near repeats: are events close in space also close in time?

    Every pair of events falls in one space band (the distance between the
    two points) and one time band (the days between the two events).
    OBSERVED counts the pairs in each cell. The null model shuffles the event
    times over the fixed locations, so that when an event happened has
    nothing to do with where: --perms random shuffles, and EXPECTED is the
    mean count over them. KNOX RATIO = observed / expected, and
    p = (shuffles with a count >= observed, plus 1) / (perms + 1).
    A highlighted cell (ratio > 1, p < 0.05) is a near-repeat pattern: for
    example, burglaries within 200 m of each other happening within 7 days
    of each other more often than chance.

    BANDS come from edges. Edges 0,1,100,200,300 give the bands
    [0,1) [1,100) [100,200) [200,300) and an open-ended [300,inf):
    the same place, then rings. --closed right gives
    [0,1] (1,100] (100,200] (200,300] (300,inf), as the Near Repeat
    Calculator does. Distances are in the units of X/Y (metres), Manhattan
    (|dx| + |dy|) by default; times are in days (fractional days when the
    dates have times of day).

    INPUT. FILE is a CSV in the Near Repeat Calculator's own format (no
    header; columns X, Y, date) or with a header (name the columns with
    --x, --y, --date). The date format is detected from the whole column;
    an ambiguous column (every day <= 12, so dd/mm and mm/dd both fit) is
    refused: pass --date-format. Without FILE the published warehouse is
    read: located, non-void incidents (--dataset calls: countable calls) of
    one agency, each on its local date in the agency's time zone (whole
    days for every row, even where the time of day is known).

    EXAMPLES

      sara near-repeat burglary.csv --since 2016-01-01 --until 2016-12-31

      sara near-repeat events.csv --date-format '%d/%m/%Y' --closed right
        --space-bands 0,0.1,200,400,600 --metric euclidean --out knox.csv

      sara near-repeat --category Burglary --agency cpd --seed 1
    """
    from transforms.stats.knox import band_labels, knox, parse_edges, period_mask
    from transforms.warehouse.events_csv import read_events_csv

    d_since, d_until = _iso(since, "--since"), _iso(until, "--until")
    if d_since and d_until and d_until < d_since:
        raise fail(f"--until {d_until} is before --since {d_since}")
    try:
        se = parse_edges(space_bands, "--space-bands")
        te = parse_edges(time_bands, "--time-bands")
    except ValueError as exc:
        raise fail(str(exc)) from None

    if file is not None:
        if category or agency or dataset is not Dataset.incidents:
            raise fail("--dataset, --category and --agency are for the warehouse (no FILE); "
                        "a file is used as it is")
        try:
            ev = read_events_csv(file, x=x, y=y, date=date_col, date_format=date_format)
        except (ValueError, FileNotFoundError) as exc:
            raise fail(str(exc)) from None
        xs, ys, ts, has_time, source = ev.x, ev.y, ev.t, ev.has_time, str(file)
    else:
        if x or y or date_col or date_format:
            raise fail("--x, --y, --date and --date-format describe a FILE; none was given "
                        "(without FILE the warehouse is read)")
        xs, ys, ts, source = _warehouse_events(config, dataset, category, agency)
        has_time = False

    keep = period_mask(ts, d_since, d_until)
    xs, ys, ts = xs[keep], ys[keep], ts[keep]
    if ts.size < 2:
        raise fail(f"{source}: {ts.size} event(s) in the period; the Knox test needs at least 2")
    if np.all(np.abs(xs) <= 180) and np.all(np.abs(ys) <= 90):
        err.print("[yellow]warning:[/yellow] every X/Y is within +-180/+-90: these look like longitude/latitude "
                  "degrees, but bands are in the units of X/Y (metres expected). Project the points first.")
    first, last = (np.datetime64(int(v), "D") for v in (np.floor(ts.min()), np.floor(ts.max())))
    console.print(f"{escape(source)}: {ts.size:,} events from {first} to {last} "
                  f"({'times of day: fractional days' if has_time else 'dates: whole days'}); "
                  f"{metric.value} distance, {closed.value}-closed bands", soft_wrap=True, highlight=False)
    if 0 < perms < 19:
        err.print(f"[yellow]warning:[/yellow] with {perms} permutations no p can be below 0.05 "
                  "(the smallest is 1 / (perms + 1))")

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("permutations"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=err, transient=True) as bar:
        task = bar.add_task("perms", total=max(perms, 1))
        res = knox(xs, ys, ts, se, te, closed=closed.value, metric=metric.value, perms=perms, seed=seed,
                   progress=lambda done, total: bar.update(task, completed=done))

    _print_table(res, band_labels(se, closed.value, "m"), band_labels(te, closed.value, "days"))
    console.print(f"{res.n_close_pairs:,} pairs closer than {se[-1]:g} m were enumerated; "
                  f"{res.seconds:.1f} s" + (f"; seed {seed}" if seed is not None else ""), soft_wrap=True)
    if out is not None:
        try:
            out.parent.mkdir(parents=True, exist_ok=True)
            res.table.write_csv(out)
        except OSError as exc:
            raise fail(f"--out {out}: {exc}", 1) from None
        console.print(f"wrote {escape(str(out))} ({res.table.height} rows)", soft_wrap=True, highlight=False)
