"""The shipped real-data config (config/sara.toml) on the four real feeds in ../shared/data, with nothing set by
hand: one nightly flow run gives every agency its own as_of and non-empty hot spots, repeat locations,
CompStat and coverage. Each as_of is checked against the last local date of its file, read here with Polars
and geopandas (not the code under test), minus the configured lag of one day: the files are copied into
landing now, long after their last day, so that day is complete.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.support.project import PROJECT, copy_real_config, need_shared

pytestmark = [pytest.mark.shared, pytest.mark.slow]

FILES = {
    "sf_calls": ["sf_police_calls_2016_2020.csv"],
    "vancouver_incidents": ["vancouver_crimes_2020.csv"],
    "chicago_assaults": ["chicago_aggravated_assaults_2010_2019.csv.gz"],
    "new_haven_incidents": [f"new_haven/incidents_2014_09.{ext}" for ext in ("shp", "shx", "dbf")],
}
LAG = 1  # config/sara.toml [time] data_lag_days
MONTHS = {"jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
          "nov": 11, "dec": 12}


def _file_days(data: Path) -> dict[str, tuple[date, date]]:
    """agency -> (first, last) local date of its file's rows (the times are local in each file)."""
    import geopandas as gpd

    sf = pl.read_csv(data / FILES["sf_calls"][0], infer_schema=False).select(
        pl.col("call_date_time").str.strptime(pl.Datetime, "%m/%d/%Y %I:%M:%S %p").dt.date().alias("d"))
    van = pl.read_csv(data / FILES["vancouver_incidents"][0], infer_schema=False).select(
        pl.date(pl.col("YEAR").cast(pl.Int32), pl.col("MONTH").cast(pl.Int32), pl.col("DAY").cast(pl.Int32)).alias("d"))
    chi = pl.read_csv(data / FILES["chicago_assaults"][0], infer_schema=False).select(
        pl.col("date").str.slice(0, 10).str.strptime(pl.Date, "%Y-%m-%d").alias("d"))
    nh_dates = []
    for text in gpd.read_file(data / FILES["new_haven_incidents"][0])["date"]:  # "Thu, Sept. 18th 2014"
        m = re.match(r"\w+, (\w+)\.? (\d+)\w* (\d{4})", text)
        nh_dates.append(date(int(m.group(3)), MONTHS[m.group(1)[:3].lower()], int(m.group(2))))
    out = {a: (f["d"].min(), f["d"].max()) for a, f in (("sfpd", sf), ("vpd", van), ("cpd", chi))}
    out["nhpd"] = (min(nh_dates), max(nh_dates))
    return out


@pytest.fixture(scope="module")
def real(request, tmp_path_factory):
    data = need_shared()  # before the Prefect harness starts, so a skip costs nothing
    request.getfixturevalue("prefect_harness")
    from flows.nightly import nightly
    from transforms.warehouse.db import connect

    proj = copy_real_config(tmp_path_factory.mktemp("real_periods"))
    for source, names in FILES.items():
        (proj / "data" / "landing" / source).mkdir(parents=True)
        for name in names:
            shutil.copyfile(data / name, proj / "data" / "landing" / source / Path(name).name)
    with contextlib.chdir(proj):
        result = nightly(config_path=str(proj / "config" / "sara.toml"))
    assert result["status"] == "ok", result["message"]
    con = connect(proj / "data" / "warehouse" / "sara.duckdb", read_only=True)
    yield result, con, _file_days(data)
    con.close()


