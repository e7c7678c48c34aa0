"""Load files of one source into the build warehouse: discover, raw load, normalize, record meta.loads.

No Prefect here: flows/ wraps these functions as tasks. Each step runs in its own transaction, so
a failed file leaves nothing behind but a `failed` row in meta.loads with the reason.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.config import Settings, SourceConfig
from transforms.ingest import (
    LoadError,
    check_columns,
    drop_staged,
    extract_time_from_name,
    file_mtime_utc,
    file_sha256,
    stage_file,
    write_raw,
)
from transforms.normalize import drop_temp, normalize_load
from transforms.sqlutil import qident, relation_exists

log = logging.getLogger("sara.loader")


@dataclass
class FileOutcome:
    source: str
    path: str
    load_id: str | None
    status: str  # raw | loaded | skipped | failed
    message: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0


def discover_files(settings: Settings, source: str) -> list[Path]:
    """Files waiting in data/landing/<source>/ matching the source's file_pattern, oldest extract first."""
    src = settings.sources[source]
    landing = settings.source_landing(source)
    if not landing.is_dir():
        return []
    files = [p for p in landing.glob(src.file_pattern) if p.is_file() and not p.name.startswith(".")
             and not p.name.endswith(".part")]

    def key(p: Path):
        try:
            t = extract_time_from_name(src, p)
        except LoadError:
            t = None
        return (t or file_mtime_utc(p), p.name)

    return sorted(files, key=key)


def _extract_at(con: duckdb.DuckDBPyConnection, src: SourceConfig, path: Path, tag: str) -> datetime:
    spec = src.extract_at
    if spec is not None and spec.filename_pattern:
        return extract_time_from_name(src, path)
    if spec is not None and spec.column:
        val = con.execute(
            f"SELECT max(try_strptime(trim({qident(spec.column)}), ?)) FROM _raw_{tag}", [spec.format]
        ).fetchone()[0]
        if val is None:
            raise LoadError(f"{path}: extract_at column {spec.column!r} has no value matching {spec.format!r}")
        from zoneinfo import ZoneInfo

        return val.replace(tzinfo=ZoneInfo(spec.timezone or src.timezone)).astimezone(UTC)
    # NOTE: without a declared extract time the file's modification time orders versions
    return file_mtime_utc(path)


def load_raw_file(con: duckdb.DuckDBPyConnection, settings: Settings, source: str, path: Path,
                  run_id: str) -> FileOutcome:
    """Raw load of one file: skip known bytes, else raw.<source> + reader rejects into quarantine."""
    src = settings.sources[source]
    sha = file_sha256(path)
    load_id = f"{source}:{sha[:16]}"
    prior = con.execute(
        "SELECT load_id, source, path, status FROM meta.loads WHERE sha256 = ? AND status IN ('raw', 'loaded')",
        [sha],
    ).fetchone()
    if prior:
        return FileOutcome(source, str(path), prior[0], "skipped",
                           f"same bytes (sha256 {sha[:12]}) already loaded as {prior[2]}")
    tag = uuid.uuid4().hex[:10]
    now = datetime.now(UTC)
    in_tx = False
    try:
        # the file is read into session temp tables first; the transaction covers only the writes
        result = stage_file(con, path, src, tag)
        check_columns(path, src, result.columns)
        extract_at = _extract_at(con, src, path, tag)
        con.execute("BEGIN TRANSACTION")
        in_tx = True
        con.execute("DELETE FROM meta.loads WHERE load_id = ?", [load_id])  # a failed earlier try
        write_raw(con, source, tag, load_id, result.columns)
        for r in result.rejects:
            con.execute(
                "INSERT INTO core.quarantine VALUES (?, ?, ?, ?, to_json({'line': ?}))",
                [load_id, source, r.row, r.reason, r.raw_text[:10000]],
            )
        con.execute(
            """INSERT INTO meta.loads (load_id, source, path, sha256, bytes, extract_at, rows_read, rows_loaded,
                 rows_duplicate, rows_quarantined, loaded_at, run_id, status, file_columns)
               VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, 'raw', ?)""",
            [load_id, source, str(path), sha, path.stat().st_size, extract_at, result.rows_read,
             len(result.rejects), now, run_id, json.dumps(result.columns)],
        )
        con.execute("COMMIT")
        return FileOutcome(source, str(path), load_id, "raw", rows_read=result.rows_read,
                           rows_quarantined=len(result.rejects))
    except OSError:
        if in_tx:
            con.execute("ROLLBACK")
        raise  # I/O: the caller's task retries
    except Exception as exc:
        if in_tx:
            con.execute("ROLLBACK")
        log.debug("load of %s failed", path, exc_info=True)
        msg = str(exc) if isinstance(exc, LoadError) else f"{path}: {type(exc).__name__}: {exc}"
        record_failure(con, load_id, source, path, sha, run_id, msg)
        return FileOutcome(source, str(path), load_id, "failed", msg)
    finally:
        drop_staged(con, tag)


