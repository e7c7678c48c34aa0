"""`sara report`: the scanning report (one self-contained HTML page) from the published warehouse.

The page itself is built in transforms/outputs/report/.
"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from flows.cli.common import ConfigOpt, console, fail, settings_from


def report(
    config: str | None = ConfigOpt,
    out: Path | None = typer.Option(None, "--out", "-o",
                                    help="output folder (default data/reports/<as_of>); index.html goes there"),
) -> None:
    """Write the weekly scanning report (index.html, opens offline) and print its path.

    Examples:  sara report  |  sara report --out /srv/www/scanning
    """
    from transforms.marts.dimensions import as_of_date
    from transforms.outputs.report import build_report, report_dir
    from transforms.warehouse.db import WarehouseCorrupt, open_published

    settings = settings_from(config)
    as_of = as_of_date(settings)
    out_dir = out if out is not None else report_dir(settings, as_of)
    try:
        with open_published(settings.warehouse_path) as con:
            path = build_report(con, settings, as_of, out_dir)
    except (FileNotFoundError, WarehouseCorrupt) as exc:
        raise fail(str(exc)) from None
    console.print(escape(str(path)), highlight=False, soft_wrap=True)
