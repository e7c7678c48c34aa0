"""SARA problem files: one YAML file per place-based intervention (`config/problems/<name>.yaml`, or the
folder given by `problems_dir` in sara.toml), validated with pydantic.

A problem names the events that make up the problem (dataset + categories and/or event types, optionally one
origin), the target area, a displacement buffer ring around it, a control area, the response date and the
pre and post windows (local dates, inclusive). transforms/marts/problems.py builds and assesses its marts.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import shapely
from pydantic import Field, field_validator, model_validator

from transforms.config import IDENT_RE, ConfigError, Settings, Strict, load_named_yaml

CELL_RE = re.compile(r"^-?\d+_-?\d+$")


class Circle(Strict):
    x: float = Field(description="centre x, analysis CRS (metres)")
    y: float = Field(description="centre y, analysis CRS (metres)")
    radius_m: float = Field(gt=0, description="radius, metres")


class Window(Strict):
    start: date = Field(description="first local date, inclusive")
    end: date = Field(description="last local date, inclusive")

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


_SHAPE_KEYS = ("wkt", "path", "cells", "location_keys", "circle")


def _check_wkt(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        g = shapely.from_wkt(v)
    except Exception as exc:  # shapely raises GEOSException (or ValueError) on bad text
        raise ValueError(f"not valid WKT: {exc}") from None
    if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError("wkt must be a non-empty POLYGON or MULTIPOLYGON")
    return v


class Shape(Strict):
    """Exactly one of wkt (analysis CRS), path (polygon file, any CRS), cells (grid unit ids),
    location_keys, or circle {x, y, radius_m} (analysis CRS)."""

    wkt: str | None = Field(default=None, description="a POLYGON or MULTIPOLYGON in the analysis CRS")
    path: str | None = Field(default=None, description="a polygon file, any CRS")
    layer: str | None = Field(default=None, description="layer of a multi-layer file (with path)")
    cells: list[str] | None = Field(default=None, description="grid cell ids of marts.units, e.g. '31_38'")
    location_keys: list[str] | None = Field(default=None, description="location keys of the events (targets only)")
    circle: Circle | None = Field(default=None, description="a circle in the analysis CRS")

    _wkt = field_validator("wkt")(_check_wkt)

    @field_validator("cells")
    def _cells(cls, v):
        if v is not None:
            if not v:
                raise ValueError("cells must list at least one grid cell id")
            bad = [c for c in v if not CELL_RE.match(c)]
            if bad:
                raise ValueError(f"cells {bad} are not grid cell ids like '31_38'")
        return v

    @field_validator("location_keys")
    def _keys(cls, v):
        if v is not None and not [k for k in v if k.strip()]:
            raise ValueError("location_keys must list at least one key")
        return v

    def given(self) -> list[str]:
        return [k for k in _SHAPE_KEYS if getattr(self, k) is not None]

    @model_validator(mode="after")
    def _one(self) -> Shape:
        self._check_one(allow_none=False)
        return self

    def _check_one(self, allow_none: bool) -> None:
        given = self.given()
        if len(given) > 1 or (not given and not allow_none):
            raise ValueError(f"give exactly one of {', '.join(_SHAPE_KEYS)} (got {given or 'none'})")
        if self.layer is not None and self.path is None:
            raise ValueError("layer goes with path")


class ControlShape(Shape):
    """One of the target's shape options, or rest_of_agency: true (the agency area minus target and buffer)."""

    rest_of_agency: bool = Field(default=False, description="the agency area minus the target and its buffer")

    @model_validator(mode="after")
    def _one(self) -> ControlShape:
        self._check_one(allow_none=True)
        given = self.given()
        if self.rest_of_agency and given:
            raise ValueError(f"rest_of_agency: true excludes {given}")
        if not self.rest_of_agency and not given:
            raise ValueError(f"give exactly one of {', '.join(_SHAPE_KEYS)}, or rest_of_agency: true")
        if self.location_keys is not None:
            raise ValueError("a control is an area: location_keys are for targets")
        return self


