"""Validated configuration: `config/sara.toml` plus one YAML file per source.

Everything an agency changes without touching code lives in these files. A new vendor layout
needs a new `config/sources/<name>.yaml` (and crosswalk CSVs where needed), never new code.

Validation is strict (`extra="forbid"`): a misspelt key, a wrong type, a missing file, an unknown
time zone or CRS fails before any data moves, with the file, the key and the reason.
"""

from __future__ import annotations

import re
import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from transforms.outputs.publish import PublishPolicy  # noqa: E402  (a pure pydantic model; no cycle)

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """A config file is wrong. The message names the file, the key and the reason."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _check_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {v!r}") from exc
    return v


def _check_crs(v: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(v)
    except CRSError as exc:
        raise ValueError(f"unknown CRS {v!r}") from exc
    return v


def _check_metric_crs(v: str) -> str:
    from pyproj import CRS

    _check_crs(v)
    crs = CRS.from_user_input(v)
    if crs.is_geographic:
        raise ValueError(f"analysis CRS {v!r} is geographic; it must be projected, in metres")
    units = {ax.unit_name for ax in crs.axis_info}
    if units - {"metre", "meter"}:
        raise ValueError(f"analysis CRS {v!r} has units {sorted(units)}; it must be in metres")
    return v


def _check_column_name(v: str) -> str:
    # Source column names may hold spaces or punctuation (real headers do), but never a quote
    # character or a control character: those are the ways to break out of a quoted identifier.
    if not v or any(ch in v for ch in "\"'`;\\") or any(ord(ch) < 32 for ch in v):
        raise ValueError(f"column name {v!r} is not allowed (quotes, ';', '\\' or control characters)")
    return v


ColumnName = Annotated[str, Field(min_length=1), AfterValidator(_check_column_name)]


# ---------------------------------------------------------------------------------------------
# sara.toml
# ---------------------------------------------------------------------------------------------


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

    _zone = field_validator("timezone")(_check_zone)
    _crs = field_validator("crs")(_check_metric_crs)

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
    as_of: date | None = Field(default=None, description="fixed as-of date (demo, backfills)")


class ScheduleConfig(Strict):
    cron: str
    timezone: str = "UTC"
    # the nightly run only: "dask" fans it out on a Dask cluster (dask_address, else a LocalCluster)
    executor: Literal["local", "dask"] = "local"
    dask_address: str | None = None
    dask_workers: int | None = Field(default=None, ge=1)
    _zone = field_validator("timezone")(_check_zone)


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


# ---------------------------------------------------------------------------------------------
# config/sources/<name>.yaml
# ---------------------------------------------------------------------------------------------


class TimestampSpec(Strict):
    """How to read one canonical timestamp.

    Exactly one of `columns` (text, joined with a space, then parsed with `formats`),
    `parts` (split year/month/day/hour/minute/second columns) or `epoch` (with `columns`).
    A format with `%z` reads a time with an explicit offset: an instant, never converted from the zone.
    A typed Parquet timestamp column is read from its type before the formats are tried (see
    `SourceConfig.naive_timestamps`).
    """

    columns: list[ColumnName] = []
    formats: list[str] = []
    replace: list[tuple[str, str]] = Field(default=[], description="regex replacements applied first")
    parts: dict[Literal["year", "month", "day", "hour", "minute", "second"], ColumnName] = {}
    epoch: Literal["s", "ms"] | None = None
    timezone: str | None = Field(default=None, description="override: zone of this column ('UTC'); a time "
                                                           "that carries its own offset ignores it")
    precision: Literal["exact", "date_only"] = "exact"

    _zone = field_validator("timezone")(lambda v: v if v is None else _check_zone(v))

    @model_validator(mode="after")
    def _one_way(self) -> TimestampSpec:
        ways = [bool(self.formats), bool(self.parts), self.epoch is not None]
        if sum(ways) != 1:
            raise ValueError("give exactly one of formats, parts or epoch")
        if (self.formats or self.epoch) and not self.columns:
            raise ValueError("formats and epoch need columns")
        if self.parts and not {"year", "month", "day"} <= set(self.parts):
            raise ValueError("parts need at least year, month and day")
        for pat, _ in self.replace:
            try:
                re.compile(pat)
            except re.error as exc:
                raise ValueError(f"replace pattern {pat!r}: {exc}") from exc
        return self

    def source_columns(self) -> list[str]:
        return [*self.columns, *self.parts.values()]


class ExtractAtSpec(Strict):
    """Where an extract's own timestamp comes from (orders versions; never the load order)."""

    filename_pattern: str | None = Field(default=None, description="regex with one group")
    format: str = "%Y%m%dT%H%M%S"
    column: ColumnName | None = None
    timezone: str | None = None

    @model_validator(mode="after")
    def _one(self) -> ExtractAtSpec:
        if (self.filename_pattern is None) == (self.column is None):
            raise ValueError("give exactly one of filename_pattern or column")
        if self.filename_pattern is not None:
            try:
                rx = re.compile(self.filename_pattern)
            except re.error as exc:
                raise ValueError(f"filename_pattern: {exc}") from exc
            if rx.groups != 1:
                raise ValueError("filename_pattern needs exactly one capture group")
        if self.timezone is not None:
            _check_zone(self.timezone)
        return self


