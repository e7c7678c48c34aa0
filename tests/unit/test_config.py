"""Config validation: a good project loads; each kind of mistake fails with ConfigError naming file and key."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.project import CITY_CALLS_YAML, PROJECT, city_toml, need_shared
from transforms.config import ConfigError, load_settings

TOML = city_toml(["city_calls"], city="chicago")
SOURCE = CITY_CALLS_YAML


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"test setup: {old!r} not in the template"
    return text.replace(old, new)


@pytest.fixture
def load(tiny_project, tmp_path):
    """load(toml=TOML, source=SOURCE, crosswalks=None, source_file="city_calls", root=load.root)
    -> (root, settings): Test City's call feed in Chicago, with one thing changed."""

    def _load(toml: str = TOML, source: str = SOURCE, crosswalks: dict | None = None,
              source_file: str = "city_calls", root: Path | None = None):
        p = tiny_project({source_file: source}, toml=toml, crosswalks=crosswalks, root=root or _load.root)
        return p.root, p.load_settings()

    _load.root = tmp_path / "proj"
    return _load


def _error(load, **kw) -> tuple[Path, str]:
    """(the project folder, the message of the ConfigError that loading it raises)"""
    root = kw.get("root") or load.root
    with pytest.raises(ConfigError) as exc:
        load(**kw)
    return root, str(exc.value)


def _source_path(root: Path, name: str = "city_calls") -> str:
    return str((root / "config" / "sources" / f"{name}.yaml").resolve())


def _toml_path(root: Path) -> str:
    return str((root / "config" / "sara.toml").resolve())


# ---------------------------------------------------------------------------------------------


def test_minimal_valid_project_loads(load):
    proj, s = load()
    assert list(s.sources) == ["city_calls"]
    src = s.sources["city_calls"]
    assert src.record_id == ["CallNo"]
    assert src.timestamps["received_at"].formats == ["%Y-%m-%d %H:%M"]
    assert s.agency_of("city_calls").crs == "EPSG:26971"
    assert s.warehouse_path == (proj / "data" / "warehouse" / "sara.duckdb").resolve()
    assert s.source_landing("city_calls") == (proj / "data" / "landing" / "city_calls").resolve()


def test_misspelt_key_in_source(load):
    root, msg = _error(load, source=_replace(SOURCE, "timezone: America/Chicago", "timezon: America/Chicago"))
    assert _source_path(root) in msg
    assert "key timezon:" in msg
    assert "Extra inputs are not permitted" in msg


def test_wrong_type(load):
    root, msg = _error(load, source=_replace(SOURCE, "header_row: 1", "header_row: abc"))
    assert _source_path(root) in msg
    assert "key header_row:" in msg
    assert "integer" in msg


def test_missing_crosswalk_file(load):
    root, msg = _error(load, crosswalks={})
    assert _source_path(root) in msg
    assert "crosswalks.call_types" in msg
    assert "city_call_types.csv" in msg and "not found" in msg


def test_unknown_time_zone_in_source(load):
    root, msg = _error(load, source=_replace(SOURCE, "timezone: America/Chicago", "timezone: America/Chicgo"))
    assert _source_path(root) in msg
    assert "key timezone:" in msg
    assert "America/Chicgo" in msg


def test_unknown_time_zone_in_agency(load):
    root, msg = _error(load, toml=_replace(TOML, 'timezone = "America/Chicago"', 'timezone = "Mars/Olympus"'))
    assert _toml_path(root) in msg
    assert "key agencies.city.timezone:" in msg
    assert "Mars/Olympus" in msg


def test_unknown_crs_in_source_coordinates(load):
    root, msg = _error(load, source=_replace(SOURCE, 'crs: "EPSG:4326"', 'crs: "EPSG:999999"'))
    assert _source_path(root) in msg
    assert "key coordinates.crs:" in msg
    assert "EPSG:999999" in msg


