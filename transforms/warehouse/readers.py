"""Load one delivered file into `raw.<source>`: every column as text, plus `_load_id` and `_row_number`.

Rows the file parser cannot use (ragged rows, an unterminated quote, bytes that are not valid in
the declared encoding) are returned as rejects for quarantine; they are never dropped silently.
`_row_number` is the 1-based data-row number in the file (header excluded), so a quarantined
row and a loaded row can both be traced back to the file.
"""

from __future__ import annotations

import bz2
import codecs
import contextlib
import csv
import gzip
import hashlib
import io
import itertools
import os
import re
import sys
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa

from transforms.config import SourceConfig
from transforms.warehouse.landing import StillBeingWritten, cut
from transforms.warehouse.sqlutil import qident, qstr, raw_column_name, relation_columns, relation_exists


class LoadError(RuntimeError):
    """A file cannot be loaded at all. The message names the file (and the row/field where known)."""


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


SHAPEFILE_PARTS = (".shp", ".shx", ".dbf", ".prj", ".cpg")


def file_sha256(path: Path) -> str:
    """sha256 of the delivered bytes. A shapefile is its .shp with its sidecars (.dbf holds the attributes),
    so a corrected .dbf beside an unchanged .shp is a new delivery."""
    parts = [path]
    if path.suffix.lower() == ".shp":
        parts = [p for ext in SHAPEFILE_PARTS for p in [path.with_suffix(ext)] if p.exists()]
    h = hashlib.sha256()
    for part in parts:
        if len(parts) > 1:
            h.update(part.suffix.lower().encode())
        with open(part, "rb") as fh:
            for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


# ---- compression: decided by the first bytes, never by the name ----------------------------------------

COMPRESSION_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"PK\x03\x04", "zip"),
    (b"PK\x05\x06", "zip"),  # an empty archive
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bz2"),  # followed by the block size, a digit 1-9
)
ZIP_MEMBER_SUFFIXES = (".csv", ".txt", ".tsv")
CHUNK = 1 << 22


def sniff_compression(head: bytes | Path) -> str | None:
    """gzip, zip, zstd or bz2 from a file's first four bytes (its magic number); None for anything else."""
    if isinstance(head, Path):
        with open(head, "rb") as fh:
            head = fh.read(4)
    for magic, codec in COMPRESSION_MAGIC:
        if head.startswith(magic):
            if codec == "bz2" and not (len(head) >= 4 and 0x31 <= head[3] <= 0x39):
                continue
            return codec
    return None


def _zip_member(zf: zipfile.ZipFile, path: Path) -> zipfile.ZipInfo:
    members = [i for i in zf.infolist() if not i.is_dir()]
    if len(members) != 1:
        names = ", ".join(cut(i.filename, 60) for i in members[:5]) + (", ..." if len(members) > 5 else "")
        raise LoadError(f"{path}: zip archive holds {len(members)} files ({names}); a delivery must be a zip "
                        f"with exactly one CSV file")
    member = members[0]
    if not member.filename.lower().endswith(ZIP_MEMBER_SUFFIXES):
        raise LoadError(f"{path}: zip member {cut(member.filename, 60)!r} is not a CSV "
                        f"({', '.join(ZIP_MEMBER_SUFFIXES)})")
    return member


def _open_codec(path: Path, codec: str | None):
    if codec is None:
        return open(path, "rb")
    if codec == "gzip":
        return gzip.open(path, "rb")
    if codec == "bz2":
        return bz2.open(path, "rb")
    if codec == "zstd":
        return pa.input_stream(str(path), compression="zstd")
    zf = zipfile.ZipFile(path)
    try:
        return zf.open(_zip_member(zf, path))
    finally:
        zf.close()  # the member stream keeps its own handle on the file


def iter_decompressed(path: Path, codec: str | None, chunk: int = CHUNK) -> Iterator[bytes]:
    """The file's bytes, decompressed, in chunks. A truncated or corrupt stream is a LoadError: DuckDB reads
    a truncated .csv.gz up to the cut without an error, so without reading every stream to its end the rows
    after the cut would vanish silently."""
    if codec is None:
        with open(path, "rb") as fh:
            while data := fh.read(chunk):
                yield data
        return
    first = True
    try:
        with _open_codec(path, codec) as fh:
            while data := fh.read(chunk):
                if first and sniff_compression(data[:4]):
                    raise LoadError(f"{path}: the {codec} stream holds another compressed file; "
                                    f"deliver one level of compression")
                first = False
                yield data
    except (EOFError, zlib.error, zipfile.BadZipFile, OSError, pa.ArrowInvalid, RuntimeError,
            NotImplementedError) as exc:
        if isinstance(exc, LoadError):
            raise
        raise LoadError(f"{path}: the {codec} stream is truncated or corrupt ({cut(str(exc), 200)}); "
                        f"ask for the file again") from exc


