"""Big-city benchmark: a Chicago-sized warehouse (10M calls, 1M incidents), then three nights of one day each.

    .venv/bin/python bench/big_city.py                           # 10,000,000 calls + 1,000,000 incidents
    .venv/bin/python bench/big_city.py --calls 2000000 --incidents 200000
    .venv/bin/python bench/big_city.py --quick                   # CI smoke run: correctness only
    .venv/bin/python bench/big_city.py --calls 1000000 --incidents 100000 --no-compare --marts-at 500000

Every night runs the work of flows/nightly.py's steps through the same transforms calls the flow makes (not
the Prefect flow itself, so that each step has its own wall, CPU and peak RSS): `start_build` (copy of the
published file), `apply_schema` + `write_agency_areas`, `load_with_retries` of every file per source,
`normalize_pending` per source, `run_audits`, `marts.build_all`, then `CHECKPOINT` and `publish`. The run record
(meta.runs: started before the loads, finished after the marts, as the flow does, so that each night's CompStat
figures are kept and restated by the next nights' marts.restatements) is written but not timed; no report. Each night runs in its own spawned process (its peak RSS is its own).

Version history (sara issue 18): after each night, the rows and bytes of core.call_versions / core.incident_versions
beside core.calls / core.incidents (bytes: the distinct storage blocks of the table's segments, DuckDB's
pragma_storage_info, times the file's block size; a block shared with another table counts for both, so it is an
upper bound), and the wall and CPU seconds of versions.record (the history step inside normalize), timed by
wrapping it in the night's own process.

Target 4 (checkpoint after a big load): the history night is run twice, into two warehouses, once without a settle
and once with the flow's settle (transforms/warehouse/settle.py) before its publish; the three nights then run on both, so
the nights' checkpoint costs compare in the same run. The baseline is bench/ingest.py's bare DuckDB
`read_csv` of the history file.

Target 2 (marts that cost what changed): `--marts-at N` first runs the same history and nights at N calls (and
N / 10 incidents) in the same run, then prints the marts' wall and CPU of the steady night at both sizes and
their ratio. After the nights, every mart is built again from scratch (kept aggregates dropped) on a copy of
the last published night, and every mart table's digest must equal the incremental night's. Data: bench/ingest.py's generator (60 % of calls at a one-off address, so
that about 40 % are at an address with other calls at full size) and bench/incidents.py. See bench/README.md.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import incidents as bin_  # noqa: E402  (bench/incidents.py: the RMS generator)
import ingest as bi  # noqa: E402  (bench/ingest.py: the CAD generator, the project, stage helpers)
import nightly_delta as nd  # noqa: E402  (bench/nightly_delta.py: deltas, digests, spawned stages)

N_NIGHTS = 3
ONE_OFF = 0.6  # calls at an address of their own: with 10M calls about 40 % of calls are at repeat addresses
DAY = 86400
HIST_END = bi.T0 + bi.DAYS * DAY  # the first delta's day (2025-01-01)


# --- data ---------------------------------------------------------------------------------------------------


def write_incident_delta(path: Path, world: bi.World, seed: int, hist_rows: int, first_index: int, n_new: int,
                         n_upd: int, day: int) -> tuple[int, int]:
    """Day `day` after the history: n_new new incidents and n_upd re-deliveries of history incidents (rows of
    its first chunk with their status moved on). Returns (rows, rows with an unusable occurred time)."""
    new, bad = bin_.make_incidents(world, seed, first_index, n_new, HIST_END + day * DAY, 1)
    first, _ = bin_.make_incidents(world, seed, 0, min(bi.CHUNK, hist_rows), bi.T0, bi.DAYS, status_shift=1)
    ok = first.filter(pl.col("occurred").is_not_null())
    pick = np.sort(np.random.default_rng([seed, 13, day]).choice(ok.height, n_upd, replace=False))
    df = pl.concat([new, ok[pick]])
    path.parent.mkdir(parents=True, exist_ok=True)
    df.write_csv(path, float_precision=6)
    return df.height, bad


# --- one night, in a spawned process -----------------------------------------------------------------------


class Steps:
    """Wall, CPU and peak RSS (so far) of each step of a night, in order."""

    def __init__(self):
        self.rows: list[tuple[str, float, float, float]] = []
        self._t, self._c = time.perf_counter(), bi._cpu()

    def lap(self, name: str) -> None:
        t, c = time.perf_counter(), bi._cpu()
        self.rows.append((name, t - self._t, c - self._c, bi._peak_mb()))
        self._t, self._c = time.perf_counter(), bi._cpu()


def stage_night(project: str, published: str, files: list[tuple[str, str]], memory_limit: str | None,
                as_of: str, settle: bool = False) -> dict:
    """One night: the nightly flow's steps (module docstring), each timed; then the facts of the result."""
    from transforms.marts import build as marts
    from transforms.marts.units import static_units
    from transforms.warehouse import db as wh
    from transforms.warehouse import loader, runs
    from transforms.warehouse.audits import run_audits
    from transforms.warehouse.geo import write_agency_areas
    from transforms.warehouse.settle import settle as settle_after_load  # the flow's settle (target 4)

    settings = nd._settings(project)
    static_units(settings)  # config only (grid, H3 cover), cached per process: as the flow's worker has it
    pub, run_id = Path(published), f"bench-{as_of}"
    out: dict = {"status": [], "message": "", "versions_s": time_versions()}
    st = Steps()
    build = wh.start_build(pub)
    st.lap("copy published to build")
    con = wh.connect(build, memory_limit=memory_limit)
    wh.apply_schema(con)
    write_agency_areas(con, settings)
    runs.start_run(con, run_id, "nightly", datetime.now(UTC))  # the night being built: what restatements compare
    st.lap("schema and agency areas")
    for source in settings.sources:
        for src, path in files:
            if src == source:
                r = loader.load_with_retries(con, settings, source, Path(path), run_id)
                out["status"].append(r.status)
                out["message"] += r.message
        st.lap(f"load {source}")
        for o in loader.normalize_pending(con, settings, source, run_id):
            out["status"].append(o.status)
            out["message"] += o.message
        st.lap(f"normalize {source}")
    audits = run_audits(con, run_id)
    out["audit_errors"] = [a.name for a in audits if a.status == "fail" and a.severity == "error"]
    st.lap("audits")
    out["mart_steps"] = {}  # seconds per mart step, as build_all times them
    out["kept"] = {}  # what each step kept between nights did (rebuilt or updated, and how much)
    marts.build_all(con, settings, as_of=date.fromisoformat(as_of), timings=out["mart_steps"], details=out["kept"])
    st.lap("marts")
    out["marts"] = nd._mart_digests(con)
    out["restated"] = restated(con)
    finish_run(con, run_id)
    st._t, st._c = time.perf_counter(), bi._cpu()  # the digests are the benchmark's, not the night's
    if settle:
        out["settle_rounds"] = settle_after_load(con, [f"raw.{s}" for s in settings.sources]).rounds
        st.lap("settle after load (target 4)")
    con.execute("CHECKPOINT")
    con.close()
    st.lap("checkpoint")
    wh.publish(build, pub)
    st.lap("publish")
    out["steps"], out["rss_mb"], out["bytes"] = st.rows, bi._peak_mb(), pub.stat().st_size
    con = wh.connect(pub, read_only=True)
    out.update(facts(con))
    out["history"] = history_sizes(con)
    con.close()
    return out


