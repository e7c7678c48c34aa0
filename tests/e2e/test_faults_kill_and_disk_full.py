"""Faults an operator can recover from, through the real CLI in throw-away copies of the session's demo
warehouse (night 1 published, tests/conftest.py):

1. A run killed with SIGKILL leaves no process behind (its temporary Prefect API server dies with it).
2. A disk that fills up during a night: the published file is untouched, the failed night is in runs.jsonl
   and in `sara status`, and the night's files are gone at the end of the failed run. Two ways to fill it:
   a per-file size limit (RLIMIT_FSIZE, works anywhere) and a small tmpfs (where mounting is permitted).

A corrupt published warehouse: tests/e2e/test_faults_corrupt.py. The figures (bytes left behind, processes
surviving) are printed; run with -s to see them.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.cli import SARA, flat, run_sara
from tests.support.published import copy_project, night_files, runs_log, sha

CONFIG = "config/demo.toml"
WAREHOUSE = Path("data/demo/warehouse/sara.duckdb")


@pytest.fixture(scope="module")
def env(cli_env):
    """The session's CLI environment: one shared Prefect server (the runs here need no temporary server)."""
    return cli_env


# ---- 1. a killed run leaves no process behind ----

# Runs the CLI as its child and is its subreaper, so that whatever the run started is re-parented here when
# the run is killed, and can be seen and reaped. Prints one JSON line.
KILLER = r"""
import ctypes, json, os, re, signal, subprocess, sys, time

ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
cmd, cwd, trigger, wait_s = json.loads(sys.argv[1]), sys.argv[2], re.compile(sys.argv[3]), float(sys.argv[4])


def children():
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                kids.setdefault(int(fields[1]), []).append(int(d))
    return kids


def descendants(root):
    kids, out, todo = children(), [], [root]
    while todo:
        for c in kids.get(todo.pop(), []):
            out.append(c)
            todo.append(c)
    return out


def cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return fh.read().replace(b"\0", b" ").decode(errors="replace").strip()[:300]
    except OSError:
        return ""


t_start = time.monotonic()
run = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
tail, seen = [], False
for line in run.stdout:
    tail = (tail + [line])[-30:]
    if trigger.search(line):
        seen = True
        break
before = {p: cmdline(p) for p in descendants(run.pid)}
rss = {}
for p in before:
    try:
        with open(f"/proc/{p}/status") as fh:
            rss[p] = next((int(x.split()[1]) for x in fh if x.startswith("VmRSS:")), 0)
    except OSError:
        pass
os.kill(run.pid, signal.SIGKILL)
run.wait()
t_kill = time.monotonic()
while True:
    try:
        while os.waitpid(-1, os.WNOHANG)[0] > 0:
            pass
    except ChildProcessError:
        pass
    survivors = {p: cmdline(p) for p in descendants(os.getpid())}
    if not survivors or time.monotonic() - t_kill > wait_s:
        break
    time.sleep(0.05)
cleared_s = round(time.monotonic() - t_kill, 2)
for p in survivors:  # never leave them behind, whatever the test says
    try:
        os.kill(p, signal.SIGKILL)
    except ProcessLookupError:
        pass
print(json.dumps({"trigger_seen": seen, "run_s": round(t_kill - t_start, 1), "before": before,
                  "rss_kb": rss, "survivors": survivors, "cleared_s": cleared_s, "tail": tail}))
"""


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="the parent-death signal and /proc are Linux")
def test_killed_run_leaves_no_process(env, demo_warehouse, tmp_path):
    proj = copy_project(demo_warehouse, tmp_path)
    run_env = {k: v for k, v in env.items() if k != "PREFECT_API_URL"}  # the run starts its own API server
    run_env["PREFECT_HOME"] = str(tmp_path / "prefect_home")
    cmd = [*SARA, "run", "--config", CONFIG, "-v"]
    # the flow run has begun: the temporary API server is up and serving it
    res = subprocess.run([sys.executable, "-c", KILLER, json.dumps(cmd), str(proj), r"Beginning flow run", "30"],
                         env=run_env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["trigger_seen"], "".join(out["tail"])
    servers = [p for p, c in out["before"].items() if "uvicorn" in c]
    assert servers, f"no temporary API server among the run's children: {out['before']}"
    assert out["survivors"] == {}, f"still running {out['cleared_s']} s after the kill: {out['survivors']}"
    print(f"\nkill: {len(out['before'])} descendant(s) before the kill (server RSS "
          f"{sum(out['rss_kb'].get(p, 0) for p in servers) / 1024:.0f} MB), 0 surviving, all gone "
          f"{out['cleared_s']} s after the SIGKILL (killed {out['run_s']} s after the start)")


# ---- 2. disk full ----

# Runs the CLI with a per-file size limit: a write past it fails with EFBIG (SIGXFSZ ignored), as a full disk
# fails with ENOSPC.
FSIZE = r"""
import os, resource, signal, sys
limit = int(sys.argv[1])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
os.execv(sys.argv[2], sys.argv[2:])
"""


def _mount_tmpfs(where: Path, size: int) -> bool:
    try:
        res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                             capture_output=True, text=True, timeout=60)
    except OSError:
        return False
    return res.returncode == 0


