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
    path: str = Field(default="data/warehouse/sara.duckdb", description="the published DuckDB file")
    landing_dir: str = Field(default="data/landing", description="where extracts arrive, one folder per source")
    threads: int | None = Field(default=None, description="DuckDB threads; default DuckDB's (all cores)")
    memory_limit: str | None = Field(default=None, description="DuckDB memory limit, e.g. '2.5GB'; default "
                                                               "DuckDB's (80% of RAM)")


class UnitLayer(Strict):
    """A polygon layer used as spatial units (beats, districts)."""

    path: str = Field(description="polygon file, relative to the project")
    field: str = Field(description="attribute holding the unit's name or id")
    layer: str | None = Field(default=None, description="layer of a multi-layer file")


class StreetLayer(Strict):
    """A street centreline layer: events snap to their nearest segment within snap_tolerance_m."""

    path: str = Field(description="line file, relative to the project")
    id_field: str | None = Field(default=None, description="attribute holding a segment id; default the row number")
    name_field: str | None = Field(default=None, description="attribute holding the street name")
    layer: str | None = Field(default=None, description="layer of a multi-layer file")


ResponseModel = Literal["police_required", "co_response", "alternative", "administrative"]


class AgencyConfig(Strict):
    name: str = Field(description="the agency's name, as the report shows it")
    timezone: str = Field(description="IANA zone of the agency: local dates, months and hours of week")
    crs: str = Field(description="analysis CRS, projected, in metres")
    boundary: str | None = Field(default=None, description="polygon layer of the agency area")
    bbox: tuple[float, float, float, float] | None = Field(
        default=None, description="lon/lat box (min_lon, min_lat, max_lon, max_lat)"
    )
    grid_origin: tuple[float, float] | None = Field(
        default=None, description="grid origin in the analysis CRS (metres); default: area bounds floored "
                                  "to a multiple of 1,000 m, so cell ids stay stable night to night")
    unit_layers: dict[str, UnitLayer] = Field(default={}, description="polygon units, e.g. beat, district")
    streets: StreetLayer | None = Field(default=None, description="street centrelines that events snap to")
    as_of: date | None = Field(default=None, description="fixed as-of date of this agency (beats [time] as_of "
                                                         "and the rule: last complete day of its data minus "
                                                         "data_lag_days)")
    response_models: dict[str, ResponseModel] = Field(
        default={}, description="call nature (config/taxonomy/call_natures.csv code) -> response model for this "
                               "agency, overriding the taxonomy's default_response_model: police_required, "
                               "co_response (police with a clinician or medic), alternative (a civilian or "
                               "behavioural-health responder alone) or administrative (no field response); a "
                               "call flagged for weapons or violence in progress is never alternative "
                               "(config/taxonomy/README.md)")

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
    floor: date = Field(default=date(1990, 1, 1), description="earlier event times are kept and flagged "
                                                                "before_floor")
    future_tolerance_hours: float = Field(default=24.0, description="event times later than load time + this "
                                                                    "are kept and flagged future")
    data_lag_days: int = Field(default=1, description="the as-of date is the last complete day minus this")
    as_of: date | None = Field(default=None, description="fixed as-of date of every agency without its own "
                                                         "(demo, backfills); default: each agency's rule")


class VersionsConfig(Strict):
    late_arrival_days: int = Field(
        default=7, ge=1, description="marts.changes: a new record whose event's local date is more than this many "
                                     "days before its load's night is a late arrival (the source's first load, "
                                     "its backfill, never is)")
    changes_days: int = Field(
        default=90, ge=1, description="marts.changes keeps the changes of the loads of this many days back from the "
                                      "newest load, so a big warehouse does not rescan its whole history nightly")
    reclassified_window_days: int = Field(
        default=28, ge=1, description="marts.changes_summary: the reclassified share is over the records loaded or "
                                      "reclassified by the loads of this many days back from the newest load")
    reclassified_warn_share: float = Field(
        default=0.05, gt=0, le=1, description="warn (report data quality, sara status) when an agency's share of "
                                              "reclassified records over reclassified_window_days is above this. A "
                                              "project choice, not a standard: a few percent of reports re-coded "
                                              "after review is routine; above 5 % in four weeks usually means a "
                                              "process problem (coding at intake, a crosswalk change) worth a look")
    reclassified_min_records: int = Field(
        default=50, ge=1, description="no warning on fewer records than this in the window: a share of a "
                                      "handful says nothing")


