"""The temporary Prefect API of one sara command, owned by that command's process so that it dies with it.

Without PREFECT_API_URL, Prefect starts a temporary API server for a one-off flow run: uvicorn in a child
process (prefect.server.api.server.SubprocessASGIServer), stopped by an `atexit` handler. A run killed with
SIGKILL never runs that handler, so its server lived on (about 230 MB each); a cron that kills hung runs
piled them up.

Here the command starts that server itself, from its main thread, through a three-line launcher that asks
Linux to SIGKILL the server when the thread that started it dies (prctl PR_SET_PDEATHSIG), and then points
Prefect at it (PREFECT_API_URL, also inherited by Dask workers). A normal exit stops it as Prefect does.

Nothing is started when an API is already configured: PREFECT_API_URL set (a real `prefect server start`,
`sara serve`) or a test harness active in this process. On systems other than Linux Prefect's own temporary
server is used unchanged (there is no parent-death signal there).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

# Runs in the server's process before uvicorn: PR_SET_PDEATHSIG (1) = SIGKILL, then a check that the parent
# did not die before the call (the signal would never come), then exec. The setting survives exec.
_LAUNCHER = """\
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0) != 0:
    sys.exit("prctl(PR_SET_PDEATHSIG) failed, errno %d" % ctypes.get_errno())
if os.getppid() != int(sys.argv[1]):
    sys.exit(0)
os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start(timeout_s: float) -> tuple[subprocess.Popen, str]:
    import prefect
    from prefect.settings import get_current_settings

    env = {**os.environ,
           # what Prefect sets for its own temporary server: no UI, ephemeral mode
           "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1",
           # NOTE: no registration of Prefect's block types (sara uses no blocks): on a fresh PREFECT_HOME it is
           # about 1 s of the server's start, which every sara command waits for. Not memoized either, so that a
           # later `prefect server start` on the same database still registers them. Set either to have it back.
           "PREFECT_API_BLOCKS_REGISTER_ON_START": "false", "PREFECT_MEMOIZE_BLOCK_AUTO_REGISTRATION": "false",
           **get_current_settings().to_environment_variables(exclude_unset=True)}
    env.pop("PREFECT_API_URL", None)
    last = ""
    for _ in range(3):  # another program may take the port between the probe and uvicorn's bind
        port = _free_port()
        proc = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, str(os.getpid()), "-m", "uvicorn",
             "--app-dir", str(prefect.__module_path__.parent), "--factory", "prefect.server.api.server:create_app",
             "--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"],
            env=env, stdin=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(url + "/health", timeout=2) as r:
                    if r.status == 200:
                        return proc, url
            except OSError:
                pass
            time.sleep(0.1)
        last = (f"exited with code {proc.returncode}" if proc.poll() is not None
                else f"did not answer within {timeout_s:.0f} s")
        _stop(proc)
    raise RuntimeError(f"the temporary Prefect API server {last}; set PREFECT_API_URL to a running "
                       "`prefect server start`, or raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _configured() -> bool:
    """An API is already there: PREFECT_API_URL, or a server registered in this process (the test harness).

    A harness in this process has imported Prefect's server module; when it is not imported there is no
    harness, and importing it just to look (seconds of FastAPI and the server's models) is not done."""
    from prefect.settings import PREFECT_API_URL

    if PREFECT_API_URL.value():
        return True
    server = sys.modules.get("prefect.server.api.server")
    harness = server.SubprocessASGIServer._instances.get(None) if server is not None else None
    return bool(harness is not None and harness.running)


@contextmanager
def owned_api() -> Iterator[str | None]:
    """A temporary Prefect API for the flow runs inside, killed with this process; yields its URL (None when
    an API was already configured, or off Linux)."""
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS,
        temporary_settings,
    )

    if sys.platform != "linux" or _configured():
        yield None
        return
    proc, url = _start(float(PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS.value()))
    before = os.environ.get("PREFECT_API_URL")
    os.environ["PREFECT_API_URL"] = url  # for child processes (Dask workers)
    try:
        with temporary_settings(updates={PREFECT_API_URL: url}):
            yield url
    finally:
        if before is None:
            os.environ.pop("PREFECT_API_URL", None)
        else:
            os.environ["PREFECT_API_URL"] = before
        _drain()
        _stop(proc)


def _drain() -> None:
    """Send the logs and events still queued in this process before their server goes (as Prefect's own
    test harness does); a failure here loses log lines, never a run."""
    import inspect

    from prefect.events.worker import EventsWorker
    from prefect.logging.handlers import APILogWorker
    from prefect.utilities.asyncutils import run_coro_as_sync

    async def drain() -> None:
        for step in (APILogWorker.drain_all, EventsWorker.drain_all):
            try:
                result = step()
                if inspect.isawaitable(result):
                    await result
            except Exception:  # a worker that never started; best effort at exit
                pass

    try:
        run_coro_as_sync(drain())
    except Exception:  # best effort: a failure here loses log lines, never a run
        pass
