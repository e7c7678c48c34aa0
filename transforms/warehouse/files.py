"""A delivered file as bytes and text: its hash, its compression, its records and its header.

Compression is decided by a file's first bytes, never by its name. Every compressed stream is read to its
end, so a truncated file is an error and not a silent cut. The record count here is independent of the
CSV reader that stages the rows (transforms/warehouse/readers.py), so the two can be checked against
each other.
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import hashlib
import io
import re
import sys
import zipfile
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from transforms.config import SourceConfig
from transforms.warehouse.landing import cut
from transforms.warehouse.sqlutil import raw_column_name


class LoadError(RuntimeError):
    """A file cannot be loaded at all. The message names the file (and the row/field where known)."""


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
    # NotImplementedError is raised, not left unfinished: zipfile raises it for a compression method it cannot
    # read, and that file fails with a clear reason like any other corrupt stream
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


def unique_names(names: list[str]) -> list[str]:
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
    return unique_names(header)


def header_summary(columns: list[str], max_names: int = 30, max_len: int = 40) -> str:
    """A header for an error message: column names only, at most `max_names`, each cut to `max_len`."""
    names = [cut(c, max_len) for c in columns[:max_names]]
    more = f" and {len(columns) - max_names} more" if len(columns) > max_names else ""
    return f"{names}{more}"

