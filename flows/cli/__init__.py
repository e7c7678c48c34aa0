"""`sara`: the command line for analysts and operators.

    sara demo                 build a synthetic two-agency city and run several nights over it
    sara run                  the nightly flow over whatever is new in data/landing/<source>/
    sara rebuild              set the published warehouse aside and build it again from every file in landing
    sara ingest SOURCE FILE   load given files for one source (copied into landing first)
    sara status               last runs, rows per table, quarantine by reason, located share, files held
                              or not picked up in landing
    sara query "SQL"          SQL on the published warehouse (spatial loaded), read-only
    sara docs                 the warehouse data dictionary as Markdown
    sara export               the marts as GIS layers (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, ...)
    sara near-repeat [FILE]   the Knox near-repeat test on the warehouse or on a CSV
    sara publish              a privacy-safe public extract (CSV, GeoJSON, data dictionary)
    sara report               the weekly scanning report (self-contained HTML)
    sara problem new NAME     a commented template for a tracked problem
    sara assess NAME          a problem's assessment (WDD, WDQ, Poisson z, e-test) in plain language
    sara serve                register the scheduled deployments on a Prefect server and serve them
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import time
from pathlib import Path

import typer
import typer.core
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

from transforms.config import ConfigError, Settings, find_project_dir, load_settings


def _escape_help(cmd) -> None:
    """Escape every help text of a command tree once, so Rich shows it as written.

    Typer renders help as Rich markup, which silently drops anything that looks like a tag: "([publish]
    columns in the config)" came out as "( columns in the config)". Help texts here are plain prose."""
    if getattr(cmd, "_sara_help_escaped", False):
        return
    cmd._sara_help_escaped = True
    for attr in ("help", "short_help", "epilog"):
        if getattr(cmd, attr, None):
            setattr(cmd, attr, escape(getattr(cmd, attr)))
    for param in cmd.params:
        if getattr(param, "help", None):
            param.help = escape(param.help)
    for sub in getattr(cmd, "commands", {}).values():
        _escape_help(sub)


