"""A feed that stops halfway through a year, through `sara run` (the real nightly flow, in-process CLI).

Three agencies of one project:
- city: CAD every day from 2023-01-01 to 2024-06-30, then nothing until it comes back on 2024-12-20 (to
  2024-12-31). Its as_of (the rule) is 2024-12-30. The silent days are outages in coverage, and the CompStat
  periods that hold them say "no comparison (outage on N days)", never a drop; the week after the feed came
  back compares.
- town: CAD from 2023-01-01 to 2024-06-30 only, with [agencies.town] as_of = 2024-12-30: every CompStat period
  reaches past its data, "no comparison (data from 2023-01-01 to 2024-06-30)".
- idle: no feed: every mart is empty, `sara run` warns once per mart, meta.mart_status and the report say why.
"""

from __future__ import annotations

import contextlib
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.support.project import write_project

TOML = """
profile = "stops"
sources = ["cad_city", "cad_town"]
windows_days = [7, 28]
[time]
data_lag_days = 1
[agencies.city]
name = "City PD"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-123.0, 45.0, -122.9, 45.1]
[agencies.town]
name = "Town PD"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-122.8, 45.0, -122.7, 45.1]
as_of = "2024-12-30"
[agencies.idle]
name = "Idle PD"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-122.6, 45.0, -122.5, 45.1]
[analysis]
cell_size_m = 500
ehsa_steps = 12
knox_perms = 9
"""


def cad(name: str, agency: str) -> str:
    return f"""
name: {name}
kind: calls
agency: {agency}
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
extract_at: {{filename_pattern: "_(\\\\d{{8}}T\\\\d{{6}})", format: "%Y%m%dT%H%M%S"}}
timestamps:
  received_at: {{columns: [when], formats: ["%Y-%m-%d %H:%M"]}}
columns: {{call_type_code: type}}
coordinates: {{x: lon, y: lat, crs: EPSG:4326}}
crosswalks: {{call_types: config/crosswalks/types.csv}}
"""


TYPES = "code,call_type,call_category,origin\nBURG,Burglary,Property Crime,community\n"
STOP, BACK, LAST = date(2024, 6, 30), date(2024, 12, 20), date(2024, 12, 31)


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _rows(prefix: str, lon: float, days: list[date], per_day: int = 6) -> list[str]:
    return [f"{prefix}{d:%Y%m%d}{k},{d} {8 + 2 * k:02d}:15,BURG,{lon + 0.002 * (k % 3):.4f},{45.05 + 0.002 * (k % 2):.4f}"
            for d in days for k in range(per_day)]


@pytest.fixture(scope="module")
def night(tmp_path_factory, prefect_harness):
    from typer.testing import CliRunner

    from flows.cli import app

    tmp = tmp_path_factory.mktemp("stops")
    proj = write_project(tmp / "proj", {"cad_city": cad("cad_city", "city"), "cad_town": cad("cad_town", "town")},
                         toml=TOML, crosswalks={"types.csv": TYPES})
    history = _days(date(2023, 1, 1), STOP)
    for source, lon, days in (("cad_city", -122.95, history + _days(BACK, LAST)), ("cad_town", -122.75, history)):
        landing = proj / "data" / "landing" / source
        landing.mkdir(parents=True)
        (landing / f"{source}_20250101T020000.csv").write_text(
            "id,when,type,lon,lat\n" + "\n".join(_rows(source[-4:], lon, days)) + "\n")
    with contextlib.chdir(proj):
        res = CliRunner().invoke(app, ["run", "--config", str(proj / "config" / "sara.toml")],
                                 env={"COLUMNS": "250"})
    assert res.exit_code == 0, res.output
    return proj, res.output


@pytest.fixture(scope="module")
def con(night):
    from transforms.warehouse.db import connect

    c = connect(night[0] / "data" / "warehouse" / "sara.duckdb", read_only=True)
    yield c
    c.close()


def test_each_agency_gets_its_own_as_of(con):
    got = dict(con.execute("SELECT agency, (as_of, rule) FROM marts.periods").fetchall())
    assert got == {"city": (date(2024, 12, 30), "data"), "town": (date(2024, 12, 30), "agency config"),
                   "idle": (None, "no events")}


def test_coverage_shows_the_silent_days_as_an_outage(con):
    row = con.execute("SELECT first_day, last_complete_day, n_outage_days, first_outage_day, last_outage_day, "
                      "days_covered, n_events FROM marts.coverage WHERE agency = 'city'").fetchone()
    silent = (BACK - STOP).days - 1  # 2024-07-01 .. 2024-12-19
    assert row == (date(2023, 1, 1), LAST, silent, STOP + timedelta(days=1), BACK - timedelta(days=1),
                   (LAST - date(2023, 1, 1)).days + 1 - silent, 6 * ((LAST - date(2023, 1, 1)).days + 1 - silent))
    reasons = con.execute("SELECT DISTINCT reason FROM marts.coverage_daily WHERE agency = 'city' "
                          "AND is_outage").fetchall()
    assert reasons == [("no events",)]
    # town's feed simply ends: its period ends with its data, no outage
    assert con.execute("SELECT last_complete_day, n_outage_days FROM marts.coverage WHERE agency = 'town'"
                       ).fetchone() == (STOP, 0)


