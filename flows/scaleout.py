"""The scaled-out night (`sara run --executor dask`): the Dask fan-out flows and the single writer's merges.

    DaskCluster          a LocalCluster started for the run, or a running scheduler's address
    ingest_partitions    flow: one ingest_partition task per source on the Dask task runner; each loads and
                         normalizes its source in a scratch file and returns the manifest of its Parquet parts
    merge_source         task merge_ingest: the writer applies one source's parts to the build file
    build_marts          each agency's period and coverage made on the whole build file, the build file
                         handed over (checkpointed, closed), flow marts_partitions (one marts_partition task
                         per agency), the build file reopened, task merge_marts

The workers get only serializable parameters (the config path, names, paths) and open their own files; the
merges run in the flow's process on the night's connection (flows/context.py). The work is in
transforms/warehouse/parts.py (ingest side) and transforms/marts/parts.py (marts side).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE

from flows.context import current_night, progress
from transforms.config import Settings, load_settings
from transforms.marts import parts as mart_parts
from transforms.warehouse import db as wh
from transforms.warehouse import parts as ingest_parts


class DaskCluster:
    """The Dask side of a scaled-out night: a LocalCluster started here unless an address is given."""

    def __init__(self, address: str | None, n_workers: int | None) -> None:
        self.cluster = None
        t = time.perf_counter()
        if address is None:
            from distributed import LocalCluster

            self.cluster = LocalCluster(n_workers=n_workers or os.cpu_count() or 2, threads_per_worker=1,
                                        processes=True, dashboard_address=None, silence_logs=logging.WARNING)
            address = self.cluster.scheduler_address
        self.address = address
        self.start_s = time.perf_counter() - t  # bench/scaleout_costs.py reads it from the log

    def runner(self):
        from prefect_dask import DaskTaskRunner

        return DaskTaskRunner(address=self.address)

    def close(self) -> None:
        if self.cluster is not None:
            self.cluster.close()


@task(name="ingest_partition", cache_policy=NO_CACHE)
def ingest_partition_task(config_path: str, source: str, published: str, parts: str, run_id: str) -> dict:
    """One source's load + normalize in a worker's scratch file; returns the manifest of its Parquet parts."""
    return ingest_parts.ingest_partition(load_settings(config_path), source, Path(published), Path(parts), run_id)


@task(name="marts_partition", cache_policy=NO_CACHE)
def marts_partition_task(config_path: str, agency: str, build: str, parts: str) -> dict:
    """One agency's marts in a worker's scratch file; returns the manifest of its Parquet parts."""
    return mart_parts.marts_partition(load_settings(config_path), agency, Path(build), Path(parts))


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
def marts_partitions(config_path: str, agencies: list[str], build: str, parts: str) -> list[dict]:
    """Fan out: one marts_partition task per agency on the flow's task runner (Dask)."""
    futures = [marts_partition_task.submit(config_path, a, build, parts) for a in agencies]
    return [f.result() for f in futures]


@task(name="merge_ingest", cache_policy=NO_CACHE)
def merge_ingest_task(manifest: dict) -> None:
    ingest_parts.merge_ingest(current_night().con, manifest)


@task(name="merge_marts", cache_policy=NO_CACHE)
def merge_marts_task(manifests: list[dict]) -> dict:
    st = current_night()
    return mart_parts.merge_marts(st.con, st.settings, manifests)


def ingest_all(settings: Settings, dask: DaskCluster, published: Path, parts: Path, run_id: str) -> dict:
    """Every source's manifest (or {"error": ...} for a source that failed as a whole), by source."""
    t = time.perf_counter()
    out = ingest_partitions.with_options(task_runner=dask.runner())(
        str(settings.config_path), list(settings.sources), str(published), str(parts), run_id)
    _timings("ingest", cluster_start=dask.start_s, fan_out=time.perf_counter() - t,
             **{f"worker {s}": m.get("seconds", 0.0) for s, m in out.items()})
    return out


def _timings(what: str, **seconds: float) -> None:
    """One INFO line of the scaled-out night's fixed costs (bench/scaleout_costs.py parses it)."""
    get_run_logger().info("scale-out %s timings: %s", what, ", ".join(f"{k} {v:.3f}s" for k, v in seconds.items()))


def merge_source(source: str, manifest: dict) -> tuple[list[dict], list[dict]]:
    """Merge one source's parts into the build file; its load and normalize outcomes, as a local run's."""
    if "error" in manifest:
        raise RuntimeError(manifest["error"])
    progress("source", source=source, files=len(manifest["raw"]))
    t = time.perf_counter()
    merge_ingest_task(manifest)
    _timings(f"merge {source}", merge=time.perf_counter() - t)
    for r in manifest["raw"]:
        progress("file", source=source, path=r["path"], status=r["status"])
    return manifest["raw"], manifest["normalized"]


def build_marts(dask: DaskCluster, build: Path, parts: Path) -> dict:
    """Make each agency's period and coverage on the whole build file, hand it to the workers (checkpointed
    and closed: they read it), build each agency's marts on Dask, reopen it on the night's state and merge the
    parts. Returns the row counts per mart and the as_of dates."""
    st = current_night()
    settings = st.settings
    t = [time.perf_counter()]
    mart_parts.prepare_partitions(st.con, settings)
    t.append(time.perf_counter())
    ingest_parts.checkpoint_and_close(st.con)
    t.append(time.perf_counter())
    try:
        manifests = marts_partitions.with_options(task_runner=dask.runner())(
            str(settings.config_path), list(settings.sara.agencies), str(build), str(parts))
    finally:
        w = settings.sara.warehouse
        st.con = wh.connect(build, threads=w.threads, memory_limit=w.memory_limit)
    t.append(time.perf_counter())
    counts = merge_marts_task(manifests)
    t.append(time.perf_counter())
    _timings("marts", prepare=t[1] - t[0], hand_over=t[2] - t[1], fan_out=t[3] - t[2], merge=t[4] - t[3],
             **{f"{k} {m['agency']}": v for m in manifests for k, v in (
                 ("marts", sum(m["timings"].values())), ("copy and parts", m["seconds"] - sum(m["timings"].values())))})
    return counts
