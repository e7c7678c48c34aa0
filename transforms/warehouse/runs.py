"""Run records and health: one night's row in meta.runs, its counts and status, its health artifact, runs.jsonl.

    start_run(con, ...)         the night's `running` row in meta.runs
    record_unmatched(con, ...)  landing files no source picks up -> meta.landing_unmatched (for this run)
    mart_warnings(con, run_id)  one line per mart x agency the night's marts left empty, and why
                                (meta.mart_status)
    Night                       what a night has done so far, and what it is doing now:
      .source_done / .source_failed   per-source counts from the load and normalize outcomes, held files,
                                      located and mapped shares, failed sources
      .decide()                 ok | partial | failed, and the message that says why
      .finish(con)              the meta.runs row, completed
      .health_markdown()        the text of the `nightly-health` artifact
      .result() / .log_record() what the flow returns, and its line in runs.jsonl
    StepTimer                   seconds per step of a night (the log and the artifact)
    append_run_log / record_failed_night   runs.jsonl beside the warehouse: every run, published or not
    failed_runs(settings)       the failed nights of runs.jsonl (`sara status`; they are not in the warehouse)
    discard_night(build, parts) what an unpublished night leaves: the build file and its companions, the parts
    NightFailed / failure_words / raise_if_fatal   why a night failed, in plain words

A night's `doing` is a phrase for a failure message ("disk full while loading metro_calls in ..."); its steps
are the names of its timings ("load metro_calls"). No Prefect here: flows/nightly.py calls these.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.config import Settings
from transforms.warehouse import db as wh
from transforms.warehouse.landing import unmatched_files
from transforms.warehouse.parts import remove_parts
from transforms.warehouse.sqlutil import relation_exists

# the per-source counts of a night (the health artifact, `sara run`'s table, meta.runs's totals)
SOURCE_COUNTS = ("files", "skipped", "failed", "waiting", "read", "loaded", "duplicate", "quarantined")
ROW_COUNTS = ("read", "loaded", "duplicate", "quarantined")


class StepTimer:
    """Seconds per step of a night, for the log and the health artifact."""

    def __init__(self) -> None:
        self.t = time.perf_counter()
        self.laps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.laps[step] = round(now - self.t, 3)
        self.t = now


def start_run(con: duckdb.DuckDBPyConnection, run_id: str, flow: str, started: datetime) -> None:
    """The night's row in meta.runs, `running` until finish() completes it (a published night always has it)."""
    con.execute("INSERT INTO meta.runs (run_id, flow, started_at, status) VALUES (?, ?, ?, 'running')",
                [run_id, flow, started])


def record_unmatched(con: duckdb.DuckDBPyConnection, settings: Settings, run_id: str) -> list[dict]:
    """List the landing files no source picks up in meta.landing_unmatched (for this run) and return them."""
    found = unmatched_files(settings)
    con.execute("DELETE FROM meta.landing_unmatched WHERE run_id = ?", [run_id])
    if found:
        con.executemany("INSERT INTO meta.landing_unmatched VALUES (?, ?, ?, ?, ?)",
                        [[run_id, u["folder"], u["path"], u["bytes"], u["modified_at"]] for u in found])
    return found


