"""Load one delivered file into `raw.<source>`: every column as text, plus `_load_id` and `_row_number`.

Rows the file parser cannot use (ragged rows, an unterminated quote, bytes that are not valid in
the declared encoding) are returned as rejects for quarantine; they are never dropped silently.
`_row_number` is the 1-based data-row number in the file (header excluded), so a quarantined
row and a loaded row can both be traced back to the file.

One reader per format (csv, parquet, xlsx, vector) stages the rows into a session temp table; `write_raw`
appends them to raw.<source>. The file's bytes, compression, record count and header are in files.py.
"""

from __future__ import annotations

import codecs
import contextlib
import itertools
import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from transforms.config import SourceConfig
from transforms.warehouse.files import (
    SHAPEFILE_PARTS,
    LoadError,
    RecordCounter,
    exact_record_count,
    header_summary,
    iter_decompressed,
    open_text,
    read_csv_header,
    sniff_compression,
    unique_names,
)
from transforms.warehouse.landing import StillBeingWritten, cut
from transforms.warehouse.sqlutil import qident, qstr, relation_columns, relation_exists


@dataclass
class Reject:
    row: int
    reason: str
    raw_text: str


@dataclass
class RawResult:
    columns: list[str]
    rows_read: int
    rejects: list[Reject] = field(default_factory=list)
    file_records: int | None = None  # records counted in the file without the reader (None: no such count)


def _scan_csv(path: Path, codec: str | None, src: SourceConfig, tmpdir: Path) -> tuple[Path, str, RecordCounter]:
    """One pass over the decompressed bytes: read every compressed stream to its end, transcode a declared
    encoding DuckDB does not read (DuckDB reads UTF-8), write a plain copy where DuckDB cannot read the
    compression (bz2, zip) or the encoding, and count the records. Returns (path for DuckDB, its
    compression, the counter)."""
    transcode = codecs.lookup(src.encoding).name not in ("utf-8", "ascii")
    copy = transcode or codec in ("bz2", "zip")
    counter = RecordCounter(src.quote, src.header_row)
    out = tmpdir / "plain.csv"
    decoder = codecs.getincrementaldecoder(src.encoding)(errors="strict") if transcode else None
    offset = 0
    with open(out, "wb") if copy else contextlib.nullcontext() as dst:
        for chunk in itertools.chain(iter_decompressed(path, codec), [b""]):  # b"": flush the decoder
            data = chunk
            if decoder is not None:
                try:
                    data = decoder.decode(chunk, final=not chunk).encode("utf-8")
                except UnicodeDecodeError as exc:
                    raise LoadError(
                        f"{path}: byte {offset + exc.start} is not valid {src.encoding} ({exc.reason}); "
                        f"check the source's encoding"
                    ) from exc
                offset += len(chunk)
            counter.feed(data)
            if dst is not None:
                dst.write(data)
    counter.finish()
    return (out, "none") if copy else (path, codec or "none"), counter


def _row_numbers(n_good: int, reject_rows: list[int]) -> np.ndarray:
    """Data-row numbers of the good rows, given the (1-based) data-row numbers of the rejects."""
    total = n_good + len(reject_rows)
    all_rows = np.arange(1, total + 1, dtype=np.int64)
    if not reject_rows:
        return all_rows
    mask = np.ones(total, dtype=bool)
    idx = np.asarray(reject_rows, dtype=np.int64) - 1
    mask[idx[(idx >= 0) & (idx < total)]] = False
    good = all_rows[mask]
    if len(good) != n_good:  # rejects reported beyond the end: fall back to plain ordinals
        good = np.arange(1, n_good + 1, dtype=np.int64)
    return good


