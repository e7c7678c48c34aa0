"""`sara problem new NAME` and `sara assess NAME`: SARA problem files and their assessment.

The problem files are read by transforms/config/problems.py; the marts are built by the nightly flow
(transforms/marts/problems.py).
"""

from __future__ import annotations

import math

import typer
from rich.markup import escape
from rich.table import Table

from flows.cli.common import ConfigOpt, console, fail, settings_from, warehouse_errors


def problem_new(
    name: str = typer.Argument(..., help="problem name: letters, digits and _ (the file name)"),
    config: str | None = ConfigOpt,
) -> None:
    """Write a commented template for a new SARA problem to the problems folder.

    Edit the file (target area, dates, categories), run the nightly flow, then `sara assess NAME`.

    Example:  sara problem new park_burglaries
    """
    from transforms.config import IDENT_RE
    from transforms.config.problems import problems_dir, template

    if not IDENT_RE.match(name):
        raise fail(f"problem name {name!r} must be letters, digits and _ (and not start with a digit)")
    settings = settings_from(config)
    folder = problems_dir(settings)
    path = folder / f"{name}.yaml"
    if path.exists():
        raise fail(f"{path} already exists; edit it, or choose another name")
    folder.mkdir(parents=True, exist_ok=True)
    agency = next(iter(settings.sara.agencies), "AGENCY")
    path.write_text(template(name, agency=agency), encoding="utf-8")
    console.print(f"wrote {escape(str(path))}: edit it, run the nightly flow, then `sara assess {escape(name)}`",
                  highlight=False, soft_wrap=True)


def _fmt(v, digits: int = 2) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.4f}" if abs(v) < 0.01 and v != 0 else f"{v:.{digits}f}"
    return str(v)


def assess(
    name: str = typer.Argument(..., help="problem name (file stem in the problems folder)"),
    config: str | None = ConfigOpt,
) -> None:
    """Show the assessment of a SARA problem (WDD, WDQ, Poisson z, E-test) from the published warehouse.

    Example:  sara assess riverton_hotspot1 --config config/demo.toml
    """
    import duckdb

    from transforms.warehouse.db import open_published
    from transforms.warehouse.status import assessment

    settings = settings_from(config)
    with warehouse_errors(settings, code=2), open_published(settings.warehouse_path) as con:
        try:
            r, known = assessment(con, name)
        except duckdb.CatalogException:
            raise fail("the warehouse has no marts.problem_assessment yet: run the nightly flow "
                       "after adding problem files") from None
    if r is None:
        raise fail(f"no assessment for problem {name!r} (assessed: {', '.join(known) or 'none'})")

    head = Table(title=escape(f"{r['problem']}: {r.get('description') or ''}"), show_header=True)
    head.add_column("area")
    head.add_column(f"pre {r['pre_start']:%Y-%m-%d}..{r['pre_end']:%Y-%m-%d}", justify="right")
    head.add_column(f"post {r['post_start']:%Y-%m-%d}..{r['post_end']:%Y-%m-%d}", justify="right")
    head.add_column("change", justify="right")
    for area in ("target", "buffer", "control"):
        pre, post = int(r[f"{area}_pre"]), int(r[f"{area}_post"])
        head.add_row(area, str(pre), str(post), f"{post - pre:+d}")
    console.print(head)

    t = Table(title="measures", show_header=True)
    t.add_column("measure")
    t.add_column("value", justify="right")
    t.add_column("note")
    ci = f"[{_fmt(r['wdd_ci_low'])}, {_fmt(r['wdd_ci_high'])}]"
    rows = [
        ("WDD", _fmt(r["wdd"]), f"SE {_fmt(r['wdd_se'])}, {1 - r['wdd_alpha']:.0%} CI {ci}"),
        ("WDD z", _fmt(r["wdd_z"]), f"p = {_fmt(r['wdd_p'], 4)} (two-sided)"),
        ("  target net of control", _fmt(r["wdd_local"]), ""),
        ("  buffer net of control", _fmt(r["wdd_displace"]),
         f"z = {_fmt(r['displace_z'])}, p = {_fmt(r['displace_p'], 4)}"),
        ("WDQ success measure", _fmt(r["wdq_success"], 4), "< 0: the target improved"),
        ("WDQ buffer measure", _fmt(r["wdq_buffer_measure"], 4), "> 0 displacement, < 0 diffusion"),
        ("WDQ", _fmt(r["wdq"]), str(r["wdq_reading"])),
        ("Poisson z (target)", _fmt(r["poisson_z"]), "2 (sqrt(post) - sqrt(pre))"),
        ("E-test p, did it drop", _fmt(r["etest_p_drop"], 4), "one-sided: pre rate > post rate"),
        ("E-test p, two-sided", _fmt(r["etest_p_two_sided"], 4), ""),
    ]
    if "control_weighting" in r:
        rows.append(("control weighting", str(r["control_weighting"]),
                     "area: control counts scaled to target / buffer area"))
    if r["time_weight_pre"] != 1 or r["time_weight_post"] != 1:
        rows.append(("time weights", f"{_fmt(r['time_weight_pre'])}, {_fmt(r['time_weight_post'])}",
                     "pre, post"))
    for row in rows:
        t.add_row(*(escape(c) for c in row))
    console.print(t)
    console.print(escape(str(r["sentence"])), highlight=False, soft_wrap=True)
