"""The report's interactive hot spot maps (transforms/outputs/report/webmap.py): every agency and dataset gets
its map, drawn over the agency's own layers, with the facts a click shows; Leaflet is inlined and the page
asks for nothing outside itself. The payload is read back from the page (its JSON script) and checked against
the marts with independent queries. (Clicking in a real browser: tests/e2e/test_report_browser.py.)"""

from __future__ import annotations

import json
import re
import shutil
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.support.report import fill_synthetic, report_warehouse
from transforms.outputs.report import build_report


def map_section(html: str) -> str:
    return html.split('<section id="map"', 1)[1].split("</section>", 1)[0]


def map_data(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="sara-map-data">(.*?)</script>', html, re.S)
    assert m, "no map data in the page"
    return json.loads(m.group(1))


class RefParser(HTMLParser):
    """The src and href values of the page's tags (what a browser would fetch or link to)."""

    def __init__(self):
        super().__init__()
        self.refs: list[str] = []
        self.tags = 0

    def handle_starttag(self, tag, attrs):
        self.tags += 1
        self.refs += [v for k, v in attrs if k in ("src", "href") and v]


def _synthetic_report(tiny_project, tmp_path: Path, *sql: str) -> str:
    settings, con = report_warehouse(tiny_project)
    try:
        fill_synthetic(con)
        for s in sql:
            con.execute(s)
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    return index.read_text(encoding="utf-8")


def _coords(g) -> list[tuple[float, float]]:
    """Every [lat, lon] pair of a nested coordinate list."""
    if isinstance(g[0], (int, float)):
        return [(g[0], g[1])]
    return [p for part in g for p in _coords(part)]


def test_an_agency_with_incidents_only_gets_its_map(tiny_project, tmp_path):
    """An RMS-only agency (no calls) has grid hot spots of its incidents: it gets a map of them, not a note
    that it has no hot spots for calls."""
    relabel = ("UPDATE {t} SET dataset = 'incidents', "
               "origin = CASE origin WHEN 'all' THEN 'all' ELSE 'unknown' END")
    html = _synthetic_report(tiny_project, tmp_path, relabel.format(t="marts.hotspots"),
                             relabel.format(t="marts.hotspot_stats"),
                             "DELETE FROM marts.hotspot_count_rows WHERE origin <> 'unknown'",
                             relabel.format(t="marts.hotspot_count_rows"))
    part = map_section(html)
    assert "no grid hot spots" not in part
    (ag,) = map_data(html)["agencies"]
    assert ag["agency"] == "metro"
    (m,) = ag["maps"]
    assert m["dataset"] == "incidents" and m["origin"] == "all" and m["window_days"] == 28
    assert len(m["cells"]) == 144   # each has an event (n = ix + iy) or a non-zero bin (g0_0: n 0, bin -3)


def test_map_and_gis_style_share_one_gi_bin_palette(tiny_project, tmp_path):
    """The map colours every Gi* bin as the QGIS style embedded in GIS exports does (cells and legend)."""
    from transforms.outputs.export import qgis_style_qml

    qml = qgis_style_qml()
    symbol_of = {int(v): s for s, v in re.findall(r'<category render="true" symbol="(\d+)" value="(-?\d)"', qml)}
    rgb_of = dict(re.findall(r'<symbol type="fill" name="(\d+)".*?name="color" value="(\d+,\d+,\d+),255"', qml))
    style = {b: rgb_of[s] for b, s in symbol_of.items()}
    assert sorted(style) == list(range(-3, 4))

    def rgb(hex_colour: str) -> str:
        h = hex_colour.lstrip("#")
        return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4))

    data = map_data(_synthetic_report(tiny_project, tmp_path))
    assert {int(b): rgb(c) for b, c in data["palette"].items()} == style
    cells = data["agencies"][0]["maps"][0]["cells"]
    assert {c["b"] for c in cells} == set(range(-3, 4))   # the synthetic grid has every bin


