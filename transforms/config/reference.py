"""The config key reference, generated from the pydantic models: config/REFERENCE.md and `sara docs --config`.

Every key of sara.toml (settings.py, publish.py), of a source YAML (sources.py) and of a problem YAML
(problems.py) with its type, default and meaning (the field's `description`: every key must have one), then
the time format dialect, what `precision: date_only` does downstream, the DST rule, and one fully annotated
source. `python -m transforms.config.reference > config/REFERENCE.md` writes the file; a test keeps it equal
to what the models say.
"""

from __future__ import annotations

import json
import types
from datetime import date
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from transforms.config.problems import ProblemConfig
from transforms.config.settings import SaraConfig
from transforms.config.sources import HOUR_DIRECTIVES, SourceConfig

# how the key of a mapping is written in a key path
PLACEHOLDERS = {"agencies": "<agency>", "timestamps": "<time>", "schedules": "<name>", "unit_layers": "<unit>",
                "polygons": "<beat or district>", "columns": "<field>", "constants": "<field>",
                "category_groups": "<dataset>", "safe_unmapped_codes": "<dataset>"}

FILES = [
    ("config/sara.toml", SaraConfig,
     "The project's settings. A dotted key `a.b` is key `b` of the TOML table `[a]`; `<agency>` stands for an "
     "agency code you choose (`[agencies.sfpd]`)."),
    ("config/sources/<name>.yaml", SourceConfig,
     "One file per feed: how its layout maps onto the canonical schema. A new vendor layout is a new file, "
     "never new code. `<time>` is a canonical time (`received_at`, `occurred_from` ...)."),
    ("config/problems/<name>.yaml", ProblemConfig,
     "One file per tracked SARA problem (`sara problem new NAME` writes a commented template)."),
]


def _is_model(t: Any) -> bool:
    return isinstance(t, type) and issubclass(t, BaseModel)


def type_text(t: Any) -> str:
    """A type annotation as a reader of the config file sees it."""
    origin, args = get_origin(t), get_args(t)
    if t is type(None):
        return "none"
    if origin in (Union, types.UnionType):
        kinds = [type_text(a) for a in args if a is not type(None)]
        return " or ".join(kinds) + (" or none" if type(None) in args else "")
    if origin is Annotated:
        return type_text(args[0])
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin is list:
        return f"list of {type_text(args[0])}"
    if origin is tuple:
        return "[" + ", ".join(type_text(a) for a in args) + "]"
    if origin is dict:
        return f"mapping of {type_text(args[0])} to {type_text(args[1])}"
    if _is_model(t):
        return "table"
    return {str: "text", int: "integer", float: "number", bool: "true / false", date: "date (YYYY-MM-DD)"}.get(
        t, getattr(t, "__name__", str(t)))


def _default_text(field) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return "required"
    if value is None:
        return "none"
    if isinstance(value, BaseModel):
        return "see its keys"
    return "`" + json.dumps(value, default=str, ensure_ascii=False).replace("|", "\\|") + "`"


def _inner_models(t: Any, key: str) -> list[tuple[str, type[BaseModel]]]:
    """(key suffix, model) for a model reachable from annotation `t`: itself, a list's item, a mapping's value."""
    origin, args = get_origin(t), get_args(t)
    if origin in (Union, types.UnionType):
        return [m for a in args if a is not type(None) for m in _inner_models(a, key)]
    if _is_model(t):
        return [("", t)]
    if origin is list:
        return [("[]" + s, m) for s, m in _inner_models(args[0], key)]
    if origin is dict:
        return [(f".{PLACEHOLDERS.get(key, '<key>')}" + s, m) for s, m in _inner_models(args[1], key)]
    return []


def key_rows(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key path, type, default, description) for every key of `model` and of the models inside it."""
    rows = []
    for name, field in model.model_fields.items():
        key = prefix + (field.alias or name)
        desc = (field.description or "").replace("\n", " ")
        rows.append((key, type_text(field.annotation), _default_text(field), desc))
        for suffix, inner in _inner_models(field.annotation, field.alias or name):
            rows.extend(key_rows(inner, f"{key}{suffix}."))
    return rows


def missing_descriptions() -> list[str]:
    """Key paths without a description, over every config file (the test wants none)."""
    return [f"{path}: {key}" for path, model, _ in FILES for key, _, _, desc in key_rows(model) if not desc]


TIME_FORMATS = r"""
## Time formats (`timestamps.<time>.formats`)