def finish_run(con, run_id: str) -> None:
    """The run record's finish, as the flow's Night.finish writes it (transforms/warehouse/runs.py): the night's
    CompStat figures kept in meta.published_compstat get its publication time, so later nights restate them."""
    con.execute("UPDATE meta.runs SET finished_at = now(), status = 'ok' WHERE run_id = ?", [run_id])
    con.execute("UPDATE meta.published_compstat SET published_at = (SELECT finished_at FROM meta.runs "
                "WHERE run_id = $1) WHERE run_id = $1", [run_id])


def restated(con) -> tuple[int, int, int]:
    """Issue 18: marts.restatements rows, marts.restatement_records rows and distinct records, this night."""
    return con.execute("""SELECT (SELECT count(*) FROM marts.restatements), count(*),
                                 count(DISTINCT (dataset, source, record_id)) FROM marts.restatement_records""").fetchone()


def time_versions() -> list[float]:
    """Wrap versions.record (called by normalize) in this process so that it adds its wall and CPU seconds to the
    list returned: [wall, cpu]."""
    from transforms.warehouse import versions

    spent, record = [0.0, 0.0], versions.record

    def timed(*a, **kw):
        t, c = time.perf_counter(), bi._cpu()
        try:
            return record(*a, **kw)
        finally:
            spent[0] += time.perf_counter() - t
            spent[1] += bi._cpu() - c

    versions.record = timed
    return spent


