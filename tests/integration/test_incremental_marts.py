"""Incremental marts equal a rebuild: the aggregates kept between nights (marts.location_days and its side
tables, marts.event_units, the response-time marts per month) are updated only for what a night touched, and
every mart table must then be the same as when it is built from scratch (the kept tables dropped) on the same
core.

Two cases: Test City's CAD feed with hand-made nights (a call moved to another day and place, a call voided, a
call cancelled, a new call, an old month's response time updated, a late older extract that changes nothing, the
period's first month leaving, as_of moving a month on), and the demo's nights 2..6 through the
nightly flow (updates of earlier calls and incidents, new days, a late stale extract on night 6).
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest

from tests.support.loads import load
from transforms.marts import build as marts
from transforms.marts import (
    event_days,
    events,
    hotspots,
    location_days,
    repeat_locations,
    response_months,
    units,
)
from transforms.warehouse import db as wh
from transforms.warehouse.sqlutil import qident

HEADER = "id,received,dispatched,onscene,cleared,updated,type,disp,address,lon,lat,onview"
MAIN, OAK, ELM = ("100 MAIN ST", -122.4100, 37.7800), ("200 OAK ST", -122.4300, 37.7700), \
    ("300 ELM ST", -122.4200, 37.7600)


def row(call_id: str, received: str, updated: str, place: tuple, kind: str = "BURG", disp: str = "RPT",
        onscene: str = "") -> str:
    """One unit row; `onscene` in the feed's 12-hour format gives the call a response time."""
    address, lon, lat = place
    onview = "Y" if kind == "TS" else "N"
    return f"{call_id},{received},,{onscene},,{updated},{kind},{disp},{address},{lon},{lat},{onview}"


NIGHTS = {
    "cad_20240302T020000.csv": [
        row("A", "2024-03-01 10:00", "2024-03-01 12:00", MAIN),
        row("B", "2024-03-01 11:00", "2024-03-01 12:00", MAIN),
        row("C", "2024-02-28 09:00", "2024-02-28 12:00", OAK),
        row("D", "2024-02-29 09:00", "2024-02-29 12:00", OAK),
        row("E", "2024-02-27 08:00", "2024-02-27 12:00", ELM, kind="TS"),
        row("G", "2023-12-01 08:00", "2023-12-01 12:00", ELM),
        # response times in old months: J (December) 8 minutes, K (January) 12 minutes
        row("J", "2023-12-05 10:00", "2023-12-05 12:00", ELM, onscene="12/05/2023 10:08:00 AM"),
        row("K", "2024-01-10 10:00", "2024-01-10 12:00", OAK, onscene="01/10/2024 10:12:00 AM"),
    ],
    "cad_20240303T020000.csv": [
        # A moves to another day (and out of the 7-day window) and another place; B is voided; C cancelled
        row("A", "2024-02-20 10:00", "2024-03-02 12:00", OAK),
        row("B", "2024-03-01 11:00", "2024-03-02 12:00", MAIN, disp="VOID"),
        row("C", "2024-02-28 09:00", "2024-03-02 12:00", OAK, disp="CAN"),
        row("F", "2024-03-02 09:00", "2024-03-02 12:00", MAIN),
        # K's first unit is now on scene at 10:20 (an old month's response time changes: January again)
        row("K", "2024-01-10 10:00", "2024-03-02 12:00", OAK, onscene="01/10/2024 10:20:00 AM"),
    ],
    "cad_20240302T120000.csv": [
        # a late extract with older versions: core keeps the newer ones, so nothing may change
        row("A", "2024-03-01 10:00", "2024-03-01 13:00", MAIN),
        row("D", "2024-01-15 09:00", "2024-02-29 11:00", ELM),
    ],
    "cad_20240304T020000.csv": [
        # G, long before every window, moves into the 7-day window (the calls' first day is then J's, December
        # 5: December is no longer a whole month of the agency's period and leaves the response times)
        row("G", "2024-03-02 20:00", "2024-03-03 12:00", MAIN),
        row("H", "2024-03-02 21:00", "2024-03-03 12:00", ELM, kind="TS"),
    ],
}