def test_compstat_says_no_comparison_where_the_data_does_not_cover_a_period(con):
    rows = {(a, p): (n, ly, ch, z, cmp) for a, p, n, ly, ch, z, cmp in con.execute(
        "SELECT agency, period, n, n_last_year, change, poisson_z, comparison FROM marts.compstat "
        "WHERE unit_type = 'agency' AND category_group = 'all'").fetchall()}
    # the week after the feed came back: 7 days x 6 calls against the same week of 2023
    assert rows[("city", "week")] == (42, 42, 0, 0.0, "ok")
    # the 28 days from 2024-12-03 hold 17 silent days; the year to date 172
    assert rows[("city", "28d")] == (None, 168, None, None, "no comparison (outage on 17 days)")
    assert rows[("city", "ytd")][2:] == (None, None, "no comparison (outage on 172 days)")
    for period in ("week", "28d", "ytd"):
        n, ly, ch, z, cmp = rows[("town", period)]
        assert (n, ch, z, cmp) == (None, None, None, "no comparison (data from 2023-01-01 to 2024-06-30)")
    assert ("idle", "week") not in rows


def test_empty_marts_are_warned_about_recorded_and_explained_in_the_report(night, con):
    proj, out = night
    why = "no events: the agency has no countable, non-void events in core"
    # one warning line per empty mart of the idle agency
    assert f"warning: idle: marts.hotspots is empty: {why}" in out
    assert f"warning: idle: marts.compstat is empty: {why}" in out
    assert out.count("warning: idle: marts.hotspots is empty") == 1
    rows = con.execute("SELECT mart, state, reason FROM meta.mart_status WHERE agency = 'idle' AND run_id = "
                       "(SELECT run_id FROM meta.runs ORDER BY started_at DESC LIMIT 1)").fetchall()
    assert ("hotspots", "empty", why) in rows and ("coverage", "empty", why) in rows
    # city's EHSA cube (12 weeks to 2024-12-30) has one whole week after the feed came back: nothing classified
    assert con.execute("SELECT DISTINCT status, message FROM marts.emerging_hotspot_rows WHERE agency = 'city'"
                       ).fetchall() == [("not_enough_covered_steps", "not enough covered steps (1 of 12)")]
    assert "warning: city: marts.emerging_hotspots is empty: nothing classified: not enough covered steps (1 of 12)" \
        in out
    # town's cube lies after its data: no events, and the reason says so
    assert "warning: town: marts.emerging_hotspots is empty: no events in the agency's 12 weeks (2024-10-08 to " \
        "2024-12-30): its data runs from 2023-01-01 to 2024-06-30" in out
    # the report of the profile: the reasons in place of "not available yet", the comparison words, the marks
    report = proj / "data" / "reports" / "stops" / "2024-12-30" / "index.html"
    html = report.read_text(encoding="utf-8")
    assert f"Not available for Idle PD: {why}." in html
    assert "Not available yet" not in html
    assert "no comparison (outage on 17 days)" in html
    assert "no comparison (data from 2023-01-01 to 2024-06-30)" in html
    assert re.search(r'data-outage="1"><title>City PD: outage or no data', html)


def test_two_profiles_with_the_same_as_of_write_two_reports(tmp_path):
    from transforms.config import load_settings
    from transforms.outputs.report import build_report
    from transforms.warehouse.db import apply_schema, connect

    base = TOML.replace('profile = "stops"\n', "").replace('sources = ["cad_city", "cad_town"]', "sources = []")
    proj = write_project(tmp_path / "proj", {}, toml=f'profile = "east"\n{base}\n[warehouse]\npath = "data/east.duckdb"\n',
                         crosswalks={})
    (proj / "config" / "west.toml").write_text(f'profile = "west"\n{base}\n[warehouse]\npath = "data/west.duckdb"\n')
    paths = []
    for cfg in ("sara.toml", "west.toml"):
        settings = load_settings(proj / "config" / cfg, project_dir=proj)
        settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        con = connect(settings.warehouse_path)
        try:
            apply_schema(con)
            con.execute("CREATE TABLE marts.periods AS SELECT 'town' AS agency, DATE '2024-12-30' AS as_of, "
                        "'agency config' AS rule")
            paths.append(build_report(con, settings))
        finally:
            con.close()
    assert paths == [Path(proj / "data/reports/east/2024-12-30/index.html"),
                     Path(proj / "data/reports/west/2024-12-30/index.html")]
    assert "profile east" in paths[0].read_text() and "profile west" in paths[1].read_text()
