"""Landing and file reading: compression from the bytes, an independent record count, files still being
written, ready markers, column names that clash with DuckDB internals, symlinks out of the project, and
files that no source picks up. The corpus files are in tests/fixtures/bad/ (see its README.md).
"""

from __future__ import annotations

import contextlib
import csv
import io
import logging
import os
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pytest

from tests.support.loads import (
    FIX,
    NAME,
    assert_nothing_loaded,
    assert_reconciles,
    calls,
    land,
    load,
    meta_load,
)
from tests.support.project import cad_yaml
from transforms.config import ConfigError
from transforms.warehouse import loader
from transforms.warehouse.sqlutil import relation_exists


@pytest.fixture()
def make(tiny_project):
    """make(yaml_extra=..., top=..., cad=...) -> (settings, con): Test City with its CAD source (or `cad`)."""

    def _make(yaml_extra: str = "", top: str = "", cad: str | None = None):
        p = tiny_project({"cad": (cad or cad_yaml()) + yaml_extra}, top=top)
        return p.settings, p.connect()

    return _make


def _land(settings, fixture: str, name: str) -> Path:
    return land(settings, fixture, name)


def _load(settings, con, path: Path, run: str = "r1") -> loader.FileOutcome:
    return load(con, settings, path, run)


def _failed_naming(out: loader.FileOutcome, con, path: Path, *words: str) -> None:
    assert out.status == "failed", out
    assert str(path) in out.message
    for w in words:
        assert w in out.message, out.message
    m = meta_load(con, str(path))
    assert m["status"] == "failed" and m["message"] == out.message
    assert_nothing_loaded(con)


# --- compression is read from the bytes, never from the name ------------------------------------------------

@pytest.mark.parametrize(("fixture", "name"), [
    ("gzip_named_csv.csv", f"{NAME}.csv"),
    ("zip_named_csv.csv", f"{NAME}.csv"),
    ("zstd_named_csv.csv", f"{NAME}.csv"),
    ("bz2_named_csv.csv", f"{NAME}.csv"),
    ("plain_named_gz.csv.gz", f"{NAME}.csv.gz"),
])
def test_compression_is_read_from_the_bytes_and_every_row_loads(make, fixture, name):
    settings, con = make()
    out = _load(settings, con, _land(settings, fixture, name))
    assert_reconciles(out, con)
    assert (out.rows_read, out.rows_loaded, out.rows_quarantined) == (3, 3, 0)
    assert set(calls(con, "received_at")) == {"G1", "G2", "G3"}
    assert meta_load(con, out.path)["file_records"] == 3


def test_cp1252_inside_bz2_is_decompressed_then_transcoded(make):
    settings, con = make(cad=cad_yaml().replace("encoding: utf-8", "encoding: cp1252"))
    out = _load(settings, con, _land(settings, "cp1252.csv.bz2", f"{NAME}.csv"))
    assert_reconciles(out, con)
    assert (out.rows_read, out.rows_loaded, out.rows_quarantined) == (3, 3, 0)
    assert calls(con, "raw_note")["W1"] == ("caf\u00e9 \u2013 r\u00e9sum\u00e9",)


@pytest.mark.parametrize(("fixture", "words"), [
    ("zip_two_members.zip", ["zip archive holds 2 files", "cad_a.csv", "cad_b.csv", "exactly one CSV"]),
    ("zip_not_csv.zip", ["zip member 'cad.xlsx' is not a CSV"]),
    ("truncated.csv.gz", ["gzip stream is truncated or corrupt"]),
    ("truncated.csv.bz2", ["bz2 stream is truncated or corrupt"]),
    ("truncated.csv.zst", ["zstd stream is truncated or corrupt"]),
    ("truncated.zip", ["zip stream is truncated or corrupt"]),
])
def test_an_archive_that_cannot_be_read_whole_is_a_failed_load_with_the_reason(make, fixture, words):
    settings, con = make()
    path = _land(settings, fixture, f"{NAME}.csv")  # under a .csv name: the bytes decide
    out = _load(settings, con, path)
    _failed_naming(out, con, path, *words)


# --- the independent record count ---------------------------------------------------------------------------

