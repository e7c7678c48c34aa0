"""Scale-out on Dask: `sara run --executor dask` on a LocalCluster of 2 workers publishes the same warehouse
as the default runner, table by table, night after night.

Two copies of one demo project (the city police department and the county sheriff: two agencies, three
sources) take the same deliveries: night 1 (history), night 2 (a delta, plus a 0-byte extract that must fail
as one file and make the night partial), night 3 (updates of calls loaded on nights 1 and 2). One copy runs
the default runner, the other the Dask executor. After every night each table's row count and a content
checksum per column must be equal; only the columns that name the run (run ids, wall-clock times, absolute
paths of the two project copies) are left out.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import SARA
from tests.support.project import demo_project

pytestmark = pytest.mark.slow
CONFIG = "config/demo.toml"
WAREHOUSE = Path("data/demo/warehouse/sara.duckdb")

# columns that differ between any two runs by design
RUN_COLUMNS = {
    "meta.loads": {"run_id", "loaded_at", "path"},
    "meta.runs": {"run_id", "started_at", "finished_at"},
    "meta.audit_results": {"run_id", "checked_at"},
    "meta.mart_status": {"run_id", "built_at"},
    "meta.schema_info": {"applied_at"},
    "meta.version_hash": {"updated_at"},  # when the scheme was recorded
    "meta.published_compstat": {"run_id", "published_at"},  # each night's figures, named by the night
    "marts.restatements": {"run_id", "published_at"},
    "marts.restatement_records": {"run_id"},
    "marts.changes": {"run_id", "run_started_at"},  # each change names the night that loaded it
    "marts.build_info": {"value"},  # the unit signature names the project folder; checked on its own below
}


@pytest.fixture(scope="module")
def env(cli_env):
    return cli_env


@pytest.fixture(scope="module")
def projects(demo_city, tmp_path_factory):
    """Two copies of a demo project holding the session's demo city, nothing delivered yet."""
    return {"local": demo_project(tmp_path_factory.mktemp("local") / "proj", demo_city.path),
            "dask": demo_project(tmp_path_factory.mktemp("dask") / "proj", demo_city.path)}


def _deliver(proj: Path, night: int) -> None:
    from transforms.demo import deliver_night

    deliver_night(proj / "data/demo", night)
    bad = proj / "data/demo/landing/demo_county_calls/so_cad_20261117_resend.csv"
    if night == 2:  # a broken delivery: one failed load in one source, the rest goes on
        bad.write_bytes(b"")
    elif bad.exists():  # the operator removes it (a failed file is retried every night until then)
        bad.unlink()


def _run(proj: Path, env: dict, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SARA, "run", "--config", CONFIG, *extra], cwd=proj, env=env, capture_output=True,
                          text=True, timeout=900)


def _snapshot(proj: Path) -> dict:
    """Per table: row count and, per column, sum(hash(value)) (doubles rounded to 6 decimals; the project's
    own folder in messages written as <project>)."""
    db = proj / WAREHOUSE
    con = duckdb.connect(str(db), read_only=True)
    try:
        out = {}
        for schema, table in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY 1, 2").fetchall():
            name = f"{schema}.{table}"
            skip = RUN_COLUMNS.get(name, set())
            cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE schema_name = ? AND "
                               "table_name = ? ORDER BY column_name", [schema, table]).fetchall()
            exprs = []
            for c, t in cols:
                if c in skip:
                    continue
                q = f'"{c}"'
                if t in ("DOUBLE", "FLOAT"):
                    q = f"round({q}, 6)"
                elif t == "GEOMETRY" or t.startswith("GEOMETRY"):
                    q = f"ST_AsWKB({q})"
                elif c == "message":
                    q = f"replace({q}, '{proj}', '<project>')"
                exprs.append(f"sum(hash({q}))::VARCHAR AS \"{c}\"")
            n = con.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchone()[0]
            sums = con.execute(f'SELECT {", ".join(exprs)} FROM {schema}."{table}"').fetchone() if exprs else ()
            out[name] = (n, dict(zip([c for c, _ in cols if c not in skip], sums, strict=True)))
        out["views"] = sorted(con.execute(
            "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal").fetchall())
        out["runs"] = con.execute("SELECT list(status ORDER BY started_at) FROM meta.runs").fetchone()[0]
        out["loads"] = sorted(con.execute("SELECT load_id, status, rows_read, rows_loaded, rows_duplicate, "
                                          "rows_quarantined FROM meta.loads").fetchall())
        return out
    finally:
        con.close()


