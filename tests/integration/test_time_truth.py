"""Times that mean what they say: sentinels are not audit failures, date-only times give no intervals (never
0 s), and times in a DST gap or overlap are flagged and never turn an in-order call into a negative interval.

Every case loads a hand-made CAD or RMS extract through the real loader into a real DuckDB warehouse; the
response-time case also builds the marts and renders the report.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from tests.support.project import write_project
from transforms.config import load_settings
from transforms.warehouse import db as wh
from transforms.warehouse import loader
from transforms.warehouse.audits import run_audits

TOML = """
sources = ["cad", "rms"]
[time]
as_of = "2024-03-31"
[agencies.den]
name = "Test Denver"
timezone = "America/Denver"
crs = "EPSG:26913"
bbox = [-105.11, 39.61, -104.60, 39.91]
"""

CAD_YAML = """
name: cad
kind: calls
agency: den
format: csv
file_pattern: "cad_*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Denver
timestamps:
  received_at: {columns: [received], formats: ["%Y-%m-%d %H:%M:%S"]}
  dispatched_at: {columns: [assigned], formats: ["%Y-%m-%d %H:%M:%S"]}
  onscene_at: {columns: [arrived], formats: ["%Y-%m-%d %H:%M:%S"]}
  cleared_at: {columns: [cleared], formats: ["%Y-%m-%d %H:%M:%S"]}
columns: {call_type_code: type, address: address}
constants: {disposition: RPT}
coordinates: {x: lon, y: lat, crs: EPSG:4326}
origin: {column: onview, officer_values: ["Y"], community_values: ["N"]}
"""

# the same layout with dates only: every time is declared date-only
DATE_ONLY_YAML = CAD_YAML.replace('formats: ["%Y-%m-%d %H:%M:%S"]}',
                                  'formats: ["%Y-%m-%d"], precision: date_only}')

RMS_YAML = """
name: rms
kind: incidents
agency: den
format: csv
file_pattern: "rms_*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Denver
timestamps:
  occurred_from: {columns: [occurred], formats: ["%Y-%m-%d %H:%M"]}
  reported_at: {columns: [reported], formats: ["%Y-%m-%d %H:%M"]}