class _HelpAsWritten(typer.core.TyperGroup):
    """The root group: escapes the help of the whole tree as Typer builds it (on every invocation)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _escape_help(self)


app = typer.Typer(
    cls=_HelpAsWritten,
    help="sara: CAD calls and RMS incidents into one DuckDB warehouse, for SARA problem-oriented policing.\n\n"
    "Config: --config PATH or SARA_CONFIG (default config/sara.toml). Relative paths resolve against the "
    "project folder, so sara works from any folder.\n\n"
    "Examples: sara demo  |  sara run  |  sara status  |  sara COMMAND --help",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ConfigOpt = typer.Option(None, "--config", "-c", envvar="SARA_CONFIG",
                         help="config file (default config/sara.toml in the project folder)")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="show Prefect's and sara's INFO logs")


def _settings(config: str | None) -> Settings:
    try:
        return load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]config error[/red]\n{escape(str(exc))}")
        raise typer.Exit(2) from None


def _quiet_prefect(verbose: bool) -> None:
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "INFO" if verbose else "WARNING")
    logging.getLogger("sara").setLevel(logging.INFO if verbose else logging.WARNING)
    # the Dask scheduler and workers (sara run --executor dask) log every connection at INFO
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "info" if verbose else "warning")


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


def _run_nightly(config_path: str, with_marts: bool = True, **scale) -> dict:
    from flows import nightly as nf
    from flows.api_server import owned_api

    with owned_api(), Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                               MofNCompleteColumn(), TimeElapsedColumn(), console=console,
                               transient=False) as progress:
        nf.PROGRESS_HOOK = _Bars(progress)
        try:
            return nf.nightly(config_path=config_path, with_marts=with_marts, **scale)
        finally:
            nf.PROGRESS_HOOK = None


def _night_failed(settings: Settings, exc: Exception) -> None:
    """Why a night failed, and what is published now, in words that are true for the case at hand."""
    from transforms.warehouse.db import WarehouseCorrupt

    if isinstance(exc, WarehouseCorrupt):
        err.print(f"[red]night failed:[/red] {escape(str(exc))}", soft_wrap=True)
        return
    pub = settings.warehouse_path
    now = (f"the last published night in {pub} is unchanged" if pub.exists()
           else f"no night has been published yet ({pub} does not exist)")
    err.print(f"[red]night failed, nothing published[/red] ({escape(now)}): {escape(str(exc))}", soft_wrap=True)


def _print_run(result: dict) -> None:
    t = Table(title=f"run {result['run_id'][:8]}: {result['status']}")
    cols = ("files", "skipped", "failed", "waiting", "read", "loaded", "duplicate", "quarantined", "unlocated")
    t.add_column("source")
    for c in cols:
        t.add_column(c, justify="right")
    for s, d in result["sources"].items():
        t.add_row(s, *(str(d.get(k, 0)) for k in cols))
    console.print(t)
    if result.get("message"):
        console.print(f"[yellow]{escape(result['message'])}[/yellow]")
    for w in result.get("waiting", []):
        console.print(f"[yellow]held for the next night, {escape(w['message'])}[/yellow]")
    for u in result.get("unmatched", []):
        console.print(f"[yellow]not picked up (matches no pattern):[/yellow] {escape(u['path'])} ({u['bytes']} bytes)")


@app.command()
def run(config: str | None = ConfigOpt, verbose: bool = VerboseOpt,
        executor: str = typer.Option(
            "local", help="local: one process. dask: one task per source (load + normalize) and per agency "
            "(marts) on a Dask cluster; workers write Parquet parts, this process merges them"),
        dask_address: str | None = typer.Option(
            None, help="a running Dask scheduler, e.g. tcp://10.0.0.5:8786 (workers must see the project "
            "folder at the same path); without it a LocalCluster is started for the run"),
        dask_workers: int | None = typer.Option(
            None, min=1, help="worker processes of the LocalCluster (default: the CPU count)")) -> None:
    """Run the nightly flow over whatever is new in data/landing/<source>/.

    Exit status: 0 ok, 1 failed (nothing published), 3 partial (a file failed, or a file is still being
    written and held for the next night; the rest published).

    Examples:  sara run  |  sara run --executor dask  |  sara run --executor dask --dask-address tcp://sched:8786
    """
    _quiet_prefect(verbose)
    if executor not in ("local", "dask"):
        err.print(f"[red]--executor must be local or dask, not {escape(repr(executor))}[/red]")
        raise typer.Exit(2)
    if executor == "local" and (dask_address or dask_workers):
        err.print("[red]--dask-address and --dask-workers need --executor dask[/red]")
        raise typer.Exit(2)
    _night(_settings(config), executor=executor, dask_address=dask_address, dask_workers=dask_workers)


def _night(settings: Settings, executor: str = "local", dask_address: str | None = None,
           dask_workers: int | None = None) -> None:
    """The body of `sara run`, shared with `sara ingest`: run the nightly flow, print its summary, and exit
    1 (failed, nothing published) or 3 (partial). A plain function: calling the Typer command `run` from
    another command would hand it Typer's unresolved option objects instead of values."""
    scale = {} if executor == "local" else {"executor": "dask", "dask_address": dask_address,
                                             "dask_workers": dask_workers}
    try:
        result = _run_nightly(str(settings.config_path), **scale)
    except Exception as exc:
        _night_failed(settings, exc)
        raise typer.Exit(1) from None
    _print_run(result)
    console.print(f"warehouse: {escape(result['warehouse'])}")
    if result["status"] == "partial":
        raise typer.Exit(3)


@app.command()
def rebuild(config: str | None = ConfigOpt, verbose: bool = VerboseOpt) -> None:
    """Build the warehouse again from every file in data/landing/<source>/ and publish it; the file it replaces
    is kept as <warehouse>.set-aside-<time>, never deleted.

    The recovery for a corrupt published warehouse (`sara run` and `sara status` say when it is one). It works
    because the landing folders keep every delivered extract: sara never removes one. The old file stays
    published (or corrupt) until the new one is complete. Exit status as for `sara run`.

    Example:  sara rebuild --config config/sara.toml
    """
    _quiet_prefect(verbose)
    settings = _settings(config)
    try:
        result = _run_nightly(str(settings.config_path), rebuild=True)
    except Exception as exc:
        _night_failed(settings, exc)
        raise typer.Exit(1) from None
    _print_run(result)
    console.print(f"warehouse: {escape(result['warehouse'])}")
    if result.get("set_aside"):
        console.print(f"the file it replaced: {escape(result['set_aside'])}")
    if result["status"] == "partial":
        raise typer.Exit(3)


