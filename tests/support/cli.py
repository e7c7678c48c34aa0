"""Running `sara` in tests: as a subprocess against one shared Prefect server, and the README's command table."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.project import PROJECT

SARA = [sys.executable, "-m", "flows.cli"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def kill_group(p: subprocess.Popen) -> None:
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def flat(text: str) -> str:
    """Console output with Rich's line wrapping undone."""
    return " ".join(text.split())


@contextmanager
def cli_server_env(home: Path) -> Iterator[dict]:
    """Environment for CLI runs in subprocesses: a private PREFECT_HOME and one real Prefect server on
    loopback shared by every run (each CLI run would otherwise start its own temporary server, ~15 s).
    If the server does not come up, runs fall back to their own temporary servers: slower, same behaviour."""
    base = {**os.environ, "PREFECT_HOME": str(home), "COLUMNS": "200", "PYTHONUNBUFFERED": "1",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_UI_ENABLED": "false"}
    # nothing the test process itself set leaks into the runs (an in-process CLI test sets the log levels)
    for k in ("PREFECT_API_URL", "SARA_CONFIG", "PREFECT_LOGGING_LEVEL", "DASK_LOGGING__DISTRIBUTED"):
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


def readme_commands() -> set[str]:
    """The commands of the README's "Commands" table: `sara problem new NAME` gives "problem new", `sara run
    --executor dask ...` gives "run" (the words after `sara` up to the first argument or option)."""
    text = (PROJECT / "README.md").read_text(encoding="utf-8")
    assert "\n## Commands\n" in text, "README.md has no '## Commands' section"
    section = text.split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    found = set()
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        for span in re.findall(r"`sara ([^`]*)`", line.split("|")[1]):
            words = []
            for w in span.split():
                if not re.fullmatch(r"[a-z][a-z0-9-]*", w):
                    break
                words.append(w)
            if words:
                found.add(" ".join(words))
    return found


def invoke_near_repeat(args: list[str], **kw):
    """`near-repeat` on a throwaway app with a second command, registered as flows/cli/__init__.py does;
    the result's .text is the output whitespace-normalized (immune to Rich's line wrapping)."""
    import typer
    from typer.testing import CliRunner

    from flows.cli.near_repeat import near_repeat

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("near-repeat")(near_repeat)
    app.command("noop")(lambda: None)
    res = CliRunner().invoke(app, ["near-repeat", *args], **kw)
    res.text = flat(res.output)
    return res


def run_sara(proj: Path, env: dict, *args: str, wrap: list[str] | None = None,
             timeout: float = 900) -> subprocess.CompletedProcess:
    """`sara ARGS` in the project folder (optionally under a wrapper command), output captured."""
    return subprocess.run([*(wrap or []), *SARA, *args], cwd=proj, env=env, capture_output=True, text=True,
                          timeout=timeout)
