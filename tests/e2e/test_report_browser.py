"""The scanning report in a browser: headless Chromium renders it to a PNG that is not blank (checked with a
small PNG reader written here, stdlib only); the demo report's interactive maps are driven with Playwright
over the system Chromium (no browser download): layers, a click on a hot cell and its popup, a layer toggle,
no console error and no request outside the file. Skipped where /usr/bin/chromium is absent. The demo report
stays under 5 MB."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from datetime import date
from pathlib import Path

import pytest

from tests.support.report import fill_synthetic, report_warehouse
from transforms.outputs.report import build_report

CHROMIUM = Path("/usr/bin/chromium")


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


def assert_not_blank(png: bytes) -> None:
    w, h, bpp, px = png_pixels(png)
    grey = px[::bpp][:: max(1, w * h // 200_000)]
    mean = sum(grey) / len(grey)
    var = sum((v - mean) ** 2 for v in grey) / len(grey)
    assert len(set(grey)) > 5 and var > 10, "the screenshot is blank"


def assert_renders(index: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: headless rendering not checked")
    shot = tmp_path / "shot.png"
    subprocess.run([str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-background-networking", f"--screenshot={shot}", "--window-size=1200,3000",
                    index.resolve().as_uri()], check=True, capture_output=True, timeout=120)
    assert_not_blank(shot.read_bytes())


def test_png_reader_on_a_tiny_image():
    rows = b"".join(b"\x00" + bytes([x * 40, 0, 255 - x * 40]) * 1 for x in range(3))
    ihdr = struct.pack(">IIBBBBB", 1, 3, 8, 2, 0, 0, 0)

    def chunk(k, b):
        return struct.pack(">I", len(b)) + k + b + struct.pack(">I", zlib.crc32(k + b))

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    assert png_pixels(png) == (1, 3, 3, bytes([0, 0, 255, 40, 0, 215, 80, 0, 175]))


def test_report_renders_in_chromium(tiny_project, tmp_path):
    settings, con = report_warehouse(tiny_project)
    try:
        fill_synthetic(con)
        index = build_report(con, settings, date(2026, 11, 20), tmp_path / "out")
    finally:
        con.close()
    assert_renders(index, tmp_path)


def demo_report(demo_warehouse: Path, tmp_path: Path) -> Path:
    """The report of night 1 of the session's demo city, as `sara report` writes it."""
    from transforms.config import load_settings
    from transforms.warehouse.db import connect

    settings = load_settings(demo_warehouse / "config" / "demo.toml", demo_warehouse)
    shutil.copy(settings.warehouse_path, tmp_path / "sara.duckdb")
    con = connect(tmp_path / "sara.duckdb", read_only=True)
    try:
        return build_report(con, settings, out_dir=tmp_path / "report")
    finally:
        con.close()


@pytest.mark.slow  # the session's demo warehouse: one nightly run
def test_demo_report_renders_in_chromium(demo_warehouse, tmp_path):
    assert_renders(demo_report(demo_warehouse, tmp_path), tmp_path)


@pytest.mark.slow
def test_demo_report_is_under_5_mb(demo_warehouse, tmp_path):
    """Maps ship the default slice with simplified, rounded geometry: the whole page stays small."""
    size = demo_report(demo_warehouse, tmp_path).stat().st_size
    assert size < 5_000_000, f"the demo report is {size:,} bytes"


def _wait_still(page, locator, tries: int = 50) -> None:
    """Wait until the element's box is the same in two looks 250 ms apart (a map's zoom has ended)."""
    last = None
    for _ in range(tries):
        box = locator.bounding_box()
        if box is not None and box == last:
            return
        last = box
        page.wait_for_timeout(250)


@pytest.mark.slow
def test_demo_report_maps_in_a_browser(demo_warehouse, tmp_path):
    """Open the demo report in Chromium: each map has cells and the agency's beats or streets; untick a layer
    and it goes; click a hot cell and read its popup; no console error, no request outside the file, and a
    screenshot of the map that is not blank."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: the maps are not driven in a browser")
    from playwright.sync_api import sync_playwright

    index = demo_report(demo_warehouse, tmp_path)
    errors: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(index.resolve().as_uri())
            maps = page.locator("#map .sara-map")
            assert maps.count() == 3   # metro calls, metro incidents, county calls
            first = maps.first
            first.scroll_into_view_if_needed()
            assert first.locator("path.sara-cell").count() >= 50
            assert first.locator("path.sara-beat").count() == 16
            assert first.locator("path.sara-street").count() >= 1
            assert 1 <= first.locator(".sara-label").count() <= 5   # the hottest places, named
            # a point answers a click: a repeat location nothing covers (not under a control)
            n_repeat = first.locator("path.sara-repeat").count()
            assert n_repeat > 0
            free = page.evaluate("""sel => [...document.querySelectorAll(sel)].findIndex(e => {
                const r = e.getBoundingClientRect();
                return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2) === e; })""",
                                 f"#{first.get_attribute('id')} path.sara-repeat")
            assert free >= 0
            first.locator("path.sara-repeat").nth(free).click()
            assert "repeat window" in first.locator(".leaflet-popup-content").inner_text()
            first.locator(".leaflet-popup-close-button").click()
            # untick a layer: its markers go; tick it again: they come back
            box = first.locator(".leaflet-control-layers").get_by_text("Repeat locations")
            box.click()
            assert first.locator("path.sara-repeat").count() == 0
            # zoom to the top cell from the list under the map, then click the cell itself
            page.locator("#map .sara-top button").first.click()
            cell = first.locator('path.sara-cell[data-rank="1"]')
            assert cell.get_attribute("data-bin") in ("1", "2", "3")
            # the zoom is animated and the cells are drawn again at its end: click once the cell stays put (a
            # click during the redraw can land beside it, as a person's would)
            _wait_still(page, cell)
            cell.click()
            popup = first.locator(".leaflet-popup-content")
            text = popup.inner_text().lower()
            for words in ("gi* z", "hot spot", "by window", "community", "officer", "block"):
                assert words in text, (words, text)
            box.click()
            assert first.locator("path.sara-repeat").count() == n_repeat
            shot = first.screenshot()
        finally:
            browser.close()
    (tmp_path / "map.png").write_bytes(shot)
    assert_not_blank(shot)
    assert not errors, errors
    outside = [u for u in requests if not u.startswith(("file://", "data:"))]
    assert not outside, outside
    assert [u for u in requests if u.startswith("file://")] == [index.resolve().as_uri()]
