"""The DuckDB warehouse file: connections, the schema, and build-then-publish.

Writers never touch the published file. A night copies it to `<name>.build`, writes there,
checkpoints, and publishes with one atomic `os.replace`. Readers (analysts, `sara query`,
exports) open the published file read-only, so they see the last complete night or the new
one, never a mixture. On POSIX a reader that already has the old file open keeps reading the
old inode until it reconnects. On Windows a file held open by another program blocks the rename.

Faults an operator recovers from (README "Recover"):
- A published file that cannot be read (truncated, overwritten, damaged) is detected when it is opened and
  raised as `WarehouseCorrupt`, whose message names the file and the recovery (`sara rebuild`).
- A disk that fills up during a night (`out_of_space`) leaves the published file untouched; the night's
  leftovers (`leftovers`) are removed at the end of the failed run and again at the start of the next.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.warehouse.dst import LOCAL_TIME_MACROS
from transforms.warehouse.sqlutil import qident, qstr, relation_columns

SQL_DIR = Path(__file__).resolve().parents[2] / "sql"

# Columns renamed since a release (schema, table, old name, new name): a warehouse file made before the rename
# has the column renamed in place when the new schema is applied, so its rows keep their values.
RENAMED_COLUMNS = [("core", "calls", "n_units", "n_responding_units")]


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
    """LOAD the spatial extension on any connection; DuckDB checks its signature (see verify_spatial)."""
    con.execute(f"LOAD '{spatial_extension_path()}'")


# (path, device, inode, size, mtime) of the extension file whose signature DuckDB checked in this process
_verified: tuple | None = None


def _file_identity(p: Path) -> tuple:
    st = p.stat()
    return (str(p), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def verify_spatial() -> Path:
    """The spatial extension's path, its signature checked by DuckDB once in this process.

    NOTE: DuckDB checks an extension's signature on every LOAD by hashing the whole file (80 MB for spatial):
    0.3-0.6 s per connection here, and a night opens several. The check is done once per process, by a signed
    LOAD on a throwaway in-memory database; connect() then loads that same file (same inode, size and mtime)
    with the check off and turns unsigned extensions off again at once, so no other extension can be loaded
    unsigned on a warehouse connection. A command that will open the warehouse can call it early, where it
    overlaps other work (`sara demo` waits for its Prefect API)."""
    global _verified
    p = spatial_extension_path()
    ident = _file_identity(p)
    if _verified != ident:
        probe = duckdb.connect(":memory:", config={"autoinstall_known_extensions": "false",
                                                  "autoload_known_extensions": "false"})
        try:
            load_spatial(probe)  # raises when the signature is missing or wrong
        finally:
            probe.close()
        _verified = ident
    return p


def connect(path: Path | str, read_only: bool = False, threads: int | None = None,
            memory_limit: str | None = None, spatial: bool = True) -> duckdb.DuckDBPyConnection:
    # every connection of the process has the same config (DuckDB refuses a second connection to an open file
    # with another one); allow_unsigned_extensions is set back to false right after the LOAD below
    config = {"autoinstall_known_extensions": "false", "autoload_known_extensions": "false",
              "allow_unsigned_extensions": "true"}
    if threads:
        config["threads"] = str(threads)
    if memory_limit:
        config["memory_limit"] = memory_limit
    ext = verify_spatial() if spatial else None
    con = duckdb.connect(str(path), read_only=read_only, config=config)
    try:
        if ext is not None:
            con.execute(f"LOAD '{ext}'")
        con.execute("SET allow_unsigned_extensions = false")
    except BaseException:
        con.close()
        raise
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET enable_progress_bar = false")
    # a missing table must be an error, never a Python variable of the same name picked up by DuckDB
    con.execute("SET python_enable_replacements = false")
    con.execute(LOCAL_TIME_MACROS)  # UTC -> local wall clock (dst.py)
    return con


def apply_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create or update the schema and the data dictionary; a no-op when neither file has changed."""
    import hashlib

    # sql/schema.sql, then the version history's tables and macros (kept apart: schema.sql is at the line limit)
    text = "\n".join((SQL_DIR / f).read_text(encoding="utf-8") for f in ("schema.sql", "core/versions_schema.sql"))
    digest = hashlib.sha256(text.encode()).hexdigest()
    try:
        if con.execute("SELECT sha256 FROM meta.schema_info").fetchone() == (digest,):
            return
    except duckdb.CatalogException:
        pass
    for schema, table, old, new in RENAMED_COLUMNS:
        have = relation_columns(con, schema, table)
        if old in have and new not in have:
            con.execute(f"ALTER TABLE {qident(schema)}.{qident(table)} RENAME COLUMN {qident(old)} TO {qident(new)}")
    con.execute(text)
    con.execute("CREATE OR REPLACE TABLE meta.schema_info (sha256 VARCHAR, applied_at TIMESTAMPTZ)")
    con.execute("COMMENT ON TABLE meta.schema_info IS 'the version of sql/schema.sql (with sql/core/versions_schema.sql) last applied to this file'")
    con.execute("COMMENT ON COLUMN meta.schema_info.sha256 IS 'sha256 of sql/schema.sql followed by sql/core/versions_schema.sql'")
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


