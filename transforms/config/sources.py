"""A source's YAML (`config/sources/<name>.yaml`): how one vendor layout maps onto the canonical schema.

A new vendor layout needs a new source file (and crosswalk CSVs where needed), never new code.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator

from transforms.config.contract import (
    IDENT_RE,
    ColumnName,
    ConfigError,
    Project,
    Strict,
    check_crs,
    check_zone,
    load_named_yaml,
)


class TimestampSpec(Strict):
    """How to read one canonical timestamp.

    Exactly one of `columns` (text, joined with a space, then parsed with `formats`),
    `parts` (split year/month/day/hour/minute/second columns) or `epoch` (with `columns`).
    A format with `%z` reads a time with an explicit offset: an instant, never converted from the zone.
    A typed Parquet timestamp column is read from its type before the formats are tried (see
    `SourceConfig.naive_timestamps`).
    """

    columns: list[ColumnName] = Field(
        default=[], description="source column(s) holding the time; several are joined with one space before "
                                "the formats are tried (e.g. a date column and a time column)")
    formats: list[str] = Field(
        default=[], description="DuckDB strptime formats, tried in turn until one reads the text (see 'Time "
                                "formats'); a format with %z or %Z reads an instant, never converted from the zone")
    replace: list[tuple[str, str]] = Field(
        default=[], description="[regex, replacement] pairs applied to the text, in order, before the formats "
                                "(every match; \\1 refers to a group), e.g. ['(\\d+)(st|nd|rd|th)', '\\1']")
    parts: dict[Literal["year", "month", "day", "hour", "minute", "second"], ColumnName] = Field(
        default={}, description="split date-part columns instead of formats; year, month and day required, "
                                "a missing hour, minute or second counts as 0")
    epoch: Literal["s", "ms"] | None = Field(
        default=None, description="the column holds seconds (s) or milliseconds (ms) since 1970-01-01 UTC: "
                                  "an instant, unless `timezone` names the zone its wall clock was counted in")
    timezone: str | None = Field(default=None, description="override: zone of this column ('UTC'); a time "
                                                           "that carries its own offset ignores it")
    precision: Literal["exact", "date_only"] = Field(
        default="exact", description="date_only: the time is a date without a time of day. Such a time ends no "
                                     "interval (queue_s, travel_s, response_s ... are null, named "
                                     "`<interval>:date_only`, never 0 s), its call has no response time "
                                     "(counted as date_only_time) and no hour of week (counted in n_left_out). "
                                     "Default: date_only when no format (or no part) reads an hour, else exact")

    _zone = field_validator("timezone")(lambda v: v if v is None else check_zone(v))

    @model_validator(mode="before")
    @classmethod
    def _hourless_is_date_only(cls, data):
        # a time whose formats (or parts) read no hour is a date: never an exact midnight
        if isinstance(data, dict) and "precision" not in data and reads_no_hour(data):
            return {**data, "precision": "date_only"}
        return data

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


# strptime directives that read an hour (DuckDB: %c and %X read a whole time)
HOUR_DIRECTIVES = ("%H", "%-H", "%I", "%-I", "%c", "%X")


def reads_no_hour(spec: dict) -> bool:
    """Whether a timestamp spec (as written in YAML) reads no hour of day: every format lacks an hour directive,
    or the parts have no hour column. An epoch always has one."""
    formats, parts = spec.get("formats") or [], spec.get("parts") or {}
    if spec.get("epoch") is not None:
        return False
    if formats:
        return all(not any(d in f for d in HOUR_DIRECTIVES) for f in formats if isinstance(f, str))
    return bool(parts) and isinstance(parts, dict) and "hour" not in parts


class ExtractAtSpec(Strict):
    """Where an extract's own timestamp comes from (orders versions; never the load order)."""

    filename_pattern: str | None = Field(
        default=None, description="regex with one group that captures the extract time from the file name")
    format: str = Field(default="%Y%m%dT%H%M%S",
                        description="strptime format of the captured text (file name) or of the column")
    column: ColumnName | None = Field(default=None, description="a column holding the extract time instead")
    timezone: str | None = Field(default=None, description="zone of the extract time; default the source's")

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
            check_zone(self.timezone)
        return self


class CoordinateSpec(Strict):
    x: ColumnName | None = Field(default=None, description="column of the x coordinate (longitude, easting)")
    y: ColumnName | None = Field(default=None, description="column of the y coordinate (latitude, northing)")
    geometry: bool = Field(default=False, description="true: a vector file's own point geometry instead of x/y")
    crs: str = Field(default="EPSG:4326", description="CRS of x/y (any pyproj input, e.g. EPSG:26971)")

    _crs = field_validator("crs")(check_crs)

    @model_validator(mode="after")
    def _xy(self) -> CoordinateSpec:
        if self.geometry == bool(self.x and self.y):
            raise ValueError("give x and y columns, or geometry: true for a vector file")
        return self


