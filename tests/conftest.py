"""Shared fixtures: one Prefect test harness per session, paths to ../shared/data, tiny projects."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
SHARED_DATA = PROJECT.parent / "shared" / "data"

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


def need_shared() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real data not available: {SHARED_DATA} is absent (it sits beside the checkout in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


def make_project(tmp: Path, toml: str, sources: dict[str, str], crosswalks: dict[str, str] | None = None) -> Path:
    """A throw-away sara project: config/sara.toml, config/sources/*.yaml, config/crosswalks/*.csv."""
    (tmp / "config" / "sources").mkdir(parents=True)
    (tmp / "config" / "crosswalks").mkdir(parents=True)
    (tmp / "pyproject.toml").write_text("[project]\nname = 'tmp'\n")
    (tmp / "config" / "sara.toml").write_text(toml)
    for name, text in sources.items():
        (tmp / "config" / "sources" / f"{name}.yaml").write_text(text)
    for name, text in (crosswalks or {}).items():
        (tmp / "config" / "crosswalks" / name).write_text(text)
    return tmp


def copy_real_config(tmp: Path) -> Path:
    """The project's own config/ in a temp project whose ../shared/data points at the real data."""
    shutil.copytree(PROJECT / "config", tmp / "proj" / "config")
    (tmp / "proj" / "pyproject.toml").write_text("[project]\nname = 'tmp'\n")
    (tmp / "shared").symlink_to(SHARED_DATA.parent)
    return tmp / "proj"
