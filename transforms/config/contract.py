"""The rules every config file follows: strict models, the shared validators, named YAML files, path roots.

Validation is strict (`extra="forbid"`): a misspelt key, a wrong type, a missing file, an unknown
time zone or CRS fails before any data moves, with the file, the key and the reason.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ConfigError(ValueError):
    """A config file is wrong. The message names the file, the key and the reason."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Project(Protocol):
    """What the file helpers read of the settings being loaded (transforms.config.settings.Settings is one):
    the project folder, the sara.toml path and model, the sources, and paths resolved against the project."""

    project_dir: Path
    config_path: Path
    sara: Any
    sources: dict[str, Any]

    @property
    def whole(self) -> Project: ...

    def resolve(self, p: str | Path) -> Path: ...


def check_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {v!r}") from exc
    return v


def check_crs(v: str) -> str:
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        CRS.from_user_input(v)
    except CRSError as exc:
        raise ValueError(f"unknown CRS {v!r}") from exc
    return v


def check_metric_crs(v: str) -> str:
    from pyproj import CRS

    check_crs(v)
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


def format_errors(path: Path, exc: ValidationError) -> str:
    """A pydantic error as one line per key: the file, then `key <dotted.path>: <reason>`."""
    lines = [f"{path}: invalid configuration"]
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        lines.append(f"  key {loc}: {err['msg']}")
    return "\n".join(lines)


def load_named_yaml(path: Path, model, settings: Project):
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
        raise ConfigError(format_errors(path, exc)) from None
    if obj.name != path.stem:
        raise ConfigError(f"{path}: key name: {obj.name!r} must equal the file name {path.stem!r}")
    agencies = settings.whole.sara.agencies
    if obj.agency not in agencies:
        raise ConfigError(
            f"{path}: key agency: {obj.agency!r} is not an agency in {settings.config_path.name} "
            f"({sorted(agencies)})"
        )
    return obj


def check_paths(settings: Project) -> None:
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
