"""Formats (XLSX, gzip + cp1252, Parquet) and update modes (replace_window, append, dedupe) on tiny extracts."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import make_project
from transforms import loader
from transforms import warehouse as wh
from transforms.config import load_settings

TOML = """
sources = ["feed"]
[time]
floor = "2000-01-01"
[agencies.city]
name = "Test City"
timezone = "America/Chicago"
crs = "EPSG:26971"
bbox = [-87.95, 41.64, -87.52, 42.03]
"""

BASE = r"""
name: feed
kind: incidents
agency: city
timezone: America/Chicago
timestamps:
  occurred_from: {columns: [when], formats: ["%Y-%m-%d %H:%M", "%d/%m/%Y"]}
columns: {offense_code: what, address: where}
coordinates: {x: lon, y: lat, crs: EPSG:4326}
"""


def _setup(tmp: Path, extra: str):
    proj = make_project(tmp, TOML, {"feed": BASE + extra})
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    con = wh.connect(proj / "w.duckdb")
    wh.apply_schema(con)
    return settings, con


def _load(settings, con, path: Path, run: str = "r"):
    raw = loader.load_raw_file(con, settings, "feed", path, run)
    assert raw.status == "raw", raw.message
    (out,) = loader.normalize_pending(con, settings, "feed", run)
    assert out.status == "loaded", out.message
    return out


def _landing(settings) -> Path:
    d = settings.source_landing("feed")
    d.mkdir(parents=True, exist_ok=True)
    return d


ROWS = [("2016-05-01 10:00", "THEFT", "100 N STATE ST", "-87.6277", "41.8822"),
        ("2016-05-01 11:30", "BURGLARY", "1200 W MADISON ST", "-87.6584", "41.8815"),
        ("2016-05-02 09:15", "THEFT", "100 N STATE ST", "-87.6277", "41.8822")]


def test_xlsx_extract_loads(tmp_path):
    import openpyxl

    settings, con = _setup(tmp_path, 'format: xlsx\nfile_pattern: "*.xlsx"\nrecord_id: []\nupdate_mode: append\n')
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["when", "what", "where", "lon", "lat"])
    for r in ROWS:
        ws.append([r[0], r[1], r[2], float(r[3]), float(r[4])])
    path = _landing(settings) / "x.xlsx"
    wb.save(path)
    out = _load(settings, con, path)
    assert (out.rows_read, out.rows_loaded) == (3, 3)
    got = con.execute("SELECT event_at, address_block, is_located FROM core.incidents ORDER BY event_at").fetchall()
    assert got[0] == (datetime(2016, 5, 1, 15, 0, tzinfo=UTC), "100 BLOCK N STATE ST", True)  # CDT = UTC-5


def test_gzip_cp1252_semicolon_and_flags(tmp_path):
    settings, con = _setup(
        tmp_path, 'format: csv\nencoding: cp1252\ndelimiter: ";"\nfile_pattern: "*.csv.gz"\nrecord_id: []\n'
                  'update_mode: append\n')
    lines = ["when;what;where;lon;lat"] + [";".join(r) for r in ROWS]
    lines.append("2090-01-01 00:00;THEFT;CAFÉ ROW;-87.6277;41.8822")   # 50+ years in the future
    lines.append("1995-01-01 00:00;THEFT;OLD ST;-87.6277;41.8822")     # before the floor
    path = _landing(settings) / "f.csv.gz"
    path.write_bytes(gzip.compress(("\r\n".join(lines) + "\r\n").encode("cp1252")))
    out = _load(settings, con, path)
    assert out.rows_loaded == 5
    issues = dict(con.execute("SELECT address, time_issue FROM core.incidents WHERE time_issue IS NOT NULL").fetchall())
    assert issues == {"CAFÉ ROW": "future", "OLD ST": "before_floor"}


def test_replace_window_refresh_and_late_older_extract(tmp_path):
    settings, con = _setup(
        tmp_path, 'format: csv\nfile_pattern: "*.csv"\nrecord_id: []\nupdate_mode: replace_window\n'
                  "extract_at: {filename_pattern: 'x_(\\d{8})', format: '%Y%m%d'}\n")
    d = _landing(settings)
    head = "when,what,where,lon,lat\n"
    first = d / "x_20160503.csv"
    first.write_text(head + "".join(",".join(r) + "\n" for r in ROWS))
    _load(settings, con, first)
    # a newer full refresh of 1 May: one theft reclassified, the burglary withdrawn
    newer = d / "x_20160510.csv"
    newer.write_text(head + "2016-05-01 10:00,ROBBERY,100 N STATE ST,-87.6277,41.8822\n")
    out = _load(settings, con, newer, "r2")
    assert out.rows_loaded == 1
    may1 = con.execute("SELECT offense_code FROM core.incidents WHERE event_at < TIMESTAMPTZ '2016-05-02 05:00:00+00'").fetchall()
    assert may1 == [("ROBBERY",)]
    assert con.execute("SELECT count(*) FROM core.incidents").fetchone()[0] == 2  # 2 May untouched
    # an older extract of 1 May delivered late changes nothing newer: its row is counted as stale
    late = d / "x_20160504.csv"
    late.write_text(head + "2016-05-01 10:00,THEFT,100 N STATE ST,-87.6277,41.8822\n")
    out = _load(settings, con, late, "r3")
    assert (out.rows_loaded, out.rows_duplicate) == (0, 1)
    assert con.execute("SELECT list(offense_code ORDER BY event_at) FROM core.incidents").fetchone()[0] == \
        ["ROBBERY", "THEFT"]


def test_dedupe_counts_exact_duplicates_only_when_asked(tmp_path):
    for dedupe, expect in ((True, (4, 3, 1)), (False, (4, 4, 0))):
        sub = tmp_path / str(dedupe)
        settings, con = _setup(
            sub, f'format: csv\nfile_pattern: "*.csv"\nrecord_id: []\nupdate_mode: append\ndedupe: {str(dedupe).lower()}\n')
        path = _landing(settings) / "d.csv"
        path.write_text("when,what,where,lon,lat\n" + "".join(",".join(r) + "\n" for r in [*ROWS, ROWS[0]]))
        out = _load(settings, con, path)
        assert (out.rows_read, out.rows_loaded, out.rows_duplicate) == expect
        assert con.execute("SELECT count(*) FROM core.incidents").fetchone()[0] == expect[1]


def test_parquet_offence_rows_collapse_to_most_serious(tmp_path):
    extra = ('format: parquet\nfile_pattern: "*.parquet"\nrecord_id: [id]\nupdate_mode: upsert\n'
             "event_grain: offense\ncrosswalks: {offenses: config/crosswalks/off.csv}\n")
    proj = make_project(tmp_path, TOML, {"feed": BASE.replace("columns: {offense_code: what, address: where}",
                                                              "columns: {offense_code: what, address: where, "
                                                              "offense_seq: seq}") + extra},
                        {"off.csv": "code,offense,offense_category,crime_against,severity_rank\n"
                                    "290,Vandalism,Vandalism,Property,14\n120,Robbery,Robbery,Property,3\n"})
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    con = wh.connect(proj / "w.duckdb")
    wh.apply_schema(con)
    t = pa.table({"id": ["A", "A", "B"], "seq": ["1", "2", "1"], "when": ["2016-05-01 10:00"] * 3,
                  "what": ["290", "120", "999"], "where": ["1 MAIN ST"] * 3, "lon": ["-87.6277"] * 3,
                  "lat": ["41.8822"] * 3})
    path = _landing(settings) / "p.parquet"
    pq.write_table(t, path)
    out = _load(settings, con, path)
    assert (out.rows_read, out.rows_loaded) == (3, 3)
    inc = dict(con.execute("SELECT incident_id, offense_category FROM core.incidents").fetchall())
    assert inc == {"A": "Robbery", "B": "Unmapped"}
    assert con.execute("SELECT n_offenses FROM core.incidents WHERE incident_id = 'A'").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM core.offenses").fetchone()[0] == 3