Formats are **DuckDB `strptime` formats**, not Python's and not Java's: DuckDB reads the text, with
`try_strptime(text, [format, ...])`. The formats of a time are tried in turn; the first that reads the whole
text wins (trailing text fails a format, leading spaces are skipped). A value no format reads is
`unparseable_<time>` in `time_issue`, or quarantined (`bad_timestamp`) when it is the row's only primary time.

| directive | reads | example text | format |
|---|---|---|---|
| `%Y` | four-digit year | `2024` | `%Y-%m-%d` |
| `%y` | two-digit year (`00`-`68` -> 20xx, `69`-`99` -> 19xx) | `24` | `%d/%m/%y` |
| `%m`, `%-m` | month number; one digit is accepted either way | `03`, `3` | `%m/%d/%Y` |
| `%d`, `%-d` | day of the month; one digit is accepted either way | `10`, `1` | `%m/%d/%Y` |
| `%b` | month abbreviation, any case (`Sep`, `SEP`) | `Sep` | `%b %d %Y` |
| `%B` | full month name | `September` | `%d %B %Y` |
| `%a`, `%A` | weekday name, abbreviated / full (read, not checked against the date) | `Thu` | `%a, %b %d %Y` |
| `%j` | day of the year | `070` | `%Y-%j` |
| `%H`, `%-H` | hour, 24-hour clock | `14` | `%Y-%m-%d %H:%M` |
| `%I`, `%-I` | hour, 12-hour clock, with `%p` | `02` | `%m/%d/%Y %I:%M:%S %p` |
| `%p` | `AM` / `PM`, any case (not `p.m.`: rewrite it with `replace`) | `PM`, `pm` | `%I:%M %p` |
| `%M` | minute | `05` | `%H:%M` |
| `%S` | second | `06` | `%H:%M:%S` |
| `%g`, `%f`, `%n` | fraction of a second: milliseconds, microseconds, nanoseconds (kept to the microsecond) | `.123456` | `%H:%M:%S.%f` |
| `%z` | UTC offset `+0100`, `+01:00`: the time is an instant, kept exactly, never converted from the zone | `+01:00` | `%Y-%m-%dT%H:%M:%S%z` |
| `%Z` | zone name (`UTC`, `America/Denver`): an instant too | `UTC` | `%Y-%m-%d %H:%M:%S %Z` |
| `%X` | a whole time `HH:MM:SS` | `02:05:06` | `%Y-%m-%d %X` |
| `%%` | a percent sign | `%` | |

Any other character must match itself. The formats of a time are split: those with `%z` or `%Z` read instants,
the others local wall-clock times in the time's zone (its `timezone`, else the source's), converted to UTC.

`replace` is a list of `[regex, replacement]` pairs (RE2 syntax; `\1` in the replacement is the first group)
applied to the text in order, every match, before any format is tried; in YAML, write them in single quotes
so a backslash stays a backslash. New Haven's `Thu, Sept. 18th 2014` + `01:53 p.m.` (its `date` and `time`
columns) becomes `Sep 18 2014 01:53 PM` with `['^[A-Za-z]+,\s*', '']`, `['(\d+)(st|nd|rd|th)\b', '\1']`,
`['Sept\.?', 'Sep']`, `['([A-Za-z]{3})\.', '\1']`, `['a\.m\.', 'AM']` and `['p\.m\.', 'PM']`, then reads with
`%b %d %Y %I:%M %p` (config/sources/new_haven_incidents.yaml). Several `columns` are joined with one space
before all this.

Other ways to read a time: `parts` (split year/month/day/hour/minute/second columns; a missing hour, minute
or second is 0) and `epoch` (`s` or `ms` since 1970-01-01 UTC). A Parquet column typed as a timestamp is read
from its type before the formats (see `naive_timestamps`).
"""

PRECISION = f"""\
## `precision: date_only`: a date is not midnight

