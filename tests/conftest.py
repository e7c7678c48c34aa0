"""Shared fixtures: one Prefect test harness per session, paths to ../shared/data, tiny projects."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


@contextmanager
def cli_server_env(home: Path) -> Iterator[dict]:
    """Environment for CLI runs in subprocesses: a private PREFECT_HOME and one real Prefect server on
    loopback shared by every run (each CLI run would otherwise start its own temporary server, ~15 s).
    If the server does not come up, runs fall back to their own temporary servers: slower, same behaviour."""
    base = {**os.environ, "PREFECT_HOME": str(home), "COLUMNS": "200", "PYTHONUNBUFFERED": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    for k in ("PREFECT_API_URL", "SARA_CONFIG"):
        base.pop(k, None)
    port = free_port()
    log = open(home / "server.log", "w")
    srv = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1",
                            "--port", str(port)], env=base, stdout=log, stderr=subprocess.STDOUT,
                           start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.time() + 90
    ready = False
    while time.time() < deadline and srv.poll() is None:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                ready = r.status == 200
        except OSError:
            pass
        if ready:
            break
        time.sleep(0.5)
    if ready:
        base["PREFECT_API_URL"] = url
    else:  # each run falls back to its own temporary server: slower, same behaviour
        kill_group(srv)
    try:
        yield base
    finally:
        kill_group(srv)
        srv.wait(timeout=30)
        log.close()
