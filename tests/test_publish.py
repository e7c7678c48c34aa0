"""Public extracts (the rules: transforms/stats/masking.py; the files: transforms/outputs/publish.py): nothing
outside the allowlist leaks, sensitive rows are masked, coordinates are snapped, times are on the hour, small cells
are suppressed.

Leak scan rule: every value of every column NOT in the allowlist (plus the exact lon/lat, which are replaced)
is searched as a substring of every written CSV/GeoJSON file. Values too short to mean anything are skipped:
booleans, and any value whose text is under 4 characters (e.g. 'Y', 'N', 'DV', a priority 2).

House-number scan (tests/leakscan.py says exactly what it counts as a house number): adversarial address forms
go through publish_events and through `sara publish` on a warehouse loaded by the real loader; no published cell
may hold a house number that is not a multiple of 100.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from pydantic import ValidationError
from pyproj import Transformer

from transforms.config.publish import PublishPolicy
from transforms.outputs.dictionary import extract_dictionary
from transforms.outputs.publish import publish_events, write_extract
from transforms.stats.masking import JUVENILE_NOTE, aggregate_with_suppression, grid_centroid

CRS = "EPSG:26910"  # NAD83 / UTM 10N, metres
TZ = "America/Los_Angeles"
T0 = datetime(2024, 3, 5, 14, 37, 12, tzinfo=UTC)
SENSITIVE = {"Sexual Offense", "Domestic Violence", "Behavioral Health"}

# (call_id, call_type, call_category, juvenile, address, address_block, x, y, district, beat, void)
ROWS = [
    ("C1001", "Petty Theft", "Property Crime", False, "1745 JERROLD AVE", "1700 BLOCK JERROLD AVE",
     551234.56, 4178765.43, "Bayview", "3C1", False),
    ("C1002", "Rape", "Sexual Offense", False, "2291 QUESADA AVE", "2200 BLOCK QUESADA AVE",
     551611.17, 4178322.81, "Bayview", "3C2", False),
    ("C1003", "Family Disturbance", "Domestic Violence", False, "418 ELLIS ST", "400 BLOCK ELLIS ST",
     550019.93, 4181922.37, "Tenderloin", "1E1", False),
    ("C1004", "Mentally Disturbed Person", "Behavioral Health", False, "3386 MISSION ST",
     "3300 BLOCK MISSION ST", 550702.11, 4176811.29, "Ingleside", "3H1", False),
    ("C1005", "Suspicious Person", "Disorder", True, "1172 GUERRERO ST", "1100 BLOCK GUERRERO ST",
     550211.74, 4179155.66, "Mission", "3D4", False),
    ("C1006", "Sexual Assault (Juvenile)", "Violent Crime", False, "655 NAPOLEON ST",
     "600 BLOCK NAPOLEON ST", 551422.38, 4179601.09, "Bayview", "3C3", False),
    ("C1007", "Noise Complaint", "Disorder", False, "UNKNOWN LOCATION ZQX", None,
     None, None, "Mission", None, False),
    ("C1008", "Petty Theft", "Property Crime", False, "1723 JERROLD AVE", "1700 BLOCK JERROLD AVE",
     551198.12, 4178742.66, "Bayview", "3C1", True),
    ("C1009", "Auto Burglary", "Property Crime", False, "1709 JERROLD AVE", "1700 BLOCK JERROLD AVE",
     551161.27, 4178719.58, "Bayview", "3C1", False),
    ("C1010", "Shoplifting", "Property Crime", False, "1788 JERROLD AVE", "1700 BLOCK JERROLD AVE",
     551302.44, 4178801.07, "Bayview", "3C1", False),
    ("C1011", "Traffic Collision", "Traffic", False, "2843 MISSION ST", "2800 BLOCK MISSION ST",
     550591.83, 4178077.52, "Mission", "3D1", False),
    ("C1012", "Auto Burglary", "Property Crime", False, "1733 JERROLD AVE", "1700 BLOCK JERROLD AVE",
     551247.95, 4178780.26, "Bayview", "3C1", False),
]
SENSITIVE_IDS = {"C1002", "C1003", "C1004", "C1006"}  # + C1005 when the juvenile flag is used


def calls_frame() -> pl.DataFrame:
    to_ll = Transformer.from_crs(CRS, "EPSG:4326", always_xy=True)
    recs = []
    for i, (cid, ctype, cat, juv, addr, block, x, y, district, beat, void) in enumerate(ROWS):
        t = T0 + timedelta(hours=7 * i, minutes=13 * i, seconds=17 * i)
        lon, lat = to_ll.transform(x, y) if x is not None else (None, None)
        recs.append({
            "call_id": cid, "source": "metro_cad_feed", "agency": "metro",
            "received_at": t, "dispatched_at": t + timedelta(seconds=97 + i),
            "onscene_at": t + timedelta(seconds=431 + 7 * i), "event_at": t,
            "time_precision": "exactish", "response_s": 431.25 + 7 * i,
            "call_type_code": f"CT{i:03d}", "call_type": ctype, "call_type_initial": f"Initially {ctype} {i}",
            "call_category": cat, "priority": "B", "disposition": f"Disposition text {i}",
            "disposition_category": "Handled", "origin": "phone_line", "juvenile_flag": juv, "is_void": void,
            "address": addr, "address_block": block, "location_key": f"lockey-{i:04d}",
            "lon": lon, "lat": lat, "x": x, "y": y, "is_located": x is not None, "beat": beat,
            "district": district, "load_id": f"metro_cad_feed:9f8e7d{i:02d}",
            "raw_caller_name": f"Zebediah Quackenbush-{i}", "raw_caller_phone": f"+1-415-555-{1200 + i}",
            "raw_narrative": f"RP states neighbour Ophelia Wintergreen #{i} hid the key under the blue pot",
        })
    schema_ts = pl.Datetime("us", "UTC")
    return pl.DataFrame(recs).with_columns(
        [pl.col(c).cast(schema_ts) for c in ("received_at", "dispatched_at", "onscene_at", "event_at")])


def _forms(v) -> list[str]:
    if v is None or isinstance(v, bool):
        return []
    if isinstance(v, datetime):
        forms = [str(v), v.isoformat(), v.strftime("%Y-%m-%dT%H:%M:%S"), v.strftime("%Y-%m-%d %H:%M:%S")]
    elif isinstance(v, float):
        forms = [repr(v), f"{v:.6f}"]
    else:
        forms = [str(v)]
    return [f for f in forms if len(f) >= 4]


@pytest.fixture
def published(tmp_path):
    df = calls_frame()
    policy = PublishPolicy()
    public, log = publish_events(df, "calls", policy, has_juvenile_flag=True, analysis_crs=CRS, timezone=TZ)
    paths = write_extract(public, tmp_path / "out", "calls_public", policy=policy, dataset="calls",
                          masking_log=log)
    return df, policy, public, log, paths


def test_no_value_of_a_non_allowlisted_column_is_written(published):
    df, policy, public, _, paths = published
    allowed = set(policy.columns["calls"])
    assert list(public.columns) == policy.columns["calls"]
    forbidden_cols = [c for c in df.columns if c not in allowed] + ["lon", "lat"]  # exact lon/lat are replaced
    assert {"raw_caller_name", "raw_caller_phone", "raw_narrative", "address", "x", "y"} <= set(forbidden_cols)
    data_files = [p for p in paths if p.suffix in (".csv", ".geojson")]
    assert {p.name for p in data_files} >= {"calls_public.csv", "calls_public.geojson"}
    texts = {p.name: p.read_text(encoding="utf-8") for p in data_files}
    checked = 0
    for c in forbidden_cols:
        for v in df[c].to_list():
            for form in _forms(v):
                checked += 1
                for name, text in texts.items():
                    assert form not in text, f"{c}={form!r} leaked into {name}"
    assert checked > 200
    # sensitive rows' blocks are unique to them in the fixture: they must not appear anywhere
    for cid, *_rest in ROWS:
        if cid in SENSITIVE_IDS:
            block = df.filter(pl.col("call_id") == cid)["address_block"].item()
            for name, text in texts.items():
                assert block not in text, f"sensitive block {block} leaked into {name}"


def test_sensitive_rows_are_generalized_to_district_with_a_reason(published):
    df, _, public, log, _ = published
    sens = public.filter(pl.col("call_id").is_in(SENSITIVE_IDS | {"C1005"}))
    assert sens.height == 5
    for r in sens.iter_rows(named=True):
        assert r["lon"] is None and r["lat"] is None and r["address_block"] is None and r["beat"] is None
        assert r["district"] is not None
        assert r["masking_reason"]
    reasons = dict(public.select("call_id", "masking_reason").iter_rows())
    assert reasons["C1002"] == "sensitive_category:Sexual Offense; sensitive_type:Rape; sensitive_type:call_type_initial"
    assert reasons["C1003"] == "sensitive_category:Domestic Violence"
    assert reasons["C1004"] == "sensitive_category:Behavioral Health"
    assert reasons["C1005"] == "juvenile_flag"
    assert reasons["C1006"].startswith("sensitive_type:Sexual Assault (Juvenile)")
    # every row in a sensitive category is masked
    cats = dict(df.select("call_id", "call_category").iter_rows())
    for cid, reason in reasons.items():
        if cats[cid] in SENSITIVE:
            assert reason
    # not sensitive: unmasked
    assert reasons["C1001"] is None and public.filter(pl.col("call_id") == "C1001")["address_block"].item()
    counts = {r["reason"]: r["rows"] for r in log.filter(pl.col("kind") == "masking").iter_rows(named=True)}
    assert counts["any"] == 5 and counts["juvenile_flag"] == 1 and counts["sensitive_category:Sexual Offense"] == 1
    assert log.filter(pl.col("reason") == "void")["rows"].item() == 1
    assert "C1008" not in public["call_id"].to_list()  # void
    assert log.filter(pl.col("kind") == "note").height == 0


def test_suppress_mode_blanks_the_district_too():
    policy = PublishPolicy(sensitive_location="suppress")
    public, _ = publish_events(calls_frame(), "calls", policy, has_juvenile_flag=True, analysis_crs=CRS)
    sens = public.filter(pl.col("masking_reason").is_not_null())
    assert sens.height == 5 and sens["district"].null_count() == 5
    assert public.filter(pl.col("masking_reason").is_null())["district"].null_count() == 0


def test_coordinates_are_grid_cell_centres_not_the_exact_points(published):
    df, policy, public, log, _ = published
    to_xy = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    exact = df.filter(~pl.col("is_void")).select("call_id", "x", "y", "lon", "lat")
    j = public.select("call_id", plon="lon", plat="lat").join(exact, on="call_id").filter(pl.col("plon").is_not_null())
    assert j.height == 5  # C1001, C1009-C1012: nothing sensitive, unlocated or void
    g = policy.grid_cell_m
    for r in j.iter_rows(named=True):
        assert (r["plon"], r["plat"]) != (r["lon"], r["lat"])
        px, py = to_xy.transform(r["plon"], r["plat"])
        assert px == pytest.approx(grid_centroid(np.array(r["x"]), g), abs=1e-3)
        assert py == pytest.approx(grid_centroid(np.array(r["y"]), g), abs=1e-3)
        assert 0 < np.hypot(px - r["x"], py - r["y"]) <= g * np.sqrt(2) / 2
    assert public.filter(pl.col("call_id") == "C1007")["lon"].item() is None
    assert log.filter(pl.col("reason") == "location_snapped:grid")["rows"].item() == 5
    assert log.filter(pl.col("reason") == "no_location")["rows"].item() == 1


def test_block_snap_uses_block_mean_or_falls_back_to_grid():
    df = calls_frame()
    public, log = publish_events(df, "calls", PublishPolicy(coordinate_snap="block"), has_juvenile_flag=True,
                                 analysis_crs=CRS)
    to_xy = Transformer.from_crs("EPSG:4326", CRS, always_xy=True)
    # 5 points, one void: the mean is over the 4 published ones
    block = df.filter((pl.col("address_block") == "1700 BLOCK JERROLD AVE") & ~pl.col("is_void"))
    mx, my = block["x"].mean(), block["y"].mean()
    for r in public.filter(pl.col("address_block") == "1700 BLOCK JERROLD AVE").iter_rows(named=True):
        px, py = to_xy.transform(r["lon"], r["lat"])
        assert (px, py) == (pytest.approx(mx, abs=1e-3), pytest.approx(my, abs=1e-3))
    lone = public.filter(pl.col("call_id") == "C1011").row(0, named=True)  # a block of one point
    px, py = to_xy.transform(lone["lon"], lone["lat"])
    assert px == pytest.approx(grid_centroid(np.array(550591.83), 250.0), abs=1e-3)
    assert log.filter(pl.col("reason") == "location_snapped:grid_fallback")["rows"].item() == 1


def test_times_are_local_hours_with_offset(published):
    df, _, public, _, paths = published
    exact = dict(df.select("call_id", "event_at").iter_rows())
    for cid, hour in public.select("call_id", "event_hour").iter_rows():
        t = datetime.fromisoformat(hour)
        assert t.minute == 0 and t.second == 0 and t.microsecond == 0
        assert t.utcoffset() in (timedelta(hours=-8), timedelta(hours=-7))
        assert t <= exact[cid] < t + timedelta(hours=1)
    first = public.filter(pl.col("call_id") == "C1001")["event_hour"].item()
    assert first == "2024-03-05T06:00:00-08:00"  # 14:37:12 UTC = 06:37 PST
    # DST: the 03:00 hour right after the spring-forward gap carries -07:00
    dst = pl.DataFrame({"event_at": [datetime(2024, 3, 10, 10, 5, tzinfo=UTC)]}).with_columns(
        pl.col("event_at").cast(pl.Datetime("us", "UTC")))
    pol = PublishPolicy(columns={"calls": ["event_hour"]})
    out, _ = publish_events(dst, "calls", pol, has_juvenile_flag=False, analysis_crs=CRS, timezone=TZ)
    assert out["event_hour"].item() == "2024-03-10T03:00:00-07:00"


def test_other_allowlisted_times_are_rounded_too():
    pol = PublishPolicy(columns={"calls": ["call_id", "received_at"]})
    out, _ = publish_events(calls_frame(), "calls", pol, has_juvenile_flag=True, analysis_crs=CRS)
    assert all(v.endswith(":00:00+00:00") for v in out["received_at"])


def test_small_cells_are_suppressed(published):
    df, _, public, _, _ = published
    agg = aggregate_with_suppression(public, ["district"], k_min=3)
    rows = {r["district"]: r for r in agg.iter_rows(named=True)}
    assert rows["Bayview"]["n"] == 6 and rows["Bayview"]["suppressed"] is False  # 7 Bayview rows, one void
    assert rows["Mission"]["n"] == 3 and rows["Mission"]["suppressed"] is False
    for d in ("Tenderloin", "Ingleside"):
        assert rows[d]["n"] is None and rows[d]["suppressed"] is True
    agg2 = aggregate_with_suppression(public, ["district", "call_category"], k_min=3)
    assert agg2.filter(pl.col("suppressed"))["n"].null_count() == agg2["suppressed"].sum()
    assert agg2.filter(pl.col("n").is_not_null())["n"].min() >= 3


def test_juvenile_note_when_the_feed_has_no_flag(tmp_path):
    df = calls_frame().drop("juvenile_flag")
    policy = PublishPolicy()
    public, log = publish_events(df, "calls", policy, has_juvenile_flag=False, analysis_crs=CRS)
    assert JUVENILE_NOTE in log.filter(pl.col("kind") == "note")["detail"].to_list()
    # the juvenile-only row (C1005) is then NOT masked: that is what the note warns about
    assert public.filter(pl.col("call_id") == "C1005")["masking_reason"].item() is None
    # the juvenile-typed sexual assault is still caught by the type patterns
    assert public.filter(pl.col("call_id") == "C1006")["lon"].item() is None
    paths = write_extract(public, tmp_path, "calls", policy=policy, dataset="calls", masking_log=log)
    md = next(p for p in paths if p.name == "calls_dictionary.md").read_text()
    assert JUVENILE_NOTE in md
    with pytest.raises(ValueError, match="juvenile_flag"):
        publish_events(df, "calls", policy, has_juvenile_flag=True, analysis_crs=CRS)


def test_geojson_points_and_null_geometry(published):
    _, _, public, _, paths = published
    gj = json.loads(next(p for p in paths if p.suffix == ".geojson").read_text())
    assert gj["type"] == "FeatureCollection" and len(gj["features"]) == public.height
    by_id = {f["properties"]["call_id"]: f for f in gj["features"]}
    for r in public.iter_rows(named=True):
        f = by_id[r["call_id"]]
        if r["lon"] is None:
            assert f["geometry"] is None
        else:
            assert f["geometry"] == {"type": "Point", "coordinates": [r["lon"], r["lat"]]}
        assert "lon" not in f["properties"] and "masking_reason" in f["properties"]
    csv = pl.read_csv(next(p for p in paths if p.suffix == ".csv"))
    assert csv.columns == public.columns and csv.height == public.height


def test_data_dictionary_describes_every_column():
    policy = PublishPolicy()
    for ds in ("calls", "incidents"):
        md = extract_dictionary(policy, ds)
        for c in policy.columns[ds]:
            assert f"| {c} |" in md
        assert "250 m grid" in md and "rounded down to the hour" in md


def test_write_is_atomic_and_refuses_unlisted_columns(tmp_path, published):
    _, policy, public, _, _ = published
    out = tmp_path / "x"
    with pytest.raises(ValueError, match="allowlist"):
        write_extract(public.with_columns(raw_caller_name=pl.lit("Zed")), out, "c", policy=policy, dataset="calls")
    assert not out.exists()  # refused before anything was written
    write_extract(public, out, "c", policy=policy, dataset="calls")
    assert sorted(p.name for p in out.iterdir()) == ["c.csv", "c.geojson", "c_dictionary.md"]


def test_policy_is_strict():
    with pytest.raises(ValidationError):
        PublishPolicy(colums={})  # typo: extra="forbid"
    for bad in ("raw_narrative", "address", "x"):
        with pytest.raises(ValidationError):
            PublishPolicy(columns={"calls": ["call_id", bad]})
    with pytest.raises(ValueError, match="missing"):
        publish_events(calls_frame(), "calls", PublishPolicy(columns={"calls": ["nope"]}), has_juvenile_flag=True,
                       analysis_crs=CRS)


def test_type_patterns_match_word_starts():
    df = pl.DataFrame({"call_type": ["Grape theft", "Statutory Rape", "Juvenile runaway", None],
                       "call_category": ["Property Crime"] * 4, "x": [551234.5] * 4, "y": [4178765.4] * 4})
    pol = PublishPolicy(columns={"calls": ["call_type", "lon", "masking_reason"]})
    out, _ = publish_events(df, "calls", pol, has_juvenile_flag=False, analysis_crs=CRS)
    assert out["masking_reason"].to_list() == [None, "sensitive_type:Statutory Rape",
                                               "sensitive_type:Juvenile runaway", None]
    assert out["lon"].null_count() == 2


def test_incidents_dataset():
    inc = calls_frame().rename({"call_id": "incident_id", "call_category": "offense_category",
                                "call_type": "offense"}).with_columns(crime_against=pl.lit("Person"))
    public, _ = publish_events(inc, "incidents", PublishPolicy(), has_juvenile_flag=False, analysis_crs=CRS)
    assert public.columns == PublishPolicy().columns["incidents"]
    assert public.filter(pl.col("incident_id") == "C1002")["masking_reason"].item().startswith(
        "sensitive_category:Sexual Offense")


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