def test_leaflet_is_inlined_once_and_the_page_asks_for_nothing(tiny_project, tmp_path):
    """Leaflet's release files are inlined (no <script src>, no stylesheet link), once; its source-map comment
    and the stylesheet's image references are gone, so the page requests no other file."""
    from transforms.outputs.report.webmap import LEAFLET_VERSION

    html = _synthetic_report(tiny_project, tmp_path)
    assert LEAFLET_VERSION == "1.9.4"
    assert html.count(f"Leaflet {LEAFLET_VERSION}") == 1   # the release's own banner comment
    assert "<script src" not in html and "<link" not in html
    assert "sourceMappingURL" not in html
    styles = "".join(re.findall(r"<style>(.*?)</style>", html, re.S))
    assert ".leaflet-container" in styles and not re.findall(r"url\((?!data:)", styles)
    refs = RefParser()
    refs.feed(html)
    assert refs.tags and not [r for r in refs.refs if not r.startswith("#")], refs.refs


def test_the_vendored_leaflet_is_package_data():
    """leaflet.js, leaflet.css and its LICENSE ship inside the package (read through importlib.resources, as
    from an installed wheel)."""
    from importlib.resources import files

    vendor = files("transforms.outputs.report").joinpath("vendor", "leaflet")
    assert "Volodymyr Agafonkin" in vendor.joinpath("LICENSE").read_text(encoding="utf-8")
    assert 'version="1.9.4"' in vendor.joinpath("leaflet.js").read_text(encoding="utf-8")
    assert ".leaflet-container" in vendor.joinpath("leaflet.css").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_map(demo_warehouse, tmp_path_factory):
    """(settings, connection, page html) of the report of the session's demo night."""
    from transforms.config import load_settings
    from transforms.warehouse.db import connect

    tmp = tmp_path_factory.mktemp("demo_map")
    settings = load_settings(demo_warehouse / "config" / "demo.toml", demo_warehouse)
    shutil.copy(settings.warehouse_path, tmp / "sara.duckdb")
    con = connect(tmp / "sara.duckdb", read_only=True)
    index = build_report(con, settings, out_dir=tmp / "report")
    yield settings, con, index.read_text(encoding="utf-8")
    con.close()


@pytest.mark.slow  # the session's demo warehouse: one nightly run
def test_demo_maps_have_every_agency_and_dataset_over_their_own_layers(demo_map):
    settings, con, html = demo_map
    data = map_data(html)
    by = {a["agency"]: a for a in data["agencies"]}
    assert sorted(by) == ["county", "metro"]
    assert [m["dataset"] for m in by["metro"]["maps"]] == ["calls", "incidents"]
    assert [m["dataset"] for m in by["county"]["maps"]] == ["calls"]
    # the layers of config/demo.toml: metro beats, districts and streets; county beats
    assert {a["type"] for a in by["metro"]["areas"]} == {"beat", "district"}
    assert {a["type"] for a in by["county"]["areas"]} == {"beat"}
    n_beats = con.execute("SELECT count(*) FROM marts.units WHERE agency = 'metro' AND unit_type = 'beat'"
                          ).fetchone()[0]
    assert len(next(a for a in by["metro"]["areas"] if a["type"] == "beat")["features"]) == n_beats == 16
    assert by["metro"]["streets"] and by["county"]["streets"] is None
    # WGS 84 [lat, lon] rounded to 5 decimals, inside the demo city (UTM 10N)
    lon0, lat0, lon1, lat1 = con.execute("""SELECT min(lon), min(lat), max(lon), max(lat) FROM marts.events""").fetchone()
    for ag in by.values():
        pts = _coords(ag["boundary"]) + _coords(ag["maps"][0]["cells"][0]["g"])
        assert all(lat0 - 0.2 < lat < lat1 + 0.2 and lon0 - 0.2 < lon < lon1 + 0.2 for lat, lon in pts)
        assert all(round(v, 5) == v for p in pts for v in p)
    assert html.count('class="sara-map"') == 3