class Condition(Strict):
    """All keys must hold. `column` compared by `equals` / `in_` / `matches` (regex)."""

    column: ColumnName = Field(description="the source column tested (its value trimmed)")
    equals: str | None = Field(default=None, description="holds when the value equals this text")
    in_: list[str] | None = Field(default=None, alias="in", description="holds when the value is one of these")
    matches: str | None = Field(default=None, description="holds when this regex matches (anywhere) in the value")

    @model_validator(mode="after")
    def _one(self) -> Condition:
        if sum(x is not None for x in (self.equals, self.in_, self.matches)) != 1:
            raise ValueError("give exactly one of equals, in, matches")
        return self


class OriginSpec(Strict):
    column: ColumnName = Field(description="column that says who started the call (e.g. an on-view flag)")
    officer_values: list[str] = Field(description="values (case-insensitive) meaning officer-initiated")
    community_values: list[str] = Field(default=[], description="values meaning a call from the public; "
                                                                "any other value is unknown")


class VoidSpec(Strict):
    column: ColumnName = Field(description="column that marks a record deleted or unfounded")
    values: list[str] = Field(description="values (case-insensitive) that mean void: kept, never counted")


class PolygonLayer(Strict):
    path: str = Field(description="polygon file (GeoPackage, shapefile, GeoJSON ...), relative to the project")
    field: str = Field(description="attribute holding the beat / district name")
    layer: str | None = Field(default=None, description="layer of a multi-layer file")


class GeocodeSpec(Strict):
    """Offline geocoding of the source's unlocated rows (README "Geocoding"). Off by default, so an existing
    project's nights do not change until an analyst turns it on and reviews what it places."""

    enabled: bool = Field(
        default=False, description="place the rows that have an address but no usable point, from the agency's "
                                   "own located history and streets layer (never an online service); each placed "
                                   "row records geocode_method, geocode_precision_m and geocode_source")
    feed_precision_m: float | None = Field(
        default=None, gt=0, description="the radius, metres, the feed's own points are given in "
                                        "geocode_precision_m (e.g. 75 for block-level points); default null: the "
                                        "feed's points are taken as exact and enter every spatial unit")


class CrosswalkSpec(Strict):
    call_types: str | None = Field(default=None, description="CSV: code, call_type, call_category[, origin]")
    dispositions: str | None = Field(
        default=None, description="CSV: code, disposition_category[, countable, void]")
    priorities: str | None = Field(default=None, description="CSV: code, priority_level (1 most urgent .. 5)")
    offenses: str | None = Field(
        default=None, description="CSV: code, offense, offense_category, crime_against, severity_rank")
    beats: str | None = Field(
        default=None, description="CSV: code, beat: the feed's own beat values -> the names the beat polygon layer "
                                  "uses (a value not listed is kept as delivered)")
    districts: str | None = Field(
        default=None, description="CSV: code, district: the feed's own district values -> the names the district "
                                  "polygon layer uses (a value not listed is kept as delivered)")


CALL_FIELDS = {
    "call_type_code": "the code the final call type is crosswalked from",
    "call_type_initial": "the initial call type code",
    "priority": "the priority as delivered",
    "disposition": "the disposition code",
    "address": "the street address or block",
    "premise": "a premise / common place name",
    "duplicate_of": "the id of the call this one duplicates",
    "linked_to": "the id of a call this one is linked to",
    "unit_id": "the responding unit (event_grain: unit): each unit's times are kept in core.call_units",
    "juvenile_flag": "a juvenile-involved flag",
    "beat": "the feed's own beat (or sector); a polygon layer tags the point where it is empty",
    "district": "the feed's own district; a polygon layer tags the point where it is empty",
}
INCIDENT_FIELDS = {
    "offense_code": "the offence code",
    "offense": "the offence description",
    "offense_seq": "the offence sequence number in a multi-offence incident",
    "address": "the street address or block",
    "premise": "a premise / common place name",
    "juvenile_flag": "a juvenile-involved flag",
    "beat": "the feed's own beat (or sector); a polygon layer tags the point where it is empty",
    "district": "the feed's own district; a polygon layer tags the point where it is empty",
}
CALL_TIMES = ["received_at", "entered_at", "dispatched_at", "enroute_at", "onscene_at", "cleared_at", "updated_at"]
INCIDENT_TIMES = ["occurred_from", "occurred_to", "reported_at", "updated_at"]


