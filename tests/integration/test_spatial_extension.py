"""The spatial extension on warehouse connections: its signature is checked by DuckDB once per process and per
file, and a warehouse connection never accepts an unsigned extension."""

from __future__ import annotations

import os
import shutil

import duckdb
import pytest

from transforms.warehouse import db


def _tampered(src, dst):
    data = bytearray(src.read_bytes())
    data[-10] ^= 0xFF  # inside the signature at the end of the file
    dst.write_bytes(bytes(data))


def test_connection_has_spatial_and_refuses_unsigned_extensions(tmp_path):
    con = db.connect(tmp_path / "w.duckdb")
    try:
        assert con.execute("SELECT ST_AsText(ST_Point(1, 2))").fetchone() == ("POINT (1 2)",)
        assert con.execute("SELECT current_setting('allow_unsigned_extensions')").fetchone() == (False,)
        bad = tmp_path / "other.duckdb_extension"
        _tampered(db.spatial_extension_path(), bad)
        with pytest.raises(duckdb.IOException, match="signature"):
            con.execute(f"LOAD '{bad}'")
    finally:
        con.close()


def test_signature_checked_once_per_file(tmp_path, monkeypatch):
    ext = tmp_path / "spatial.duckdb_extension"
    shutil.copyfile(db.spatial_extension_path(), ext)  # a byte-for-byte copy keeps its signature
    monkeypatch.setattr(db, "spatial_extension_path", lambda: ext)
    monkeypatch.setattr(db, "_verified", None)
    checks = []
    signed_load = db.load_spatial
    monkeypatch.setattr(db, "load_spatial", lambda con: (checks.append(1), signed_load(con)))
    for i in range(3):
        db.connect(tmp_path / f"w{i}.duckdb").close()
    assert len(checks) == 1
    # the file changes (here only its mtime): checked again
    os.utime(ext, ns=(0, 0))
    db.connect(tmp_path / "w3.duckdb").close()
    assert len(checks) == 2
    # the file is replaced by one whose signature is wrong: no connection
    _tampered(ext, tmp_path / "bad")
    os.replace(tmp_path / "bad", ext)
    with pytest.raises(duckdb.IOException, match="signature"):
        db.connect(tmp_path / "w4.duckdb")
    assert len(checks) == 3
