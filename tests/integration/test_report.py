"""The scanning report: built from the demo warehouse, from an empty one (it degrades), and from a
small synthetic warehouse with every mart, parsed with html.parser. (Rendered by Chromium: tests/e2e.)"""

from __future__ import annotations

import html
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.report import fill_synthetic, render_synthetic, report_warehouse
from tests.support.report import section_html as _section
from transforms.marts.dimensions import write_agency_zones
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
    # the first screen: both agencies; night 1 ends on 2026-11-15, short of the as_of, so nothing is compared
    # and the first screen says why, in the marts' words
    first = _section(text, "summary")
    assert all(html.escape(a.name) in first for a in settings.sara.agencies.values())
    assert "Calls for service: no comparison (data from 2024-11-01 to 2026-11-15)." in first
    assert "5 days short of the as-of date" in first
    # response times: agency-wide rows of the calls, one chart per agency
    assert "All districts" in _section(text, "response-times") and len(svgs(p, "response")) == 2
    about = _section(text, "about")
    assert "CompStat by beat" in about and "mean of the district medians" in about


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
    assert ("Of the 12 hot cells (99% Gi*, every origin) in the last 28 days, 41% of calls were officer-initiated "
            "and 18% were drug calls, traffic or pedestrian stops or warrants; 3 would not be hot on community calls "
            "alone; at the top 10 repeat places (last 365 days), 5% of calls were officer-initiated and 9% were drug "
            "calls, traffic or pedestrian stops or warrants.") in html.unescape(text)
    assert "rgba(214,39,40" in text   # shaded Knox cells
    assert len(svgs(p, "share")) == 10
    assert len(svgs(p, "response")) == 1


def test_top_hot_cells_rank_by_z_show_n_and_mark_cells_with_no_event(tiny_project, tmp_path):
    """Gi* is a neighbourhood statistic: a cell with no call of its own can rank first. The top list ranks by z,
    shows each cell's own count and marks a 0 as neighbours only."""
    import re

    settings, con = report_warehouse(tiny_project)
    try:
        fill_synthetic(con)
        # the two hottest cells (g11_11 z = 3.67, g10_11 and g11_10 z = 3.33) hold no call of their own
        con.execute("UPDATE marts.hotspot_stats SET n = 0 WHERE unit_id IN ('g11_11', 'g10_11')")
        con.execute("DELETE FROM marts.hotspot_count_rows WHERE unit_id = 'g11_11'")  # no call: no split
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
    # each cell named after the most frequent block address of its events (g11_11's); a cell without one: a dash
    assert re.search(r'<td class="t">1200 BLOCK MAIN ST</td></tr>', part)
    assert part.count('<td class="t">—</td></tr>') == 9
    (row,) = re.findall(r'<td class="t">g11_11</td>.*?</tr>', part)
    assert "<td>—</td><td>—</td><td>—</td>" in row and "0%" not in row and "<svg" not in row


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


# ---------------------------------------------------------------------------------------------
# the report for its readers (issue 15): first screen, words, CompStat per district, response times
# ---------------------------------------------------------------------------------------------


