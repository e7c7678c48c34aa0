"""The category totals of each real feed against the source's own categories, counted from the raw file.

Each feed is loaded into a warehouse with the project's own config (no marts). The expected totals are
counted with polars from the raw file by the field the source itself classifies with (Vancouver's TYPE, New
Haven's `dataset`, San Francisco's call-type names and radio codes; Chicago's file is aggravated assaults
only), never from the warehouse or the crosswalks. The default category groups (violent, property, burglary)
are checked the same way, because a category outside its group vanishes from every mart of that group.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest

from tests.support.project import copy_real_config, need_shared

pytestmark = [pytest.mark.shared, pytest.mark.slow]

FILES = {
    "sf_calls": ["sf_police_calls_2016_2020.csv"],
    "vancouver_incidents": ["vancouver_crimes_2020.csv"],
    "chicago_assaults": ["chicago_aggravated_assaults_2010_2019.csv.gz"],
    "new_haven_incidents": [f"new_haven/incidents_2014_09.{e}" for e in ("shp", "shx", "dbf")],
}


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    from transforms.config import load_settings
    from transforms.warehouse import db as wh
    from transforms.warehouse import loader

    data = need_shared()
    proj = copy_real_config(tmp_path_factory.mktemp("cats"))
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    con = wh.connect(proj / "w.duckdb")
    wh.apply_schema(con)
    for source, names in FILES.items():
        landing = settings.source_landing(source)
        landing.mkdir(parents=True)
        for name in names:
            shutil.copyfile(data / name, landing / Path(name).name)
        main = landing / Path(names[0]).name
        assert loader.load_raw_file(con, settings, source, main, "r1").status == "raw"
        (out,) = loader.normalize_pending(con, settings, source, "r1")
        assert out.status == "loaded" and out.rows_quarantined == 0, out
    yield settings, con, data
    con.close()


def _sara_totals(con, source: str) -> dict[str, int]:
    table, col = ("core.calls", "call_category") if source == "sf_calls" else ("core.incidents", "offense_category")
    return dict(con.execute(f"SELECT {col}, count(*) FROM {table} WHERE source = ? GROUP BY 1", [source]).fetchall())


def _group_totals(settings, dataset: str, totals: dict[str, int]) -> dict[str, int]:
    """Events per default category group, from the per-category totals."""
    groups = settings.sara.analysis.category_groups[dataset]
    return {g: sum(n for c, n in totals.items() if c in cats) for g, cats in groups.items() if "*" not in cats}


def _by(raw: pl.DataFrame, col: str, mapping: dict[str, str]) -> dict[str, int]:
    """Raw rows per expected sara category, through the source's own values (every value must be listed)."""
    vals = raw[col].str.strip_chars()
    unknown = set(vals.unique().to_list()) - set(mapping)
    assert not unknown, f"source values this test does not classify: {sorted(unknown)[:10]}"
    cats = vals.replace_strict(mapping)
    return dict(cats.value_counts().iter_rows())


# Vancouver: VPD's own TYPE column. VPD files every offence against a person except homicide under
# "Offence Against a Person" (masked for privacy); it is violent crime of an unnamed kind.
VPD_TYPES = {
    "Homicide": "Homicide",
    "Offence Against a Person": "Person Offense",
    "Break and Enter Commercial": "Burglary",
    "Break and Enter Residential/Other": "Burglary",
    "Theft from Vehicle": "Theft From Vehicle",
    "Other Theft": "Larceny",
    "Theft of Bicycle": "Larceny",
    "Theft of Vehicle": "Motor Vehicle Theft",
    "Mischief": "Vandalism",
    "Vehicle Collision or Pedestrian Struck (with Fatality)": "Traffic",
    "Vehicle Collision or Pedestrian Struck (with Injury)": "Traffic",
}


def test_vancouver_totals_follow_vpd_types(loaded):
    settings, con, data = loaded
    raw = pl.read_csv(data / "vancouver_crimes_2020.csv", infer_schema=False)
    got = _sara_totals(con, "vancouver_incidents")
    assert got == _by(raw, "TYPE", VPD_TYPES)
    person = raw.filter(pl.col("TYPE").is_in(["Homicide", "Offence Against a Person"])).height
    assert person == 3_750
    groups = _group_totals(settings, "incidents", got)
    assert groups["violent"] == person  # every offence against a person, not just the 19 homicides
    assert groups["burglary"] == raw.filter(pl.col("TYPE").str.starts_with("Break and Enter")).height
    assert groups["property"] == raw.filter(pl.col("TYPE").str.contains("Theft|Break and Enter|Mischief")).height


