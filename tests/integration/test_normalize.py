"""Normalize on hand-made extracts: times, DST, sentinels, intervals, grain, locations, updates, quarantine."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest

from transforms.warehouse import db as wh
from transforms.warehouse import loader

HEADER = "id,unit,received,dispatched,onscene,cleared,type,disp,address,lon,lat,onview,updated,note\n"


def _row(id_, unit, received, dispatched="", onscene="", cleared="", type_="BURG", disp="RPT",
         address="1700 Block Of Jerrold Av", lon="-122.3916", lat="37.7425", onview="N",
         updated="2024-01-01 00:00", note="x") -> str:
    return ",".join([id_, unit, received, dispatched, onscene, cleared, type_, disp, address, lon, lat, onview,
                     updated, note]) + "\n"


@pytest.fixture()
def project(tiny_project):
    """Test City with its CAD source (one row per responding unit): (project folder, settings, warehouse)."""
    p = tiny_project()
    return p.root, p.settings, p.connect()


def _load(proj: Path, settings, con, name: str, text: str, run: str = "r1") -> loader.FileOutcome:
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / name
    path.write_text(text, encoding="utf-8")
    raw = loader.load_raw_file(con, settings, "cad", path, run)
    if raw.status != "raw":
        return raw
    (out,) = loader.normalize_pending(con, settings, "cad", run)
    return out


def _call(con, call_id: str) -> dict:
    cur = con.execute("SELECT * FROM core.calls WHERE call_id = ?", [call_id])
    cols = [d[0] for d in cur.description]
    row = cur.fetchone()
    return dict(zip(cols, row, strict=True)) if row else {}


def test_units_collapse_to_one_call_with_first_dispatch_and_last_clear(project):
    proj, settings, con = project
    text = HEADER + _row("C1", "U1", "03/01/2024 10:00:00 PM", "03/01/2024 10:05:00 PM", "03/01/2024 10:15:00 PM",
                         "03/01/2024 11:00:00 PM") \
        + _row("C1", "U2", "03/01/2024 10:00:00 PM", "03/01/2024 10:02:00 PM", "03/01/2024 10:20:00 PM",
               "03/01/2024 11:30:00 PM")
    out = _load(proj, settings, con, "cad_20240302T020000.csv", text)
    assert (out.rows_read, out.rows_loaded, out.rows_duplicate, out.rows_quarantined) == (2, 2, 0, 0)
    c = _call(con, "C1")
    # 10:00 PM PST on 1 March = 06:00 UTC on 2 March
    assert c["received_at"] == datetime(2024, 3, 2, 6, 0, tzinfo=UTC)
    assert c["dispatched_at"] == datetime(2024, 3, 2, 6, 2, tzinfo=UTC)   # first dispatch (U2)
    assert c["onscene_at"] == datetime(2024, 3, 2, 6, 15, tzinfo=UTC)     # first arrival (U1)
    assert c["cleared_at"] == datetime(2024, 3, 2, 7, 30, tzinfo=UTC)     # last clear (U2)
    assert c["n_responding_units"] == 2
    assert c["queue_s"] == 120 and c["travel_s"] == 780 and c["response_s"] == 900 and c["on_scene_s"] == 4500
    assert c["address_block"] == "1700 BLOCK JERROLD AVE"
    assert c["call_category"] == "Property Crime" and c["origin"] == "community" and c["self_initiated"] is False
    assert c["is_located"] and 551_000 < c["x"] < 556_000 and c["raw_note"] == "x"
    assert c["agency"] == "city" and c["time_precision"] == "exact"


def test_dst_gap_and_overlap_follow_the_documented_rule(project):
    proj, settings, con = project
    text = HEADER + _row("GAP", "U1", "2019-03-10 02:30") + _row("OVER", "U1", "2019-11-03 01:30")
    _load(proj, settings, con, "cad_20191104T020000.csv", text)
    # gap: read with the offset before the jump (PST, -8) -> 10:30 UTC (= 03:30 PDT)
    assert _call(con, "GAP")["received_at"] == datetime(2019, 3, 10, 10, 30, tzinfo=UTC)
    # overlap: the later, standard-time reading (PST, -8) -> 09:30 UTC
    assert _call(con, "OVER")["received_at"] == datetime(2019, 11, 3, 9, 30, tzinfo=UTC)


def test_negative_interval_is_nulled_and_named_and_sentinel_is_null(project):
    proj, settings, con = project
    text = HEADER + _row("N1", "U1", "03/01/2024 10:00:00 AM", "03/01/2024 10:10:00 AM", "03/01/2024 10:05:00 AM",
                         "01/01/1900 12:00:00 AM")
    _load(proj, settings, con, "cad_20240302T020000.csv", text)
    c = _call(con, "N1")
    assert c["travel_s"] is None and "travel_s<0" in c["interval_issue"]
    assert c["response_s"] == 300
    assert c["cleared_at"] is None and c["on_scene_s"] is None
    assert c["time_issue"] is None  # a sentinel is "never", not an unparseable time


def test_sentinel_primary_time_is_quarantined_as_no_timestamp_not_as_a_parse_failure(project):
    # Bad input: received (the only primary time of a call) holds the sentinel date. Expected: quarantined with
    # reason no_timestamp naming the field, the column and the value, never loaded with a null received_at.
    proj, settings, con = project
    text = HEADER + _row("S1", "U1", "01/01/1900 12:00:00 AM") + _row("OK", "U1", "03/01/2024 10:00:00 AM")
    out = _load(proj, settings, con, "cad_20240302T020000.csv", text)
    assert (out.rows_read, out.rows_loaded, out.rows_quarantined) == (2, 1, 1)
    reasons = con.execute("SELECT source_row, reason FROM core.quarantine").fetchall()
    assert reasons == [(1, "no_timestamp: received_at (received) value 01/01/1900 12:00:00 AM is a sentinel date "
                           "(none)")]


def test_bad_rows_are_quarantined_with_reasons_and_counts_reconcile(project):
    proj, settings, con = project
    text = (HEADER
            + _row("Q1", "U1", "")                               # no primary time
            + _row("Q2", "U1", "not a date")                     # unparseable time
            + _row("", "U1", "03/01/2024 10:00:00 AM")           # no id
            + "R1,U1,03/01/2024 10:00:00 AM,too,few\n"           # ragged
            + _row("OK", "U1", "03/01/2024 10:00:00 AM"))
    out = _load(proj, settings, con, "cad_20240302T020000.csv", text)
    assert (out.rows_read, out.rows_loaded, out.rows_quarantined) == (5, 1, 4)
    reasons = dict(con.execute("SELECT source_row, split_part(reason, ':', 1) FROM core.quarantine").fetchall())
    assert reasons == {1: "no_timestamp", 2: "bad_timestamp", 3: "no_record_id", 4: "ragged_row"}
    raw = con.execute("SELECT raw->>'received' FROM core.quarantine WHERE source_row = 2").fetchone()[0]
    assert raw == "not a date"


def test_locations_zero_missing_swapped_out_of_area(project):
    proj, settings, con = project
    text = (HEADER
            + _row("Z", "U1", "03/01/2024 10:00:00 AM", lon="0", lat="0")
            + _row("M", "U1", "03/01/2024 10:00:00 AM", lon="", lat="")
            + _row("S", "U1", "03/01/2024 10:00:00 AM", lon="37.7425", lat="-122.3916")
            + _row("O", "U1", "03/01/2024 10:00:00 AM", lon="-87.62", lat="41.79")
            + _row("B", "U1", "03/01/2024 10:00:00 AM", lon="abc", lat="1"))
    out = _load(proj, settings, con, "cad_20240302T020000.csv", text)
    assert out.rows_loaded == 5  # the events happened: counted, just not all mapped
    got = {k: (_call(con, k)["is_located"], _call(con, k)["location_issue"]) for k in "ZMSOB"}
    assert got == {"Z": (False, "zero"), "M": (False, "missing"), "S": (True, "swapped_repaired"),
                   "O": (False, "out_of_area"), "B": (False, "unparseable")}
    assert abs(_call(con, "S")["lon"] - -122.3916) < 1e-6


def test_updates_newer_wins_and_late_older_extract_changes_nothing(project):
    proj, settings, con = project
    first = HEADER + _row("C9", "U1", "03/01/2024 10:00:00 AM", disp="", updated="2024-03-01 10:00")
    _load(proj, settings, con, "cad_20240302T020000.csv", first)
    second = HEADER + _row("C9", "U1", "03/01/2024 10:00:00 AM", disp="CAN", updated="2024-03-02 09:00")
    out2 = _load(proj, settings, con, "cad_20240303T020000.csv", second, run="r2")
    assert out2.rows_loaded == 1
    c = _call(con, "C9")
    assert c["disposition_category"] == "Cancelled" and c["is_countable"] is False
    late = HEADER + _row("C9", "U1", "03/01/2024 10:00:00 AM", disp="RPT", updated="2024-03-01 12:00")
    out3 = _load(proj, settings, con, "cad_20240302T140000.csv", late, run="r3")
    assert (out3.rows_loaded, out3.rows_duplicate) == (0, 1)  # stale version: counted, not applied
    assert _call(con, "C9")["disposition"] == "CAN"
    assert con.execute("SELECT count(*) FROM core.calls").fetchone()[0] == 1


def test_same_bytes_twice_is_skipped_and_void_is_kept_but_not_countable(project):
    proj, settings, con = project
    text = HEADER + _row("V1", "U1", "03/01/2024 10:00:00 AM", disp="VOID", type_="TS", onview="Y")
    _load(proj, settings, con, "cad_20240302T020000.csv", text)
    landing = settings.source_landing("cad")
    dup = landing / "cad_20240302T020000_copy.csv"
    dup.write_bytes((landing / "cad_20240302T020000.csv").read_bytes())
    again = loader.load_raw_file(con, settings, "cad", dup, "r2")
    assert again.status == "skipped" and "already loaded" in again.message
    c = _call(con, "V1")
    assert c["is_void"] and not c["is_countable"] and c["origin"] == "officer" and c["self_initiated"]
    assert con.execute("SELECT count(*) FROM meta.loads").fetchone()[0] == 1


def test_unmapped_code_is_category_unmapped_and_missing_column_fails_with_file_and_column(project):
    proj, settings, con = project
    text = HEADER + _row("U", "U1", "03/01/2024 10:00:00 AM", type_="ZZZ")
    _load(proj, settings, con, "cad_20240302T020000.csv", text)
    assert _call(con, "U")["call_category"] == "Unmapped"
    bad = "id,unit,when\nA,U1,03/01/2024 10:00:00 AM\n"
    out = _load(proj, settings, con, "cad_20240303T020000.csv", bad, run="r2")
    assert out.status == "failed"
    assert "cad_20240303T020000.csv" in out.message and "received" in out.message
    row = con.execute("SELECT status, message FROM meta.loads WHERE path LIKE '%20240303%'").fetchone()
    assert row[0] == "failed" and os.path.basename(out.path) in row[1]


def test_every_meta_and_core_table_and_column_has_a_comment(project):
    proj, settings, con = project
    _load(proj, settings, con, "cad_20240302T020000.csv", HEADER + _row("C1", "U1", "03/01/2024 10:00:00 AM"))
    from transforms.warehouse.geo import write_agency_areas

    write_agency_areas(con, settings)
    tables = con.execute("SELECT schema_name, table_name, comment FROM duckdb_tables() "
                         "WHERE schema_name IN ('meta', 'core')").fetchall()
    assert {t[1] for t in tables} >= {"runs", "loads", "audit_results", "calls", "incidents", "offenses",
                                      "quarantine"}
    assert [t[:2] for t in tables if not t[2]] == []
    missing = con.execute("SELECT schema_name, table_name, column_name FROM duckdb_columns() "
                          "WHERE schema_name IN ('meta', 'core') AND coalesce(comment, '') = ''").fetchall()
    assert missing == []
    from transforms.outputs.dictionary import data_dictionary

    md = data_dictionary(con)
    assert "## core.calls" in md and "| raw_note | VARCHAR | unmapped source column" in md


def test_a_warehouse_made_before_the_rename_keeps_its_responding_unit_counts(project):
    proj, settings, con = project
    _load(proj, settings, con, "cad_20240302T020000.csv", HEADER + _row("C1", "U1", "03/01/2024 10:00:00 AM")
          + _row("C1", "U2", "03/01/2024 10:00:00 AM"))
    # the file as an earlier release left it: the column under its old name, an older schema applied
    con.execute("ALTER TABLE core.calls RENAME COLUMN n_responding_units TO n_units")
    con.execute("UPDATE meta.schema_info SET sha256 = 'an earlier schema.sql'")
    wh.apply_schema(con)
    assert con.execute("SELECT n_responding_units FROM core.calls WHERE call_id = 'C1'").fetchone() == (2,)
    assert "n_units" not in {r[0] for r in con.execute("DESCRIBE core.calls").fetchall()}
    out = _load(proj, settings, con, "cad_20240303T020000.csv", HEADER + _row("C2", "U1", "03/02/2024 10:00:00 AM"))
    assert out.status == "loaded" and _call(con, "C2")["n_responding_units"] == 1


BARE_CAD = """
name: bare_cad
kind: calls
agency: city
format: csv
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  received_at: {columns: [received], formats: ["%Y-%m-%d %H:%M"]}
columns: {call_type_code: type, priority: prio, disposition: disp}
"""
BARE_RMS = """
name: bare_rms
kind: incidents
agency: city
format: csv
record_id: [id]
update_mode: upsert
event_grain: offense
timezone: America/Los_Angeles
timestamps:
  occurred_from: {columns: [occurred], formats: ["%Y-%m-%d %H:%M"]}
