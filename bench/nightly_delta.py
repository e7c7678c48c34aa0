"""Nightly delta benchmark: one day of new calls against a warehouse of N calls, against a full rebuild.

    .venv/bin/python bench/nightly_delta.py                    # 10,000,000 calls of history (~15 minutes)
    .venv/bin/python bench/nightly_delta.py --rows 1000000     # 1,000,000 calls of history
    .venv/bin/python bench/nightly_delta.py --quick            # CI smoke run: correctness only

The synthetic extract, the project and its config come from bench/ingest.py (imported, not copied). Every
night and the rebuild run in their own spawned process, so each one's peak RSS is its own.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent))
import ingest as bi  # noqa: E402  (bench/ingest.py: generator, project, stage helpers)
from nightly_delta_report import (  # noqa: E402  (bench/nightly_delta_report.py, beside this file)
    DAY,
    DELTA_DAY,
    FIRST_DAY,
    HIST_END,
    LAST_DAY,
    N_NIGHTS,
    NEXT_DISPOSITION,
    UPDATE_SHARE,
    report,
)

# --- data ---------------------------------------------------------------------------------------------------


@contextmanager
def generator_span(t0: int, days: int):
    """Let bench/ingest.py's make_chunk draw received times over `days` days from `t0` (module globals)."""
    old = bi.T0, bi.DAYS
    bi.T0, bi.DAYS = t0, days
    try:
        yield
    finally:
        bi.T0, bi.DAYS = old


def write_span(path: Path, world: bi.World, seed: int, rows: int, t0: int, days: int,
               first_index: int) -> int:
    """Like bi.write_extract, over another span of days, call numbers from first_index (so they stay unique
    beside another extract). Returns the number of rows with an unusable received time."""
    path.parent.mkdir(parents=True, exist_ok=True)
    bad = 0
    with generator_span(t0, days), open(path, "wb") as fh:
        for start in range(0, rows, bi.CHUNK):
            df, b = bi.make_chunk(world, seed, first_index + start, min(bi.CHUNK, rows - start))
            df.write_csv(fh, include_header=start == 0, float_precision=6)
            bad += b
    return bad


def write_delta(path: Path, world: bi.World, seed: int, hist_rows: int, first_index: int, n_new: int,
                n_upd: int, day: int = 0) -> tuple[int, int]:
    """The calls of day `day` after the history (0 = the next day): n_new new calls (call numbers from
    first_index) and n_upd re-deliveries of existing calls (valid rows of the history's first chunk with the
    next disposition code). Returns (rows written, rows with an unusable received time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with generator_span(HIST_END + day * DAY, 1):
        new, bad = bi.make_chunk(world, seed, first_index, n_new)
    parts = [new]
    if n_upd:
        first, _ = bi.make_chunk(world, seed, 0, min(bi.CHUNK, hist_rows))  # as bi.write_extract wrote it
        ok = first.filter(pl.col("received").str.strptime(pl.Datetime, bi.TS_FMT, strict=False).is_not_null())
        pick = np.sort(np.random.default_rng([seed, 7, day]).choice(ok.height, n_upd, replace=False))
        parts.append(ok[pick].with_columns(pl.col("disposition").replace(NEXT_DISPOSITION)))
    df = pl.concat(parts)
    df.write_csv(path, float_precision=6)
    return df.height, bad


def write_project(root: Path) -> None:
    """bench/ingest.py's project, with this benchmark's extract folders (extracts/, marts/) added to its
    allowed_roots: a loader refuses any file outside the landing folder and the allowed roots."""
    bi.write_project(root)
    toml = root / "config" / "sara.toml"
    toml.write_text(toml.read_text().replace('allowed_roots = ["landing"]',
                                             'allowed_roots = ["landing", "extracts", "marts"]', 1))


def set_extract_time(path: Path, epoch: int) -> None:
    """The bench source has no extract_at: a file's mtime is its extract time (it orders versions)."""
    os.utime(path, (epoch, epoch))


# --- stages, each run in a fresh spawned process -----------------------------------------------------------


def _settings(project: str):
    from transforms.config import load_settings

    root = Path(project)
    return load_settings(root / "config" / "sara.toml", root)


def _connect(db: Path | str, memory_limit: str | None):
    from transforms.warehouse import db as wh

    con = wh.connect(db, memory_limit=memory_limit)
    wh.apply_schema(con)
    return con