@app.command()
def ingest(source: str = typer.Argument(..., help="a configured source name (config/sources/<source>.yaml)"),
           paths: list[Path] = typer.Argument(..., help="files to load"),
           config: str | None = ConfigOpt, verbose: bool = VerboseOpt) -> None:
    """Load given files for one source: copy them into data/landing/<source>/, then run the nightly flow.

    The flow runs over every source, so every load has the same provenance as a nightly delivery.

    A file whose name does not match the source's file_pattern is refused before anything is copied (the
    nightly run would never pick it up). Exit status as `sara run`.

    Example:  sara ingest demo_metro_calls ~/Downloads/metro_cad_20261118T020000.csv --config config/demo.toml
    """
    from fnmatch import fnmatchcase

    from transforms.warehouse.readers import LoadError, copy_into_landing

    _quiet_prefect(verbose)
    settings = _settings(config)
    if source not in settings.sources:
        err.print(f"[red]unknown source {escape(repr(source))}[/red]; configured: {', '.join(settings.sources)}")
        raise typer.Exit(2)
    pattern = settings.sources[source].file_pattern
    unmatched = [p for p in paths if p.name.startswith(".") or p.name.endswith(".part")
                 or not fnmatchcase(p.name, pattern)]
    if unmatched:
        err.print(f"[red]{escape(', '.join(str(p) for p in unmatched))}: the name does not match "
                  f"{escape(source)}'s file_pattern {escape(repr(pattern))}[/red], so the nightly run would "
                  "never load it; rename the file (nothing was copied)", soft_wrap=True)
        raise typer.Exit(2)
    try:
        copied = copy_into_landing([p.resolve() for p in paths], settings.source_landing(source))
    except LoadError as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(2) from None
    console.print(f"copied {len(copied)} file(s) into {escape(str(settings.source_landing(source)))}")
    _night(settings)


@app.command()
def status(config: str | None = ConfigOpt) -> None:
    """The last runs, rows per table, the quarantine summary by reason, the located share per source, failed
    loads, files still being written, and the last run's landing files that match no file_pattern.

    Also failed runs that were never published (runs.jsonl) and unmapped codes.

    Example:  sara status --config config/demo.toml
    """
    import duckdb

    from transforms.warehouse.db import WarehouseCorrupt, looks_corrupt, open_published

    settings = _settings(config)
    try:
        ctx = open_published(settings.warehouse_path)
        con = ctx.__enter__()
    except (FileNotFoundError, WarehouseCorrupt) as exc:
        _print_failed_runs(settings)  # runs.jsonl is beside the warehouse, readable without it
        err.print(f"[red]{escape(str(exc))}[/red]" if isinstance(exc, WarehouseCorrupt) else str(exc), soft_wrap=True)
        raise typer.Exit(1) from None
    try:
        _status_tables(settings, con)
    except duckdb.Error as exc:
        if not looks_corrupt(exc):
            raise
        err.print(f"[red]{escape(str(WarehouseCorrupt(settings.warehouse_path, f'DuckDB: {exc}')))}[/red]",
                  soft_wrap=True)
        raise typer.Exit(1) from None
    finally:
        ctx.__exit__(None, None, None)
    console.print(f"warehouse: {escape(str(settings.warehouse_path))}")


def _print_failed_runs(settings: Settings, last: int = 3) -> None:
    """The last failed nights from runs.jsonl: they were never published, so the warehouse cannot show them."""
    log = settings.warehouse_path.with_name("runs.jsonl")
    if not log.is_file():
        return
    failed = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:  # a line cut short (a disk that filled up): skip it
            continue
        if isinstance(rec, dict) and rec.get("status") == "failed":
            failed.append(rec)
    for f in failed[-last:]:
        console.print(f"[red]unpublished failed run[/red] {str(f.get('run_id'))[:8]} at {f.get('finished_at')}: "
                      f"{escape(str(f.get('message')))}", soft_wrap=True)