class CoordinateSpec(Strict):
    x: ColumnName | None = None
    y: ColumnName | None = None
    geometry: bool = False
    crs: str = "EPSG:4326"

    _crs = field_validator("crs")(_check_crs)

    @model_validator(mode="after")
    def _xy(self) -> CoordinateSpec:
        if self.geometry == bool(self.x and self.y):
            raise ValueError("give x and y columns, or geometry: true for a vector file")
        return self


class Condition(Strict):
    """All keys must hold. `column` compared by `equals` / `in_` / `matches` (regex)."""

    column: ColumnName
    equals: str | None = None
    in_: list[str] | None = Field(default=None, alias="in")
    matches: str | None = None

    @model_validator(mode="after")
    def _one(self) -> Condition:
        if sum(x is not None for x in (self.equals, self.in_, self.matches)) != 1:
            raise ValueError("give exactly one of equals, in, matches")
        return self


class OriginSpec(Strict):
    column: ColumnName
    officer_values: list[str]
    community_values: list[str] = []


class VoidSpec(Strict):
    column: ColumnName
    values: list[str]


class PolygonLayer(Strict):
    path: str
    field: str
    layer: str | None = None


class CrosswalkSpec(Strict):
    call_types: str | None = None
    dispositions: str | None = None
    priorities: str | None = None
    offenses: str | None = None


CALL_FIELDS = {
    "call_type_code": "the code the final call type is crosswalked from",
    "call_type_initial": "the initial call type code",
    "priority": "the priority as delivered",
    "disposition": "the disposition code",
    "address": "the street address or block",
    "premise": "a premise / common place name",
    "duplicate_of": "the id of the call this one duplicates",
    "linked_to": "the id of a call this one is linked to",
    "juvenile_flag": "a juvenile-involved flag",
}
INCIDENT_FIELDS = {
    "offense_code": "the offence code",
    "offense": "the offence description",
    "offense_seq": "the offence sequence number in a multi-offence incident",
    "address": "the street address or block",
    "premise": "a premise / common place name",
    "juvenile_flag": "a juvenile-involved flag",
}
CALL_TIMES = ["received_at", "entered_at", "dispatched_at", "enroute_at", "onscene_at", "cleared_at", "updated_at"]
INCIDENT_TIMES = ["occurred_from", "occurred_to", "reported_at", "updated_at"]


