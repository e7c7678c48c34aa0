"""Scale-out costs, in parts: the fixed costs of `sara run --executor dask` on a project of many demo agencies.

    .venv/bin/python bench/scaleout_costs.py                  # 20 agencies (10 demo cities), scale 1.0, 2 workers
    .venv/bin/python bench/scaleout_costs.py --agencies 20 --scale 0.25
    .venv/bin/python bench/scaleout_costs.py --quick          # CI smoke run: 2 agencies at scale 0.05

The project: the demo city (transforms/demo: a police department with a CAD and an RMS feed, a sheriff with a
CAD feed) generated agencies/2 times with different seeds (a delivered file's bytes must differ, or the loader
skips it as already loaded under another name), each copy with its own agencies (`metro_NN`, `county_NN`),
sources (`demo_metro_calls_NN`, ...) and layers. Two copies of the project take the same deliveries: night 1
(two years of history) and night 2 (a day's delta). Each night runs once as `sara run` (one process) and once
as `sara run --executor dask` on a LocalCluster, every run a subprocess talking to one `prefect server start`.

Measured, each on its own:
- single process: each night's wall, and its steps as the flow logs them (load and normalize per source, marts);
- cluster start: the flow's own `DaskCluster` (LocalCluster of --workers processes) as the flow logs it;
- scratch copy per source: what a worker does before loading: a scratch DuckDB file with the schema, the
  published file attached, meta.loads and the source's core rows copied in (transforms/warehouse/parts.py's
  `scratch` and `copy_into`), timed here on the published file after night 1, for every source;
- parts write: the Parquet parts of one source's rows (its raw, core and quarantine rows of night 1, as the
  history night's worker writes them), timed here with the same `write_part`;
- merge: the writer's merge of each source's parts and of the marts' parts, as the flow logs them;
- the marts workers' copy-in and parts write (their seconds less their mart steps), as the flow logs them.
Correctness: after each night both warehouses hold the same core and mart tables (bench/scaleout.py's checksums).

The estimate for a 50-agency centre is in bench/RESULTS_demo_and_scaleout.md, from these figures.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scaleout as bso  # noqa: E402  (bench/scaleout.py: the prefect server, the table checksums)

ROOT = Path(__file__).resolve().parents[1]
SARA = [sys.executable, "-m", "flows.cli"]
CONFIG = "config/scale.toml"
WAREHOUSE = Path("data/warehouse/sara.duckdb")
KINDS = {"demo_metro_calls": "metro", "demo_metro_incidents": "metro", "demo_county_calls": "county"}
TIMINGS = re.compile(r"(scale-out [^:]+|mart step|step) timings: (.*)$")
ITEM = re.compile(r"([^,]+?) (\d+(?:\.\d+)?)s(?:,|$)")


# --- the project ------------------------------------------------------------------------------------------


def write_project(proj: Path, cities: int, scale: float, seed: int) -> None:
    """config/scale.toml, a copy of the demo's sources per city, and the cities' extracts under data/city_NN/."""
    from transforms.demo import generate_demo_city

    shutil.copytree(ROOT / "config" / "crosswalks", proj / "config" / "crosswalks")
    (proj / "config" / "sources").mkdir(parents=True)
    (proj / "config" / "problems").mkdir()
    shutil.copy(ROOT / "pyproject.toml", proj / "pyproject.toml")
    demo = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    head = demo[:demo.index("[warehouse]")]
    analysis = demo[demo.index("[analysis]"):demo.index("[schedules.nightly]")]
    metro = demo[demo.index("[agencies.metro]"):demo.index("[agencies.county]")]
    county = demo[demo.index("[agencies.county]"):demo.index("[analysis]")]
    sources, agencies = [], []
    for k in range(1, cities + 1):
        tag = f"{k:02d}"
        generate_demo_city(proj / "data" / f"city_{tag}", seed=seed + k, scale=scale)
        for src, agency in KINDS.items():
            text = (ROOT / "config" / "sources" / f"{src}.yaml").read_text(encoding="utf-8")
            text = (text.replace(f"name: {src}\n", f"name: {src}_{tag}\n")
                    .replace(f"agency: {agency}\n", f"agency: {agency}_{tag}\n")
                    .replace("data/demo/layers/", f"data/city_{tag}/layers/"))
            (proj / "config" / "sources" / f"{src}_{tag}.yaml").write_text(text, encoding="utf-8")
            sources.append(f"{src}_{tag}")
        for block, agency in ((metro, "metro"), (county, "county")):
            agencies.append(block.replace(f"[agencies.{agency}]", f"[agencies.{agency}_{tag}]")
                            .replace("data/demo/layers/", f"data/city_{tag}/layers/")
                            .replace('name = "Riverton', f'name = "Riverton {tag}'))
    head = re.sub(r"(?m)^sources = .*$", "sources = [" + ", ".join(f'"{s}"' for s in sources) + "]", head)
    head = re.sub(r"(?m)^profile = .*$", 'profile = "scale"', head)
    head = re.sub(r"(?m)^problems_dir = .*$", 'problems_dir = "config/problems"', head)
    toml = (head + '[warehouse]\npath = "data/warehouse/sara.duckdb"\nlanding_dir = "data/landing"\n\n'
            + demo[demo.index("[time]"):demo.index("[agencies.metro]")] + "".join(agencies) + analysis)
    (proj / "config" / "scale.toml").write_text(toml, encoding="utf-8")


def deliver(proj: Path, cities: int, night: int) -> None:
    for k in range(1, cities + 1):
        tag = f"{k:02d}"
        for src_dir in sorted((proj / "data" / f"city_{tag}" / "extracts" / f"night_{night:02d}").iterdir()):
            dst = proj / "data" / "landing" / f"{src_dir.name}_{tag}"
            dst.mkdir(parents=True, exist_ok=True)
            for f in sorted(src_dir.iterdir()):
                shutil.copy2(f, dst / f.name)


# --- the runs ---------------------------------------------------------------------------------------------


def run_night(proj: Path, env: dict, extra: list[str]) -> dict:
    """One `sara run --verbose` subprocess: wall, exit code, and every timings line it logged."""
    t = time.perf_counter()
    r = subprocess.run([*SARA, "run", "--config", CONFIG, "--verbose", *extra], cwd=proj, env=env,
                       capture_output=True, text=True)
    wall = time.perf_counter() - t
    logged: dict[str, dict[str, float]] = {}
    for line in (r.stdout + r.stderr).splitlines():
        if m := TIMINGS.search(line):
            d = logged.setdefault(m.group(1), {})
            for k, v in ITEM.findall(m.group(2)):
                d[k.strip()] = d.get(k.strip(), 0.0) + float(v)
    if r.returncode not in (0, 3):
        print(r.stdout[-3000:], r.stderr[-3000:])
    return {"wall": wall, "rc": r.returncode, "logged": logged}


def scratch_copies(proj: Path, sources: list[str], out: Path) -> dict[str, dict[str, float]]:
    """Per source, on the published file: the worker's scratch copy, and the parts write of its rows."""
    from transforms.config import load_settings
    from transforms.warehouse import db as wh
    from transforms.warehouse.parts import copy_into, scratch, write_part
    from transforms.warehouse.sqlutil import qident, qstr

    settings = load_settings(proj / CONFIG, project_dir=proj)
    pub = proj / WAREHOUSE
    res = {}
    for s in sources:
        core = "core.incidents" if "incidents" in s else "core.calls"
        path = out / f"scratch-{s}.duckdb"
        t0 = time.perf_counter()
        con = scratch(path, settings)
        t1 = time.perf_counter()
        con.execute(f"ATTACH {qstr(str(pub))} AS pub (READ_ONLY)")
        copy_into(con, "pub", "meta.loads")
        copy_into(con, "pub", core, "source = ?", [s])
        if core == "core.incidents":
            copy_into(con, "pub", "core.offenses", "source = ?", [s])
        t2 = time.perf_counter()
        rows = 0
        for table, where in ((f"pub.raw.{qident(s)}", "true"), (f"pub.{core}", "source = ?"),
                             ("pub.core.quarantine", "load_id IN (SELECT load_id FROM pub.meta.loads WHERE "
                                                     "source = ?)")):
            params = [] if where == "true" else [s]
            rows += write_part(con, f"SELECT * FROM {table} WHERE {where}", out / s / f"{table}.parquet", params)
        t3 = time.perf_counter()
        con.close()
        wh.discard_build(path)
        shutil.rmtree(out / s, ignore_errors=True)
        res[s] = {"schema": t1 - t0, "copy": t2 - t1, "parts write": t3 - t2, "parts rows": rows}
    return res