def _status_tables(settings: Settings, con) -> None:
    _table("last runs", con.execute(
        "SELECT run_id[:8] AS run, status, started_at, finished_at, rows_read, rows_loaded, rows_duplicate, "
        "rows_quarantined, message FROM meta.runs ORDER BY started_at DESC LIMIT 5"))
    _print_failed_runs(settings)
    _table("rows per table", con.execute(
        "SELECT schema_name || '.' || table_name AS table_name, estimated_size AS rows FROM duckdb_tables() "
        "WHERE schema_name IN ('meta', 'raw', 'core', 'marts') ORDER BY 1"))
    _table("quarantine by reason", con.execute(
        "SELECT source, split_part(reason, ':', 1) AS reason, count(*) AS rows, any_value(reason) AS example "
        "FROM core.quarantine GROUP BY ALL ORDER BY rows DESC"))
    _table("located share per source", con.execute(
        """SELECT source, agency, count(*) AS events, round(avg(is_located::INT) * 100, 1) AS located_pct,
                  count(*) FILTER (WHERE location_issue = 'swapped_repaired') AS swapped_repaired
           FROM (SELECT source, agency, is_located, location_issue FROM core.calls
                 UNION ALL SELECT source, agency, is_located, location_issue FROM core.incidents)
           GROUP BY ALL ORDER BY source"""))
    _table("unmapped codes (add them to config/crosswalks/)", con.execute(
        """SELECT source, code, n FROM (
             SELECT source, call_type_code AS code, count(*) AS n FROM core.calls
             WHERE call_category = 'Unmapped' GROUP BY ALL
             UNION ALL SELECT source, offense_code, count(*) FROM core.incidents
             WHERE offense_category = 'Unmapped' GROUP BY ALL)
           ORDER BY n DESC LIMIT 20"""))
    _table("failed loads", con.execute(
        "SELECT source, path, message FROM meta.loads WHERE status = 'failed' ORDER BY loaded_at DESC LIMIT 10"))
    landing = str(settings.landing_dir) + os.sep
    _table("still being written (held; tried again next run)", con.execute(
        "SELECT source, CASE WHEN starts_with(path, ?) THEN path[length(?) + 1:] ELSE path END AS file, "
        "loaded_at AS last_seen, message FROM meta.loads WHERE status = 'waiting' ORDER BY path",
        [landing, landing]))
    _table("not picked up (matches no pattern), last run", con.execute(
        "SELECT path AS file, bytes, modified_at FROM meta.landing_unmatched "
        "WHERE run_id = (SELECT run_id FROM meta.runs ORDER BY started_at DESC LIMIT 1) ORDER BY path"))


def _table(title: str, rel, limit: int = 200) -> None:
    cols = [d[0] for d in rel.description]
    rows = rel.fetchmany(limit)
    t = Table(title=title)
    for c in cols:
        t.add_column(Text(c))  # Text: values are shown as they are, never read as markup
    for r in rows:
        t.add_row(*(Text("" if v is None else str(v)) for v in r))
    if not rows:
        t.add_row(*(["(none)"] + [""] * (len(cols) - 1)))
    console.print(t)


@app.command()
def query(sql: str = typer.Argument(..., help='SQL, e.g. "SELECT call_category, count(*) FROM core.calls GROUP BY 1"'),
          csv: bool = typer.Option(False, "--csv", help="print CSV instead of a table"),
          limit: int = typer.Option(200, help="rows to print in table mode"),
          config: str | None = ConfigOpt) -> None:
    """Run SQL on the published warehouse (read-only, spatial extension loaded) and print the result.

    Examples:  sara query "SELECT agency, count(*) AS calls FROM core.calls GROUP BY 1"  |
    sara query --csv "SELECT * FROM marts.hotspots LIMIT 100" > hotspots.csv
    """
    import duckdb

    from transforms.warehouse.db import WarehouseCorrupt, open_published

    settings = _settings(config)
    try:
        with open_published(settings.warehouse_path) as con:
            rel = con.execute(sql)
            if rel.description is None:
                return
            if csv:
                import csv as csvmod

                w = csvmod.writer(sys.stdout)
                w.writerow([d[0] for d in rel.description])
                while batch := rel.fetchmany(10000):
                    w.writerows(batch)
            else:
                _table("result", rel, limit)
    except (duckdb.Error, FileNotFoundError, WarehouseCorrupt) as exc:
        err.print(f"[red]{escape(str(exc))}[/red]")
        raise typer.Exit(1) from None


@app.command()
def export(fmt: str = typer.Option("gpkg", "--format", "-f",
                                   help="gpkg (default, one file, QGIS-styled), shp, geojson (EPSG:4326), fgb, "
                                        "parquet (GeoParquet) or filegdb"),
           out: Path = typer.Option(None, "--out", "-o", help="output folder (default data/exports/<format>)"),
           config: str | None = ConfigOpt) -> None:
    """Write the marts as GIS layers (one per mart and agency), each with its CRS.

    Hot spot layers carry ArcGIS-style fields (GiZScore, GiPValue, Gi_Bin, NNeighbors) beside sara's, and the
    GeoPackage opens in QGIS already styled by gi_bin. Files appear atomically: a GIS user never opens a
    half-written layer.

    Examples:  sara export  |  sara export --format shp --out /srv/gis/sara
    """
    from transforms.outputs.export import FORMATS, export_marts
    from transforms.warehouse.db import WarehouseCorrupt, open_published

    settings = _settings(config)
    if fmt not in FORMATS:
        err.print(f"[red]unknown format {escape(repr(fmt))}[/red]; use one of {', '.join(FORMATS)}")
        raise typer.Exit(2)
    out = (out or settings.resolve(f"data/exports/{fmt}")).resolve()
    agencies = {code: a.crs for code, a in settings.sara.agencies.items()}
    try:
        with open_published(settings.warehouse_path) as con, console.status(f"writing {fmt} layers to {out}"):
            paths = export_marts(con, agencies, out, fmt)
    except (FileNotFoundError, WarehouseCorrupt) as exc:
        err.print(escape(str(exc)))
        raise typer.Exit(1) from None
    for p in paths:
        console.print(f"wrote {escape(str(p))}")