@pytest.mark.slow
def test_demo_map_cells_carry_the_default_slice_and_their_popup_facts(demo_map):
    """The colours are the default slice's (transforms/outputs/slice.py); a cell's popup facts are its counts
    per window, z and bin, origin split and most frequent block addresses, each checked here against the
    marts; the top cells are labelled with their most frequent address."""
    from transforms.outputs.slice import default_slice

    settings, con, html = demo_map
    sl = default_slice(settings)
    metro = next(a for a in map_data(html)["agencies"] if a["agency"] == "metro")
    m = metro["maps"][0]
    assert (m["dataset"], m["origin"], m["window_days"]) == ("calls", sl.origin, sl.window_days)
    hot = [c for c in m["cells"] if c["b"] > 0 and c.get("n")]
    top = min(hot, key=lambda c: (-c["z"], c["id"]))   # the hottest cell with an event of its own
    z, b, n = con.execute("""SELECT z, gi_bin, n FROM marts.hotspots WHERE agency = 'metro' AND unit_type = 'grid'
                             AND dataset = 'calls' AND category_group = 'all' AND origin = ? AND window_days = ?
                             AND unit_id = ?""", [sl.origin, sl.window_days, top["id"]]).fetchone()
    assert (top["z"], top["b"], top["n"]) == (round(z, 2), b, n)
    per_window = dict(con.execute("""SELECT window_days, n FROM marts.hotspot_count_rows WHERE agency = 'metro'
                                     AND unit_type = 'grid' AND dataset = 'calls' AND category_group = 'all'
                                     AND origin = ? AND unit_id = ?""", [sl.origin, top["id"]]).fetchall())
    assert {int(k): v for k, v in top["w"].items()} == per_window and per_window[sl.window_days] == n
    split = dict(con.execute("""SELECT origin, n FROM marts.hotspot_count_rows WHERE agency = 'metro'
                                AND unit_type = 'grid' AND dataset = 'calls' AND category_group = 'all'
                                AND window_days = ? AND unit_id = ? AND origin <> 'all'""",
                             [sl.window_days, top["id"]]).fetchall())
    assert top["o"] == split
    # the cell's most frequent block addresses in the window (ties by address)
    addr = con.execute("""SELECT e.address_block, count(*) AS k FROM marts.events e
                          JOIN marts.event_units u ON u.dataset = e.dataset AND u.source = e.source
                           AND u.event_id = e.event_id AND u.unit_type = 'grid'
                          JOIN marts.windows w ON w.agency = e.agency AND w.window_days = ?
                          WHERE e.agency = 'metro' AND e.dataset = 'calls' AND u.unit_id = ? AND e.origin = ?
                            AND e.local_date BETWEEN w.start_date AND w.end_date AND e.address_block IS NOT NULL
                          GROUP BY 1 ORDER BY k DESC, 1 LIMIT 3""", [sl.window_days, top["id"], sl.origin]).fetchall()
    assert addr and [tuple(a) for a in top["a"]] == [tuple(a) for a in addr]
    ranked = sorted((c for c in m["cells"] if c.get("r")), key=lambda c: c["r"])
    assert ranked[0]["id"] == top["id"] and top["label"] == addr[0][0] and top.get("tip") == 1
    assert [c["r"] for c in ranked] == list(range(1, 6))
    tips = [c["label"] for c in m["cells"] if c.get("tip")]   # the labels the page may draw: one per address
    assert 1 <= len(tips) <= 20 and len(set(tips)) == len(tips)
    assert len({c["id"] for c in m["cells"]}) == len(m["cells"])   # one slice: one row per cell


@pytest.mark.shared
@pytest.mark.slow  # the four real feeds through one nightly run
def test_every_real_agency_gets_its_map(real, real_con, tmp_path):
    """The RMS-only agencies (Chicago, Vancouver, New Haven: incidents) get their maps as San Francisco (calls)
    does; New Haven's over its streets; every map has hot cells, labelled."""
    from transforms.config import load_settings
    from transforms.outputs.report import render_report

    settings = load_settings(real.proj / "config" / "sara.toml", real.proj)
    html = render_report(real_con, settings)
    (tmp_path / "index.html").write_text(html, encoding="utf-8")
    data = map_data(html)
    maps = {(a["agency"], m["dataset"]): m for a in data["agencies"] for m in a["maps"]}
    assert set(maps) == {("sfpd", "calls"), ("vpd", "incidents"), ("cpd", "incidents"), ("nhpd", "incidents")}
    for key, m in maps.items():
        assert any(c["b"] > 0 for c in m["cells"]), key
        assert any(c.get("tip") for c in m["cells"]), key
    by = {a["agency"]: a for a in data["agencies"]}
    assert by["nhpd"]["streets"] and all(a["boundary"] for a in by.values())
    assert "no grid hot spots" not in map_section(html)
