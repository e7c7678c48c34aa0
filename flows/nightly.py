"""The nightly flow: ingest every source, normalize, audit, then publish atomically.

    nightly
      ├─ record_unmatched (landing files no source picks up -> meta.landing_unmatched)
      ├─ ingest_source (one subflow per source; a failing source is recorded and the others go on)
      │    ├─ find_new_files
      │    └─ load_file  (per file; retried on I/O errors; a file still being written is held: waiting)
      ├─ normalize_source (per source)
      ├─ run_checks      (sql/checks/*.sql -> meta.audit_results)
      └─ publish_warehouse (atomic rename of the checkpointed build file; skipped when an error audit fails)

Wiring only: the work is in transforms/. The DuckDB connection lives in a per-run context, never in
task parameters, so nothing unserializable crosses Prefect's API.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from transforms.config import Settings, load_settings
from transforms.marts import build as marts
from transforms.warehouse import db as wh
from transforms.warehouse import loader
from transforms.warehouse import parts as partitioned
from transforms.warehouse.audits import run_audits
from transforms.warehouse.geo import write_agency_areas


@dataclass
class RunState:
    settings: Settings
    con: duckdb.DuckDBPyConnection
    run_id: str
    progress: Any = None
    outcomes: list = field(default_factory=list)


_RUN: RunState | None = None
PROGRESS_HOOK: Any = None  # set by the CLI to a callable(kind, **info) for progress bars


class _Clock:
    """Seconds per stage of a run, for the log and the run artifact."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = round(now - self.t, 3)
        self.t = now


def _state() -> RunState:
    if _RUN is None:
        raise RuntimeError("no nightly run in progress")
    return _RUN


def _progress(kind: str, **info) -> None:
    if PROGRESS_HOOK is not None:
        PROGRESS_HOOK(kind, **info)


