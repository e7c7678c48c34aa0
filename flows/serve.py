"""Scheduled runs: one Prefect deployment per `[schedules.<name>]` of sara.toml, served by this process.

    [schedules.nightly]          -> deployment "sara-nightly"        (flow `nightly`)
    [schedules.weekly_report]    -> deployment "sara-weekly-report"  (flow `weekly_report`)

Schedules need a real Prefect server (`prefect server start`, then PREFECT_API_URL): the temporary
API that Prefect starts on demand for a single run has no scheduler service, so nothing would fire.
`sara serve` (flows/cli/serve.py) checks that before calling serve_all().
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from prefect import flow, get_run_logger
from prefect.schedules import Cron

from flows.nightly import nightly
from transforms.config import ConfigError, ScheduleConfig, Settings, load_settings

DEPLOYMENT_NAMES = {"nightly": "sara-nightly", "weekly_report": "sara-weekly-report"}


@flow(name="weekly_report", log_prints=False)
def weekly_report(config_path: str | None = None, as_of: date | None = None) -> str:
    """Write the scanning report (data/reports/<profile>/<as_of>/index.html; as_of: the latest agency as_of of
    the published warehouse unless given) from the published warehouse."""
    from transforms.outputs.report import build_report
    from transforms.warehouse.db import open_published

    settings = load_settings(config_path)
    with open_published(settings.warehouse_path) as con:
        path = build_report(con, settings, as_of)
    get_run_logger().info("report written: %s", path)
    return str(path)


def _flow_for(name: str):
    return {"nightly": nightly, "weekly_report": weekly_report}[name]


def build_deployments(settings: Settings, config_path: str | Path | None = None) -> list:
    """One RunnerDeployment per configured schedule (cron in the schedule's timezone).

    Every run gets the absolute config path as a parameter, so it reads the same project whatever
    folder the runner's subprocess starts in. Raises ConfigError on a schedule name sara doesn't know."""
    cfg = Path(config_path) if config_path is not None else settings.config_path
    cfg = cfg if cfg.is_absolute() else settings.resolve(cfg)
    schedules: dict[str, ScheduleConfig] = settings.sara.schedules
    unknown = sorted(set(schedules) - set(DEPLOYMENT_NAMES))
    if unknown:
        raise ConfigError(
            f"{settings.config_path}: key schedules: unknown schedule {', '.join(map(repr, unknown))} "
            f"(known: {', '.join(DEPLOYMENT_NAMES)})"
        )
    deployments = []
    for name, sched in schedules.items():
        params: dict = {"config_path": str(cfg)}
        if sched.executor != "local" or sched.dask_address or sched.dask_workers:
            if name != "nightly":
                raise ConfigError(f"{settings.config_path}: key schedules.{name}.executor: only the nightly "
                                  "run can be scaled out")
            params.update(executor=sched.executor, dask_address=sched.dask_address, dask_workers=sched.dask_workers)
        deployments.append(
            _flow_for(name).to_deployment(
                name=DEPLOYMENT_NAMES[name],
                schedule=Cron(sched.cron, timezone=sched.timezone),
                parameters=params,
                description=f"sara {name}: cron {sched.cron!r} in {sched.timezone}",
                tags=["sara", name],
            )
        )
    return deployments


def serve_all(settings: Settings, config_path: str | Path | None = None, **serve_kwargs) -> None:
    """Register every scheduled deployment and run them from this process until interrupted."""
    from prefect import serve

    deployments = build_deployments(settings, config_path)
    if not deployments:
        raise ConfigError(f"{settings.config_path}: no [schedules.<name>] table, nothing to serve")
    serve(*deployments, **serve_kwargs)
