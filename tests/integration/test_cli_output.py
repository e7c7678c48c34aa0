"""What commands print: values and messages are shown as they are, never read as Rich markup."""

from __future__ import annotations

import duckdb
from typer.testing import CliRunner

from flows.cli import app


def test_query_prints_values_and_errors_as_written(tiny_project):
    p = tiny_project(["city_calls"], city="chicago")
    wh = p.root / "data/warehouse/sara.duckdb"
    wh.parent.mkdir(parents=True)
    duckdb.connect(str(wh)).close()
    cfg = str(p.config)
    env = {"COLUMNS": "200"}
    res = CliRunner().invoke(app, ["query", "--config", cfg,
                                   "SELECT '[publish] columns' AS \"[note]\", '[/oops]' AS b"], env=env)
    assert res.exit_code == 0, res.output
    assert "[publish] columns" in res.output and "[note]" in res.output and "[/oops]" in res.output
    bad = CliRunner().invoke(app, ["query", "--config", cfg, 'SELECT * FROM "[publish]"'], env=env)
    assert bad.exit_code == 1 and "[publish]" in bad.output, bad.output
