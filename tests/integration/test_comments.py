"""Every table, view and column of the warehouse explains itself: a COMMENT with its meaning (and unit and
zone where it has one), printed by `sara docs`.

Checked on the warehouse a real nightly flow run of the demo published (every schema: meta, raw, core,
marts), on an empty mart written from its declaration, and (with the real feeds) on the real-data night.
"""

from __future__ import annotations

import shutil

import duckdb
import pytest

from transforms.warehouse.db import connect


def _uncommented(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Every table, view and column of the file without a comment, as schema.table or schema.table.column."""
    rels = con.execute(
        """SELECT schema_name || '.' || table_name FROM duckdb_tables()
           WHERE database_name = current_database() AND coalesce(comment, '') = ''
           UNION ALL
           SELECT schema_name || '.' || view_name FROM duckdb_views()
           WHERE database_name = current_database() AND NOT internal AND coalesce(comment, '') = ''""").fetchall()
    cols = con.execute(
        """SELECT c.schema_name || '.' || c.table_name || '.' || c.column_name FROM duckdb_columns() c
           WHERE c.database_name = current_database() AND NOT c.internal AND coalesce(c.comment, '') = ''
           ORDER BY 1""").fetchall()
    return sorted(r[0] for r in rels) + [c[0] for c in cols]


@pytest.fixture(scope="module")
def demo_con(demo_warehouse):
    con = connect(demo_warehouse / "data" / "demo" / "warehouse" / "sara.duckdb", read_only=True)
    yield con
    con.close()


def test_every_table_view_and_column_of_a_demo_night_has_a_comment(demo_con):
    schemas = {r[0] for r in demo_con.execute(
        "SELECT DISTINCT schema_name FROM duckdb_columns() WHERE database_name = current_database()").fetchall()}
    assert {"meta", "raw", "core", "marts"} <= schemas
    n_cols = demo_con.execute("SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
                              "AND schema_name = 'marts'").fetchone()[0]
    assert n_cols > 300  # the analysis tables and views are all there
    assert _uncommented(demo_con) == []


def test_view_columns_carry_their_own_comments(demo_con):
    """A view's column has a stored comment: the same as the table column it selects, or its own."""
    same = demo_con.execute(
        """SELECT v.column_name, v.comment, t.comment FROM duckdb_columns() v
           JOIN duckdb_columns() t ON t.schema_name = 'marts' AND t.table_name = 'hotspot_stats'
            AND t.column_name = v.column_name
           WHERE v.schema_name = 'marts' AND v.table_name = 'hotspots'""").fetchall()
    assert len(same) == 15 and all(vc == tc for _, vc, tc in same)
    geom = demo_con.execute("SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                            "AND table_name = 'hotspots' AND column_name = 'geom'").fetchone()[0]
    assert "analysis CRS" in geom


def test_dynamic_columns_have_generated_comments(demo_con):
    """n_<days>d per count window, and a raw table's delivered columns, say what they are."""
    comments = dict(demo_con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'marts' "
        "AND table_name = 'repeat_locations' AND column_name SIMILAR TO 'n_[0-9]+d'").fetchall())
    assert set(comments) == {"n_7d", "n_28d", "n_91d", "n_364d", "n_365d"}
    assert "364 local days" in comments["n_364d"] and "as_of" in comments["n_364d"]
    raw = dict(demo_con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = 'raw' "
                                "AND table_name = 'demo_metro_calls'").fetchall())
    assert "CallNumber" in raw["CallNumber"] and "as delivered" in raw["CallNumber"]


