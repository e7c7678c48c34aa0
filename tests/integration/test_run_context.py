"""The nightly flow's run context and the one retry policy of a file load.

- A file load that raises an I/O error is tried again LOAD_RETRIES times, then recorded as failed; any other
  error is recorded at once (transforms.warehouse.loader.load_with_retries, the same on a Dask worker).
- The progress callback is set by the caller around the flow call (flows.context.reporting_progress), and
  neither it nor the night's connection outlives the call.
- Under a Prefect test harness, or with PREFECT_API_URL set, the CLI starts no API server of its own
  (flows.api_server.owned_api). Its own server is the only one: a flow run's logs reach it, and neither the
  look for a harness nor the drain at exit imports Prefect's server or starts Prefect's temporary one.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.loads import FIX, NAME
from transforms.config import load_settings
from transforms.warehouse import db as wh
from transforms.warehouse import loader


@pytest.fixture()
def project(tiny_project):
    """Test City with one good CAD extract landed."""
    proj = tiny_project().root
    landing = proj / "data" / "landing" / "cad"
    landing.mkdir(parents=True)
    shutil.copyfile(FIX / "good.csv", landing / f"{NAME}.csv")
    return proj


def _load_raising(project, monkeypatch, exc: type[Exception], times: int) -> tuple[loader.FileOutcome, int, str]:
    """Load the landed file while its read raises `exc` the first `times` times; (outcome, attempts, status
    in meta.loads)."""
    settings = load_settings(project / "config" / "sara.toml", project_dir=project)
    path = settings.source_landing("cad") / f"{NAME}.csv"
    attempts = []

    def hook(p):
        attempts.append(p)
        if len(attempts) <= times:
            raise exc(f"read {len(attempts)} failed")

    monkeypatch.setattr(loader, "BEFORE_COMMIT_HOOK", hook)
    monkeypatch.setattr(loader, "LOAD_RETRY_DELAY_S", 0)
    con = wh.connect(project / "w.duckdb")
    try:
        wh.apply_schema(con)
        out = loader.load_with_retries(con, settings, "cad", path, "r1")
        rows = con.execute("SELECT status FROM meta.loads WHERE path = ?", [str(path)]).fetchall()
    finally:
        con.close()
    assert len(rows) == 1, rows
    return out, len(attempts), rows[0][0]


def test_an_io_error_is_retried_and_the_load_then_succeeds(project, monkeypatch):
    out, attempts, status = _load_raising(project, monkeypatch, OSError, loader.LOAD_RETRIES)
    assert (out.status, attempts, status) == ("raw", loader.LOAD_RETRIES + 1, "raw")
    assert out.rows_read == 3


def test_an_io_error_past_the_retries_records_the_file_failed(project, monkeypatch):
    out, attempts, status = _load_raising(project, monkeypatch, OSError, 99)
    assert (out.status, attempts, status) == ("failed", loader.LOAD_RETRIES + 1, "failed")
    assert f"OSError: read {attempts} failed" in out.message and NAME in out.message


def test_any_other_error_is_recorded_without_a_retry(project, monkeypatch):
    out, attempts, status = _load_raising(project, monkeypatch, ValueError, 99)
    assert (out.status, attempts, status) == ("failed", 1, "failed")
    assert "ValueError: read 1 failed" in out.message


def test_progress_goes_to_the_caller_and_the_run_context_ends_with_the_night(project, prefect_harness):
    from flows.context import current_night, reporting_progress
    from flows.nightly import nightly

    cfg = str(project / "config" / "sara.toml")
    events = []
    with contextlib.chdir(project), reporting_progress(lambda kind, **info: events.append((kind, info))):
        result = nightly(config_path=cfg)
    assert result["status"] == "ok", result["message"]
    path = str(project / "data" / "landing" / "cad" / f"{NAME}.csv")
    assert events == [("source", {"source": "cad", "files": 1}),
                      ("file", {"source": "cad", "path": path, "status": "raw"}),
                      ("normalized", {"source": "cad"})]
    with pytest.raises(RuntimeError, match="no nightly run in progress"):
        current_night()
    # outside the caller's `with`, a night reports to nobody
    with contextlib.chdir(project):
        again = nightly(config_path=cfg)
    assert again["status"] == "ok" and again["sources"]["cad"]["skipped"] == 1
    assert len(events) == 3


def test_no_server_of_its_own_when_an_api_is_configured(prefect_harness):
    """Under a test harness, or with PREFECT_API_URL (a real server), the CLI starts no server."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from flows.api_server import owned_api

    def children() -> set[str]:
        kids = Path(f"/proc/{os.getpid()}/task/{os.getpid()}/children")
        return set(kids.read_text().split()) if kids.exists() else set()

    before = children()
    with owned_api() as url:
        assert url is None and children() == before
    with temporary_settings(updates={PREFECT_API_URL: "http://127.0.0.1:9/api"}), owned_api() as url:
        assert url is None and children() == before


_ONE_SERVER = """
import sys
from prefect import flow, get_run_logger
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.logging.handlers import APILogWorker
from flows.api_server import owned_api

@flow
def hello():
    get_run_logger().info("hello from the owned server test")

with owned_api() as url:
    state = hello(return_state=True)
    APILogWorker.drain_all()  # the logs go in batches: send the last one now
    with get_client(sync_client=True) as client:
        logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[state.state_details.flow_run_id])))
        block_types = client.read_block_types()
    print("url", url is not None)
    print("logs", sum("hello from the owned server test" in log.message for log in logs))
    print("block types", len(block_types))
print("server module", "prefect.server.api.server" in sys.modules)
"""


def test_the_owned_server_is_the_only_one(tmp_path):
    """A flow run under owned_api logs to that server; the process never imports Prefect's server (the harness
    check looks at sys.modules) and its exit starts no temporary server of Prefect's to drain the logs. The
    server registers no block types and leaves no memo of having done so (a later `prefect server start` on the
    same PREFECT_HOME registers them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(tmp_path), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="90")
    out = subprocess.run([sys.executable, "-c", _ONE_SERVER], cwd=Path(__file__).resolve().parents[2], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "url True" in out.stdout and "logs 1" in out.stdout
    assert "server module False" in out.stdout
    assert "block types 0" in out.stdout and not (tmp_path / "memo_store.toml").exists()
    assert "temporary server" not in out.stderr + out.stdout
