"""Call natures on core.calls: the reviewed crosswalk rows give the nature, a suggested row gives nothing, the
response model is the nature's (or the agency's override), a weapon or violence in progress is never
alternative, earlier calls follow a crosswalk that changed, and marts.demand counts them."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from typer.testing import CliRunner

from flows.cli import app
from transforms.marts.demand import build_demand
from transforms.marts.dimensions import write_agency_zones
from transforms.warehouse import loader
from transforms.warehouse.natures import taxonomy_version

HEADER = "id,unit,received,dispatched,onscene,cleared,type,disp,address,lon,lat,onview,updated,note\n"
TYPES = ("code,call_type,call_category,origin,call_nature,nature_status\n"
         "NOISE,Noise,Quality of Life,community,NOISE,reviewed\n"
         "BURG,Burglary,Burglary,community,BURGLARY,reviewed\n"
         "WELF,Welfare Check,Assist Public,community,WELFARE_CHECK,reviewed\n"
         "WELF GUN,Welfare Check (gun seen),Assist Public,community,WELFARE_CHECK,reviewed\n"
         "FIGHT NO WEAPON,Fight,Violent Crime,community,NOISE,reviewed\n"
         "DIST IP,Disturbance in progress,Quality of Life,community,DISTURBANCE,reviewed\n"
         "DIST,Disturbance,Quality of Life,community,DISTURBANCE,reviewed\n"
         "PARTY,Loud party,Quality of Life,community,NOISE,suggested\n"
         "TS,Traffic Stop,Traffic,officer,TRAFFIC_STOP,reviewed\n")
DISP = "code,disposition,disposition_category,countable,void\nRPT,Report,Report,true,false\n"
OVERRIDE = "[agencies.city.response_models]\nDISTURBANCE = \"alternative\"\n"


def _row(id_, type_, received="03/01/2024 10:00:00 PM", onview="N") -> str:
    return ",".join([id_, "U1", received, "", "", "", type_, "RPT", "1700 Block Of Jerrold Av", "-122.3916",
                     "37.7425", onview, "2024-01-01 00:00", "x"]) + "\n"


def _load(settings, con, name: str, text: str) -> loader.FileOutcome:
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True, exist_ok=True)
    path = landing / name
    path.write_text(text, encoding="utf-8")
    raw = loader.load_raw_file(con, settings, "cad", path, "r1")
    if raw.status != "raw":
        return raw
    (out,) = loader.normalize_pending(con, settings, "cad", "r1")
    return out


def _natures(con) -> dict[str, tuple]:
    return {r[0]: r[1:] for r in con.execute(
        "SELECT call_id, call_nature, response_model, response_model_reason FROM core.calls").fetchall()}


@pytest.fixture()
def project(tiny_project):
    p = tiny_project(crosswalks={"types.csv": TYPES, "disp.csv": DISP}, extra=OVERRIDE)
    return p, p.settings, p.connect()


def test_reviewed_rows_give_the_nature_and_model_suggested_ones_nothing(project):
    p, settings, con = project
    text = HEADER + "".join(_row(i, t) for i, t in [
        ("A", "NOISE"), ("B", "burg"), ("C", "PARTY"), ("D", "NOPE"), ("E", "WELF"), ("F", "TS")])
    out = _load(settings, con, "cad_20240302T020000.csv", text)
    assert out.rows_loaded == 6
    got = _natures(con)
    assert got["A"] == ("NOISE", "alternative", "taxonomy default")
    assert got["B"] == ("BURGLARY", "police_required", "taxonomy default")
    # a suggested row is not used: the code is Unmapped, with no response model
    assert got["C"] == ("Unmapped", "unknown", "no nature")
    assert got["D"] == ("Unmapped", "unknown", "no nature")
    assert got["E"] == ("WELFARE_CHECK", "alternative", "taxonomy default")
    assert got["F"] == ("TRAFFIC_STOP", "police_required", "taxonomy default")
    # counted and reported, as unmapped call types are (sara status)
    from transforms.warehouse.status import unmapped_natures

    assert sorted(unmapped_natures(con).rows) == [("cad", "NOPE", 1), ("cad", "PARTY", 1)]


def test_weapon_or_violence_in_progress_is_never_alternative(project):
    p, settings, con = project
    text = HEADER + "".join(_row(i, t) for i, t in [
        ("G", "WELF GUN"), ("N", "FIGHT NO WEAPON"), ("I", "DIST IP"), ("J", "DIST")])
    _load(settings, con, "cad_20240302T020000.csv", text)
    got = _natures(con)
    # an alternative nature whose call names a gun
    assert got["G"] == ("WELFARE_CHECK", "police_required", "weapon or violence in progress")
    # "no weapon" names no weapon
    assert got["N"] == ("NOISE", "alternative", "taxonomy default")
    # the agency made DISTURBANCE alternative; one that can be violent and says in progress is not
    assert got["I"] == ("DISTURBANCE", "police_required", "weapon or violence in progress")
    assert got["J"] == ("DISTURBANCE", "alternative", "agency override ([agencies.city.response_models])")


def test_earlier_calls_follow_a_reviewed_row_and_old_warehouses_fill_in(project):
    p, settings, con = project
    _load(settings, con, "cad_20240302T020000.csv", HEADER + _row("C", "PARTY") + _row("A", "NOISE"))
    assert _natures(con)["C"][0] == "Unmapped"
    # the PARTY row is reviewed; a call loaded before natures existed has none
    xw = p.root / "config" / "crosswalks" / "types.csv"
    xw.write_text(TYPES.replace("NOISE,suggested", "NOISE,reviewed"), encoding="utf-8")
    con.execute("UPDATE core.calls SET call_nature = NULL, response_model = NULL, response_model_reason = NULL "
                "WHERE call_id = 'A'")
    _load(settings, con, "cad_20240303T020000.csv", HEADER + _row("B", "BURG", "03/02/2024 10:00:00 PM"))
    got = _natures(con)
    assert got["C"] == ("NOISE", "alternative", "taxonomy default")
    assert got["A"] == ("NOISE", "alternative", "taxonomy default")
    assert got["B"][0] == "BURGLARY"


def test_a_reviewed_row_naming_no_nature_of_the_taxonomy_fails_the_load(tiny_project):
    bad = TYPES + "ZZ,Zz,Other,community,NOT_A_NATURE,reviewed\n"
    p = tiny_project(crosswalks={"types.csv": bad, "disp.csv": DISP})
    out = _load(p.settings, p.connect(), "cad_20240302T020000.csv", HEADER + _row("A", "NOISE"))
    assert out.status == "failed"
    assert "types.csv" in out.message and "ZZ" in out.message and "NOT_A_NATURE" in out.message


def test_an_override_naming_no_nature_is_a_load_error(tiny_project):
    p = tiny_project(crosswalks={"types.csv": TYPES, "disp.csv": DISP},
                     extra="[agencies.city.response_models]\nNOT_A_NATURE = \"alternative\"\n")
    out = _load(p.settings, p.connect(), "cad_20240302T020000.csv", HEADER + _row("A", "NOISE"))
    assert out.status == "failed" and "NOT_A_NATURE" in out.message


def _windows(con, as_of: str) -> None:
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    write_agency_zones(con, {"city": "America/Los_Angeles"})
    con.execute(f"CREATE OR REPLACE TABLE marts.windows AS SELECT 'city' AS agency, 7 AS window_days, "
                f"DATE '{as_of}' - 6 AS start_date, DATE '{as_of}' AS end_date")


def test_demand_counts_calls_and_the_alternative_share_by_local_hour(project):
    p, settings, con = project
    # 1 March 2024 22:00 PST is a Friday: hour of week 4 * 24 + 22 = 118
    text = HEADER + "".join(_row(i, t, r, o) for i, t, r, o in [
        ("A", "NOISE", "03/01/2024 10:00:00 PM", "N"), ("B", "NOISE", "03/01/2024 10:30:00 PM", "N"),
        ("C", "BURG", "03/01/2024 10:45:00 PM", "N"), ("D", "PARTY", "03/01/2024 10:50:00 PM", "N"),
        ("E", "TS", "03/01/2024 10:55:00 PM", "Y"), ("F", "WELF GUN", "03/01/2024 11:10:00 PM", "N"),
        ("OLD", "NOISE", "02/01/2024 10:00:00 PM", "N")])
    _load(settings, con, "cad_20240302T020000.csv", text)
    _windows(con, "2024-03-02")
    build_demand(con)
    rows = con.execute("SELECT call_nature, response_model, origin, hour_of_week, n_calls, taxonomy_version "
                       "FROM marts.demand ORDER BY 1, 2, 3, 4").fetchall()
    assert rows == [("BURGLARY", "police_required", "community", 118, 1, taxonomy_version()),
                    ("NOISE", "alternative", "community", 118, 2, taxonomy_version()),
                    ("TRAFFIC_STOP", "police_required", "officer", 118, 1, taxonomy_version()),
                    ("Unmapped", "unknown", "community", 118, 1, taxonomy_version()),
                    ("WELFARE_CHECK", "police_required", "community", 119, 1, taxonomy_version())]
    by_hour = con.execute("SELECT hour, n_calls, n_alternative, n_unknown_model, share_alternative, "
                          "share_alternative_known FROM marts.demand_alternative_by_hour ORDER BY hour").fetchall()
    # 22h: 4 community calls (the officer's stop is not one), 2 alternative, 1 with no model; 23h: the welfare
    # check that names a gun is police_required
    assert by_hour == [(22, 4, 2, 1, 0.5, 2 / 3), (23, 1, 0, 0, 0.0, 0.0)]


def test_crosswalk_suggest_writes_suggestions_for_unreviewed_and_unlisted_codes(tiny_project, tmp_path):
    p = tiny_project(crosswalks={"types.csv": TYPES, "disp.csv": DISP})
    wh = Path(p.settings.warehouse_path)
    wh.parent.mkdir(parents=True, exist_ok=True)
    con = p.connect(wh)
    _load(p.settings, con, "cad_20240302T020000.csv",
          HEADER + _row("A", "NOISE") + _row("B", "Susp Veh") + _row("C", "Susp Veh") + _row("D", "QQQ"))
    con.close()
    out = tmp_path / "s.csv"
    res = CliRunner().invoke(app, ["crosswalk", "suggest", "cad", "--config", str(p.config), "--out", str(out)],
                             env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    got = duckdb.sql(f"SELECT code, call_nature, nature_status, n_calls FROM read_csv('{out}', all_varchar=true) "
                     "ORDER BY code").fetchall()
    # the crosswalk's suggested row (no calls of it), two unlisted codes: one a rule reads, one none does
    assert got == [("PARTY", "NOISE", "suggested", "0"), ("QQQ", None, None, "1"),
                   ("Susp Veh", "SUSPICIOUS_VEHICLE", "suggested", "2")]
    assert str(out) in "".join(res.output.split())
    # the default place, in the project
    res = CliRunner().invoke(app, ["crosswalk", "suggest", "cad", "--config", str(p.config)], env={"COLUMNS": "200"})
    assert res.exit_code == 0 and (p.root / "config/crosswalks/cad_natures_suggested.csv").is_file(), res.output
    bad = CliRunner().invoke(app, ["crosswalk", "suggest", "nope", "--config", str(p.config)])
    assert bad.exit_code == 2 and "nope" in bad.output
    score = CliRunner().invoke(app, ["crosswalk", "score", "cad", "--config", str(p.config)], env={"COLUMNS": "200"})
    assert score.exit_code == 0 and "of 8 reviewed codes" in " ".join(score.output.split()), score.output


@pytest.mark.parametrize(("text", "vip", "priority", "flagged"), [
    ("Person W/gun", False, None, True),
    ("221 Person with Knife", False, 3, True),
    ("Shots Fired", False, None, True),
    ("Fight W/weapons", False, None, True),
    ("Fight No Weapon", False, None, False),
    ("FIGHT WITHOUT WEAPONS", False, None, False),
    ("Gunther St noise", False, None, False),   # a weapon word only as a whole word
    ("Disturbance IP", True, None, True),
    ("Disturbance I/P", True, 4, True),
    ("Disturbance", True, 1, True),             # priority level 1 on a nature that can be violent
    ("Disturbance", True, 2, False),
    ("Noise IP", False, 1, False),              # in progress, but the nature cannot be violent
])
def test_the_weapon_or_violence_rule(text, vip, priority, flagged):
    from transforms.warehouse.db import SQL_DIR

    con = duckdb.connect()
    con.execute((SQL_DIR / "core" / "natures.sql").read_text(encoding="utf-8"))
    got = con.execute("SELECT _sara_weapon_or_violence(?, ?, ?), _sara_response_model('alternative', "
                      "_sara_weapon_or_violence(?, ?, ?))", [text, vip, priority] * 2).fetchone()
    assert got == (flagged, "police_required" if flagged else "alternative")