def test_vancouver_masked_person_offences_keep_vpd_neighbourhood_as_district(loaded):
    _, con, data = loaded
    raw = pl.read_csv(data / "vancouver_crimes_2020.csv", infer_schema=False)
    masked = raw.filter(pl.col("HUNDRED_BLOCK") == "OFFSET TO PROTECT PRIVACY")
    n_with = masked["NEIGHBOURHOOD"].is_not_null().sum()
    got = con.execute("""SELECT count(*) FILTER (WHERE district IS NOT NULL AND district_source = 'feed'),
                                count(*) FILTER (WHERE is_located) FROM core.incidents
                         WHERE source = 'vancouver_incidents' AND location_issue = 'zero'""").fetchone()
    assert got == (n_with, 0) and n_with == 3_747 and masked.height == 3_750


def test_chicago_assaults_are_all_aggravated_assault_and_violent(loaded):
    settings, con, data = loaded
    n = pl.read_csv(data / "chicago_aggravated_assaults_2010_2019.csv.gz", infer_schema=False).height
    got = _sara_totals(con, "chicago_assaults")
    assert got == {"Aggravated Assault": n}
    assert _group_totals(settings, "incidents", got)["violent"] == n


# New Haven: the `dataset` slugs name the offence; the ones that are crimes of a default group, read by their
# own words (robbery-*, burglary-*, assault with a weapon, fights and threats, thefts, stolen vehicles ...)
def _new_haven_groups(slug: pl.Series) -> dict[str, int]:
    def n(pattern: str) -> int:
        return int(slug.str.contains(pattern).sum())
    return {
        "robbery": n(r"^robbery-"),
        "burglary": n(r"^burglary-"),
        "aggravated": n(r"^(assault-w|asslt-po)"),
        "simple": n(r"^(fight|simple-assault|threatening)$"),
        # thefts and stolen vehicles, except recoveries of things stolen in other towns (not a theft here)
        "theft": n(r"^(theft-|stolen-|att-theft-|oper-wo-owners)"),
        "arson": n(r"^(arson|reckless-burning)$"),
        "vandalism": n(r"^(crim-mischief|tampering-with-motor-veh|window-breaking)"),
    }


def test_new_haven_totals_follow_its_own_offence_names(loaded):
    import geopandas as gpd

    settings, con, data = loaded
    slug = pl.Series(gpd.read_file(data / "new_haven" / "incidents_2014_09.shp")["dataset"].str.strip())
    raw = _new_haven_groups(slug)
    got = _sara_totals(con, "new_haven_incidents")
    assert "Unmapped" not in got and sum(got.values()) == len(slug)
    assert got["Robbery"] == raw["robbery"] and got["Burglary"] == raw["burglary"]
    assert got["Aggravated Assault"] == raw["aggravated"] and got["Simple Assault"] == raw["simple"]
    assert got["Larceny"] + got["Motor Vehicle Theft"] == raw["theft"]
    assert got["Arson"] == raw["arson"] and got["Vandalism"] == raw["vandalism"]
    groups = _group_totals(settings, "incidents", got)
    assert groups["violent"] == raw["robbery"] + raw["aggravated"] + raw["simple"] + got.get("Homicide", 0) \
        + got.get("Sexual Offense", 0)
    assert groups["burglary"] == raw["burglary"]
    assert groups["property"] == raw["burglary"] + raw["theft"] + raw["arson"] + raw["vandalism"] \
        + got.get("Theft From Vehicle", 0)


# San Francisco: DEM's own call-type names and the SFPD radio codes (Penal Code sections) dispatchers type,
# upper-cased. "459 CASER" / "459 OPPORTUNIST" (casing: no entry) are suspicious-person calls, not burglaries.
SF_CALLS = {
    "Burglary": ["BURGLARY", "459", "459 POSS", "PERSON BREAKING IN"],
    "Theft": ["PETTY THEFT", "GRAND THEFT", "487", "488", "488 SUSP", "488 ATT", "PURSE SNATCH", "PICKPOCKET"],
    "Theft From Vehicle": ["AUTO BOOST / STRIP", "852"],
    "Motor Vehicle Theft": ["STOLEN VEHICLE", "851", "10851", "851 ATT"],
    "Vandalism": ["VANDALISM", "594", "594 POSS", "GRAFFITI VANDALISM", "595"],
    "Fraud": ["FRAUD", "470"],
    "Property Crime": ["STOLEN PROPERTY", "496", "CHOP SHOP", "CHOPSHOP"],
}


def test_sf_property_breakdown_follows_the_call_type_names_and_radio_codes(loaded):
    settings, con, data = loaded
    raw = pl.read_csv(data / "sf_police_calls_2016_2020.csv", infer_schema=False)
    name = raw["original_crime_type_name"].str.strip_chars().str.to_uppercase()
    got = _sara_totals(con, "sf_calls")
    for category, names in SF_CALLS.items():
        assert got.get(category, 0) == int(name.is_in(names).sum()), category
    assert got["Burglary"] == 238  # 200 BURGLARY + 36 PERSON BREAKING IN + 2 459 POSS
    groups = _group_totals(settings, "calls", got)
    assert groups["burglary"] == got["Burglary"]
    assert groups["property"] == int(name.is_in([n for names in SF_CALLS.values() for n in names]).sum())