def mart_sums(con) -> dict:
    """{table: (rows, {column: sum of the values' hashes})} for every table of marts (order-free)."""
    out = {}
    for (table,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE database_name = current_database() "
                                "AND schema_name = 'marts' ORDER BY 1").fetchall():
        cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
                           "current_database() AND schema_name = 'marts' AND table_name = ? ORDER BY 1",
                           [table]).fetchall()
        exprs = [f"coalesce(sum(hash({'ST_AsWKB(' + qident(c) + ')' if t.startswith('GEOMETRY') else qident(c)})),"
                 f" 0)::VARCHAR" for c, t in cols]
        sums = con.execute(f"SELECT count(*), {', '.join(exprs)} FROM marts.{qident(table)}").fetchone()
        out[table] = (sums[0], dict(zip([c for c, _ in cols], sums[1:], strict=True)))
    return out


def rebuilt_sums(db: Path, scratch: Path, settings, as_of: date | None) -> dict:
    """Copy the warehouse, drop every mart (the kept aggregates too), build the marts again: their sums."""
    shutil.copyfile(db, scratch)
    con = wh.connect(scratch)
    try:
        con.execute("DROP SCHEMA marts CASCADE")
        marts.build_all(con, settings, as_of=as_of)
        return mart_sums(con)
    finally:
        con.close()
        scratch.unlink()


def differences(a: dict, b: dict) -> list[str]:
    out = [f"{t}: only in one" for t in sorted(set(a) ^ set(b))]
    for t in sorted(set(a) & set(b)):
        if a[t][0] != b[t][0]:
            out.append(f"{t}: {a[t][0]} rows vs {b[t][0]}")
        out += [f"{t}.{c}" for c in a[t][1] if a[t][1][c] != b[t][1].get(c)]
    return out