A time whose `precision` is `date_only` is a date without a time of day. `precision` defaults to `date_only`
when no format of the time reads an hour (none of {", ".join(f"`{d}`" for d in HOUR_DIRECTIVES)}), or when its
`parts` have no `hour`; otherwise to `exact`. Say `precision: exact` to override (a Parquet column typed as a
timestamp whose fallback formats are dates). A list of formats that mixes dates and times reads a bare date as
midnight, `exact`: give such a feed's dates their own time, or declare it `date_only`.

Downstream:
- `core.calls.time_precision` / `core.incidents.time_precision` is `date_only` when the primary time
  (`received_at`; `occurred_from`, else `reported_at`) is. `unknown_time` rules set `unknown_time`, which is
  treated the same way.
- No interval has a date-only end: `intake_s`, `queue_s`, `travel_s`, `response_s`, `on_scene_s` are null and
  `interval_issue` names each one (`response_s:date_only`, `queue_s:unknown_time`). A date is never 0 s.
- `marts.response_times` leaves such calls out; `marts.response_times_excluded` counts them as
  `date_only_time` (or `unknown_time`).
- `marts.temporal_profile` (hour of week) leaves such events out and counts them in `n_left_out`.
- Daily counts, windows, hot spots and repeat locations use them as they use any event: by local date.
"""

DST = """\
## Daylight saving time

Local times are read in their zone by one documented rule: a time in the spring-forward gap (`02:30` on
2024-03-10 in America/Denver never showed on the clock) is read with the offset in force before the gap
(09:30 UTC, which the clock showed as 03:30 MDT); a time in the autumn overlap (`01:30` on 2024-11-03 happened
twice) is read as the later, standard time (08:30 UTC). Each such time is flagged in `time_issue`:
`dst_gap_<time>` or `dst_overlap_<time>`. The `time_issues` audit does not count these flags (nor
`sentinel_<time>`): the times were read by the rule, not lost.

An interval with an end in a gap or an overlap is read by the DST interval rule, and `interval_issue` notes
`<interval>:dst_change`. Such an end has two readings: before the change (a gap time with the offset before
the gap, as documented above; an overlap time as its first, daylight instant) and after it (a gap time with
the offset after the gap, as the clock showed it once it sprang forward; an overlap time as its second,
standard instant, as documented above). Of the readings a clock that only moves forward allows, the interval
is the shortest that is not negative (when none is, the documented readings', which leaves it negative:
null, `<interval><0`). The wall-clock difference is always one of these readings, so an in-order wall-clock
sequence never becomes negative:
- received 02:43:56, assigned 02:47:20, on scene 03:00:06 on 2024-03-10 in Denver: 204 s and 766 s (the
  documented readings would put the arrival 47 minutes before the dispatch);
- received 01:50, on scene 01:05 on 2024-11-03 in Denver (the second 01:05): 01:50 MDT to 01:05 MST, 900 s;
- received 00:55, assigned 01:10 on 2024-11-03: 900 s, not the 4,500 s of the standard reading;
- received 01:09 (text) on 2024-11-03, assigned at 07:10:10 UTC (an epoch, 01:10:10 MDT): 70 s.
"""

EXAMPLE = r"""
# config/sources/city_cad.yaml: a CAD feed, one row per responding unit
name: city_cad                   # must equal the file name (city_cad.yaml)
kind: calls                      # calls (CAD) | incidents (RMS)
agency: city                     # an agency code of sara.toml ([agencies.city])
description: City dispatch, nightly full extract of the last 7 days
format: csv                      # csv | parquet | xlsx | vector; a .csv.gz or .zip is read as it is
encoding: cp1252                 # any Python codec name
delimiter: ","                   # one character
file_pattern: "cad_*.csv*"       # other files in data/landing/city_cad/ are listed as not picked up
ready_marker: "{name}.done"      # wait for cad_x.csv.done before loading cad_x.csv
null_values: ["", "NULL"]        # text that means empty
record_id: [IncidentNum]         # the call id
update_mode: replace_window      # the extract replaces the local days it covers
extract_at:                      # the extract's own time, from its file name (orders versions)
  filename_pattern: 'cad_(\d{8}T\d{6})'
  format: "%Y%m%dT%H%M%S"        # a DuckDB strptime format, like every format here