class ScheduleConfig(Strict):
    cron: str = Field(description="when the deployment runs, e.g. `30 2 * * *`")
    timezone: str = Field(default="UTC", description="IANA zone the cron is read in")
    # the nightly run only: "dask" fans it out on a Dask cluster (dask_address, else a LocalCluster)
    executor: Literal["local", "dask"] = Field(
        default="local", description="nightly only: dask fans the night out per agency on a Dask cluster")
    dask_address: str | None = Field(default=None, description="scheduler address; default a LocalCluster")
    dask_workers: int | None = Field(default=None, ge=1, description="LocalCluster workers; default one per agency")
    _zone = field_validator("timezone")(check_zone)


# The category groups every configuration starts from; `[analysis.category_groups.<dataset>]` adds groups, replaces
# a group of the same name, or drops one with an empty list. Calls: the call categories of the crosswalks
# (config/crosswalks/README.md), with a property-crime breakdown; incidents: the offence categories.
DEFAULT_GROUPS: dict[str, dict[str, list[str]]] = {
    "calls": {
        "all": ["*"],
        "violent": ["Violent Crime", "Domestic Violence"],
        # "Property Crime" is what is left once the breakdown is taken out (stolen property, chop shops), and what
        # a call-type crosswalk without the breakdown files every property call under
        "property": ["Burglary", "Theft", "Theft From Vehicle", "Motor Vehicle Theft", "Vandalism", "Fraud",
                     "Property Crime"],
        "burglary": ["Burglary"],
        "disorder": ["Quality of Life", "Suspicion", "Other Crime"],
    },
    "incidents": {
        "all": ["*"],
        # Person Offense: a crime against a person the source does not name (Vancouver's privacy-masked bucket)
        "violent": ["Homicide", "Sexual Offense", "Robbery", "Aggravated Assault", "Simple Assault",
                    "Person Offense"],
        "property": ["Burglary", "Larceny", "Theft From Vehicle", "Motor Vehicle Theft", "Arson", "Vandalism"],
        "burglary": ["Burglary"],
        "disorder": ["Disorder", "Drugs", "Weapons"],
    },
}


def merge_groups(configured: dict[str, dict[str, list[str]]]) -> dict[str, dict[str, list[str]]]:
    """The default groups with the configured ones merged in: a configured group adds to the defaults or replaces
    the default of the same name; an empty list drops a default group (it stays as an empty list, which
    matches nothing, so merging again gives the same groups). An empty list for a group that is not a
    default is an error (most likely a typo in the name)."""
    merged = {ds: {g: list(cats) for g, cats in groups.items()} for ds, groups in DEFAULT_GROUPS.items()}
    for ds, groups in configured.items():
        for g, cats in groups.items():
            if not IDENT_RE.match(g):
                raise ValueError(f"category group {ds}.{g!r} must be letters, digits and _")
            if not cats and g not in merged[ds]:
                raise ValueError(f"category group {ds}.{g} is empty: an empty list drops a default group, and "
                                 f"{g!r} is not one (defaults: {', '.join(DEFAULT_GROUPS[ds])})")
            merged[ds][g] = list(cats)
    return merged