def test_hand_made_nights_equal_a_rebuild(tiny_project, tmp_path, monkeypatch):
    nights = []  # what each build of the response-time months did (the incremental builds and the rebuilds)
    real = response_months.build_response_months
    monkeypatch.setattr(response_months, "build_response_months",
                        lambda con, synced=False: nights.append(real(con, synced=synced)) or nights[-1])
    places = []  # what each build of marts.location_days did
    real_places = location_days.build_location_days
    monkeypatch.setattr(location_days, "build_location_days",
                        lambda con: places.append(real_places(con)) or places[-1])
    kept = []  # what each build of marts.events did
    real_events = events.build_events
    monkeypatch.setattr(events, "build_events", lambda con, first: kept.append(real_events(con, first)) or kept[-1])
    assigned = []  # what each build of marts.event_units did
    real_units = units.build_event_units
    monkeypatch.setattr(units, "build_event_units",
                        lambda con, settings, sets: assigned.append(real_units(con, settings, sets)) or assigned[-1])
    repeats = []  # what each build of marts.repeat_places did
    real_repeats = repeat_locations.build_repeat_locations
    monkeypatch.setattr(repeat_locations, "build_repeat_locations",
                        lambda con, settings: repeats.append(real_repeats(con, settings)) or repeats[-1])
    days = []  # what each build of marts.event_days did, and how many of its keys changed count
    real_days = event_days.build_event_days

    def counted_days(con):
        def rows():
            if not con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() AND "
                               "schema_name = 'marts' AND table_name = 'event_days'").fetchone()[0]:
                return {}
            return {r[:-1]: r[-1] for r in con.execute("SELECT * FROM marts.event_days").fetchall()}
        before = rows()
        did = real_days(con)
        after = rows()
        days.append({**did, "keys_changed": sum(before.get(k, 0) != after.get(k, 0) for k in before.keys() | after.keys())})
        return did

    monkeypatch.setattr(event_days, "build_event_days", counted_days)
    counted = []  # what each build of marts.hotspot_count_rows did
    real_counts = hotspots.build_hotspot_counts
    monkeypatch.setattr(hotspots, "build_hotspot_counts", lambda con: counted.append(real_counts(con)) or counted[-1])
    # Test City has three places: make again only the places in scope however many of the kept rows they are,
    # and take again only the events touched however many of marts.events they are
    monkeypatch.setattr(repeat_locations, "REDO_SHARE", 1.0)
    monkeypatch.setattr(events, "REDO_SHARE", 1.0)
    proj = tiny_project(crosswalks=None)
    settings = proj.settings
    con = proj.connect("inc.duckdb")
    as_of = date(2024, 3, 2)
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True, exist_ok=True)
    touched, response = [], []
    for night, (name, rows) in enumerate(NIGHTS.items(), start=1):
        path = landing / name
        path.write_text("\n".join([HEADER, *rows]) + "\n")
        assert load(con, settings, path, run=f"r{night}").status == "loaded"
        marts.build_all(con, settings, as_of=as_of)
        touched.append(con.execute("SELECT count(*) FROM marts.location_day_events").fetchone()[0])
        response.append(con.execute("SELECT CAST(month AS VARCHAR), n_calls, response_s_median FROM "
                                    "marts.response_times_agency ORDER BY month").fetchall())
        con.execute("CHECKPOINT")
        got = mart_sums(con)
        want = rebuilt_sums(proj.root / "inc.duckdb", tmp_path / "re.duckdb", settings, as_of)
        assert differences(got, want) == [], f"night {night} ({name})"
    # the nights did what they say: A at OAK on 2024-02-20, B void, C not countable, G moved into the window
    rows = dict(con.execute("SELECT location_key, n_7d FROM marts.repeat_location_rows WHERE category_group = "
                            "'all' AND origin = 'all' AND dataset = 'calls'").fetchall())
    assert rows, rows
    main = next(k for k in rows if "MAIN" in k)
    assert rows[main] == 2, rows  # F and G (A moved away, B voided)
    all_n = con.execute("SELECT sum(n_repeat_window_all - n_repeat_window) FROM marts.repeat_location_rows "
                        "WHERE category_group = 'all' AND origin = 'all'").fetchone()[0]
    assert all_n == 1  # C, cancelled
    assert touched[-1] == 9  # A, C, D, E, F, G, H, J, K: B is void
    # marts.location_days rebuilt only the places of the days touched: night 2 the old and new places of A, B
    # (voided), C, F and K, five days, one place each; night 3 nothing (core kept the newer versions); night 4
    # G's old place (ELM, December 1) and, on March 2, G's new place (MAIN) and H's (ELM)
    # (every other build is the rebuild beside it)
    incremental = places[0::2]
    assert incremental[0]["rebuilt"] and all(p["rebuilt"] for p in places[1::2])
    assert [(p["days"], p["places"]) for p in incremental[1:4]] == [(5, 5), (0, 0), (2, 3)], incremental
    # marts.repeat_places made again only the places marts.location_days rebuilt (as_of stays): night 2 MAIN
    # (A's old place, B, F) and OAK (A's new place, C, K), night 3 none, night 4 ELM (G's old place, H) and MAIN
    incremental = repeats[0::2]
    assert all(r["rebuilt"] for r in repeats[1::2])
    assert [(r["rebuilt"], r["places"]) for r in incremental] == [(True, None), (False, 2), (False, 0), (False, 2)]
    # marts.events took again only the records a night touched: night 2 A, B, C, F and K (B voided and C
    # cancelled leave it), night 3 none (core kept the newer versions), night 4 G and H
    incremental = kept[0::2]
    assert all(k["rebuilt"] for k in kept[1::2])
    assert [(k["rebuilt"], k["records"]) for k in incremental] == [(True, None), (False, 5), (False, 0), (False, 2)]
    # and marts.event_units followed it with those records only: night 2 A, F and K (located, counted), night 4
    # G and H; the rebuilds beside compared every event
    assert [(a["followed"], a["assigned"]) for a in assigned[0::2]] == [(False, 8), (True, 3), (True, 0), (True, 2)]
    assert not any(a["followed"] for a in assigned[1::2])
    # marts.hotspot_count_rows added what changed on the nights after the first (the windows stay: no day moved)
    assert counted[0::2] == [{"rebuilt": True, "days": None}] + [{"rebuilt": False, "days": 0}] * 3, counted
    assert all(c["rebuilt"] for c in counted[1::2])
    # and marts.event_days with the rows of the records marts.events took again: the changes it added are
    # exactly the keys whose count differs from the night before (a record whose day, category, origin, district
    # and beat stayed the same nets to nothing)
    assert [d["rebuilt"] for d in days[0::2]] == [True, False, False, False] and all(d["rebuilt"] for d in days[1::2])
    assert all(d["rows"] == d["keys_changed"] for d in days[2::2]) and days[2]["rows"] > 0, days
    assert days[4]["rows"] == 0  # night 3: core kept the newer versions
    # response times, by hand: the counted calls (community, countable, with an on-scene time) are J and K; the
    # months are the whole local months from the calls' first day (G's December 1, then J's December 5) to
    # February (as_of March 2)
    assert response == [[("2023-12-01", 1, 480.0), ("2024-01-01", 1, 720.0)],
                        [("2023-12-01", 1, 480.0), ("2024-01-01", 1, 1200.0)],  # K: 20 minutes
                        [("2023-12-01", 1, 480.0), ("2024-01-01", 1, 1200.0)],  # the stale extract changes none
                        [("2024-01-01", 1, 1200.0)]]  # December left the period
    # only the months a night touched were computed: night 1 all three; night 2 January (K) and February (A, C;
    # March, touched by B and F, is outside the period); night 3 January (the late older version of D, dated
    # January 15, is a version of that month: computed again, unchanged); night 4 none (G left December, which
    # left the period, and H is in March)
    incremental = nights[0::2]
    assert incremental[0]["rebuilt"] and [n["computed"] for n in incremental] == [3, 2, 1, 0], incremental
    assert all(n["rebuilt"] for n in nights[1::2])
    # as_of moves on a month: March enters the period and is the only month computed; still equal to a rebuild
    as_of = date(2024, 3, 31)
    marts.build_all(con, settings, as_of=as_of)
    assert nights[-1]["computed"] == 1 and not nights[-1]["rebuilt"]
    assert kept[-1] == {"rebuilt": False, "records": 0}  # the horizon still starts on 2023-01-01 (CompStat)
    # the counts moved with the windows: 29 days entered each window and 29 left it (a window shorter than that:
    # all its days)
    moved = sum(2 * min(w, 29) for w in settings.sara.windows_days)
    assert counted[-1] == {"rebuilt": False, "days": moved}, counted[-1]
    con.execute("CHECKPOINT")
    assert differences(mart_sums(con), rebuilt_sums(proj.root / "inc.duckdb", tmp_path / "re.duckdb", settings,
                                                     as_of)) == []
    # and the places on the days that left a window (C and F on February 28 and March 2, E, G, H ...): all three
    assert repeats[-2] == {"rebuilt": False, "places": 3}  # (the last is the rebuild beside it)
    assert con.execute("SELECT CAST(month AS VARCHAR) FROM marts.response_months ORDER BY 1").fetchall() == [
        ("2024-01-01",), ("2024-02-01",), ("2024-03-01",)]
    # a new year: the horizon's first date moves past J (2023-12-05), which leaves marts.events, taken again as
    # the one record of the night (K, 2024-01-10, stays); still equal to a rebuild
    as_of = date(2025, 1, 2)
    marts.build_all(con, settings, as_of=as_of)
    assert date(2023, 12, 5) < con.execute("SELECT min(first_date) FROM marts.horizon").fetchone()[0] <= \
        date(2024, 1, 10)
    assert kept[-1] == {"rebuilt": False, "records": 1} and assigned[-1] == {"followed": True, "assigned": 0}
    assert con.execute("SELECT min(local_date) FROM marts.events").fetchone()[0] == date(2024, 1, 10)
    con.execute("CHECKPOINT")
    assert differences(mart_sums(con), rebuilt_sums(proj.root / "inc.duckdb", tmp_path / "re.duckdb", settings,
                                                     as_of)) == []


