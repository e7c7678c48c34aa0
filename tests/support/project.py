"""Paths, and the one throw-away project every small test builds on: "Test City", written out here only.

A tiny project is a folder with pyproject.toml, config/sara.toml (one agency, `city`), config/sources/*.yaml
and config/crosswalks/*.csv. Two sources are ready-made: `cad` (a CAD export of Test City in San Francisco,
one row per responding unit, with call-type and disposition crosswalks) and `city_calls` (a call feed of
Test City in Chicago). Tests that need another source write its YAML themselves and pass it by name.
The fixture `tiny_project` in tests/conftest.py builds these; the functions here are what it calls.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable, Mapping
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SHARED_DATA = PROJECT.parent / "shared" / "data"
DEMO_SCALE = 0.05  # the demo city of the tests: a few thousand calls, every mart has rows, a night in ~30 s


def need_shared() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent (it sits beside the checkout in CI)")
    return SHARED_DATA


# where Test City is: its zone, analysis CRS (metres) and bounding box
CITIES: dict[str, dict] = {
    "sf": {"timezone": "America/Los_Angeles", "crs": "EPSG:26910", "bbox": [-122.52, 37.70, -122.35, 37.84]},
    "chicago": {"timezone": "America/Chicago", "crs": "EPSG:26971", "bbox": [-87.95, 41.64, -87.52, 42.03]},
}


def _toml_value(v) -> str:
    return json.dumps(v) if not isinstance(v, dict) else "{ " + ", ".join(
        f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"


def city_toml(sources: Iterable[str], *, city: str | dict = "sf", agency: str = "city", name: str = "Test City",
              top: str = "", extra: str = "") -> str:
    """config/sara.toml of Test City: `top` goes before everything (top-level keys), `extra` after the agency
    (tables such as [time] or [publish]); `city` names an entry of CITIES or gives the agency's keys."""
    keys = {"name": name, **(CITIES[city] if isinstance(city, str) else city)}
    lines = [top.strip(), f"sources = {json.dumps(list(sources))}", f"[agencies.{agency}]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in keys.items()]
    return "\n".join(line for line in lines if line) + "\n" + extra.strip() + "\n"


# two schedules for `sara serve` (config/sara.toml [schedules.*])
SCHEDULES = """
[schedules.nightly]
cron = "0 2 * * *"
timezone = "America/Los_Angeles"

[schedules.weekly_report]
cron = "30 6 * * 1"
timezone = "America/Chicago"
"""


def cad_yaml(name: str = "cad", *, prefix: str = "cad", grain: str = "unit", extra: str = "") -> str:
    """The CAD export of Test City (San Francisco): files `<prefix>_<yyyymmddThhmmss>.csv`, one row per
    responding unit (grain `unit`) or per call (`call`), 12-hour local times, a sentinel date."""
    return rf"""
name: {name}
kind: calls
agency: city
format: csv
encoding: utf-8
file_pattern: "{prefix}_*.csv*"
record_id: [id]
update_mode: upsert
extract_at: {{filename_pattern: '{prefix}_(\d{{8}}T\d{{6}})'}}
event_grain: {grain}
timezone: America/Los_Angeles
sentinel_dates: ["1900-01-01"]
timestamps:
  received_at: {{columns: [received], formats: ["%m/%d/%Y %I:%M:%S %p", "%Y-%m-%d %H:%M"]}}
  dispatched_at: {{columns: [dispatched], formats: ["%m/%d/%Y %I:%M:%S %p"]}}
  onscene_at: {{columns: [onscene], formats: ["%m/%d/%Y %I:%M:%S %p"]}}
  cleared_at: {{columns: [cleared], formats: ["%m/%d/%Y %I:%M:%S %p"]}}
  updated_at: {{columns: [updated], formats: ["%Y-%m-%d %H:%M"]}}
columns:
  call_type_code: type
  disposition: disp
  address: address
coordinates: {{x: lon, y: lat, crs: EPSG:4326}}
origin: {{column: onview, officer_values: ["Y"], community_values: ["N"]}}
crosswalks:
  call_types: config/crosswalks/types.csv
  dispositions: config/crosswalks/disp.csv
""" + extra


# The call feed of Test City (Chicago): one row per call, ISO local times, a call-type crosswalk.
CITY_CALLS_YAML = """
name: city_calls
kind: calls
agency: city
format: csv
header_row: 1
record_id: [CallNo]
update_mode: upsert
timezone: America/Chicago
timestamps:
  received_at: {columns: [Received], formats: ["%Y-%m-%d %H:%M"]}
columns:
  call_type_code: Nature
  address: Address
coordinates: {x: Lon, y: Lat, crs: "EPSG:4326"}
crosswalks:
  call_types: config/crosswalks/city_call_types.csv
"""

CROSSWALKS = {
    "types.csv": "code,call_type,call_category,origin\nBURG,Burglary,Property Crime,community\n"
                 "TS,Traffic Stop,Traffic,officer\n",
    "disp.csv": "code,disposition,disposition_category,countable,void\nRPT,Report,Report,true,false\n"
                "CAN,Cancel,Cancelled,false,false\nVOID,Void,Other,false,true\n",
    "city_call_types.csv": "code,call_type,call_category\nASLT,Assault,Violent Crime\nB,Burglary,Burglary\n",
}

TEMPLATES = {"cad": cad_yaml(), "city_calls": CITY_CALLS_YAML}


def write_project(root: Path, sources: Iterable[str] | Mapping[str, str | None] = ("cad",), *,
                  toml: str | None = None, crosswalks: Mapping[str, str] | None = None, **toml_kw) -> Path:
    """Write a tiny project under `root` and return it. `sources`: names of the ready-made sources, or
    {name: YAML text} (None for a ready-made one); `toml`: the whole sara.toml instead of city_toml(...);
    `crosswalks`: {file name: CSV text} instead of the standard ones; other keywords go to city_toml."""
    texts = dict(sources) if isinstance(sources, Mapping) else dict.fromkeys(sources)
    texts = {n: TEMPLATES[n] if t is None else t for n, t in texts.items()}
    (root / "config" / "sources").mkdir(parents=True)
    (root / "config" / "crosswalks").mkdir(parents=True)
    (root / "pyproject.toml").write_text("[project]\nname = 'tmp'\n")
    (root / "config" / "sara.toml").write_text(toml if toml is not None else city_toml(texts, **toml_kw))
    for name, text in texts.items():
        (root / "config" / "sources" / f"{name}.yaml").write_text(text)
    for name, text in (CROSSWALKS if crosswalks is None else crosswalks).items():
        (root / "config" / "crosswalks" / name).write_text(text)
    return root


def copy_real_config(tmp: Path) -> Path:
    """The project's own config/ in a temp project whose ../shared/data points at the real data."""
    shutil.copytree(PROJECT / "config", tmp / "proj" / "config")
    (tmp / "proj" / "pyproject.toml").write_text("[project]\nname = 'tmp'\n")
    (tmp / "shared").symlink_to(SHARED_DATA.parent)
    return tmp / "proj"


def demo_project(dest: Path, city: Path | None = None) -> Path:
    """A project at `dest` with the repository's config/ and pyproject.toml, and (when given) a copy of a
    generated demo city as data/demo/."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PROJECT / "config", dest / "config")
    shutil.copy(PROJECT / "pyproject.toml", dest / "pyproject.toml")
    if city is not None:
        shutil.copytree(city, dest / "data" / "demo")
    return dest
