"""`sara serve` as a subprocess: it refuses without a Prefect server, and a served schedule fires.
(The deployments it builds from [schedules.*]: tests/unit/test_serve_deployments.py.)

The end-to-end test starts a real `prefect server start` on a free loopback port (private PREFECT_HOME,
shortened scheduler loops), serves a tiny probe flow on a 5-second interval from a second process,
and waits for one of its scheduled runs to complete. Both processes run in their own sessions and are
terminated (then killed) in a finally block.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.cli import free_port
from tests.support.project import PROJECT, SCHEDULES

# ---------------------------------------------------------------------------------------------
# `sara serve` without a server
# ---------------------------------------------------------------------------------------------

BIN = Path(sys.executable).parent


def _clean_env(home: Path, api_url: str | None = None) -> dict[str, str]:
    """os.environ without any PREFECT_* variable (the session's prefect_harness may have set
    PREFECT_API_URL), with a private PREFECT_HOME and profiles file."""
    home.mkdir(parents=True, exist_ok=True)
    profiles = home / "profiles.toml"
    profiles.write_text('active = "sara-test"\n\n[profiles.sara-test]\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update({
        "PREFECT_HOME": str(home),
        "PREFECT_PROFILES_PATH": str(profiles),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "DO_NOT_TRACK": "1",
        "PREFECT_SERVER_UI_ENABLED": "false",
        "PREFECT_LOGGING_LEVEL": "INFO",
        "NO_COLOR": "1",
    })
    if api_url is not None:
        env["PREFECT_API_URL"] = api_url
    return env


def test_serve_refuses_without_api_url(tiny_project, tmp_path):
    proj = tiny_project([], city="chicago", extra=SCHEDULES).root
    env = _clean_env(tmp_path / "prefect-home")
    res = subprocess.run(
        [str(BIN / "sara"), "serve", "--config", str(proj / "config" / "sara.toml")],
        cwd=proj, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=60,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 2, out
    assert "PREFECT_API_URL is not set" in res.stderr, out
    assert "prefect server start" in res.stderr, out
    assert "serving" not in res.stdout, out


# ---------------------------------------------------------------------------------------------
# end to end: a real `prefect server start`, a served interval schedule, a completed scheduled run
# ---------------------------------------------------------------------------------------------

PROBE = PROJECT / "tests" / "support" / "serve_probe.py"
PROBE_FLOW = "sara-serve-probe"  # tests/support/serve_probe.py: FLOW, DEPLOYMENT
PROBE_DEPLOYMENT = "probe"
INTERVAL_SECONDS = 5
HEALTH_DEADLINE = 90.0
RUN_DEADLINE = 120.0

# Short service loops, so a new deployment gets runs within seconds (defaults: minutes).
FAST_SCHEDULING = {
    "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2",
    "PREFECT_SERVER_SERVICES_SCHEDULER_RECENT_DEPLOYMENTS_LOOP_SECONDS": "1",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MIN_RUNS": "2",
    "PREFECT_SERVER_SERVICES_SCHEDULER_MAX_RUNS": "20",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS": "5",
    "PREFECT_RUNNER_POLL_FREQUENCY": "2",
}


def _stop(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM the process group (the process runs in its own session), then SIGKILL it."""
    if proc is None:
        return
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=wait)
            if sig == signal.SIGTERM:
                # the leader is gone; anything else left in its group goes too
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            break
        except subprocess.TimeoutExpired:
            continue
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


def _tail(path: Path, n: int = 4000) -> str:
    return path.read_text(errors="replace")[-n:] if path.exists() else ""


def _completed_runs(client: httpx.Client) -> list[dict]:
    body = {
        "flows": {"name": {"any_": [PROBE_FLOW]}},
        "deployments": {"name": {"any_": [PROBE_DEPLOYMENT]}},
        "flow_runs": {"state": {"type": {"any_": ["COMPLETED"]}}},
        "sort": "EXPECTED_START_TIME_ASC",
        "limit": 5,
    }
    r = client.post("/flow_runs/filter", json=body)
    r.raise_for_status()
    return r.json()


@pytest.mark.slow
def test_served_interval_schedule_fires_on_real_server(tmp_path):
    port = free_port()
    api = f"http://127.0.0.1:{port}/api"
    env = _clean_env(tmp_path / "prefect-home", api) | FAST_SCHEDULING
    server_log, serve_log = tmp_path / "server.log", tmp_path / "serve.log"
    marker = tmp_path / "probe-runs.txt"
    server = runner = None

    def fail(msg: str) -> None:
        pytest.fail(
            f"{msg}\n--- prefect server log (tail) ---\n{_tail(server_log)}"
            f"\n--- serve log (tail) ---\n{_tail(serve_log)}",
            pytrace=False,
        )

    t0 = time.monotonic()
    try:
        with server_log.open("wb") as log:
            server = subprocess.Popen(
                [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        with httpx.Client(base_url=api, timeout=10.0) as client:
            deadline = time.monotonic() + HEALTH_DEADLINE
            while True:
                if server.poll() is not None:
                    fail(f"prefect server exited with code {server.returncode} before it was healthy")
                try:
                    if client.get("/health").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    fail(f"prefect server on {api} not healthy after {HEALTH_DEADLINE:.0f} s")
                time.sleep(0.5)
            t_healthy = time.monotonic() - t0

            with serve_log.open("wb") as log:
                runner = subprocess.Popen(
                    [sys.executable, str(PROBE), str(marker), str(INTERVAL_SECONDS)],
                    cwd=PROJECT, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            deadline = time.monotonic() + RUN_DEADLINE
            runs: list[dict] = []
            while not runs:
                for name, proc in (("prefect server", server), ("probe serve", runner)):
                    if proc.poll() is not None:
                        fail(f"{name} exited with code {proc.returncode} before a scheduled run completed")
                try:
                    runs = _completed_runs(client)
                except httpx.HTTPError:
                    runs = []
                if not runs:
                    if time.monotonic() > deadline:
                        fail(f"no completed run of {PROBE_FLOW}/{PROBE_DEPLOYMENT} within {RUN_DEADLINE:.0f} s")
                    time.sleep(1.0)
            t_run = time.monotonic() - t0

            r = client.get(f"/deployments/name/{PROBE_FLOW}/{PROBE_DEPLOYMENT}")
            assert r.status_code == 200, r.text
            deployment = r.json()

        [schedule] = deployment["schedules"]
        assert schedule["schedule"]["interval"] == INTERVAL_SECONDS, deployment

        run = runs[0]
        timing = f"server healthy after {t_healthy:.1f} s, first scheduled run completed after {t_run:.1f} s"
        detail = f"{timing}\nrun: {run}"
        assert run["deployment_id"] == deployment["id"], detail
        assert run["state_type"] == "COMPLETED", detail
        # created by the server's scheduler service, not by hand (`prefect deployment run` would be False)
        assert run["auto_scheduled"] is True, detail
        assert "auto-scheduled" in run["tags"], detail
        assert (run.get("created_by") or {}).get("type") == "SCHEDULE", detail
        assert run["parameters"] == {"marker": str(marker)}, detail
        assert marker.exists(), detail
        assert str(run["id"]) in marker.read_text().split(), detail
        print(timing)
    finally:
        _stop(runner)
        _stop(server)