class AnalysisConfig(Strict):
    """Settings of the marts (hot spots, repeat locations, near repeats)."""

    cell_size_m: float = Field(default=150.0, gt=0, description="side of a grid cell, metres")
    h3_resolution: int = Field(default=9, ge=0, le=15, description="H3 resolution of the hexagon units")
    snap_tolerance_m: float = Field(default=30.0, ge=0, description="events snap to a street segment within this")
    street_label_max_m: float = Field(
        default=100.0, ge=0, description="a place without an address is labelled 'near <street>' after the nearest "
                                         "named street of the agency's streets layer within this distance")
    gi_distance_m: float | None = Field(default=None, description="Gi* neighbourhood on grids; default queen")
    gi_permutations: int = Field(default=0, ge=0, description="Gi* conditional permutations beside the normal "
                                 "approximation (p_sim, gi_bin_sim); 0 = off; 9999 lets the FDR bins flag units")
    gi_seed: int = Field(default=20240601, ge=0, description="seed of the Gi* permutations (reproducible nights)")
    study_area_empty_share: float = Field(default=0.5, gt=0, le=1, description="warn when more than this share "
                                          "of an agency's grid cells had no located event in the longest window")
    default_origin: Literal["all", "community", "officer", "unknown"] = Field(
        default="community", description="the origin the report and default marts show")
    category_groups: dict[Literal["calls", "incidents"], dict[str, list[str]]] = Field(
        default_factory=lambda: merge_groups({}),
        description="named groups of categories per dataset ('*' = every category), merged with DEFAULT_GROUPS: "
                    "a group adds to them or replaces the one of the same name; an empty list drops one")
    ehsa_step: Literal["week", "month"] = Field(default="week", description="time step of emerging hot spots")
    ehsa_steps: int = Field(default=26, ge=1, description="steps in the emerging hot spot analysis")
    ehsa_k: int = Field(default=1, ge=0, description="earlier time steps in the space-time Gi* neighbourhood")
    ehsa_alpha: float = Field(default=0.05, gt=0, lt=1, description="significance of the Mann-Kendall trend")
    kde_bandwidth_m: float = Field(default=400.0, gt=0, description="kernel density bandwidth, metres")
    kde_windows_days: list[int] = Field(default=[28, 91], description="windows of the kernel density surfaces")
    prediction_period_days: int = Field(default=28, ge=1, description="hotspot_accuracy: last vs this period")
    repeat_min_events: int = Field(default=3, ge=2, description="events that make a location a repeat location")
    repeat_window_days: int = Field(default=365, ge=1, description="window of repeat locations and hour of week")
    enforcement_natures: list[str] = Field(
        default=["DRUGS", "TRAFFIC_STOP", "FIELD_INTERVIEW", "WARRANT"],
        description="enforcement-sensitive call natures (config/taxonomy/call_natures.csv codes: drugs, traffic "
                    "stop, pedestrian stop, warrant): marts.hotspot_audit gives the share of the hot cells' and top "
                    "places' calls in them")
    audit_top_places: int = Field(default=10, ge=1, description="marts.hotspot_audit: the top repeat places "
                                                                "audited (by rank, category group all, origin all)")
    near_repeat_distance_m: float = Field(default=200.0, gt=0, description="near-repeat labels: the distance "
                                                                           "band, metres")
    near_repeat_days: float = Field(default=14.0, gt=0, description="near-repeat labels: the time band, days")
    knox_space_bands: list[float] = Field(default=[0, 1, 100, 200, 400], description="Knox distance band edges, "
                                                                                    "metres")
    knox_time_bands: list[float] = Field(default=[0, 7, 14, 21], description="Knox time band edges, days")
    knox_perms: int = Field(default=99, ge=9, description="Knox Monte Carlo permutations")
    knox_groups: list[str] = Field(default=["burglary"], description="category groups the Knox test runs on")
    max_precision_m: dict[str, float] = Field(
        default={}, description="unit type (grid, h3, street, or a unit_layers name) -> the largest "
                                "geocode_precision_m an event may have to enter it, metres. Default rule: grid "
                                "cell_size_m, h3 the hexagon's mean edge length, street snap_tolerance_m, a polygon "
                                "layer half the square root of its median unit area (a typical unit's radius). A "
                                "point without a precision (the feed's own) enters every unit; one too imprecise "
                                "is left out of that unit type and counted (marts.event_units.left_out)")
    keep_placeholders: bool = Field(
        default=False, description="keep placeholder points (location_issue placeholder: a station, centroid or "
                                   "geocoder default) in the spatial units and hot spots; default left out")
    placeholder_min_events: int = Field(
        default=50, ge=2, description="placeholder rule: an exact point needs at least this many events, and 10 x "
                                      "the agency's median events per point (sql/marts/placeholder_points.sql)")
    restated_min_change: int = Field(
        default=1, ge=1, description="the report's \"Restated since last week's report\": a CompStat figure (agency "
                                     "or district) is listed when its count now differs from the count published "
                                     "a week before by at least this many events")
    placeholder_min_addresses: int = Field(
        default=20, ge=2, description="placeholder rule: ... and at least this many distinct addresses, and 10 x "
                                      "the median distinct addresses per point")

    @field_validator("category_groups")
    def _groups(cls, v):
        return merge_groups(v)

    @model_validator(mode="after")
    def _knox_groups(self) -> AnalysisConfig:
        known = {g for groups in self.category_groups.values() for g, cats in groups.items() if cats}
        missing = [g for g in self.knox_groups if g not in known]
        if missing:
            raise ValueError(f"knox_groups {missing} name no category group (groups: {', '.join(sorted(known))})")
        return self


