"""The page shell: header, navigation, one <section> per builder, inline CSS; and where the page is written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path

import duckdb

from transforms.config import Settings
from transforms.outputs.report.markup import esc, not_available
from transforms.outputs.report.reads import Ctx
from transforms.outputs.report.sections import SECTIONS

CSS = files(__package__).joinpath("style.css").read_text(encoding="utf-8")

INTERNAL_NOTICE = ("Internal report, not for publication: it shows exact addresses (top repeat locations). "
                   "Open data comes from the public extract (sara publish).")


def report_dir(settings: Settings, as_of: date) -> Path:
    """Where the report of `as_of` goes by default: data/reports/<as_of>/ in the project folder."""
    return settings.resolve("data/reports") / as_of.isoformat()


def render_report(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                  generated_at: datetime | None = None) -> str:
    """The whole page as one HTML string."""
    c = Ctx(con, settings, as_of)
    generated = (generated_at or datetime.now(tz=UTC)).astimezone(UTC)
    agencies = ", ".join(c.names.values())
    body = []
    for sid, title, how, fn in SECTIONS:
        try:
            content = fn(c)
        except Exception as exc:  # a section must degrade, never stop the report
            content = not_available(exc)
        body.append(f'<section id="{esc(sid)}"><h2>{esc(title)}</h2><p class="how">How to read: {esc(how)}</p>'
                    f"{content}</section>")
    nav = " · ".join(f'<a href="#{esc(sid)}" style="color:#cfe">{esc(title)}</a>' for sid, title, _, _ in SECTIONS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(f'Scanning report {as_of.isoformat()}')}</title>"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>\n{CSS}</style></head>"
        f"<body><header><h1>Scanning report</h1><p>{esc(agencies)}</p>"
        f'<p class="internal"><strong>{esc(INTERNAL_NOTICE)}</strong></p>'
        f"<p>Data as of {esc(as_of.isoformat())} · generated {esc(generated.strftime('%Y-%m-%d %H:%M UTC'))}"
        f" · profile {esc(settings.sara.profile)}</p><p style=\"font-size:11px\">{nav}</p></header>"
        f"<main>{''.join(body)}</main></body></html>\n")


def build_report(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, out_dir: Path) -> Path:
    """Write out_dir/index.html (self-contained) and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(con, settings, as_of), encoding="utf-8")
    tmp.replace(path)
    return path
