"""The DuckDB warehouse file: connections, the schema, and build-then-publish.

Writers never touch the published file. A night copies it to `<name>.build`, writes there,
checkpoints, and publishes with one atomic `os.replace`. Readers (analysts, `sara query`,
exports) open the published file read-only, so they see the last complete night or the new
one, never a mixture. On POSIX a reader that already has the old file open keeps reading the
old inode until it reconnects. On Windows a file held open by another program blocks the rename.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"


def spatial_extension_path() -> Path:
    """The spatial extension shipped in the duckdb-extension-spatial wheel (never a network INSTALL)."""
    import duckdb_extension_spatial

    p = (
        Path(duckdb_extension_spatial.__file__).parent
        / "extensions"
        / f"v{duckdb.__version__}"
        / "spatial.duckdb_extension"
    )
    if not p.is_file():
        raise RuntimeError(
            f"DuckDB spatial extension not found at {p}: duckdb and duckdb-extension-spatial versions must match"
        )
    return p


def load_spatial(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"LOAD '{spatial_extension_path()}'")


def connect(path: Path | str, read_only: bool = False, threads: int | None = None,
            memory_limit: str | None = None, spatial: bool = True) -> duckdb.DuckDBPyConnection:
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false"}
    if threads:
        config["threads"] = str(threads)
    if memory_limit:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    # a missing table must be an error, never a Python variable of the same name picked up by DuckDB
    con.execute("SET python_enable_replacements = false")
    if spatial:
        load_spatial(con)
    return con


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create or update the schema and the data dictionary; a no-op when schema.sql has not changed."""
    import hashlib

    text = (SQL_DIR / "schema.sql").read_text(encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        if con.execute("SELECT sha256 FROM meta.schema_info").fetchone() == (digest,):
            return
    except duckdb.CatalogException:
        pass
    con.execute(text)
    con.execute("CREATE OR REPLACE TABLE meta.schema_info (sha256 VARCHAR, applied_at TIMESTAMPTZ)")
    con.execute("COMMENT ON TABLE meta.schema_info IS 'the version of sql/schema.sql last applied to this file'")
    con.execute("COMMENT ON COLUMN meta.schema_info.sha256 IS 'sha256 of sql/schema.sql'")
    con.execute("COMMENT ON COLUMN meta.schema_info.applied_at IS 'when it was applied, UTC'")
    con.execute("INSERT INTO meta.schema_info VALUES (?, now())", [digest])


class WarehouseBusy(RuntimeError):
    """Another run is writing this warehouse."""


@contextmanager
def run_lock(published: Path) -> Iterator[None]:
    """One writer at a time: an exclusive lock file beside the warehouse, released when the process dies.

    A second run fails at once with a clear message instead of fighting over the build file. The lock
    is an OS file lock (flock), so a run killed with SIGKILL leaves no stale lock behind.
    """
    import fcntl

    published.parent.mkdir(parents=True, exist_ok=True)
    lock = published.with_name(published.name + ".lock")
    fh = open(lock, "a+")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            raise WarehouseBusy(f"{published} is being built by {holder}; try again when that run ends") from None
        fh.seek(0)
        fh.truncate()
        fh.write(f"pid {os.getpid()}")
        fh.flush()
        yield
    finally:
        fh.close()


def build_path(published: Path) -> Path:
    return published.with_name(published.name + ".build")


@contextmanager
def open_published(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only connection to the published warehouse."""
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `sara run` or `sara demo` first")
    con = connect(path, read_only=True)
    try:
        yield con
    finally:
        con.close()


def start_build(published: Path) -> Path:
    """Make a fresh build copy of the published warehouse (or an empty one).

    A leftover build file from a killed run is discarded: it was never published, and the
    run that made it is repeated from the published state.
    """
    build = build_path(published)
    build.parent.mkdir(parents=True, exist_ok=True)
    for leftover in (build, build.with_name(build.name + ".wal")):
        if leftover.exists():
            leftover.unlink()
    if published.exists():
        tmp = build.with_name(build.name + ".copying")
        shutil.copyfile(published, tmp)
        os.replace(tmp, build)
    return build


def publish(build: Path, published: Path) -> None:
    """Atomically replace the published file with the checkpointed build file."""
    con = duckdb.connect(str(build))
    try:
        con.execute("CHECKPOINT")
    finally:
        con.close()
    wal = build.with_name(build.name + ".wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise RuntimeError(f"{wal} not empty after checkpoint; refusing to publish")
    fd = os.open(build, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(build, published)
    dfd = os.open(published.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def discard_build(build: Path) -> None:
    for p in (build, build.with_name(build.name + ".wal")):
        if p.exists():
            p.unlink()
