"""`config/sara.toml`: the project's settings (warehouse, agencies, time, schedules, analysis, publish),
and `load_settings`, which reads it with every enabled source.

Settings are built in the entry point, never at import time.
"""

from __future__ import annotations

import os
import tomllib
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from transforms.config.contract import (
    IDENT_RE,
    ConfigError,
    Strict,
    check_metric_crs,
    check_paths,
    check_zone,
    format_errors,
)
from transforms.config.publish import PublishPolicy
from transforms.config.sources import SourceConfig, load_source


class WarehouseConfig(Strict):
    path: str = "data/warehouse/sara.duckdb"
    landing_dir: str = "data/landing"
    threads: int | None = None
    memory_limit: str | None = None


class UnitLayer(Strict):
    """A polygon layer used as spatial units (beats, districts)."""

    path: str
    field: str
    layer: str | None = None


class StreetLayer(Strict):
    """A street centreline layer: events snap to their nearest segment within snap_tolerance_m."""

    path: str
    id_field: str | None = None
    name_field: str | None = None
    layer: str | None = None


class AgencyConfig(Strict):
    name: str
    timezone: str
    crs: str = Field(description="analysis CRS, projected, in metres")
    boundary: str | None = Field(default=None, description="polygon layer of the agency area")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="lon/lat box (min_lon, min_lat, max_lon, max_lat)"
    )
    grid_origin: tuple[float, float] | None = Field(
        default=None, description="grid origin in the analysis CRS (metres); default: area bounds floored "
                                  "to a multiple of 1,000 m, so cell ids stay stable night to night")
    unit_layers: dict[str, UnitLayer] = Field(default={}, description="polygon units, e.g. beat, district")
    streets: StreetLayer | None = None
    as_of: date | None = Field(default=None, description="fixed as-of date of this agency (beats [time] as_of "
                                                         "and the rule: last complete day of its data minus "
                                                         "data_lag_days)")

    _zone = field_validator("timezone")(check_zone)
    _crs = field_validator("crs")(check_metric_crs)

    @model_validator(mode="after")
    def _area(self) -> AgencyConfig:
        if self.boundary is None and self.bbox is None:
            raise ValueError("give a boundary layer or a bbox")
        if self.bbox is not None:
            x0, y0, x1, y1 = self.bbox
            if not (-180 <= x0 < x1 <= 180 and -90 <= y0 < y1 <= 90):
                raise ValueError(f"bbox {self.bbox} is not (min_lon, min_lat, max_lon, max_lat)")
        return self


class TimeConfig(Strict):
    floor: date = date(1990, 1, 1)
    future_tolerance_hours: float = 24.0
    data_lag_days: int = 1
    as_of: date | None = Field(default=None, description="fixed as-of date of every agency without its own "
                                                         "(demo, backfills); default: each agency's rule")


class ScheduleConfig(Strict):
    cron: str
    timezone: str = "UTC"
    # the nightly run only: "dask" fans it out on a Dask cluster (dask_address, else a LocalCluster)
    executor: Literal["local", "dask"] = "local"
    dask_address: str | None = None
    dask_workers: int | None = Field(default=None, ge=1)
    _zone = field_validator("timezone")(check_zone)


DEFAULT_GROUPS = {
    "calls": {
        "all": ["*"],
        "violent": ["Violent Crime", "Domestic Violence"],
        "property": ["Property Crime"],
        "disorder": ["Quality of Life", "Suspicion", "Other Crime"],
    },
    "incidents": {
        "all": ["*"],
        "violent": ["Homicide", "Sexual Offense", "Robbery", "Aggravated Assault", "Simple Assault"],
        "property": ["Burglary", "Larceny", "Theft From Vehicle", "Motor Vehicle Theft", "Arson", "Vandalism"],
        "burglary": ["Burglary"],
        "disorder": ["Disorder", "Drugs", "Weapons"],
    },
}


class AnalysisConfig(Strict):
    """Settings of the marts (hot spots, repeat locations, near repeats)."""

    cell_size_m: float = Field(default=150.0, gt=0)
    h3_resolution: int = Field(default=9, ge=0, le=15)
    snap_tolerance_m: float = Field(default=30.0, ge=0)
    gi_distance_m: float | None = Field(default=None, description="Gi* neighbourhood on grids; default queen")
    default_origin: Literal["all", "community", "officer", "unknown"] = "community"
    category_groups: dict[Literal["calls", "incidents"], dict[str, list[str]]] = DEFAULT_GROUPS
    ehsa_step: Literal["week", "month"] = "week"
    ehsa_steps: int = Field(default=26, ge=1)
    ehsa_k: int = Field(default=1, ge=0)
    ehsa_alpha: float = Field(default=0.05, gt=0, lt=1)
    kde_bandwidth_m: float = Field(default=400.0, gt=0)
    kde_windows_days: list[int] = [28, 91]
    prediction_period_days: int = Field(default=28, ge=1, description="hotspot_accuracy: last vs this period")
    repeat_min_events: int = Field(default=3, ge=2)
    repeat_window_days: int = Field(default=365, ge=1)
    near_repeat_distance_m: float = Field(default=200.0, gt=0)
    near_repeat_days: float = Field(default=14.0, gt=0)
    knox_space_bands: list[float] = [0, 1, 100, 200, 400]
    knox_time_bands: list[float] = [0, 7, 14, 21]
    knox_perms: int = Field(default=99, ge=9)
    knox_groups: list[str] = ["burglary"]

    @field_validator("category_groups")
    def _groups(cls, v):
        for ds, groups in v.items():
            for g in groups:
                if not IDENT_RE.match(g):
                    raise ValueError(f"category group {ds}.{g!r} must be letters, digits and _")
        return v