@pytest.mark.slow
def test_demo_nights_equal_a_rebuild(demo_warehouse, prefect_harness, tmp_path):
    from flows.nightly import nightly
    from transforms.config import load_settings
    from transforms.demo import deliver_night

    proj = tmp_path / "proj"
    shutil.copytree(demo_warehouse, proj)
    config = proj / "config" / "demo.toml"
    settings = load_settings(config, project_dir=proj)
    db = proj / "data" / "demo" / "warehouse" / "sara.duckdb"
    for night in range(2, 7):
        deliver_night(proj / "data" / "demo", night)
        result = nightly(config_path=str(config))
        assert result["status"] == "ok", result["message"]
        con = wh.connect(db, read_only=True)
        try:
            got = mart_sums(con)
            changed = con.execute("SELECT count(*) FROM marts.location_day_loads").fetchone()[0]
        finally:
            con.close()
        assert changed >= night  # every night's loads were folded in
        want = rebuilt_sums(db, tmp_path / "re.duckdb", settings, None)
        assert differences(got, want) == [], f"night {night}"


def test_a_replaced_day_that_drops_a_record_equals_a_rebuild(tiny_project, tmp_path, monkeypatch):
    """An extract that replaces the days it covers drops the records it no longer lists: marts.location_days
    finds the dropped record from its version history (its open version ended by the load) and rebuilds its
    place on its day, so the place leaves the repeat locations as in a rebuild."""
    from tests.integration.test_formats_and_modes import BASE, FLOOR, ROWS, _landing, _load

    places = []
    real_places = location_days.build_location_days
    monkeypatch.setattr(location_days, "build_location_days",
                        lambda con: places.append(real_places(con)) or places[-1])
    kept = []
    real_events = events.build_events
    monkeypatch.setattr(events, "build_events", lambda con, first: kept.append(real_events(con, first)) or kept[-1])
    monkeypatch.setattr(events, "REDO_SHARE", 1.0)  # three records: take them again, however many of the rows
    proj = tiny_project({"feed": BASE + 'format: csv\nfile_pattern: "*.csv"\nrecord_id: []\n'
                         "update_mode: replace_window\nextract_at: {filename_pattern: 'x_(\\d{8})', format: "
                         "'%Y%m%d'}\n"}, city="chicago", extra=FLOOR)
    settings, con, as_of = proj.settings, proj.connect("drop.duckdb"), date(2016, 5, 3)
    head = "when,what,where,lon,lat\n"
    for run, (name, rows) in enumerate((("x_20160503.csv", ROWS),  # 1 May: a theft on State, a burglary on Madison
                                        # a newer refresh of 1 May: the theft reclassified, the burglary withdrawn
                                        ("x_20160510.csv", [("2016-05-01 10:00", "ROBBERY", "100 N STATE ST",
                                                             "-87.6277", "41.8822")]))):
        path = _landing(settings) / name
        path.write_text(head + "".join(",".join(r) + "\n" for r in rows))
        _load(settings, con, path, f"r{run}")
        marts.build_all(con, settings, as_of=as_of)
        con.execute("CHECKPOINT")
        assert differences(mart_sums(con), rebuilt_sums(proj.root / "drop.duckdb", tmp_path / "re.duckdb", settings,
                                                        as_of)) == [], name
    # the second night rebuilt 1 May's two places, State (reclassified) and Madison (its record dropped)
    assert (places[-2]["rebuilt"], places[-2]["days"], places[-2]["places"]) == (False, 1, 2), places
    # marts.events took again the three records of 1 May: without a record id a record is its content, so the
    # reclassified theft is a new record (the robbery) and the theft a dropped one, as is the burglary
    assert kept[-2] == {"rebuilt": False, "records": 3}, kept
    assert con.execute("SELECT count(*) FROM marts.events WHERE address_block LIKE '%MADISON%'").fetchone()[0] == 0
    keys = [k for k, in con.execute("SELECT DISTINCT location_key FROM marts.repeat_location_rows").fetchall()]
    assert keys and not any("MADISON" in k for k in keys), keys