@app.command()
def publish(out: Path = typer.Option(None, "--out", "-o", help="output folder (default data/exports/public)"),
            config: str | None = ConfigOpt) -> None:
    """Write a public open-data extract of calls and incidents (CSV + GeoJSON + a data dictionary per source).

    Only allowlisted columns leave ([publish] columns in the config): no names, phone numbers or narratives.
    Addresses are generalized to the block; published coordinates are snapped to a grid cell or block centroid,
    never the exact point; times are rounded to the hour. Sensitive categories (sexual offences, domestic
    violence, behavioral health, and juvenile-flagged rows where a feed has the flag) keep only their district,
    and each masked row says why.

    Example:  sara publish --out /srv/opendata/sara
    """
    import polars as pl

    from transforms.outputs.publish import publish_events, write_extract
    from transforms.warehouse.db import WarehouseCorrupt, open_published

    settings = _settings(config)
    out = (out or settings.resolve("data/exports/public")).resolve()
    policy = settings.sara.publish
    try:
        with open_published(settings.warehouse_path) as con:
            for name, src in settings.sources.items():
                table = "core.calls" if src.kind == "calls" else "core.incidents"
                df = pl.from_arrow(con.execute(f"SELECT * FROM {table} WHERE source = ?", [name]).fetch_arrow_table())
                if df.is_empty():
                    continue
                agency = settings.sara.agencies[src.agency]
                public, log = publish_events(df, src.kind, policy, has_juvenile_flag="juvenile_flag" in src.columns,
                                             analysis_crs=agency.crs, timezone=agency.timezone)
                paths = write_extract(public, out, name, policy=policy, dataset=src.kind, masking_log=log)
                masked = log.filter((pl.col("kind") == "masking") & (pl.col("reason") == "any"))["rows"].sum()
                console.print(f"{name}: {public.height} rows, {masked} location(s) generalized -> "
                              f"{escape(str(paths[0].parent))}")
    except (FileNotFoundError, WarehouseCorrupt) as exc:
        err.print(escape(str(exc)))
        raise typer.Exit(1) from None


@app.command()
def docs(config: str | None = ConfigOpt) -> None:
    """Print the warehouse's data dictionary (the COMMENTs on every meta and core table and column) as Markdown.

    Without a warehouse yet, it prints the contract itself (the schema every night is built to).

    Example:  sara docs > data-dictionary.md
    """
    import duckdb

    from transforms.outputs.dictionary import data_dictionary
    from transforms.warehouse.db import apply_schema, open_published

    settings = _settings(config)
    if settings.warehouse_path.exists():
        with open_published(settings.warehouse_path) as con:
            print(data_dictionary(con))
    else:  # no warehouse yet: the contract itself
        con = duckdb.connect()
        from transforms.warehouse.db import load_spatial

        load_spatial(con)
        apply_schema(con)
        print(data_dictionary(con))