sentinel_dates: ["1900-01-01"]
columns: {offense_code: code, address: address}
coordinates: {x: lon, y: lat, crs: EPSG:4326}
"""

CAD_HEADER = "id,received,assigned,arrived,cleared,type,address,lon,lat,onview\n"


def _cad_row(id_: str, received: str, assigned: str = "", arrived: str = "", cleared: str = "") -> str:
    return f"{id_},{received},{assigned},{arrived},{cleared},DIST,100 BLOCK N MAIN ST,-104.99,39.74,N\n"


def _project(tmp_path: Path, cad_yaml: str = CAD_YAML):
    proj = write_project(tmp_path, {"cad": cad_yaml, "rms": RMS_YAML}, toml=TOML, crosswalks={})
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    con = wh.connect(proj / "w.duckdb")
    wh.apply_schema(con)
    return settings, con


def _load(settings, con, source: str, name: str, text: str) -> loader.FileOutcome:
    landing = settings.source_landing(source)
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / name
    path.write_text(text, encoding="utf-8")
    raw = loader.load_raw_file(con, settings, source, path, "r1")
    assert raw.status == "raw", raw
    (out,) = loader.normalize_pending(con, settings, source, "r1")
    assert out.rows_read == out.rows_loaded + out.rows_duplicate + out.rows_quarantined
    return out


def _calls(con) -> dict[str, dict]:
    cur = con.execute("SELECT * FROM core.calls ORDER BY call_id")
    cols = [d[0] for d in cur.description]
    return {r[cols.index("call_id")]: dict(zip(cols, r, strict=True)) for r in cur.fetchall()}


def _ms(*utc) -> str:
    """Epoch milliseconds of a UTC time, as text."""
    return str(int(datetime(*utc, tzinfo=UTC).timestamp() * 1000))


def _issues(value: str | None) -> set[str]:
    return set(value.split(",")) if value else set()


@pytest.fixture()
def project(tmp_path: Path):
    settings, con = _project(tmp_path)
    yield settings, con
    con.close()


# ---------------------------------------------------------------------------------------------
# sentinels
# ---------------------------------------------------------------------------------------------


def test_sentinel_cleared_times_pass_the_time_issues_audit_and_an_unparseable_one_fails(project):
    settings, con = project
    header = "id,occurred,reported,code,address,lon,lat\n"
    rows = ["S1,1900-01-01 00:00,2024-02-01 10:00,THEFT,1 A ST,-104.99,39.74",  # sentinel occurred_from
            "S2,1900-01-01 00:00,2024-02-02 10:00,THEFT,2 A ST,-104.99,39.74",
            "OK,2024-02-03 09:00,2024-02-03 10:00,THEFT,3 A ST,-104.99,39.74"]
    out = _load(settings, con, "rms", "rms_1.csv", header + "\n".join(rows) + "\n")
    assert (out.rows_read, out.rows_loaded, out.rows_quarantined) == (3, 3, 0)
    got = dict(con.execute("SELECT incident_id, time_issue FROM core.incidents").fetchall())
    assert got == {"S1": "sentinel_occurred_from", "S2": "sentinel_occurred_from", "OK": None}
    audit = {a.name: a for a in run_audits(con)}["time_issues"]
    assert (audit.status, audit.rows) == ("pass", 0)

    # a time that does not parse is still a problem the audit counts
    _load(settings, con, "rms", "rms_2.csv", header + "U1,2024-02-04 09:00,garbage,THEFT,4 A ST,-104.99,39.74\n")
    audit = {a.name: a for a in run_audits(con)}["time_issues"]
    assert (audit.status, audit.rows) == ("fail", 1)
    rows = con.execute("SELECT * FROM (" + _audit_sql("time_issues") + ")").fetchall()
    assert [r[2] for r in rows] == ["unparseable_reported_at"]


def _audit_sql(name: str) -> str:
    from transforms.warehouse.audits import load_audits

    return next(a.sql for a in load_audits() if a.name == name).strip().rstrip(";")


# ---------------------------------------------------------------------------------------------
# daylight saving time
# ---------------------------------------------------------------------------------------------


def test_spring_forward_gap_is_flagged_and_gives_no_negative_interval(project):
    settings, con = project
    # received 02:43:56 and assigned 02:47:20 fall in the gap (02:00-03:00 does not exist on 2024-03-10 in
    # Denver); arrived 03:00:06 does not. The documented reading puts the gap times at 09:43:56 and
    # 09:47:20 UTC (offset before the gap, -7) and 03:00:06 MDT at 09:00:06 UTC: an arrival 47 minutes
    # before the dispatch. On the wall clock, as delivered (the gap times read with the offset after the gap):
    # 204 s in the queue, 766 s travelling.
    text = CAD_HEADER + _cad_row("G1", "2024-03-10 02:43:56", "2024-03-10 02:47:20", "2024-03-10 03:00:06",
                                 "2024-03-10 03:30:06") \
        + _cad_row("N1", "2024-03-09 02:43:56", "2024-03-09 02:47:20", "2024-03-09 03:00:06")
    _load(settings, con, "cad", "cad_1.csv", text)
    c = _calls(con)
    g = c["G1"]
    assert g["received_at"] == datetime(2024, 3, 10, 9, 43, 56, tzinfo=UTC)  # the documented rule, unchanged
    assert g["onscene_at"] == datetime(2024, 3, 10, 9, 0, 6, tzinfo=UTC)
    assert _issues(g["time_issue"]) == {"dst_gap_received_at", "dst_gap_dispatched_at"}
    assert (g["queue_s"], g["travel_s"], g["response_s"], g["on_scene_s"]) == (204, 766, 970, 1800)
    assert _issues(g["interval_issue"]) == {"queue_s:dst_change", "travel_s:dst_change",
                                            "response_s:dst_change"}
    # the day before: no gap, no flag, the same intervals from the instants
    n = c["N1"]
    assert n["time_issue"] is None and n["interval_issue"] is None
    assert (n["queue_s"], n["travel_s"], n["response_s"]) == (204, 766, 970)
    audits = {a.name: a for a in run_audits(con)}
    assert audits["no_negative_intervals"].status == "pass"
    assert audits["time_issues"].status == "pass"      # read by the documented rule: not a failure
    assert audits["interval_issues"].status == "pass"  # nothing was negative


def test_autumn_overlap_is_flagged_and_gives_no_negative_interval(project):
    settings, con = project
    # 01:00-02:00 happens twice on 2024-11-03 in Denver (MDT, then MST). The documented rule reads an overlap
    # time as the later, standard one.
    text = CAD_HEADER \
        + _cad_row("O1", "2024-11-03 00:55:00", "2024-11-03 01:10:00", "2024-11-03 01:20:00") \
        + _cad_row("O2", "2024-11-03 01:50:00", "", "2024-11-03 01:05:00") \
        + _cad_row("O3", "2024-11-03 01:40:00", "2024-11-03 01:45:00", "2024-11-03 02:10:00")
    _load(settings, con, "cad", "cad_1.csv", text)
    c = _calls(con)
    # O1: received 00:55 MDT (06:55 UTC); assigned 01:10 read as MST (08:10 UTC): 75 minutes in the queue by
    # the standard reading, 15 on the wall clock
    o1 = c["O1"]
    assert o1["dispatched_at"] == datetime(2024, 11, 3, 8, 10, tzinfo=UTC)
    assert _issues(o1["time_issue"]) == {"dst_overlap_dispatched_at", "dst_overlap_onscene_at"}
    assert (o1["queue_s"], o1["travel_s"], o1["response_s"]) == (900, 600, 1500)
    # O2: received 01:50 and on scene at 01:05 the second time round: both read as MST the arrival is 45
    # minutes before the call; the wall clock ran backwards inside one overlap, so the call crossed the
    # fall-back: 01:50 MDT -> 01:05 MST is 15 minutes
    o2 = c["O2"]
    assert _issues(o2["time_issue"]) == {"dst_overlap_received_at", "dst_overlap_onscene_at"}
    assert o2["response_s"] == 900 and "response_s:dst_change" in _issues(o2["interval_issue"])
    # O3: received and assigned in the overlap, arrived after it: 5 and 25 minutes on the wall clock
    o3 = c["O3"]
    assert _issues(o3["time_issue"]) == {"dst_overlap_received_at", "dst_overlap_dispatched_at"}
    assert (o3["queue_s"], o3["travel_s"], o3["response_s"]) == (300, 1500, 1800)
    for call in c.values():
        assert not any(call[k] is not None and call[k] < 0 for k in ("queue_s", "travel_s", "response_s"))
    assert {a.name: a.status for a in run_audits(con)}["no_negative_intervals"] == "pass"


def test_a_time_just_outside_the_gap_is_not_flagged(project):
    settings, con = project
    text = CAD_HEADER + _cad_row("E1", "2024-03-10 01:59:59", "2024-03-10 03:00:00", "2024-03-10 03:10:00")
    _load(settings, con, "cad", "cad_1.csv", text)
    e = _calls(con)["E1"]
    assert e["time_issue"] is None and e["interval_issue"] is None
    assert (e["queue_s"], e["travel_s"]) == (1, 600)  # 01:59:59 MST -> 03:00:00 MDT is one second


# ---------------------------------------------------------------------------------------------
# date-only times
# ---------------------------------------------------------------------------------------------


def test_date_only_calls_give_no_intervals_no_response_times_and_are_counted(tmp_path):
    from transforms.marts.build import build_all
    from transforms.outputs.report.page import render_report

    settings, con = _project(tmp_path, DATE_ONLY_YAML)
    try:
        text = CAD_HEADER + "".join(
            _cad_row(f"D{i}", f"2024-02-{i:02d}", f"2024-02-{i:02d}", f"2024-02-{i:02d}", f"2024-02-{i:02d}")
            for i in range(1, 11))
        out = _load(settings, con, "cad", "cad_1.csv", text)
        assert out.rows_loaded == 10
        rows = con.execute("SELECT time_precision, queue_s, travel_s, response_s, on_scene_s, interval_issue "
                           "FROM core.calls").fetchall()
        assert len(rows) == 10
        for prec, queue, travel, response, on_scene, issue in rows:
            assert prec == "date_only"
            assert (queue, travel, response, on_scene) == (None, None, None, None)
            assert _issues(issue) == {"queue_s:date_only", "travel_s:date_only", "response_s:date_only",
                                      "on_scene_s:date_only"}
        audits = {a.name: a.status for a in run_audits(con)}
        assert audits["interval_issues"] == "pass"  # nothing negative: date-only is a precision, not an error

        build_all(con, settings, date(2024, 3, 31))
        assert con.execute("SELECT count(*) FROM marts.response_times").fetchone()[0] == 0
        assert con.execute("SELECT reason, sum(n_calls) FROM marts.response_times_excluded GROUP BY ALL"
                           ).fetchall() == [("date_only_time", 10)]
        # hour of week leaves them out too, and counts them
        left = con.execute("SELECT DISTINCT n_left_out FROM marts.temporal_profile WHERE unit_type = 'agency' "
                           "AND category_group = 'all'").fetchall()
        assert left == [(10,)]

        html = render_report(con, settings, date(2024, 3, 31))
        section = html.split('<section id="response-times">', 1)[1].split("</section>", 1)[0]
        assert "<table" not in section and "0.00" not in section
        # the section says why there is nothing: the calls left out, by reason (marts.mart_status)
        assert "Not available" in section and "10 date only time" in section, section
    finally:
        con.close()


def test_a_date_only_arrival_nulls_only_the_intervals_that_touch_it(tmp_path):
    yaml = CAD_YAML.replace('onscene_at: {columns: [arrived], formats: ["%Y-%m-%d %H:%M:%S"]}',
                            'onscene_at: {columns: [arrived], formats: ["%Y-%m-%d"], precision: date_only}')
    settings, con = _project(tmp_path, yaml)
    try:
        _load(settings, con, "cad", "cad_1.csv",
              CAD_HEADER + _cad_row("A1", "2024-02-01 10:00:00", "2024-02-01 10:05:00", "2024-02-01",
                                    "2024-02-01 11:00:00"))
        a = _calls(con)["A1"]
        assert a["time_precision"] == "exact"
        assert a["queue_s"] == 300
        assert (a["travel_s"], a["response_s"], a["on_scene_s"]) == (None, None, None)
        assert _issues(a["interval_issue"]) == {"travel_s:date_only", "response_s:date_only",
                                                "on_scene_s:date_only"}
    finally:
        con.close()


def test_unit_rows_are_ordered_on_the_wall_clock_across_the_gap(tmp_path):
    # two units of one call on 2024-03-10 in Denver: unit 1 assigned 02:50 (in the gap) and on scene 03:05,
    # unit 2 assigned 03:10 and on scene 03:20. On the wall clock unit 1 is first both times; by the
    # documented reading 02:50 is 09:50 UTC, after 03:10 MDT (09:10 UTC), which would make unit 2's
    # assignment the first and the travel time negative.
    yaml = CAD_YAML.replace("event_grain: record\n", "").replace("update_mode: upsert\n",
                                                                 "update_mode: upsert\nevent_grain: unit\n")
    settings, con = _project(tmp_path, yaml)
    try:
        text = CAD_HEADER + _cad_row("U1", "2024-03-10 02:45:00", "2024-03-10 02:50:00", "2024-03-10 03:05:00") \
            + _cad_row("U1", "2024-03-10 02:45:00", "2024-03-10 03:10:00", "2024-03-10 03:20:00")
        out = _load(settings, con, "cad", "cad_1.csv", text)
        assert (out.rows_read, out.rows_loaded) == (2, 2)
        u = _calls(con)["U1"]
        assert u["n_responding_units"] == 2
        assert u["dispatched_at"] == datetime(2024, 3, 10, 9, 50, tzinfo=UTC)  # unit 1's 02:50, as read
        assert u["onscene_at"] == datetime(2024, 3, 10, 9, 5, tzinfo=UTC)      # unit 1's 03:05 MDT
        assert _issues(u["time_issue"]) == {"dst_gap_received_at", "dst_gap_dispatched_at"}
        assert (u["queue_s"], u["travel_s"], u["response_s"]) == (300, 900, 1200)
    finally:
        con.close()


def test_an_overlap_or_gap_time_against_an_instant_takes_the_reading_that_is_not_negative(tmp_path):
    # received is local text, assigned an epoch in milliseconds (an instant, no DST question)
    yaml = CAD_YAML.replace('dispatched_at: {columns: [assigned], formats: ["%Y-%m-%d %H:%M:%S"]}',
                            "dispatched_at: {columns: [assigned], epoch: ms}")
    settings, con = _project(tmp_path, yaml)
    try:
        text = CAD_HEADER \
            + _cad_row("V1", "2024-11-03 01:09:00", _ms(2024, 11, 3, 7, 10, 10)) \
            + _cad_row("V2", "2024-03-10 02:30:00", _ms(2024, 3, 10, 9, 40)) \
            + _cad_row("V3", "2024-03-10 02:50:00", _ms(2024, 3, 10, 9, 5))
        _load(settings, con, "cad", "cad_1.csv", text)
        c = _calls(con)
        # V1: received 01:09 read as MST (08:09 UTC), assigned at 07:10:10 UTC (01:10:10 MDT): the documented
        # reading is an hour negative; the first (daylight) reading of 01:09 gives 70 s
        assert c["V1"]["queue_s"] == 70 and _issues(c["V1"]["interval_issue"]) == {"queue_s:dst_change"}
        assert c["V1"]["time_issue"] == "dst_overlap_received_at"
        # V2: received 02:30 in the gap, read as 09:30 UTC (MST); assigned 09:40 UTC: 600 s, the documented
        # reading, not the 4,200 s of a clock that had already sprung forward
        assert c["V2"]["queue_s"] == 600 and c["V2"]["time_issue"] == "dst_gap_received_at"
        # V3: received 02:50 in the gap, assigned 09:05 UTC (03:05 MDT): only a clock that had sprung forward
        # (02:50 MDT = 08:50 UTC) puts the call before its dispatch: 900 s
        assert c["V3"]["queue_s"] == 900
        assert {a.name: a.status for a in run_audits(con)}["no_negative_intervals"] == "pass"
    finally:
        con.close()
