"""The scanning report: built from the demo warehouse, from an empty one (it degrades), and from a
small synthetic warehouse with every mart, parsed with html.parser. (Rendered by Chromium: tests/e2e.)"""

from __future__ import annotations

import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.report import fill_synthetic, report_warehouse
from transforms.outputs.report import SECTION_IDS, build_report


class ReportParser(HTMLParser):
    """Section ids, src/href values, and per-SVG element counts."""

    def __init__(self):
        super().__init__()
        self.sections: list[str] = []
        self.refs: list[str] = []
        self.svgs: list[dict] = []
        self._svg: dict | None = None
        self._depth = 0
        self._sections = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self._sections += 1
            if self._sections == 1 and "id" in a:   # the page's sections (the map section sits in one)
                self.sections.append(a["id"])
        for k in ("src", "href"):
            if a.get(k):
                self.refs.append(a[k])
        if tag == "svg":
            self._depth += 1
            if self._depth == 1:
                self._svg = {"kind": a.get("data-chart"), "counts": {}, "polyline_points": []}
                self.svgs.append(self._svg)
            return
        if self._svg is not None:
            self._svg["counts"][tag] = self._svg["counts"].get(tag, 0) + 1
            if tag == "polyline":
                self._svg["polyline_points"].append(len((a.get("points") or "").split()))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "svg":
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag == "section":
            self._sections -= 1
        if tag == "svg":
            self._depth -= 1
            if self._depth == 0:
                self._svg = None


def parse(path: Path) -> ReportParser:
    p = ReportParser()
    p.feed(path.read_text(encoding="utf-8"))
    p.close()
    return p


def svgs(p: ReportParser, kind: str) -> list[dict]:
    return [s for s in p.svgs if s["kind"] == kind]


def check_common(p: ReportParser) -> None:
    assert p.sections == SECTION_IDS
    offline = [r for r in p.refs if r.lower().startswith(("http://", "https://", "//"))]
    assert not offline, offline


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------


@pytest.mark.slow  # the session's demo warehouse: one nightly run
def test_report_from_the_demo_warehouse(demo_warehouse, tmp_path):
    """The report of night 1 of the session's demo city (tests/conftest.py: demo_warehouse): every section,
    both agencies' maps, 26-week trends and the hour-of-week heat maps."""
    from transforms.config import load_settings
    from transforms.warehouse.db import connect

    settings = load_settings(demo_warehouse / "config" / "demo.toml", demo_warehouse)
    wh = tmp_path / "sara.duckdb"
    shutil.copy(settings.warehouse_path, wh)
    con = connect(wh, read_only=True)
    try:
        index = build_report(con, settings, out_dir=tmp_path / "report")
    finally:
        con.close()
    assert index == tmp_path / "report" / "index.html"
    p = parse(index)
    check_common(p)
    text = index.read_text(encoding="utf-8")
    assert "Riverton Police Department" in text and "2026-11-20" in text
    assert text.count('class="sara-map"') == 3   # the maps: test_webmap.py
    trends = svgs(p, "trend")
    assert trends and all(n == 26 for t in trends for n in t["polyline_points"])
    assert any(t["polyline_points"] for t in trends)
    heatmaps = svgs(p, "heatmap")
    assert heatmaps and all(h["counts"].get("rect") == 168 for h in heatmaps)


def test_report_from_an_empty_warehouse_degrades(tiny_project, tmp_path):
    settings, con = report_warehouse(tiny_project)
    try:
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    p = parse(index)
    check_common(p)
    text = index.read_text(encoding="utf-8")
    assert text.count('class="na"') >= len(SECTION_IDS) - 1
    assert "Metro &amp; &lt;Test&gt; PD" in text and "<Test>" not in text
    assert 'class="sara-map"' not in text and not svgs(p, "heatmap")


def test_report_header_says_internal_not_for_publication(tiny_project, tmp_path):
    settings, con = report_warehouse(tiny_project)
    try:
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    text = index.read_text(encoding="utf-8")
    header = text[text.index("<header>"):text.index("</header>")]
    assert "Internal report, not for publication" in header and "exact addresses" in header


