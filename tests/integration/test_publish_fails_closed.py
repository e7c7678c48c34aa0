"""`sara publish` on a tiny warehouse loaded by the real loader fails closed: adversarial address forms
(tests/support/leakscan.py) and codes missing from the crosswalk are masked, nothing else leaks."""

from __future__ import annotations

import json

import polars as pl
from typer.testing import CliRunner

from flows.cli import app
from tests.support.leakscan import (
    ADVERSARIAL,
    NON_ADDRESS_FORMATS,
    house_number_leaks,
    house_numbers,
    leaked_values,
    masking_counts,
)
from transforms.config.publish import PublishPolicy
from transforms.warehouse import db as wh
from transforms.warehouse import loader

PUBLISH = '[publish]\nsafe_unmapped_codes = {calls = ["NWSH"]}'
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

TYPES = {"types.csv": "code,call_type,call_category\nTHEFT,Petty Theft,Property Crime\n"}


def _tiny_warehouse(tiny_project, rows: list[tuple[str, str]]):
    """A project whose warehouse holds `rows` (call type code, address) loaded by the real loader."""
    p = tiny_project({"cad": TINY_CAD}, extra=PUBLISH, crosswalks=TYPES)
    ring = [[-122.52, 37.70], [-122.35, 37.70], [-122.35, 37.84], [-122.52, 37.84], [-122.52, 37.70]]
    (p.root / "config" / "areas.geojson").write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"district": "Central", "beat": "ADAM"},
         "geometry": {"type": "Polygon", "coordinates": [ring]}}]}))
    settings = p.settings
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True)
    lines = ["id,received,type,address,lon,lat"]
    for i, (code, address) in enumerate(rows):
        quoted = '"' + address.replace('"', '""') + '"'
        lines.append(f"K{i:03d},2024-03-0{1 + i % 5} {i % 24:02d}:17,{code},{quoted},"
                     f"{-122.43 + 0.0007 * i:.6f},{37.76 + 0.0003 * i:.6f}")
    (landing / "cad_1.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = wh.connect(settings.warehouse_path)  # closed before `sara publish` opens it
    try:
        wh.apply_schema(con)
        assert loader.load_raw_file(con, settings, "cad", landing / "cad_1.csv", "r1").status == "raw"
        (out,) = loader.normalize_pending(con, settings, "cad", "r1")
        assert out.status == "loaded" and out.rows_loaded == len(rows), out.message
        core = con.execute("SELECT * FROM core.calls ORDER BY call_id").pl()
    finally:
        con.close()
    return p.root, core


def test_sara_publish_on_a_tiny_warehouse_fails_closed(tiny_project, tmp_path):
    rows = [("THEFT", a) for a in ADVERSARIAL] + [("THEFT", "1234 ELM ST"), ("THEFT", "3rd St & Elm St")]
    rows += [("288", "1250 OAK ST"), ("SA", "1260 OAK ST"), ("DVASLT", "1270 OAK ST"), ("NWSH", "1280 OAK ST")]
    proj, core = _tiny_warehouse(tiny_project, rows)
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
    counts = masking_counts(log)
    n_unparsed = pub.filter(pl.col("masking_reason") == "unparsed_address").height
    assert counts["unmapped_code"] == 3 and counts["unparsed_address"] == n_unparsed >= 10
    assert counts["any"] == pub.filter(pl.col("masking_reason").is_not_null()).height == n_unparsed + 3