@pytest.mark.slow
# file-size-limit: the build file may not grow 2 MiB past the published one (fails at a checkpoint in the marts);
# tmpfs-N: a tmpfs holding the published file, its copy and N MiB more: 4 fills up on a WAL write in the
# marts, 16 at a checkpoint, where the build file grows (the case that left 45 MB behind unrecorded before)
@pytest.mark.parametrize("how", ["file-size-limit", "tmpfs-4", "tmpfs-16"])
def test_disk_full_night_is_recorded_and_cleaned_up(env, demo_warehouse, tmp_path, how):
    from transforms.demo import deliver_night

    proj = copy_project(demo_warehouse, tmp_path)
    db = proj / WAREHOUSE
    deliver_night(proj / "data/demo", 2)
    published, before_runs, size = sha(db), len(runs_log(db)), db.stat().st_size
    wrap, mounted = None, False
    if how == "file-size-limit":
        # the copy of the published file fits; the build cannot grow past it (night 2 adds rows and marts)
        wrap = [sys.executable, "-c", FSIZE, str(size + 2 * 2**20)]
    else:
        wdir = db.parent
        keep = tmp_path / "warehouse-files"
        shutil.copytree(wdir, keep)
        if not _mount_tmpfs(wdir, 2 * size + int(how.split("-")[1]) * 2**20):
            pytest.skip("mounting a tmpfs is not permitted here (needs root with CAP_SYS_ADMIN)")
        mounted = True
        for f in keep.iterdir():
            shutil.copy2(f, wdir / f.name)
    try:
        t = time.perf_counter()
        res = run_sara(proj, env, "run", "--config", CONFIG, wrap=wrap)
        run_s = time.perf_counter() - t
        left = night_files(db)
        said = flat(res.stderr)
        assert res.returncode == 1, res.stdout[-3000:] + res.stderr[-3000:]
        assert left == {}, left  # build file, WAL, spill folder, half copy and parts: all removed
        assert sha(db) == published  # the published file was not touched
        runs = runs_log(db)
        assert len(runs) == before_runs + 1 and runs[-1]["status"] == "failed", runs[-2:]
        words = "file size limit reached" if how == "file-size-limit" else "disk full"
        # Prefect logs the failed flow run with its traceback; the CLI's last word is the plain one
        assert re.search(rf"night failed, nothing published \(the last published night in {re.escape(str(db))} "
                         rf"is unchanged\): {words} while [a-z ]+", said), said[-2000:]
        assert words in runs[-1]["message"]
        status = run_sara(proj, env, "status", "--config", CONFIG)
        assert status.returncode == 0, status.stdout[-3000:] + status.stderr[-3000:]
        shown = flat(status.stdout)
        assert f"unpublished failed run {runs[-1]['run_id'][:8]}" in shown and f"{words} while" in shown, shown
        doing = re.search(rf"{words} while ([a-z ()]+?) in ", said)
        failed_write = re.search(r'Could not write file "[^"]*/([^"/]+)"', said)
        print(f"\ndisk full ({how}): exit 1 after {run_s:.0f} s, '{doing.group(0) if doing else said[:120]}' "
              f"(the write that failed: {failed_write.group(1) if failed_write else '?'}), "
              f"{sum(left.values())} bytes left behind, published file unchanged, failed night in runs.jsonl "
              f"and sara status")
    finally:
        if mounted:
            subprocess.run(["umount", str(db.parent)], check=False, timeout=60)