@task(name="find_new_files", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def find_new_files(source: str) -> list[str]:
    return [str(p) for p in loader.discover_files(_state().settings, source)]


@task(name="load_file", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def load_file(source: str, path: str) -> dict:
    st = _state()
    out = loader.load_raw_file(st.con, st.settings, source, Path(path), st.run_id)
    return asdict(out)


@flow(name="ingest_source", log_prints=False)
def ingest_source(source: str) -> list[dict]:
    """Raw-load every new file of one source."""
    st = _state()
    log = get_run_logger()
    results = []
    files = find_new_files(source)
    loader.forget_vanished(st.con, st.settings, source)
    _progress("source", source=source, files=len(files))
    for path in files:
        try:
            res = load_file(source, path)
        except Exception as exc:  # retries exhausted (I/O): record the failure, go on with the next file
            res = asdict(loader.fail_file(st.con, source, Path(path), st.run_id, exc))
        if res["status"] == "failed":
            log.error("%s", res["message"])
        elif res["status"] == "skipped":
            log.info("skipped %s: %s", path, res["message"])
        elif res["status"] == "waiting":
            log.warning("%s", res["message"])
        results.append(res)
        _progress("file", source=source, path=path, status=res["status"])
    return results


@task(name="normalize_source", cache_policy=NO_CACHE)
def normalize_source(source: str) -> list[dict]:
    st = _state()
    return [asdict(o) for o in loader.normalize_pending(st.con, st.settings, source, st.run_id)]


@task(name="run_checks", cache_policy=NO_CACHE)
def run_checks() -> list[dict]:
    st = _state()
    return [asdict(r) for r in run_audits(st.con, st.run_id)]


@task(name="build_marts", cache_policy=NO_CACHE)
def build_marts() -> dict:
    """Rebuild every mart from core (dimensions, units, event-unit assignment, counts, statistics)."""
    st = _state()
    return marts.build_all(st.con, st.settings)


@task(name="write_report", cache_policy=NO_CACHE)
def write_report(published: str) -> str:
    """The weekly scanning report from the night just published: data/reports/<as_of>/index.html."""
    from transforms.outputs.report import build_report, report_dir

    st = _state()
    as_of = marts.as_of_date(st.settings)
    with wh.open_published(Path(published)) as con:
        path = build_report(con, st.settings, as_of, report_dir(st.settings, as_of))
    return str(path)


@task(name="publish_warehouse", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish_warehouse(build: str, published: str, keep_old_as: str | None = None) -> None:
    wh.publish(Path(build), Path(published), Path(keep_old_as) if keep_old_as else None)


# ---- scale-out (executor="dask"): workers write Parquet parts, this process is the single writer ----


@task(name="ingest_partition", cache_policy=NO_CACHE)
def ingest_partition_task(config_path: str, source: str, published: str, parts: str, run_id: str) -> dict:
    """One source's load + normalize in a worker's scratch file; returns the manifest of its Parquet parts."""
    return partitioned.ingest_partition(load_settings(config_path), source, Path(published), Path(parts), run_id)


@task(name="marts_partition", cache_policy=NO_CACHE)
def marts_partition_task(config_path: str, agency: str, build: str, parts: str, as_of: str) -> dict:
    """One agency's marts in a worker's scratch file; returns the manifest of its Parquet parts."""
    from datetime import date

    return partitioned.marts_partition(load_settings(config_path), agency, Path(build), Path(parts),
                                       date.fromisoformat(as_of))


@flow(name="ingest_partitions", log_prints=False)
def ingest_partitions(config_path: str, sources: list[str], published: str, parts: str, run_id: str) -> dict:
    """Fan out: one ingest_partition task per source on the flow's task runner (Dask)."""
    futures = {s: ingest_partition_task.submit(config_path, s, published, parts, run_id) for s in sources}
    out: dict[str, dict] = {}
    for s, fut in futures.items():
        try:
            out[s] = fut.result()
        except Exception as exc:  # this source failed as a whole; the others go on
            out[s] = {"error": f"{type(exc).__name__}: {exc}"}
    return out


@flow(name="marts_partitions", log_prints=False)
def marts_partitions(config_path: str, agencies: list[str], build: str, parts: str, as_of: str) -> list[dict]:
    """Fan out: one marts_partition task per agency on the flow's task runner (Dask)."""
    futures = [marts_partition_task.submit(config_path, a, build, parts, as_of) for a in agencies]
    return [f.result() for f in futures]


@task(name="merge_ingest", cache_policy=NO_CACHE)
def merge_ingest_task(manifest: dict) -> None:
    partitioned.merge_ingest(_state().con, manifest)


@task(name="merge_marts", cache_policy=NO_CACHE)
def merge_marts_task(manifests: list[dict]) -> dict:
    st = _state()
    return partitioned.merge_marts(st.con, st.settings, manifests)


class _Dask:
    """The Dask side of a scaled-out night: a LocalCluster started here unless an address is given."""

    def __init__(self, address: str | None, n_workers: int | None) -> None:
        self.cluster = None
        if address is None:
            import os

            from distributed import LocalCluster

            self.cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 2, threads_per_worker=1,
                                        processes=True, dashboard_address=None, silence_logs=logging.WARNING)
            address = self.cluster.scheduler_address
        self.address = address

    def runner(self):
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=self.address)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()


def _summary_markdown(run_id: str, status: str, per_source: dict, audits: list[dict], con,
                      waiting: list[dict] | None = None, unmatched: list[dict] | None = None) -> str:
    lines = [f"# sara nightly run {run_id}: **{status}**", "",
             "| source | files | skipped | failed | waiting | read | loaded | duplicate | quarantined | unlocated "
             "| unmapped codes |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for src, d in per_source.items():
        lines.append(f"| {src} | {d['files']} | {d['skipped']} | {d['failed']} | {d.get('waiting', 0)} | {d['read']} | "
                     f"{d['loaded']} | {d['duplicate']} | {d['quarantined']} | {d.get('unlocated', 0)} | "
                     f"{d.get('unmapped', 0)} |")
    if waiting:
        lines += ["", "**Held: still being written** (not loaded; tried again next run)", "",
                  "| source | file | why |", "|---|---|---|"]
        lines += [f"| {w['source']} | {_md(w['file'])} | {_md(w['why'])} |" for w in waiting]
    if unmatched:
        lines += ["", "**Files not picked up (matches no pattern)**: rename the file or fix the source's file_pattern", "",
                  "| file | bytes | modified (UTC) |", "|---|---|---|"]
        lines += [f"| {_md(u['path'])} | {u['bytes']} | {u['modified_at']:%Y-%m-%d %H:%M} |" for u in unmatched]
    lines += ["", "| audit | severity | rows | status |", "|---|---|---|---|"]
    for a in audits:
        lines.append(f"| {a['name']} | {a['severity']} | {a['rows']} | {a['status']} |")
    return "\n".join(lines)


def _md(text: str) -> str:
    """Text for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _waiting_files(settings: Settings, raw_results: list[dict]) -> list[dict]:
    """The run's held files: source, path, the path relative to the landing folder, and why."""
    out = []
    for r in raw_results:
        if r["status"] == "waiting":
            p = Path(r["path"])
            try:
                rel = p.relative_to(settings.landing_dir).as_posix()
            except ValueError:
                rel = str(p)
            why = r["message"].removeprefix(f"still being written: {r['path']}: ")
            out.append({"source": r["source"], "path": r["path"], "file": rel, "why": why, "message": r["message"]})
    return out


def record_unmatched(con, settings: Settings, run_id: str) -> list[dict]:
    """List the landing files no source picks up in meta.landing_unmatched (for this run) and return them."""
    from transforms.warehouse.landing import unmatched_files

    found = unmatched_files(settings)
    con.execute("DELETE FROM meta.landing_unmatched WHERE run_id = ?", [run_id])
    if found:
        con.executemany("INSERT INTO meta.landing_unmatched VALUES (?, ?, ?, ?, ?)",
                        [[run_id, u["folder"], u["path"], u["bytes"], u["modified_at"]] for u in found])
    return found


def _source_health(con, source: str, kind: str) -> dict:
    table = "core.calls" if kind == "calls" else "core.incidents"
    cat = "call_category" if kind == "calls" else "offense_category"
    code = "call_type_code" if kind == "calls" else "offense_code"
    unl, unm = con.execute(
        f"""SELECT count(*) FILTER (WHERE NOT is_located),
                   count(DISTINCT {code}) FILTER (WHERE {cat} = 'Unmapped')
            FROM {table} WHERE source = ?""", [source]).fetchone()
    return {"unlocated": int(unl), "unmapped": int(unm)}


def append_run_log(settings: Settings, record: dict) -> None:
    """Every run, published or not, is logged beside the warehouse (the failed ones cannot be in it)."""
    path = settings.warehouse_path.with_name("runs.jsonl")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


class NightFailed(RuntimeError):
    """A night that was not published, with the reason in plain words."""


def _log_failure(settings: Settings, record: dict, log) -> str:
    """Append a failed night to runs.jsonl. The night's leftovers are removed before this, so a full disk
    has room for one line again; if even that cannot be written, the reason is returned for the error
    message (the CLI prints it and exits 1 all the same)."""
    try:
        append_run_log(settings, record)
        return ""
    except OSError as exc:
        log.error("could not record the failed night in runs.jsonl: %s", exc)
        return f" (it could not be recorded in {settings.warehouse_path.with_name('runs.jsonl')} either: {exc})"


EXECUTORS = ("local", "dask")


@flow(name="nightly", log_prints=False)
def nightly(config_path: str | None = None, with_marts: bool = True, executor: str = "local",
            dask_address: str | None = None, dask_workers: int | None = None, rebuild: bool = False) -> dict:
    """Load whatever is new in data/landing/<source>/, normalize, audit, rebuild the marts, publish.

    with_marts=False skips the marts (the demo builds them on its last night only; a published night
    without them keeps the previous night's marts).

    executor="dask" fans the work out on a Dask cluster (prefect-dask's DaskTaskRunner): one task per
    source for load + normalize and one per agency for the marts, each writing Parquet parts that this
    process, the only writer, merges into the build file. dask_address is a running scheduler
    (tcp://host:8786); without one a LocalCluster of dask_workers processes (default: the CPU count)
    is started for the run.

    rebuild=True (`sara rebuild`) builds the night from an empty warehouse instead of a copy of the published
    one, so every file in the landing folders is loaded again, and keeps the file it replaces as
    <name>.set-aside-<time> (it may be corrupt; it is never read, never deleted)."""
    if executor not in EXECUTORS:
        raise ValueError(f"executor must be one of {', '.join(EXECUTORS)}, not {executor!r}")
    if rebuild and executor != "local":
        raise ValueError("a rebuild runs with the local executor (the Dask workers start from the published file)")
    log = get_run_logger()
    settings = load_settings(config_path)
    run_id = str(flow_run.id or f"local-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    published = settings.warehouse_path
    with wh.run_lock(published):
        dask = _Dask(dask_address, dask_workers) if executor == "dask" else None
        try:
            return _nightly(settings, run_id, published, log, with_marts, dask, rebuild)
        finally:
            if dask is not None:
                dask.close()


def _run_marts_partitioned(settings: Settings, dask: _Dask, build: Path, parts: Path) -> list[dict]:
    """Close the build file (workers read it), build each agency's marts on Dask, then reopen it on the run
    state for the merge. Returns the workers' manifests."""
    st = _state()
    st.con.execute("CHECKPOINT")
    st.con.close()
    try:
        return marts_partitions.with_options(task_runner=dask.runner())(
            str(settings.config_path), list(settings.sara.agencies), str(build), str(parts),
            marts.as_of_date(settings).isoformat())
    finally:
        w = settings.sara.warehouse
        st.con = wh.connect(build, threads=w.threads, memory_limit=w.memory_limit)


def _count_source(d: dict, raw_results: list[dict], norm_results: list[dict]) -> None:
    for r in raw_results:
        d["files"] += 1
        d["skipped"] += r["status"] == "skipped"
        d["failed"] += r["status"] == "failed"
        d["waiting"] += r["status"] == "waiting"
    for r in norm_results:
        d["failed"] += r["status"] == "failed"
        if r["status"] == "loaded":
            for k in ("read", "loaded", "duplicate", "quarantined"):
                d[k] += r[f"rows_{k}"]


def _nightly(settings: Settings, run_id: str, published: Path, log, with_marts: bool,
             dask: _Dask | None = None, rebuild: bool = False) -> dict:
    global _RUN
    clock = _Clock()
    started = datetime.now(UTC)
    build = wh.build_path(published)
    parts = partitioned.parts_root(published, run_id)
    status, message, logged = "ok", "", False
    stage = "copying the published warehouse to the build file"  # said in a failure message
    try:
        build = wh.start_build(published, fresh=rebuild)
        partitioned.clear_parts(published)  # a killed run's parts were never merged into a published night
        clock.lap("copy published to build")
        stage = "opening the build file"
        con = wh.connect(build, threads=settings.sara.warehouse.threads,
                         memory_limit=settings.sara.warehouse.memory_limit)
        _RUN = RunState(settings, con, run_id)
        stage = "writing the schema and the agency areas"
        wh.apply_schema(con)
        write_agency_areas(con, settings)
        clock.lap("schema and agency areas")
        con.execute("INSERT INTO meta.runs (run_id, flow, started_at, status) VALUES (?, ?, ?, 'running')",
                    [run_id, "rebuild" if rebuild else "nightly", started])
        per_source: dict[str, dict] = {}
        failed_sources: list[str] = []
        waiting: list[dict] = []
        unmatched = record_unmatched(con, settings, run_id)
        for u in unmatched:
            log.warning("not picked up (matches no pattern): %s", u["path"])
        manifests: dict[str, dict] = {}
        if dask is not None:
            stage = "loading and normalizing (parallel)"
            manifests = ingest_partitions.with_options(task_runner=dask.runner())(
                str(settings.config_path), list(settings.sources), str(published), str(parts), run_id)
            clock.lap("load and normalize (parallel)")
        for source in settings.sources:
            d = per_source.setdefault(source, {"files": 0, "skipped": 0, "failed": 0, "waiting": 0, "read": 0,
                                                "loaded": 0, "duplicate": 0, "quarantined": 0})
            try:
                if dask is None:
                    stage = f"loading {source}"
                    raw_results = ingest_source(source)
                    clock.lap(f"load {source}")
                    stage = f"normalizing {source}"
                    norm_results = normalize_source(source)
                    clock.lap(f"normalize {source}")
                else:
                    stage = f"merging {source}"
                    m = manifests[source]
                    if "error" in m:
                        raise RuntimeError(m["error"])
                    _progress("source", source=source, files=len(m["raw"]))
                    merge_ingest_task(m)
                    clock.lap(f"merge {source}")
                    raw_results, norm_results = m["raw"], m["normalized"]
                    for r in raw_results:
                        _progress("file", source=source, path=r["path"], status=r["status"])
            except Exception as exc:
                _raise_if_fatal(exc)  # a full disk or a damaged file fails the night, not one source
                log.error("source %s failed: %s", source, exc)
                failed_sources.append(source)
                d["failed"] += 1
                d["error"] = str(exc)
                continue
            _count_source(d, raw_results, norm_results)
            waiting += _waiting_files(settings, raw_results)
            d.update(_source_health(con, source, settings.sources[source].kind))
            if d["failed"]:
                failed_sources.append(source)
            _progress("normalized", source=source)
        stage = "running the audits"
        audits = run_checks()
        clock.lap("audits")
        err = [a for a in audits if a["severity"] == "error" and a["status"] == "fail"]
        warn = [a for a in audits if a["severity"] == "warn" and a["status"] == "fail"]
        marts_error, mart_counts = None, {}
        if not err and with_marts:
            stage = "building the marts"
            try:
                if dask is None:
                    mart_counts = build_marts()
                else:
                    mart_parts = _run_marts_partitioned(settings, dask, build, parts)
                    mart_counts = {"as_of": str(marts.as_of_date(settings)), **merge_marts_task(mart_parts)}
            except Exception as exc:  # a night whose marts cannot be built is not published
                _raise_if_fatal(exc)
                log.error("building the marts failed: %s", exc)
                marts_error = f"{type(exc).__name__}: {exc}"
            con = _state().con  # the scaled-out marts reopen the build file
            clock.lap("marts")
        if err:
            status = "failed"
            message = "error audit(s) failed: " + ", ".join(f"{a['name']} ({a['rows']} rows)" for a in err)
        elif marts_error:
            status = "failed"
            message = f"marts failed: {marts_error}"
        elif failed_sources or waiting:
            # NOTE: a held file makes the night partial: what is published lacks a delivery that is there
            status = "partial"
            parts_msg = []
            if failed_sources:
                parts_msg.append("source(s) with failed loads: " + ", ".join(sorted(set(failed_sources))))
            if waiting:
                parts_msg.append(f"{len(waiting)} file(s) still being written, held for the next night: "
                                 + ", ".join(sorted({w['source'] for w in waiting})))
            message = "; ".join(parts_msg)
        stage = "recording the run"
        totals = {k: sum(d[k] for d in per_source.values()) for k in ("read", "loaded", "duplicate", "quarantined")}
        con.execute(
            """UPDATE meta.runs SET finished_at = ?, status = ?, sources_ok = ?, sources_failed = ?,
                 files_loaded = ?, files_skipped = ?, files_waiting = ?, rows_read = ?, rows_loaded = ?,
                 rows_duplicate = ?, rows_quarantined = ?, audits_failed_error = ?, audits_failed_warn = ?,
                 message = ?
               WHERE run_id = ?""",
            [datetime.now(UTC), status, len(settings.sources) - len(set(failed_sources)), len(set(failed_sources)),
             sum(d["files"] - d["skipped"] - d["failed"] - d.get("waiting", 0) for d in per_source.values()),
             sum(d["skipped"] for d in per_source.values()), len(waiting), totals["read"], totals["loaded"],
             totals["duplicate"], totals["quarantined"], len(err), len(warn), message or None, run_id],
        )
        md = _summary_markdown(run_id, status, per_source, audits, con, waiting, unmatched)
        md += "\n\n| stage | seconds |\n|---|---|\n" + "".join(
            f"| {k} | {v:.2f} |\n" for k, v in clock.laps.items())
        if mart_counts:
            md += "\n\n| mart | rows |\n|---|---|\n" + "".join(
                f"| {k} | {v} |\n" for k, v in mart_counts.items())
        con.close()
        partitioned.remove_parts(parts)
        set_aside = None
        if status == "failed":
            wh.discard_build(build)
        else:
            stage = "publishing the night (checkpoint and rename)"
            if rebuild and published.exists():
                set_aside = wh.set_aside_path(published)
            publish_warehouse(str(build), str(published), str(set_aside) if set_aside else None)
        clock.lap("publish")
        report_path = None
        if status != "failed" and with_marts:
            try:
                report_path = write_report(str(published))
            except Exception as exc:  # the night is published; a report failure is logged, not fatal
                log.error("writing the report failed: %s", exc)
            clock.lap("report")
        try:
            create_markdown_artifact(markdown=md, key="nightly-health", description="sara nightly run health")
        except Exception as exc:  # an artifact is a report: never fail a published night over it
            log.warning("could not create the run artifact: %s", exc)
        log.info("stage timings: %s", ", ".join(f"{k} {v:.2f}s" for k, v in clock.laps.items()))
        result = {"run_id": run_id, "status": status, "message": message, "sources": per_source,
                  "waiting": waiting, "unmatched": [{**u, "modified_at": u["modified_at"].isoformat()}
                                                    for u in unmatched],
                  "timings": clock.laps, "marts": mart_counts, "report": report_path,
                  "audits": audits, "warehouse": str(published), "published": status != "failed",
                  "set_aside": str(set_aside) if set_aside else None}
        record = {"run_id": run_id, "started_at": started, "finished_at": datetime.now(UTC), "status": status,
                  "message": message, "config": str(settings.config_path)}
        if rebuild:
            record.update(rebuild=True, set_aside=result["set_aside"])
        if status == "failed":
            logged = True
            raise NightFailed(f"night not published: {message}{_log_failure(settings, record, log)}")
        try:
            append_run_log(settings, record)
        except OSError as exc:  # the night is published and in meta.runs; the log line is a copy
            log.error("could not append the run to runs.jsonl: %s", exc)
        return result
    except BaseException as exc:
        try:
            if _RUN is not None:
                _RUN.con.close()
        except duckdb.Error:
            pass
        partitioned.remove_parts(parts)
        freed = wh.discard_build(build)
        if logged:
            raise
        why = _failure_words(exc, stage, published)
        log.error("night failed: %s (%s bytes of leftovers removed)", why, f"{freed:,}")
        record = {"run_id": run_id, "started_at": started, "finished_at": datetime.now(UTC), "status": "failed",
                  "message": why, "config": str(settings.config_path), **({"rebuild": True} if rebuild else {})}
        unlogged = _log_failure(settings, record, log)
        if isinstance(exc, wh.WarehouseCorrupt):
            raise wh.WarehouseCorrupt(exc.path, exc.detail + unlogged) from exc
        if isinstance(exc, Exception):
            raise NightFailed(why + unlogged) from exc
        raise
    finally:
        _RUN = None


def _raise_if_fatal(exc: Exception) -> None:
    """A full disk or a damaged warehouse ends the night at once: every later step would fail the same way."""
    if wh.out_of_space(exc) or wh.looks_corrupt(exc) or isinstance(exc, wh.WarehouseCorrupt):
        raise exc


def _failure_words(exc: BaseException, stage: str, published: Path) -> str:
    """The reason a night failed, in plain words, for runs.jsonl, `sara status` and the CLI."""
    if isinstance(exc, wh.WarehouseCorrupt):
        return str(exc)
    if wh.looks_corrupt(exc):  # the build is a copy of the published file: a bad block there is a bad block here
        return str(wh.WarehouseCorrupt(published, f"DuckDB while {stage}: {exc}"))
    space = wh.out_of_space(exc)
    if space:
        return (f"{space} while {stage} in {published.parent}: nothing was published and the night's files were "
                f"removed; free space there and run again ({type(exc).__name__}: {exc})")
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted while {stage}"
    return str(exc) if isinstance(exc, NightFailed) else f"{type(exc).__name__} while {stage}: {exc}"
