"""A corrupt published warehouse, through the real CLI: `sara status` and `sara run` say so in plain words and
name the recovery; `sara rebuild` sets the file aside and rebuilds the same rows from landing. And a healthy
file DuckDB trimmed of its free tail is not taken for a corrupt one.

The figures (seconds to detect, to rebuild) are printed; run with -s to see them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.support.cli import flat, run_sara
from tests.support.project import demo_project
from tests.support.published import copy_project, core_snapshot, night_files, runs_log, sha

CONFIG = "config/demo.toml"
WAREHOUSE = Path("data/demo/warehouse/sara.duckdb")


@pytest.fixture(scope="module")
def env(cli_env):
    """The session's CLI environment: one shared Prefect server (the runs here need no temporary server)."""
    return cli_env


@pytest.mark.slow
def test_a_healthy_warehouse_whose_file_lost_its_free_tail_is_not_corrupt(env, tmp_path):
    """DuckDB trims free blocks off the end of the file, so the header's block count can exceed what is on disk
    in a healthy file. Found on `sara demo --nights 6 --scale 0.05`, whose night 5 was refused as corrupt:
    the six demo nights at a small scale must all publish, and the file must still count as whole."""
    import duckdb

    from transforms.warehouse import db as wh

    proj = demo_project(tmp_path / "proj")
    res = run_sara(proj, env, "demo", "--nights", "6", "--scale", "0.05")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    db = proj / "data/demo/warehouse/sara.duckdb"
    con = duckdb.connect(str(db), read_only=True)
    try:
        bs, total = con.execute("SELECT block_size, total_blocks FROM pragma_database_size()").fetchone()
    finally:
        con.close()
    trimmed = db.stat().st_size < 3 * 4096 + total * bs  # the case that was refused (not every run has it)
    with wh.open_published(db) as c:
        assert c.execute("SELECT count(*) FROM core.calls").fetchone()[0] > 0
    assert runs_log(db)[-1]["status"] == "ok", trimmed


@pytest.mark.slow
def test_corrupt_published_file_is_reported_and_rebuilt(env, demo_warehouse, tmp_path):
    from transforms.demo import deliver_night

    proj = copy_project(demo_warehouse, tmp_path)
    db = proj / WAREHOUSE
    deliver_night(proj / "data/demo", 2)  # night 2 updates calls of night 1: one rebuild must give the same rows
    res = run_sara(proj, env, "run", "--config", CONFIG)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    reference = core_snapshot(db)
    with open(db, "r+b") as fh:  # truncate to half
        fh.truncate(db.stat().st_size // 2)
    corrupt_sha = sha(db)

    t = time.perf_counter()
    status = run_sara(proj, env, "status", "--config", CONFIG)
    detect_s = time.perf_counter() - t
    said = flat(status.stderr)
    assert status.returncode == 1, status.stdout[-2000:] + status.stderr[-2000:]
    assert "Traceback" not in status.stderr, status.stderr[-3000:]
    assert f"the published warehouse {db} is corrupt" in said and "sara rebuild" in said, said

    run = run_sara(proj, env, "run", "--config", CONFIG)
    said = flat(run.stderr)
    assert run.returncode == 1, run.stdout[-2000:] + run.stderr[-2000:]
    assert "is corrupt" in said and "sara rebuild" in said, said
    assert "still published" not in said and "is unchanged" not in said, said
    assert night_files(db) == {}
    runs = runs_log(db)
    assert runs[-1]["status"] == "failed" and "is corrupt" in runs[-1]["message"], runs[-1]

    # a failed night that cannot even be recorded is still reported, with exit 1
    log = db.with_name("runs.jsonl")
    log.rename(log.with_name("runs.jsonl.kept"))
    log.mkdir()  # appending to a folder fails
    run = run_sara(proj, env, "run", "--config", CONFIG)
    said = flat(run.stderr)
    assert run.returncode == 1 and "is corrupt" in said and "could not be recorded" in said, said
    log.rmdir()
    log.with_name("runs.jsonl.kept").rename(log)

    t = time.perf_counter()
    rebuilt = run_sara(proj, env, "rebuild", "--config", CONFIG)
    rebuild_s = time.perf_counter() - t
    assert rebuilt.returncode == 0, rebuilt.stdout[-3000:] + rebuilt.stderr[-3000:]
    aside = sorted(db.parent.glob(db.name + ".set-aside-*"))
    assert len(aside) == 1 and sha(aside[0]) == corrupt_sha  # the corrupt file is kept as it was
    assert core_snapshot(db) == reference  # every row again, from landing
    assert night_files(db) == {}
    status = run_sara(proj, env, "status", "--config", CONFIG)
    assert status.returncode == 0, status.stdout[-2000:] + status.stderr[-2000:]
    shown = flat(status.stdout)
    assert "unpublished failed run" in shown and "is corrupt" in shown  # the history stays readable
    print(f"\ncorrupt file: `sara status` reported it and exited 1 in {detect_s:.1f} s (process start "
          f"included); `sara run` refused it; `sara rebuild` restored two nights' {reference['core.calls'][0]} calls in "
          f"{rebuild_s:.0f} s and kept the corrupt file as {aside[0].name}")