class SaraConfig(Strict):
    profile: str = "default"
    warehouse: WarehouseConfig = WarehouseConfig()
    time: TimeConfig = TimeConfig()
    agencies: dict[str, AgencyConfig]
    sources: list[str]
    windows_days: list[int] = [7, 28, 91, 364]
    schedules: dict[str, ScheduleConfig] = {}
    location_round_m: float = 10.0
    analysis: AnalysisConfig = AnalysisConfig()
    problems_dir: str = "config/problems"
    allowed_roots: list[str] = Field(default=[], description="extra folders configured paths may point into")
    publish: PublishPolicy = Field(default_factory=lambda: PublishPolicy())

    @field_validator("sources")
    def _names(cls, v: list[str]) -> list[str]:
        for s in v:
            if not IDENT_RE.match(s):
                raise ValueError(f"source name {s!r} must be letters, digits and _")
        if len(set(v)) != len(v):
            raise ValueError("a source is listed twice")
        return v


class Settings:
    """The resolved configuration for one run: project dir, sara.toml and every enabled source."""

    def __init__(self, project_dir: Path, config_path: Path, sara: SaraConfig, sources: dict[str, SourceConfig],
                 parent: Settings | None = None):
        self.project_dir = project_dir
        self.config_path = config_path
        self.sara = sara
        self.sources = sources
        self.parent = parent  # the whole config, when this one is restricted to one agency

    @property
    def whole(self) -> Settings:
        """The whole config: this one, or the one it was restricted from."""
        return self.parent or self

    def for_agency(self, agency: str) -> Settings:
        """The same config restricted to one agency and its sources (a partition of a scaled-out run).
        Config files that name other agencies still validate against the whole config (`parent`)."""
        if agency not in self.sara.agencies:
            raise ConfigError(f"{self.config_path}: no agency {agency!r} ({sorted(self.sara.agencies)})")
        sara = self.sara.model_copy(update={"agencies": {agency: self.sara.agencies[agency]}})
        sources = {k: s for k, s in self.sources.items() if s.agency == agency}
        return Settings(self.project_dir, self.config_path, sara, sources, parent=self.whole)

    def resolve(self, p: str | Path) -> Path:
        p = Path(p)
        return p if p.is_absolute() else (self.project_dir / p).resolve()

    @property
    def warehouse_path(self) -> Path:
        return self.resolve(self.sara.warehouse.path)

    @property
    def landing_dir(self) -> Path:
        return self.resolve(self.sara.warehouse.landing_dir)

    def source_landing(self, source: str) -> Path:
        return self.landing_dir / source

    def agency_of(self, source: str) -> AgencyConfig:
        return self.sara.agencies[self.sources[source].agency]


def find_project_dir(start: Path | None = None) -> Path:
    """The folder holding pyproject.toml and config/ (so `sara` works from any folder)."""
    here = (start or Path.cwd()).resolve()
    for d in [here, *here.parents]:
        if (d / "config").is_dir() and (d / "pyproject.toml").is_file():
            return d
    pkg_root = Path(__file__).resolve().parents[2]
    if (pkg_root / "config").is_dir():
        return pkg_root
    raise ConfigError(f"no sara project (a folder with config/ and pyproject.toml) at or above {here}")


def load_settings(config_path: str | Path | None = None, project_dir: Path | None = None) -> Settings:
    """Read and validate sara.toml and every enabled source file. Raises ConfigError."""
    raw = config_path or os.environ.get("SARA_CONFIG") or "config/sara.toml"
    path = Path(raw)
    if not path.is_absolute() and (Path.cwd() / path).exists():
        path = Path.cwd() / path
    if project_dir is None:
        # the project of a config file is the folder above its config/ folder; else search from cwd
        if path.is_absolute() and path.parent.name == "config":
            project_dir = path.parent.parent.resolve()
        else:
            project_dir = find_project_dir()
    if not path.is_absolute():
        path = project_dir / path
    path = path.resolve()
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        sara = SaraConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(format_errors(path, exc)) from None

    settings = Settings(project_dir, path, sara, {})
    for name, agency in sara.agencies.items():
        if agency.boundary and not settings.resolve(agency.boundary).exists():
            raise ConfigError(f"{path}: key agencies.{name}.boundary: file not found: {agency.boundary}")
        for unit, layer in agency.unit_layers.items():
            if not settings.resolve(layer.path).exists():
                raise ConfigError(f"{path}: key agencies.{name}.unit_layers.{unit}.path: file not found: {layer.path}")
        if agency.streets and not settings.resolve(agency.streets.path).exists():
            raise ConfigError(f"{path}: key agencies.{name}.streets.path: file not found: {agency.streets.path}")
    sources = {}
    for name in sara.sources:
        sources[name] = load_source(project_dir / "config" / "sources" / f"{name}.yaml", settings)
    settings.sources = sources
    check_paths(settings)
    return settings