class _ChunkReader(io.RawIOBase):
    """A binary stream over iter_decompressed (for the csv module and text wrappers)."""

    def __init__(self, chunks: Iterator[bytes]):
        self._chunks = chunks
        self._buf = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        while not len(self._buf):
            nxt = next(self._chunks, None)
            if nxt is None:
                return 0
            self._buf = memoryview(nxt)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()
        super().close()


def open_text(path: Path, codec: str | None, encoding: str) -> io.TextIOBase:
    """The decompressed file as text (undecodable bytes replaced), newlines as they are (for csv)."""
    enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    raw = io.BufferedReader(_ChunkReader(iter_decompressed(path, codec)), buffer_size=1 << 16)
    return io.TextIOWrapper(raw, encoding=enc, errors="replace", newline="")


# ---- the independent record count -----------------------------------------------------------------------

class RecordCounter:
    """Counts the data records of a CSV byte stream without parsing it: numpy over each chunk.

    A record ends at a line terminator (LF, CRLF or CR) outside quotes. A terminator is outside quotes when
    the number of quote characters before it is even (a doubled quote inside a quoted field adds two). The
    first `header_rows` lines, blank or not, are the header and what precedes it (DuckDB's `skip` and
    header). After them a blank line is not a record (DuckDB skips it), and a last record without a
    terminator still counts. A quote inside an unquoted field (`5'10"`) breaks the parity rule; a caller
    whose count disagrees with the reader's recounts with a real parser (exact_record_count)."""

    def __init__(self, quote: str = '"', header_rows: int = 1):
        q = quote.encode("utf-8")
        self.quote = q[0] if len(q) == 1 else None
        self.skip = header_rows
        self.records = 0
        self.odd = 0  # inside a quoted field after the bytes seen so far
        self.prev = -1  # the last byte seen (-1: start of the stream)
        self.prev2 = -1  # the byte before it
        self.pending = False  # content since the last record end
        self.nl: int | None = None  # the line-end byte: LF (LF and CRLF files) or CR; None until one is seen
        self.held = b""  # a first chunk that ends in CR: LF or CR file is decided by the next byte
        self.nbytes = 0
        self.last_byte = b""

    @property
    def usable(self) -> bool:
        """False for a multi-byte quote character: count with exact_record_count instead."""
        return self.quote is not None

    def feed(self, chunk: bytes) -> None:
        if not chunk:
            return
        self.nbytes += len(chunk)
        self.last_byte = chunk[-1:]
        if self.nl is None:
            chunk, self.held = self.held + chunk, b""
            lf, cr = chunk.find(b"\n"), chunk.find(b"\r")
            if cr != -1 and (lf == -1 or cr < lf):
                if cr + 1 == len(chunk):
                    self.held = chunk
                    return
                self.nl = 10 if chunk[cr + 1] == 10 else 13
            elif lf != -1:
                self.nl = 10
        self._scan(chunk, self.nl or 10)

    def _scan(self, chunk: bytes, nl: int) -> None:
        a = np.frombuffer(chunk, dtype=np.uint8)
        # NOTE: DuckDB refuses a file that mixes LF and CR line ends, so one byte value marks every line end
        term = np.flatnonzero(a == nl)
        nq = 0
        if self.quote is not None:
            qpos = np.flatnonzero(a == self.quote)
            nq = len(qpos)
            if nq and len(term):
                term = term[((np.searchsorted(qpos, term) + self.odd) & 1) == 0]
            elif self.odd:
                term = term[:0]
        if len(term):
            b1 = np.where(term > 0, a[np.maximum(term - 1, 0)], self.prev).astype(np.int16)
            if nl == 10:  # a blank line: LF right after LF, or CR LF right after LF
                b2 = np.where(term > 1, a[np.maximum(term - 2, 0)],
                              np.where(term == 1, self.prev, self.prev2)).astype(np.int16)
                blank = (b1 == 10) | (b1 == -1) | ((b1 == 13) & ((b2 == 10) | (b2 == -1)))
            else:
                blank = (b1 == 13) | (b1 == -1)
            k = min(self.skip, len(term))
            self.skip -= k
            self.records += int(np.count_nonzero(~blank[k:]))
            self.pending = bool(chunk[int(term[-1]) + 1:].translate(None, b"\r\n"))
        elif not self.pending:
            self.pending = bool(chunk.translate(None, b"\r\n"))
        self.odd = (self.odd + nq) & 1
        self.prev2 = int(a[-2]) if len(a) > 1 else self.prev
        self.prev = int(a[-1])

    def finish(self) -> int:
        """The data records counted (call once, after the last chunk)."""
        if self.held:  # the first line end seen was a CR at the very end of the stream
            self.nl = 13
            self._scan(self.held, 13)
            self.held = b""
        if self.pending:
            if self.skip > 0:
                self.skip -= 1
            else:
                self.records += 1
            self.pending = False
        return self.records