class SourceConfig(Strict):
    name: str = Field(description="the file's stem: letters, digits and _")
    kind: Literal["calls", "incidents"] = Field(description="calls (CAD) or incidents (RMS)")
    agency: str = Field(description="an agency code of sara.toml")
    description: str = Field(default="", description="free text: what the feed is and where it comes from")
    format: Literal["csv", "parquet", "xlsx", "vector"] = Field(
        description="csv (plain, gzip, zip with one CSV, zstd or bz2, whatever the name says), parquet, xlsx, "
                    "or vector (shapefile, GeoPackage, GeoJSON)")
    encoding: str = Field(default="utf-8", description="any Python codec name, e.g. cp1252; a BOM is handled")
    delimiter: str = Field(default=",", description="CSV field delimiter (one character)")
    quote: str = Field(default='"', description="CSV quote character (one character)")
    header_row: int = Field(default=1, ge=1, description="the line (CSV) or row (xlsx) holding the header")
    sheet: str | None = Field(default=None, description="xlsx sheet; default the first")
    file_pattern: str = Field(default="*", description="glob of the files to pick up in the landing folder; "
                                                       "other files are reported as not picked up")
    ready_marker: str | None = Field(
        default=None, description="a file the vendor writes once a delivery is complete, e.g. '{name}.done' "
                                  "({name}: the delivery's file name, {stem}: its name less the last suffix)")
    final_newline: Literal["required", "optional"] = Field(
        default="required", description="required: a plain CSV whose last byte is not a line end is still being "
                                        "written and is held; optional: the vendor never writes a final newline")
    null_values: list[str] = Field(default=[""], description="text that means empty")
    required_columns: list[ColumnName] = Field(
        default=[], description="columns that must be in the header (the record id and primary time columns "
                                "always are)")
    record_id: list[ColumnName] = Field(
        default=[], description="id column(s); empty for feeds without ids (an id is made from the row content)")
    update_mode: Literal["upsert", "replace_window", "append"] = Field(
        description="upsert (by record id), replace_window (a full refresh replaces the local days it covers) "
                    "or append")
    extract_at: ExtractAtSpec | None = Field(
        default=None, description="the extract's own time (orders versions); default the file's modification "
                                  "time")
    dedupe: bool = Field(default=False, description="drop exact duplicate rows (real feeds often have separate "
                                                    "events that look identical: off by default)")
    event_grain: Literal["record", "unit", "offense"] = Field(
        default="record", description="record: one row per record; unit: CAD rows per responding unit -> one "
                                      "call (first dispatch, first arrival, last clear); offense: RMS rows per "
                                      "offence -> one incident by its most serious offence")
    timezone: str = Field(description="IANA zone of the feed's local times (text without an offset)")
    naive_timestamps: Literal["local", "utc"] = Field(
        default="local",
        description="how a timestamp column typed in the file without a zone (a naive Parquet TIMESTAMP) is read: "
                    "'local', in the time's zone (its `timezone` override, else the source's), with the DST rule; "
                    "or 'utc' (e.g. Spark/Impala INT96 files). A time-zone-aware Parquet timestamp is an instant "
                    "and is kept exactly, whatever this or `timezone` says. Text times are unaffected")
    timestamps: dict[str, TimestampSpec] = Field(
        description="canonical time -> how to read it. Calls: received_at (required), entered_at, "
                    "dispatched_at, enroute_at, onscene_at, cleared_at, updated_at; incidents: occurred_from or "
                    "reported_at (one required), occurred_to, updated_at")
    sentinel_dates: list[date] = Field(
        default=[], description="dates that mean 'never' (e.g. 1900-01-01): the time becomes null; a primary "
                                "time is flagged `sentinel_<field>` (not counted by the time_issues audit), or the "
                                "row is quarantined when no primary time is left")
    columns: dict[str, ColumnName] = Field(
        default={}, description="canonical field -> source column. Calls: " + ", ".join(CALL_FIELDS)
                                + ". Incidents: " + ", ".join(INCIDENT_FIELDS))
    constants: dict[str, str] = Field(default={}, description="a canonical field with a fixed value, e.g. "
                                                              "offense_code: AGG_ASSAULT")
    coordinates: CoordinateSpec | None = Field(default=None, description="where the event is")
    crosswalks: CrosswalkSpec = Field(default=CrosswalkSpec(), description="code crosswalk CSVs "
                                                                           "(config/crosswalks/README.md)")
    origin: OriginSpec | None = Field(default=None, description="a column saying officer- or community-initiated; "
                                                                "otherwise the call-type crosswalk's origin")
    void: VoidSpec | None = Field(default=None, description="a column and the values that mark a record void")
    unknown_time: list[list[Condition]] = Field(
        default=[], description="any rule whose conditions all hold marks the time of day unknown"
    )
    geocode: GeocodeSpec = Field(default=GeocodeSpec(), description="offline geocoding of rows with an address "
                                                                    "and no usable point")
    polygons: dict[Literal["beat", "district"], PolygonLayer] = Field(
        default={}, description="beat / district: a polygon layer that tags located points")
    drop_columns: list[ColumnName] = Field(default=[], description="source columns not kept as `raw_*` in core")

    _zone = field_validator("timezone")(check_zone)

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
        for unit, key in (("beat", "beats"), ("district", "districts")):
            if getattr(self.crosswalks, key) and unit not in self.columns and unit not in self.constants:
                raise ValueError(f"crosswalks.{key} renames the feed's own {unit} values: map columns.{unit} too")
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


def load_source(path: Path, settings: Project) -> SourceConfig:
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
