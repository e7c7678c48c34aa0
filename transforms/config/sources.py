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

    columns: list[ColumnName] = []
    formats: list[str] = []
    replace: list[tuple[str, str]] = Field(default=[], description="regex replacements applied first")
    parts: dict[Literal["year", "month", "day", "hour", "minute", "second"], ColumnName] = {}
    epoch: Literal["s", "ms"] | None = None
    timezone: str | None = Field(default=None, description="override: zone of this column ('UTC'); a time "
                                                           "that carries its own offset ignores it")
    precision: Literal["exact", "date_only"] = "exact"

    _zone = field_validator("timezone")(lambda v: v if v is None else check_zone(v))

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
            check_zone(self.timezone)
        return self


class CoordinateSpec(Strict):
    x: ColumnName | None = None
    y: ColumnName | None = None
    geometry: bool = False
    crs: str = "EPSG:4326"

    _crs = field_validator("crs")(check_crs)

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
    # the feed's own beat / district values -> the names the polygon layers use (a value not listed is kept
    # as delivered)
    beats: str | None = None
    districts: str | None = None


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
