"""`sara serve`: deployments from [schedules.*], and an end-to-end check that a served schedule fires.

The end-to-end test starts a real `prefect server start` on a free loopback port (private PREFECT_HOME,
shortened scheduler loops), serves a tiny probe flow on a 5-second interval from a second process,
and waits for one of its scheduled runs to complete. Both processes run in their own sessions and are
terminated (then killed) in a finally block.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_project
from transforms.config import ConfigError, load_settings

TOML = """
sources = []

[agencies.city]
name = "City Police"
timezone = "America/Chicago"
crs = "EPSG:26971"
bbox = [-87.95, 41.64, -87.52, 42.03]
"""

SCHEDULES = """
[schedules.nightly]
cron = "0 2 * * *"
timezone = "America/Los_Angeles"

[schedules.weekly_report]
cron = "30 6 * * 1"
timezone = "America/Chicago"
"""


# ---------------------------------------------------------------------------------------------
# build_deployments (no server)
# ---------------------------------------------------------------------------------------------


def _settings(tmp_path: Path, toml: str):
    proj = make_project(tmp_path, toml, {})
    return load_settings(proj / "config" / "sara.toml", proj)


def test_build_deployments_uses_cron_and_timezone(tmp_path):
    from flows.serve import build_deployments

    settings = _settings(tmp_path, TOML + SCHEDULES)
    deps = {d.name: d for d in build_deployments(settings, settings.config_path)}
    assert set(deps) == {"sara-nightly", "sara-weekly-report"}

    nightly = deps["sara-nightly"]
    assert nightly.flow_name == "nightly"
    assert nightly.parameters == {"config_path": str(settings.config_path)}
    assert Path(nightly.parameters["config_path"]).is_absolute()
    [sched] = nightly.schedules
    assert sched.schedule.cron == "0 2 * * *"
    assert sched.schedule.timezone == "America/Los_Angeles"
    assert nightly.entrypoint.endswith("nightly.py:nightly")

    weekly = deps["sara-weekly-report"]
    assert weekly.flow_name == "weekly_report"
    [sched] = weekly.schedules
    assert (sched.schedule.cron, sched.schedule.timezone) == ("30 6 * * 1", "America/Chicago")


def test_build_deployments_without_schedules_is_empty(tmp_path):
    from flows.serve import build_deployments

    settings = _settings(tmp_path, TOML)
    assert build_deployments(settings, settings.config_path) == []


def test_build_deployments_rejects_unknown_schedule(tmp_path):
    from flows.serve import build_deployments

    settings = _settings(tmp_path, TOML + '\n[schedules.hourly]\ncron = "0 * * * *"\n')
    with pytest.raises(ConfigError, match="unknown schedule 'hourly'"):
        build_deployments(settings, settings.config_path)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _clean_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(home / "profiles.toml"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
    })
    return env


def _stop(proc: subprocess.Popen | None, grace: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _completed_runs(client: httpx.Client) -> list[dict]:
    body = {
        "deployments": {"name": {"any_": ["probe"]}},
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
    }
    r = client.post("/flow_runs/filter", json=body)
    r.raise_for_status()
    return r.json()