def _reference(data: bytes, header_rows: int = 1) -> int:
    """Data records by Python's csv module: rows after the header, blank lines not counted."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))
    return sum(1 for row in rows[header_rows:] if row)


def _count(data: bytes, header_rows: int = 1, chunk: int | None = None):
    from transforms.warehouse.files import RecordCounter

    c = RecordCounter('"', header_rows)
    step = chunk or max(len(data), 1)
    for i in range(0, len(data), step):
        c.feed(data[i:i + step])
    c.finish()
    return c


@pytest.mark.parametrize(("data", "header_rows", "expected"), [
    (b"id,n\n1,a\n2,b\n", 1, 2),
    (b"id,n\r\n1,a\r\n2,b\r\n", 1, 2),  # CRLF
    (b"id,n\r1,a\r2,b\r", 1, 2),  # old Mac CR
    (b"id,n\n1,a\n2,b", 1, 2),  # no final newline: the last record still counts
    (b'id,n\n1,"a\nb"\n2,"x""y"\n', 1, 2),  # a quoted newline; a doubled quote
    (b'id,n\r\n1,"a\r\n\r\nb"\r\n2,c\r\n', 1, 2),  # a quoted blank line
    (b'id,n\n1,"he said ""stop"", then ran"\n2,b\n', 1, 2),
    (b"id,n\n1,a\n\n\n2,b\n\n", 1, 2),  # blank lines are not records (DuckDB skips them)
    (b"id,n\n", 1, 0),
    (b"id,n", 1, 0),
    (b"", 1, 0),
    (b"exported by CAD\nid,n\n1,a\n", 2, 1),  # header_row 2
    (b'id,n\n1,"never closed\n2,b\n', 1, 1),  # an open quote runs to the end: one record
])
def test_record_counter_on_tricky_inputs(data, header_rows, expected):
    assert _reference(data, header_rows) == expected
    for chunk in (None, 1, 2, 3, 7):
        assert _count(data, header_rows, chunk).records == expected, chunk


def test_record_counter_agrees_with_a_csv_parser_on_random_valid_csv():
    rng = np.random.default_rng(20240302)
    pieces = ["a", "b", "1", " ", ","]
    for case in range(300):
        nl = ["\n", "\r\n", "\r"][case % 3]
        lines = []
        for _ in range(int(rng.integers(0, 8))):
            cells = []
            for _ in range(int(rng.integers(1, 4))):
                text = "".join(rng.choice(pieces, int(rng.integers(0, 4))))
                if rng.random() < 0.5:  # quoted: may hold quotes, delimiters and newlines
                    extra = rng.choice(['""', nl, "a", ","], int(rng.integers(0, 4)))
                    text = '"' + text.replace(",", "") + "".join(extra) + '"'
                else:
                    text = text.replace(",", "")
                cells.append(text)
            lines.append(",".join(cells))
            if rng.random() < 0.15:
                lines.append("")  # a blank line
        data = ("h1,h2" + nl + nl.join(lines) + (nl if rng.random() < 0.7 else "")).encode()
        want = _reference(data)
        for chunk in (None, 1, int(rng.integers(2, 9))):
            assert _count(data, 1, chunk).records == want, (data, chunk)


def test_a_stray_quote_in_an_unquoted_field_is_recounted_by_a_parser(make):
    from transforms.warehouse.files import exact_record_count

    data = b'id,n\n1,5\'10" male\n2,b\n'
    assert _count(data).records != 2  # the fast count cannot tell a stray quote from an opening one
    assert exact_record_count(io.StringIO(data.decode(), newline=""), ",", '"', 1) == 2
    settings, con = make()
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True)
    path = landing / f"{NAME}.csv"
    good = (FIX / "good.csv").read_text()
    path.write_text(good.replace(",x\n", ",5'10\" male\n", 1))
    out = _load(settings, con, path)
    assert_reconciles(out, con)
    assert (out.rows_read, out.rows_loaded) == (3, 3)
    assert calls(con, "raw_note")["G1"] == ("5'10\" male",)


def test_a_file_the_reader_reads_differently_from_every_count_fails_whole(make):
    settings, con = make()
    path = _land(settings, "reader_disagrees.csv", f"{NAME}.csv")
    out = _load(settings, con, path)
    _failed_naming(out, con, path, "the CSV reader read 2 records (0 rows + 2 rejected) but the file holds",
                   "nothing is loaded")
    assert con.execute("SELECT count(*) FROM meta.loads WHERE status = 'raw'").fetchone()[0] == 0


def test_last_byte_is_tracked():
    assert _count(b"id,n\n1,a").last_byte == b"a"
    assert _count(b"id,n\n1,a\r\n", chunk=1).last_byte == b"\n"


# --- a file still being written -----------------------------------------------------------------------------

def _waiting(con, path: Path) -> dict:
    m = meta_load(con, str(path))
    assert m["status"] == "waiting"
    assert (m["rows_read"], m["rows_loaded"], m["rows_quarantined"]) == (0, 0, 0)
    return m


def test_a_file_whose_last_row_has_no_newline_is_held_then_loaded_whole(make):
    settings, con = make()
    path = _land(settings, "still_being_written.csv", f"{NAME}.csv")
    out = loader.load_raw_file(con, settings, "cad", path, "r1")
    assert out.status == "waiting", out
    assert out.message.startswith(f"still being written: {path}: the last record has no line terminator")
    assert _waiting(con, path)["message"] == out.message
    assert loader.normalize_pending(con, settings, "cad", "r1") == []
    assert_nothing_loaded(con)
    again = loader.load_raw_file(con, settings, "cad", path, "r2")  # the next night, still unfinished
    assert again.status == "waiting"
    assert con.execute("SELECT count(*) FROM meta.loads").fetchone()[0] == 1  # one row per held path

    with open(path, "a") as fh:  # the vendor finishes the file
        fh.write("OUNDED VEHICLE TOWED\n")
    done = _load(settings, con, path, "r3")
    assert_reconciles(done, con)
    assert (done.rows_read, done.rows_loaded) == (2, 2)
    assert calls(con, "raw_note") == {"P1": ("x",), "P2": ("IMPOUNDED VEHICLE TOWED",)}
    assert con.execute("SELECT count(*) FROM meta.loads WHERE status = 'waiting'").fetchone()[0] == 0


def test_a_vendor_without_final_newlines_can_say_so(make):
    settings, con = make("final_newline: optional\n")
    out = _load(settings, con, _land(settings, "still_being_written.csv", f"{NAME}.csv"))
    assert_reconciles(out, con)
    assert (out.rows_read, out.rows_loaded) == (2, 2)
    assert meta_load(con, out.path)["file_records"] == 2


def test_a_file_that_grows_during_the_load_is_held_and_loaded_next_night(make, monkeypatch):
    settings, con = make()
    path = _land(settings, "good.csv", f"{NAME}.csv")
    extra = (FIX / "good.csv").read_text().splitlines()[1].replace("G1,", "G4,") + "\n"
    grown: list[Path] = []

    def vendor_appends(p: Path) -> None:  # runs after the file was read, before the load commits
        with open(p, "a") as fh:
            fh.write(extra)
        grown.append(p)

    monkeypatch.setattr(loader, "BEFORE_COMMIT_HOOK", vendor_appends)
    out = loader.load_raw_file(con, settings, "cad", path, "r1")
    assert grown == [path]
    assert out.status == "waiting", out
    assert "changed while it was read" in out.message
    _waiting(con, path)
    assert not relation_exists(con, "raw", "cad")  # rolled back, the new raw table with it
    assert loader.normalize_pending(con, settings, "cad", "r1") == []

    monkeypatch.setattr(loader, "BEFORE_COMMIT_HOOK", None)
    done = _load(settings, con, path, "r2")
    assert_reconciles(done, con)
    assert set(calls(con, "received_at")) == {"G1", "G2", "G3", "G4"}


def test_ready_marker_holds_the_file_until_the_marker_is_there(make):
    settings, con = make('ready_marker: "{name}.done"\n')
    path = _land(settings, "good.csv", f"{NAME}.csv")
    assert loader.discover_files(settings, "cad") == [path]
    out = loader.load_raw_file(con, settings, "cad", path, "r1")
    assert out.status == "waiting"
    assert out.message == f"still being written: {path}: its ready marker {NAME}.csv.done is not there yet"
    assert_nothing_loaded(con)

    marker = path.with_name(path.name + ".done")  # matches file_pattern cad_*.csv* too: never a delivery
    marker.write_bytes(b"")
    assert loader.discover_files(settings, "cad") == [path]
    from transforms.warehouse.landing import unmatched_files

    assert unmatched_files(settings) == []
    done = _load(settings, con, path, "r2")
    assert_reconciles(done, con)
    assert done.rows_loaded == 3


@pytest.mark.parametrize("marker", ["{name}", "../{name}.done", "{nam}.done", "{stem}.csv"])
def test_a_ready_marker_that_names_no_other_file_is_a_config_error(make, marker):
    with pytest.raises(ConfigError, match="key ready_marker"):
        make(f'ready_marker: "{marker}"\n')


# --- column names that clash with DuckDB internals ------------------------------------------------------------

def test_columns_named_rowid_load_id_row_number_empty_or_duplicate_load_as_raw_columns(make):
    settings, con = make()
    out = _load(settings, con, _land(settings, "clashing_names.csv", f"{NAME}.csv"))
    assert_reconciles(out, con)
    assert (out.rows_read, out.rows_loaded) == (1, 1)
    cols = ["raw_rowid", "raw_load_id", "raw_row_number", "raw_rowid_2", "raw_beat_code", "raw_beat_code_2",
            "raw_say_hi", "raw_column_22", "raw_note", "raw_note_2"]
    got = con.execute("SELECT " + ", ".join(cols) + " FROM core.calls").fetchall()
    assert got == [("r1", "l1", "n1", "R1", "B7", "b7", "q1", "e1", "x", "second note")]
    # the raw table's own provenance is intact
    assert con.execute("SELECT _load_id, _row_number FROM raw.cad").fetchall() == [(out.load_id, 1)]


# --- nothing is read from outside the project ------------------------------------------------------------------

def test_a_symlink_to_a_csv_outside_the_project_is_refused(make, tmp_path):
    settings, con = make()
    outside = tmp_path / "elsewhere" / "calls.csv"
    outside.parent.mkdir()
    shutil.copyfile(FIX / "good.csv", outside)
    link = settings.source_landing("cad") / f"{NAME}.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(outside)
    out = _load(settings, con, link)
    _failed_naming(out, con, link, str(outside), "outside the source's landing folder", "allowed_roots")
    assert con.execute("SELECT count(*) FROM core.calls").fetchone()[0] == 0


def test_a_refused_file_never_has_its_content_quoted(make, tmp_path, caplog):
    settings, con = make()
    secret = tmp_path / "etc" / "passwd"
    secret.parent.mkdir()
    secret.write_text("root:x:0:0:TOPSECRET-9f3a:/root:/bin/bash\ndaemon:x:1:1::/:/bin/false\n")
    link = settings.source_landing("cad") / f"{NAME}.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(secret)
    with caplog.at_level(logging.DEBUG):
        out = _load(settings, con, link)
    assert out.status == "failed" and str(link) in out.message and str(secret) in out.message
    stored = con.execute("SELECT string_agg(message, ' ') FROM meta.loads").fetchone()[0]
    for text in (out.message, stored, caplog.text):
        assert "TOPSECRET" not in text and "root:x" not in text


def test_header_messages_quote_only_short_column_names(make):
    settings, con = make()
    path = _land(settings, "long_header.csv", f"{NAME}.csv")
    out = _load(settings, con, path)
    _failed_naming(out, con, path, "required column(s) ['received'] not in the file header", "received_time")
    assert "x" * 60 not in out.message and len(out.message) < 1200


def test_a_symlink_to_another_file_inside_the_landing_folder_loads(make):
    settings, con = make()
    landing = settings.source_landing("cad")
    (landing / "incoming").mkdir(parents=True)
    shutil.copyfile(FIX / "good.csv", landing / "incoming" / "export.csv")
    link = landing / f"{NAME}.csv"
    link.symlink_to(Path("incoming") / "export.csv")
    out = _load(settings, con, link)
    assert_reconciles(out, con)
    assert out.rows_loaded == 3


def test_a_symlink_into_an_allowed_root_loads(make, tmp_path):
    settings, con = make(top='allowed_roots = ["../vendor_drop"]')
    drop = tmp_path / "vendor_drop"
    drop.mkdir()
    shutil.copyfile(FIX / "good.csv", drop / "calls.csv")
    link = settings.source_landing("cad") / f"{NAME}.csv"
    link.parent.mkdir(parents=True)
    link.symlink_to(drop / "calls.csv")
    out = _load(settings, con, link)
    assert_reconciles(out, con)
    assert out.rows_loaded == 3


# --- files that no source picks up; the nightly flow end to end ------------------------------------------------

def test_nightly_reports_held_and_unmatched_files_in_meta_health_and_status(tiny_project, prefect_harness):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey
    from typer.testing import CliRunner

    from flows.cli import app
    from flows.nightly import nightly

    p = tiny_project()
    proj, cfg = p.root, str(p.config)
    landing = proj / "data" / "landing"
    (landing / "cad").mkdir(parents=True)
    (landing / "unknown_feed").mkdir()
    shutil.copyfile(FIX / "good.csv", landing / "cad" / f"{NAME}.csv")
    held = landing / "cad" / "cad_20240303T020000.csv"
    shutil.copyfile(FIX / "still_being_written.csv", held)
    for misnamed in (landing / "cad" / "CAD_20240304T020000.csv", landing / "stray.csv",
                     landing / "unknown_feed" / "calls.csv"):
        shutil.copyfile(FIX / "good.csv", misnamed)
    (landing / "cad" / ".DS_Store").write_bytes(b"x")
    (landing / "cad" / "cad_20240305T020000.csv.part").write_bytes(b"x")
    unmatched = ["cad/CAD_20240304T020000.csv", "stray.csv", "unknown_feed/calls.csv"]

    with contextlib.chdir(proj):
        first = nightly(config_path=cfg)

    assert first["status"] == "partial" and first["published"] is True
    assert first["message"] == "1 file(s) still being written, held for the next night: cad"
    assert (first["sources"]["cad"]["loaded"], first["sources"]["cad"]["waiting"]) == (3, 1)
    assert [w["path"] for w in first["waiting"]] == [str(held)]
    assert sorted(u["path"] for u in first["unmatched"]) == unmatched

    with duckdb.connect(first["warehouse"], read_only=True) as con:
        assert con.execute("SELECT path, bytes FROM meta.landing_unmatched WHERE run_id = ? ORDER BY path",
                           [first["run_id"]]).fetchall() == [(p, (FIX / "good.csv").stat().st_size)
                                                             for p in unmatched]
        assert con.execute("SELECT files_waiting FROM meta.runs").fetchone() == (1,)
        assert con.execute("SELECT status FROM meta.loads WHERE path = ?", [str(held)]).fetchone() == ("waiting",)

    with get_client(sync_client=True) as client:
        arts = client.read_artifacts(artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["nightly-health"])))
    md = next(a.data for a in arts if str(a.flow_run_id) == first["run_id"])
    assert "not picked up (matches no pattern)" in md and "still being written" in md
    for p in [*unmatched, "cad/cad_20240303T020000.csv"]:
        assert p in md

    status = CliRunner().invoke(app, ["status", "--config", cfg], env={"COLUMNS": "250"})
    assert status.exit_code == 0, status.output
    assert "not picked up (matches no pattern)" in status.output and "still being written" in status.output
    for p in [*unmatched, "cad_20240303T020000.csv"]:
        assert p in status.output

    with open(held, "a") as fh:  # the vendor finishes; the next night loads the whole file
        fh.write("OUNDED VEHICLE TOWED\n")
    for p in unmatched:
        (landing / p).unlink()
    with contextlib.chdir(proj):
        second = nightly(config_path=cfg)
    assert second["status"] == "ok", second["message"]
    assert (second["sources"]["cad"]["loaded"], second["sources"]["cad"]["waiting"]) == (2, 0)
    assert second["unmatched"] == [] and second["waiting"] == []
    with duckdb.connect(second["warehouse"], read_only=True) as con:
        assert con.execute("SELECT count(*) FROM meta.loads WHERE status = 'waiting'").fetchone() == (0,)
        assert con.execute("SELECT raw_note FROM core.calls WHERE call_id = 'P2'").fetchone() == (
            "IMPOUNDED VEHICLE TOWED",)
    assert os.path.exists(held)
