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
                                    help="output folder (default data/reports/<profile>/<as_of>, as_of the "
                                         "latest agency as_of); index.html goes there"),
) -> None:
    """Write the weekly scanning report (index.html, opens offline) and print its path.

    Examples:  sara report  |  sara report --out /srv/www/scanning
    """
    from transforms.outputs.report import build_report
    from transforms.warehouse.db import WarehouseCorrupt, open_published

    settings = settings_from(config)
    try:
        with open_published(settings.warehouse_path) as con:
            path = build_report(con, settings, out_dir=out)
    except (FileNotFoundError, WarehouseCorrupt) as exc:
        raise fail(str(exc)) from None
    console.print(escape(str(path)), highlight=False, soft_wrap=True)
