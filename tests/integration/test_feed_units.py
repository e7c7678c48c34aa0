"""Beat and district from the feed's own columns, the polygon layers as the fallback, and how often the two
disagree (core.*.beat_source / district_source / *_polygon, transforms/warehouse/status.py unit_sources).

A hand-made city of 1 km x 1 km (UTM 10N) cut into two beats (west B1, east B2) and two districts (south 01,
north 02); a CAD feed with `Beat` and `Police_District` columns that disagree with the polygons on some rows,
and an RMS feed with a district column and no layer at all.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely

from tests.support.project import write_project
from transforms.config import ConfigError, load_settings
from transforms.warehouse import db as wh
from transforms.warehouse import loader
from transforms.warehouse import status as st

TOML = """
sources = ["cad", "rms"]
[agencies.city]
name = "Square City"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
boundary = "config/area.gpkg"
"""

CAD = r"""
name: cad
kind: calls
agency: city
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  received_at: {columns: [when], formats: ["%Y-%m-%d %H:%M"]}
columns: {call_type_code: type, beat: Beat, district: Police_District}
coordinates: {x: x, y: y, crs: EPSG:32610}
crosswalks: {districts: config/crosswalks/districts.csv}
polygons:
  beat: {path: config/units.gpkg, layer: beats, field: beat}
  district: {path: config/units.gpkg, layer: districts, field: district}
