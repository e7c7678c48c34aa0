"""The masking rules that fail closed (transforms/stats/masking.py): an address is published only when it parses
as a block or an intersection, and a code missing from the crosswalk is treated as sensitive unless the policy lists
it safe. Adversarial address forms go through publish_events and write_extract (and, in
tests/integration/test_publish_fails_closed.py, through `sara publish` on a warehouse loaded by the real loader);
tests/support/leakscan.py says exactly what counts as a house number, independently of the code under test.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from pydantic import ValidationError
from pyproj import Transformer

from tests.support.leakscan import ADVERSARIAL, LOOK_ALIKES, PUBLISHABLE, masking_counts
from transforms.config.publish import PublishPolicy
from transforms.outputs.dictionary import extract_dictionary
from transforms.outputs.publish import publish_events, write_extract

CRS = "EPSG:26910"  # NAD83 / UTM 10N, metres
TZ = "America/Los_Angeles"
T0 = datetime(2024, 3, 5, 14, 37, 12, tzinfo=UTC)

# ----------------------------------------------------------------------------------- the address fails closed


def _address_frame(blocks: list[str | None], addresses: list[str | None] | None = None) -> pl.DataFrame:
    """Core-like calls: one mapped, non-sensitive call per address_block, each at its own located point."""
    n = len(blocks)
    addresses = addresses if addresses is not None else blocks
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    x = [551000.0 + 37.0 * i for i in range(n)]
    y = [4178000.0 + 11.0 * i for i in range(n)]
    lon, lat = to_ll.transform(x, y)
    return pl.DataFrame({
        "call_id": [f"ADV-{i:02d}" for i in range(n)], "agency": "metro",
        "event_at": [T0 + timedelta(minutes=29 * i) for i in range(n)],
        "call_type_code": "THEFT", "call_type": "Petty Theft", "call_type_initial": "Petty Theft",
        "call_category": "Property Crime", "priority": "B", "disposition_category": "Handled",
        "juvenile_flag": False, "is_void": False, "address": addresses, "address_block": blocks,
        "location_key": addresses, "x": x, "y": y, "lon": list(lon), "lat": list(lat),
        "beat": "CHARLIE", "district": "Bayview",
    }, schema_overrides={"address": pl.String, "address_block": pl.String, "location_key": pl.String,
                         "event_at": pl.Datetime("us", "UTC")})


def test_the_scan_sees_a_house_number_in_every_adversarial_form():
    from tests.support.leakscan import house_numbers

    assert len(ADVERSARIAL) >= 30
    for form in ADVERSARIAL:
        assert house_numbers(form) or form == "0000X W MADISON ST", form
    for value in PUBLISHABLE:
        assert house_numbers(value) == [], value
    # the rule's edges: wrong ordinal suffixes, letters glued, 4-digit ordinals and routes, route words inside
    # other words, zip codes, times
    assert house_numbers("12ST ST / 112ND AVE / N21ST ST") == ["12", "112", "21"]
    assert house_numbers("1234TH ST / HWY 1234 / HWY 101A / SHWY 101") == ["1234", "1234", "101", "101"]
    assert house_numbers("CA 94110") == ["94110"] and house_numbers("2024-03-05T06:00") == ["2024", "03", "05", "06"]
    assert house_numbers("0 BLOCK X / 01200 BLOCK Y / 12XX Z") == ["12"]


@pytest.mark.parametrize("location", ["district", "suppress"])
def test_only_blocks_and_intersections_are_published(location):
    bad = ADVERSARIAL + LOOK_ALIKES
    df = _address_frame(PUBLISHABLE + bad + [None])  # core holding every form verbatim as its block
    policy = PublishPolicy(sensitive_location=location)
    public, log = publish_events(df, "calls", policy, has_juvenile_flag=True, analysis_crs=CRS, timezone=TZ)
    by_block = dict(zip(df["address_block"].to_list(), public.iter_rows(named=True), strict=True))
    for value in PUBLISHABLE:
        r = by_block[value]
        assert r["address_block"] == value and r["masking_reason"] is None, r
        assert r["lon"] is not None and r["beat"] == "CHARLIE" and r["district"] == "Bayview"
    for value in bad:
        r = by_block[value]
        assert r["masking_reason"] == "unparsed_address", (value, r)
        assert (r["address_block"], r["beat"], r["lon"], r["lat"]) == (None, None, None, None), (value, r)
        assert r["district"] == "Bayview"  # suppressed TO the district: kept in both modes (not sensitive)
    unlocated_address = by_block[None]  # no address at all: nothing to parse, the point is still published
    assert unlocated_address["masking_reason"] is None and unlocated_address["lon"] is not None
    counts = masking_counts(log)
    assert counts["unparsed_address"] == len(bad) and counts["any"] == len(bad)


def test_an_unpublished_address_block_is_not_judged():
    pol = PublishPolicy(columns={"calls": ["call_id", "lon", "lat", "masking_reason"]})
    public, log = publish_events(_address_frame(["1234 ELM ST"]), "calls", pol, has_juvenile_flag=False,
                                 analysis_crs=CRS)
    assert public["masking_reason"].to_list() == [None] and public["lon"].null_count() == 0
    assert "unparsed_address" not in masking_counts(log)


@pytest.mark.parametrize("core", ["verbatim", "normalized"])
def test_adversarial_addresses_leak_no_house_number(core, tmp_path):
    from tests.support.leakscan import NON_ADDRESS_FORMATS, house_number_leaks
    from transforms.stats.address import block_address, clean_address

    raw = pl.Series("address", ADVERSARIAL + PUBLISHABLE)
    blocks = raw if core == "verbatim" else block_address(raw)
    df = _address_frame(blocks.to_list(), clean_address(raw).to_list())
    policy = PublishPolicy()
    public, log = publish_events(df, "calls", policy, has_juvenile_flag=True, analysis_crs=CRS, timezone=TZ)
    write_extract(public, tmp_path / "out", "calls", policy=policy, dataset="calls", masking_log=log)
    ids = NON_ADDRESS_FORMATS | {"call_id": r"ADV-\d{2}"}  # the fixture's row ids: not addresses
    assert house_number_leaks(tmp_path / "out", ids) == []
    # the scan bites: the same frame written without the publish step is full of house numbers
    df.select("call_id", "address", "address_block").write_csv(tmp_path / "unsafe.csv")
    (tmp_path / "unsafe").mkdir()
    (tmp_path / "unsafe.csv").rename(tmp_path / "unsafe" / "core.csv")
    assert len({cell for _, _, cell, _ in house_number_leaks(tmp_path / "unsafe", ids)}) >= 30
    published = public.filter(pl.col("address_block").is_not_null()).height
    assert published >= len(PUBLISHABLE)
    no_address = df["address_block"].null_count()  # core could not clean these at all (e.g. "#5 ...", "1234 ...")
    assert masking_counts(log)["unparsed_address"] == public.height - published - no_address


def test_normalized_forms_publish_as_blocks_when_core_parses_them():
    from transforms.stats.address import block_address

    forms = ["1242-B ELM ST", "APT 4 1234 ELM ST", "#5 1234 ELM ST", "UNIT B 1236 ELM ST", "1234.5 ELM ST",
             "1234 elm st", "1234-1240 ELM ST", "12XX ELM ST", "ELM ST 1238", "N1244 ELM ST", "PO BOX 1234"]
    df = _address_frame(block_address(pl.Series(forms)).to_list(), forms)
    public, log = publish_events(df, "calls", PublishPolicy(), has_juvenile_flag=True, analysis_crs=CRS)
    got = dict(zip(forms, public.select("address_block", "masking_reason").iter_rows(), strict=True))
    for f in forms[:8]:
        assert got[f] == ("1200 BLOCK ELM ST", None), (f, got[f])
    for f in forms[8:]:  # a trailing number may be a unit; N1244 and PO boxes are not street addresses
        assert got[f] == (None, "unparsed_address"), (f, got[f])
    assert masking_counts(log)["unparsed_address"] == 3


# ------------------------------------------------------------------------------------ unmapped codes fail closed

def _codes_frame(rows: list[tuple[str | None, str | None, str | None]], dataset: str = "calls") -> pl.DataFrame:
    """(code, type text, category) per row; every row at a distinct, mappable block."""
    df = _address_frame([f"{100 * (i + 1)} BLOCK ELM ST" for i in range(len(rows))])
    codes, types, cats = (list(c) for c in zip(*rows, strict=True))
    df = df.with_columns(pl.Series("call_type_code", codes, pl.String), pl.Series("call_type", types, pl.String),
                         pl.Series("call_type_initial", types, pl.String), pl.Series("call_category", cats, pl.String))
    if dataset == "incidents":
        df = df.drop("call_type_initial").rename({"call_id": "incident_id", "call_type_code": "offense_code",
                                                  "call_type": "offense", "call_category": "offense_category"})
        df = df.with_columns(crime_against=pl.lit("Person"))
    return df


# core's categories: the crosswalk's, 'Unmapped' for a code missing from it, 'Unknown' for a missing code
CODE_ROWS = [
    ("288", "288", "Unmapped"),  # child sexual abuse (CA penal code), missing from the crosswalk
    ("SA", "SA", "Unmapped"),
    ("DVASLT", "DVASLT", "Unmapped"),
    (None, None, "Unknown"),
    ("ZZ9", "ZZ9", None),  # no category at all
    ("nwsh", "nwsh", "Unmapped"),  # listed safe below, in another case
    ("THEFT", "Petty Theft", "Property Crime"),
]


@pytest.mark.parametrize("dataset", ["calls", "incidents"])
def test_unmapped_codes_are_masked_unless_listed_safe(dataset):
    df = _codes_frame(CODE_ROWS, dataset)
    pub, log = publish_events(df, dataset, PublishPolicy(), has_juvenile_flag=False, analysis_crs=CRS)
    reasons = pub["masking_reason"].to_list()
    assert reasons == ["unmapped_code"] * 6 + [None]
    masked = pub.head(6)
    assert masked["district"].to_list() == ["Bayview"] * 6
    for c in ("address_block", "beat", "lon", "lat"):
        assert masked[c].null_count() == 6, c
    assert pub[-1, "address_block"] == "700 BLOCK ELM ST" and pub[-1, "lon"] is not None
    counts = masking_counts(log)
    assert counts["unmapped_code"] == 6 and counts["any"] == 6
    # the policy lists a code safe (case-insensitive, per dataset): only that one is published
    safe = PublishPolicy(safe_unmapped_codes={dataset: ["NWSH", "288X"]})
    pub2, log2 = publish_events(df, dataset, safe, has_juvenile_flag=False, analysis_crs=CRS)
    assert pub2["masking_reason"].to_list() == ["unmapped_code"] * 5 + [None, None]
    assert pub2[5, "address_block"] == "600 BLOCK ELM ST"
    assert masking_counts(log2)["unmapped_code"] == 5
    other = "incidents" if dataset == "calls" else "calls"
    pub3, _ = publish_events(df, dataset, PublishPolicy(safe_unmapped_codes={other: ["NWSH"]}),
                             has_juvenile_flag=False, analysis_crs=CRS)
    assert pub3["masking_reason"].to_list() == reasons  # listed for the other dataset: still masked
    # sensitive_location = suppress: unmapped codes are sensitive, so the district goes too
    pub4, _ = publish_events(df, dataset, PublishPolicy(sensitive_location="suppress"), has_juvenile_flag=False,
                             analysis_crs=CRS)
    assert pub4.head(6)["district"].null_count() == 6 and pub4[-1, "district"] == "Bayview"


def test_unmapped_reason_joins_the_others_and_a_missing_category_column_fails_closed():
    df = _codes_frame([("RAPE1", "Rape", "Unmapped"), ("SA", "SA", "Unmapped")])
    df = df.with_columns(address_block=pl.Series(["1234 ELM ST", "100 BLOCK ELM ST"]))
    pub, log = publish_events(df, "calls", PublishPolicy(), has_juvenile_flag=False, analysis_crs=CRS)
    assert pub["masking_reason"].to_list() == [
        "sensitive_type:Rape; sensitive_type:call_type_initial; unmapped_code; unparsed_address", "unmapped_code"]
    counts = masking_counts(log)
    assert (counts["unmapped_code"], counts["unparsed_address"], counts["any"]) == (2, 1, 2)
    pol = PublishPolicy(columns={"calls": ["call_id", "lon", "masking_reason"]})
    out, _ = publish_events(_address_frame(["100 BLOCK ELM ST"]).drop("call_category"), "calls", pol,
                            has_juvenile_flag=False, analysis_crs=CRS)
    assert out["masking_reason"].to_list() == ["unmapped_code"] and out["lon"].to_list() == [None]


def test_safe_unmapped_codes_policy_is_strict():
    with pytest.raises(ValidationError, match="safe_unmapped_codes"):
        PublishPolicy(safe_unmapped_codes={"call": ["X"]})
    with pytest.raises(ValidationError):
        PublishPolicy(safe_unmapped_codes={"calls": [""]})


def test_dictionary_explains_the_fail_closed_rules():
    md = extract_dictionary(PublishPolicy(safe_unmapped_codes={"calls": ["NWSH"]}), "calls")
    assert "unparsed_address" in md and "unmapped_code" in md and "NWSH" in md
