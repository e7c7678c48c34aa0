"""Load files of one source into the build warehouse: discover, raw load, normalize, record meta.loads.

No Prefect here: flows/ wraps these functions as tasks. Each step runs in its own transaction, so
a failed file leaves nothing behind but a `failed` row in meta.loads with the reason, and a file still
being written leaves a `waiting` row (one per path, replaced each run) and is tried again next run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.config import Settings, SourceConfig
from transforms.warehouse.files import LoadError, extract_time_from_name, file_mtime_utc, file_sha256
from transforms.warehouse.landing import StillBeingWritten, candidates, cut, marker_path, refusal, stamp
from transforms.warehouse.normalize import drop_temp, normalize_load
from transforms.warehouse.readers import check_columns, drop_staged, stage_file, write_raw
from transforms.warehouse.sqlutil import qident, relation_exists

log = logging.getLogger("sara.loader")


@dataclass
class FileOutcome:
    source: str
    path: str
    load_id: str | None
    status: str  # raw | loaded | skipped | failed | waiting (still being written; tried again next run)
    message: str = ""
    rows_read: int = 0
    rows_loaded: int = 0
    rows_duplicate: int = 0
    rows_quarantined: int = 0


def discover_files(settings: Settings, source: str) -> list[Path]:
    """Deliveries waiting in data/landing/<source>/ (file_pattern, less dotfiles, *.part and ready markers),
    oldest extract first."""
    src = settings.sources[source]
    files, _ = candidates(settings, source)

    def key(p: Path):
        try:
            t = extract_time_from_name(src, p)
        except LoadError:
            t = None
        if t is None:
            try:
                t = file_mtime_utc(p)
            except OSError:  # a broken symlink: refused when loaded
                t = datetime.fromtimestamp(p.lstat().st_mtime, tz=UTC)
        return (t, p.name)

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


BEFORE_COMMIT_HOOK: Callable[[Path], None] | None = None  # tests: act on the file after it was read


def _path_id(source: str, kind: str, path: Path) -> str:
    """The load id of a file refused or held before its bytes count: one per path, so each run replaces it."""
    return f"{source}:{kind}:{hashlib.sha256(str(path).encode()).hexdigest()[:12]}"


def load_raw_file(con: duckdb.DuckDBPyConnection, settings: Settings, source: str, path: Path,
                  run_id: str) -> FileOutcome:
    """Raw load of one file: skip known bytes, else raw.<source> + reader rejects into quarantine.

    Before any byte is read, the file must resolve inside its landing folder or an allowed root (else a
    `failed` load that names the path) and its ready marker, if the source has one, must be there (else
    `waiting`). A file that changes while it is read, or a plain CSV whose last record has no line end, is
    `waiting` too: nothing of it is kept, and the next run tries again."""
    src = settings.sources[source]
    reason = refusal(settings, source, path)
    if reason is not None:
        load_id = _path_id(source, "refused", path)
        record_failure(con, load_id, source, path, "", run_id, reason, size=path.lstat().st_size)
        return FileOutcome(source, str(path), load_id, "failed", reason)
    marker = marker_path(src, path)
    if marker is not None and not marker.exists():
        return record_waiting(con, source, path, run_id, f"{path}: its ready marker {marker.name} is not there yet")
    before = stamp(path)
    sha = file_sha256(path)
    load_id = f"{source}:{sha[:16]}"
    prior = con.execute(
        "SELECT load_id, source, path, status FROM meta.loads WHERE sha256 = ? AND status IN ('raw', 'loaded')",
        [sha],
    ).fetchone()
    if prior:
        _forget_waiting(con, source, path)
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
        con.execute("DELETE FROM meta.loads WHERE load_id IN (?, ?)",  # a failed earlier try; a held one
                    [load_id, _path_id(source, "waiting", path)])
        write_raw(con, source, tag, load_id, result.columns)
        for r in result.rejects:
            con.execute(
                "INSERT INTO core.quarantine VALUES (?, ?, ?, ?, to_json({'line': ?}))",
                [load_id, source, r.row, r.reason, r.raw_text[:10000]],
            )
        con.execute(
            """INSERT INTO meta.loads (load_id, source, path, sha256, bytes, extract_at, rows_read, rows_loaded,
                 rows_duplicate, rows_quarantined, loaded_at, run_id, status, file_columns, file_records)
               VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, 'raw', ?, ?)""",
            [load_id, source, str(path), sha, before[1], extract_at, result.rows_read,
             len(result.rejects), now, run_id, json.dumps(result.columns), result.file_records],
        )
        if BEFORE_COMMIT_HOOK is not None:
            BEFORE_COMMIT_HOOK(path)
        if stamp(path) != before:
            raise StillBeingWritten(f"{path}: the file changed while it was read (size, modification time or "
                                    f"inode); it is read again once it stays the same")
        con.execute("COMMIT")
        return FileOutcome(source, str(path), load_id, "raw", rows_read=result.rows_read,
                           rows_quarantined=len(result.rejects))
    except StillBeingWritten as exc:
        if in_tx:
            con.execute("ROLLBACK")
        return record_waiting(con, source, path, run_id, str(exc), sha)
    except OSError:
        if in_tx:
            con.execute("ROLLBACK")
        raise  # I/O: the caller's task retries
    except Exception as exc:
        if in_tx:
            con.execute("ROLLBACK")
        log.debug("load of %s failed", path, exc_info=True)
        msg = str(exc) if isinstance(exc, LoadError) else f"{path}: {type(exc).__name__}: {cut(str(exc), 500)}"
        record_failure(con, load_id, source, path, sha, run_id, msg)
        return FileOutcome(source, str(path), load_id, "failed", msg)
    finally:
        drop_staged(con, tag)


def record_waiting(con: duckdb.DuckDBPyConnection, source: str, path: Path, run_id: str, why: str,
                   sha: str = "") -> FileOutcome:
    """A file still being written: one `waiting` row per path (replaced each run, removed once the file
    loads or fails), never matched by the sha256 dedupe, never normalized."""
    load_id = _path_id(source, "waiting", path)
    msg = f"still being written: {why}"
    con.execute("BEGIN TRANSACTION")
    con.execute("DELETE FROM meta.loads WHERE load_id = ?", [load_id])
    con.execute(
        """INSERT INTO meta.loads (load_id, source, path, sha256, bytes, extract_at, rows_read, rows_loaded,
             rows_duplicate, rows_quarantined, loaded_at, run_id, status, message)
           VALUES (?, ?, ?, ?, ?, NULL, 0, 0, 0, 0, ?, ?, 'waiting', ?)""",
        [load_id, source, str(path), sha, path.stat().st_size if path.exists() else 0, datetime.now(UTC),
         run_id, msg[:4000]],
    )
    con.execute("COMMIT")
    log.info("%s", msg)
    return FileOutcome(source, str(path), load_id, "waiting", msg)


def _forget_waiting(con: duckdb.DuckDBPyConnection, source: str, path: Path) -> None:
    con.execute("DELETE FROM meta.loads WHERE load_id = ?", [_path_id(source, "waiting", path)])


def forget_vanished(con: duckdb.DuckDBPyConnection, settings: Settings, source: str) -> None:
    """Drop the `waiting` rows of files that are no longer in the landing folder (removed or renamed)."""
    present = {str(p) for p in discover_files(settings, source)}
    rows = con.execute("SELECT load_id, path FROM meta.loads WHERE source = ? AND status = 'waiting'",
                       [source]).fetchall()
    gone = [load_id for load_id, path in rows if path not in present]
    if gone:
        con.execute("DELETE FROM meta.loads WHERE load_id IN (SELECT unnest(?))", [gone])


def fail_file(con: duckdb.DuckDBPyConnection, source: str, path: Path, run_id: str,
              exc: BaseException) -> FileOutcome:
    """A file whose load raised even after its retries (I/O): record it as failed, by the hash of whatever
    bytes are there, so the night goes on with the next file."""
    sha = file_sha256(path) if path.exists() else "missing"
    msg = f"{path}: {type(exc).__name__}: {exc}"
    record_failure(con, f"{source}:{sha[:16]}", source, path, sha, run_id, msg)
    return FileOutcome(source, str(path), None, "failed", msg)


# The one retry policy for a file load, in a local run and on a Dask worker alike: load_raw_file records every
# bad file itself and raises only OSError (a file system or network share that hiccups), which is tried again
# LOAD_RETRIES times, LOAD_RETRY_DELAY_S apart; a file that still raises is recorded as `failed` and the night
# goes on with the next one. Any other error is not retried: it fails the source (or, a full disk or a damaged
# warehouse, the night).
LOAD_RETRIES = 2
LOAD_RETRY_DELAY_S = 2.0


def load_with_retries(con: duckdb.DuckDBPyConnection, settings: Settings, source: str, path: Path,
                      run_id: str) -> FileOutcome:
    """load_raw_file under the retry policy above."""
    from time import sleep

    for _ in range(LOAD_RETRIES):
        try:
            return load_raw_file(con, settings, source, path, run_id)
        except OSError:
            sleep(LOAD_RETRY_DELAY_S)
    try:
        return load_raw_file(con, settings, source, path, run_id)
    except OSError as exc:
        return fail_file(con, source, path, run_id, exc)


def record_failure(con, load_id: str, source: str, path: Path, sha: str, run_id: str, msg: str,
                   size: int | None = None) -> None:
    if size is None:
        size = path.stat().st_size if path.exists() else 0
    con.execute("BEGIN TRANSACTION")
    if relation_exists(con, "raw", source):
        con.execute(f"DELETE FROM raw.{qident(source)} WHERE _load_id = ?", [load_id])
    con.execute("DELETE FROM core.quarantine WHERE load_id = ?", [load_id])
    con.execute("DELETE FROM meta.loads WHERE load_id IN (?, ?)", [load_id, _path_id(source, "waiting", path)])
    con.execute(
        """INSERT INTO meta.loads (load_id, source, path, sha256, bytes, extract_at, rows_read, rows_loaded,
             rows_duplicate, rows_quarantined, loaded_at, run_id, status, message)
           VALUES (?, ?, ?, ?, ?, NULL, 0, 0, 0, 0, ?, ?, 'failed', ?)""",
        [load_id, source, str(path), sha, size, datetime.now(UTC), run_id, msg[:4000]],
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