class SaraConfig(Strict):
    profile: str = Field(default="default", description="a name for this configuration")
    warehouse: WarehouseConfig = Field(default=WarehouseConfig(), description="the DuckDB file and landing folder")
    time: TimeConfig = Field(default=TimeConfig(), description="time checks and the as-of date")
    agencies: dict[str, AgencyConfig] = Field(description="agency code -> its zone, CRS and area")
    sources: list[str] = Field(description="sources to load, each `config/sources/<name>.yaml`")
    windows_days: list[int] = Field(default=[7, 28, 91, 364], description="analysis windows, days")
    schedules: dict[str, ScheduleConfig] = Field(
        default={}, description="deployments sara serve runs: nightly, weekly_report")
    location_round_m: float = Field(default=10.0, description="grid a location_key is rounded to when there "
                                                              "is no address")
    analysis: AnalysisConfig = Field(default=AnalysisConfig(), description="settings of the marts")
    problems_dir: str = Field(default="config/problems", description="folder of tracked SARA problems")
    allowed_roots: list[str] = Field(default=[], description="extra folders configured paths may point into")
    versions: VersionsConfig = Field(default=VersionsConfig(),
                                     description="what marts.changes counts as a late arrival, and when a "
                                                 "reclassified share warns")
    publish: PublishPolicy = Field(default_factory=lambda: PublishPolicy(),
                                   description="what the public open-data extract may hold and how it is masked")

    @field_validator("sources")
    def _names(cls, v: list[str]) -> list[str]:
        for s in v:
            if not IDENT_RE.match(s):
                raise ValueError(f"source name {s!r} must be letters, digits and _")
        if len(set(v)) != len(v):
            raise ValueError("a source is listed twice")
        return v

    @model_validator(mode="after")
    def _precision_units(self) -> SaraConfig:
        known = {"grid", "h3", "street"} | {u for a in self.agencies.values() for u in a.unit_layers}
        for unit, limit in self.analysis.max_precision_m.items():
            if unit not in known:
                raise ValueError(f"analysis.max_precision_m: {unit!r} is no unit type ({', '.join(sorted(known))})")
            if not limit > 0:
                raise ValueError(f"analysis.max_precision_m.{unit} must be > 0 metres, not {limit}")
        return self


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
