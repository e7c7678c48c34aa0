"""`sara near-repeat` (flows/cli/near_repeat.py): on a file in the Near Repeat Calculator's format, its help
and errors, and on a warehouse (local days, categories, agencies)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

from tests.support.cli import invoke_near_repeat
from transforms.stats.knox import knox_test
from transforms.warehouse.events_csv import read_events_csv

COLUMNS = ["space_lo", "space_hi", "time_lo", "time_hi", "observed", "expected_mean", "expected_median",
           "knox_ratio", "p_value", "z", "p_note"]


# ---------------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------------


def _calc_csv(path: Path, n: int = 120, seed: int = 1) -> Path:
    """A headerless file in the Near Repeat Calculator's format: X, Y, date (dd/mm/yyyy, some day > 12)."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 2000, n).round(1)
    y = rng.uniform(0, 2000, n).round(1)
    d = np.datetime64("2016-01-13") + rng.integers(0, 90, n)
    lines = [f"{a},{b},{str(c)[8:10]}/{str(c)[5:7]}/{str(c)[:4]}" for a, b, c in zip(x, y, d, strict=True)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_cli_headerless_calculator_file(tmp_path):
    src = _calc_csv(tmp_path / "events.csv")
    out = tmp_path / "out" / "knox.csv"
    res = invoke_near_repeat([str(src), "--perms", "49", "--seed", "3", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "120 events" in res.text and "Knox test" in res.text
    tab = pl.read_csv(out)
    assert tab.columns == COLUMNS and tab.height == 5 * 4
    ev = read_events_csv(src)
    want = knox_test(ev.x, ev.y, ev.t, [0, 1, 100, 200, 300], [0, 7, 14, 21], perms=49, seed=3)
    np.testing.assert_array_equal(tab["observed"].to_numpy(), want["observed"].to_numpy())
    np.testing.assert_allclose(tab["p_value"].to_numpy(), want["p_value"].to_numpy())


def test_cli_help_and_errors(tmp_path):
    res = invoke_near_repeat(["--help"], env={"COLUMNS": "120"})
    assert res.exit_code == 0
    for words in ("null model", "open-ended", "--date-format", "EXAMPLES", "Near Repeat"):
        assert words in res.text, words
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,13/01/2016\n3,x,14/01/2016\n")
    res = invoke_near_repeat([str(bad)])
    assert res.exit_code == 2
    assert "line 2" in res.text and "column Y" in res.text
    amb = tmp_path / "amb.csv"
    amb.write_text("1,2,01/02/2016\n3,4,02/03/2016\n")
    res = invoke_near_repeat([str(amb), "--perms", "9"])
    assert res.exit_code == 2 and "ambiguous" in res.text
    res = invoke_near_repeat([str(amb), "--perms", "9", "--date-format", "%d/%m/%Y"])
    assert res.exit_code == 0, res.output
    res = invoke_near_repeat([str(amb), "--space-bands", "5,10"])
    assert res.exit_code == 2 and "first edge must be 0" in res.text
    res = invoke_near_repeat([str(tmp_path / "missing.csv")])
    assert res.exit_code == 2 and "missing.csv" in res.text


def test_cli_warehouse_mode_uses_local_days(tiny_project, tmp_path):
    from transforms.warehouse import db as wh

    p = tiny_project(["city_calls"], city="chicago")
    cfg, settings = p.config, p.settings
    settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
    con = wh.connect(settings.warehouse_path)  # closed before the command opens it
    wh.apply_schema(con)
    rows = [  # id, event_at (UTC), category, x, y, located, void
        ("a", datetime(2016, 1, 1, 3, 0, tzinfo=UTC), "Burglary", 1000.0, 1000.0, True, False),  # local Dec 31
        ("b", datetime(2016, 1, 7, 20, 0, tzinfo=UTC), "Burglary", 1000.0, 1000.0, True, False),  # local Jan 7
        ("c", datetime(2016, 1, 2, 12, 0, tzinfo=UTC), "Burglary", 1000.0, 1000.0, True, True),  # void
        ("d", datetime(2016, 1, 2, 12, 0, tzinfo=UTC), "Burglary", None, None, False, False),  # not located
        ("e", datetime(2016, 1, 2, 12, 0, tzinfo=UTC), "Theft", 1000.0, 1000.0, True, False),  # other category
        ("f", datetime(2016, 3, 1, 12, 0, tzinfo=UTC), "Burglary", 5000.0, 5000.0, True, False),
    ]
    for rid, at, cat, x, y, located, void in rows:
        con.execute(
            "INSERT INTO core.incidents (incident_id, source, agency, event_at, time_precision, offense_category, "
            "origin, is_void, x, y, is_located, load_id) VALUES (?, 'city_calls', 'city', ?, 'exact', ?, "
            "'community', ?, ?, ?, ?, 'l')", [rid, at, cat, void, x, y, located])
    con.close()

    out = tmp_path / "wh.csv"
    res = invoke_near_repeat(["--config", str(cfg), "--category", "burglary", "--perms", "9", "--seed", "1",
                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "3 events from 2015-12-31 to 2016-03-01" in res.text
    obs = pl.read_csv(out)["observed"].to_numpy().reshape(5, 4)
    # a and b: same place, local dates Dec 31 and Jan 7 -> 7 days apart ([7, 14)); in UTC it would be 6
    assert obs[0].tolist() == [0, 1, 0, 0]
    assert obs.sum() == 3
    res = invoke_near_repeat(["--config", str(cfg), "--category", "arson", "--perms", "9"])
    assert res.exit_code == 2 and "Burglary" in res.text
    res = invoke_near_repeat(["--config", str(cfg), "--perms", "9"])  # every category: the theft too
    assert res.exit_code == 0 and "4 events from 2015-12-31 to 2016-03-01" in res.text, res.output
    res = invoke_near_repeat(["--config", str(cfg), "--since", "2016-01-05", "--perms", "9"])  # local dates
    assert res.exit_code == 0 and "2 events from 2016-01-07 to 2016-03-01" in res.text, res.output
    res = invoke_near_repeat(["--config", str(cfg), "--agency", "elsewhere"])
    assert res.exit_code == 2 and "city" in res.text
