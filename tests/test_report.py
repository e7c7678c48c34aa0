"""The scanning report: built from the demo warehouse, from an empty one (it degrades), and from a
small synthetic warehouse with every mart, parsed with html.parser; rendered by Chromium when present."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.conftest import PROJECT, make_project
from transforms.outputs.report import SECTION_IDS, build_report

DEMO_WAREHOUSE = PROJECT / "data" / "demo" / "warehouse" / "sara.duckdb"
CHROMIUM = Path("/usr/bin/chromium")

TINY_TOML = """
profile = "tiny"
sources = []
[warehouse]
path = "wh/sara.duckdb"
landing_dir = "data/landing"
[time]
as_of = "2026-11-20"
[agencies.metro]
name = "Metro & <Test> PD"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-123.0, 45.0, -122.9, 45.1]
"""


class ReportParser(HTMLParser):
    """Section ids, src/href values, and per-SVG element counts."""

    def __init__(self):
        super().__init__()
        self.sections: list[str] = []
        self.refs: list[str] = []
        self.svgs: list[dict] = []
        self._svg: dict | None = None
        self._depth = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section" and "id" in a:
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


def tiny_project(tmp_path: Path):
    from transforms.config import load_settings
    from transforms.warehouse.db import apply_schema, connect

    proj = make_project(tmp_path / "proj", TINY_TOML, {})
    settings = load_settings(proj / "config" / "sara.toml")
    settings.warehouse_path.parent.mkdir(parents=True)
    con = connect(settings.warehouse_path)
    apply_schema(con)
    return settings, con


# ---------------------------------------------------------------------------------------------
# PNG check (stdlib only)
# ---------------------------------------------------------------------------------------------


def png_pixels(data: bytes) -> tuple[int, int, int, bytes]:
    """width, height, bytes per pixel and unfiltered pixel bytes of an 8-bit RGB/RGBA/grey PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w = 8, b"", 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            w, h, depth, ctype = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and ctype in (0, 2, 4, 6), (depth, ctype)
            bpp = {0: 1, 2: 3, 4: 2, 6: 4}[ctype]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, out, prev = zlib.decompress(idat), w * bpp, bytearray(), bytearray(w * bpp)
    for row in range(h):
        f, line = raw[row * (stride + 1)], bytearray(raw[row * (stride + 1) + 1:(row + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out += line
        prev = line
    return w, h, bpp, bytes(out)


def assert_renders(index: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: headless rendering not checked")
    shot = tmp_path / "shot.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", f"--screenshot={shot}", "--window-size=1200,3000",
                    index.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    w, h, bpp, px = png_pixels(shot.read_bytes())
    grey = px[::bpp][:: max(1, w * h // 200_000)]
    mean = sum(grey) / len(grey)
    var = sum((v - mean) ** 2 for v in grey) / len(grey)
    assert len(set(grey)) > 5 and var > 10, "the screenshot is blank"


# ---------------------------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------------------------


def test_png_reader_on_a_tiny_image():
    rows = b"".join(b"\x00" + bytes([x * 40, 0, 255 - x * 40]) * 1 for x in range(3))
    ihdr = struct.pack(">IIBBBBB", 1, 3, 8, 2, 0, 0, 0)

    def chunk(k, b):
        return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    assert png_pixels(png) == (1, 3, 3, bytes([0, 0, 255, 40, 0, 215, 80, 0, 175]))


def test_report_from_the_demo_warehouse(tmp_path):
    if not DEMO_WAREHOUSE.exists():
        pytest.skip(f"no demo warehouse at {DEMO_WAREHOUSE}: run `sara demo` first")
    from transforms.config import load_settings
    from transforms.warehouse.db import connect

    settings = load_settings(PROJECT / "config" / "demo.toml")
    wh = tmp_path / "sara.duckdb"
    shutil.copy(DEMO_WAREHOUSE, wh)
    con = connect(wh, read_only=True)
    try:
        index = build_report(con, settings, out_dir=tmp_path / "report")
        tables = {f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables").fetchall()}
    finally:
        con.close()
    assert index == tmp_path / "report" / "index.html"
    p = parse(index)
    check_common(p)
    text = index.read_text(encoding="utf-8")
    assert "Riverton Police Department" in text and "2026-11-20" in text
    if "marts.hotspots" in tables:
        maps = svgs(p, "map")
        assert len(maps) == len(settings.sara.agencies)
        assert all(m["counts"].get("path", 0) + m["counts"].get("polygon", 0) >= 100 for m in maps)
    if "marts.events" in tables:
        trends = svgs(p, "trend")
        assert trends and all(n == 26 for t in trends for n in t["polyline_points"])
        assert any(t["polyline_points"] for t in trends)
    if "marts.temporal_profile" in tables:
        assert all(h["counts"].get("rect") == 168 for h in svgs(p, "heatmap"))


def test_report_from_an_empty_warehouse_degrades(tmp_path):
    settings, con = tiny_project(tmp_path)
    try:
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    p = parse(index)
    check_common(p)
    text = index.read_text(encoding="utf-8")
    assert text.count('class="na"') >= len(SECTION_IDS) - 1
    assert "Metro &amp; &lt;Test&gt; PD" in text and "<Test>" not in text
    assert not svgs(p, "map") and not svgs(p, "heatmap")


def test_report_header_says_internal_not_for_publication(tmp_path):
    settings, con = tiny_project(tmp_path)
    try:
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    text = index.read_text(encoding="utf-8")
    header = text[text.index("<header>"):text.index("</header>")]
    assert "Internal report, not for publication" in header and "exact addresses" in header


def fill_synthetic(con) -> None:
    """Every mart the report reads, small but complete, for agency 'metro' (a 12 x 12 grid of 100 m cells)."""
    import pandas as pd

    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    cells = [(ix, iy) for ix in range(12) for iy in range(12)]
    hs = pd.DataFrame([
        {"agency": "metro", "unit_type": "grid", "unit_id": f"g{ix}_{iy}", "dataset": "calls",
         "category_group": "all", "origin": o, "window_days": 28, "n": ix + iy, "z": (ix + iy - 11) / 3,
         "gi_bin": max(-3, min(3, round((ix + iy - 11) / 3))),
         "wkt": f"POLYGON(({ix * 100} {iy * 100},{ix * 100 + 100} {iy * 100},{ix * 100 + 100} {iy * 100 + 100},"
                f"{ix * 100} {iy * 100 + 100},{ix * 100} {iy * 100}))"}
        for ix, iy in cells for o in ("all", "community")])
    con.register("hs_df", hs)
    con.execute("CREATE TABLE marts.hotspots AS SELECT * EXCLUDE (wkt), ST_GeomFromText(wkt) AS geom FROM hs_df")
    con.execute("CREATE TABLE marts.hotspot_stats AS SELECT * EXCLUDE (geom) FROM marts.hotspots")
    con.execute("""CREATE TABLE marts.hotspot_count_rows AS
                   SELECT agency, unit_type, unit_id, dataset, category_group, o.origin, window_days,
                          CASE o.origin WHEN 'officer' THEN 3 * n ELSE n END AS n
                   FROM marts.hotspots, (VALUES ('community'), ('officer'), ('unknown')) o(origin)
                   WHERE hotspots.origin = 'all'""")
    con.execute("DELETE FROM meta.agency_areas")
    con.execute("INSERT INTO meta.agency_areas (agency, name, crs, geom) VALUES ('metro', 'Metro', 'EPSG:32610', "
                "ST_GeomFromText('POLYGON((0 0,1200 0,1200 1200,0 1200,0 0))'))")
    con.execute("""CREATE TABLE marts.category_groups AS SELECT * FROM (VALUES ('calls', 'all', '*'),
                   ('calls', 'violent', 'Violent Crime')) t(dataset, category_group, category)""")
    con.execute("""CREATE TABLE marts.events AS
                   SELECT 'calls' AS dataset, 'metro' AS agency,
                          CASE WHEN i % 3 = 0 THEN 'Violent Crime' ELSE 'Traffic' END AS category,
                          DATE '2026-11-20' - CAST(i % 200 AS INTEGER) AS local_date
                   FROM range(3000) r(i)""")
    con.execute("""CREATE TABLE marts.compstat AS SELECT * FROM (VALUES
                   ('metro', 'agency', 'metro', 'calls', 'all', 'week', 120, 100, 20, 0.2, 1.9),
                   ('metro', 'agency', 'metro', 'calls', 'all', '28d', 500, 400, 100, 0.25, 4.7),
                   ('metro', 'beat', 'B1', 'calls', 'all', '28d', 50, 20, 30, 1.5, 5.5))
                   t(agency, unit_type, unit_id, dataset, category_group, period, n, n_last_year, change,
                     pct_change, poisson_z)""")
    con.execute("""CREATE TABLE marts.response_times AS
                   SELECT 'metro' AS agency, p AS priority_level, 'D1' AS district,
                          DATE '2026-01-01' + INTERVAL (m) MONTH AS month, 100 AS n_calls,
                          300.0 + 10 * m AS response_s_median, 900.0 AS response_s_p90
                   FROM range(1, 4) a(p), range(11) b(m)""")
    con.execute("""CREATE TABLE marts.repeat_location_rows AS
                   SELECT 'metro' AS agency, 'calls' AS dataset, 'all' AS category_group, 'all' AS origin,
                          'loc' || i AS location_key, i || '00 Block of Main St' AS address_block,
                          CAST(1000 / i AS INTEGER) AS n_repeat_window, i AS rank,
                          sum(1000.0 / i) OVER (ORDER BY i) / sum(1000.0 / i) OVER () AS cum_share_events,
                          i / 300.0 AS cum_share_locations, 1000 / i >= 3 AS is_repeat
                   FROM range(1, 301) r(i)""")
    con.execute("""CREATE TABLE marts.emerging_hotspots AS SELECT * FROM (VALUES
                   ('metro', 'calls', 'all', 'community', 'New Hot Spot'),
                   ('metro', 'calls', 'all', 'community', 'No Pattern Detected'))
                   t(agency, dataset, category_group, origin, pattern)""")
    con.execute("""CREATE TABLE marts.near_repeat AS
                   SELECT 'metro' AS agency, 'incidents' AS dataset, 'burglary' AS category_group,
                          s * 100.0 AS space_lo, s * 100.0 + 100 AS space_hi, t * 7.0 AS time_lo, t * 7.0 + 7 AS time_hi,
                          10 AS observed, 5.0 AS expected_mean, 2.0 - s * 0.5 AS knox_ratio, 0.01 * (1 + s + t) AS p_value
                   FROM range(3) a(s), range(3) b(t)""")
    con.execute("""CREATE TABLE marts.temporal_profile AS
                   SELECT 'metro' AS agency, 'calls' AS dataset, 'all' AS category_group, 'agency' AS unit_type,
                          'metro' AS unit_id, s AS slot, (s % 24) * 1.5 AS weight FROM range(168) r(s)""")
    con.execute("""CREATE TABLE marts.problem_assessment AS SELECT * FROM (VALUES
                   ('Main St burglaries', 'Down 30% with no displacement', -12.0, -2.4)) t(problem, plain_language, wdd, z)""")
    con.execute("""CREATE TABLE marts.coverage AS SELECT 'metro' AS agency, 'calls' AS dataset, 'cad' AS source,
                   DATE '2025-01-01' AS first_day, DATE '2026-11-20' AS last_complete_day, 3000 AS n_events,
                   0 AS n_outage_days, NULL::DATE AS first_outage_day, NULL::DATE AS last_outage_day""")


def test_report_with_every_mart(tmp_path):
    settings, con = tiny_project(tmp_path)
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
    (m,) = svgs(p, "map")
    assert m["counts"]["path"] >= 144
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


def test_report_renders_in_chromium(tmp_path):
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: headless rendering not checked")
    settings, con = tiny_project(tmp_path)
    try:
        fill_synthetic(con)
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    assert_renders(index, tmp_path)


class FillParser(HTMLParser):
    """(data-gi, fill) of every map cell, and the fills of the map legend's swatches in order."""

    def __init__(self):
        super().__init__()
        self.cells: set[tuple[int, str]] = set()
        self.legend: list[str] = []
        self._in_map = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self._in_map = a.get("data-chart") == "map"
        elif self._in_map and tag == "path" and "data-gi" in a:
            self.cells.add((int(a["data-gi"]), a["fill"]))
        elif self._in_map and tag == "rect" and a.get("width") == "14":
            self.legend.append(a["fill"])

    handle_startendtag = handle_starttag


def test_report_map_and_gis_style_share_one_gi_bin_palette(tmp_path):
    """The hot spot map of the report colours every Gi* bin as the QGIS style embedded in GIS exports does."""
    import re

    from transforms.outputs.export import qgis_style_qml

    qml = qgis_style_qml()
    symbol_of = {int(v): s for s, v in re.findall(r'<category render="true" symbol="(\d+)" value="(-?\d)"', qml)}
    rgb_of = dict(re.findall(r'<symbol type="fill" name="(\d+)".*?name="color" value="(\d+,\d+,\d+),255"', qml))
    style = {b: rgb_of[s] for b, s in symbol_of.items()}
    assert sorted(style) == list(range(-3, 4))

    def rgb(hex_colour: str) -> str:
        h = hex_colour.lstrip("#")
        return ",".join(str(int(h[i:i + 2], 16)) for i in (0, 2, 4))

    settings, con = tiny_project(tmp_path)
    try:
        fill_synthetic(con)
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    p = FillParser()
    p.feed(index.read_text(encoding="utf-8"))
    assert {b for b, _ in p.cells} == set(range(-3, 4))   # the synthetic grid has every bin
    assert {b: rgb(f) for b, f in p.cells} == style
    assert [rgb(f) for f in p.legend] == [style[b] for b in range(-3, 4)]
