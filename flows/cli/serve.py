"""`sara serve`: run the configured schedules ([schedules.<name>] in sara.toml) until interrupted.

Registered on the main app in flows/cli/__init__.py:

    app.command("serve")(serve)

The deployments are built in flows/serve.py.
"""

from __future__ import annotations

import os

import typer
from rich.console import Console
from rich.markup import escape

console = Console()
err = Console(stderr=True)

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
    config: str | None = typer.Option(None, "--config", "-c", envvar="SARA_CONFIG",
                                      help="config file (default config/sara.toml in the project folder)"),
) -> None:
    """Run the schedules of sara.toml (schedules.nightly, schedules.weekly_report) until Ctrl-C.

    Needs a real Prefect server: run `prefect server start` and set PREFECT_API_URL (e.g.
    http://127.0.0.1:4200/api). The temporary API that Prefect starts for one-off runs does not schedule
    anything, so `sara serve` refuses to start without PREFECT_API_URL.

    Example:  PREFECT_API_URL=http://127.0.0.1:4200/api sara serve --config config/sara.toml
    """
    from transforms.config import ConfigError, load_settings

    url = _api_url()
    if not url:
        err.print(f"[red]error:[/red] {escape(NEEDS_SERVER)}", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None

    from flows.serve import build_deployments, serve_all

    try:
        deployments = build_deployments(settings, settings.config_path)
    except ConfigError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(2) from None
    if not deployments:
        err.print(f"[red]error:[/red] {escape(str(settings.config_path))}: no [schedules.<name>] table, "
                  "nothing to serve", highlight=False, soft_wrap=True)
        raise typer.Exit(2)
    for d in deployments:
        console.print(escape(f"serving {d.name} ({d.description}) on {url}"), highlight=False, soft_wrap=True)
    serve_all(settings, settings.config_path)