def test_unknown_crs_for_agency(load):
    root, msg = _error(load, toml=_replace(TOML, '"EPSG:26971"', '"EPSG:999999"'))
    assert _toml_path(root) in msg
    assert "key agencies.city.crs:" in msg
    assert "unknown CRS" in msg


def test_geographic_analysis_crs(load):
    root, msg = _error(load, toml=_replace(TOML, '"EPSG:26971"', '"EPSG:4326"'))
    assert _toml_path(root) in msg
    assert "key agencies.city.crs:" in msg
    assert "geographic" in msg


def test_analysis_crs_in_feet(load):
    root, msg = _error(load, toml=_replace(TOML, '"EPSG:26971"', '"EPSG:2286"'))  # WA South, US feet
    assert "key agencies.city.crs:" in msg
    assert "metres" in msg


def test_agency_not_defined(load):
    root, msg = _error(load, source=_replace(SOURCE, "agency: city", "agency: county"))
    assert _source_path(root) in msg
    assert "key agency:" in msg
    assert "'county'" in msg


def test_source_name_differs_from_file_name(load):
    toml = _replace(TOML, '["city_calls"]', '["other_calls"]')
    root, msg = _error(load, toml=toml, source_file="other_calls")
    assert _source_path(root, "other_calls") in msg
    assert "key name:" in msg
    assert "'city_calls'" in msg and "'other_calls'" in msg


def test_listed_source_without_a_file(load):
    root, msg = _error(load, toml=_replace(TOML, '["city_calls"]', '["city_calls", "nowhere"]'))
    assert _source_path(root, "nowhere") in msg
    assert "not found" in msg


def test_upsert_without_record_id(load):
    root, msg = _error(load, source=_replace(SOURCE, "record_id: [CallNo]", "record_id: []"))
    assert _source_path(root) in msg
    # NOTE: a cross-field rule, reported at "(top level)": the reason names both keys
    assert "update_mode upsert" in msg and "record_id" in msg


def test_upsert_without_record_id_key_missing_entirely(load):
    root, msg = _error(load, source=_replace(SOURCE, "record_id: [CallNo]\n", ""))
    assert "update_mode upsert" in msg and "record_id" in msg


# A column name reaches SQL as a quoted identifier, so a quote or ';' in it must never get past the config.
# case -> (the source YAML with a bad name in that place, the key the message should name)
BAD_COLUMN_CASES = {
    "timestamps": (lambda v: _replace(SOURCE, "columns: [Received]", f"columns: [{json.dumps(v)}]"),
                   "timestamps.received_at"),
    "timestamp_parts": (lambda v: _replace(
        SOURCE, 'received_at: {columns: [Received], formats: ["%Y-%m-%d %H:%M"]}',
        f"received_at: {{parts: {{year: {json.dumps(v)}, month: M, day: D}}}}"), "timestamps.received_at"),
    "coordinates": (lambda v: _replace(SOURCE, "x: Lon", f"x: {json.dumps(v)}"), "coordinates"),
    "unknown_time": (lambda v: SOURCE + f"unknown_time:\n  - - {{column: {json.dumps(v)}, equals: X}}\n",
                     "unknown_time"),
    "columns": (lambda v: _replace(SOURCE, "address: Address", f"address: {json.dumps(v)}"), "columns.address"),
    "record_id": (lambda v: _replace(SOURCE, "record_id: [CallNo]", f"record_id: [{json.dumps(v)}]"), "record_id"),
    "required_columns": (lambda v: SOURCE + f"required_columns: [{json.dumps(v)}]\n", "required_columns"),
    "drop_columns": (lambda v: SOURCE + f"drop_columns: [{json.dumps(v)}]\n", "drop_columns"),
    "origin": (lambda v: SOURCE + f"origin: {{column: {json.dumps(v)}, officer_values: [Y]}}\n", "origin.column"),
    "void": (lambda v: SOURCE + f"void: {{column: {json.dumps(v)}, values: [X]}}\n", "void.column"),
    "extract_at": (lambda v: SOURCE + f"extract_at: {{column: {json.dumps(v)}, format: '%Y-%m-%d'}}\n",
                   "extract_at.column"),
}
BAD_NAMES = ['Addr"ess', "Address; DROP TABLE core.calls"]


