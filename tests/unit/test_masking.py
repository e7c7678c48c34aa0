"""The masking rules that fail closed (transforms/stats/masking.py): an address is published only when it parses
as a block or an intersection, and a code missing from the crosswalk is treated as sensitive unless the policy lists
it safe. Adversarial address forms go through publish_events and write_extract, and through `sara publish` on a
warehouse loaded by the real loader; tests/leakscan.py says exactly what counts as a house number, independently of
the code under test.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from pydantic import ValidationError
from pyproj import Transformer

from transforms.config.publish import PublishPolicy
from transforms.outputs.dictionary import extract_dictionary
from transforms.outputs.publish import publish_events, write_extract

CRS = "EPSG:26910"  # NAD83 / UTM 10N, metres
TZ = "America/Los_Angeles"
T0 = datetime(2024, 3, 5, 14, 37, 12, tzinfo=UTC)

# ----------------------------------------------------------------------------------- the address fails closed
# Raw address forms that each hide a house number that is not a multiple of 100 (tests/leakscan.py says what
# the scan counts as a house number), except the Chicago-style "0000X" whose digits are 0.
ADVERSARIAL = [
    "APT 4 1234 ELM ST", "#5 1234 ELM ST", "UNIT B 1236 ELM ST", "STE 300 1238 ELM ST",  # unit before
    "1234 ELM ST APT 5", "1234 ELM ST #12", "1234 ELM ST UNIT 5B", "1234 ELM ST STE 301",  # unit after
    "ELM ST 1238", "ELM ST 1238 #4", "1234 ELM ST 5",  # number after the street, bare trailing unit
    "1242-B ELM ST", "1242B ELM ST", "N1244 ELM ST", "W 1244 ELM ST", "1234ELM ST",  # letters glued or before
    "1234 1/2 ELM ST", "1234 1/2", "1234.5 ELM ST", "1,234 ELM ST",  # fractions, decimals, thousands comma
    "1234-1240 ELM ST", "1234 - 1240 ELM ST", "123-45 67TH AVE",  # ranges, Queens-style
    "PO BOX 1234", "P.O. Box 1234", "RR 2 BOX 1234",  # boxes
    "MM 12.5 HWY 1", "MILE MARKER 123", "1234 HWY 101", "HWY 1234",  # mile markers, highways
    "1234 elm st", "1234 Elm St", "1234 n. elm street",  # lower and mixed case
    "01234 ELM ST", "12XX ELM ST", "023XX ELM ST", "012XX W MADISON ST", "0000X W MADISON ST",  # zeros, masks
    "1234 ELM ST, RIVERTON, CA 94110", "ELM ST, RIVERTON, CA 94110",  # city, state, zip
    "1234", "BLOCK 1234", "1234 BLOCK", "ELM ST / 1234 OAK ST", "1234 21ST AVE", "1234TH ST",  # odd shapes
    "1234 COUNTY RD 12", "Apt 4, 1234 Elm St",
]
# What a core that holds these verbatim must never publish either: published-looking values that are not
# a block or an intersection of street names by the strict parse
LOOK_ALIKES = [
    "1250 BLOCK ELM ST", "1200 BLOCK ELM ST 5", "1200 BLOCK ELM ST APT 5", "01200 BLOCK ELM ST",
    "1200 BLOCK 1234TH ST", "1200 BLOCK 12ST ST", "BLOCK ELM ST", "1200 BLOCK", "ELM ST", "PIER 7",
    "1200 block elm st", "1200 BLOCK HWY 1234", "1200 BLOCK ELM ST, CA 94110", "12XX BLOCK ELM ST",
    "1200 BLOCK N1244 ELM ST", "ELM ST / OAK ST / PINE ST", "ELM ST /", "1200 BLOCK ELM ST / OAK ST",
    "1200 BLOCK 21 ST", "1200 BLOCK I-8000", "1200 BLOCK ELM-1234 ST", "\u0661\u0662\u0660\u0660 BLOCK ELM ST",
    "1200 BLOCK ELM  ST", "1200 BLOCK ELM\tST", " 1200 BLOCK ELM ST", "1200 BLOCK ELM ST ",
]
# published as they are: blocks and intersections, with ordinal streets and route numbers
PUBLISHABLE = [
    "1200 BLOCK ELM ST", "0 BLOCK W MADISON ST", "3RD ST / ELM ST", "100 BLOCK 21ST AVE", "1200 BLOCK HWY 101",
    "ELM ST / I-80", "HWY 1 / US 50", "101ST ST / STATE ROUTE 9", "200 BLOCK E 1ST AVE", "12300 BLOCK 111TH ST",
    "1000 BLOCK SE MARINE DR", "ABBOTT ST / W HASTINGS ST", "0 BLOCK RTE 9", "2400 BLOCK E 1ST AVE",
    "800 BLOCK MARTIN LUTHER KING JR WAY", "0 BLOCK US HWY 50", "JEAN-PAUL ST / 12TH ST",
]


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


def _masking_counts(log: pl.DataFrame) -> dict[str, int]:
    return {r: n for r, n in log.filter(pl.col("kind") == "masking").select("reason", "rows").iter_rows()}


def test_the_scan_sees_a_house_number_in_every_adversarial_form():
    from tests.leakscan import house_numbers

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
    counts = _masking_counts(log)
    assert counts["unparsed_address"] == len(bad) and counts["any"] == len(bad)


def test_an_unpublished_address_block_is_not_judged():
    pol = PublishPolicy(columns={"calls": ["call_id", "lon", "lat", "masking_reason"]})
    public, log = publish_events(_address_frame(["1234 ELM ST"]), "calls", pol, has_juvenile_flag=False,
                                 analysis_crs=CRS)
    assert public["masking_reason"].to_list() == [None] and public["lon"].null_count() == 0
    assert "unparsed_address" not in _masking_counts(log)


@pytest.mark.parametrize("core", ["verbatim", "normalized"])
def test_adversarial_addresses_leak_no_house_number(core, tmp_path):
    from tests.leakscan import NON_ADDRESS_FORMATS, house_number_leaks
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
    assert _masking_counts(log)["unparsed_address"] == public.height - published - no_address


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
    assert _masking_counts(log)["unparsed_address"] == 3


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
    counts = _masking_counts(log)
    assert counts["unmapped_code"] == 6 and counts["any"] == 6
    # the policy lists a code safe (case-insensitive, per dataset): only that one is published
    safe = PublishPolicy(safe_unmapped_codes={dataset: ["NWSH", "288X"]})
    pub2, log2 = publish_events(df, dataset, safe, has_juvenile_flag=False, analysis_crs=CRS)
    assert pub2["masking_reason"].to_list() == ["unmapped_code"] * 5 + [None, None]
    assert pub2[5, "address_block"] == "600 BLOCK ELM ST"
    assert _masking_counts(log2)["unmapped_code"] == 5
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
    counts = _masking_counts(log)
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


# ------------------------------------------------------------------ `sara publish` on a tiny loaded warehouse

TINY_TOML = """
sources = ["cad"]
[agencies.city]
name = "Test City"
timezone = "America/Los_Angeles"
crs = "EPSG:26910"
bbox = [-122.52, 37.70, -122.35, 37.84]
[publish]
safe_unmapped_codes = {calls = ["NWSH"]}
"""

TINY_CAD = r"""
name: cad
kind: calls
agency: city
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  received_at: {columns: [received], formats: ["%Y-%m-%d %H:%M"]}
columns: {call_type_code: type, address: address}
coordinates: {x: lon, y: lat, crs: EPSG:4326}
crosswalks: {call_types: config/crosswalks/types.csv}
polygons:
  district: {path: config/areas.geojson, field: district}
  beat: {path: config/areas.geojson, field: beat}