def history_sizes(con) -> dict[str, tuple[int, int]]:
    """core table -> (rows, bytes): the history tables and the current ones (module docstring)."""
    block = con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0]
    out = {}
    for t in ("call_versions", "calls", "incident_versions", "incidents"):
        rows = con.execute(f"SELECT count(*) FROM core.{t}").fetchone()[0]
        blocks = con.execute(
            f"""SELECT count(DISTINCT b) FROM (
                  SELECT block_id AS b FROM pragma_storage_info('core.{t}') WHERE persistent AND block_id >= 0
                  UNION ALL SELECT unnest(additional_block_ids) FROM pragma_storage_info('core.{t}')
                  WHERE persistent)""").fetchone()[0]
        out[t] = (int(rows), int(blocks) * int(block))
    return out


def stage_rebuild(project: str, db: str, files: list[tuple[str, str]], memory_limit: str | None) -> dict:
    """Every file of every night into a fresh warehouse (load + normalize only): what incremental must equal."""
    from transforms.warehouse import db as wh
    from transforms.warehouse import loader

    settings = nd._settings(project)
    con = wh.connect(db, memory_limit=memory_limit)
    wh.apply_schema(con)
    for source in settings.sources:
        for src, path in files:
            if src == source:
                loader.load_with_retries(con, settings, source, Path(path), "rebuild")
        loader.normalize_pending(con, settings, source, "rebuild")
    out = facts(con)
    con.close()
    return out


def stage_marts_rebuild(project: str, published: str, memory_limit: str | None, as_of: str) -> dict:
    """Every mart from scratch (marts dropped, the kept aggregates too) on a copy of the published night: the
    digests incremental marts must equal, and the seconds of that full build."""
    from transforms.marts import build as marts
    from transforms.warehouse import db as wh

    settings = nd._settings(project)
    copy = Path(published).with_name("marts_rebuild.duckdb")
    shutil.copyfile(published, copy)
    con = wh.connect(copy, memory_limit=memory_limit)
    try:
        con.execute("DROP SCHEMA marts CASCADE")
        # the last night as it was while its marts were built: not finished, so restatements leave it out
        con.execute("UPDATE meta.runs SET finished_at = NULL WHERE finished_at = (SELECT max(finished_at) "
                    "FROM meta.runs)")
        t, c = time.perf_counter(), bi._cpu()
        marts.build_all(con, settings, as_of=date.fromisoformat(as_of))
        out = {"wall": time.perf_counter() - t, "cpu": bi._cpu() - c, "marts": nd._mart_digests(con)}
    finally:
        con.close()
        copy.unlink()
    return out


