"""Labels for places without an address (transforms/marts/location_labels.py, marts.repeat_location_rows).

A place with no premise and no address is keyed by its rounded point, `XY <x> <y>`. Its label names the
nearest named street of the agency's streets layer ("near MAIN ST (lat, lon)"), or says that there is no
streets layer, or no named street near enough. Checked on a hand-made city through the whole mart build,
and on the real feeds: New Haven's streets name the street of each incident's own address; Chicago has no
streets layer, and its labels give back the file's own latitude and longitude.
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest
import shapely
from pyproj import Transformer

from tests.support.project import copy_real_config, need_shared, write_project
from transforms.config import load_settings
from transforms.marts import build as marts
from transforms.marts.location_labels import label_places
from transforms.marts.units import street_units
from transforms.warehouse import db as wh
from transforms.warehouse import loader

X0, Y0 = 550_000, 4_180_000
TOML = """
sources = ["cad_a", "cad_b"]
windows_days = [7, 28]
[time]
as_of = "2024-03-31"
[agencies.a]
name = "City A"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
boundary = "config/city.gpkg"
streets = { path = "config/streets.gpkg", id_field = "sid", name_field = "name" }
[agencies.b]
name = "City B"
timezone = "America/Los_Angeles"
crs = "EPSG:32610"
boundary = "config/city.gpkg"
[analysis]
street_label_max_m = 100
"""
CAD = r"""
name: cad_{x}
kind: calls
agency: {x}
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  received_at: {{columns: [when], formats: ["%Y-%m-%d %H:%M"]}}
columns: {{call_type_code: type}}
coordinates: {{x: x, y: y, crs: EPSG:32610}}
"""
# three places, 3 calls each: 12 m north of Main St; 40 m from an unnamed lane and 150 m from Main St (no named
# street within 100 m); on Main St where a numbered route is drawn over it
PLACES = {"near_main": (X0 + 300, Y0 + 512), "far": (X0 + 300, Y0 + 850), "on_route": (X0 + 700, Y0 + 500)}


def _layers(config) -> None:
    import geopandas as gpd

    gpd.GeoDataFrame({"name": ["city"]}, geometry=[shapely.box(X0, Y0, X0 + 1000, Y0 + 1000)],
                     crs="EPSG:32610").to_file(config / "city.gpkg")
    main = shapely.LineString([(X0, Y0 + 500), (X0 + 1000, Y0 + 500)])
    lane = shapely.LineString([(X0, Y0 + 890), (X0 + 1000, Y0 + 890)])
    route = shapely.LineString([(X0 + 600, Y0 + 500), (X0 + 800, Y0 + 500)])  # over Main St
    gpd.GeoDataFrame({"sid": ["s1", "s2", "s3"], "name": ["MAIN ST", None, "STATE HWY 9"]},
                     geometry=[main, lane, route], crs="EPSG:32610").to_file(config / "streets.gpkg")


@pytest.fixture()
def built(tmp_path):
    proj = write_project(tmp_path, {"cad_a": CAD.format(x="a"), "cad_b": CAD.format(x="b")}, toml=TOML, crosswalks={})
    _layers(proj / "config")
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    con = wh.connect(proj / "w.duckdb")
    wh.apply_schema(con)
    for source in ("cad_a", "cad_b"):
        rows = ["id,when,type,x,y"] + [f"{source}-{p}{i},2024-03-2{i} 10:00,X,{x},{y}"
                                       for p, (x, y) in PLACES.items() for i in range(3)]
        landing = settings.source_landing(source)
        landing.mkdir(parents=True)
        (landing / "c.csv").write_text("\n".join(rows) + "\n")
        loader.load_raw_file(con, settings, source, landing / "c.csv", "r")
        loader.normalize_pending(con, settings, source, "r")
    marts.build_all(con, settings)
    yield con
    con.close()


def _latlon(x: float, y: float) -> str:
    lon, lat = Transformer.from_crs("EPSG:32610", "EPSG:4326", always_xy=True).transform(x, y)
    return f"{lat:.5f}, {lon:.5f}"


def test_repeat_locations_without_an_address_are_labelled_by_their_street(built):
    got = dict(built.execute(
        """SELECT agency || ' ' || location_key, location_label FROM marts.repeat_location_rows
           WHERE dataset = 'calls' AND category_group = 'all' AND origin = 'all'""").fetchall())
    pt = {k: _latlon(x, y) for k, (x, y) in PLACES.items()}
    # keys stay the rounded points (10 m grid)
    assert got == {
        f"a XY {X0 + 300} {Y0 + 510}": f"near MAIN ST ({_latlon(X0 + 300, Y0 + 510)})",
        f"a XY {X0 + 300} {Y0 + 850}": f"no address: point at {pt['far']}; no named street within 100 m",
        f"a XY {X0 + 700} {Y0 + 500}": f"near MAIN ST ({pt['on_route']})",
        f"b XY {X0 + 300} {Y0 + 510}": f"no address: point at {_latlon(X0 + 300, Y0 + 510)}; "
                                       "configure a streets layer for street names",
        f"b XY {X0 + 300} {Y0 + 850}": f"no address: point at {pt['far']}; configure a streets layer for street names",
        f"b XY {X0 + 700} {Y0 + 500}": f"no address: point at {pt['on_route']}; "
                                       "configure a streets layer for street names",
    }
    dist = dict(built.execute("SELECT location_key, street_distance_m FROM marts.location_labels "
                              "WHERE agency = 'a'").fetchall())
    assert dist[f"XY {X0 + 300} {Y0 + 510}"] == pytest.approx(10.0)
    assert dist[f"XY {X0 + 300} {Y0 + 850}"] is None


# ------------------------------------------------------------------------------------------- real feeds

SUFFIX = {"BLV": "BLVD", "PKY": "PKWY", "SO": "S", "SOUTH": "S", "NO": "N", "NORTH": "N", "WEST": "W",
          "EAST": "E", "AV": "AVE", "TER": "TERR"}


def _street_words(s: str) -> str:
    """A street name compared loosely: upper case, house number dropped, common abbreviations unified."""
    words = re.sub(r"^\d+[A-Z]?\s+", "", s.strip().upper()).split()
    return " ".join(SUFFIX.get(w, w) for w in words)


def test_new_haven_labels_name_the_street_of_each_incidents_own_address():
    import geopandas as gpd

    data = need_shared() / "new_haven"
    inc = gpd.read_file(data / "incidents_2014_09.shp").set_crs("EPSG:4326", allow_override=True).to_crs("EPSG:26918")
    streets = street_units(str(data / "streets.shp"), "LINEARID", "FULLNAME", None, "EPSG:26918")
    keys = [f"XY {round(p.x)} {round(p.y)}" for p in inc.geometry]  # the address left out: only the point
    places = pl.DataFrame({"agency": ["nhpd"] * len(keys), "location_key": keys}).unique(maintain_order=True)
    lab = label_places(places, "EPSG:26918", streets, 100.0)
    street_of = dict(zip(lab["location_key"], lab["street"], strict=True))
    own = [_street_words(s) for s in inc["street"]]
    named = [street_of[k] for k in keys]
    hits = sum(n is not None and _street_words(n) == o for n, o in zip(named, own, strict=True))
    assert sum(n is not None for n in named) >= 0.99 * len(keys)
    assert hits >= 0.90 * len(keys), hits / len(keys)


def test_chicago_without_streets_says_so_and_gives_the_files_own_point(tmp_path):
    data = need_shared()
    proj = copy_real_config(tmp_path)
    settings = load_settings(proj / "config" / "sara.toml", project_dir=proj)
    assert settings.sara.agencies["cpd"].streets is None
    raw = pl.read_csv(data / "chicago_aggravated_assaults_2010_2019.csv.gz", infer_schema=False, n_rows=2000)
    raw = raw.drop_nulls(["longitude", "latitude"]).unique(["longitude", "latitude"], maintain_order=True)
    lon, lat = raw["longitude"].cast(pl.Float64).to_numpy(), raw["latitude"].cast(pl.Float64).to_numpy()
    x, y = Transformer.from_crs("EPSG:4326", "EPSG:26971", always_xy=True).transform(lon, lat)
    keys = [f"XY {round(a / 10) * 10} {round(b / 10) * 10}" for a, b in zip(x, y, strict=True)]
    places = pl.DataFrame({"agency": "cpd", "location_key": keys}).unique(maintain_order=True)
    lab = label_places(places, "EPSG:26971", None, 100.0)
    assert lab["location_label"].str.ends_with("; configure a streets layer for street names").all()
    assert lab["location_label"].str.starts_with("no address: point at ").all()
    back = dict(zip(lab["location_key"], zip(lab["lat"], lab["lon"], strict=True), strict=True))
    got = np.array([back[k] for k in keys])
    # the key is the point rounded to 10 m: its latitude/longitude are the file's own within ~8 m
    assert np.abs(got[:, 0] - lat).max() < 1e-4 and np.abs(got[:, 1] - lon).max() < 1.2e-4