def test_report_with_every_mart(tiny_project, tmp_path):
    settings, con = report_warehouse(tiny_project)
    try:
        fill_synthetic(con)
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    p = parse(index)
    check_common(p)
    text = index.read_text(encoding="utf-8")
    for sid in SECTION_IDS:
        part = text.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]
        if sid != "data-quality":
            assert 'class="na"' not in part, (sid, part[:300])
    assert text.count('class="sara-map"') == 1
    (hm,) = svgs(p, "heatmap")
    assert hm["counts"]["rect"] == 168
    trends = svgs(p, "trend")
    assert len(trends) == 2 and all(t["polyline_points"] == [26] for t in trends)
    (lz,) = svgs(p, "lorenz")
    assert lz["polyline_points"][0] > 100
    assert "officer-initiated majority" in text
    assert "Down 30% with no displacement" in text
    assert "rgba(214,39,40" in text   # shaded Knox cells
    assert len(svgs(p, "share")) == 10
    assert len(svgs(p, "response")) == 1


def _section(text: str, sid: str) -> str:
    return text.split(f'<section id="{sid}">', 1)[1].split("</section>", 1)[0]


def test_top_hot_cells_rank_by_z_show_n_and_mark_cells_with_no_event(tiny_project, tmp_path):
    """Gi* is a neighbourhood statistic: a cell with no call of its own can rank first. The top list ranks by z,
    shows each cell's own count and marks a 0 as neighbours only."""
    import re

    settings, con = report_warehouse(tiny_project)
    try:
        fill_synthetic(con)
        # the two hottest cells (g11_11 z = 3.67, g10_11 and g11_10 z = 3.33) hold no call of their own
        con.execute("UPDATE marts.hotspot_stats SET n = 0 WHERE unit_id IN ('g11_11', 'g10_11')")
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    part = _section(index.read_text(encoding="utf-8"), "demand-split")
    rows = re.findall(r'<tr><td class="t">(\d+)</td><td class="t">(g\d+_\d+)</td><td[^>]*>([^<]*)</td>'
                      r'<td>([^<]*)</td>', part)
    assert [int(r[0]) for r in rows] == list(range(1, 11))
    z = [float(r[3]) for r in rows]
    assert z == sorted(z, reverse=True)
    own = {cell: n for _, cell, n, _ in rows}
    assert own["g11_11"] == own["g10_11"] == "0 (neighbours only)"
    assert own["g11_10"] == "21"
    assert part.count('class=zero') == 2
    assert "2 of these 10 cells had no call of their own" in part


def test_knox_shades_only_a_ratio_above_one_with_p_at_or_below_the_threshold(tiny_project, tmp_path):
    """The open last distance band (ratio 1.00, tiny excess on many pairs) has no p and is never shaded; a ratio
    above 1 is shaded at p = 0.05 but not above; a ratio below 1 never."""
    settings, con = report_warehouse(tiny_project)
    try:
        fill_synthetic(con)
        con.execute("""CREATE OR REPLACE TABLE marts.near_repeat (agency VARCHAR, dataset VARCHAR,
                       category_group VARCHAR, space_lo DOUBLE, space_hi DOUBLE, time_lo DOUBLE, time_hi DOUBLE,
                       observed BIGINT, expected_mean DOUBLE, knox_ratio DOUBLE, p_value DOUBLE, p_note VARCHAR)""")
        con.execute("""INSERT INTO marts.near_repeat VALUES
                       ('metro', 'incidents', 'burglary', 0, 100, 0, 7, 30, 10.0, 3.0, 0.01, NULL),
                       ('metro', 'incidents', 'burglary', 0, 100, 7, 'inf', 20, 40.0, 0.5, NULL, 'no p: open'),
                       ('metro', 'incidents', 'burglary', 100, 200, 0, 7, 15, 10.0, 1.5, 0.05, NULL),
                       ('metro', 'incidents', 'burglary', 100, 200, 7, 'inf', 60, 40.0, 1.5, NULL, 'no p: open'),
                       ('metro', 'incidents', 'burglary', 200, 'inf', 0, 7, 1000, 1010.0, 0.99, NULL, 'no p: open'),
                       ('metro', 'incidents', 'burglary', 200, 'inf', 7, 'inf', 90000, 89990.0, 1.0001, NULL,
                        'no p: open'),
                       ('metro', 'incidents', 'robbery', 0, 100, 0, 7, 12, 10.0, 1.2, 0.06, NULL),
                       ('metro', 'incidents', 'robbery', 0, 100, 7, 14, 8, 10.0, 0.8, 0.01, NULL)""")
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    part = _section(index.read_text(encoding="utf-8"), "near-repeat")
    assert part.count('background:rgba(214,39,40') == 2   # ratio 3.0 at p 0.01 and ratio 1.5 at p 0.05
    assert part.count("no p (open band)") == 4
    assert "p ≤ 0.05" in part                   # the threshold is named in the legend