"""
# the feed writes districts 1 and 2; the layer 01 and 02
DISTRICTS = "code,district\n1,01\n2,02\n"

RMS = r"""
name: rms
kind: incidents
agency: city
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  occurred_from: {columns: [when], formats: ["%Y-%m-%d %H:%M"]}
columns: {offense_code: code, district: dist}
coordinates: {x: x, y: y, crs: EPSG:32610}
"""

X0, Y0 = 550_000, 4_180_000
WEST, EAST = X0 + 250, X0 + 750   # beats B1 (west) and B2 (east)
SOUTH, NORTH = Y0 + 250, Y0 + 750  # districts 01 (south) and 02 (north)

# id, Beat, Police_District, x, y
CAD_ROWS = [
    ("C1", "B1", "1", WEST, SOUTH),     # both agree (district through the crosswalk)
    ("C2", "B2", "1", WEST, SOUTH),     # beat disagrees (point in B1)
    ("C3", "", "2", EAST, NORTH),       # no feed beat: the polygon's B2
    ("C4", " b2 ", "02", EAST, NORTH),  # trimmed; agrees case-insensitively; 02 not in the crosswalk: as delivered
    ("C5", "B1", "3", "", ""),          # no point: the feed's values, no polygon tag; 3 kept as delivered
    ("C6", "", "", "", ""),             # nothing at all
    ("C7", "B1", "2", EAST, SOUTH),     # beat and district both disagree
]


def _layers(path: Path) -> None:
    import geopandas as gpd

    box = shapely.box
    gpd.GeoDataFrame({"name": ["city"]}, geometry=[box(X0, Y0, X0 + 1000, Y0 + 1000)],
                     crs="EPSG:32610").to_file(path.with_name("area.gpkg"))
    gpd.GeoDataFrame({"beat": ["B1", "B2"]}, geometry=[box(X0, Y0, X0 + 500, Y0 + 1000),
                                                       box(X0 + 500, Y0, X0 + 1000, Y0 + 1000)],
                     crs="EPSG:32610").to_file(path, layer="beats")
    gpd.GeoDataFrame({"district": ["01", "02"]}, geometry=[box(X0, Y0, X0 + 1000, Y0 + 500),
                                                           box(X0, Y0 + 500, X0 + 1000, Y0 + 1000)],
                     crs="EPSG:32610").to_file(path, layer="districts")


@pytest.fixture()
def loaded(tmp_path):
    proj = write_project(tmp_path, {"cad": CAD, "rms": RMS}, toml=TOML, crosswalks={"districts.csv": DISTRICTS})
    _layers(proj / "config" / "units.gpkg")
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    con = wh.connect(proj / "w.duckdb")
    wh.apply_schema(con)
    cad = "id,when,type,Beat,Police_District,x,y\n" + "".join(
        f"{i},2024-03-01 10:00,BURG,{b},{d},{x},{y}\n" for i, b, d, x, y in CAD_ROWS)
    rms = ("id,when,code,dist,x,y\n"
           f"I1,2024-03-01 10:00,X,North,{EAST},{NORTH}\nI2,2024-03-01 10:00,X,,{WEST},{SOUTH}\n")
    for source, text in (("cad", cad), ("rms", rms)):
        landing = settings.source_landing(source)
        landing.mkdir(parents=True)
        (landing / f"{source}.csv").write_text(text, encoding="utf-8")
        raw = loader.load_raw_file(con, settings, source, landing / f"{source}.csv", "r1")
        assert raw.status == "raw"
        (out,) = loader.normalize_pending(con, settings, source, "r1")
        assert out.rows_loaded == text.count("\n") - 1
    yield con
    con.close()


def _units(con, table: str) -> dict[str, tuple]:
    id_col = "call_id" if table == "core.calls" else "incident_id"
    return {r[0]: r[1:] for r in con.execute(
        f"SELECT {id_col}, beat, beat_source, beat_polygon, district, district_source, district_polygon "
        f"FROM {table}").fetchall()}


def test_feed_values_win_and_polygons_fill_the_gaps(loaded):
    got = _units(loaded, "core.calls")
    assert got == {
        "C1": ("B1", "feed", "B1", "01", "feed", "01"),
        "C2": ("B2", "feed", "B1", "01", "feed", "01"),
        "C3": ("B2", "polygon", "B2", "02", "feed", "02"),
        "C4": ("b2", "feed", "B2", "02", "feed", "02"),
        "C5": ("B1", "feed", None, "3", "feed", None),
        "C6": (None, None, None, None, None, None),
        "C7": ("B1", "feed", "B2", "02", "feed", "01"),
    }


def test_a_feed_column_without_any_layer(loaded):
    assert _units(loaded, "core.incidents") == {
        "I1": (None, None, None, "North", "feed", None),
        "I2": (None, None, None, None, None, None),
    }


def test_status_reports_the_disagreement_per_source_and_unit(loaded):
    rows = st.unit_sources(loaded)
    got = {(r[0], r[1]): dict(zip(rows.columns[2:], r[2:], strict=True)) for r in rows.rows}
    # beat: C1, C2, C4, C5, C7 from the feed, C3 from the polygon, C6 neither; with a polygon tag too:
    # C1, C2, C4, C7, of which C2 and C7 differ
    assert got[("cad", "beat")] == {"from_feed": 5, "from_polygon": 1, "missing": 1, "feed_and_polygon": 4,
                                    "disagree": 2, "disagree_pct": 50.0}
    # district: C1..C5 and C7 from the feed; with a tag: C1..C4, C7; only C7 differs (02 against 01)
    assert got[("cad", "district")] == {"from_feed": 6, "from_polygon": 0, "missing": 1, "feed_and_polygon": 5,
                                        "disagree": 1, "disagree_pct": 20.0}
    assert got[("rms", "district")]["feed_and_polygon"] == 0 and got[("rms", "district")]["disagree_pct"] is None
    assert ("rms", "beat") not in got  # neither a column nor a layer
    pairs = st.unit_disagreements(loaded)
    assert sorted(pairs.rows) == [("cad", "beat", "B1", "B2", 1), ("cad", "beat", "B2", "B1", 1),
                                  ("cad", "district", "02", "01", 1)]


def test_a_unit_crosswalk_needs_the_feed_column(tmp_path):
    bad = CAD.replace("beat: Beat, district: Police_District", "beat: Beat")
    proj = write_project(tmp_path, {"cad": bad, "rms": RMS}, toml=TOML, crosswalks={"districts.csv": DISTRICTS})
    _layers(proj / "config" / "units.gpkg")
    with pytest.raises(ConfigError, match="crosswalks.districts .*map columns.district"):
        load_settings(proj / "config" / "sara.toml", project_dir=proj)


@pytest.mark.parametrize("column", ["beat_polygon", "district_polygon"])
def test_the_polygon_tags_can_never_be_published(column):
    # masking blanks beat (and district when suppressed) on sensitive rows, never these diagnostics
    from pydantic import ValidationError

    from transforms.config.publish import DEFAULT_COLUMNS, PublishPolicy

    with pytest.raises(ValidationError, match="can never be published"):
        PublishPolicy(columns={"calls": [*DEFAULT_COLUMNS["calls"], column]})