def exact_record_count(text: io.TextIOBase, delimiter: str, quote: str, header_rows: int,
                       skip_space: bool = False) -> int:
    """Data records by Python's csv module (a quote opens a field only at its start, like DuckDB's reader;
    with skip_space, also after spaces at its start, as DuckDB allows one): the rows after the first
    `header_rows`, blank lines not counted. Slower than RecordCounter; run when that count disagrees with
    the reader."""
    csv.field_size_limit(min(sys.maxsize, 1 << 31))
    n = 0
    reader = csv.reader(text, delimiter=delimiter, quotechar=quote, strict=False, skipinitialspace=skip_space)
    for i, row in enumerate(reader):
        if i >= header_rows and row:
            n += 1
    return n


def extract_time_from_name(src: SourceConfig, path: Path) -> datetime | None:
    """The extract's own timestamp from its file name, in UTC (None if the source has no pattern)."""
    spec = src.extract_at
    if spec is None or spec.filename_pattern is None:
        return None
    m = re.search(spec.filename_pattern, path.name)
    if not m:
        raise LoadError(
            f"{path}: file name does not match extract_at.filename_pattern {spec.filename_pattern!r}"
        )
    try:
        local = datetime.strptime(m.group(1), spec.format)
    except ValueError as exc:
        raise LoadError(f"{path}: extract time {m.group(1)!r} does not match format {spec.format!r}") from exc
    zone = ZoneInfo(spec.timezone or src.timezone)
    return local.replace(tzinfo=zone).astimezone(UTC)


def file_mtime_utc(path: Path) -> datetime:
    return datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)


PROVENANCE_COLUMNS = ("_load_id", "_row_number")  # the raw table's own columns


def _unique_names(names: list[str]) -> list[str]:
    """Safe, unique column names for raw.<source>, as close to the delivered header as possible.

    Any header loads: an empty name becomes column_<n>; quote, backslash, ';' and control characters become
    `_`; a name equal to a provenance column (_load_id, _row_number) gets a trailing `_`; a name that repeats
    another (ignoring case, or once made a raw_* name in core) gets `_2`, `_3`. Names like `rowid` are
    kept: staging never selects a delivered column by a name DuckDB also uses internally."""
    out: list[str] = []
    seen: set[str] = set()
    for i, n in enumerate(names):
        n = (n or "").strip() or f"column_{i + 1}"
        # NOTE: a header cell holding a quote character cannot become a safe identifier; rename it.
        n = re.sub(r"[\"'`;\\\x00-\x1f]", "_", n)
        if n.lower() in PROVENANCE_COLUMNS:
            n += "_"
        base, k = n, 1
        while n.lower() in seen or raw_column_name(n) in seen:
            k += 1
            n = f"{base}_{k}"
        seen.update((n.lower(), raw_column_name(n)))
        out.append(n)
    return out


def read_csv_header(path: Path, src: SourceConfig, codec: str | None = None) -> list[str]:
    try:
        with open_text(path, codec, src.encoding) as fh:
            reader = csv.reader(fh, delimiter=src.delimiter, quotechar=src.quote)
            header = None
            for _ in range(src.header_row):
                header = next(reader, None)
    except (OSError, csv.Error) as exc:
        raise LoadError(f"{path}: cannot read the header: {cut(str(exc), 200)}") from exc
    if not header or all(not h.strip() for h in header):
        raise LoadError(f"{path}: empty file (no header row at row {src.header_row})")
    return _unique_names(header)


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
    names = _unique_names(table.column_names)
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
    safe = _unique_names(names)
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


def header_summary(columns: list[str], max_names: int = 30, max_len: int = 40) -> str:
    """A header for an error message: column names only, at most `max_names`, each cut to `max_len`."""
    names = [cut(c, max_len) for c in columns[:max_names]]
    more = f" and {len(columns) - max_names} more" if len(columns) > max_names else ""
    return f"{names}{more}"


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
