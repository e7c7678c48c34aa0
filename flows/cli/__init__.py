"""`sara`: the command line for analysts and operators.

    sara demo                 build a synthetic two-agency city and run several nights over it
    sara run                  the nightly flow over whatever is new in data/landing/<source>/
    sara rebuild              set the published warehouse aside and build it again from every file in landing
    sara ingest SOURCE FILE   load given files for one source (copied into landing first)
    sara status               last runs, rows per table, quarantine by reason, located share, files held
                              or not picked up in landing
    sara query "SQL"          SQL on the published warehouse (spatial loaded), read-only
    sara docs                 the warehouse data dictionary as Markdown (--config: the config key reference)
    sara export               the marts as GIS layers (GeoPackage, Shapefile, GeoJSON, FlatGeobuf, ...)
    sara near-repeat [FILE]   the Knox near-repeat test on the warehouse or on a CSV
    sara publish              a privacy-safe public extract (CSV, GeoJSON, data dictionary)
    sara report               the weekly scanning report (self-contained HTML)
    sara problem new NAME     a commented template for a tracked problem
    sara assess NAME          a problem's assessment (WDD, WDQ, Poisson z, e-test) in plain language
    sara serve                register the scheduled deployments on a Prefect server and serve them
    sara crosswalk suggest S  call natures proposed for source S's unreviewed codes, as a CSV to review

One module per group of commands (nightly, warehouse, outputs, near_repeat, problem, report, serve), each a
set of plain functions registered here; what they share (the --config option, the error printer, the table
printer, the progress bars) is flows/cli/common.py.
"""

from __future__ import annotations

import typer
import typer.core
from rich.markup import escape

from flows.cli.crosswalk import score, suggest
from flows.cli.near_repeat import near_repeat
from flows.cli.nightly import demo, ingest, rebuild, run
from flows.cli.outputs import export, publish
from flows.cli.problem import assess, problem_new
from flows.cli.report import report
from flows.cli.serve import serve
from flows.cli.warehouse import DocsCommand, docs, query, status


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

# in the order `sara --help` lists them
for command in (run, rebuild, ingest, status, query, export, publish, docs, demo):
    app.command(cls=DocsCommand if command is docs else None)(command)
app.command("near-repeat")(near_repeat)
app.command("report")(report)
app.command("serve")(serve)
app.command("assess")(assess)
problem_app = typer.Typer(help="Tracked SARA problems (config/problems/<name>.yaml).\n\n"
                          "Example:  sara problem new park_burglaries", no_args_is_help=True)
problem_app.command("new")(problem_new)
app.add_typer(problem_app, name="problem")
crosswalk_app = typer.Typer(help="Call natures for a source's local call-type codes (config/taxonomy/README.md)."
                            "\n\nExamples:  sara crosswalk suggest sf_calls  |  sara crosswalk score sf_calls",
                            no_args_is_help=True)
crosswalk_app.command("suggest")(suggest)
crosswalk_app.command("score")(score)
app.add_typer(crosswalk_app, name="crosswalk")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