class WarehouseCorrupt(RuntimeError):
    """The published warehouse file cannot be read: truncated, overwritten or damaged."""

    def __init__(self, path: Path, detail: str) -> None:
        self.path, self.detail = Path(path), detail
        super().__init__(
            f"the published warehouse {path} is corrupt ({detail}). Nothing can be read from it and no night can "
            f"be built on it. Recover with `sara rebuild`: it sets the file aside as "
            f"{self.path.name}.set-aside-<time> (it is never deleted) and builds a new warehouse from every file in "
            f"the landing folders, which keep every delivered extract.")


# DuckDB's file starts with three 4 KiB headers (the file header and two alternating database headers); the
# blocks follow. A whole file is therefore at least 3 * 4096 + total_blocks * block_size bytes long (measured
# on duckdb 1.5.5, which is pinned; tests/integration/test_warehouse_files.py opens a healthy file through this check).
_HEADER_BYTES = 3 * 4096
# what DuckDB says when a file is not a database, is cut short, or a block fails its checksum
_CORRUPT_SIGNS = ("not a valid DuckDB database file", "Could not read enough bytes", "Corrupt database file",
                  "does not match stored checksum")


def looks_corrupt(exc: BaseException) -> bool:
    """Is this DuckDB error a damaged file (as opposed to a lock, a permission or a SQL error)?"""
    return isinstance(exc, duckdb.Error) and any(s in str(exc) for s in _CORRUPT_SIGNS)


def check_whole(con: duckdb.DuckDBPyConnection, path: Path) -> None:
    """Raise WarehouseCorrupt when the file on disk ends before a block that holds table data (a truncated
    file can open and answer queries on its first blocks, then fail on the others).

    NOTE: the header's block count includes free blocks, and DuckDB trims free blocks off the end of the
    file, so a healthy file is often shorter than header + total_blocks x block_size; what must be on disk
    is every block a table segment uses (the catalog's own blocks are read, and checked, when it opens)."""
    block_size = int(con.execute("SELECT block_size FROM pragma_database_size()").fetchone()[0])
    tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                         "current_database()").fetchall()
    last = -1
    for schema, table in tables:
        qualified = qstr(f"{qident(schema)}.{qident(table)}")
        b = con.execute(f"SELECT max(block_id) FROM pragma_storage_info({qualified}) WHERE persistent").fetchone()[0]
        if b is not None and b > last:
            last = int(b)
    need, have = _HEADER_BYTES + (last + 1) * block_size, path.stat().st_size
    if have < need:
        raise WarehouseCorrupt(path, f"the file is {have:,} bytes but its tables use blocks up to number {last}, "
                                     f"which need {need:,}: it was cut short")