def test_a_point_that_becomes_a_placeholder_is_taken_again(tiny_project):
    """marts.events flags the events at a placeholder point: when a point becomes one (or stops being one) the
    events there are taken again, as a build from scratch flags them."""
    from transforms.marts.dimensions import build_dimensions

    proj = tiny_project(crosswalks=None)
    settings, con = proj.settings, proj.connect("ph.duckdb")
    name, rows = next(iter(NIGHTS.items()))
    path = settings.source_landing("cad") / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    assert load(con, settings, path, run="r1").status == "loaded"
    marts.build_all(con, settings, as_of=date(2024, 3, 2))
    agency, x, y, n = con.execute("SELECT agency, x, y, count(*) FROM marts.events WHERE is_located GROUP BY ALL "
                                  "ORDER BY 4 DESC, 2, 3 LIMIT 1").fetchone()
    assert n >= 2
    every = "SELECT * FROM marts.events ORDER BY dataset, source, event_id"

    def flagged() -> int:
        return con.execute("SELECT count(*) FROM marts.events WHERE location_issue = 'placeholder'").fetchone()[0]

    def from_scratch() -> list:
        got = con.execute(every).fetchall()
        con.execute("DROP TABLE marts.events")
        build_dimensions(con, settings)
        assert con.execute(every).fetchall() == got
        return got

    assert flagged() == 0
    con.execute("INSERT INTO marts.placeholder_points (agency, x, y) VALUES (?, ?, ?)", [agency, x, y])
    kept = []
    real = events.build_events
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(events, "build_events", lambda con, first: kept.append(real(con, first)) or kept[-1])
        mp.setattr(events, "REDO_SHARE", 1.0)  # a handful of events: take them again, however many of the rows
        build_dimensions(con, settings)
        assert kept[-1] == {"rebuilt": False, "records": n} and flagged() == n
        # marts.event_units follows with those records, the placeholder set having changed: they are left out
        sets = units.static_units(settings)
        assert units.build_event_units(con, settings, sets) == {"assigned": n, "followed": True}
        assert con.execute("SELECT count(DISTINCT event_id) FROM marts.event_units WHERE left_out = 'placeholder'"
                           ).fetchone()[0] == n
        from_scratch()
        con.execute("DELETE FROM marts.placeholder_points")
        build_dimensions(con, settings)
        assert kept[-1] == {"rebuilt": False, "records": n} and flagged() == 0
        from_scratch()
        # more records to take again than REDO_SHARE of the rows: made from scratch instead, the same rows
        mp.setattr(events, "REDO_SHARE", 0.1)
        con.execute("INSERT INTO marts.placeholder_points (agency, x, y) VALUES (?, ?, ?)", [agency, x, y])
        build_dimensions(con, settings)
        assert kept[-1] == {"rebuilt": True, "records": None} and flagged() == n
        assert n > 0.1 * con.execute("SELECT count(*) FROM marts.events").fetchone()[0]
        from_scratch()