def fail_file(con: duckdb.DuckDBPyConnection, source: str, path: Path, run_id: str,
              exc: BaseException) -> FileOutcome:
    """A file whose load raised even after its retries (I/O): record it as failed, by the hash of whatever
    bytes are there, so the night goes on with the next file."""
    sha = file_sha256(path) if path.exists() else "missing"
    msg = f"{path}: {type(exc).__name__}: {exc}"
    record_failure(con, f"{source}:{sha[:16]}", source, path, sha, run_id, msg)
    return FileOutcome(source, str(path), None, "failed", msg)


def record_failure(con, load_id: str, source: str, path: Path, sha: str, run_id: str, msg: str) -> None:
    con.execute("BEGIN TRANSACTION")
    if relation_exists(con, "raw", source):
        con.execute(f"DELETE FROM raw.{qident(source)} WHERE _load_id = ?", [load_id])
    con.execute("DELETE FROM core.quarantine WHERE load_id = ?", [load_id])
    con.execute("DELETE FROM meta.loads WHERE load_id = ?", [load_id])
    con.execute(
        """INSERT INTO meta.loads (load_id, source, path, sha256, bytes, extract_at, rows_read, rows_loaded,
             rows_duplicate, rows_quarantined, loaded_at, run_id, status, message)
           VALUES (?, ?, ?, ?, ?, NULL, 0, 0, 0, 0, ?, ?, 'failed', ?)""",
        [load_id, source, str(path), sha, path.stat().st_size if path.exists() else 0, datetime.now(UTC),
         run_id, msg[:4000]],
    )
    con.execute("COMMIT")


def pending_loads(con: duckdb.DuckDBPyConnection, source: str) -> list[tuple]:
    return con.execute(
        """SELECT load_id, path, sha256, extract_at, rows_read, rows_quarantined, file_columns, run_id
           FROM meta.loads WHERE source = ? AND status = 'raw' ORDER BY extract_at, path""",
        [source],
    ).fetchall()


def normalize_pending(con: duckdb.DuckDBPyConnection, settings: Settings, source: str,
                      run_id: str) -> list[FileOutcome]:
    """Normalize every raw-loaded file of a source into core, oldest extract first."""
    src = settings.sources[source]
    outcomes = []
    for load_id, path, sha, extract_at, rows_read, n_rejects, columns, _ in pending_loads(con, source):
        now = datetime.now(UTC)
        in_tx: list[bool] = []

        def begin(in_tx: list[bool] = in_tx) -> None:
            con.execute("BEGIN TRANSACTION")
            in_tx.append(True)

        try:
            res = normalize_load(con, src, settings, load_id, json.loads(columns), int(n_rejects or 0),
                                 extract_at, now, begin=begin)
            if res.rows_read != rows_read:
                raise RuntimeError(f"{path}: {res.rows_read} rows normalized but {rows_read} were read")
            con.execute(
                """UPDATE meta.loads SET rows_loaded = ?, rows_duplicate = ?, rows_quarantined = ?,
                     status = 'loaded', loaded_at = ?, run_id = ?, message = NULL WHERE load_id = ?""",
                [res.rows_loaded, res.rows_duplicate, res.rows_quarantined, now, run_id, load_id],
            )
            con.execute("COMMIT")
            outcomes.append(FileOutcome(source, path, load_id, "loaded", "", res.rows_read, res.rows_loaded,
                                        res.rows_duplicate, res.rows_quarantined))
        except Exception as exc:
            if in_tx:
                con.execute("ROLLBACK")
            log.warning("normalize of %s failed", path, exc_info=True)
            msg = f"{path}: normalize failed: {type(exc).__name__}: {exc}"
            record_failure(con, load_id, source, Path(path), sha, run_id, msg)
            outcomes.append(FileOutcome(source, path, load_id, "failed", msg))
        finally:
            drop_temp(con)
    return outcomes
