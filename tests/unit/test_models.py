"""The SQL models: a `/*{model name}*/` marker puts another model's query in place, so a file names what it
builds on and the shared openings are written once."""

from __future__ import annotations

import re

import pytest

from transforms.marts.models import MODELS_DIR, model_text


def test_every_model_marker_resolves():
    names = [p.relative_to(MODELS_DIR).with_suffix("").as_posix() for p in MODELS_DIR.rglob("*.sql")]
    assert "inputs/range_events" in names
    for name in names:
        assert "/*{model " not in model_text(name), name


def test_range_events_is_written_once_and_read_by_the_range_inputs():
    once = re.compile(r"join ranges r on r\.agency = e\.agency and e\.local_date between r\.start_date and r\.end_date")
    own = [p.name for p in MODELS_DIR.rglob("*.sql") if once.search(p.read_text(encoding="utf-8"))]
    assert own == ["range_events.sql"]
    for name in ("inputs/grid_range_events", "inputs/grid_events", "inputs/grid_points", "inputs/knox_events",
                 "inputs/concentration_counts", "inputs/temporal_local"):
        assert len(once.findall(model_text(name))) == 1, name


def test_a_fragment_marker_must_be_there_once():
    with pytest.raises(ValueError, match="expected the marker"):
        model_text("inputs/range_events", {"nowhere": "select 1"})
