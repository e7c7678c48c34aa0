"""The scanning report in a browser: headless Chromium renders it to a PNG that is not blank (checked with a
small PNG reader written here, stdlib only). Skipped where /usr/bin/chromium is absent."""

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


@pytest.mark.slow  # the session's demo warehouse: one nightly run
def test_demo_report_renders_in_chromium(demo_warehouse, tmp_path):
    """The report of night 1 of the session's demo city, as `sara report` writes it, renders."""
    from transforms.config import load_settings
    from transforms.warehouse.db import connect

    settings = load_settings(demo_warehouse / "config" / "demo.toml", demo_warehouse)
    shutil.copy(settings.warehouse_path, tmp_path / "sara.duckdb")
    con = connect(tmp_path / "sara.duckdb", read_only=True)
    try:
        index = build_report(con, settings, out_dir=tmp_path / "report")
    finally:
        con.close()
    assert_renders(index, tmp_path)
