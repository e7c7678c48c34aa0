"""The nightly flow: ingest every source, normalize, audit, build the marts, then publish atomically.

    nightly
      ├─ ingest_source (one subflow per source; a failing source is recorded and the others go on)
      │    ├─ find_new_files
      │    └─ load_file  (per file; a file still being written is held: waiting)
      ├─ normalize_source (per source)
      ├─ run_checks      (sql/checks/*.sql -> meta.audit_results)
      ├─ build_marts     (skipped when an error audit fails)
      ├─ settle_build    (only after a big load: its row groups merged before the publish, not on later nights)
      ├─ publish_warehouse (atomic rename of the checkpointed build file; skipped when the night failed)
      └─ write_report

With executor="dask" the loads and the marts fan out on a Dask cluster instead (flows/scaleout.py).

Wiring only: each task is one call into transforms/. The night's record (counts per source, status, the
meta.runs row, the health artifact, runs.jsonl, the words of a failure) is transforms/warehouse/runs.py. A
file load is retried by the one retry policy of transforms/warehouse/loader.py (load_with_retries), not by
Prefect. The DuckDB connection lives in the night's run context (flows/context.py), never in task
parameters, so nothing unserializable crosses Prefect's API.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run

from flows import scaleout
from flows.context import RunState, current_night, night_context, progress
from transforms.config import load_settings
from transforms.marts import build as marts
from transforms.marts.study_area import study_area_warnings
from transforms.warehouse import db as wh
from transforms.warehouse import loader, runs, settle
from transforms.warehouse import parts as ingest_parts
from transforms.warehouse.audits import run_audits
from transforms.warehouse.geo import write_agency_areas


@task(name="find_new_files", retries=2, retry_delay_seconds=1, cache_policy=NO_CACHE)
def find_new_files(source: str) -> list[str]:
    return [str(p) for p in loader.discover_files(current_night().settings, source)]


@task(name="load_file", cache_policy=NO_CACHE)
def load_file(source: str, path: str) -> dict:
    st = current_night()
    return asdict(loader.load_with_retries(st.con, st.settings, source, Path(path), st.run_id))


@flow(name="ingest_source", log_prints=False)
def ingest_source(source: str) -> list[dict]:
    """Raw-load every new file of one source."""
    st = current_night()
    log = get_run_logger()
    results = []
    files = find_new_files(source)
    loader.forget_vanished(st.con, st.settings, source)
    progress("source", source=source, files=len(files))
    for path in files:
        res = load_file(source, path)
        if res["status"] == "failed":
            log.error("%s", res["message"])
        elif res["status"] == "skipped":
            log.info("skipped %s: %s", path, res["message"])
        elif res["status"] == "waiting":
            log.warning("%s", res["message"])
        results.append(res)
        progress("file", source=source, path=path, status=res["status"])
    return results


@task(name="normalize_source", cache_policy=NO_CACHE)
def normalize_source(source: str) -> list[dict]:
    st = current_night()
    return [asdict(o) for o in loader.normalize_pending(st.con, st.settings, source, st.run_id)]


@task(name="run_checks", cache_policy=NO_CACHE)
def run_checks() -> list[dict]:
    st = current_night()
    return [asdict(r) for r in run_audits(st.con, st.run_id)]


@task(name="build_marts", cache_policy=NO_CACHE)
def build_marts(as_of: date | None = None, figures_only: bool = False) -> dict:
    """Rebuild every mart from core (dimensions, units, event-unit assignment, counts, statistics); or only the
    figures the night publishes (figures_only: the windows and CompStat, transforms/marts/build.py)."""
    st = current_night()
    seconds: dict[str, float] = {}
    build = marts.build_figures if figures_only else marts.build_all
    counts = build(st.con, st.settings, as_of=as_of, timings=seconds)
    get_run_logger().info("mart step timings: %s", ", ".join(f"{k} {v:.2f}s" for k, v in seconds.items()))
    return counts


@task(name="write_report", cache_policy=NO_CACHE)
def write_report(published: str) -> str:
    """The weekly scanning report from the night just published: data/reports/<profile>/<as_of>/index.html."""
    from transforms.outputs.report import build_report

    st = current_night()
    with wh.open_published(Path(published)) as con:
        path = build_report(con, st.settings)
    return str(path)


@task(name="settle_build", cache_policy=NO_CACHE)
def settle_build() -> dict | None:
    """After a big load (transforms/warehouse/settle.py: SETTLE_MIN_ROWS read from the night's files), merge the
    partly filled row groups now, so that the next nights' checkpoints do not."""
    st = current_night()
    done = settle.settle_if_big(st.con, st.run_id, list(st.settings.sources))
    return asdict(done) if done else None


@task(name="publish_warehouse", retries=2, retry_delay_seconds=2, cache_policy=NO_CACHE)
def publish_warehouse(build: str, published: str, keep_old_as: str | None = None) -> None:
    wh.publish(Path(build), Path(published), Path(keep_old_as) if keep_old_as else None)


EXECUTORS = ("local", "dask")


@flow(name="nightly", log_prints=False)
def nightly(config_path: str | None = None, with_marts: bool = True, executor: str = "local",
            dask_address: str | None = None, dask_workers: int | None = None, rebuild: bool = False,
            as_of: date | None = None, figures_only: bool = False) -> dict:
    """Load whatever is new in data/landing/<source>/, normalize, audit, rebuild the marts, publish.

    with_marts=False skips the marts (a published night without them keeps the previous night's marts).
    figures_only=True builds only the figures a night publishes (the windows and CompStat, kept for the
    restatements of later nights) and writes no report: the demo's first night (its last builds every mart).
    as_of ends every agency's windows at that date instead of the configured one or the rule (the demo
    runs each night as of the day before its run date).

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
    if (as_of is not None or figures_only) and executor != "local":
        raise ValueError("as_of and figures_only run with the local executor")
    log = get_run_logger()
    settings = load_settings(config_path)
    run_id = str(flow_run.id or f"local-{datetime.now(UTC):%Y%m%dT%H%M%S}")
    with wh.run_lock(settings.warehouse_path):
        dask = scaleout.DaskCluster(dask_address, dask_workers) if executor == "dask" else None
        try:
            night = runs.Night(settings, run_id, "rebuild" if rebuild else "nightly")
            with night_context(RunState(settings, None, run_id)) as state:
                return _night(night, state, log, with_marts, dask, as_of, figures_only)
        finally:
            if dask is not None:
                dask.close()


def _night(night: runs.Night, state: RunState, log, with_marts: bool, dask: scaleout.DaskCluster | None,
           as_of: date | None = None, figures_only: bool = False) -> dict:
    """The steps of one night, in order; any failure discards the build and is recorded in runs.jsonl."""
    settings, run_id = night.settings, night.run_id
    published = settings.warehouse_path
    build = wh.build_path(published)
    parts = ingest_parts.parts_root(published, run_id)
    logged = False
    try:
        night.doing = "copying the published warehouse to the build file"
        build = wh.start_build(published, fresh=night.rebuild)
        ingest_parts.clear_parts(published)  # a killed run's parts were never merged into a published night
        night.lap("copy published to build")
        night.doing = "opening the build file"
        state.con = wh.connect(build, threads=settings.sara.warehouse.threads,
                               memory_limit=settings.sara.warehouse.memory_limit)
        night.doing = "writing the schema and the agency areas"
        wh.apply_schema(state.con)
        write_agency_areas(state.con, settings)
        night.lap("schema and agency areas")
        runs.start_run(state.con, run_id, night.flow, night.started)
        night.unmatched = runs.record_unmatched(state.con, settings, run_id)
        for u in night.unmatched:
            log.warning("not picked up (matches no pattern): %s", u["path"])
        _ingest(night, state, log, dask, published, parts)
        night.doing = "running the audits"
        night.audits = run_checks()
        night.lap("audits")
        if not night.failed_audits("error") and with_marts:
            _marts(night, log, dask, build, parts, as_of, figures_only)
        night.decide()
        night.doing = "recording the run"
        night.finish(state.con)
        settled = None
        if night.status != "failed":
            night.doing = "settling a big load (merging its row groups)"
            settled = settle_build()
            if settled:
                night.lap("settle after a big load")
        md = night.health_markdown()
        state.con.close()
        ingest_parts.remove_parts(parts)
        set_aside = None
        if night.status == "failed":
            wh.discard_build(build)
        else:
            night.doing = "publishing the night (checkpoint and rename)"
            if night.rebuild and published.exists():
                set_aside = wh.set_aside_path(published)
            publish_warehouse(str(build), str(published), str(set_aside) if set_aside else None)
        night.lap("publish")
        report_path = None
        if night.status != "failed" and with_marts and not figures_only:
            try:
                report_path = write_report(str(published))
            except Exception as exc:  # the night is published; a report failure is logged, not fatal
                log.error("writing the report failed: %s", exc)
            night.lap("report")
        try:
            create_markdown_artifact(markdown=md, key="nightly-health", description="sara nightly run health")
        except Exception as exc:  # an artifact is a report: never fail a published night over it
            log.warning("could not create the run artifact: %s", exc)
        log.info("step timings: %s", ", ".join(f"{k} {v:.2f}s" for k, v in night.timer.laps.items()))
        result = {**night.result(published, report_path, set_aside), "settled": settled}
        record = night.log_record(**({"rebuild": True, "set_aside": result["set_aside"]} if night.rebuild else {}))
        if night.status == "failed":
            logged = True
            unlogged = runs.record_failed_night(settings, record, log)
            raise runs.NightFailed(f"night not published: {night.message}{unlogged}")
        try:
            runs.append_run_log(settings, record)
        except OSError as exc:  # the night is published and in meta.runs; the log line is a copy
            log.error("could not append the run to runs.jsonl: %s", exc)
        return result
    except BaseException as exc:
        try:
            if state.con is not None:
                state.con.close()
        except duckdb.Error:
            pass
        freed = runs.discard_night(build, parts)
        if logged:
            raise
        why = runs.failure_words(exc, night.doing, published)
        log.error("night failed: %s (%s bytes of leftovers removed)", why, f"{freed:,}")
        record = night.log_record(status="failed", message=why, **({"rebuild": True} if night.rebuild else {}))
        unlogged = runs.record_failed_night(settings, record, log)
        if isinstance(exc, wh.WarehouseCorrupt):
            raise wh.WarehouseCorrupt(exc.path, exc.detail + unlogged) from exc
        if isinstance(exc, Exception):
            raise runs.NightFailed(why + unlogged) from exc
        raise


def _ingest(night: runs.Night, state: RunState, log, dask: scaleout.DaskCluster | None, published: Path,
            parts: Path) -> None:
    """Load and normalize every source (here, or on the Dask workers and merged here), counted per source."""
    settings = night.settings
    manifests: dict[str, dict] = {}
    if dask is not None:
        night.doing = "loading and normalizing (parallel)"
        manifests = scaleout.ingest_all(settings, dask, published, parts, night.run_id)
        night.lap("load and normalize (parallel)")
    for source in settings.sources:
        try:
            if dask is None:
                night.doing = f"loading {source}"
                raw_results = ingest_source(source)
                night.lap(f"load {source}")
                night.doing = f"normalizing {source}"
                norm_results = normalize_source(source)
                night.lap(f"normalize {source}")
            else:
                night.doing = f"merging {source}"
                raw_results, norm_results = scaleout.merge_source(source, manifests[source])
                night.lap(f"merge {source}")
        except Exception as exc:
            runs.raise_if_fatal(exc)  # a full disk or a damaged file fails the night, not one source
            log.error("source %s failed: %s", source, exc)
            night.source_failed(source, exc)
            continue
        night.source_done(state.con, source, raw_results, norm_results)
        progress("normalized", source=source)


def _marts(night: runs.Night, log, dask: scaleout.DaskCluster | None, build: Path, parts: Path,
           as_of: date | None = None, figures_only: bool = False) -> None:
    night.doing = "building the marts"
    try:
        night.mart_counts = (build_marts(as_of, figures_only) if dask is None
                             else scaleout.build_marts(dask, build, parts))
        night.area_warnings = study_area_warnings(current_night().con)
        for w in night.area_warnings:
            log.warning("%s: %s", w["agency"], w["warning"])
    except Exception as exc:  # a night whose marts cannot be built is not published
        runs.raise_if_fatal(exc)
        log.error("building the marts failed: %s", exc)
        night.marts_error = f"{type(exc).__name__}: {exc}"
    else:
        night.mart_warnings = runs.mart_warnings(current_night().con, night.run_id)
        for w in night.mart_warnings:  # `sara run` prints them; a scheduled run has them in its log
            log.info("empty mart: %s", w)
    night.lap("marts")
