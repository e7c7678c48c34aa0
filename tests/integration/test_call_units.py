"""core.call_units: a unit-grain CAD feed keeps every responding unit of a call (issue 17, "keep the units").

Each figure below is worked out by hand from the rows written here, in local time (America/Los_Angeles,
PST = UTC-8 in March before the 10th)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.support.project import cad_yaml
from transforms.warehouse import loader

HEADER = "id,unit,received,dispatched,onscene,cleared,type,disp,address,lon,lat,onview,updated,note\n"


def _row(id_, unit, received, dispatched="", onscene="", cleared="", updated="2024-01-01 00:00") -> str:
    return ",".join([id_, unit, received, dispatched, onscene, cleared, "BURG", "RPT", "1700 Block Of Jerrold Av",
                     "-122.3916", "37.7425", "N", updated, "x"]) + "\n"


@pytest.fixture()
def project(tiny_project):
    yaml = cad_yaml().replace("  address: address\n", "  address: address\n  unit_id: unit\n")
    p = tiny_project({"cad": yaml})
    return p.settings, p.connect()


def _load(settings, con, name: str, text: str):
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True, exist_ok=True)
    (landing / name).write_text(text, encoding="utf-8")
    raw = loader.load_raw_file(con, settings, "cad", landing / name, "r1")
    assert raw.status == "raw", raw
    (out,) = loader.normalize_pending(con, settings, "cad", "r1")
    return out


def _units(con, call_id: str) -> list[tuple]:
    return con.execute("SELECT unit_seq, unit_id, busy_s, travel_s, on_scene_s, interval_issue FROM core.call_units "
                       "WHERE call_id = ? ORDER BY unit_seq", [call_id]).fetchall()


T = "03/01/2024 {}:00 PM"


def test_every_unit_of_a_call_is_kept_with_its_own_times(project):
    settings, con = project
    # U2 is dispatched first (10:02) and clears last (11:30); U1 arrives first (10:15)
    text = HEADER + _row("C1", "U1", T.format("10:00"), T.format("10:05"), T.format("10:15"), T.format("11:00")) \
        + _row("C1", "U2", T.format("10:00"), T.format("10:02"), T.format("10:20"), T.format("11:30"))
    out = _load(settings, con, "cad_20240302T020000.csv", text)
    assert (out.rows_read, out.rows_loaded) == (2, 2)
    # by assignment: U2 (10:02) first; busy = assignment to clear
    assert _units(con, "C1") == [(1, "U2", 88 * 60.0, 18 * 60.0, 70 * 60.0, None),
                                 (2, "U1", 55 * 60.0, 10 * 60.0, 45 * 60.0, None)]
    row = con.execute("SELECT assigned_at, dispatched_at, cleared_at, agency, source FROM core.call_units "
                      "WHERE call_id = 'C1' AND unit_id = 'U1'").fetchone()
    assert row == (datetime(2024, 3, 2, 6, 5, tzinfo=UTC), datetime(2024, 3, 2, 6, 5, tzinfo=UTC),
                   datetime(2024, 3, 2, 7, 0, tzinfo=UTC), "city", "cad")
    # the call itself is unchanged: first dispatch, first arrival, last clear, two units
    call = con.execute("SELECT n_responding_units, dispatched_at, cleared_at FROM core.calls "
                       "WHERE call_id = 'C1'").fetchone()
    assert call == (2, datetime(2024, 3, 2, 6, 2, tzinfo=UTC), datetime(2024, 3, 2, 7, 30, tzinfo=UTC))


def test_a_call_row_without_a_unit_is_not_a_unit(project):
    settings, con = project
    out = _load(settings, con, "cad_20240302T020000.csv", HEADER + _row("C0", "", T.format("10:00")))
    assert out.rows_loaded == 1
    assert _units(con, "C0") == []
    assert con.execute("SELECT n_responding_units FROM core.calls WHERE call_id = 'C0'").fetchone() == (0,)


def test_a_newer_version_replaces_the_units_and_an_older_one_changes_nothing(project):
    settings, con = project
    first = HEADER + _row("C1", "U1", T.format("10:00"), T.format("10:05"), updated="2024-03-01 22:10")
    _load(settings, con, "cad_20240302T020000.csv", first)
    assert [u[1] for u in _units(con, "C1")] == ["U1"]
    newer = HEADER + _row("C1", "U1", T.format("10:00"), T.format("10:05"), T.format("10:15"), T.format("11:00"),
                          updated="2024-03-01 23:00") \
        + _row("C1", "U3", T.format("10:00"), T.format("10:40"), T.format("10:50"), T.format("10:55"),
               updated="2024-03-01 23:00")
    _load(settings, con, "cad_20240303T020000.csv", newer)
    # U3 is assigned after U1 arrived and clears before U1 does: both kept, each with its own time
    assert _units(con, "C1") == [(1, "U1", 55 * 60.0, 10 * 60.0, 45 * 60.0, None),
                                 (2, "U3", 15 * 60.0, 10 * 60.0, 5 * 60.0, None)]
    late = HEADER + _row("C1", "U9", T.format("10:00"), T.format("10:01"), updated="2024-03-01 22:00")
    out = _load(settings, con, "cad_20240301T230000.csv", late)
    assert out.rows_duplicate == 1  # stale: older than core's version
    assert [u[1] for u in _units(con, "C1")] == ["U1", "U3"]


def test_a_negative_unit_interval_is_null_and_named(project):
    settings, con = project
    # cleared before dispatch: busy and on-scene time are negative, so null, and the issue says why
    text = HEADER + _row("C2", "U1", T.format("10:00"), T.format("10:30"), T.format("10:35"), T.format("10:20"))
    _load(settings, con, "cad_20240302T020000.csv", text)
    ((seq, unit, busy, travel, on_scene, issue),) = _units(con, "C2")
    assert busy is None and on_scene is None and travel == 300
    assert issue == "busy_s<0,on_scene_s<0"


def test_workload_and_occupancy_by_hand(project):
    """Three calls received Friday 2024-03-01 at 22:00 local (hour of the week 4 x 24 + 22 = 118):
    C1 with U1 (22:05-23:00, 55 min) and U2 (22:02-23:30, 88 min), C3 with one unit (22:10-22:40, 30 min) that
    clears before C1's U2 does, C0 with no unit. Unit-hours (55 + 88 + 30) / 60 = 2.883; units busy in
    22:00-23:00: 58 + 55 + 30 = 143 min = 2.383 units; in 23:00-24:00: U2's 30 min = 0.5."""
    from datetime import date

    from transforms.marts import build, workload

    settings, con = project
    text = HEADER + _row("C1", "U1", T.format("10:00"), T.format("10:05"), T.format("10:15"), T.format("11:00")) \
        + _row("C1", "U2", T.format("10:00"), T.format("10:02"), T.format("10:20"), T.format("11:30")) \
        + _row("C3", "U7", T.format("10:00"), T.format("10:10"), T.format("10:20"), T.format("10:40")) \
        + _row("C0", "", T.format("10:00"))
    _load(settings, con, "cad_20240302T020000.csv", text)
    build.prepare(con, settings, as_of=date(2024, 3, 1))
    workload.build_workload(con, settings, as_of=date(2024, 3, 1))
    row = con.execute("SELECT sum(n_calls), sum(n_units), sum(n_units_timed), sum(unit_hours), "
                      "sum(on_scene_unit_hours), min(slot), max(slot), min(unit_basis) FROM marts.workload "
                      "WHERE window_days = 7").fetchone()
    # on scene: U1 45 + U2 70 + U7 20 = 135 min = 2.25 h
    assert row == (3, 3, 3, 2.883, 2.25, 118, 118, "unit rows")
    occ = dict(((w, s), (n, c, b)) for w, s, n, c, b in con.execute(
        "SELECT window_days, slot, n_hours, calls_per_hour, units_busy FROM marts.occupancy "
        "WHERE district = '(all)' AND slot IN (117, 118, 119)").fetchall())
    assert occ[(7, 118)] == (1, 3.0, 2.383) and occ[(7, 119)] == (1, 0.0, 0.5) and occ[(7, 117)] == (1, 0.0, 0.0)
    # 28 days hold four Fridays: both rates are per occurrence of the hour
    assert occ[(28, 118)] == (4, 0.75, round(143 / 60 / 4, 3))


def test_a_feed_with_one_row_per_call_counts_one_unit_and_says_so(tiny_project):
    from datetime import date

    from transforms.marts import build, workload

    p = tiny_project({"cad": cad_yaml(grain="record")})
    settings, con = p.settings, p.connect()
    _load(settings, con, "cad_20240302T020000.csv",
          HEADER + _row("R1", "U1", T.format("10:00"), T.format("10:05"), T.format("10:15"), T.format("11:00")))
    build.prepare(con, settings, as_of=date(2024, 3, 1))
    workload.build_workload(con, settings, as_of=date(2024, 3, 1))
    assert con.execute("SELECT n_calls, n_units, unit_hours, unit_basis FROM marts.workload "
                       "WHERE window_days = 7").fetchall() == [(1, 1, round(55 / 60, 3), "call level (one unit assumed)")]
    assert con.execute("SELECT count(*) FROM core.call_units").fetchone() == (0,)
