"""The report's "Demand and workload" section, on a copy of the session's published demo night (two agencies
with calls: Riverton PD's CAD has one row per unit, the county's one row per call): the top natures in the
taxonomy's words with unit-hours equal to marts.workload's, the 24-bar alternative-share chart with its calls
per hour, the occupancy curve equal to marts.occupancy, the unit basis in words; an agency without a calls
feed says so. The bar chart's own rules (hollow bars, dashes) are checked on the chart function itself."""

from __future__ import annotations

import copy
import html
import re
import shutil
from datetime import date

import pytest

from tests.integration.test_report import parse, svgs
from tests.support.report import report_warehouse
from transforms.outputs.report import build_report
from transforms.outputs.report.demand import alternative_bars, fmt_hours, nature_words
from transforms.outputs.slice import default_slice, nearest_window


def _section(text: str) -> str:
    return text.split('<section id="demand-workload">', 1)[1].split("</section>", 1)[0]


def _agency_block(section: str, name: str) -> str:
    return section.split(f"<h3>{html.escape(name)}</h3>", 1)[1].split('<div class="agency', 1)[0]


@pytest.fixture(scope="module")
def demo(demo_warehouse, tmp_path_factory):
    """(settings, read-only connection) on a copy of the demo warehouse."""
    from transforms.config import load_settings
    from transforms.warehouse.db import connect

    settings = load_settings(demo_warehouse / "config" / "demo.toml", demo_warehouse)
    wh = tmp_path_factory.mktemp("demand_report") / "sara.duckdb"
    shutil.copy(settings.warehouse_path, wh)
    con = connect(wh, read_only=True)
    yield settings, con
    con.close()


@pytest.mark.slow  # the session's demo warehouse
def test_demand_section_on_the_demo(demo, tmp_path):
    settings, con = demo
    index = build_report(con, settings, out_dir=tmp_path / "report")
    text = index.read_text(encoding="utf-8")
    section = _section(text)
    assert 'class="na"' not in section, section[:500]
    w = nearest_window([r[0] for r in con.execute("SELECT DISTINCT window_days FROM marts.demand WHERE agency = "
                                                  "'metro'").fetchall()], default_slice(settings).window_days)
    assert w == 28
    metro = _agency_block(section, "Riverton Police Department")
    # the audit sentence of the first screen is repeated in the agency's block (issue 17, section 5)
    from transforms.outputs.report.page import default_as_of
    from transforms.outputs.report.reads import Ctx
    from transforms.outputs.report.summary import audit_sentence

    words = audit_sentence(Ctx(con, settings, default_as_of(con, settings)), "metro", "calls")
    assert words and all(html.escape(w) in metro or w in metro for w in words), words
    # the top nature by calls, in the taxonomy's words, with its calls and the unit-hours of marts.workload
    top, n = con.execute("SELECT call_nature, sum(n_calls) AS n FROM marts.demand WHERE agency = 'metro' AND "
                         "window_days = ? GROUP BY 1 ORDER BY n DESC LIMIT 1", [w]).fetchone()
    hours = con.execute("SELECT sum(unit_hours) FROM marts.workload WHERE agency = 'metro' AND window_days = ? "
                        "AND call_nature = ?", [w, top]).fetchone()[0]
    assert hours and hours > 0
    by_calls = metro.split("Top 10 natures by calls", 1)[1].split("</table>", 1)[0]
    first = re.search(r"<tbody><tr>(.*?)</tr>", by_calls).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", first)
    assert cells[0] == html.escape(nature_words(top)) and nature_words(top) != top
    assert cells[1] == f"{int(n):,}"
    assert cells[3] == fmt_hours(hours)
    # the top nature by unit-hours, first in its own table
    top_h, top_hours = con.execute("SELECT call_nature, sum(unit_hours) AS h FROM marts.workload WHERE agency = "
                                   "'metro' AND window_days = ? GROUP BY 1 ORDER BY h DESC LIMIT 1", [w]).fetchone()
    by_hours = metro.split("Top 10 natures by unit-hours", 1)[1].split("</table>", 1)[0]
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", re.search(r"<tbody><tr>(.*?)</tr>", by_hours).group(1))
    assert cells[0] == html.escape(nature_words(top_h)) and cells[3] == fmt_hours(top_hours)
    assert len(re.findall(r"<tr><td", by_calls)) == 10
    # the unit basis of each agency's CAD, in words
    assert "Riverton Police Department&#x27;s CAD gives one row per unit" in metro
    county = _agency_block(section, "Riverton County Sheriff's Office")
    assert "CAD gives one row per call: one unit assumed" in county
    # charts: one alternative-share chart (24 bars) and one occupancy curve (2 lines of 168 hours) per agency
    p = parse(index)
    bars = svgs(p, "alternative")
    assert len(bars) == 2 and all(b["counts"].get("rect") == 24 for b in bars)
    alt = dict(con.execute("SELECT hour, n_calls FROM marts.demand_alternative_by_hour WHERE agency = 'metro' "
                           "AND window_days = ?", [w]).fetchall())
    metro_svg = re.search(r'<svg[^>]*data-chart="alternative".*?</svg>', metro, re.S).group(0)
    got = {int(h): int(k) for h, k in re.findall(r'data-bar="(\d+)" data-n="(\d+)"', metro_svg)}
    assert got == {h: int(alt.get(h, 0)) for h in range(24)}
    few = {int(h) for h in re.findall(r'data-bar="(\d+)" data-n="\d+" data-few="1"', metro_svg)}
    assert few == {h for h in range(24) if alt.get(h, 0) < 10}
    occ = svgs(p, "occupancy")
    assert len(occ) == 2 and all(o["polyline_points"] == [168, 168] for o in occ)
    busy = [r[0] for r in con.execute("SELECT units_busy FROM marts.occupancy WHERE agency = 'metro' AND "
                                      "district = '(all)' AND window_days = ? ORDER BY slot", [w]).fetchall()]
    occ_svg = re.search(r'<svg[^>]*data-chart="occupancy".*?</svg>', metro, re.S).group(0)
    values = re.findall(r'data-values="([^"]*)"', occ_svg)[1].split()
    assert [float(v) for v in values] == pytest.approx(busy, abs=1e-3)
    assert ">Mon<" in occ_svg and ">Sun<" in occ_svg


