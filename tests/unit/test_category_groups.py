"""Category groups: the defaults (calls have burglary and a property-crime breakdown), configured groups merged
with them, an empty list dropping one, knox_groups checked against them, and the groups the data cannot fill
(transforms/marts/category_groups.py)."""

from __future__ import annotations

import duckdb
import pytest

from tests.support.project import write_project
from transforms.config import DEFAULT_GROUPS, ConfigError, load_settings, merge_groups
from transforms.marts.category_groups import unmatched_groups

BASE = """
sources = []
[agencies.city]
name = "City"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
bbox = [-122.52, 37.70, -122.35, 37.84]
"""


def _groups(tmp_path, extra: str) -> dict:
    proj = write_project(tmp_path, {}, toml=BASE + extra, crosswalks={})
    return load_settings(proj / "config" / "sara.toml", project_dir=proj).sara.analysis.category_groups


def test_calls_have_a_burglary_group_by_default_so_the_default_knox_group_runs_on_cad(tmp_path):
    groups = _groups(tmp_path, "")
    assert groups["calls"]["burglary"] == ["Burglary"]
    assert {"Burglary", "Theft", "Theft From Vehicle", "Motor Vehicle Theft", "Vandalism"} <= set(
        groups["calls"]["property"])
    assert "Person Offense" in groups["incidents"]["violent"]


def test_configured_groups_add_to_and_replace_the_defaults(tmp_path):
    groups = _groups(tmp_path, """
[analysis.category_groups.calls]
theft = ["Theft", "Theft From Vehicle"]
property = ["Property Crime"]
""")
    assert groups["calls"]["theft"] == ["Theft", "Theft From Vehicle"]          # added
    assert groups["calls"]["property"] == ["Property Crime"]                     # replaced
    assert groups["calls"]["violent"] == DEFAULT_GROUPS["calls"]["violent"]      # kept
    assert groups["calls"]["burglary"] == ["Burglary"]
    assert groups["incidents"] == DEFAULT_GROUPS["incidents"]                    # other dataset untouched


def test_an_empty_list_drops_a_default_group(tmp_path):
    groups = _groups(tmp_path, """
[analysis]
knox_groups = ["burglary"]
[analysis.category_groups.calls]
disorder = []
burglary = []
""")
    assert groups["calls"]["disorder"] == [] and groups["calls"]["burglary"] == []
    assert groups["incidents"]["burglary"] == ["Burglary"]  # so knox_groups = ["burglary"] still names a group
    # merging again gives the same groups: a dropped group stays dropped
    assert merge_groups(groups) == groups


@pytest.mark.parametrize(("extra", "message"), [
    ("[analysis.category_groups.calls]\nburglry = []\n",
     r"category_groups.*calls\.burglry is empty: an empty list drops a default group, and 'burglry' is not one"),
    ('[analysis]\nknox_groups = ["theft"]\n', r"knox_groups \['theft'\] name no category group"),
    ('[analysis]\nknox_groups = ["burglary"]\n[analysis.category_groups.calls]\nburglary = []\n'
     '[analysis.category_groups.incidents]\nburglary = []\n', r"knox_groups \['burglary'\] name no category group"),
    ('[analysis.category_groups.calls]\n"bad name" = ["Theft"]\n', "must be letters, digits and _"),
])
def test_group_errors_name_the_key(tmp_path, extra, message):
    with pytest.raises(ConfigError, match=message) as err:
        _groups(tmp_path, extra)
    assert "sara.toml" in str(err.value)


def test_groups_that_match_no_event_are_listed_per_agency_and_dataset():
    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    con.execute("CREATE TABLE marts.events (agency VARCHAR, dataset VARCHAR, category VARCHAR)")
    con.execute("""INSERT INTO marts.events VALUES ('a', 'calls', 'Burglary'), ('a', 'calls', 'Traffic'),
                   ('b', 'calls', 'Property Crime'), ('b', 'incidents', 'Larceny')""")
    con.execute("CREATE TABLE marts.category_groups (dataset VARCHAR, category_group VARCHAR, category VARCHAR)")
    con.execute("""INSERT INTO marts.category_groups VALUES ('calls', 'all', '*'), ('calls', 'burglary', 'Burglary'),
                   ('calls', 'property', 'Burglary'), ('calls', 'property', 'Property Crime'),
                   ('calls', 'violent', 'Violent Crime'), ('incidents', 'burglary', 'Burglary'),
                   ('incidents', 'all', '*')""")
    got = unmatched_groups(con).rows()
    assert got == [
        ("a", "calls", "violent", ["Violent Crime"]),
        ("b", "calls", "burglary", ["Burglary"]),       # b's CAD crosswalk has no burglary breakdown
        ("b", "calls", "violent", ["Violent Crime"]),
        ("b", "incidents", "burglary", ["Burglary"]),
    ]  # agency a has no incidents at all: none of its incident groups is listed