@app.command()
def demo(nights: int = typer.Option(6, help="how many nights of extracts to run (1-6)"),
         scale: float = typer.Option(1.0, help="volume multiplier for the synthetic city"),
         config: str = typer.Option("config/demo.toml", help="the demo's own config profile"),
         verbose: bool = VerboseOpt) -> None:
    """Build a deterministic synthetic city and run the nightly flow over several nights of its extracts.

    The city has a police department with CAD and RMS feeds and a sheriff's office with a CAD feed; one night
    updates calls already loaded, one delivers a late older extract. The demo has its own config profile,
    landing folders and warehouse (data/demo/), and prints a summary.

    Examples:  sara demo  |  sara demo --nights 2 --scale 0.1   (a quick look)
    """
    from transforms.demo import generate_demo_city

    _quiet_prefect(verbose)
    t0 = time.perf_counter()
    project = find_project_dir()
    demo_dir = project / "data" / "demo"
    console.print(f"[bold]sara demo[/bold]: generating the Riverton city extracts in {escape(str(demo_dir))}")
    all_nights = generate_demo_city(demo_dir, scale=scale)
    settings = _settings(config)  # after generation: the config names the generated polygon layers
    # a fresh start: the demo's landing folders and warehouse belong to the demo alone
    for src in settings.sources:
        shutil.rmtree(settings.source_landing(src), ignore_errors=True)
    wpath = settings.warehouse_path
    for p in wpath.parent.glob(wpath.name + "*"):
        if not p.name.endswith(".lock"):  # the lock stays: a run in progress keeps its claim
            p.unlink()
    runs_log = wpath.with_name("runs.jsonl")
    if runs_log.exists():
        runs_log.unlink()
    # NOTE: each Prefect flow run joins its heartbeat thread on exit, which costs up to a second per
    # subflow; the demo runs 24 flow runs in one process and needs no crash detection, so it turns them off.
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.api_server import owned_api

    # one temporary Prefect API for every night of the demo, killed with this process
    with owned_api(), temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        chosen = all_nights[: max(1, min(nights, len(all_nights)))]
        result: dict = {}
        for night in chosen:
            # the marts are rebuilt from scratch each night; the demo builds them on its last night only
            result = _demo_night(settings, night, with_marts=night is chosen[-1])
    _demo_summary(settings, time.perf_counter() - t0)
    if result and result.get("report"):
        console.print(f"scanning report: [bold]{escape(str(result['report']))}[/bold]")


def _demo_night(settings: Settings, night, with_marts: bool) -> dict:
    """Deliver one night's extracts into the landing folders, then run the nightly flow."""
    for source, path in night.files:
        dst = settings.source_landing(source)
        dst.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, dst / path.name)
    console.rule(f"night {night.night}: run of {night.run_date}")
    try:
        result = _run_nightly(str(settings.config_path), with_marts=with_marts)
    except Exception as exc:
        err.print(f"[red]night {night.night} failed:[/red] {escape(str(exc))}")
        raise typer.Exit(1) from None
    _print_run(result)
    return result


def _demo_summary(settings: Settings, seconds: float) -> None:
    from transforms.warehouse.db import open_published

    with open_published(settings.warehouse_path) as con:
        _table("rows per table", con.execute(
            "SELECT schema_name || '.' || table_name AS table_name, estimated_size AS rows FROM duckdb_tables() "
            "WHERE schema_name IN ('meta', 'core', 'marts') ORDER BY 1"))
        _table("calls and incidents per agency", con.execute(
            """SELECT agency, source, count(*) AS records, count(*) FILTER (WHERE is_located) AS located
               FROM (SELECT agency, source, is_located FROM core.calls
                     UNION ALL SELECT agency, source, is_located FROM core.incidents)
               GROUP BY ALL ORDER BY 1, 2"""))
        _table("quarantine reasons", con.execute(
            "SELECT source, reason, count(*) AS rows FROM core.quarantine GROUP BY ALL ORDER BY rows DESC"))
        _table("audits (last run)", con.execute(
            """SELECT check_name, severity, rows, status FROM meta.audit_results
               WHERE run_id = (SELECT run_id FROM meta.runs ORDER BY started_at DESC LIMIT 1) ORDER BY 1"""))
    console.print(f"\nwarehouse: [bold]{escape(str(settings.warehouse_path))}[/bold]  ({seconds:.0f} s)")
    console.print("try:\n  sara query --config config/demo.toml \"SELECT agency, call_category, origin, count(*) AS calls "
                  "FROM core.calls WHERE is_countable GROUP BY ALL ORDER BY calls DESC LIMIT 15\"")


from flows.cli.near_repeat import near_repeat  # noqa: E402  (registered below, after the app exists)
from flows.cli.problem import assess, problem_new  # noqa: E402
from flows.cli.report import report  # noqa: E402
from flows.cli.serve import serve  # noqa: E402

app.command("near-repeat")(near_repeat)
app.command("report")(report)
app.command("serve")(serve)
app.command("assess")(assess)
problem_app = typer.Typer(help="Tracked SARA problems (config/problems/<name>.yaml).\n\n"
                          "Example:  sara problem new park_burglaries", no_args_is_help=True)
problem_app.command("new")(problem_new)
app.add_typer(problem_app, name="problem")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