columns: {offense_code: code, offense: what, offense_seq: seq}
"""


def test_a_source_without_crosswalks_is_unmapped_throughout_and_reads_numeric_priorities(tiny_project):
    """The core SQL's rules for a source with no crosswalk at all (its crosswalk tables are empty): every
    category is 'Unmapped' (a missing code too, which is 'Unknown' only against a crosswalk), a priority of
    1-5 is its own level, there is no disposition category, and offences rank 999 with their own text."""
    p = tiny_project({"bare_cad": BARE_CAD, "bare_rms": BARE_RMS}, crosswalks={})
    settings, con = p.settings, p.connect()
    files = {
        "bare_cad": "id,received,type,prio,disp\nA,2024-03-01 10:00,,2,CLR\nB,2024-03-01 11:00,TS,9,\n",
        "bare_rms": "id,occurred,code,what,seq\nI,2024-03-01 10:00,,Found property,1\n"
                    "I,2024-03-01 10:00,X1,,2\nJ,2024-03-01 12:00,X2,Theft,\n",
    }
    for source, text in files.items():
        landing = settings.source_landing(source)
        landing.mkdir(parents=True)
        (landing / "x.csv").write_text(text, encoding="utf-8")
        assert loader.load_raw_file(con, settings, source, landing / "x.csv", "r1").status == "raw"
        assert [o.status for o in loader.normalize_pending(con, settings, source, "r1")] == ["loaded"]
    calls = con.execute("SELECT call_id, call_type, call_category, priority_level, disposition_category, origin, "
                        "is_countable FROM core.calls ORDER BY call_id").fetchall()
    assert calls == [("A", None, "Unmapped", 2, None, "unknown", True),
                     ("B", "TS", "Unmapped", None, None, "unknown", True)]
    incidents = con.execute("SELECT incident_id, offense_code, offense, offense_category, crime_against, n_offenses "
                            "FROM core.incidents ORDER BY incident_id").fetchall()
    # I: both rows rank 999, so the first offence by sequence is the incident's
    assert incidents == [("I", None, "Found property", "Unmapped", None, 2), ("J", "X2", "Theft", "Unmapped", None, 1)]
    offenses = con.execute("SELECT incident_id, offense_seq, offense, offense_category, severity_rank "
                           "FROM core.offenses ORDER BY incident_id, offense_seq").fetchall()
    assert offenses == [("I", 1, "Found property", "Unmapped", 999), ("I", 2, "X1", "Unmapped", 999),
                        ("J", 1, "Theft", "Unmapped", 999)]


def test_against_a_crosswalk_a_missing_code_is_unknown_and_an_unlisted_disposition_unmapped(project):
    proj, settings, con = project
    text = HEADER + _row("N", "U1", "03/01/2024 10:00:00 AM", type_="", disp="ZZ") \
        + _row("M", "U1", "03/01/2024 11:00:00 AM", type_="TS", disp="")
    _load(proj, settings, con, "cad_20240302T020000.csv", text)
    n, m = _call(con, "N"), _call(con, "M")
    assert (n["call_type"], n["call_category"], n["disposition_category"], n["origin"]) == \
        (None, "Unknown", "Unmapped", "community")  # origin from the onview column, N
    assert (m["call_type"], m["call_category"], m["disposition_category"], m["self_initiated"]) == \
        ("Traffic Stop", "Traffic", None, False)
    assert m["priority_level"] is None  # no priority column