@pytest.mark.parametrize("agency", ["sfpd", "vpd", "cpd", "nhpd"])
def test_every_agency_gets_its_own_as_of_and_non_empty_marts(real, agency):
    result, con, days = real
    first, last = days[agency]
    as_of, rule, last_complete = con.execute(
        "SELECT as_of, rule, last_complete_day FROM marts.periods WHERE agency = ?", [agency]).fetchone()
    print(f"{agency}: as_of {as_of} ({rule}), data {first} to {last}")
    assert (rule, last_complete, as_of) == ("data", last, last - timedelta(days=LAG))
    hot = con.execute("SELECT count(*), sum(n) FROM marts.hotspot_stats WHERE agency = ?", [agency]).fetchone()
    assert hot[0] > 0 and hot[1] > 0
    assert con.execute("SELECT count(*) FROM marts.repeat_location_rows WHERE agency = ? AND is_repeat",
                       [agency]).fetchone()[0] > 0
    assert con.execute("SELECT count(*) FROM marts.compstat WHERE agency = ?", [agency]).fetchone()[0] > 0
    cov = con.execute("SELECT first_day, last_complete_day, n_events FROM marts.coverage WHERE agency = ?",
                      [agency]).fetchone()
    assert cov[:2] == (first, last) and cov[2] > 0
    assert str(as_of) in result["marts"]["as_of"]


def test_compstat_compares_only_what_the_data_covers(real):
    _, con, days = real
    cmp = {(a, p): c for a, p, c in con.execute(
        "SELECT agency, period, comparison FROM marts.compstat WHERE unit_type = 'agency' "
        "AND category_group = 'all'").fetchall()}
    # Chicago has ten years: every period compares
    assert {p: cmp[("cpd", p)] for p in ("week", "28d", "ytd")} == dict.fromkeys(("week", "28d", "ytd"), "ok")
    # Vancouver (2020) and New Haven (September 2014) have no last year: no change is ever shown
    for agency in ("vpd", "nhpd"):
        first, last = days[agency]
        for p in ("week", "28d", "ytd"):
            assert cmp[(agency, p)] == f"no comparison (data from {first} to {last})"
    # San Francisco's extract is a sample: a few calls a day in January 2020 against hundreds a day before,
    # days the coverage counts as outages, so the week is not shown as a fall
    assert cmp[("sfpd", "week")].startswith("no comparison (outage on ")
    assert con.execute("SELECT count(*) FROM marts.compstat WHERE comparison <> 'ok' AND (change IS NOT NULL "
                       "OR pct_change IS NOT NULL OR poisson_z IS NOT NULL)").fetchone()[0] == 0


def test_the_real_report_names_a_reason_for_everything_missing(real, tmp_path):
    """The report of the four feeds: every note that something is missing says why (an incidents-only agency has
    no calls feed; SF has no on-scene times), never a bare "not available" or "yet"."""
    import html as html_lib

    from transforms.config import load_settings
    from transforms.outputs.report import build_report

    _, con, _ = real
    settings = load_settings(PROJECT / "config" / "sara.toml")
    text = build_report(con, settings, out_dir=tmp_path / "report").read_text(encoding="utf-8")
    summary = text.split('<section id="summary">', 1)[1].split("</section>", 1)[0]
    rest = text.replace(summary, "")
    notes = [html_lib.unescape(n) for n in re.findall(r'<p class="na">(.*?)</p>', rest, flags=re.S)]
    assert notes, "the real feeds leave some parts empty (e.g. response times without on-scene times)"
    for note in notes:
        assert re.match(r"(Not available|Not applicable|Partly available) for [^:]+: \S", note), note
    # the first screen's notes sit in the agency's own box: the reason, or the comparison the data cannot make
    for note in (html_lib.unescape(n) for n in re.findall(r'<p class="na">(.*?)</p>', summary, flags=re.S)):
        assert re.match(r"((Not available|Not applicable|Partly available): \S|[^:]+: no comparison \(|No|None)",
                        note), note
    assert " yet." not in text and "Not available yet" not in text
    assert any("no calls (CAD) feed" in n for n in notes)  # Chicago, Vancouver and New Haven
    assert any(n.startswith("Not available for San Francisco Police Department: no call counts") for n in notes)
    # the first screen of an agency without a calls feed takes its places from its recorded crimes
    for agency in ("Vancouver", "Chicago"):
        box = summary.split(f"<h3>{agency} Police Department", 1)[1].split('<div class="agency">', 1)[0]
        for title in ("Hottest places now (99% Gi* hot spots, recorded crimes)",
                      "Top repeat addresses (recorded crimes, all categories)"):
            assert f"<h4>{title}</h4><ul><li>" in box, (agency, title)
    assert "-1 day" not in summary  # a source complete past the as-of date (the lag) is not "short" of it
