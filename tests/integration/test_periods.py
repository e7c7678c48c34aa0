"""Each agency's own as_of (marts.periods) on a hand-made warehouse: two CAD feeds loaded by the real loader,
whose extract times (from their file names) make the last day complete or not, and an agency with no feed.

The rule: last_event_day = the latest local date of the agency's countable, non-void events (times flagged
future left out); complete when the newest extract is at or after the local midnight that ends it, else the
day before; as_of = min(last complete day, local today - 1) - data_lag_days; [agencies.<code>] as_of beats
[time] as_of beats the rule; a date given to the build beats them all.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.support.project import write_project
from transforms.config import load_settings
from transforms.marts import build as marts
from transforms.warehouse import db as wh
from transforms.warehouse import loader

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)  # the run's clock: long after the data


def toml(time: str = "", north: str = "") -> str:
    return f"""
sources = ["cad_north", "cad_south"]
windows_days = [7, 28]
[time]
data_lag_days = 1
{time}
[agencies.north]
name = "North PD"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-123.0, 45.0, -122.9, 45.1]
{north}
[agencies.south]
name = "South PD"
timezone = "America/New_York"
crs = "EPSG:32618"
bbox = [-73.0, 41.2, -72.9, 41.3]
[agencies.idle]
name = "Idle PD (no feed)"
timezone = "America/Chicago"
crs = "EPSG:26971"
bbox = [-87.7, 41.8, -87.6, 41.9]
"""


def cad(name: str, agency: str, zone: str) -> str:
    return f"""
name: {name}
kind: calls
agency: {agency}
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: {zone}
extract_at: {{filename_pattern: "_(\\\\d{{8}}T\\\\d{{6}})", format: "%Y%m%dT%H%M%S"}}
timestamps:
  received_at: {{columns: [when], formats: ["%Y-%m-%d %H:%M"]}}
