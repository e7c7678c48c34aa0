"""SARA problems (transforms/config/problems.py): a valid problem and the template load; each mistake is a
ConfigError naming the file, the key and the reason."""

from __future__ import annotations

import pytest
import yaml

from tests.support.problems import CONTROL_WKT, X0, Y0, problem, problem_settings, write_problem
from transforms.config import ConfigError
from transforms.config.problems import load_problems, template


def test_valid_problem_and_template(tmp_path):
    s = problem_settings(tmp_path)
    write_problem(tmp_path / "problems", problem())
    (p,) = load_problems(s, tmp_path / "problems")
    assert p.name == "p1" and p.target.circle.radius_m == 100 and p.pre.days == 10
    # the template is valid YAML that validates once put in a folder
    write_problem(tmp_path / "tpl", yaml.safe_load(template("new_one", agency="metro")))
    (t,) = load_problems(s, tmp_path / "tpl")
    assert t.name == "new_one" and t.control.rest_of_agency
    assert load_problems(s, tmp_path / "missing") == []


@pytest.mark.parametrize(
    "over, key, reason",
    [
        ({"colour": "red"}, "colour", "Extra inputs"),
        ({"agency": "nowhere"}, "agency", "not an agency"),
        ({"target": {"circle": {"x": X0, "y": Y0, "radius_m": 100}, "wkt": CONTROL_WKT}}, "target",
         "exactly one"),
        ({"target": {}}, "target", "exactly one"),
        ({"control": {"rest_of_agency": True, "wkt": CONTROL_WKT}}, "control", "excludes"),
        ({"buffer_m": 0}, "buffer_m", "greater than 0"),
        ({"categories": None}, "(top level)", "categories and/or event_types"),
        ({"target": {"wkt": "POLYGON ((0 0, 1"}}, "target.wkt", "not valid WKT"),
        ({"target": {"cells": ["31-38"]}}, "target.cells", "grid cell ids"),
        ({"pre": {"start": "2026-01-01", "end": "2026-01-11"}}, "(top level)", "before response_date"),
        ({"dataset": "arrests"}, "dataset", "calls"),
    ],
)
def test_validation_errors_name_file_key_reason(tmp_path, over, key, reason):
    path = write_problem(tmp_path / "problems", problem(**over))
    with pytest.raises(ConfigError) as exc:
        load_problems(problem_settings(tmp_path), tmp_path / "problems")
    msg = str(exc.value)
    assert str(path) in msg and key in msg and reason in msg, msg


def test_name_must_match_file(tmp_path):
    write_problem(tmp_path / "problems", problem(), stem="other")
    with pytest.raises(ConfigError, match="must equal the file name"):
        load_problems(problem_settings(tmp_path), tmp_path / "problems")