def facts(con) -> dict:
    """Per source: meta.loads sums; core.calls and core.incidents counts and checksums; repeat-address share."""
    out = {"loads": con.execute(
        """SELECT source, count(*), sum(rows_read), sum(rows_loaded), sum(rows_duplicate), sum(rows_quarantined),
                  string_agg(DISTINCT status, ',') FROM meta.loads GROUP BY source ORDER BY source""").fetchall()}
    from transforms.warehouse.sqlutil import qident

    for t in ("calls", "incidents"):
        n, h = con.execute(f"SELECT count(*), sum(hash(c)::HUGEINT) FROM core.{qident(t)} c").fetchone()
        out[t] = (int(n), int(h or 0))
    out["quarantine"] = dict(con.execute("SELECT source, count(*) FROM core.quarantine GROUP BY 1").fetchall())
    out["repeat_share"] = con.execute(
        """SELECT sum(n) FILTER (WHERE n > 1) / sum(n) FROM
           (SELECT count(*) n FROM core.calls WHERE address IS NOT NULL GROUP BY address)""").fetchone()[0]
    return out


# --- main ---------------------------------------------------------------------------------------------------


def steps_line(night: dict) -> str:
    """A night's steps in one line (wall / CPU seconds), printed as it ends: a run cut short keeps its figures."""
    return ", ".join(f"{n} {w:.1f}/{c:.1f}" for n, w, c, _ in night["steps"]) + f"; peak {night['rss_mb']:,.0f} MB"


def generate(root: Path, world: bi.World, calls: int, incs: int, seed: int, n_nights: int = N_NIGHTS) -> dict:
    """The history and the three days of each source, with the extract times (mtimes) a night would see."""
    x = root / "extracts"
    d: dict = {"calls": calls, "incs": incs, "days": []}
    hist_c, hist_i = x / bi.SOURCE / "history.csv", x / bin_.SOURCE / "history.csv"
    d["q_calls"] = bi.write_extract(hist_c, world, calls, seed)
    d["q_incs"] = bin_.write_incidents(hist_i, world, seed, incs, bi.T0, bi.DAYS)
    for p in (hist_c, hist_i):
        nd.set_extract_time(p, HIST_END + 12 * 3600)
    d["hist_bytes"] = hist_c.stat().st_size
    d["history"] = [(bi.SOURCE, str(hist_c)), (bin_.SOURCE, str(hist_i))]
    n_new_c, n_new_i = max(1, round(calls / bi.DAYS)), max(1, round(incs / bi.DAYS))
    d["n_upd_c"], d["n_upd_i"] = max(1, round(0.01 * n_new_c)), max(1, round(0.01 * n_new_i))
    d["n_new_c"], d["n_new_i"] = n_new_c, n_new_i
    for i in range(n_nights):
        pc, pi = x / bi.SOURCE / f"day{i + 1}.csv", x / bin_.SOURCE / f"day{i + 1}.csv"
        _, qc = nd.write_delta(pc, world, seed, calls, calls + i * n_new_c, n_new_c, d["n_upd_c"], day=i)
        _, qi = write_incident_delta(pi, world, seed, incs, incs + i * n_new_i, n_new_i, d["n_upd_i"], day=i)
        for p in (pc, pi):
            nd.set_extract_time(p, HIST_END + (i + 1) * DAY + 12 * 3600)
        d["days"].append({"files": [(bi.SOURCE, str(pc)), (bin_.SOURCE, str(pi))], "q_calls": qc, "q_incs": qi})
    return d


def run_nights(root: Path, d: dict, pub: Path, mem: str | None, settle: bool, label: str) -> list[dict]:
    """The history night and the nights of `d` into the warehouse `pub`, each printed as it ends."""
    hist_as_of = (date(2023, 1, 1) + timedelta(days=bi.DAYS - 1)).isoformat()
    t = time.perf_counter()
    nights = [bi.run_child(stage_night, str(root), str(pub), d["history"], mem, hist_as_of, settle)]
    print(f"[{label}] first night (history) {time.perf_counter() - t:.1f} s: {steps_line(nights[0])}", flush=True)
    for i, day in enumerate(d["days"]):
        t = time.perf_counter()
        nights.append(bi.run_child(stage_night, str(root), str(pub), day["files"], mem, last_as_of(i)))
        print(f"[{label}] night {i + 1} {time.perf_counter() - t:.1f} s: {steps_line(nights[-1])}", flush=True)
    return nights


