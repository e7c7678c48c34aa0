"""The config key reference (config/REFERENCE.md, `sara docs --config`) is generated from the pydantic models:
every key has a description, the shipped file is what the models say today, and the CLI prints the same."""

from __future__ import annotations

import yaml
from typer.testing import CliRunner

from flows.cli import app
from tests.support.project import PROJECT
from transforms.config.reference import EXAMPLE, FILES, key_rows, missing_descriptions, reference_markdown
from transforms.config.sources import SourceConfig, TimestampSpec


def test_every_key_has_a_description():
    assert missing_descriptions() == []


def test_every_key_of_every_model_is_listed():
    keys = {k for _, model, _ in FILES for k, *_ in key_rows(model)}
    for key in ("warehouse.path", "agencies.<agency>.timezone", "publish.k_min", "analysis.knox_perms",
                "timestamps.<time>.formats", "timestamps.<time>.precision", "unknown_time[][].in",
                "polygons.<beat or district>.field", "target.circle.radius_m", "pre.start"):
        assert key in keys


def test_the_shipped_reference_is_up_to_date():
    shipped = (PROJECT / "config" / "REFERENCE.md").read_text(encoding="utf-8")
    assert shipped == reference_markdown(), (
        "config/REFERENCE.md is stale: python -m transforms.config.reference > config/REFERENCE.md")


def test_the_reference_documents_the_format_dialect_and_date_only():
    text = reference_markdown()
    assert "DuckDB `strptime` formats" in text
    for directive in ("%Y", "%m", "%d", "%H", "%I", "%M", "%S", "%p", "%f", "%z", "%b", "%a"):
        assert f"| `{directive}" in text or f", `{directive}`" in text, directive
    assert "## `precision: date_only`" in text and "date_only_time" in text and "n_left_out" in text
    assert "dst_gap_<time>" in text and "dst_change" in text


def test_the_annotated_example_is_a_valid_source():
    src = SourceConfig.model_validate(yaml.safe_load(EXAMPLE))
    assert src.name == "city_cad" and src.timestamps["received_at"].precision == "exact"


def test_sara_docs_config_prints_the_reference():
    for args in (["docs", "--config"], ["docs", "-c"], ["docs", "--config-reference"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.output == reference_markdown()


def test_a_time_whose_formats_read_no_hour_is_date_only():
    assert TimestampSpec(columns=["d"], formats=["%m/%d/%Y", "%Y-%m-%d"]).precision == "date_only"
    assert TimestampSpec(columns=["d"], formats=["%m/%d/%Y %I:%M %p"]).precision == "exact"
    assert TimestampSpec(parts={"year": "Y", "month": "M", "day": "D"}).precision == "date_only"
    assert TimestampSpec(parts={"year": "Y", "month": "M", "day": "D", "hour": "H"}).precision == "exact"
    assert TimestampSpec(columns=["e"], epoch="s").precision == "exact"
    # said explicitly, it stands (a Parquet column typed as a timestamp, dates as the fallback)
    assert TimestampSpec(columns=["d"], formats=["%Y-%m-%d"], precision="exact").precision == "exact"
