"""What every `sara` command shares: the consoles, the one --config option, settings loading, the one error
printer, the table printer and the progress bars of a night."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text

from transforms.config import ConfigError, Settings, load_settings

console = Console()
err = Console(stderr=True)

ConfigOpt = typer.Option(None, "--config", "-c", envvar="SARA_CONFIG",
                         help="config file (default config/sara.toml in the project folder)")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="show Prefect's and sara's INFO logs")


def fail(message: str, code: int = 2) -> typer.Exit:
    """The one error printer: `error: <message>` on stderr. Returns the exit to raise: `raise fail(...)`.

    Exit 2 is a usage or config error; exit 1 a warehouse that is missing, corrupt or unreadable, or a night
    that failed."""
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def settings_from(config: str | None) -> Settings:
    """The validated settings, or a config error (exit 2)."""
    try:
        return load_settings(config)
    except ConfigError as exc:
        raise fail(f"config error\n{exc}") from None


@contextmanager
def warehouse_errors(settings: Settings, code: int = 1) -> Iterator[None]:
    """A missing, corrupt or unreadable published warehouse, or a DuckDB error, said by fail() with exit `code`
    instead of a traceback."""
    import duckdb

    from transforms.warehouse.db import WarehouseCorrupt, looks_corrupt

    try:
        yield
    except (FileNotFoundError, WarehouseCorrupt) as exc:
        raise fail(str(exc), code) from None
    except duckdb.Error as exc:
        if looks_corrupt(exc):
            raise fail(str(WarehouseCorrupt(settings.warehouse_path, f"DuckDB: {exc}")), code) from None
        raise fail(str(exc), code) from None


def quiet_prefect(verbose: bool) -> None:
    """Log levels of a command: --verbose always shows INFO; without it, WARNING unless the environment already
    sets PREFECT_LOGGING_LEVEL / DASK_LOGGING__DISTRIBUTED (a scheduler's own choice)."""
    if verbose:
        os.environ["PREFECT_LOGGING_LEVEL"] = "INFO"
        os.environ["DASK_LOGGING__DISTRIBUTED"] = "info"
    else:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        # the Dask scheduler and workers (sara run --executor dask) log every connection at INFO
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "warning")
    logging.getLogger("sara").setLevel(logging.INFO if verbose else logging.WARNING)


def print_table(title: str, columns: Sequence[str], rows: Sequence[Sequence], limit: int = 200) -> None:
    """A titled table of at most `limit` rows, values shown as they are (never read as markup)."""
    rows = rows[:limit]
    t = Table(title=title)
    for c in columns:
        t.add_column(Text(c))
    for r in rows:
        t.add_row(*(Text("" if v is None else str(v)) for v in r))
    if not rows:
        t.add_row(*(["(none)"] + [""] * (len(columns) - 1)))
    console.print(t)


class _Bars:
    """Rich progress for a nightly run: one bar per source, advanced per file."""

    def __init__(self, progress: Progress):
        self.p = progress
        self.tasks: dict[str, int] = {}

    def __call__(self, kind: str, **info) -> None:
        if kind == "source":
            self.tasks[info["source"]] = self.p.add_task(f"load {info['source']}", total=max(info["files"], 1))
            if info["files"] == 0:
                self.p.update(self.tasks[info["source"]], completed=1, description=f"{info['source']}: nothing new")
        elif kind == "file":
            self.p.advance(self.tasks[info["source"]])
        elif kind == "normalized":
            t = self.tasks.get(info["source"])
            if t is not None:
                self.p.update(t, description=f"{info['source']}: normalized")


@contextmanager
def progress_bars() -> Iterator[_Bars]:
    """The bars of a night, drawn while it runs; the callback for flows.context.reporting_progress."""
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=False) as progress:
        yield _Bars(progress)
