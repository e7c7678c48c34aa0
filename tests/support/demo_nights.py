"""The demo's six nights through the real nightly flow, once per session, with what each night published
(fixture demo_nights, registered in tests/conftest.py): the version history and what the nights changed
(tests/integration/test_versions.py, test_changes.py)."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import pytest

KEPT_CALLS = ("source", "call_id", "agency", "event_at", "call_type_code", "call_category", "priority_level",
              "disposition", "disposition_category", "is_countable", "is_void", "location_key", "x", "y", "beat",
              "district")
KEPT_INCIDENTS = ("source", "incident_id", "agency", "event_at", "offense_code", "offense_category",
                  "crime_against", "is_void", "location_key", "x", "y", "beat", "district")


def _rows(con, rel: str, cols: tuple) -> list[tuple]:
    return sorted(con.execute(f"SELECT {', '.join(cols)} FROM {rel}").fetchall(), key=repr)


@dataclass
class DemoNights:
    config: Path  # the demo project's config/demo.toml
    warehouse: Path
    city: Path  # the generated demo city (manifest paths are under it)
    manifest: dict
    published: list[dict]  # per night: run_id, finished_at, the kept fields of core.calls / core.incidents


@pytest.fixture(scope="session")
def demo_nights(demo_city, prefect_harness, tmp_path_factory) -> DemoNights:
    """Every demo night through the real nightly flow, with what each night published."""
    from flows.nightly import nightly
    from tests.support.project import demo_project
    from transforms.demo import deliver_night
    from transforms.warehouse.db import connect

    proj = demo_project(tmp_path_factory.mktemp("demo_versions") / "proj", demo_city.path)
    wh = proj / "data" / "demo" / "warehouse" / "sara.duckdb"
    published = []
    for k in range(1, len(demo_city.nights) + 1):
        deliver_night(proj / "data" / "demo", k)
        with contextlib.chdir(proj):
            result = nightly(config_path=str(proj / "config" / "demo.toml"))
        assert result["status"] == "ok", result["message"]
        con = connect(wh, read_only=True)
        try:
            run_id, finished = con.execute(
                "SELECT run_id, finished_at FROM meta.runs ORDER BY started_at DESC LIMIT 1").fetchone()
            published.append({"run_id": run_id, "finished_at": finished,
                               "calls": _rows(con, "core.calls", KEPT_CALLS),
                               "incidents": _rows(con, "core.incidents", KEPT_INCIDENTS)})
        finally:
            con.close()
    return DemoNights(proj / "config" / "demo.toml", wh, demo_city.path, demo_city.manifest, published)
