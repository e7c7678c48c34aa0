"""`sara serve`: run the configured schedules ([schedules.<name>] in sara.toml) until interrupted.

The deployments are built in flows/serve.py.
"""

from __future__ import annotations

import os

from rich.markup import escape

from flows.cli.common import ConfigOpt, console, fail, settings_from

NEEDS_SERVER = (
    "PREFECT_API_URL is not set. Schedules need a real Prefect server: the temporary API that Prefect "
    "starts for a one-off run has no scheduler, so nothing would ever fire. Start one with "
    "`prefect server start` (in another terminal or as a service), then "
    "`export PREFECT_API_URL=http://127.0.0.1:4200/api` (or `prefect config set PREFECT_API_URL=...`) "
    "and run `sara serve` again."
)


def _api_url() -> str | None:
    url = os.environ.get("PREFECT_API_URL")
    if url:
        return url
    try:  # a profile value (`prefect config set PREFECT_API_URL=...`) counts too
        from prefect.settings import get_current_settings

        return get_current_settings().api.url
    except Exception:  # an unreadable profile means "not set"
        return None


def serve(
    config: str | None = ConfigOpt,
) -> None:
    """Run the schedules of sara.toml (schedules.nightly, schedules.weekly_report) until Ctrl-C.

    Needs a real Prefect server: run `prefect server start` and set PREFECT_API_URL (e.g.
    http://127.0.0.1:4200/api). The temporary API that Prefect starts for one-off runs does not schedule
    anything, so `sara serve` refuses to start without PREFECT_API_URL.

    Example:  PREFECT_API_URL=http://127.0.0.1:4200/api sara serve --config config/sara.toml
    """
    from transforms.config import ConfigError

    url = _api_url()
    if not url:
        raise fail(NEEDS_SERVER)
    settings = settings_from(config)

    from flows.serve import build_deployments, serve_all

    try:
        deployments = build_deployments(settings, settings.config_path)
    except ConfigError as exc:
        raise fail(f"config error\n{exc}") from None
    if not deployments:
        raise fail(f"{settings.config_path}: no [schedules.<name>] table, nothing to serve")
    for d in deployments:
        console.print(escape(f"serving {d.name} ({d.description}) on {url}"), highlight=False, soft_wrap=True)
    serve_all(settings, settings.config_path)
