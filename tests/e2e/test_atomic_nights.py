"""Build-then-publish under stress, through the real CLI in throw-away copies of the project.

1. A reader polling the published warehouse during a whole nightly run sees the last complete night or
   the new one, never an error and never a mixture.
2. A run killed with SIGKILL in any step leaves the previous night published intact, and the rerun
   (over the killed run's leftover `.build` file and lock file) publishes exactly what an uninterrupted
   run publishes: same rows, no duplicates, nothing lost.

One Prefect server serves every CLI run of the session (each would otherwise start its own temporary server,
~15 s each). Night 1 is the session's demo warehouse (tests/conftest.py), copied twice, so the reference run
and the crash runs start from the same published file.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import SARA, kill_group

pytestmark = pytest.mark.slow
CONFIG = "config/demo.toml"
WAREHOUSE = Path("data/demo/warehouse/sara.duckdb")

READER = r"""
import json, os, sys, time
import duckdb
path, out, stop, max_s = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
deadline = time.time() + max_s
with open(out, "a", encoding="utf-8") as fh:
    while time.time() < deadline and not os.path.exists(stop):
        rec = {"t0": time.time()}
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                rec["calls"] = con.execute("SELECT count(*) FROM core.calls").fetchone()[0]
                rec["runs"] = con.execute("SELECT count(*) FROM meta.runs").fetchone()[0]
                rec["sum"] = str(con.execute("SELECT sum(hash(call_id)) FROM core.calls").fetchone()[0])
            finally:
                con.close()
        except Exception as exc:
            rec["error"] = f"{type(exc).__name__}: {exc}"
        rec["t1"] = time.time()
        fh.write(json.dumps(rec) + "\n")
        fh.flush()
        time.sleep(0.02)
"""

# table -> (columns left out of the content checksum, key columns that must be unique)
TABLES = {
    "core.calls": ((), ("call_id",)),
    "core.incidents": ((), ("incident_id",)),
    "core.offenses": ((), ("incident_id", "offense_seq")),
    "core.quarantine": ((), ("load_id", "source_row")),
    # the version history is written in each load's transaction: a kill leaves it as consistent as core
    "core.call_versions": ((), ("source", "call_id", "version_seq")),
    "core.incident_versions": ((), ("source", "incident_id", "version_seq")),
    # run ids and load times differ between runs; the path is absolute, so only its file name is compared
    "meta.loads": (("run_id", "loaded_at", "path"), ("load_id",)),
    "marts.hotspot_stats": ((), ("agency", "unit_type", "unit_id", "dataset", "category_group", "origin",
                                 "window_days")),
}


@pytest.fixture(scope="module")
def env(cli_env):
    """The session's CLI environment: a private PREFECT_HOME and one shared Prefect server."""
    return cli_env


def _sara(proj: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SARA, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=600)


def _deliver(proj: Path, night: int) -> None:
    """Copy one night's demo extracts into the landing folders, as `sara demo` does."""
    from transforms.demo import deliver_night

    deliver_night(proj / "data/demo", night)


