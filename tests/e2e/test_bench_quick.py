"""Every benchmark of bench/ runs in CI at its small size (`--quick`): a benchmark that no longer runs, or whose
correctness checks fail, fails here. The speed targets themselves are judged only in full runs by hand
(bench/RESULTS.md): these machines are shared, so no figure is asserted.

bench/scaleout.py is left out: its quick run takes about two minutes of Dask start-up, and
tests/e2e/test_dask.py already runs both runners on the same nights and compares every table."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.support.project import PROJECT, need_shared

pytestmark = pytest.mark.slow

QUICK = {
    "ingest.py": ["--quick"],
    "gi_star.py": ["--quick"],
    "ehsa.py": ["--quick"],
    "nightly_delta.py": ["--quick"],
    "knox.py": ["--quick"],  # reads ../shared/data
    "gi_star_permutations.py": ["--quick", "--strict"],
    "big_city.py": ["--quick", "--strict"],
    "geocode.py": ["--quick", "--strict"],  # reads ../shared/data when present (skips those parts otherwise)
    "demo_time.py": ["--quick", "--strict"],  # one `sara demo` of two nights at scale 0.05
    "scaleout_costs.py": ["--quick", "--strict"],  # 2 agencies, nights 1-2, each local and on a 2-worker cluster
    "response_months.py": ["--quick"],  # 20,000 calls: kept months == every month computed again
    "local_time.py": ["--quick"],  # 50,000 instants: the day table's local times == ICU's
}


@pytest.mark.parametrize("script", sorted(QUICK))
def test_benchmark_runs_at_its_small_size(script, tmp_path):
    if script == "knox.py":
        need_shared()
    env = {**os.environ, "TMPDIR": str(tmp_path)}
    res = subprocess.run([sys.executable, str(PROJECT / "bench" / script), *QUICK[script]], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=900)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-4000:]
    # a quick run judges correctness (PASS/FAIL lines); its speed targets are printed as info
    assert not [line for line in res.stdout.splitlines() if line.startswith("FAIL")], out[-4000:]


def test_every_benchmark_is_run_here_or_said_why():
    scripts = {p.name for p in (PROJECT / "bench").glob("*.py")}
    helpers = {"nightly_delta_report.py", "big_city_report.py", "incidents.py",  # modules of another script
               "checksums.py", "scaleout.py"}  # a tool; see the docstring
    assert scripts - helpers == set(QUICK), "add the new benchmark's --quick run to QUICK"
