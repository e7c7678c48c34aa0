"""The version history's row hash and its scheme (transforms/warehouse/version_hash.py): DuckDB's hash() of the
canonical fields, the migration of a warehouse whose stored hashes were made by md5 of text (the first scheme) or
by another DuckDB's hash(), and the version numbers after a late older version."""

from __future__ import annotations

from tests.integration.test_versions import A, B, C, Feed
from transforms.warehouse import version_hash, versions


def _hash_of(f: Feed, replace: str = "") -> int:
    """hash_sql of core's row of A, with some fields replaced (`offense := ...`)."""
    src = f.settings.sources["feed"]
    h = version_hash.hash_sql(src, "c", version_hash.core_types(f.con, "incidents"))
    rep = f" REPLACE ({replace})" if replace else ""
    return f.con.execute(f"WITH c AS (SELECT *{rep} FROM core.incidents WHERE incident_id = 'A') SELECT {h} FROM c"
                         ).fetchone()[0]


def test_hash_tells_null_from_a_value_and_one_field_from_another(tiny_project, tmp_path):
    f = Feed(tiny_project, tmp_path / "p")
    f.load("20160503", A)
    base = _hash_of(f)
    assert base == f.con.execute("SELECT row_hash FROM core.incident_versions").fetchone()[0]
    variants = {
        "address null": "CAST(NULL AS VARCHAR) AS address",
        "address empty": "'' AS address",
        "n_offenses null": "CAST(NULL AS INTEGER) AS n_offenses",
        "n_offenses 0": "0 AS n_offenses",
        "x null": "CAST(NULL AS DOUBLE) AS x",
        "x 0": "0.0 AS x",
        # the same two values, each in the other field
        "code and offense swapped": "'X' AS offense_code, 'Y' AS offense",
        "code and offense": "'Y' AS offense_code, 'X' AS offense",
        "beat and district swapped": "'7' AS beat, '8' AS district",
        "beat and district": "'8' AS beat, '7' AS district",
        "both 7": "'7' AS beat, '7' AS district",
    }
    hashes = {"as loaded": base} | {k: _hash_of(f, v) for k, v in variants.items()}
    same = [(k, j) for k in hashes for j in hashes if k < j and hashes[k] == hashes[j]]
    assert same == []
    assert _hash_of(f, "address AS address") == base  # the same row, the same hash


def _as_first_scheme(monkeypatch) -> None:
    """Write versions the way sara did before this scheme: md5 of the fields as text, no meta.version_hash."""
    monkeypatch.setattr(versions, "hash_sql", lambda src, alias, types, have=None:
                        version_hash.md5_sql(src, alias, have))
    monkeypatch.setattr(versions, "migrate", lambda *a: False)
    monkeypatch.setattr(versions, "stored", lambda con, source: (version_hash.LEGACY, None, False))


def test_a_warehouse_of_md5_hashes_keeps_working(tiny_project, tmp_path, monkeypatch):
    f = Feed(tiny_project, tmp_path / "p")
    src = f.settings.sources["feed"]
    with monkeypatch.context() as m:
        _as_first_scheme(m)
        f.load("20160503", A, B, C)
        f.load("20160510", A.replace("THEFT", "ROBBERY"), B, C)  # A: a closed THEFT version, an open ROBBERY one
    assert f.con.execute("SELECT count(*) FROM meta.version_hash").fetchone()[0] == 0
    md5 = version_hash.md5_sql(src, "c")
    assert f.con.execute(f"""SELECT bool_and(v.row_hash = {md5}) FROM core.incident_versions v JOIN core.incidents c
                             USING (incident_id) WHERE v.ended_load_id IS NULL""").fetchone()[0]
    n = f.n_versions()
    assert n == 4

    # an identical re-delivery, by this code: no version added; open versions rehashed, the scheme recorded
    f.load("20160511", C, B, A.replace("THEFT", "ROBBERY"))  # other bytes, same records
    assert f.n_versions() == n
    assert version_hash.stored(f.con, "feed") == (version_hash.SCHEME, version_hash.fingerprint(f.con), True)
    h = version_hash.hash_sql(src, "c", version_hash.core_types(f.con, "incidents"))
    assert f.con.execute(f"""SELECT count(*), bool_and(v.row_hash = {h}) FROM core.incident_versions v
                             JOIN core.incidents c USING (incident_id) WHERE v.ended_load_id IS NULL""").fetchone() \
        == (3, True)
    # A's closed THEFT version keeps its md5 hash; THEFT re-delivered late adds nothing, an unseen version does
    f.load("20160505", A)
    assert f.n_versions() == n
    f.load("20160506", A.replace("THEFT", "ASSAULT"))
    assert f.n_versions() == n + 1
    assert [v[:2] for v in f.versions("A")] == [(1, "THEFT"), (2, "ROBBERY"), (3, "ASSAULT")]
    # a changed record: exactly one version more, numbered after the late one
    f.load("20160512", A.replace("THEFT", "ROBBERY"), B.replace("BURGLARY", "ROBBERY"), C)
    assert f.n_versions() == n + 2
    assert [v[:2] for v in f.versions("B")] == [(1, "BURGLARY"), (2, "ROBBERY")]
    assert [v[0] for v in f.versions("A")] == [1, 2, 3]


def test_hashes_of_another_duckdb_are_recomputed(tiny_project, tmp_path):
    f = Feed(tiny_project, tmp_path / "p")
    f.load("20160503", A, B, C)
    assert version_hash.stored(f.con, "feed") == (version_hash.SCHEME, version_hash.fingerprint(f.con), False)
    # as if written by a DuckDB whose hash() gives other values
    f.con.execute("UPDATE core.incident_versions SET row_hash = row_hash // 2")
    f.con.execute("UPDATE meta.version_hash SET fingerprint = fingerprint // 2")
    f.load("20160504", A, B, C.replace("THEFT", "ROBBERY"))
    assert f.n_versions() == 4  # C changed: one; A and B identical: none
    assert [v[:2] for v in f.versions("C")] == [(1, "THEFT"), (2, "ROBBERY")]
    assert version_hash.stored(f.con, "feed") == (version_hash.SCHEME, version_hash.fingerprint(f.con), False)


def test_a_change_after_a_late_older_version_takes_the_next_number(tiny_project, tmp_path):
    """The open version is not always the last one: a late older version, superseded at arrival, comes after."""
    f = Feed(tiny_project, tmp_path / "p")
    f.load("20160503", A)
    f.load("20160510", A.replace("THEFT", "ROBBERY"))
    f.load("20160505", A.replace("THEFT", "BURGLARY"))  # late: version 3, closed
    f.load("20160511", A.replace("THEFT", "ARSON"))
    got = f.versions("A")
    assert [(v[0], v[1], v[6]) for v in got] == [(1, "THEFT", "20160510"), (2, "ROBBERY", "20160511"),
                                                 (3, "BURGLARY", "20160505"), (4, "ARSON", None)]


def test_fingerprint_is_of_the_running_duckdb():
    import duckdb

    con = duckdb.connect()
    fp = version_hash.fingerprint(con)
    assert fp == version_hash.fingerprint(con) and fp != version_hash.fingerprint(con, version_hash.LEGACY)
    assert 0 < fp < 2**64