"""

TINY_TYPES = "code,call_type,call_category\nTHEFT,Petty Theft,Property Crime\n"


def _tiny_warehouse(tmp_path: Path, rows: list[tuple[str, str]]):
    """A project whose warehouse holds `rows` (call type code, address) loaded by the real loader."""
    from tests.conftest import make_project
    from transforms.config import load_settings
    from transforms.warehouse import db as wh
    from transforms.warehouse import loader

    proj = make_project(tmp_path / "proj", TINY_TOML, {"cad": TINY_CAD}, {"types.csv": TINY_TYPES})
    ring = [[-122.52, 37.70], [-122.35, 37.70], [-122.35, 37.84], [-122.52, 37.84], [-122.52, 37.70]]
    (proj / "config" / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"district": "Central", "beat": "ADAM"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True)
    lines = ["id,received,type,address,lon,lat"]
    for i, (code, address) in enumerate(rows):
        quoted = '"' + address.replace('"', '""') + '"'
        lines.append(f"K{i:03d},2024-03-0{1 + i % 5} {i % 24:02d}:17,{code},{quoted},"
                     f"{-122.43 + 0.0007 * i:.6f},{37.76 + 0.0003 * i:.6f}")
    (landing / "cad_1.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = wh.connect(settings.warehouse_path)
    try:
        wh.apply_schema(con)
        assert loader.load_raw_file(con, settings, "cad", landing / "cad_1.csv", "r1").status == "raw"
        (out,) = loader.normalize_pending(con, settings, "cad", "r1")
        assert out.status == "loaded" and out.rows_loaded == len(rows), out.message
        core = con.execute("SELECT * FROM core.calls ORDER BY call_id").pl()
    finally:
        con.close()
    return proj, core


def test_sara_publish_on_a_tiny_warehouse_fails_closed(tmp_path):
    from typer.testing import CliRunner

    from flows.cli import app
    from tests.leakscan import NON_ADDRESS_FORMATS, house_number_leaks, house_numbers, leaked_values

    rows = [("THEFT", a) for a in ADVERSARIAL] + [("THEFT", "1234 ELM ST"), ("THEFT", "3rd St & Elm St")]
    rows += [("288", "1250 OAK ST"), ("SA", "1260 OAK ST"), ("DVASLT", "1270 OAK ST"), ("NWSH", "1280 OAK ST")]
    proj, core = _tiny_warehouse(tmp_path, rows)
    out = tmp_path / "public"
    res = CliRunner().invoke(app, ["publish", "--config", str(proj / "config" / "sara.toml"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    # the fixture's row ids and call type codes are not addresses
    assert house_number_leaks(out, NON_ADDRESS_FORMATS | {"call_id": r"K\d{3}", "call_type": "288"}) == []
    assert leaked_values(core, PublishPolicy().allowlist("calls"), out) == []
    pub = pl.read_csv(out / "cad.csv", infer_schema=False).join(
        core.select(call_id=pl.col("call_id"), raw=pl.col("address"), core_block=pl.col("address_block"),
                    code=pl.col("call_type_code")), on="call_id")
    assert pub.height == len(rows)
    for r in pub.iter_rows(named=True):
        if r["code"] in ("288", "SA", "DVASLT"):
            assert r["masking_reason"] == "unmapped_code" and r["address_block"] is None, r
        elif r["masking_reason"] is None:  # published as core holds it, without a house number
            assert r["address_block"] == r["core_block"] and not house_numbers(r["core_block"] or ""), r
        else:
            assert r["masking_reason"] == "unparsed_address" and r["core_block"] is not None, r
        if r["masking_reason"]:
            assert (r["beat"], r["lon"], r["lat"]) == (None, None, None) and r["district"] == "Central", r
    assert pub.filter(pl.col("code") == "NWSH")["address_block"].to_list() == ["1200 BLOCK OAK ST"]
    assert "3RD ST / ELM ST" in pub["address_block"].to_list()
    log = pl.read_csv(out / "cad_masking_log.csv")
    counts = _masking_counts(log)
    n_unparsed = pub.filter(pl.col("masking_reason") == "unparsed_address").height
    assert counts["unmapped_code"] == 3 and counts["unparsed_address"] == n_unparsed >= 10
    assert counts["any"] == pub.filter(pl.col("masking_reason").is_not_null()).height == n_unparsed + 3