# --- main -------------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agencies", type=int, default=20, help="agencies (even: two per demo city; default 20)")
    ap.add_argument("--scale", type=float, default=1.0, help="demo volume per city (default 1.0, the demo's)")
    ap.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes (default 2)")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: 2 agencies at scale 0.05")
    ap.add_argument("--keep", action="store_true", help="keep the temporary projects")
    ap.add_argument("--strict", action="store_true", help="exit 1 on FAIL")
    ap.add_argument("--seed", type=int, default=20261121)
    a = ap.parse_args(argv)
    if a.quick:
        a.agencies, a.scale = 2, 0.05
    cities = max(1, a.agencies // 2)
    work = Path(tempfile.mkdtemp(prefix="sara-bench-costs-"))
    srv = None
    load0 = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    nights: dict[int, dict[str, dict]] = {}
    try:
        local = work / "local"
        t = time.perf_counter()
        write_project(local, cities, a.scale, a.seed)
        print(f"generated {cities} demo cities ({2 * cities} agencies, {3 * cities} sources) at scale {a.scale} in "
              f"{time.perf_counter() - t:.1f} s; load average {load0}, {os.cpu_count()} cores", flush=True)
        dask = work / "dask"
        shutil.copytree(local, dask)
        (work / "prefect").mkdir()
        srv, env = bso._server(work / "prefect")
        agree = True
        copies: dict = {}
        for night in (1, 2):
            nights[night] = {}
            for mode, proj in (("local", local), ("dask", dask)):
                deliver(proj, cities, night)
                extra = ["--executor", "dask", "--dask-workers", str(a.workers)] if mode == "dask" else []
                r = run_night(proj, env, extra)
                nights[night][mode] = r
                print(f"night {night} {mode}: {r['wall']:.1f} s, exit {r['rc']}; "  # a run cut short keeps these
                      + "; ".join(f"{k}: " + ", ".join(f"{n} {v:.2f}" for n, v in d.items())
                                  for k, d in r["logged"].items() if k != "mart step"), flush=True)
                if r["rc"] not in (0, 3):
                    raise SystemExit(f"{mode} night {night} failed with exit {r['rc']}")
            same = bso._checksums(local / WAREHOUSE) == bso._checksums(dask / WAREHOUSE)
            agree &= same
            print(f"night {night}: the two runners publish the same tables: {'yes' if same else 'NO'}", flush=True)
            if night == 1:
                sources = [f"{s}_{k:02d}" for k in range(1, cities + 1) for s in KINDS]
                copies = scratch_copies(local, sources, work / "scratch")
        load1 = " / ".join(f"{x:.2f}" for x in os.getloadavg())
    finally:
        bso.finish(srv, work, a.keep)
    report(nights, copies, cities, a, load0, load1)
    verdict = "PASS" if agree else "FAIL"
    print(f"{verdict}: the two runners publish the same {', '.join(bso.COMPARED)} after nights 1 and 2")
    return 1 if (a.strict and not agree) else 0


def _sum(d: dict[str, float], prefix: str) -> float:
    return sum(v for k, v in d.items() if k.startswith(prefix))


def report(nights: dict, copies: dict, cities: int, a, load0: str, load1: str) -> None:
    agencies, n_src = 2 * cities, 3 * cities
    print(f"\n{agencies} agencies, {n_src} sources, scale {a.scale}, {a.workers} Dask workers; "
          f"load average {load0} -> {load1}")
    print(f"\n{'':<44} {'night 1 (history)':>18} {'night 2 (delta)':>16}")
    rows: list[tuple[str, list[float]]] = []
    for night in (1, 2):
        lo, da = nights[night]["local"], nights[night]["dask"]
        ls, ds = lo["logged"].get("step", {}), da["logged"].get("step", {})
        ing = da["logged"].get("scale-out ingest", {})
        mar = da["logged"].get("scale-out marts", {})
        merges = sum(v.get("merge", 0.0) for k, v in da["logged"].items() if k.startswith("scale-out merge "))
        vals = {
            "local: whole `sara run` (process wall)": lo["wall"],
            "local: load + normalize, all sources": _sum(ls, "load ") + _sum(ls, "normalize "),
            "local: marts": ls.get("marts", 0.0),
            "local: copy, schema, audits, publish, report": sum(ls.get(k, 0.0) for k in (
                "copy published to build", "schema and agency areas", "audits", "publish", "report")),
            "dask: whole `sara run` (process wall)": da["wall"],
            "dask: cluster start": ing.get("cluster_start", 0.0),
            "dask: ingest fan-out (wall)": ing.get("fan_out", 0.0),
            "dask: ingest workers, sum of their seconds": _sum(ing, "worker "),
            "dask: merge of the ingest parts (all sources)": merges,
            "dask: marts prepare + hand-over": mar.get("prepare", 0.0) + mar.get("hand_over", 0.0),
            "dask: marts fan-out (wall)": mar.get("fan_out", 0.0),
            "dask: marts workers, mart steps (sum)": _sum(mar, "marts "),
            "dask: marts workers, copy-in + parts (sum)": _sum(mar, "copy and parts "),
            "dask: merge of the marts parts": mar.get("merge", 0.0),
            "dask: copy, schema, audits, publish, report": sum(ds.get(k, 0.0) for k in (
                "copy published to build", "schema and agency areas", "audits", "publish", "report")),
        }
        for i, (k, v) in enumerate(vals.items()):
            if night == 1:
                rows.append((k, [v]))
            else:
                rows[i][1].append(v)
    for k, v in rows:
        print(f"{k:<44} {v[0]:>18.2f} {v[1]:>16.2f}")
    if copies:
        cp = [c["copy"] + c["schema"] for c in copies.values()]
        pw = [c["parts write"] for c in copies.values()]
        print(f"\nper source, on night 1's published file ({len(copies)} sources): scratch (schema + copy-in) "
              f"median {statistics.median(cp):.2f} s, max {max(cp):.2f} s, sum {sum(cp):.2f} s; parts write of its "
              f"night-1 rows median {statistics.median(pw):.2f} s, sum {sum(pw):.2f} s "
              f"({sum(c['parts rows'] for c in copies.values()):,} rows)")
        by_kind: dict[str, list[float]] = {}
        for s, c in copies.items():
            by_kind.setdefault(s.rsplit("_", 1)[0], []).append(c["copy"] + c["schema"])
        print("  scratch copy by kind of source (median s): "
              + ", ".join(f"{k} {statistics.median(v):.2f}" for k, v in by_kind.items()))


if __name__ == "__main__":
    sys.exit(main())