@pytest.fixture(scope="module")
def nights(projects, env):
    """Run nights 1-3 in both copies; keep each night's snapshots and exit codes."""
    out = []
    for night in (1, 2, 3):
        res = {}
        for mode, proj in projects.items():
            _deliver(proj, night)
            extra = ("--executor", "dask", "--dask-workers", "2") if mode == "dask" else ()
            r = _run(proj, env, *extra)
            assert r.returncode in (0, 3), f"{mode} night {night}: {r.returncode}\n{r.stdout[-3000:]}{r.stderr[-3000:]}"
            res[mode] = {"rc": r.returncode, "snap": _snapshot(proj), "stdout": r.stdout}
        out.append(res)
    return out


@pytest.mark.parametrize("night", [1, 2, 3])
def test_dask_night_equals_local_night(nights, night):
    local, dask = nights[night - 1]["local"], nights[night - 1]["dask"]
    assert dask["rc"] == local["rc"]
    a, b = local["snap"], dask["snap"]
    assert set(a) == set(b), f"tables only in one: {set(a) ^ set(b)}"
    diffs = []
    for table in sorted(a):
        if a[table] != b[table]:
            if isinstance(a[table], tuple):
                cols = sorted(c for c in a[table][1] if a[table][1][c] != b[table][1].get(c))
                diffs.append(f"{table}: rows {a[table][0]} vs {b[table][0]}; columns {cols}")
            else:
                diffs.append(f"{table}: {a[table]} vs {b[table]}")
    assert not diffs, "\n".join(diffs)
    # the comparison has teeth: the marts are there and hold rows
    assert a["marts.hotspot_stats"][0] > 0 and a["core.calls"][0] > 0 and a["marts.near_repeat"][0] > 0


def test_the_broken_delivery_is_a_partial_night_in_both(nights):
    for mode in ("local", "dask"):
        n2 = nights[1][mode]
        assert n2["rc"] == 3, mode
        assert n2["snap"]["runs"] == ["ok", "partial"], mode
        failed = [x for x in n2["snap"]["loads"] if x[1] == "failed"]
        assert len(failed) == 1 and failed[0][0].startswith("demo_county_calls:"), (mode, failed)
        assert "demo_county_calls" in n2["stdout"]


def test_night3_updates_replace_rows_without_duplicates(nights):
    """The update night changes rows loaded earlier: the scaled-out merge deletes the old versions."""
    for mode in ("local", "dask"):
        snap = nights[2][mode]["snap"]
        assert snap["runs"] == ["ok", "partial", "ok"], mode
        for load in snap["loads"]:
            if load[1] == "loaded":
                assert load[2] == load[3] + load[4] + load[5], load  # read = loaded + duplicate + quarantined
    dask_db = nights[2]["dask"]["snap"]
    assert dask_db["core.calls"] == nights[2]["local"]["snap"]["core.calls"]


def test_dask_run_leaves_no_parts_or_scratch_files(projects, nights):
    wdir = projects["dask"] / WAREHOUSE.parent
    leftovers = sorted(p.name for p in wdir.iterdir() if p.name not in ("sara.duckdb", "sara.duckdb.lock",
                                                                          "runs.jsonl"))
    assert leftovers == []


def test_unit_signature_is_the_whole_config_in_both(projects, nights):
    from transforms.config import load_settings
    from transforms.marts.units import unit_signature

    for proj in projects.values():
        settings = load_settings(proj / CONFIG)
        con = duckdb.connect(str(proj / WAREHOUSE), read_only=True)
        try:
            got = con.execute("SELECT value FROM marts.build_info WHERE key = 'unit_signature'").fetchone()[0]
        finally:
            con.close()
        assert got == unit_signature(settings)


def test_executor_options_are_checked(projects, env):
    r = subprocess.run([*SARA, "run", "--config", CONFIG, "--dask-address", "tcp://127.0.0.1:1"],
                       cwd=projects["local"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "--executor dask" in r.stderr
    r = subprocess.run([*SARA, "run", "--config", CONFIG, "--executor", "spark"],
                       cwd=projects["local"], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "local or dask" in r.stderr
