"""`sara crosswalk suggest SOURCE` and `sara crosswalk score SOURCE`: call natures for a source's local
call-type codes, proposed from their text for a person to review (transforms/warehouse/natures.py)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.markup import escape

from flows.cli.common import ConfigOpt, console, fail, settings_from

SourceArg = typer.Argument(..., help="a calls source of the config (config/sources/<source>.yaml)")


def _calls_source(settings, source: str):
    src = settings.sources.get(source)
    if src is None:
        raise fail(f"no source {source!r} in {settings.config_path} (sources: {', '.join(settings.sources)})")
    if src.kind != "calls":
        raise fail(f"{source} is an incidents source: call natures are for calls sources")
    return src


def suggest(
    source: str = SourceArg,
    config: str | None = ConfigOpt,
    out: Path | None = typer.Option(None, "--out", "-o", help="CSV to write (default config/crosswalks/"
                                                              "<source>_natures_suggested.csv in the project)"),
    local: bool = typer.Option(True, "--local/--no-local", help="use the source's own rule list "
                                                                "(config/taxonomy/local/<source>.csv) before the "
                                                                "general one"),
) -> None:
    """Suggest a call nature for every code of SOURCE that has none reviewed, and write them for review.

    The codes are the call-type crosswalk's rows not marked reviewed, and the codes of the source's calls in
    the published warehouse (if there is one) that the crosswalk does not list, most calls first. Each gets
    the nature of the first word, phrase or code rule its text matches (config/taxonomy/README.md): no
    network, no model. The CSV has code, call_type, call_nature, nature_status (suggested, or empty when no
    rule matched), rule (which one) and n_calls.

    Nothing suggested is used. To use a row, copy code, call_nature into the crosswalk (the source YAML's
    crosswalks.call_types), check the nature, and set nature_status to reviewed; the next load gives it to
    every call of that code, earlier ones too.

    Examples:  sara crosswalk suggest sf_calls  |  sara crosswalk suggest cad --out /tmp/cad_natures.csv
    """
    from transforms.warehouse.db import WarehouseCorrupt, open_published
    from transforms.warehouse.natures import rule_lists, suggest_frame, unreviewed_codes

    settings = settings_from(config)
    src = _calls_source(settings, source)
    try:
        rules = rule_lists(settings, source, local=local)
        if settings.warehouse_path.exists():
            with open_published(settings.warehouse_path) as con:
                codes = unreviewed_codes(settings, src, con)
        else:
            codes = unreviewed_codes(settings, src, None)
    except (ValueError, WarehouseCorrupt) as exc:
        raise fail(str(exc)) from None
    frame = suggest_frame(codes, rules)
    path = out or settings.resolve(f"config/crosswalks/{source}_natures_suggested.csv")
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.write_csv(path)
    n_hit = frame["call_nature"].is_not_null().sum()
    console.print(f"{frame.height} code(s) without a reviewed nature; {n_hit} with a suggestion, "
                  f"{frame.height - n_hit} for review by hand", highlight=False)
    console.print(escape(str(path)), highlight=False, soft_wrap=True)


def score(
    source: str = SourceArg,
    config: str | None = ConfigOpt,
) -> None:
    """How often the rules agree with the natures already reviewed in SOURCE's crosswalk.

    Each reviewed code is suggested again from its code alone (the general rules, then the source's own list
    first), and compared: exact nature, and same Vera group; over codes, and weighted by the source's calls in
    the published warehouse when there is one.

    Example:  sara crosswalk score sf_calls
    """
    from transforms.warehouse.db import WarehouseCorrupt, open_published
    from transforms.warehouse.natures import score_source

    settings = settings_from(config)
    src = _calls_source(settings, source)
    try:
        if settings.warehouse_path.exists():
            with open_published(settings.warehouse_path) as con:
                scores = score_source(settings, src, con)
        else:
            scores = score_source(settings, src, None)
    except (ValueError, WarehouseCorrupt) as exc:
        raise fail(str(exc)) from None
    for name, s in scores.items():
        calls = (f"; of {s['calls']} calls: exact {s['exact_share_calls']:.1%}, same group "
                 f"{s['group_share_calls']:.1%}") if s["calls"] else ""
        console.print(f"{name}: of {s['codes']} reviewed codes, exact {s['exact_share_codes']:.1%}, same "
                      f"group {s['group_share_codes']:.1%}, no suggestion {s['no_suggestion_codes']}{calls}",
                      highlight=False)