class SourceConfig(Strict):
    name: str
    kind: Literal["calls", "incidents"]
    agency: str
    description: str = ""
    format: Literal["csv", "parquet", "xlsx", "vector"]
    encoding: str = "utf-8"
    delimiter: str = ","
    quote: str = '"'
    header_row: int = Field(default=1, ge=1)
    sheet: str | None = None
    file_pattern: str = "*"
    ready_marker: str | None = Field(
        default=None, description="a file the vendor writes once a delivery is complete, e.g. '{name}.done' "
                                  "({name}: the delivery's file name, {stem}: its name less the last suffix)")
    final_newline: Literal["required", "optional"] = Field(
        default="required", description="required: a plain CSV whose last byte is not a line end is still being "
                                        "written and is held; optional: the vendor never writes a final newline")
    null_values: list[str] = [""]
    required_columns: list[ColumnName] = []
    record_id: list[ColumnName] = []
    update_mode: Literal["upsert", "replace_window", "append"]
    extract_at: ExtractAtSpec | None = None
    dedupe: bool = False
    event_grain: Literal["record", "unit", "offense"] = "record"
    timezone: str = Field(description="IANA zone of the feed's local times (text without an offset)")
    naive_timestamps: Literal["local", "utc"] = Field(
        default="local",
        description="how a timestamp column typed in the file without a zone (a naive Parquet TIMESTAMP) is read: "
                    "'local', in the time's zone (its `timezone` override, else the source's), with the DST rule; "
                    "or 'utc' (e.g. Spark/Impala INT96 files). A time-zone-aware Parquet timestamp is an instant "
                    "and is kept exactly, whatever this or `timezone` says. Text times are unaffected")
    timestamps: dict[str, TimestampSpec]
    sentinel_dates: list[date] = []
    columns: dict[str, ColumnName] = {}
    constants: dict[str, str] = {}
    coordinates: CoordinateSpec | None = None
    crosswalks: CrosswalkSpec = CrosswalkSpec()
    origin: OriginSpec | None = None
    void: VoidSpec | None = None
    unknown_time: list[list[Condition]] = Field(
        default=[], description="any rule whose conditions all hold marks the time of day unknown"
    )
    polygons: dict[Literal["beat", "district"], PolygonLayer] = {}
    drop_columns: list[ColumnName] = []

    _zone = field_validator("timezone")(_check_zone)

    @field_validator("encoding")
    def _enc(cls, v: str) -> str:
        import codecs

        try:
            codecs.lookup(v)
        except LookupError as exc:
            raise ValueError(f"unknown encoding {v!r}") from exc
        return v

    @field_validator("ready_marker")
    def _marker(cls, v: str | None) -> str | None:
        if v is None:
            return v
        try:
            name = v.format(name="x.csv", stem="x")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"ready_marker {v!r}: use only {{name}} and {{stem}} ({exc})") from None
        if not name or "/" in name or "\\" in name or name in (".", "..", "x.csv"):
            raise ValueError(f"ready_marker {v!r} must name another file in the same folder, e.g. '{{name}}.done'")
        return v

    @model_validator(mode="after")
    def _shape(self) -> SourceConfig:
        if not IDENT_RE.match(self.name):
            raise ValueError(f"name {self.name!r} must be letters, digits and _")
        fields = CALL_FIELDS if self.kind == "calls" else INCIDENT_FIELDS
        times = CALL_TIMES if self.kind == "calls" else INCIDENT_TIMES
        for k in [*self.columns, *self.constants]:
            if k not in fields:
                raise ValueError(f"columns: {k!r} is not a canonical {self.kind} field; use one of {sorted(fields)}")
        for k in self.timestamps:
            if k not in times:
                raise ValueError(f"timestamps: {k!r} is not a {self.kind} time; use one of {times}")
        primary = ["received_at"] if self.kind == "calls" else ["occurred_from", "reported_at"]
        if not any(p in self.timestamps for p in primary):
            raise ValueError(f"timestamps must define {' or '.join(primary)}")
        if self.update_mode == "upsert" and not self.record_id:
            raise ValueError("update_mode upsert needs record_id columns")
        if self.event_grain == "unit" and self.kind != "calls":
            raise ValueError("event_grain unit is for CAD calls")
        if self.event_grain == "offense" and self.kind != "incidents":
            raise ValueError("event_grain offense is for incidents")
        if self.event_grain != "record" and not self.record_id:
            raise ValueError(f"event_grain {self.event_grain} needs record_id to group rows")
        if self.kind == "calls" and self.crosswalks.offenses:
            raise ValueError("crosswalks.offenses is for incidents")
        if self.kind == "incidents" and (self.crosswalks.call_types or self.crosswalks.dispositions):
            raise ValueError("call_types/dispositions crosswalks are for calls")
        if len(self.delimiter) != 1 or len(self.quote) != 1:
            raise ValueError("delimiter and quote must be one character")
        return self

    def referenced_columns(self) -> set[str]:
        cols = {*self.record_id, *self.columns.values(), *self.required_columns}
        for spec in self.timestamps.values():
            cols.update(spec.source_columns())
        if self.coordinates and not self.coordinates.geometry:
            cols.update([self.coordinates.x, self.coordinates.y])
        if self.origin:
            cols.add(self.origin.column)
        if self.void:
            cols.add(self.void.column)
        if self.extract_at and self.extract_at.column:
            cols.add(self.extract_at.column)
        for rule in self.unknown_time:
            cols.update(c.column for c in rule)
        return cols