def _open_checked(path: Path) -> duckdb.DuckDBPyConnection:
    try:
        con = connect(path, read_only=True)
    except duckdb.Error as exc:
        if looks_corrupt(exc):
            raise WarehouseCorrupt(path, f"DuckDB: {exc}") from exc
        raise
    try:
        check_whole(con, path)
        con.execute("SELECT count(*) FROM duckdb_tables()").fetchone()  # the catalog reads
    except duckdb.Error as exc:
        con.close()
        if looks_corrupt(exc):
            raise WarehouseCorrupt(path, f"DuckDB: {exc}") from exc
        raise
    except BaseException:
        con.close()
        raise
    return con


@contextmanager
def open_published(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """Read-only connection to the published warehouse; WarehouseCorrupt when the file is damaged."""
    if not path.exists():
        raise FileNotFoundError(f"no warehouse at {path}: run `sara run` or `sara demo` first")
    con = _open_checked(path)
    try:
        yield con
    finally:
        con.close()


def leftovers(published: Path) -> list[Path]:
    """What a night leaves beside the published file while it runs: the build file, its WAL, its DuckDB spill
    folder and the half-made copy of the published file. The Dask parts are in transforms/warehouse/parts.py."""
    return _with_companions(build_path(published))


def _with_companions(db: Path) -> list[Path]:
    return [db, *(db.with_name(db.name + ext) for ext in (".wal", ".tmp", ".copying"))]


def remove_leftovers(published: Path) -> int:
    """Remove the night's leftovers; returns the bytes freed."""
    return _remove(leftovers(published))


def _remove(paths: list[Path]) -> int:
    freed = 0
    for p in paths:
        if p.is_dir():
            freed += sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            shutil.rmtree(p, ignore_errors=True)
        elif p.exists():
            freed += p.stat().st_size
            p.unlink()
    return freed


def start_build(published: Path, fresh: bool = False) -> Path:
    """Make a build copy of the published warehouse (an empty one when there is none, or when `fresh`).

    The leftovers of a killed or failed run are discarded first: they were never published, and the
    run that made them is repeated from the published state. A published file that cannot be read
    raises WarehouseCorrupt before anything is copied.
    """
    build = build_path(published)
    build.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(published)
    if published.exists() and not fresh:
        try:
            _open_checked(published).close()
        except duckdb.Error:  # not damaged (that is WarehouseCorrupt) but busy, e.g. held by a writer
            pass
        tmp = build.with_name(build.name + ".copying")
        try:
            shutil.copyfile(published, tmp)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        os.replace(tmp, build)
    return build


def set_aside_path(published: Path, now: datetime | None = None) -> Path:
    """Where `sara rebuild` keeps the file it replaces: <name>.set-aside-<UTC time>."""
    return published.with_name(f"{published.name}.set-aside-{(now or datetime.now(UTC)):%Y%m%dT%H%M%SZ}")


_NO_SPACE = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded", errno.EFBIG: "file size limit reached"}


def out_of_space(exc: BaseException) -> str | None:
    """'disk full' (or quota, or file size limit) when this error, or one it was raised from, is a write
    that found no room; else None. DuckDB reports the OS error in its message."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno in _NO_SPACE:
            return _NO_SPACE[exc.errno]
        for code, words in _NO_SPACE.items():
            if os.strerror(code) in str(exc):
                return words
        exc = exc.__cause__ or exc.__context__
    return None


def publish(build: Path, published: Path, keep_old_as: Path | None = None) -> None:
    """Atomically replace the published file with the checkpointed build file.

    keep_old_as: a name under which the file being replaced stays on disk (a hard link made just before the
    rename, so readers never see the name missing; a rename where hard links are not supported)."""
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
    if keep_old_as is not None and published.exists():
        try:
            os.link(published, keep_old_as)
        except OSError:
            os.replace(published, keep_old_as)
    os.replace(build, published)
    dfd = os.open(published.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def discard_build(build: Path) -> int:
    """Remove an unpublished build (or scratch) file and its WAL, spill folder and half-made copy; returns the
    bytes freed."""
    return _remove(_with_companions(build))
