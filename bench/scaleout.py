"""Scale-out benchmark: the same demo nights through `sara run` (one process) and `sara run --executor dask`.

    .venv/bin/python bench/scaleout.py                  # demo scale 1.0, nights 1-3, 2 Dask workers
    .venv/bin/python bench/scaleout.py --scale 0.3 --workers 4
    .venv/bin/python bench/scaleout.py --quick          # scale 0.05, night 1: a smoke run

Two copies of one generated demo project (2 agencies, 3 sources) take the same deliveries; each night runs
once with the default runner and once on a LocalCluster. Both talk to one `prefect server start` on loopback
that the script starts, so neither pays for a temporary API server. Reported per night: wall seconds of each
`sara run` process, the ratio dask / local, and whether the two published warehouses hold the same
core.calls, core.incidents and marts.hotspot_stats (row count and content checksum).

There is no target: the ratio says what the fan-out costs or saves on this machine. See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SARA = [sys.executable, "-m", "flows.cli"]
CONFIG = "config/demo.toml"
WAREHOUSE = Path("data/demo/warehouse/sara.duckdb")
COMPARED = ("core.calls", "core.incidents", "core.offenses", "marts.hotspot_stats", "marts.repeat_location_rows")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server(home: Path) -> tuple[subprocess.Popen, dict]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_UI_ENABLED="false", COLUMNS="200")
    port = _free_port()
    log = open(home / "server.log", "w")
    srv = subprocess.Popen([sys.executable, "-m", "prefect", "server", "start", "--host", "127.0.0.1", "--port",
                            str(port)], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/api"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/health", timeout=2) as r:
                if r.status == 200:
                    env["PREFECT_API_URL"] = url
                    return srv, env
        except OSError:
            time.sleep(0.5)
    os.killpg(srv.pid, signal.SIGKILL)
    raise SystemExit(f"prefect server did not start; see {home / 'server.log'}")


def _deliver(proj: Path, night: int) -> None:
    from transforms.demo import deliver_night

    deliver_night(proj / "data/demo", night)


def _checksums(db: Path) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for table in COMPARED:
            schema, name = table.split(".")
            cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                               "table_name = ? ORDER BY column_name", [schema, name]).fetchall()
            exprs = [f'round("{c}", 6)' if t == "DOUBLE" else f'"{c}"' for c, t in cols]
            out[table] = con.execute(f"SELECT count(*), sum(hash({', '.join(exprs)}))::VARCHAR FROM {table}"
                                     ).fetchone()
        return out
    finally:
        con.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0, help="demo volume multiplier (1.0: ~160k events)")
    ap.add_argument("--nights", type=int, default=3, help="nights 1..N (night 1 holds two years of history)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    ap.add_argument("--quick", action="store_true", help="scale 0.05, one night")
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects and print their path")
    ap.add_argument("--strict", action="store_true", help="exit 1 when the two runners disagree")
    a = ap.parse_args(argv)
    if a.quick:
        a.scale, a.nights = 0.05, 1
    sys.path.insert(0, str(ROOT))
    from transforms.demo import generate_demo_city

    work = Path(tempfile.mkdtemp(prefix="sara-bench-scaleout-"))
    srv = None
    try:
        local = work / "local"
        local.mkdir()
        shutil.copytree(ROOT / "config", local / "config")
        shutil.copy(ROOT / "pyproject.toml", local / "pyproject.toml")
        t = time.perf_counter()
        generate_demo_city(local / "data/demo", scale=a.scale)
        print(f"generated the demo at scale {a.scale} in {time.perf_counter() - t:.1f} s")
        dask = work / "dask"
        shutil.copytree(local, dask)
        home = work / "prefect"
        home.mkdir()
        srv, env = _server(home)
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; workers {a.workers}")
        print(f"{'night':>5} {'local s':>9} {'dask s':>9} {'dask/local':>10}  same tables")
        rows, agree = [], True
        for night in range(1, a.nights + 1):
            secs = {}
            for mode, proj in (("local", local), ("dask", dask)):
                _deliver(proj, night)
                extra = ["--executor", "dask", "--dask-workers", str(a.workers)] if mode == "dask" else []
                t = time.perf_counter()
                r = subprocess.run([*SARA, "run", "--config", CONFIG, *extra], cwd=proj, env=env,
                                   capture_output=True, text=True)
                secs[mode] = time.perf_counter() - t
                if r.returncode not in (0, 3):
                    print(r.stdout[-2000:], r.stderr[-2000:])
                    raise SystemExit(f"{mode} night {night} failed with exit {r.returncode}")
            same = _checksums(local / WAREHOUSE) == _checksums(dask / WAREHOUSE)
            agree &= same
            rows.append((night, secs["local"], secs["dask"]))
            print(f"{night:>5} {secs['local']:>9.1f} {secs['dask']:>9.1f} {secs['dask'] / secs['local']:>10.2f}  "
                  f"{'yes' if same else 'NO'}")
        tl, td = sum(r[1] for r in rows), sum(r[2] for r in rows)
        print(f"{'all':>5} {tl:>9.1f} {td:>9.1f} {td / tl:>10.2f}")
        print(f"{'PASS' if agree else 'FAIL'}: the two runners publish the same {', '.join(COMPARED)}")
        return 1 if (a.strict and not agree) else 0
    finally:
        finish(srv, work, a.keep)


def finish(srv, work, keep: bool) -> None:
    """After a run: stop the Prefect API process group (srv, or None) and remove the work folder unless kept."""
    if srv is not None:
        os.killpg(srv.pid, signal.SIGKILL)
        srv.wait(timeout=30)
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