columns: {{call_type_code: type}}
coordinates: {{x: lon, y: lat, crs: EPSG:4326}}
crosswalks: {{call_types: config/crosswalks/types.csv}}
"""


TYPES = "code,call_type,call_category,origin\nBURG,Burglary,Property Crime,community\n"


def project(tmp_path, time: str = "", north: str = ""):
    proj = write_project(tmp_path / "proj",
                         {"cad_north": cad("cad_north", "north", "America/Los_Angeles"),
                          "cad_south": cad("cad_south", "south", "America/New_York")},
                         toml=toml(time, north), crosswalks={"types.csv": TYPES})
    return load_settings(proj / "config" / "sara.toml", project_dir=proj)


def load(settings, con, source: str, name: str, rows: list[str]) -> None:
    landing = settings.source_landing(source)
    landing.mkdir(parents=True, exist_ok=True)
    (landing / name).write_text("id,when,type,lon,lat\n" + "\n".join(rows) + "\n")
    loader.load_raw_file(con, settings, source, landing / name, "r")
    loader.normalize_pending(con, settings, source, "r")


@pytest.fixture()
def loaded(tmp_path):
    """north: events to 2024-03-10 15:00 local, extract 2024-03-11 02:00 local (the 10th is complete);
    south: events to 2024-03-10 15:00 local, extract 2024-03-10 18:00 local (the 10th is not complete);
    plus a north call far in the future (flagged future at load: not a date of the feed)."""
    settings = project(tmp_path)
    con = wh.connect(settings.project_dir / "w.duckdb")
    wh.apply_schema(con)
    north = [f"N{d},2024-03-{d:02d} 15:00,BURG,-122.95,45.05" for d in range(1, 11)] + \
        ["FUTURE,2031-01-01 10:00,BURG,-122.95,45.05"]
    south = [f"S{d},2024-03-{d:02d} 15:00,BURG,-72.95,41.25" for d in range(1, 11)]
    load(settings, con, "cad_north", "north_20240311T020000.csv", north)
    load(settings, con, "cad_south", "south_20240310T180000.csv", south)
    yield settings, con
    con.close()


def periods(con) -> dict:
    cur = con.execute("SELECT * FROM marts.periods ORDER BY agency")
    names = [d[0] for d in cur.description]
    return {r[0]: dict(zip(names, r, strict=True)) for r in cur.fetchall()}


def test_the_rule_per_agency(loaded):
    settings, con = loaded
    assert con.execute("SELECT count(*) FROM core.calls WHERE call_id = 'FUTURE' "
                       "AND time_issue LIKE '%future%'").fetchone()[0] == 1
    marts.prepare(con, settings, now=NOW)
    p = periods(con)
    # north: the extract (02:00 on the 11th) is after the midnight ending the 10th: complete; minus the lag
    assert (p["north"]["last_event_day"], p["north"]["last_complete_day"]) == (date(2024, 3, 10), date(2024, 3, 10))
    assert (p["north"]["as_of"], p["north"]["rule"]) == (date(2024, 3, 9), "data")
    # south: the extract (18:00 on the 10th) is before its end: the 9th is the last complete day
    assert (p["south"]["last_event_day"], p["south"]["last_complete_day"]) == (date(2024, 3, 10), date(2024, 3, 9))
    assert (p["south"]["as_of"], p["south"]["rule"]) == (date(2024, 3, 8), "data")
    # no feed, no events: no as_of
    assert (p["idle"]["as_of"], p["idle"]["rule"], p["idle"]["last_event_day"]) == (None, "no events", None)
    # 02:00 local on the 11th is 09:00 UTC: daylight saving time began on the 10th (PDT, UTC-7)
    assert p["north"]["newest_extract_at"] == datetime(2024, 3, 11, 9, 0, tzinfo=UTC)
    # every window is the agency's own; the idle agency has none, and no events in the marts
    marts.build_all(con, settings, timings=None, prepared=True)
    ends = dict(con.execute("SELECT agency, max(end_date) FROM marts.windows GROUP BY 1").fetchall())
    assert ends == {"north": date(2024, 3, 9), "south": date(2024, 3, 8)}
    assert con.execute("SELECT count(*) FROM marts.events WHERE agency = 'idle'").fetchone()[0] == 0


def test_local_today_caps_the_last_complete_day_and_the_lag_counts(loaded):
    settings, con = loaded
    # at 12:00 UTC on the 10th it is 05:00 in Los Angeles: local today - 1 is the 9th, before the data's 10th
    marts.prepare(con, settings, now=datetime(2024, 3, 10, 12, 0, tzinfo=UTC))
    assert periods(con)["north"]["as_of"] == date(2024, 3, 8)
    settings.sara = settings.sara.model_copy(update={"time": settings.sara.time.model_copy(
        update={"data_lag_days": 3})})
    marts.prepare(con, settings, now=NOW)
    p = periods(con)
    assert (p["north"]["as_of"], p["south"]["as_of"], p["north"]["data_lag_days"]) == \
        (date(2024, 3, 7), date(2024, 3, 6), 3)


def test_overrides_agency_beats_global_beats_rule_and_a_given_date_beats_all(tmp_path):
    settings = project(tmp_path, time='as_of = "2024-02-29"', north='as_of = "2024-03-05"')
    con = wh.connect(settings.project_dir / "w.duckdb")
    wh.apply_schema(con)
    try:
        marts.prepare(con, settings, now=NOW)
        p = periods(con)
        assert (p["north"]["as_of"], p["north"]["rule"]) == (date(2024, 3, 5), "agency config")
        assert (p["south"]["as_of"], p["south"]["rule"]) == (date(2024, 2, 29), "global config")
        # an agency with no events still gets a configured as_of (its marts are empty, and say why)
        assert (p["idle"]["as_of"], p["idle"]["rule"]) == (date(2024, 2, 29), "global config")
        counts = marts.build_all(con, settings, as_of=date(2024, 1, 31))
        p = periods(con)
        assert {a: (r["as_of"], r["rule"]) for a, r in p.items()} == \
            dict.fromkeys(("idle", "north", "south"), (date(2024, 1, 31), "given"))
        assert counts["as_of"] == "2024-01-31"
    finally:
        con.close()


def test_an_agency_with_no_events_has_empty_marts_that_say_why(loaded):
    settings, con = loaded
    marts.build_all(con, settings)
    status = {(m, s, r) for m, s, r in con.execute(
        "SELECT mart, state, reason FROM marts.mart_status WHERE agency = 'idle'").fetchall()}
    assert ("hotspots", "empty", "no events: the agency has no countable, non-void events in core") in status
    assert ("coverage", "empty", "no events: the agency has no countable, non-void events in core") in status
    assert ("response_times", "not applicable", "the agency has no calls (CAD) feed") in status
    # recorded in meta.mart_status too, with the time of the build
    assert con.execute("SELECT count(*) FROM meta.mart_status WHERE agency = 'idle' AND state = 'empty' "
                       "AND built_at IS NOT NULL").fetchone()[0] >= 10
