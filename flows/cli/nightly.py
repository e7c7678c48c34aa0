"""`sara run`, `sara rebuild`, `sara ingest` and `sara demo`: the commands that run the nightly flow."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.common import (
    ConfigOpt,
    VerboseOpt,
    console,
    fail,
    print_table,
    progress_bars,
    quiet_prefect,
    settings_from,
)
from transforms.config import Settings, find_project_dir


def _run_nightly(config_path: str, **options) -> dict:
    from flows.api_server import owned_api
    from flows.context import reporting_progress
    from flows.nightly import nightly

    with owned_api(), progress_bars() as bars, reporting_progress(bars):
        return nightly(config_path=config_path, **options)


def _night_failed(settings: Settings, exc: Exception) -> typer.Exit:
    """Why a night failed, and what is published now, in words that are true for the case at hand."""
    from transforms.warehouse.db import WarehouseCorrupt

    if isinstance(exc, WarehouseCorrupt):
        return fail(f"night failed: {exc}", 1)
    pub = settings.warehouse_path
    now = (f"the last published night in {pub} is unchanged" if pub.exists()
           else f"no night has been published yet ({pub} does not exist)")
    return fail(f"night failed, nothing published ({now}): {exc}", 1)


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
    for w in result.get("area_warnings", []):
        console.print(f"[yellow]study area, {escape(w['agency'])}:[/yellow] {escape(w['warning'])}")
    if result.get("marts", {}).get("as_of"):
        console.print(f"as_of: {escape(str(result['marts']['as_of']))}")
    for w in result.get("mart_warnings", []):
        console.print(f"[yellow]warning: {escape(w)}[/yellow]", soft_wrap=True)


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
    quiet_prefect(verbose)
    if executor not in ("local", "dask"):
        raise fail(f"--executor must be local or dask, not {executor!r}")
    if executor == "local" and (dask_address or dask_workers):
        raise fail("--dask-address and --dask-workers need --executor dask")
    _night(settings_from(config), executor=executor, dask_address=dask_address, dask_workers=dask_workers)


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
        raise _night_failed(settings, exc) from None
    _print_run(result)
    console.print(f"warehouse: {escape(result['warehouse'])}")
    if result["status"] == "partial":
        raise typer.Exit(3)


def rebuild(config: str | None = ConfigOpt, verbose: bool = VerboseOpt) -> None:
    """Build the warehouse again from every file in data/landing/<source>/ and publish it; the file it replaces
    is kept as <warehouse>.set-aside-<time>, never deleted.

    The recovery for a corrupt published warehouse (`sara run` and `sara status` say when it is one). It works
    because the landing folders keep every delivered extract: sara never removes one. The old file stays
    published (or corrupt) until the new one is complete. Exit status as for `sara run`.

    Example:  sara rebuild --config config/sara.toml
    """
    quiet_prefect(verbose)
    settings = settings_from(config)
    try:
        result = _run_nightly(str(settings.config_path), rebuild=True)
    except Exception as exc:
        raise _night_failed(settings, exc) from None
    _print_run(result)
    console.print(f"warehouse: {escape(result['warehouse'])}")
    if result.get("set_aside"):
        console.print(f"the file it replaced: {escape(result['set_aside'])}")
    if result["status"] == "partial":
        raise typer.Exit(3)


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

    quiet_prefect(verbose)
    settings = settings_from(config)
    if source not in settings.sources:
        raise fail(f"unknown source {source!r}; configured: {', '.join(settings.sources)}")
    pattern = settings.sources[source].file_pattern
    unmatched = [p for p in paths if p.name.startswith(".") or p.name.endswith(".part")
                 or not fnmatchcase(p.name, pattern)]
    if unmatched:
        raise fail(f"{', '.join(str(p) for p in unmatched)}: the name does not match {source}'s file_pattern "
                   f"{pattern!r}, so the nightly run would never load it; rename the file (nothing was copied)")
    try:
        copied = copy_into_landing([p.resolve() for p in paths], settings.source_landing(source))
    except LoadError as exc:
        raise fail(str(exc)) from None
    console.print(f"copied {len(copied)} file(s) into {escape(str(settings.source_landing(source)))}")
    _night(settings)


def demo(nights: int = typer.Option(6, help="how many nights of extracts to run (1-6)"),
         scale: float = typer.Option(1.0, help="volume multiplier for the synthetic city"),
         config: str = typer.Option("config/demo.toml", help="the demo's own config profile"),
         verbose: bool = VerboseOpt) -> None:
    """Build a deterministic synthetic city and run the nightly flow over several nights of its extracts.

    The city has a police department with CAD and RMS feeds and a sheriff's office with a CAD feed; one night
    updates calls already loaded, one delivers a late older extract. The first night publishes its CompStat
    figures (as of the day before its run date); the last night builds every mart and writes the report, whose
    "Restated since" section shows how the first night's figures moved (two calls reclassified, one voided,
    one late report: manifest.json, "restated"). The demo has its own config profile,
    landing folders and warehouse (data/demo/), and prints a summary.

    Examples:  sara demo  |  sara demo --nights 2 --scale 0.1   (a quick look)
    """
    from concurrent.futures import ThreadPoolExecutor

    quiet_prefect(verbose)
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    from flows.api_server import owned_api
    from transforms.warehouse.runs import start_afresh

    t0 = time.perf_counter()
    project = find_project_dir()
    demo_dir = project / "data" / "demo"
    console.print(f"[bold]sara demo[/bold]: generating the Riverton city extracts in {escape(str(demo_dir))}")
    # NOTE: the two longest waits before night 1 are generating the city and starting the temporary Prefect API
    # (a server process); they overlap here: the city is generated, and the flow imported, in a thread while
    # this thread starts the server and waits for it (bench/demo_time.py measures the demo).
    with ThreadPoolExecutor(1, thread_name_prefix="sara-demo-city") as pool:
        city = pool.submit(_generate_city, demo_dir, scale)
        # NOTE: each Prefect flow run joins its heartbeat thread on exit, which costs up to a second per
        # subflow; the demo runs 24 flow runs in one process and needs no crash detection, so it turns them off.
        # one temporary Prefect API for every night of the demo, killed with this process
        with owned_api(), temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
            all_nights = city.result()
            settings = settings_from(config)  # after generation: the config names the generated polygon layers
            start_afresh(settings)  # the demo's landing folders and warehouse belong to the demo alone
            chosen = all_nights[: max(1, min(nights, len(all_nights)))]
            result: dict = {}
            for night in chosen:
                # every mart on the last night only; the first publishes its CompStat figures, so that the last
                # night's report can say how they were restated since; the nights between only load
                result = _demo_night(settings, night, marts="all" if night is chosen[-1] else
                                     "figures" if night is chosen[0] else "none")
    _demo_summary(settings, time.perf_counter() - t0)
    if result and result.get("report"):
        console.print(f"scanning report: [bold]{escape(str(result['report']))}[/bold]")


def _generate_city(demo_dir: Path, scale: float) -> list:
    """The demo city's extracts (transforms/demo), then the nightly flow's import, which the first night needs."""
    from transforms.demo import generate_demo_city

    nights = generate_demo_city(demo_dir, scale=scale)
    import flows.nightly  # noqa: F401  (warm: its import is seconds of Prefect, DuckDB and the marts)
    from transforms.stats.knox import warm_up
    from transforms.warehouse.db import verify_spatial

    # paid here, while the main thread waits for the Prefect API, instead of in the nights: the spatial
    # extension's signature check and the Knox kernels' load (a compile on a fresh checkout)
    verify_spatial()
    warm_up()
    return nights


def _demo_night(settings: Settings, night, marts: str) -> dict:
    """Deliver one night's extracts into the landing folders, then run the nightly flow as of the day before
    the night's run date, with marts "all", "figures" (only the published CompStat figures) or "none"."""
    from datetime import timedelta

    from transforms.warehouse.readers import copy_into_landing

    for source, path in night.files:
        copy_into_landing([path], settings.source_landing(source))
    console.rule(f"night {night.night}: run of {night.run_date}")
    try:
        result = _run_nightly(str(settings.config_path), as_of=night.run_date - timedelta(days=1),
                              with_marts=marts != "none", figures_only=marts == "figures")
    except Exception as exc:
        raise fail(f"night {night.night} failed: {exc}", 1) from None
    _print_run(result)
    return result


def _demo_summary(settings: Settings, seconds: float) -> None:
    from transforms.warehouse import status
    from transforms.warehouse.db import open_published

    with open_published(settings.warehouse_path) as con:
        for title, rows in (("rows per table", status.table_sizes(con, ("meta", "core", "marts"))),
                            ("calls and incidents per agency", status.events_per_agency(con)),
                            ("quarantine reasons", status.quarantine_reasons(con)),
                            ("audits (last run)", status.last_audits(con))):
            print_table(title, rows.columns, rows.rows)
    console.print(f"\nwarehouse: [bold]{escape(str(settings.warehouse_path))}[/bold]  ({seconds:.0f} s)")
    console.print(f"try:\n  sara query --config config/demo.toml \"{status.DEMO_QUERY}\"")
