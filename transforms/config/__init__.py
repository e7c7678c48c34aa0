"""Validated configuration: `config/sara.toml` plus one YAML file per source (and per problem).

Everything an agency changes without touching code lives in these files:
- contract.py  the rules every file follows (strict models, validators, named YAML files, path roots)
- settings.py  sara.toml and `load_settings`
- sources.py   config/sources/<name>.yaml

The names callers use are importable from `transforms.config` itself.
"""

from transforms.config.contract import IDENT_RE, ConfigError, Strict, check_paths, load_named_yaml
from transforms.config.settings import (
    DEFAULT_GROUPS,
    AgencyConfig,
    AnalysisConfig,
    SaraConfig,
    ScheduleConfig,
    Settings,
    StreetLayer,
    TimeConfig,
    UnitLayer,
    WarehouseConfig,
    find_project_dir,
    load_settings,
    merge_groups,
)
from transforms.config.sources import (
    CALL_FIELDS,
    CALL_TIMES,
    INCIDENT_FIELDS,
    INCIDENT_TIMES,
    Condition,
    CoordinateSpec,
    CrosswalkSpec,
    ExtractAtSpec,
    GeocodeSpec,
    OriginSpec,
    PolygonLayer,
    SourceConfig,
    TimestampSpec,
    VoidSpec,
    load_source,
)

__all__ = [
    "CALL_FIELDS", "CALL_TIMES", "DEFAULT_GROUPS", "IDENT_RE", "INCIDENT_FIELDS", "INCIDENT_TIMES",
    "AgencyConfig", "AnalysisConfig", "Condition", "ConfigError", "CoordinateSpec", "CrosswalkSpec",
    "ExtractAtSpec", "GeocodeSpec", "OriginSpec", "PolygonLayer", "SaraConfig", "ScheduleConfig", "Settings", "SourceConfig",
    "Strict", "StreetLayer", "TimeConfig", "TimestampSpec", "UnitLayer", "VoidSpec", "WarehouseConfig",
    "check_paths", "find_project_dir", "load_named_yaml", "load_settings", "load_source",
    "merge_groups",
]
