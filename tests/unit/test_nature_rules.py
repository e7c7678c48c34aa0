"""The call-nature taxonomy, the shipped crosswalks' natures, the suggester's rule kinds and its score."""

from __future__ import annotations

import re

import polars as pl
import pytest

from tests.support.project import PROJECT
from transforms.stats.nature_rules import Rule, expand, raw_tokens, score, suggest
from transforms.warehouse.natures import (
    RESPONSE_MODELS,
    abbreviations,
    read_rules,
    rule_lists,
    taxonomy,
    taxonomy_version,
)

ABBR = {"VEH": "VEHICLE", "SUSP": "SUSPICIOUS", "DV": "DOMESTIC VIOLENCE", "W": "WITH"}


def test_code_rule_matches_the_whole_token_or_a_prefix_with_a_star():
    rules = [Rule("code", "415", "DISTURBANCE"), Rule("code", "22500*", "PARKING")]
    assert suggest("415", rules, {}).call_nature == "DISTURBANCE"
    assert suggest("415 Neighbors", rules, {}).call_nature == "DISTURBANCE"
    assert suggest("4150", rules, {}) is None  # not a prefix rule
    assert suggest("22500e", rules, {}).call_nature == "PARKING"
    assert suggest("7.2.46", [Rule("code", "7.2*", "PARKING")], {}).call_nature == "PARKING"


def test_word_rule_matches_a_whole_word_after_expansion():
    rules = [Rule("word", "SUSPICIOUS", "SUSPICIOUS_PERSON")]
    assert suggest("Susp person", rules, ABBR).call_nature == "SUSPICIOUS_PERSON"
    assert suggest("Suspiciously quiet", rules, ABBR) is None


def test_phrase_rule_needs_its_words_adjacent_and_in_order():
    rules = [Rule("phrase", "SUSPICIOUS VEHICLE", "SUSPICIOUS_VEHICLE")]
    assert suggest("Susp Veh", rules, ABBR).call_nature == "SUSPICIOUS_VEHICLE"
    assert suggest("Veh Susp", rules, ABBR) is None
    assert suggest("Suspicious Person near Vehicle", rules, ABBR) is None


def test_abbreviations_expand_to_several_words_and_w_slash_reads_with():
    assert expand(raw_tokens("Fight No Weapon Dv"), ABBR) == ["FIGHT", "NO", "WEAPON", "DOMESTIC", "VIOLENCE"]
    assert raw_tokens("Person W/knife") == ["PERSON", "WITH", "KNIFE"]
    assert raw_tokens("7,2,46 / 22500e") == ["7,2,46", "22500E"]


def test_rules_are_tried_in_order_and_no_match_is_no_guess():
    rules = [Rule("phrase", "DOMESTIC VIOLENCE", "DOMESTIC_VIOLENCE"), Rule("word", "FIGHT", "FIGHT")]
    assert suggest("Fight Dv", rules, ABBR).call_nature == "DOMESTIC_VIOLENCE"
    assert suggest("Fight", rules, ABBR).call_nature == "FIGHT"
    assert suggest("Qwerty", rules, ABBR) is None


def test_a_rule_of_an_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="kind"):
        Rule("regex", "X", "NOISE")


def test_score_counts_exact_and_same_group_over_codes_and_calls():
    groups = {"ASSAULT": "Violent Crime", "FIGHT": "Violent Crime", "NOISE": "Quality of Life"}
    s = score([("ASSAULT", "ASSAULT", 10), ("FIGHT", "ASSAULT", 30), (None, "NOISE", 60)], groups)
    assert s["exact_share_codes"] == pytest.approx(1 / 3) and s["exact_share_calls"] == pytest.approx(0.1)
    assert s["group_share_codes"] == pytest.approx(2 / 3) and s["group_share_calls"] == pytest.approx(0.4)
    assert s["no_suggestion_codes"] == 1


def _call_categories() -> set[str]:
    """The call_category table of config/crosswalks/README.md: the Vera-style groups."""
    text = (PROJECT / "config" / "crosswalks" / "README.md").read_text(encoding="utf-8")
    table = text.split("| call_category | Typical contents |", 1)[1].split("\n\n", 1)[0]
    return {m.group(1) for m in re.finditer(r"^\| ([A-Z][A-Za-z ]+?) \|", table, re.M)}


def test_taxonomy_is_versioned_sized_and_every_nature_has_a_group_and_a_model():
    t = taxonomy()
    assert 40 <= t.height <= 65 and re.fullmatch(r"sara-natures-\d+", taxonomy_version())
    assert set(t["vera_group"]) <= _call_categories()
    assert set(t["default_response_model"]) == set(RESPONSE_MODELS)
    # a nature that can be violent in progress is never alternative by default
    assert t.filter(pl.col("violent_in_progress_possible") & (pl.col("default_response_model") == "alternative")
                    ).is_empty()
    readme = (PROJECT / "config" / "taxonomy" / "README.md").read_text(encoding="utf-8")
    assert taxonomy_version() in readme and all(f"`{c}`" in readme for c in t["code"])


@pytest.mark.parametrize("name", ["sf_call_types.csv", "demo_call_types.csv"])
def test_shipped_crosswalks_review_natures_of_the_taxonomy(name):
    x = pl.read_csv(PROJECT / "config" / "crosswalks" / name, infer_schema=False)
    reviewed = x.filter(pl.col("nature_status") == "reviewed")
    assert set(reviewed["call_nature"]) <= set(taxonomy()["code"])
    assert set(x["nature_status"].drop_nulls()) <= {"reviewed"}  # nothing shipped is only suggested
    assert reviewed.height >= 0.95 * x.height


def test_rule_lists_name_natures_of_the_taxonomy_local_ones_first():
    rules = rule_lists(None, "sf_calls")
    assert rules[0].origin == "sf_calls" and rules[-1].origin == "general"
    general = read_rules(PROJECT / "config" / "taxonomy" / "rules.csv", "general")
    # agency radio codes stay out of the general list (415 is a disturbance in California only)
    assert not [r for r in general if r.kind == "code"]
    assert set(abbreviations()) and all(v for v in abbreviations().values())


def test_an_agency_response_model_must_be_one_of_the_four(tmp_path):
    from tests.support.project import write_project
    from transforms.config import ConfigError, load_settings

    root = write_project(tmp_path / "p", extra='[agencies.city.response_models]\nNOISE = "nobody"\n')
    with pytest.raises(ConfigError, match="response_models"):
        load_settings(root / "config" / "sara.toml", project_dir=root)
    root = write_project(tmp_path / "q", extra='[agencies.city.response_models]\nNOISE = "administrative"\n')
    assert load_settings(root / "config" / "sara.toml", project_dir=root).sara.agencies["city"].response_models \
        == {"NOISE": "administrative"}
