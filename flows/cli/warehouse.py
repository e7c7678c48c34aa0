"""`sara status`, `sara query` and `sara docs`: reading the published warehouse."""

from __future__ import annotations

import sys

import typer
import typer.core
from rich.markup import escape

from flows.cli.common import ConfigOpt, console, fail, print_table, settings_from, warehouse_errors
from transforms.config import Settings


def status(config: str | None = ConfigOpt) -> None:
    """The last runs, each agency's as_of and what its data covers (period, outage days, time precision,
    located share), the marts left empty and why, rows per table, the quarantine summary by reason, the located
    share per source, where beat and district come from (feed or polygon layer) and how often the two disagree,
    failed loads, files still being written, and the last run's landing files that match no
    file_pattern.

    Also failed runs that were never published (runs.jsonl) and unmapped codes.

    Example:  sara status --config config/demo.toml
    """
    from transforms.warehouse.db import WarehouseCorrupt, open_published

    settings = settings_from(config)
    with warehouse_errors(settings):
        try:
            opened = open_published(settings.warehouse_path)
            con = opened.__enter__()
        except (FileNotFoundError, WarehouseCorrupt):
            _print_failed_runs(settings)  # runs.jsonl is beside the warehouse, readable without it
            raise
        try:
            _status_tables(settings, con)
        finally:
            opened.__exit__(None, None, None)
    console.print(f"warehouse: {escape(str(settings.warehouse_path))}")


def _print_failed_runs(settings: Settings) -> None:
    """The last failed nights from runs.jsonl: they were never published, so the warehouse cannot show them."""
    from transforms.warehouse.runs import failed_runs

    for f in failed_runs(settings):
        console.print(f"[red]unpublished failed run[/red] {str(f.get('run_id'))[:8]} at {f.get('finished_at')}: "
                      f"{escape(str(f.get('message')))}", soft_wrap=True)


def _status_tables(settings: Settings, con) -> None:
    from transforms.marts.changes import reclassified_warnings
    from transforms.warehouse import status as st
    from transforms.warehouse.versions import changes_last_night

    def show(title: str, rows: st.Rows) -> None:
        print_table(title, rows.columns, rows.rows)

    show("last runs", st.last_runs(con))
    _print_failed_runs(settings)
    show("as_of per agency", st.agency_periods(con))
    show("coverage per source (outage: a day with no events, or under 20% of typical)", st.coverage(con))
    show("empty or partial marts, and why", st.empty_marts(con))
    show("rows per table", st.table_sizes(con))
    show("quarantine by reason", st.quarantine_by_reason(con))
    show("located share per source", st.located_share(con))
    show("how events were placed: share per geocode method (feed: the feed's own point)", st.located_by_method(con))
    show("placeholder points (not locations: left out of hot spots)", st.placeholder_points(con))
    show("events left out of a unit type: imprecise for it, or on a placeholder", st.left_out_of_units(con))
    show("unmapped codes (add them to config/crosswalks/)", st.unmapped_codes(con))
    show("codes without a reviewed call nature (sara crosswalk suggest SOURCE)", st.unmapped_natures(con))
    show("beat and district: from the feed or the polygon layer", st.unit_sources(con))
    show("beat and district: feed value vs polygon, commonest differences", st.unit_disagreements(con))
    show("failed loads", st.failed_loads(con))
    show("records changed in the last night, by kind (marts.changes: reclassified, disposition, voided, relocated, "
         "retimed, late arrival)", changes_last_night(con))
    for line in reclassified_warnings(con):
        console.print(f"[yellow]warning[/yellow] reclassified share: {escape(line)}", soft_wrap=True)
    show("still being written (held; tried again next run)", st.held_files(con, settings.landing_dir))
    show("not picked up (matches no pattern), last run", st.unmatched_last_run(con))


def query(sql: str = typer.Argument(..., help='SQL, e.g. "SELECT call_category, count(*) FROM core.calls GROUP BY 1"'),
          csv: bool = typer.Option(False, "--csv", help="print CSV instead of a table"),
          limit: int = typer.Option(200, help="rows to print in table mode"),
          as_known_at: str | None = typer.Option(
              None, "--as-known-at", metavar="DATE",
              help="also give views `calls` and `incidents`: the records as the warehouse knew them at the end of "
                   "DATE (UTC), or at a date and time, from the version history (the fields it keeps)"),
          config: str | None = ConfigOpt) -> None:
    """Run SQL on the published warehouse (read-only, spatial extension loaded) and print the result.

    Examples:  sara query "SELECT agency, count(*) AS calls FROM core.calls GROUP BY 1"  |
    sara query --csv "SELECT * FROM marts.hotspots LIMIT 100" > hotspots.csv  |
    sara query --as-known-at 2026-11-18 "SELECT call_category, count(*) FROM calls GROUP BY 1"
    """
    from transforms.warehouse.db import open_published
    from transforms.warehouse.versions import define_known_at, known_at_instant

    settings = settings_from(config)
    try:
        known_at = known_at_instant(as_known_at) if as_known_at else None
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    with warehouse_errors(settings), open_published(settings.warehouse_path) as con:
        if known_at is not None:
            try:
                define_known_at(con, known_at)
            except ValueError as e:
                raise fail(str(e)) from None
        rel = con.execute(sql)
        if rel.description is None:
            return
        columns = [d[0] for d in rel.description]
        if csv:
            import csv as csvmod

            w = csvmod.writer(sys.stdout)
            w.writerow(columns)
            while batch := rel.fetchmany(10000):
                w.writerows(batch)
        else:
            print_table("result", columns, rel.fetchmany(limit), limit)


class DocsCommand(typer.core.TyperCommand):
    """`sara docs`: a bare --config (last, or followed by another option) asks for the config key reference;
    --config FILE names the config file, as everywhere."""

    def parse_args(self, ctx, args: list[str]) -> list[str]:
        args = list(args)
        for i, arg in enumerate(args):
            if arg in ("--config", "-c") and (i + 1 == len(args) or args[i + 1].startswith("-")):
                args[i] = "--config-reference"
        return super().parse_args(ctx, args)


def docs(config: str | None = ConfigOpt,
         config_reference: bool = typer.Option(
             False, "--config-reference", help="print the config key reference (what a bare --config does)")
         ) -> None:
    """Print the warehouse's data dictionary as Markdown: every table and view of meta, raw, core and marts, its
    comment, and each column with its type and comment (meaning, unit, zone).

    Without a warehouse yet, it prints the contract itself (the schema every night is built to). With --config
    and no file name, it prints the config key reference instead (config/REFERENCE.md): every key of sara.toml,
    a source and a problem file with its type, default and meaning, the strptime format dialect, what
    precision: date_only does, the DST rule and an annotated source.

    Examples:  sara docs > data-dictionary.md  |  sara docs --config > config-reference.md
    """
    if config_reference:
        from transforms.config.reference import reference_markdown

        print(reference_markdown(), end="")
        return
    import duckdb

    from transforms.outputs.dictionary import data_dictionary
    from transforms.warehouse.db import apply_schema, load_spatial, open_published

    settings = settings_from(config)
    if settings.warehouse_path.exists():
        with warehouse_errors(settings), open_published(settings.warehouse_path) as con:
            print(data_dictionary(con))
    else:  # no warehouse yet: the contract itself
        con = duckdb.connect()
        load_spatial(con)
        apply_schema(con)
        print(data_dictionary(con))