event_grain: unit                # several rows per call: first dispatch, first arrival, last clear
timezone: America/Denver         # the zone of every local time below
timestamps:
  received_at:                   # required for calls
    columns: [CallDate, CallTime]          # joined with a space: "03/10/2024 02:43:56 a.m."
    replace:                               # regex pairs, applied first, in single quotes
      - ['a\.m\.$', 'AM']
      - ['p\.m\.$', 'PM']
    formats: ["%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %H:%M"]   # tried in turn; both read an hour: exact
  dispatched_at: {columns: [AssignedDT], formats: ["%Y-%m-%d %H:%M:%S"]}   # local, Denver
  onscene_at: {columns: [ArrivedDT], formats: ["%Y-%m-%d %H:%M:%S"]}
  cleared_at: {columns: [ClearedEpochMs], epoch: ms}      # an instant: no zone, no DST rule
  updated_at: {columns: [LastUpdate], formats: ["%Y-%m-%dT%H:%M:%S%z"]}   # an offset: an instant
  # a column of dates only would say so: {columns: [CallDate], formats: ["%m/%d/%Y"], precision: date_only}
sentinel_dates: ["1900-01-01"]   # the vendor's "never": null, not 1900
columns:                         # canonical field: source column
  call_type_code: FinalType      # crosswalked to call_type and call_category
  call_type_initial: InitialType
  priority: Priority             # crosswalked to priority_level
  disposition: Disposition       # crosswalked to disposition_category
  address: Block                 # cleaned; its block is address_block
constants: {}                    # canonical field: fixed value
coordinates: {x: X, y: Y, crs: "EPSG:2232"}   # State Plane Colorado Central, US feet
crosswalks:                      # CSVs in config/crosswalks/ (see its README)
  call_types: config/crosswalks/city_call_types.csv
  dispositions: config/crosswalks/city_dispositions.csv
origin: {column: OnView, officer_values: ["Y"], community_values: ["N"]}   # else from the call type
void: {column: Status, values: [DELETED]}   # kept, never counted
unknown_time:                    # this vendor writes 12:00:00 AM when the time of day is not known
  - [{column: CallTime, equals: "12:00:00 AM"}]
polygons:                        # tag located calls with the beat they fall in
  beat: {path: data/layers/city_beats.gpkg, field: BEAT}
drop_columns: [DispatcherName]   # not kept as raw_dispatchername
"""


def _cell(text: str) -> str:
    """Text for a Markdown table cell: `|` escaped everywhere; `*` and `<` escaped outside code spans, so
    `raw_*` and `<field>` read as written."""
    spans = text.split("`")
    for i in range(0, len(spans), 2):
        spans[i] = spans[i].replace("*", "\\*").replace("<", "\\<")
    return "`".join(spans).replace("|", "\\|")


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    out = ["| key | type | default | meaning |", "|---|---|---|---|"]
    out += [f"| `{k}` | {t} | {d} | {_cell(m)} |" for k, t, d, m in rows]
    return "\n".join(out)


def reference_markdown() -> str:
    """The whole reference, as Markdown."""
    parts = ["# Config key reference",
             "Generated from the pydantic models in `transforms/config/` (`python -m transforms.config.reference "
             "> config/REFERENCE.md`; `sara docs --config` prints the same). Every key, its type, its default and "
             "what it means. A key not listed here is an error: validation is strict and names the file, the key "
             "and the reason. How the files fit together: [README.md](README.md)."]
    for path, model, intro in FILES:
        parts += [f"## `{path}`", intro, _table(key_rows(model))]
    parts += [TIME_FORMATS.strip(), PRECISION.strip(), DST.strip(),
              "## A fully annotated source", "```yaml\n" + EXAMPLE.strip() + "\n```"]
    return "\n\n".join(parts) + "\n"


if __name__ == "__main__":  # pragma: no cover
    print(reference_markdown(), end="")