# ---------------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------------


def _format_errors(path: Path, exc: ValidationError) -> str:
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  key {loc}: {err['msg']}")
    return "\n".join(lines)


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
    import os

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
        raise ConfigError(_format_errors(path, exc)) from None

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


def check_paths(settings: Settings) -> None:
    """Every configured input path (landing folder, polygon layers, crosswalks, problems folder) must resolve
    (symlinks followed) inside the project's config/ or data/ folder,
    or inside a folder listed in `allowed_roots` (an explicit, reviewable opt-in, e.g. ../shared/data for the
    public reference layers). A path like ../../etc/x is refused with the file, the key and the reason.
    Files given to `sara ingest` are copied into the landing folder first, so this does not apply to them."""
    roots = [settings.resolve("config"), settings.resolve("data"),
             *(settings.resolve(r) for r in settings.sara.allowed_roots)]
    roots = [r.resolve() for r in roots]

    def check(origin: Path, key: str, value: str | None) -> None:
        if not value:
            return
        target = settings.resolve(value).resolve()
        if not any(target == r or r in target.parents for r in roots):
            raise ConfigError(
                f"{origin}: key {key}: path {value!r} resolves to {target}, outside the project's config/ and "
                f"data/ folders; list its folder in allowed_roots in {settings.config_path.name} to permit it")

    cfg = settings.config_path
    # the warehouse path is an output and may live on another disk; inputs are checked
    check(cfg, "warehouse.landing_dir", settings.sara.warehouse.landing_dir)
    check(cfg, "problems_dir", settings.sara.problems_dir)
    for code, ag in settings.sara.agencies.items():
        check(cfg, f"agencies.{code}.boundary", ag.boundary)
        for unit, layer in ag.unit_layers.items():
            check(cfg, f"agencies.{code}.unit_layers.{unit}.path", layer.path)
        if ag.streets:
            check(cfg, f"agencies.{code}.streets.path", ag.streets.path)
    for name, src in settings.sources.items():
        origin = settings.project_dir / "config" / "sources" / f"{name}.yaml"
        for key, rel in src.crosswalks.model_dump().items():
            check(origin, f"crosswalks.{key}", rel)
        for key, layer in src.polygons.items():
            check(origin, f"polygons.{key}.path", layer.path)


def load_named_yaml(path: Path, model, settings: Settings):
    """Read and validate one YAML config file whose `name` must equal its file stem and whose `agency`
    must be an agency of sara.toml (sources and problems). Raises ConfigError naming file, key, reason."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        obj = model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_format_errors(path, exc)) from None
    if obj.name != path.stem:
        raise ConfigError(f"{path}: key name: {obj.name!r} must equal the file name {path.stem!r}")
    agencies = settings.whole.sara.agencies
    if obj.agency not in agencies:
        raise ConfigError(
            f"{path}: key agency: {obj.agency!r} is not an agency in {settings.config_path.name} "
            f"({sorted(agencies)})"
        )
    return obj


def load_source(path: Path, settings: Settings) -> SourceConfig:
    if not path.is_file():
        raise ConfigError(f"{path}: source config not found (listed in {settings.config_path.name} sources)")
    src = load_named_yaml(path, SourceConfig, settings)
    for key, rel in src.crosswalks.model_dump().items():
        if rel and not settings.resolve(rel).is_file():
            raise ConfigError(f"{path}: key crosswalks.{key}: file not found: {rel}")
    for key, layer in src.polygons.items():
        if not settings.resolve(layer.path).exists():
            raise ConfigError(f"{path}: key polygons.{key}.path: file not found: {layer.path}")
    return src