def test_local_time_columns_beside_the_utc_ones(demo_con):
    """The marts meant for reading show each UTC timestamp also as local time in the agency's zone."""
    for table, pairs in {"repeat_locations": [("first_seen", "first_seen_local"), ("last_seen", "last_seen_local")],
                         "repeat_location_rows": [("last_seen", "last_seen_local")],
                         "coverage": [("first_event_at", "first_event_local"),
                                      ("last_event_at", "last_event_local")]}.items():
        for utc, local in pairs:
            n, wrong = demo_con.execute(
                f"""SELECT count(*), count(*) FILTER (WHERE t.{local} IS DISTINCT FROM timezone(z.timezone, t.{utc}))
                    FROM marts.{table} t JOIN marts.agency_zones z USING (agency)""").fetchone()
            assert n > 0 and wrong == 0, (table, local)
            typ, comment = demo_con.execute(
                "SELECT data_type, comment FROM duckdb_columns() WHERE schema_name = 'marts' AND table_name = ? "
                "AND column_name = ?", [table, local]).fetchone()
            assert typ == "TIMESTAMP"
            assert comment.startswith("local time, ") and "America/Los_Angeles" in comment, comment


def test_sara_docs_prints_every_table_view_and_column(demo_con):
    from transforms.outputs.dictionary import data_dictionary

    md = data_dictionary(demo_con)
    for rel in ("meta.loads", "raw.demo_metro_calls", "core.calls", "core.quarantine", "marts.hotspots",
                "marts.repeat_locations", "marts.compstat", "marts.response_times"):
        assert f"\n## {rel}\n" in md, rel
    assert "(no description)" not in md
    rows = [line for line in md.splitlines() if line.startswith("| ") and not line.startswith("| column ")]
    assert rows and all(not line.rstrip().endswith("|  |") for line in rows)
    n_cols = demo_con.execute("SELECT count(*) FROM duckdb_columns() WHERE database_name = current_database() "
                              "AND NOT internal").fetchone()[0]
    assert len(rows) == n_cols
    # one section: schema.table, its comment, then column | type | description
    sec = md.split("\n## marts.response_times\n", 1)[1].split("\n## ", 1)[0]
    assert "| month | DATE | " in sec and "| response_s_p90 | DOUBLE | " in sec


def test_an_empty_mart_has_its_column_comments():
    from transforms.marts.compstat import COMPSTAT
    from transforms.marts.write import Mart, write_mart

    con = duckdb.connect()
    con.execute("CREATE SCHEMA marts")
    write_mart(con, COMPSTAT, None)
    assert _uncommented(con) == []
    # a declaration without column comments still works; its shared dimension columns are explained
    write_mart(con, Mart("plain", "agency VARCHAR, thing BIGINT", "a table"), None)
    assert _uncommented(con) == ["marts.plain.thing"]
    con.close()
    with pytest.raises(ValueError, match=r"undeclared column\(s\) \['thin'\]"):
        Mart("plain", "agency VARCHAR, thing BIGINT", "a table", column_comments={"thin": "a typo"})


def test_a_scaled_out_night_keeps_every_comment(demo_warehouse, tmp_path):
    """The scale-out path (each agency's marts in its own file, merged by one writer) keeps the comments of
    tables, views and their columns, and names the zones in the local-time columns."""
    from transforms.config import load_settings
    from transforms.marts import parts as mart_parts

    build = tmp_path / "build.duckdb"
    shutil.copyfile(demo_warehouse / "data" / "demo" / "warehouse" / "sara.duckdb", build)
    settings = load_settings(demo_warehouse / "config" / "demo.toml", project_dir=demo_warehouse)
    con = connect(build)
    mart_parts.prepare_partitions(con, settings)
    con.close()
    manifests = [mart_parts.marts_partition(settings, a, build, tmp_path / "parts") for a in settings.sara.agencies]
    con = connect(build)
    try:
        mart_parts.merge_marts(con, settings, manifests)
        assert _uncommented(con) == []
        comment = con.execute("SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                              "AND table_name = 'event_dims' AND column_name = 'origin_dim'").fetchone()[0]
        assert comment.startswith("the origin dimension")
        local = con.execute("SELECT comment FROM duckdb_columns() WHERE schema_name = 'marts' "
                            "AND table_name = 'coverage' AND column_name = 'last_event_local'").fetchone()[0]
        assert local.startswith("local time, America/Los_Angeles: ")
    finally:
        con.close()


def test_every_column_of_the_real_night_has_a_comment(real_con):
    assert _uncommented(real_con) == []