def mart_warnings(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """One line per mart x agency that the run's marts build left empty, with the reason (meta.mart_status;
    the category groups that match no event: one line per agency)."""
    rows = con.execute(
        """SELECT mart, agency, string_agg(reason, '; ' ORDER BY category_group) FROM meta.mart_status
           WHERE run_id = ? AND state = 'empty' GROUP BY mart, agency ORDER BY agency, mart""", [run_id]).fetchall()
    return [f"{agency}: category groups with no events: {why}" if mart == "category_groups"
            else f"{agency}: marts.{mart} is empty: {why}" for mart, agency, why in rows]


def source_health(con: duckdb.DuckDBPyConnection, source: str, kind: str) -> dict:
    """A source's events without a usable location, and its distinct codes the crosswalk does not map."""
    table = "core.calls" if kind == "calls" else "core.incidents"
    cat = "call_category" if kind == "calls" else "offense_category"
    code = "call_type_code" if kind == "calls" else "offense_code"
    unl, unm = con.execute(
        f"""SELECT count(*) FILTER (WHERE NOT is_located),
                   count(DISTINCT {code}) FILTER (WHERE {cat} = 'Unmapped')
            FROM {table} WHERE source = ?""", [source]).fetchone()
    return {"unlocated": int(unl), "unmapped": int(unm)}


def waiting_files(settings: Settings, raw_results: list[dict]) -> list[dict]:
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


def count_source(d: dict, raw_results: list[dict], norm_results: list[dict]) -> None:
    """Add one source's load outcomes (files) and normalize outcomes (rows) to its counts."""
    for r in raw_results:
        d["files"] += 1
        d["skipped"] += r["status"] == "skipped"
        d["failed"] += r["status"] == "failed"
        d["waiting"] += r["status"] == "waiting"
    for r in norm_results:
        d["failed"] += r["status"] == "failed"
        if r["status"] == "loaded":
            for k in ROW_COUNTS:
                d[k] += r[f"rows_{k}"]


@dataclass
class Night:
    """One night's record while it runs, and the status, message and records it ends with."""

    settings: Settings
    run_id: str
    flow: str = "nightly"  # or "rebuild"
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    doing: str = ""  # what the night is doing now, for a failure message ("disk full while <doing> in ...")
    timer: StepTimer = field(default_factory=StepTimer)
    per_source: dict[str, dict] = field(default_factory=dict)
    failed_sources: list[str] = field(default_factory=list)
    waiting: list[dict] = field(default_factory=list)
    unmatched: list[dict] = field(default_factory=list)
    audits: list[dict] = field(default_factory=list)
    mart_counts: dict = field(default_factory=dict)
    mart_warnings: list[str] = field(default_factory=list)
    marts_error: str | None = None
    area_warnings: list[dict] = field(default_factory=list)  # [{"agency", "warning"}] (marts.study_area)
    status: str = "ok"
    message: str = ""

    @property
    def rebuild(self) -> bool:
        return self.flow == "rebuild"

    def lap(self, step: str) -> None:
        self.timer.lap(step)

    def counts(self, source: str) -> dict:
        return self.per_source.setdefault(source, dict.fromkeys(SOURCE_COUNTS, 0))

    def source_failed(self, source: str, exc: BaseException) -> None:
        """A source whose load or normalize raised: the night goes on without it (partial)."""
        d = self.counts(source)
        self.failed_sources.append(source)
        d["failed"] += 1
        d["error"] = str(exc)

    def source_done(self, con: duckdb.DuckDBPyConnection, source: str, raw_results: list[dict],
                    norm_results: list[dict]) -> None:
        d = self.counts(source)
        count_source(d, raw_results, norm_results)
        self.waiting += waiting_files(self.settings, raw_results)
        d.update(source_health(con, source, self.settings.sources[source].kind))
        if d["failed"]:
            self.failed_sources.append(source)

    def failed_audits(self, severity: str) -> list[dict]:
        return [a for a in self.audits if a["severity"] == severity and a["status"] == "fail"]

    def decide(self) -> str:
        """ok, partial (a source with a failed load, or a file still being written) or failed (an error audit,
        or marts that could not be built: not published); sets and returns the status, and sets the message."""
        err = self.failed_audits("error")
        if err:
            self.status = "failed"
            self.message = "error audit(s) failed: " + ", ".join(f"{a['name']} ({a['rows']} rows)" for a in err)
        elif self.marts_error:
            self.status = "failed"
            self.message = f"marts failed: {self.marts_error}"
        elif self.failed_sources or self.waiting:
            # NOTE: a held file makes the night partial: what is published lacks a delivery that is there
            self.status = "partial"
            why = []
            if self.failed_sources:
                why.append("source(s) with failed loads: " + ", ".join(sorted(set(self.failed_sources))))
            if self.waiting:
                why.append(f"{len(self.waiting)} file(s) still being written, held for the next night: "
                           + ", ".join(sorted({w['source'] for w in self.waiting})))
            self.message = "; ".join(why)
        return self.status

    def finish(self, con: duckdb.DuckDBPyConnection) -> None:
        """Complete the night's meta.runs row: status, counts, failed audits, message."""
        per = self.per_source.values()
        totals = {k: sum(d[k] for d in per) for k in ROW_COUNTS}
        failed = len(set(self.failed_sources))
        con.execute(
            """UPDATE meta.runs SET finished_at = ?, status = ?, sources_ok = ?, sources_failed = ?,
                 files_loaded = ?, files_skipped = ?, files_waiting = ?, rows_read = ?, rows_loaded = ?,
                 rows_duplicate = ?, rows_quarantined = ?, audits_failed_error = ?, audits_failed_warn = ?,
                 message = ?
               WHERE run_id = ?""",
            [datetime.now(UTC), self.status, len(self.settings.sources) - failed, failed,
             sum(d["files"] - d["skipped"] - d["failed"] - d.get("waiting", 0) for d in per),
             sum(d["skipped"] for d in per), len(self.waiting), totals["read"], totals["loaded"],
             totals["duplicate"], totals["quarantined"], len(self.failed_audits("error")),
             len(self.failed_audits("warn")), self.message or None, self.run_id],
        )
        # the CompStat figures the marts build kept for this night (transforms/marts/restatements.py) are
        # published when it is: their publication time is the run's
        if relation_exists(con, "meta", "published_compstat"):
            con.execute("UPDATE meta.published_compstat SET published_at = (SELECT finished_at FROM meta.runs "
                        "WHERE run_id = $1) WHERE run_id = $1", [self.run_id])

    def health_markdown(self) -> str:
        """The `nightly-health` artifact: counts per source, held and unmatched files, audits, the seconds per
        step so far and the mart sizes."""
        lines = [f"# sara nightly run {self.run_id}: **{self.status}**", "",
                 "| source | files | skipped | failed | waiting | read | loaded | duplicate | quarantined "
                 "| unlocated | unmapped codes |",
                 "|---|---|---|---|---|---|---|---|---|---|---|"]
        for src, d in self.per_source.items():
            lines.append(f"| {src} | {d['files']} | {d['skipped']} | {d['failed']} | {d.get('waiting', 0)} | "
                         f"{d['read']} | {d['loaded']} | {d['duplicate']} | {d['quarantined']} | "
                         f"{d.get('unlocated', 0)} | {d.get('unmapped', 0)} |")
        if self.waiting:
            lines += ["", "**Held: still being written** (not loaded; tried again next run)", "",
                      "| source | file | why |", "|---|---|---|"]
            lines += [f"| {w['source']} | {_md(w['file'])} | {_md(w['why'])} |" for w in self.waiting]
        if self.unmatched:
            lines += ["", "**Files not picked up (matches no pattern)**: rename the file or fix the source's "
                      "file_pattern", "", "| file | bytes | modified (UTC) |", "|---|---|---|"]
            lines += [f"| {_md(u['path'])} | {u['bytes']} | {u['modified_at']:%Y-%m-%d %H:%M} |"
                      for u in self.unmatched]
        lines += ["", "| audit | severity | rows | status |", "|---|---|---|---|"]
        for a in self.audits:
            lines.append(f"| {a['name']} | {a['severity']} | {a['rows']} | {a['status']} |")
        md = "\n".join(lines)
        md += "\n\n| step | seconds |\n|---|---|\n" + "".join(
            f"| {k} | {v:.2f} |\n" for k, v in self.timer.laps.items())
        if self.area_warnings:
            md += "\n\n**Warnings about the analysis**\n\n" + "".join(
                f"- {w['agency']}: {_md(w['warning'])}\n" for w in self.area_warnings)
        if self.mart_counts:
            md += "\n\n| mart | rows |\n|---|---|\n" + "".join(f"| {k} | {v} |\n" for k, v in self.mart_counts.items())
        if self.mart_warnings:
            md += "\n\n**Empty marts** (why: meta.mart_status)\n\n" + "".join(f"- {_md(w)}\n" for w in self.mart_warnings)
        return md

    def result(self, published: Path, report: str | None, set_aside: Path | None) -> dict:
        """What the nightly flow returns (and `sara run` prints)."""
        return {"run_id": self.run_id, "status": self.status, "message": self.message, "sources": self.per_source,
                "waiting": self.waiting, "unmatched": [{**u, "modified_at": u["modified_at"].isoformat()}
                                                       for u in self.unmatched],
                "timings": self.timer.laps, "marts": self.mart_counts, "mart_warnings": self.mart_warnings,
                "area_warnings": self.area_warnings,
                "report": report, "audits": self.audits,
                "warehouse": str(published), "published": self.status != "failed",
                "set_aside": str(set_aside) if set_aside else None}

    def log_record(self, **extra) -> dict:
        """The night's line in runs.jsonl (status and message as decided, unless given)."""
        return {"run_id": self.run_id, "started_at": self.started, "finished_at": datetime.now(UTC),
                "status": self.status, "message": self.message, "config": str(self.settings.config_path), **extra}


def _md(text: str) -> str:
    """Text for a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def run_log_path(settings: Settings) -> Path:
    return settings.warehouse_path.with_name("runs.jsonl")


def append_run_log(settings: Settings, record: dict) -> None:
    """Every run, published or not, is logged beside the warehouse (the failed ones cannot be in it)."""
    path = run_log_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(record, default=str) + "\n")


def record_failed_night(settings: Settings, record: dict, log) -> str:
    """Append a failed night to runs.jsonl. The night's leftovers are removed before this, so a full disk
    has room for one line again; if even that cannot be written, the reason is returned for the error
    message (the CLI prints it and exits 1 all the same)."""
    try:
        append_run_log(settings, record)
        return ""
    except OSError as exc:
        log.error("could not record the failed night in runs.jsonl: %s", exc)
        return f" (it could not be recorded in {run_log_path(settings)} either: {exc})"


def failed_runs(settings: Settings, last: int = 3) -> list[dict]:
    """The last failed nights in runs.jsonl: never published, so the warehouse cannot show them."""
    log = run_log_path(settings)
    if not log.is_file():
        return []
    failed = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            rec = json.loads(line)
        except ValueError:  # a line cut short (a disk that filled up): skip it
            continue
        if isinstance(rec, dict) and rec.get("status") == "failed":
            failed.append(rec)
    return failed[-last:]


def discard_night(build: Path, parts: Path) -> int:
    """Remove what a night that will not be published leaves: its Dask parts, then the build file with its WAL,
    spill folder and half-made copy. Returns the bytes of the build files freed."""
    remove_parts(parts)
    return wh.discard_build(build)


def start_afresh(settings: Settings) -> None:
    """A project with no night yet (the demo starts so): every source's landing folder, the warehouse and the
    files beside it, and runs.jsonl are removed. The lock file stays: a run in progress keeps its claim."""
    for src in settings.sources:
        shutil.rmtree(settings.source_landing(src), ignore_errors=True)
    wpath = settings.warehouse_path
    for p in wpath.parent.glob(wpath.name + "*"):
        if not p.name.endswith(".lock"):
            p.unlink()
    log = run_log_path(settings)
    if log.exists():
        log.unlink()


class NightFailed(RuntimeError):
    """A night that was not published, with the reason in plain words."""


def raise_if_fatal(exc: Exception) -> None:
    """A full disk or a damaged warehouse ends the night at once: every later step would fail the same way."""
    if wh.out_of_space(exc) or wh.looks_corrupt(exc) or isinstance(exc, wh.WarehouseCorrupt):
        raise exc


def failure_words(exc: BaseException, doing: str, published: Path) -> str:
    """The reason a night failed, in plain words, for runs.jsonl, `sara status` and the CLI."""
    if isinstance(exc, wh.WarehouseCorrupt):
        return str(exc)
    if wh.looks_corrupt(exc):  # the build is a copy of the published file: a bad block there is a bad block here
        return str(wh.WarehouseCorrupt(published, f"DuckDB while {doing}: {exc}"))
    space = wh.out_of_space(exc)
    if space:
        return (f"{space} while {doing} in {published.parent}: nothing was published and the night's files were "
                f"removed; free space there and run again ({type(exc).__name__}: {exc})")
    if isinstance(exc, KeyboardInterrupt):
        return f"interrupted while {doing}"
    return str(exc) if isinstance(exc, NightFailed) else f"{type(exc).__name__} while {doing}: {exc}"