def _bad_column_params(with_key: bool):
    out = []
    for case in BAD_COLUMN_CASES:
        for name in BAD_NAMES[:1] if with_key else BAD_NAMES:
            kind = "quote" if '"' in name else "semicolon"
            out.append(pytest.param(case, name, id=f"{case}-{kind}"))
    return out


@pytest.mark.parametrize(("case", "bad"), _bad_column_params(with_key=False))
def test_column_name_with_quote_or_semicolon_is_refused(load, case, bad):
    make_source, _key = BAD_COLUMN_CASES[case]
    try:
        load(source=make_source(bad))
    except ConfigError as exc:
        msg = str(exc)
    else:
        pytest.fail(f"{case}: column name {bad!r} was accepted")
    assert _source_path(load.root) in msg
    assert repr(bad) in msg or bad in msg
    assert "not allowed" in msg


@pytest.mark.parametrize(("case", "bad"), _bad_column_params(with_key=True))
def test_column_name_error_names_the_key(load, case, bad):
    make_source, key = BAD_COLUMN_CASES[case]
    try:
        load(source=make_source(bad))
    except ConfigError as exc:
        msg = str(exc)
    else:
        pytest.fail(f"{case}: column name {bad!r} was accepted")
    assert f"key {key}" in msg or f"{key}:" in msg, msg


def test_column_names_with_spaces_and_punctuation_are_fine(load):
    """Real headers hold spaces and punctuation; only quotes, ';', '\\' and control characters are refused."""
    _, s = load(source=_replace(SOURCE, "address: Address", "address: 'Block Address (100s)'"))
    assert s.sources["city_calls"].columns["address"] == "Block Address (100s)"


def test_bad_toml_and_yaml_syntax(load, tmp_path):
    _, msg = _error(load, root=tmp_path / "a", toml=TOML + "\n[agencies.city\n")
    assert "not valid TOML" in msg
    _, msg = _error(load, root=tmp_path / "b", source=SOURCE + "\ncolumns: [unclosed\n")
    assert "not valid YAML" in msg


# ---------------------------------------------------------------------------------------------
# the project's own config
# ---------------------------------------------------------------------------------------------


def test_project_sara_toml_loads():
    need_shared()  # its boundary and polygon layers are in ../shared/data
    s = load_settings(PROJECT / "config" / "sara.toml", PROJECT)
    assert list(s.sources) == ["sf_calls", "vancouver_incidents", "chicago_assaults", "new_haven_incidents"]
    assert set(s.sara.agencies) == {"sfpd", "vpd", "cpd", "nhpd"}
    assert {n: src.agency for n, src in s.sources.items()} == {
        "sf_calls": "sfpd", "vancouver_incidents": "vpd", "chicago_assaults": "cpd", "new_haven_incidents": "nhpd"}
    for name, src in s.sources.items():
        assert not src.dedupe, name  # the YAML comments explain why duplicates are real events
        for rel in src.crosswalks.model_dump().values():
            if rel:
                assert s.resolve(rel).is_file(), (name, rel)


def test_a_path_outside_config_and_data_is_refused(load):
    outside = load.root.parent / f"{load.root.name}_elsewhere"  # beside the project folder
    outside.mkdir()
    (outside / "types.csv").write_text("code,call_type,call_category\n")
    src = SOURCE.replace("config/crosswalks/city_call_types.csv", f"../{outside.name}/types.csv")
    with pytest.raises(ConfigError) as exc:
        load(source=src)
    msg = str(exc.value)
    assert "crosswalks.call_types" in msg and "outside the project's config/ and data/ folders" in msg


def test_sql_in_a_column_name_is_refused(load):
    src = SOURCE.replace("address: Address", """address: 'Address"; DROP TABLE core.calls; --'""")
    with pytest.raises(ConfigError) as exc:
        load(source=src)
    assert "columns.address" in str(exc.value) and "not allowed" in str(exc.value)
