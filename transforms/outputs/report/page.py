"""The page shell: header, navigation, one <section> per builder, inline CSS; and where the page is written."""

from __future__ import annotations

from datetime import UTC, date, datetime
from importlib.resources import files
from pathlib import Path

import duckdb

from transforms.config import Settings
from transforms.outputs.report.markup import esc, local_time, not_available
from transforms.outputs.report.reads import Ctx, report_as_of
from transforms.outputs.report.sections import SECTION_MARTS, SECTIONS

CSS = files(__package__).joinpath("style.css").read_text(encoding="utf-8")

INTERNAL_NOTICE = ("Internal report, not for publication: it shows exact addresses (top repeat locations). "
                   "Open data comes from the public extract (sara publish).")


def report_dir(settings: Settings, as_of: date) -> Path:
    """Where the report of `as_of` goes by default: data/reports/<profile>/<as_of>/ in the project folder, so
    two profiles (sara.toml `profile`) with the same as_of keep their own reports."""
    return settings.resolve("data/reports") / settings.sara.profile / as_of.isoformat()


def default_as_of(con: duckdb.DuckDBPyConnection, settings: Settings) -> date:
    """The date a report is named after: the latest agency as_of of the warehouse (marts.periods); without
    one, [time] as_of, else today (UTC)."""
    ends = report_as_of(con)
    if ends:
        return max(ends.values())
    return settings.sara.time.as_of or datetime.now(tz=UTC).date()


def _as_of_words(c: Ctx) -> str:
    """The header's as-of dates: one date, or each agency's (with how it was chosen)."""
    if len(set(c.as_ofs.values())) <= 1:
        return (next(iter(c.as_ofs.values()), c.as_of)).isoformat()
    return "; ".join(f"{c.name(a)} {d.isoformat()}" + (f" ({c.rules[a]})" if c.rules.get(a) else "")
                     for a, d in c.as_ofs.items())


def _generated_words(c: Ctx, generated: datetime) -> str:
    """When the page was made, in the agencies' zone (UTC when they are in different zones)."""
    zones = {a.timezone for a in c.settings.sara.agencies.values()}
    return local_time(generated, zones.pop()) if len(zones) == 1 else generated.strftime("%Y-%m-%d %H:%M UTC")


def render_report(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
                  generated_at: datetime | None = None) -> str:
    """The whole page as one HTML string. as_of: the date the page is about (default: the latest agency
    as_of); each agency's own as_of comes from marts.periods."""
    c = Ctx(con, settings, as_of or default_as_of(con, settings))
    generated = (generated_at or datetime.now(tz=UTC)).astimezone(UTC)
    agencies = ", ".join(c.names.values())
    body = []
    for sid, title, how, fn in SECTIONS:
        mart = SECTION_MARTS.get(sid)
        try:
            content = fn(c) + c.status_notes(mart)
        except Exception as exc:  # a section must degrade, never stop the report
            content = c.status_notes(mart, failed=True) or not_available(exc)
        body.append(f'<section id="{esc(sid)}"><h2>{esc(title)}</h2><p class="how">How to read: {esc(how)}</p>'
                    f"{content}</section>")
    nav = " · ".join(f'<a href="#{esc(sid)}">{esc(title)}</a>' for sid, title, _, _ in SECTIONS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(f'Scanning report {c.as_of.isoformat()}')}</title>"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>\n{CSS}</style></head>"
        f"<body><header><h1>Scanning report</h1><p>{esc(agencies)}</p>"
        f'<p class="internal"><strong>{esc(INTERNAL_NOTICE)}</strong></p>'
        f"<p>Data as of {esc(_as_of_words(c))} · generated {esc(_generated_words(c, generated))}"
        f" · profile {esc(settings.sara.profile)}</p><nav>{nav}</nav></header>"
        f"<main>{''.join(body)}</main></body></html>\n")


def build_report(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
                 out_dir: Path | None = None) -> Path:
    """Write out_dir/index.html (self-contained) and return its path. Defaults: as_of the latest agency as_of
    of the warehouse, out_dir report_dir(settings, as_of)."""
    as_of = as_of or default_as_of(con, settings)
    out_dir = Path(out_dir) if out_dir is not None else report_dir(settings, as_of)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(con, settings, as_of), encoding="utf-8")
    tmp.replace(path)
    return path