def _ingest(con, settings, csvs: list[str]) -> dict:
    """load_raw_file of every file, then normalize_pending: the ingest + normalize of a night or a rebuild."""
    from transforms.warehouse import loader

    t0, c0 = time.perf_counter(), bi._cpu()
    raws = [loader.load_raw_file(con, settings, bi.SOURCE, Path(p), "bench") for p in csvs]
    t1, c1 = time.perf_counter(), bi._cpu()
    outs = loader.normalize_pending(con, settings, bi.SOURCE, "bench")
    t2, c2 = time.perf_counter(), bi._cpu()
    return {"wall": t2 - t0, "cpu": c2 - c0, "raw_wall": t1 - t0, "raw_cpu": c1 - c0,
            "status": [r.status for r in raws] + [o.status for o in outs],
            "message": "".join(r.message for r in raws) + "".join(o.message for o in outs)}


def _facts(con) -> dict:
    """meta.loads, core.calls count and a checksum of every column of every row (order-independent)."""
    out = {"loads": con.execute(
        """SELECT path, rows_read, rows_loaded, rows_duplicate, rows_quarantined, status
           FROM meta.loads ORDER BY extract_at, path""").fetchall()}
    out["core"], checksum = con.execute("SELECT count(*), sum(hash(c)::HUGEINT) FROM core.calls c").fetchone()
    out["checksum"] = int(checksum or 0)
    out["quarantine"] = con.execute("SELECT count(*) FROM core.quarantine").fetchone()[0]
    return out


# columns holding the clock of the run that built or loaded a row: two warehouses built by different runs differ
# there by design, whatever their content
RUN_CLOCK_COLUMNS = {"run_started_at", "published_at", "built_at"}


def _mart_digests(con) -> dict[str, tuple[int, int]]:
    """Rows and a content hash of every marts table (doubles rounded to 6 decimals; geometry and the run clock
    columns left out)."""
    out = {}
    for (name,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                               "ORDER BY 1").fetchall():
        cols = [(c, t) for c, t, *_ in con.execute(f'DESCRIBE marts."{name}"').fetchall()
                if t not in ("GEOMETRY", "BLOB") and c not in RUN_CLOCK_COLUMNS]
        expr = ", ".join(f'round("{c}", 6)' if t in ("DOUBLE", "FLOAT") else f'"{c}"' for c, t in cols)
        n, h = con.execute(f'SELECT count(*), sum(hash({expr})::HUGEINT) FROM marts."{name}"').fetchone()
        out[name] = (int(n), int(h or 0))
    return out


class StepClock(dict):
    """The `timings` dict of marts.build_all, which sets each step's wall seconds right after the step:
    the CPU seconds of the process since the previous step are taken at the same moment."""

    def start(self) -> float:
        self.cpu: dict[str, float] = {}
        self._c = bi._cpu()
        return self._c

    def __setitem__(self, key: str, value: float) -> None:
        c = bi._cpu()
        self.cpu[key], self._c = c - self._c, c
        super().__setitem__(key, value)


def _blocks(con) -> dict[str, set[int]]:
    """Storage blocks of the two big tables (to see what a CHECKPOINT rewrites)."""
    out = {}
    for table in (f"raw.{bi.SOURCE}", "core.calls"):
        out[table] = {r[0] for r in con.execute(
            f"SELECT DISTINCT block_id FROM pragma_storage_info('{table}') WHERE block_id >= 0").fetchall()}
    return out


def stage_rebuild(project: str, db: str, csvs: list[str], memory_limit: str | None) -> dict:
    """The baseline: every file into a fresh warehouse."""
    settings = _settings(project)
    con = _connect(db, memory_limit)
    out = _ingest(con, settings, csvs)
    out["rss_mb"] = bi._peak_mb()
    out.update(_facts(con))
    con.close()
    return out