def _visible(html: str) -> str:
    """The page's text as a reader sees it (no tags, no attributes, no CSS, no script: the map's data and code)."""
    import re

    html = re.sub(r"<style>.*?</style>", "", html, flags=re.S)
    html = re.sub(r"<script\b[^>]*>.*?</script>", "", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_first_screen_says_what_changed_in_sentences(tiny_project, tmp_path):
    text = render_synthetic(tiny_project, tmp_path)
    assert text.index('<section id="summary">') < text.index('<section id="compstat">')
    part = _section(text, "summary")
    # the 28-day increase passes the rule; the week's (120 against 100, z 1.9) does not
    assert ("Calls for service, all categories, agency-wide: 500 against 400 a year ago, +100 (+25%). "
            "A likely real increase.") in part
    assert "Calls for service, all categories, agency-wide: 120 against 100 a year ago, +20 (+20%). Within chance." in part
    # 5 against 0 has z 4.47 but fewer than 10 events: no percentage, not called real
    assert "Calls for service, violent, district D1: 5 against 0 a year ago, +5. Within chance." in part
    # the new hot spot is named after the most frequent block address of its events (40 of 60 events)
    assert "New Hot Spot at 1200 BLOCK MAIN ST: 9 calls in the last 16 weeks, 4 in the last week." in part
    assert "1300 BLOCK MAIN ST" not in part
    assert "1200 BLOCK MAIN ST: 22 community calls in the last 28 days." in part   # the hottest cell, g11_11
    assert "100 Block of Main St: 1,000 calls in the last 365 days." in part        # the top repeat address
    assert "main_st: Down 30% with no displacement" in part
    assert "Calls for service (cad): complete to 2026-11-20." in part


def test_no_column_names_thousands_separated_and_missing_is_not_zero(tiny_project, tmp_path):
    text = render_synthetic(tiny_project, tmp_path)
    seen = _visible(text)
    for raw in ("unit_type", "category_group", "n_last_year", "poisson_z", "pct_change", "response_s_median",
                "n_repeat_window", "cum_share_events", "address_block", "dataset"):
        assert raw not in seen, raw
    assert "1,000" in _section(text, "repeat-locations")
    cs = _section(text, "compstat")
    # the year to date is not covered this year: the count is missing (a dash), never 0, and the marts' reason
    # is kept
    assert "no comparison (data from 2026-02-01 to 2026-11-20)" in cs
    assert ">4,000<" in cs and "<td>0</td><td>4,000</td>" not in cs and "<td>—</td><td>4,000</td>" in cs


def test_compstat_agency_totals_first_then_districts_coloured_by_z_and_count(tiny_project, tmp_path):
    import re

    cs = _section(render_synthetic(tiny_project, tmp_path), "compstat")
    assert cs.index("Agency totals") < cs.index("District D1")
    assert "B1" not in cs                                   # beats stay in the mart
    # coloured: +100 (z 4.7, 500 events) up; -18 (z -3.6, 30 last year) down. Not coloured: +5 (z 4.47, 5 events)
    assert re.search(r'<td class=up title="Poisson z 4.70">\+100 \(\+25%\)</td>', cs)
    assert re.search(r'<td class=down title="Poisson z -3.60">-18 \(-60%\)</td>', cs)
    assert re.search(r'<td title="Poisson z 4.47">\+5</td>', cs)
    assert "at least 10 events in one of the two periods" in cs   # the rule, under the table


def test_response_times_show_the_true_agency_median_in_minutes(tiny_project, tmp_path):
    """Calls built into the marts by the real models: the agency-wide median is the median of the calls
    (hand-computed), not the call-weighted mean of the district medians the old chart drew."""
    import re
    import statistics

    from transforms.marts.compstat import build_response_times

    # February 2024, priority 1: D1 100, 200, 900 s (median 200), D2 300, 400 s (median 350)
    calls = [("a", "D1", 100), ("b", "D1", 200), ("c", "D1", 900), ("d", "D2", 300), ("e", "D2", 400)]

    def build(con):
        for t in ("response_times", "response_times_agency"):
            con.execute(f"DROP TABLE IF EXISTS marts.{t}")
        for cid, district, resp in calls:
            con.execute("INSERT INTO core.calls BY NAME SELECT ? AS call_id, 'cad' AS source, 'metro' AS agency, "
                        "TIMESTAMPTZ '2024-02-10 18:00:00+00' AS event_at, ? AS response_s, 60 AS queue_s, "
                        "? - 60 AS travel_s, 1 AS priority_level, 'community' AS origin, true AS is_countable, "
                        "false AS is_void, 'Report' AS disposition_category, ? AS district, "
                        "'exact' AS time_precision, false AS is_located, 'L1' AS load_id",
                        [cid, resp, resp, district])
        write_agency_zones(con, {"metro": "America/Los_Angeles"})
        con.execute("CREATE OR REPLACE TABLE marts.horizon AS SELECT 'metro' AS agency, DATE '2024-01-01' AS "
                    "first_date")
        con.execute("CREATE OR REPLACE TABLE marts.periods AS SELECT 'metro' AS agency, DATE '2024-03-31' AS as_of")
        con.execute("CREATE OR REPLACE TABLE marts.coverage AS SELECT 'metro' AS agency, 'calls' AS dataset, "
                    "'cad' AS source, DATE '2024-01-01' AS first_day, DATE '2024-03-31' AS last_complete_day")
        build_response_times(con)

    part = _section(render_synthetic(tiny_project, tmp_path, build), "response-times")
    # all five calls: 100, 200, 300, 400, 900 s -> median 300 s = 5.0 min; p90 at position 3.6: 400 + 0.6 * 500
    # = 700 s = 11.7 min. The call-weighted mean of the district medians, (3 * 200 + 2 * 350) / 5 = 260 s =
    # 4.3 min, is not it.
    assert re.search(r"All districts</td><td class=\"t\">Priority 1</td><td>5</td><td>5.0</td><td>11.7</td>", part)
    assert "District D1</td><td class=\"t\">Priority 1</td><td>3</td><td>3.3</td>" in part
    assert "February 2024" in part
    (values,) = re.findall(r'data-values="([^"]+)"', part)
    assert float(values) == pytest.approx(300 / 60)
    weighted = sum(len(g) * statistics.median(g) for g in ([100, 200, 900], [300, 400])) / 5
    assert weighted == 260 and float(values) != pytest.approx(weighted / 60)


def test_first_screen_names_the_reason_a_part_is_not_available(tiny_project, tmp_path):
    """An empty mart on the first screen says why, in marts.mart_status's words; no hot spot is invented."""
    def empty(con):
        con.execute("DELETE FROM marts.emerging_hotspot_rows")
        con.execute("""CREATE TABLE marts.mart_status AS SELECT * FROM (VALUES
                       ('emerging_hotspots', 'metro', NULL, 'empty', 'nothing classified: not enough covered steps '
                        || '(13 of 16)')) t(mart, agency, category_group, state, reason)""")

    part = _section(render_synthetic(tiny_project, tmp_path, empty), "summary")
    assert "Not available: nothing classified: not enough covered steps (13 of 16)." in part
    assert "New Hot Spot" not in part
    assert "Incomplete: emerging hot spots (not available). The sections below say why." in part