@pytest.mark.slow
def test_an_agency_without_a_calls_feed_says_so(demo, tmp_path):
    settings, con = demo
    settings = copy.copy(settings)
    settings.sources = {k: s for k, s in settings.sources.items() if k != "demo_county_calls"}
    section = _section(build_report(con, settings, out_dir=tmp_path / "r").read_text(encoding="utf-8"))
    county = _agency_block(section, "Riverton County Sheriff's Office")
    assert "has no calls feed" in county and "<svg" not in county and "<table" not in county
    assert "<svg" in _agency_block(section, "Riverton Police Department")


def test_no_calls_feed_on_a_small_project(tiny_project, tmp_path):
    settings, con = report_warehouse(tiny_project)
    try:
        text = build_report(con, settings, date(2026, 11, 20), tmp_path / "out").read_text(encoding="utf-8")
    finally:
        con.close()
    assert "Metro &amp; &lt;Test&gt; PD has no calls feed" in _section(text)


def test_alternative_bars_mark_small_hours_and_leave_empty_hours_without_a_bar():
    bars = [(0, None), (5, 0.4), (10, 0.5)] + [(20, 0.25)] * 21
    svg = alternative_bars(bars, "t", "label")
    rects = re.findall(r"<rect ([^>]*)>", svg)
    assert len(rects) == 24
    assert 'data-few="1"' in rects[0] and 'data-few="1"' in rects[1] and "data-few" not in rects[2]
    assert 'height="0.0"' in rects[0] and 'fill="#fff"' in rects[1]
    heights = [float(re.search(r'height="([^"]+)"', r).group(1)) for r in rects]
    assert heights[2] == pytest.approx(2 * heights[3])  # 50% against 25%
    assert ">—<" in svg  # the hour with no call: a dash, not 0
    assert "40% of 5 community calls (fewer than 10: unreliable)" in svg


def test_unit_basis_and_response_model_in_words():
    from transforms.outputs.report.demand import _basis_sentence, _model_words

    mixed = [{"unit_basis": "unit rows", "n": 1200}, {"unit_basis": "call level (one unit assumed)", "n": 30}]
    assert _basis_sentence("X PD", mixed) == ("X PD's CAD feeds differ: 1,200 calls come with one row per unit, 30 "
                                              "with one row per call (one unit assumed).")
    # a nature whose calls were partly flagged for a weapon (never alternative): the commonest model, with its share
    assert _model_words({"alternative": 3, "police_required": 1}) == "mostly alternative responder (75%)"
    assert _model_words({"co_response": 5}) == "police with a clinician or medic"
    assert _model_words({}) == "—"