def stage_night(project: str, published: str, csvs: list[str], memory_limit: str | None,
                marts_as_of: str | None = None, profile: bool = False) -> dict:
    """One night as flows/nightly.py runs it: start_build (copy), load + normalize, marts (optional),
    checkpoint, publish (checkpoint + fsync + os.replace). Each part timed on its own."""
    from transforms.marts import build as marts
    from transforms.marts.units import static_units
    from transforms.warehouse import db as wh

    settings = _settings(project)
    pub = Path(published)
    out: dict = {"copy_bytes": pub.stat().st_size if pub.exists() else 0}
    t = time.perf_counter()
    build = wh.start_build(pub)
    out["copy_s"] = time.perf_counter() - t
    con = _connect(build, memory_limit)
    tcon = bi.TimedConnection(con) if profile else con
    out.update(_ingest(tcon, settings, csvs) if csvs else {"wall": 0.0, "cpu": 0.0, "raw_wall": 0.0,
                                                           "raw_cpu": 0.0, "status": [], "message": ""})
    out["sql"] = tcon.log if profile else []
    out["rss_ingest_mb"] = bi._peak_mb()
    if marts_as_of:
        from transforms.marts import (
            compstat,  # noqa: F401  (imported before the clock)
            )

        static_units(settings)  # config only (grid, H3 cover): built once per process, before the clock
        clock = StepClock()
        t, c = time.perf_counter(), clock.start()
        marts.build_all(con, settings, as_of=date.fromisoformat(marts_as_of), timings=clock)
        out["marts_s"], out["marts_cpu"] = time.perf_counter() - t, bi._cpu() - c
        out["marts_steps"], out["marts_steps_cpu"] = dict(clock), dict(clock.cpu)
        out["marts"] = _mart_digests(con)
    before = _blocks(con)
    t = time.perf_counter()
    con.execute("CHECKPOINT")
    out["checkpoint_s"] = time.perf_counter() - t
    after = _blocks(con)
    out["rewritten"] = {k: (len(after[k] - before[k]), len(after[k])) for k in after}
    t = time.perf_counter()
    con.close()
    out["close_s"] = time.perf_counter() - t
    t = time.perf_counter()
    wh.publish(build, pub)
    out["publish_s"] = time.perf_counter() - t
    out["bytes"] = pub.stat().st_size
    out["leftover"] = [p.name for p in (build, build.with_name(build.name + ".wal")) if p.exists()]
    out["rss_mb"] = bi._peak_mb()
    con = wh.connect(pub, read_only=True)
    out.update(_facts(con))
    con.close()
    return out


# --- main ---------------------------------------------------------------------------------------------------


def _load() -> str:
    return " / ".join(f"{x:.2f}" for x in os.getloadavg())