def last_as_of(i: int) -> str:
    """The as_of of night i + 1 (0-based i): the day of its delta."""
    return (date(2023, 1, 1) + timedelta(days=bi.DAYS + i)).isoformat()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, help="calls of history (default 10,000,000; 50,000 with --quick)")
    ap.add_argument("--incidents", type=int, help="incidents of history (default 1,000,000; 20,000 with --quick)")
    ap.add_argument("--quick", action="store_true", help="CI smoke run: judge correctness, report the targets")
    ap.add_argument("--no-compare", action="store_true",
                    help="target 4: run the nights on the settled warehouse only (half the nights)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary project folder")
    ap.add_argument("--strict", action="store_true", help="exit 1 on FAIL")
    ap.add_argument("--memory-limit", default="4GB",
                    help="DuckDB memory_limit of every night (default 4GB; 'none': DuckDB's default)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--nights", type=int, default=N_NIGHTS, help=f"nights after the history (default {N_NIGHTS})")
    ap.add_argument("--marts-at", type=int, metavar="N",
                    help="target 2: first run the history and nights at N calls (N / 10 incidents) and compare "
                         "the steady night's marts with this run's")
    args = ap.parse_args(argv)
    calls = args.calls or (50_000 if args.quick else 10_000_000)
    incs = args.incidents or (20_000 if args.quick else 1_000_000)
    mem = args.memory_limit if args.memory_limit.lower() not in ("", "none", "default") else None
    root = Path(tempfile.mkdtemp(prefix="sara-bench-city-"))
    r: dict = {"mem": mem, "load0": nd._load(), "start": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    variants = ("settled",) if args.no_compare else ("as is", "settled")
    try:
        t = time.perf_counter()
        world = bi.World(args.seed, one_off=ONE_OFF)
        nd.write_project(root)
        bin_.write_source(root)
        d = generate(root, world, calls, incs, args.seed, args.nights)
        print(f"generated {calls:,} calls + {incs:,} incidents, {len(d['days'])} days of "
              f"{d['n_new_c'] + d['n_upd_c']:,} + {d['n_new_i'] + d['n_upd_i']:,} rows in "
              f"{time.perf_counter() - t:.1f} s (load average {r['load0']})", flush=True)
        r["baseline"] = bi.run_child(bi.stage_baseline, d["history"][0][1], str(root / "baseline.duckdb"), mem)
        (root / "baseline.duckdb").unlink()
        print(f"baseline read_csv {r['baseline']['wall']:.1f} s", flush=True)
        if args.marts_at:
            small = root / "small"
            small.mkdir()
            nd.write_project(small)
            bin_.write_source(small)
            ds = generate(small, world, args.marts_at, max(1, args.marts_at // 10), args.seed, args.nights)
            pub = small / "warehouse" / "sara.duckdb"
            r["small"] = {"calls": ds["calls"], "incs": ds["incs"],
                          "nights": run_nights(small, ds, pub, mem, True, f"{ds['calls']:,} calls")}
            shutil.rmtree(small, ignore_errors=True)
        r["nights"] = {}
        for v in variants:
            pub = root / "warehouse" / v.replace(" ", "_") / "sara.duckdb"
            r["nights"][v] = run_nights(root, d, pub, mem, v == "settled", v)
        t = time.perf_counter()
        r["marts_rebuild"] = bi.run_child(stage_marts_rebuild, str(root), str(pub), mem, last_as_of(len(d["days"]) - 1))
        print(f"marts from scratch on the last night {time.perf_counter() - t:.1f} s", flush=True)
        everything = d["history"] + [f for day in d["days"] for f in day["files"]]
        t = time.perf_counter()
        r["rebuild"] = bi.run_child(stage_rebuild, str(root), str(root / "rebuild.duckdb"), everything, mem)
        print(f"rebuild (load + normalize of every file) {time.perf_counter() - t:.1f} s", flush=True)
        r["load1"] = nd._load()
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    from big_city_report import report  # noqa: PLC0415  (bench/big_city_report.py, beside this file)

    passed = report(d, r, args)
    return 0 if passed or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