def _stage_csv(con: duckdb.DuckDBPyConnection, path: Path, src: SourceConfig, tag: str) -> RawResult:
    codec = sniff_compression(path)
    columns = read_csv_header(path, src, codec)
    with tempfile.TemporaryDirectory(prefix="sara-") as td:
        (read_path, duck_codec), counter = _scan_csv(path, codec, src, Path(td))
        # NOTE: a compressed stream proves its own end (it was read whole above); a plain file's last record
        # must end with a line terminator, else the vendor may still be writing it
        if codec is None and src.final_newline == "required" and counter.nbytes and \
                counter.last_byte not in (b"\n", b"\r"):
            raise StillBeingWritten(
                f"{path}: the last record has no line terminator (the file may be cut mid-row); it is "
                f"loaded once it ends with a newline, or set final_newline: optional for a vendor that "
                f"never writes one")
        # DuckDB sees positional names c0..cN: a delivered column named rowid (or anything) cannot shadow
        # the temp table's rowid that orders the rows
        pos = [f"c{i}" for i in range(len(columns))]
        opts = dict(
            columns={c: "VARCHAR" for c in pos},
            header=True,
            skip=src.header_row - 1,
            auto_detect=False,
            compression=duck_codec,
            delim=src.delimiter,
            quote=src.quote,
            escape=src.quote,
            ignore_errors=True,
            store_rejects=True,
            rejects_scan=f"_rs_{tag}",
            rejects_table=f"_rt_{tag}",
            nullstr=src.null_values or [""],
            max_line_size=8_000_000,
        )
        params = list(opts.values())
        arg_sql = ", ".join(f"{k} = ?" for k in opts)
        try:
            con.execute(
                f"CREATE OR REPLACE TEMP TABLE _in_{tag} AS SELECT * FROM read_csv(?, {arg_sql})",
                [str(read_path), *params],
            )
        except duckdb.Error as exc:
            raise LoadError(f"{path}: cannot read as CSV: {cut(str(exc), 300)}") from exc
        rejects_raw = con.execute(  # column_name is positional (c<i>): name it as the header does
            f"""SELECT line, string_agg(DISTINCT error_type || coalesce(' in ' || ($1::VARCHAR[])[
                           try_cast(substr(column_name, 2) AS INTEGER) + 1], ''), '; '),
                       any_value(csv_line)
                FROM _rt_{tag} GROUP BY line ORDER BY line""", [columns]
        ).fetchall()
        con.execute(f"DROP TABLE IF EXISTS _rt_{tag}")
        con.execute(f"DROP TABLE IF EXISTS _rs_{tag}")
        n_good = con.execute(f"SELECT count(*) FROM _in_{tag}").fetchone()[0]
        rows_read = n_good + len(rejects_raw)
        counts = [counter.records] if counter.usable else []
        for skip_space in (False, True):  # a stray quote (5'10"), or a reader that lost rows: parse to be sure
            if rows_read in counts:
                break
            with (open(read_path, encoding="utf-8", errors="replace", newline="") if duck_codec == "none"
                  else open_text(read_path, codec, "utf-8")) as fh:
                counts.append(exact_record_count(fh, src.delimiter, src.quote, src.header_row, skip_space))
        if rows_read not in counts:
            raise LoadError(
                f"{path}: the CSV reader read {rows_read} records ({n_good} rows + {len(rejects_raw)} rejected) "
                f"but the file holds {' or '.join(str(c) for c in dict.fromkeys(counts))} (line ends outside "
                f"quotes; a CSV parser); nothing is loaded. Check the source's delimiter, quote and header_row, "
                f"and the file's quoting")
        records = rows_read
    rejects = [
        Reject(row=int(line) - src.header_row, reason=_reject_reason(err), raw_text=text or "")
        for line, err, text in rejects_raw
    ]
    # NOTE: rows inserted inside an open transaction get rowids from 2**62 upward, so the file order
    # is rowid - min(rowid) (insertion order is preserved: preserve_insertion_order is on).
    ordinal = f"rowid - (SELECT min(rowid) FROM _in_{tag})"
    named = ", ".join(f"{qident(p)} AS {qident(c)}" for p, c in zip(pos, columns, strict=True))
    if not rejects:  # the common case: data-row number = ordinal + 1, no copy needed
        con.execute(f"CREATE OR REPLACE TEMP VIEW _raw_{tag} AS SELECT {named}, {ordinal} + 1 AS _row_number "
                    f"FROM _in_{tag}")
    else:
        nums = _row_numbers(n_good, [r.row for r in rejects])
        con.register(f"_rn_{tag}", pa.table({"_ord": np.arange(n_good, dtype=np.int64), "_row_number": nums}))
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _raw_{tag} AS
                SELECT {named}, r._row_number
                FROM (SELECT {ordinal} AS _ord, * FROM _in_{tag}) i JOIN _rn_{tag} r USING (_ord)
                ORDER BY r._row_number"""
        )
        con.unregister(f"_rn_{tag}")
    return RawResult(columns=columns, rows_read=rows_read, rejects=rejects, file_records=records)


def _reject_reason(err: str) -> str:
    e = (err or "").upper()
    if "MISSING COLUMNS" in e or "TOO MANY COLUMNS" in e:
        return f"ragged_row: {err.lower()}"
    if "UNQUOTED" in e or "QUOTE" in e:
        return f"bad_quoting: {err.lower()}"
    if "UNICODE" in e or "ENCODING" in e:
        return f"bad_encoding: {err.lower()}"
    return f"unparseable_row: {err.lower()}"


def _stage_arrow(con: duckdb.DuckDBPyConnection, table: pa.Table, tag: str) -> RawResult:
    names = unique_names(table.column_names)
    table = table.rename_columns(names)
    cols = [pa.compute.cast(c, pa.string()) if c.type != pa.string() else c for c in table.columns]
    table = pa.table(cols, names=names)
    table = table.append_column("_row_number", pa.array(np.arange(1, table.num_rows + 1, dtype=np.int64)))
    con.register(f"_arrow_{tag}", table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _raw_{tag} AS SELECT * FROM _arrow_{tag}")
    con.unregister(f"_arrow_{tag}")
    return RawResult(columns=names, rows_read=table.num_rows)


# The text a typed Parquet timestamp is staged as; normalize recognises it before a source's formats.
TYPED_TS_FORMAT = "%Y-%m-%dT%H:%M:%S.%f"


def _parquet_text(name: str, duck_type: str) -> str:
    """SQL for one Parquet column as text. Timestamps become ISO 8601 with microseconds, independent of the
    session's TimeZone: a time-zone-aware one as its instant in UTC with '+00:00', a naive one with no offset
    (normalize reads it as the source's `naive_timestamps` says). Everything else is a plain cast."""
    col = qident(name)
    t = duck_type.upper()
    if t == "TIMESTAMP WITH TIME ZONE":
        text = f"strftime(timezone('UTC', {col}), {qstr(TYPED_TS_FORMAT)}) || '+00:00'"
    elif t in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
        text = f"strftime(CAST({col} AS TIMESTAMP), {qstr(TYPED_TS_FORMAT)})"
    else:
        return f"CAST({col} AS VARCHAR)"
    # NOTE: an infinite timestamp has no calendar form; its text ('infinity') is kept and does not parse
    return f"CASE WHEN isfinite({col}) THEN {text} ELSE CAST({col} AS VARCHAR) END"


def _stage_parquet(con: duckdb.DuckDBPyConnection, path: Path, tag: str) -> RawResult:
    import pyarrow.parquet as pq

    try:
        desc = con.execute("DESCRIBE SELECT * FROM read_parquet(?)", [str(path)]).fetchall()
        file_records = pq.ParquetFile(path).metadata.num_rows
    except (duckdb.Error, pa.ArrowException) as exc:
        raise LoadError(f"{path}: cannot read as Parquet: {cut(str(exc), 300)}") from exc
    names = [r[0] for r in desc]
    safe = unique_names(names)
    select = ", ".join(f"{_parquet_text(n, r[1])} AS {qident(s)}" for n, s, r in zip(names, safe, desc, strict=True))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _raw_{tag} AS
            SELECT {select}, CAST(file_row_number + 1 AS BIGINT) AS _row_number
            FROM read_parquet(?, file_row_number = true) ORDER BY file_row_number""",
        [str(path)],
    )
    n = con.execute(f"SELECT count(*) FROM _raw_{tag}").fetchone()[0]
    if n != file_records:
        raise LoadError(f"{path}: the Parquet footer says {file_records} rows but {n} were read; nothing is loaded")
    return RawResult(columns=safe, rows_read=n, file_records=file_records)


def _stage_xlsx(con: duckdb.DuckDBPyConnection, path: Path, src: SourceConfig, tag: str) -> RawResult:
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken workbook
        raise LoadError(f"{path}: cannot open as XLSX: {cut(str(exc), 300)}") from exc
    ws = wb[src.sheet] if src.sheet else wb.worksheets[0]
    rows = ws.iter_rows(values_only=True)
    header = None
    for _ in range(src.header_row):
        header = next(rows, None)
    if not header:
        raise LoadError(f"{path}: empty sheet (no header at row {src.header_row})")
    names = [str(h) if h is not None else "" for h in header]
    data: list[list[str | None]] = [[] for _ in names]
    for r in rows:
        if r is None or all(v is None for v in r):
            continue
        for i in range(len(names)):
            v = r[i] if i < len(r) else None
            if isinstance(v, datetime):
                v = v.isoformat(sep=" ")
            data[i].append(None if v is None else str(v))
    wb.close()
    table = pa.table({f"c{i}": pa.array(col, pa.string()) for i, col in enumerate(data)})
    table = table.rename_columns(names)
    return _stage_arrow(con, table, tag)


def _stage_vector(con: duckdb.DuckDBPyConnection, path: Path, src: SourceConfig, tag: str) -> RawResult:
    import pyogrio
    import shapely

    try:
        df = pyogrio.read_dataframe(path)
    except Exception as exc:  # pyogrio wraps GDAL errors in several classes
        raise LoadError(f"{path}: cannot read as a vector file: {cut(str(exc), 300)}") from exc
    want = src.coordinates.crs if src.coordinates else "EPSG:4326"
    if df.crs is not None and not df.crs.equals(want):
        df = df.to_crs(want)  # NOTE: a file that declares its CRS is reprojected to the configured one
    geom = df.geometry.values
    pts = shapely.point_on_surface(geom)
    x = shapely.get_x(pts)
    y = shapely.get_y(pts)
    attrs = df.drop(columns=df.geometry.name)
    table = pa.Table.from_pandas(attrs.astype("string"), preserve_index=False)
    fmt = np.vectorize(lambda v: None if np.isnan(v) else repr(float(v)), otypes=[object])
    table = table.append_column("geometry_x", pa.array(fmt(x) if len(x) else [], pa.string()))
    table = table.append_column("geometry_y", pa.array(fmt(y) if len(y) else [], pa.string()))
    return _stage_arrow(con, table, tag)


def stage_file(con: duckdb.DuckDBPyConnection, path: Path, src: SourceConfig, tag: str) -> RawResult:
    """Read a file into temp table `_raw_<tag>` (all text + _row_number)."""
    if path.stat().st_size == 0:
        raise LoadError(f"{path}: empty file (0 bytes)")
    if src.format == "csv":
        return _stage_csv(con, path, src, tag)
    if src.format == "parquet":
        return _stage_parquet(con, path, tag)
    if src.format == "xlsx":
        return _stage_xlsx(con, path, src, tag)
    return _stage_vector(con, path, src, tag)


def drop_staged(con: duckdb.DuckDBPyConnection, tag: str) -> None:
    for kind, name in (("VIEW", f"_raw_{tag}"), ("TABLE", f"_raw_{tag}"), ("TABLE", f"_in_{tag}")):
        try:
            con.execute(f"DROP {kind} IF EXISTS {name}")
        except duckdb.CatalogException:
            pass  # _raw_<tag> is a view or a table, not both


def check_columns(path: Path, src: SourceConfig, columns: list[str]) -> None:
    """Fail with the file and column when a column the config needs is not in the file."""
    have = set(columns)
    if src.format == "vector":
        have |= {"geometry_x", "geometry_y"}
    need = set(src.required_columns) | set(src.record_id)
    for spec_name, spec in src.timestamps.items():
        if spec_name in ("received_at", "occurred_from", "reported_at"):
            need.update(spec.source_columns())
    missing = sorted(c for c in need if c not in have)
    if missing:
        raise LoadError(f"{path}: required column(s) {missing} not in the file header; the file has "
                        f"{header_summary(columns)}")


def _comment_raw_columns(con: duckdb.DuckDBPyConnection, source: str) -> None:
    """A comment on each column of raw.<source> that has none: the provenance columns, and each delivered
    column by its name in the files."""
    fixed = {"_load_id": "the load (meta.loads.load_id) the row came in",
             "_row_number": "the data-row number in its file (1-based, header excluded; core source_row)"}
    for c, in con.execute("SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
                          "AND schema_name = 'raw' AND table_name = ? AND comment IS NULL", [source]).fetchall():
        text = fixed.get(c) or f"column {c} of the files of source {source}, as delivered (text; null when a file lacks it)"
        con.execute(f"COMMENT ON COLUMN raw.{qident(source)}.{qident(c)} IS {qstr(text)}")


def write_raw(con: duckdb.DuckDBPyConnection, source: str, tag: str, load_id: str, columns: list[str]) -> None:
    """Append the staged rows to raw.<source>, adding any new column as text."""
    table = f"raw.{qident(source)}"
    if not relation_exists(con, "raw", source):
        con.execute(f"CREATE TABLE {table} (_load_id VARCHAR, _row_number BIGINT)")
        con.execute(f"COMMENT ON TABLE {table} IS {qstr(f'Files of source {source} as delivered: every column as text')}")
    have = set(relation_columns(con, "raw", source))
    for c in columns:
        if c not in have:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {qident(c)} VARCHAR")
    _comment_raw_columns(con, source)
    cols = ", ".join(qident(c) for c in columns)
    con.execute(
        f"INSERT INTO {table} (_load_id, _row_number, {cols}) SELECT ?, _row_number, {cols} FROM _raw_{tag}",
        [load_id],
    )


def copy_into_landing(paths: list[Path], landing: Path) -> list[Path]:
    """`sara ingest` copies files into data/landing/<source>/ first, so every load has one provenance."""
    import shutil

    landing.mkdir(parents=True, exist_ok=True)
    out = []
    for p in paths:
        if not p.is_file():
            raise LoadError(f"{p}: no such file")
        dst = landing / p.name
        sidecars = [p.with_suffix(e) for e in SHAPEFILE_PARTS if p.suffix.lower() == ".shp"
                    and e != ".shp" and p.with_suffix(e).exists()]
        if dst.resolve() != p.resolve():
            for side in sidecars:  # sidecars first: the .shp appearing is what makes the delivery visible
                shutil.copy2(side, landing / side.name)
            tmp = dst.with_name(dst.name + ".part")
            shutil.copy2(p, tmp)
            os.replace(tmp, dst)
        out.append(dst)
    return out