def run_marts(root: Path, world: bi.World, args, memory_limit: str | None) -> dict:
    """Two warehouses with the same recent history (and so the same windows): A = the recent 730 days, B = A
    plus 730 older days. Night 1 loads and builds every mart; night 2 loads a one-day delta and rebuilds
    them."""
    mr, seed = args.marts_rows, args.seed
    d = root / "marts"
    recent, older, delta = d / "recent.csv", d / "older.csv", d / "delta.csv"
    q_r = bi.write_extract(recent, world, mr, seed)
    q_o = write_span(older, world, seed, mr, bi.T0 - bi.DAYS * DAY, bi.DAYS, first_index=mr)
    n_new = max(1, round(mr / bi.DAYS))
    n_upd = max(1, round(UPDATE_SHARE * n_new))
    n_delta, q_d = write_delta(delta, world, seed, mr, 2 * mr, n_new, n_upd)
    set_extract_time(older, bi.T0)
    set_extract_time(recent, HIST_END + 12 * 3600)
    set_extract_time(delta, HIST_END + DAY + 12 * 3600)
    print(f"marts data: {mr:,} recent + {mr:,} older calls, delta {n_delta:,} rows", flush=True)
    out = {"rows": mr, "n_delta": n_delta, "expect_a": mr - q_r + n_new - q_d,
           "expect_b": 2 * mr - q_r - q_o + n_new - q_d,
           "older_first": FIRST_DAY - timedelta(days=bi.DAYS), "older_last": FIRST_DAY - timedelta(days=1),
           "lookback": date(DELTA_DAY.year - 1, 1, 1)}
    for key, files in (("a", [recent]), ("b", [older, recent])):
        t = time.perf_counter()
        out[key] = [bi.run_child(stage_night, str(root), str(d / key / "sara.duckdb"),
                                 [str(p) for p in files], memory_limit, LAST_DAY.isoformat())]
        print(f"marts {key.upper()} night 1 (load + first build) {time.perf_counter() - t:.1f} s", flush=True)
    for i in range(max(1, args.marts_repeat)):
        for key in ("a", "b"):
            t = time.perf_counter()
            out[key].append(bi.run_child(stage_night, str(root), str(d / key / "sara.duckdb"),
                                         [] if i else [str(delta)], memory_limit, DELTA_DAY.isoformat()))
            print(f"marts {key.upper()} night {i + 2} ({'no data' if i else 'delta'} + marts) "
                  f"{time.perf_counter() - t:.1f} s", flush=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, help="calls of history (default 10,000,000; 50,000 with --quick)")
    ap.add_argument("--marts-rows", type=int, help="calls per 730 days in the marts comparison "
                    "(default 1,000,000; 20,000 with --quick; 0: skip it)")
    ap.add_argument("--marts-repeat", type=int,
                    help="nightly marts builds per warehouse; the least seconds count (default 2, --quick 1)")
    ap.add_argument("--quick", action="store_true",
                    help="CI smoke run: judge correctness, report the targets")
    ap.add_argument("--keep", action="store_true", help="keep the temporary project folder")
    ap.add_argument("--strict", action="store_true", help="exit 1 on FAIL")
    ap.add_argument("--profile", action="store_true",
                    help="list the slowest SQL statements of the delta nights")
    ap.add_argument("--memory-limit", default="2.5GB",
                    help="DuckDB memory_limit of every stage (default 2.5GB; 'none': DuckDB's default)")
    ap.add_argument("--seed", type=int, default=20240601)
    args = ap.parse_args(argv)
    rows = args.rows or (50_000 if args.quick else 10_000_000)
    if args.marts_rows is None:
        args.marts_rows = 20_000 if args.quick else 1_000_000
    if args.marts_repeat is None:
        args.marts_repeat = 1 if args.quick else 2
    mem = args.memory_limit if args.memory_limit.lower() not in ("", "none", "default") else None

    root = Path(tempfile.mkdtemp(prefix="sara-bench-delta-"))
    d: dict = {"rows": rows, "mem": mem, "load0": _load()}
    try:
        t = time.perf_counter()
        world = bi.World(args.seed)
        write_project(root)
        hist = root / "extracts" / "history.csv"
        deltas = [root / "extracts" / f"delta{i + 1}.csv" for i in range(N_NIGHTS)]
        d["q_hist"] = bi.write_extract(hist, world, rows, args.seed)
        set_extract_time(hist, HIST_END + 12 * 3600)
        d["n_new"] = max(1, round(rows / bi.DAYS))
        d["n_upd"] = max(1, round(UPDATE_SHARE * d["n_new"]))
        d["q_delta"] = []
        for i, p in enumerate(deltas):
            first = rows + i * d["n_new"]  # new call numbers after the history's and the earlier deltas'
            _, q = write_delta(p, world, args.seed, rows, first, d["n_new"], d["n_upd"], day=i)
            d["q_delta"].append(q)
            set_extract_time(p, HIST_END + (i + 1) * DAY + 12 * 3600)
        d["hist_bytes"], d["delta_bytes"] = hist.stat().st_size, deltas[0].stat().st_size
        print(f"generated {rows:,} + {N_NIGHTS} x {d['n_new'] + d['n_upd']:,} rows in "
              f"{time.perf_counter() - t:.1f} s (load average {d['load0']})", flush=True)

        published = root / "warehouse" / "sara.duckdb"
        t = time.perf_counter()
        d["history"] = bi.run_child(stage_night, str(root), str(published), [str(hist)], mem)
        print(f"first night (history) {time.perf_counter() - t:.1f} s", flush=True)
        t = time.perf_counter()
        d["rebuild"] = bi.run_child(stage_rebuild, str(root), str(root / "rebuild.duckdb"),
                                    [str(hist)] + [str(p) for p in deltas], mem)
        print(f"full rebuild {time.perf_counter() - t:.1f} s", flush=True)
        (root / "rebuild.duckdb").unlink()
        d["nights"] = []
        for i, p in enumerate(deltas):
            t = time.perf_counter()
            d["nights"].append(bi.run_child(stage_night, str(root), str(published), [str(p)], mem, None,
                                            args.profile))
            print(f"delta night {i + 1} {time.perf_counter() - t:.1f} s", flush=True)
        d["load1"] = _load()
        if not args.keep:
            shutil.rmtree(root / "warehouse", ignore_errors=True)
            hist.unlink()
        if args.marts_rows:
            d["marts"] = run_marts(root, world, args, mem)
            print(f"load average after the marts {_load()}", flush=True)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    passed = report(d, args)
    return 0 if passed or not args.strict else 1


if __name__ == "__main__":
    sys.exit(main())
