"""Public extracts (the rules: transforms/stats/masking.py; the files: transforms/outputs/publish.py): nothing
outside the allowlist leaks, sensitive rows are masked, coordinates are snapped, times are on the hour, small cells
are suppressed.

Leak scan rule: every value of every column NOT in the allowlist (plus the exact lon/lat, which are replaced)
is searched as a substring of every written CSV/GeoJSON file. Values too short to mean anything are skipped:
booleans, and any value whose text is under 4 characters (e.g. 'Y', 'N', 'DV', a priority 2).

The address and unmapped-code rules, which fail closed, and the house-number scan of adversarial address forms are
tested in tests/unit/test_masking.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

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