def _snapshot(db: Path) -> dict:
    """Row count, duplicate-key count and a content checksum per table (doubles rounded to 6 decimals)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table, (excluded, key) in TABLES.items():
            schema, name = table.split(".")
            cols = con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position", [schema, name]).fetchall()
            exprs = [f"round({c}, 6)" if t == "DOUBLE" else c for c, t in cols if c not in excluded]
            if "path" in excluded:
                exprs.append("parse_filename(path)")
            n, checksum = con.execute(
                f"SELECT count(*), sum(hash(h))::VARCHAR FROM (SELECT {', '.join(exprs)} FROM {table}) h"
            ).fetchone()
            dups = con.execute(
                f"SELECT count(*) FROM (SELECT {', '.join(key)} FROM {table} GROUP BY ALL HAVING count(*) > 1)"
            ).fetchone()[0]
            out[table] = (n, checksum, dups)
        out["runs"] = con.execute("SELECT list(status ORDER BY started_at) FROM meta.runs").fetchone()[0]
        out["reader"] = _reader_values(con)
        return out
    finally:
        con.close()


def _reader_values(con) -> list:
    return [con.execute("SELECT count(*) FROM core.calls").fetchone()[0],
            con.execute("SELECT count(*) FROM meta.runs").fetchone()[0],
            str(con.execute("SELECT sum(hash(call_id)) FROM core.calls").fetchone()[0])]


@pytest.fixture(scope="module")
def night1(demo_warehouse, tmp_path_factory):
    """Night 1 published (the session's demo warehouse), in two copies: the reference run's and the crash runs'."""
    ref = tmp_path_factory.mktemp("reference") / "proj"
    shutil.copytree(demo_warehouse, ref)
    crash = tmp_path_factory.mktemp("crash") / "proj"
    shutil.copytree(demo_warehouse, crash)
    return {"ref": ref, "crash": crash, "before": _snapshot(ref / WAREHOUSE)}


@pytest.fixture(scope="module")
def reference(env, night1, reader_dir):
    """The uninterrupted night-2 run, with a reader polling the published file all along."""
    ref = night1["ref"]
    _deliver(ref, 2)
    work = reader_dir
    script, out, stop = work / "reader.py", work / "reads.jsonl", work / "stop"
    script.write_text(READER, encoding="utf-8")
    reader = subprocess.Popen([sys.executable, str(script), str(ref / WAREHOUSE), str(out), str(stop), "300"],
                              env=env, start_new_session=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (out.exists() and out.read_text().count("\n") >= 3):
            time.sleep(0.1)  # the reader is up and reading before the writer starts
        t0 = time.time()
        res = _sara(ref, env, "run", "--config", CONFIG)
        t1 = time.time()
        time.sleep(1.0)  # a few reads after the writer ended: they must see the new night
        stop.touch()
        reader.wait(timeout=60)
    finally:
        kill_group(reader)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    reads = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return {"after": _snapshot(ref / WAREHOUSE), "reads": reads, "t0": t0, "t1": t1,
            "night2_s": round(t1 - t0, 1)}


@pytest.fixture(scope="module")
def reader_dir(tmp_path_factory):  # module-scoped scratch for the reader
    return tmp_path_factory.mktemp("reader")


def test_concurrent_reader_sees_whole_nights_only(night1, reference):
    old, new = night1["before"]["reader"], reference["after"]["reader"]
    assert old != new and new[1] == old[1] + 1  # night 2 added rows and one run
    reads = reference["reads"]
    errors = [r for r in reads if "error" in r]
    assert errors == [], errors[:5]
    seen = [[r["calls"], r["runs"], r["sum"]] for r in reads]
    mixed = [s for s in seen if s not in (old, new)]
    assert mixed == [], mixed[:5]
    during = [s for r, s in zip(reads, seen, strict=True) if reference["t0"] <= r["t0"] <= reference["t1"]]
    assert len(during) >= 20, len(during)
    assert old in during  # the last complete night stayed readable while the new one was built
    assert seen[-1] == new  # and the switch to the new night was seen
    # once the new night is visible it never goes back to the old one
    first_new = seen.index(new)
    assert all(s == new for s in seen[first_new:])
    print(f"\nnight 2 run {reference['night2_s']} s, {len(reads)} reads ({len(during)} during the run)")


# The kills are chained in one project copy: each run starts from the leftovers (`.build` file, lock file)
# of the run killed before it, then gets killed one step later; a final run completes. Prefect prints a
# task's log line when it finishes, so each trigger is the end of the step just before the targeted step:
KILLS = [
    # "load": the first source's load_file task has finished, its ingest_source subflow is still
    # wrapping up (raw rows written to the build file, nothing normalized yet)
    ("load", re.compile(r"Task run 'load_file-\w+' - Finished in state Completed")),
    # "normalize": the first ingest_source subflow has finished; normalize_source of that source (the
    # biggest, ~0.5 s) starts at once, so the kill lands in it or at the start of the next source's load
    ("normalize", re.compile(r"Flow run '[^']+' - Finished in state Completed")),
    # "marts": the audits have finished and build_marts (the longest step, ~10 s) runs next
    ("marts", re.compile(r"Task run 'run_checks-\w+' - Finished in state Completed")),
    # "publish-or-report": build_marts has finished; publish_warehouse (checkpoint + os.replace) and then
    # write_report follow, so the kill lands just before, in, or (most often) after the atomic rename
    ("publish-or-report", re.compile(r"Task run 'build_marts-\w+' - Finished in state Completed")),
]


def _run_until(proj: Path, env: dict, trigger: re.Pattern, timeout: float = 300) -> tuple[bool, list[str]]:
    """Run the nightly with INFO logs; SIGKILL its whole process group at the first line matching trigger."""
    p = subprocess.Popen([*SARA, "run", "--config", CONFIG, "-v"], cwd=proj, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True, start_new_session=True)
    watchdog = threading.Timer(timeout, kill_group, [p])
    watchdog.start()
    lines, killed = [], False
    try:
        for line in p.stdout:
            lines.append(line)
            if trigger.search(line):
                kill_group(p)
                killed = True
                break
        p.wait(timeout=60)
    finally:
        watchdog.cancel()
        kill_group(p)
        p.stdout.close()
    return killed, lines


def test_sigkill_in_any_step_then_rerun_equals_uninterrupted(env, night1, reference):
    proj = night1["crash"]
    db = proj / WAREHOUSE
    build = db.with_name(db.name + ".build")
    _deliver(proj, 2)
    before, after = night1["before"], reference["after"]
    assert before != after
    timings = {}
    for step, trigger in KILLS:
        t = time.perf_counter()
        killed, lines = _run_until(proj, env, trigger)
        timings[step] = round(time.perf_counter() - t, 1)
        assert killed, f"{step}: trigger never seen\n" + "".join(lines[-40:])
        now = _snapshot(db)
        if step == "publish-or-report":
            # killed around the atomic rename: either night is fine, a mixture is not
            assert now in (before, after), step
            timings["published after the last kill"] = "night 2" if now == after else "night 1"
        else:  # killed before publishing: the previous night is published, untouched
            assert now == before, step
            assert build.exists(), f"{step}: expected the killed run's build file"  # left for the next run
        assert db.with_name(db.name + ".lock").exists()  # the killed run's lock file (its flock died with it)
    t = time.perf_counter()
    res = _sara(proj, env, "run", "--config", CONFIG)
    timings["rerun"] = round(time.perf_counter() - t, 1)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    final = _snapshot(db)
    leftovers = sorted(p.name for p in db.parent.iterdir() if ".build" in p.name)
    assert leftovers == []
    for table in TABLES:
        assert final[table] == after[table], table  # same rows and content as the uninterrupted run
        assert final[table][2] == 0, f"duplicate keys in {table}"
    assert "running" not in final["runs"] and final["runs"][-1] == "ok", final["runs"]
    print(f"\nkilled runs and rerun (s): {timings}")
