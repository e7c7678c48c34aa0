"""`sara serve`'s deployments (flows/serve.py build_deployments) from [schedules.*], without a server."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.project import SCHEDULES
from transforms.config import ConfigError


@pytest.fixture
def settings_with(tiny_project):
    """settings_with(extra, root=None): the settings of Test City (Chicago, no sources) with `extra` in
    its sara.toml."""

    def make(extra: str = "", root: Path | None = None):
        return tiny_project([], city="chicago", extra=extra, root=root).load_settings()

    return make


def test_build_deployments_uses_cron_and_timezone(settings_with):
    from flows.serve import build_deployments

    settings = settings_with(SCHEDULES)
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


def test_scaled_out_nightly_schedule_passes_the_dask_parameters(settings_with, tmp_path):
    from flows.serve import build_deployments

    settings = settings_with('[schedules.nightly]\ncron = "0 2 * * *"\nexecutor = "dask"\n'
                             'dask_address = "tcp://10.0.0.5:8786"\n')
    [dep] = build_deployments(settings, settings.config_path)
    assert dep.parameters == {"config_path": str(settings.config_path), "executor": "dask",
                              "dask_address": "tcp://10.0.0.5:8786", "dask_workers": None}

    settings = settings_with('[schedules.weekly_report]\ncron = "0 6 * * 1"\nexecutor = "dask"\n',
                             root=tmp_path / "bad")
    with pytest.raises(ConfigError, match="only the nightly run can be scaled out"):
        build_deployments(settings, settings.config_path)
    with pytest.raises(ConfigError, match="executor"):
        settings_with('[schedules.nightly]\ncron = "0 2 * * *"\nexecutor = "spark"\n', root=tmp_path / "worse")


def test_build_deployments_without_schedules_is_empty(settings_with):
    from flows.serve import build_deployments

    settings = settings_with()
    assert build_deployments(settings, settings.config_path) == []


def test_build_deployments_rejects_unknown_schedule(settings_with):
    from flows.serve import build_deployments

    settings = settings_with('[schedules.hourly]\ncron = "0 * * * *"\n')
    with pytest.raises(ConfigError, match="unknown schedule 'hourly'"):
        build_deployments(settings, settings.config_path)
