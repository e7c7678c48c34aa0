"""Formats (XLSX, gzip + cp1252, Parquet) and update modes (replace_window, append, dedupe) on tiny extracts."""

from __future__ import annotations

import gzip
from datetime import UTC, date, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from transforms.warehouse import loader

FLOOR = '[time]\nfloor = "2000-01-01"'  # Test City in Chicago, with a floor below which times are flagged

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


def _setup_yaml(tiny_project, yaml: str, root: Path | None = None, crosswalks: dict | None = None):
    """(settings, warehouse) of Test City in Chicago with one source, `feed`."""
    p = tiny_project({"feed": yaml}, city="chicago", extra=FLOOR, root=root, crosswalks=crosswalks)
    return p.settings, p.connect()


def _setup(tiny_project, extra: str, root: Path | None = None):
    """The same with the `feed` source BASE plus `extra`."""
    return _setup_yaml(tiny_project, BASE + extra, root)


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


def test_xlsx_extract_loads(tiny_project):
    import openpyxl

    settings, con = _setup(tiny_project, 'format: xlsx\nfile_pattern: "*.xlsx"\nrecord_id: []\nupdate_mode: append\n')
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


def test_gzip_cp1252_semicolon_and_flags(tiny_project):
    settings, con = _setup(
        tiny_project, 'format: csv\nencoding: cp1252\ndelimiter: ";"\nfile_pattern: "*.csv.gz"\nrecord_id: []\n'
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


def test_replace_window_refresh_and_late_older_extract(tiny_project):
    settings, con = _setup(
        tiny_project, 'format: csv\nfile_pattern: "*.csv"\nrecord_id: []\nupdate_mode: replace_window\n'
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


def test_dedupe_counts_exact_duplicates_only_when_asked(tiny_project, tmp_path):
    for dedupe, expect in ((True, (4, 3, 1)), (False, (4, 4, 0))):
        sub = tmp_path / str(dedupe)
        settings, con = _setup(
            tiny_project, f'format: csv\nfile_pattern: "*.csv"\nrecord_id: []\nupdate_mode: append\n'
                          f'dedupe: {str(dedupe).lower()}\n', root=sub)
        path = _landing(settings) / "d.csv"
        path.write_text("when,what,where,lon,lat\n" + "".join(",".join(r) + "\n" for r in [*ROWS, ROWS[0]]))
        out = _load(settings, con, path)
        assert (out.rows_read, out.rows_loaded, out.rows_duplicate) == expect
        assert con.execute("SELECT count(*) FROM core.incidents").fetchone()[0] == expect[1]


def test_parquet_offence_rows_collapse_to_most_serious(tiny_project):
    extra = ('format: parquet\nfile_pattern: "*.parquet"\nrecord_id: [id]\nupdate_mode: upsert\n'
             "event_grain: offense\ncrosswalks: {offenses: config/crosswalks/off.csv}\n")
    yaml = BASE.replace("columns: {offense_code: what, address: where}",
                        "columns: {offense_code: what, address: where, offense_seq: seq}") + extra
    settings, con = _setup_yaml(tiny_project, yaml, crosswalks={
        "off.csv": "code,offense,offense_category,crime_against,severity_rank\n"
                   "290,Vandalism,Vandalism,Property,14\n120,Robbery,Robbery,Property,3\n"})
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


# --- times that carry their own zone, and primary times that do not parse ----------------------------------

RMS = r"""
name: feed
kind: incidents
agency: city
format: parquet
file_pattern: "*.parquet"
record_id: [id]
update_mode: upsert
timezone: America/Chicago
timestamps:
  occurred_from: {columns: [occurred], formats: ["%Y-%m-%d %H:%M"]}
  reported_at: {columns: [reported], formats: ["%Y-%m-%d %H:%M"]}
  occurred_to: {columns: [until], formats: ["%Y-%m-%d"]}
columns: {offense_code: what, address: where}
coordinates: {x: lon, y: lat, crs: EPSG:4326}
"""


def _incidents(con, *cols: str) -> dict[str, tuple]:
    sel = ", ".join(cols)
    return {r[0]: tuple(r[1:]) for r in con.execute(f"SELECT incident_id, {sel} FROM core.incidents").fetchall()}


def _rms_table(occurred, reported, until, ts_type, reported_type=None) -> pa.Table:
    n = len(occurred)
    return pa.table({"id": [f"I{i}" for i in range(n)],
                     "occurred": pa.array(occurred, ts_type), "reported": pa.array(reported, reported_type or ts_type),
                     "until": pa.array(until, pa.date32()),
                     "what": ["THEFT"] * n, "where": ["100 N STATE ST"] * n,
                     "lon": ["-87.6277"] * n, "lat": ["41.8822"] * n})


@pytest.mark.parametrize("tz", ["UTC", "America/Chicago"])
def test_parquet_tz_aware_timestamps_are_instants_kept_exactly(tiny_project, tz):
    # Bad input (before the fix): a timestamp[us, tz] column became null (I0 quarantined, I1's reported_at null
    # with no flag). Expected: the instants exactly as written, whatever the column's or the source's zone, no
    # time_issue; an empty reported_at stays empty without a flag. rows: read 2 = loaded 2.
    settings, con = _setup_yaml(tiny_project, RMS)
    occ = [datetime(2024, 3, 10, 8, 30, 0, 123456, tzinfo=UTC),   # 03:30 CDT, the morning the clocks jump
           datetime(2016, 5, 1, 15, 0, tzinfo=UTC)]
    rep = [datetime(2024, 3, 10, 9, 0, tzinfo=UTC), None]
    path = _landing(settings) / "tz.parquet"
    pq.write_table(_rms_table(occ, rep, [None, None], pa.timestamp("us", tz=tz)), path)
    out = _load(settings, con, path)
    assert (out.rows_read, out.rows_loaded, out.rows_duplicate, out.rows_quarantined) == (2, 2, 0, 0)
    got = _incidents(con, "occurred_from", "reported_at", "event_at", "time_issue")
    assert got == {"I0": (occ[0], rep[0], occ[0], None), "I1": (occ[1], None, occ[1], None)}


@pytest.mark.parametrize(("setting", "utc_hours"), [
    ("", (18, 8)),                           # default: local (America/Chicago)
    ("naive_timestamps: local\n", (18, 8)),
    ("naive_timestamps: utc\n", (12, 2)),
])
def test_parquet_naive_timestamps_are_read_in_the_zone_the_yaml_says(tiny_project, setting, utc_hours):
    # Bad input: naive Parquet timestamps (no zone in the file): 2024-03-01 12:00:00.25 (CST, UTC-6) and
    # 2024-03-10 02:30 (inside the spring-forward gap), the second as timestamp[ns]; a DATE column for occurred_to.
    # Expected: local -> 18:00:00.25 UTC and 08:30 UTC (the README's gap rule, applied once); utc -> 12:00:00.25
    # and 02:30 UTC. The DATE is a calendar day in the source's zone either way (2024-03-02 00:00 CST).
    settings, con = _setup_yaml(tiny_project, RMS.replace("timezone: America/Chicago\n",
                                                      "timezone: America/Chicago\n" + setting))
    naive = [datetime(2024, 3, 1, 12, 0, 0, 250000)]
    path = _landing(settings) / "naive.parquet"
    pq.write_table(_rms_table(naive, [datetime(2024, 3, 10, 2, 30)], [date(2024, 3, 2)], pa.timestamp("us"),
                              pa.timestamp("ns")), path)
    out = _load(settings, con, path)
    assert (out.rows_read, out.rows_loaded, out.rows_quarantined) == (1, 1, 0)
    h_occ, h_rep = utc_hours
    gap = None if "utc" in setting else "dst_gap_reported_at"  # a local wall time in the gap is flagged
    assert _incidents(con, "occurred_from", "reported_at", "occurred_to", "time_issue") == {"I0": (
        datetime(2024, 3, 1, h_occ, 0, 0, 250000, tzinfo=UTC), datetime(2024, 3, 10, h_rep, 30, tzinfo=UTC),
        datetime(2024, 3, 2, 6, 0, tzinfo=UTC), gap)}


def test_naive_timestamps_key_is_validated(tiny_project):
    from transforms.config import ConfigError

    with pytest.raises(ConfigError, match="key naive_timestamps: Input should be 'local' or 'utc'"):
        _setup_yaml(tiny_project, RMS.replace("timezone: America/Chicago\n",
                                          "timezone: America/Chicago\nnaive_timestamps: gmt\n"))


def test_offset_format_in_text_is_an_instant_not_converted_again(tiny_project):
    # Bad input: a CSV time with an explicit offset, read with a %z format (before the fix it was converted
    # from the source's zone a second time: 10:00-05:00 came out as 10:00 UTC). Expected: 15:00 UTC. A value
    # without an offset, read by the second (local) format of the same list, stays local (CDT, UTC-5).
    settings, con = _setup_yaml(tiny_project, BASE.replace(
        '["%Y-%m-%d %H:%M", "%d/%m/%Y"]', '["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%d %H:%M"]')
        + 'format: csv\nfile_pattern: "*.csv"\nrecord_id: []\nupdate_mode: append\n')
    path = _landing(settings) / "z.csv"
    path.write_text("when,what,where,lon,lat\n2016-05-01T10:00:00-0500,THEFT,A ST,-87.6277,41.8822\n"
                    "2016-05-01 11:00,THEFT,B ST,-87.6277,41.8822\n")
    out = _load(settings, con, path)
    assert (out.rows_read, out.rows_loaded) == (2, 2)
    got = dict(con.execute("SELECT address, occurred_from FROM core.incidents").fetchall())
    assert got == {"A ST": datetime(2016, 5, 1, 15, 0, tzinfo=UTC), "B ST": datetime(2016, 5, 1, 16, 0, tzinfo=UTC)}


PRIMARY = r"""
name: feed
kind: incidents
agency: city
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Chicago
sentinel_dates: ["1900-01-01"]
timestamps:
  occurred_from: {columns: [occurred], formats: ["%Y-%m-%d %H:%M"]}
  reported_at: {columns: [reported], formats: ["%Y-%m-%d %H:%M"]}
  occurred_to: {columns: [until], formats: ["%Y-%m-%d %H:%M"]}
columns: {offense_code: what}
"""


def test_a_primary_time_that_does_not_parse_is_flagged_or_quarantined_never_silently_null(tiny_project):
    # Bad input, one row each; expected outcome beside it.
    settings, con = _setup_yaml(tiny_project, PRIMARY)
    rows = [
        "P1,2016-05-01 10:00,garbage,,X",            # loaded, reported_at null, time_issue unparseable_reported_at
        "P2,garbage,2016-05-01 12:00,,X",            # loaded, event_at = reported_at, unparseable_occurred_from
        "P3,garbage,rubbish,,X",                     # quarantined: bad_timestamp naming both fields and the value
        "P4,,2016-05-01 12:00,,X",                   # loaded, no flag (an empty time is not a bad one)
        "P5,1900-01-01 00:00,2016-05-01 12:00,,X",   # loaded, occurred_from null (sentinel), sentinel_occurred_from
        "P6,,,,X",                                   # quarantined: no_timestamp
        "P7,2016-05-01 10:00,,garbage,X",            # loaded, unparseable_occurred_to (a secondary time)
        "P8,2016-05-01 10:00,,1900-01-01 00:00,X",   # loaded, occurred_to null: a sentinel is not "unparseable"
    ]
    path = _landing(settings) / "p.csv"
    path.write_text("id,occurred,reported,until,what\n" + "\n".join(rows) + "\n")
    out = _load(settings, con, path)
    assert (out.rows_read, out.rows_loaded, out.rows_duplicate, out.rows_quarantined) == (8, 6, 0, 2)
    may1 = datetime(2016, 5, 1, 15, 0, tzinfo=UTC)
    noon = datetime(2016, 5, 1, 17, 0, tzinfo=UTC)
    assert _incidents(con, "occurred_from", "reported_at", "event_at", "time_issue") == {
        "P1": (may1, None, may1, "unparseable_reported_at"),
        "P2": (None, noon, noon, "unparseable_occurred_from"),
        "P4": (None, noon, noon, None),
        "P5": (None, noon, noon, "sentinel_occurred_from"),
        "P7": (may1, None, may1, "unparseable_occurred_to"),
        "P8": (may1, None, may1, None),
    }
    q = dict(con.execute("SELECT source_row, reason FROM core.quarantine").fetchall())
    assert q == {3: "bad_timestamp: occurred_from (occurred) or reported_at (reported) value garbage does not parse",
                 6: "no_timestamp: occurred_from (occurred) or reported_at (reported) is empty"}


@pytest.mark.parametrize(("spec", "header", "bad"), [
    ("{parts: {year: y, month: m, day: d}}", "y,m,d", "2016,13,1"),      # month 13
    ("{columns: [e], epoch: ms}", "e", "12:30"),                         # not a number
    ("{columns: [e], formats: ['%Y-%m-%d %H:%M']}", "e", "2016-02-30 10:00"),  # no such day
])
def test_every_kind_of_timestamp_spec_flags_an_unparseable_primary(tiny_project, spec, header, bad):
    # Bad input: occurred_from present but unreadable (split parts, epoch, formats); reported_at fine.
    # Expected: the row loads on reported_at, occurred_from null, time_issue unparseable_occurred_from.
    yaml = PRIMARY.replace("occurred_from: {columns: [occurred], formats: [\"%Y-%m-%d %H:%M\"]}",
                           f"occurred_from: {spec}").replace("  occurred_to: {columns: [until], "
                                                             "formats: [\"%Y-%m-%d %H:%M\"]}\n", "")
    settings, con = _setup_yaml(tiny_project, yaml)
    path = _landing(settings) / "k.csv"
    path.write_text(f"id,{header},reported,what\nK1,{bad},2016-05-01 12:00,X\n")
    out = _load(settings, con, path)
    assert (out.rows_read, out.rows_loaded, out.rows_quarantined) == (1, 1, 0)
    assert _incidents(con, "occurred_from", "event_at", "time_issue") == {
        "K1": (None, datetime(2016, 5, 1, 17, 0, tzinfo=UTC), "unparseable_occurred_from")}


def test_parquet_timestamps_are_staged_as_iso_text_whatever_the_session_zone(tmp_path):
    # The raw text of typed Parquet timestamps does not depend on the connection's TimeZone: an aware one is its
    # instant in UTC with +00:00 (before the fix: '2024-03-01 13:00:00-05' under New York), a naive one has no
    # offset, a DATE stays YYYY-MM-DD, text stays text.
    import duckdb

    from transforms.warehouse.readers import _stage_parquet

    path = tmp_path / "s.parquet"
    pq.write_table(pa.table({
        "aware": pa.array([datetime(2024, 3, 1, 18, 0, tzinfo=UTC)], pa.timestamp("us", tz="America/Chicago")),
        "naive_ms": pa.array([datetime(2024, 3, 1, 12, 0, 0, 5000)], pa.timestamp("ms")),
        "day": pa.array([date(2024, 3, 1)], pa.date32()),
        "text": ["03/01/2024 12:00"]}), path)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    res = _stage_parquet(con, path, "t")
    assert res.columns == ["aware", "naive_ms", "day", "text"] and res.rows_read == 1
    assert con.execute("SELECT aware, naive_ms, day, text, _row_number FROM _raw_t").fetchone() == (
        "2024-03-01T18:00:00.000000+00:00", "2024-03-01T12:00:00.005000", "2024-03-01", "03/01/2024 12:00", 1)
