"""The published warehouse file: any cut of it is reported as corrupt (a file held by a writer is busy, not
corrupt); a night's start removes whatever an earlier night left; and the marts summed in Python are
bit-for-bit the same whatever order DuckDB returns their input rows in."""

from __future__ import annotations

import struct
import subprocess
import sys

import duckdb
import pytest

from tests.support.project import PROJECT
from tests.support.published import copy_project, sha

CONFIG = "config/demo.toml"
WAREHOUSE = "data/demo/warehouse/sara.duckdb"


def test_truncated_files_are_reported_as_corrupt(tmp_path):
    """Any cut of a DuckDB file, from nothing to all but its last bytes, is WarehouseCorrupt on open, and the
    message names the file and the recovery."""
    from transforms.warehouse import db as wh

    good = tmp_path / "good.duckdb"
    con = duckdb.connect(str(good))
    con.execute("CREATE TABLE t AS SELECT range AS i, random() AS r FROM range(200000)")
    con.execute("CREATE TABLE u AS SELECT 1 AS a")
    con.close()
    with wh.open_published(good) as con:
        assert con.execute("SELECT count(*) FROM t").fetchone() == (200000,)
    size = good.stat().st_size
    for keep in (0, 100, 4096, 3 * 4096, size // 10, size // 2, size - 4096, size - 1):
        bad = tmp_path / f"cut{keep}.duckdb"
        bad.write_bytes(good.read_bytes()[:keep])
        with pytest.raises(wh.WarehouseCorrupt) as info:
            with wh.open_published(bad):
                pass
        msg = str(info.value)
        assert str(bad) in msg and "is corrupt" in msg and "sara rebuild" in msg, msg
    # a file held by a writer is busy, not corrupt
    con = duckdb.connect(str(good))
    try:
        probe = subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; "
                                "from transforms.warehouse import db as wh\n"
                                "try:\n    wh.open_published(Path(sys.argv[1])).__enter__()\n"
                                "except wh.WarehouseCorrupt: print('corrupt')\n"
                                "except Exception as e: print('other', type(e).__name__)", str(good)],
                               capture_output=True, text=True, timeout=120, cwd=PROJECT)
    finally:
        con.close()
    assert probe.stdout.strip().startswith("other"), probe.stdout + probe.stderr


def test_next_night_removes_every_leftover(tmp_path):
    """A night killed (or failed) while copying, spilling or writing leaves files; the next night's start
    removes them all before it copies the published file."""
    from transforms.warehouse import db as wh

    published = tmp_path / "sara.duckdb"
    duckdb.connect(str(published)).execute("CREATE TABLE t AS SELECT 1 AS a").close()
    for p in wh.leftovers(published):
        if p.name.endswith(".tmp"):
            p.mkdir()
            (p / "spill.block").write_bytes(b"x" * 1000)
        else:
            p.write_bytes(b"x" * 1000)
    build = wh.start_build(published)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sara.duckdb", "sara.duckdb.build"]
    assert sha(build) == sha(published)
    size = build.stat().st_size
    assert wh.discard_build(build) == size  # the bytes freed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sara.duckdb"]


@pytest.mark.slow
def test_marts_bitwise_equal_when_rows_come_in_another_order(demo_warehouse, tmp_path):
    """Build the float marts that sum in Python, shuffle the physical order of their DuckDB inputs (a scan
    without ORDER BY has no order; more threads shuffle it the same way), build them again: same bits."""
    from transforms.config import load_settings
    from transforms.marts.density import build_accuracy, build_kde
    from transforms.marts.temporal_profile import build_temporal_profile
    from transforms.warehouse import db as wh

    proj = copy_project(demo_warehouse, tmp_path)
    settings = load_settings(str(proj / CONFIG))
    as_of = settings.sara.time.as_of
    con = wh.connect(proj / WAREHOUSE, threads=1)  # one thread: the scan order follows the physical order
    tables = ("kde_rows", "temporal_profile", "hotspot_accuracy")

    def bits(row: tuple) -> tuple:  # floats by their bytes: NaN equals NaN, 0.1 + 0.2 differs from 0.3
        return tuple(struct.pack("<d", v) if isinstance(v, float) else v for v in row)

    def build() -> dict:
        build_kde(con, settings, as_of)
        build_temporal_profile(con, settings, as_of)
        build_accuracy(con, settings, as_of)
        return {t: [bits(r) for r in con.execute(f"SELECT * FROM marts.{t} ORDER BY ALL").fetchall()]
                for t in tables}

    try:
        first = build()
        for table in ("marts.events", "marts.event_units"):
            con.execute(f"CREATE TEMP TABLE shuffled AS SELECT * FROM {table} ORDER BY hash(event_id, 'shuffle')")
            con.execute(f"DELETE FROM {table}")
            con.execute(f"INSERT INTO {table} SELECT * FROM shuffled")
            con.execute("DROP TABLE shuffled")
        second = build()
    finally:
        con.close()
    for t in tables:
        assert len(first[t]) > 100, t
        a, b = first[t], second[t]
        diff = sum(x != y for x, y in zip(a, b, strict=True))
        assert diff == 0, f"marts.{t}: {diff} of {len(a)} rows differ"