class ProblemConfig(Strict):
    name: str = Field(description="the file's stem: letters, digits and _")
    description: str = Field(default="", description="what the problem is and what the response was")
    agency: str = Field(description="an agency code of sara.toml")
    dataset: Literal["calls", "incidents"] = Field(description="which events make up the problem")
    categories: list[str] | None = Field(
        default=None, description="call_category / offense_category values; ['*'] = every category")
    event_types: list[str] | None = Field(default=None, description="call_type / offense values")
    origin: Literal["all", "community", "officer", "unknown"] = Field(default="all",
                                                                      description="only events of this origin")
    target: Shape = Field(description="where the response happened: exactly one shape option")
    buffer_m: float = Field(gt=0, description="width of the displacement ring around the target, metres")
    control: ControlShape = Field(description="the comparison area: a shape option, or rest_of_agency: true")
    response_date: date = Field(description="the local date the response started")
    pre: Window = Field(description="the local dates before the response, inclusive")
    post: Window = Field(description="the local dates from the response on, inclusive")
    time_weights: tuple[float, float] | None = Field(
        default=None, description="(pre, post) period lengths when they differ; default raw counts")
    control_weighting: Literal["area", "none"] = Field(
        default="area", description="area: scale the control's counts to the target's and the buffer's area")

    @field_validator("name")
    def _name(cls, v: str) -> str:
        if not IDENT_RE.match(v):
            raise ValueError(f"name {v!r} must be letters, digits and _")
        return v

    @field_validator("time_weights")
    def _tw(cls, v):
        if v is not None and not all(math.isfinite(w) and w > 0 for w in v):
            raise ValueError("time_weights must be positive (pre, post)")
        return v

    @model_validator(mode="after")
    def _check(self) -> ProblemConfig:
        if not self.categories and not self.event_types:
            raise ValueError("give categories and/or event_types (categories: ['*'] counts every category)")
        if self.pre.end >= self.response_date:
            raise ValueError(f"pre.end {self.pre.end} must be before response_date {self.response_date}")
        if self.post.start < self.response_date:
            raise ValueError(f"post.start {self.post.start} must be on or after response_date {self.response_date}")
        return self

    @property
    def weights(self) -> tuple[float, float]:
        return self.time_weights or (1.0, 1.0)

    @property
    def all_categories(self) -> bool:
        return bool(self.categories) and "*" in self.categories


def problems_dir(settings: Settings) -> Path:
    """The problems folder: sara.toml `problems_dir`, else config/problems."""
    return settings.resolve(settings.sara.problems_dir)


def load_problem(settings: Settings, path: Path) -> ProblemConfig:
    p = load_named_yaml(path, ProblemConfig, settings)
    for key, shape in (("target", p.target), ("control", p.control)):
        if shape.path is not None and not settings.resolve(shape.path).exists():
            raise ConfigError(f"{path}: key {key}.path: file not found: {shape.path}")
    return p


def load_problems(settings: Settings, directory: str | Path | None = None) -> list[ProblemConfig]:
    """Validate every *.yaml in the folder (default: `problems_dir`). Raises ConfigError naming the file,
    the key and the reason. A missing folder means no problems."""
    d = problems_dir(settings) if directory is None else settings.resolve(directory)
    if not d.is_dir():
        return []
    return [load_problem(settings, f) for f in sorted(d.glob("*.yaml"))]


def template(name: str, agency: str = "metro") -> str:
    """A commented YAML template for `sara problem new NAME`."""
    if not IDENT_RE.match(name):
        raise ValueError(f"problem name {name!r} must be letters, digits and _")
    return f"""\
# SARA problem: {name}
# Edit, then run the nightly flow (or `sara demo`) and `sara assess {name}`.
# Coordinates are metres in the agency's analysis CRS (sara.toml agencies.<agency>.crs).
name: {name}                       # must equal the file name
description: "what the problem is and what the response was"
agency: {agency}                   # an agency of sara.toml
dataset: calls                     # calls | incidents

# Which events make up the problem: categories (call_category / offense_category) and/or event types
# (call_type / offense). An event counts when its category OR its type is listed. ['*'] = every category.
categories: ["Quality of Life", "Suspicion"]
# event_types: ["DISTURBANCE", "SUSPICIOUS PERSON"]
origin: community                  # all | community | officer | unknown

# The target: exactly one of
#   circle: {{x: ..., y: ..., radius_m: ...}}     analysis CRS
#   wkt: "POLYGON ((...))"                       analysis CRS
#   path: data/layers/target.geojson             polygon file, any CRS (layer: NAME for a multi-layer file)
#   cells: ["31_38", "31_39"]                    grid cells of marts.units
#   location_keys: ["123 MAIN ST"]               location keys of the events
target:
  circle: {{x: 0.0, y: 0.0, radius_m: 150}}

buffer_m: 400                      # displacement buffer: a ring this wide around the target

# The control: one of the target's options (not location_keys), or the rest of the agency area
control:
  rest_of_agency: true

response_date: 2026-06-01
pre: {{start: 2026-01-01, end: 2026-05-31}}     # local dates, inclusive, before the response
post: {{start: 2026-06-01, end: 2026-10-31}}    # local dates, inclusive, from the response on
# time_weights: [151, 153]          # period lengths when they differ (default: raw counts)
# control_weighting: area          # area (default): control counts scaled to target / buffer area; none
"""
