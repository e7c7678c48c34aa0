"""Every command of the README's "Commands" table, run as a subprocess on a tiny project: its exit code and
one fact of its output. A command listed in the README that no test here runs fails the last test.

The tiny project is the demo city at scale 0.05 (two nights, a few thousand calls), so the marts, the report
and the problem assessment all have something in them. Night 3's extracts are then loaded with `sara ingest`
(one source) and `sara run` (the others)."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import duckdb
import pytest

from tests.support.cli import SARA, readme_commands
from tests.support.project import demo_project

pytestmark = pytest.mark.slow
CONFIG = "config/demo.toml"
WAREHOUSE = Path("data/demo/warehouse/sara.duckdb")
EXERCISED: set[str] = set()  # "run", "problem", "problem new" ...: every command a test here has run


@pytest.fixture(scope="module")
def env(cli_env):
    """The session's CLI environment: a private PREFECT_HOME and one real Prefect server."""
    return cli_env


def _sara(proj: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    EXERCISED.update({args[0], " ".join(args[:2])})
    return subprocess.run([*SARA, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=600)


def _out(res: subprocess.CompletedProcess) -> str:
    return f"exit {res.returncode}\n--- stdout\n{res.stdout[-3000:]}\n--- stderr\n{res.stderr[-3000:]}"


def _flat(text: str) -> str:
    return " ".join(text.split())


def _db(proj: Path, sql: str, params: list | None = None) -> list[tuple]:
    con = duckdb.connect(str(proj / WAREHOUSE), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory, env):
    """`sara demo --nights 2 --scale 0.05` in a copy of the project: the tiny project every test uses."""
    proj = demo_project(tmp_path_factory.mktemp("project"))
    res = _sara(proj, env, "demo", "--nights", "2", "--scale", "0.05")
    assert res.returncode == 0, _out(res)
    return proj, res


def test_help_lists_every_command(demo, env):
    proj, _ = demo
    res = _sara(proj, env, "--help")
    assert res.returncode == 0, _out(res)
    for cmd in sorted(readme_commands()):
        words = cmd.split()
        out = res.stdout
        if len(words) > 1:  # a sub-command: listed by its group's help
            sub = _sara(proj, env, *words[:-1], "--help")
            assert sub.returncode == 0, _out(sub)
            assert re.search(rf"^\W*{re.escape(words[0])}\s", res.stdout, re.M), f"{words[0]} not in sara --help"
            out = sub.stdout
        assert re.search(rf"^\W*{re.escape(words[-1])}\s", out, re.M), f"{cmd} is not listed by --help"


def test_demo_runs_its_nights_and_prints_the_warehouse(demo):
    proj, res = demo
    assert "night 2: run of" in res.stdout and f"warehouse: {proj / WAREHOUSE}" in _flat(res.stdout)
    assert [r[0] for r in _db(proj, "SELECT status FROM meta.runs ORDER BY started_at")] == ["ok", "ok"]


def test_ingest_copies_the_file_and_loads_it(demo, env, tmp_path):
    proj, _ = demo
    source = "demo_metro_calls"
    extract = next((proj / "data/demo/extracts/night_03" / source).iterdir())
    landing = proj / "data/demo/landing" / source
    before = _db(proj, "SELECT count(*) FROM core.calls WHERE source = ?", [source])[0][0]
    # a file the nightly run would never pick up (its name does not match file_pattern) is refused
    renamed = tmp_path / f"export_{extract.name}"
    shutil.copy(extract, renamed)
    listing = sorted(p.name for p in landing.iterdir())
    bad = _sara(proj, env, "ingest", source, str(renamed), "--config", CONFIG)
    assert bad.returncode == 2 and "file_pattern" in bad.stderr, _out(bad)
    assert sorted(p.name for p in landing.iterdir()) == listing  # nothing copied

    res = _sara(proj, env, "ingest", source, str(extract), "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    assert "copied 1 file(s)" in res.stdout and (landing / extract.name).is_file()
    loads = _db(proj, "SELECT status, rows_read, rows_loaded FROM meta.loads "
                      "WHERE source = ? AND parse_filename(path) = ?", [source, extract.name])
    assert len(loads) == 1 and loads[0][0] == "loaded" and loads[0][2] > 0, loads
    after = _db(proj, "SELECT count(*) FROM core.calls WHERE source = ?", [source])[0][0]
    assert after > before  # night 3 brings new calls


def test_run_loads_what_is_new_and_rejects_a_bad_executor(demo, env):
    proj, _ = demo
    bad = _sara(proj, env, "run", "--executor", "dusk", "--config", CONFIG)
    assert bad.returncode == 2 and "'dusk'" in bad.stderr, _out(bad)
    delivered = []  # the rest of night 3, delivered as a night's extracts arrive
    for src_dir in sorted((proj / "data/demo/extracts/night_03").iterdir()):
        if src_dir.name != "demo_metro_calls":
            for f in src_dir.iterdir():
                (proj / "data/demo/landing" / src_dir.name / f.name).write_bytes(f.read_bytes())
                delivered.append((src_dir.name, f.name))
    assert delivered
    res = _sara(proj, env, "run", "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    m = re.search(r"run ([0-9a-f]{8}): (\w+)", res.stdout)
    assert m and m.group(2) == "ok", _out(res)
    last = _db(proj, "SELECT run_id[:8], status FROM meta.runs ORDER BY started_at DESC LIMIT 1")[0]
    assert last == (m.group(1), "ok")
    for source, name in delivered:
        status = _db(proj, "SELECT status FROM meta.loads WHERE source = ? AND parse_filename(path) = ?",
                     [source, name])
        assert status == [("loaded",)], (source, name, status)


def test_status_shows_the_last_run(demo, env):
    proj, _ = demo
    run8, status = _db(proj, "SELECT run_id[:8], status FROM meta.runs ORDER BY started_at DESC LIMIT 1")[0]
    res = _sara(proj, env, "status", "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    assert any(run8 in line and f" {status} " in line for line in res.stdout.splitlines()), _out(res)
    assert "quarantine by reason" in res.stdout


def test_query_counts_the_delivered_files(demo, env):
    proj, _ = demo
    delivered = [p for p in (proj / "data/demo/landing").glob("*/*") if p.is_file()]
    res = _sara(proj, env, "query", "--csv", "SELECT count(*) AS n FROM meta.loads WHERE status = 'loaded'",
                "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    assert res.stdout.splitlines() == ["n", str(len(delivered))]  # every delivered file loaded once


def test_docs_prints_column_comments(demo, env):
    proj, _ = demo
    (dtype, comment), = _db(proj, "SELECT data_type, comment FROM duckdb_columns() WHERE schema_name = 'core' "
                                  "AND table_name = 'calls' AND column_name = 'response_s'")
    assert comment
    res = _sara(proj, env, "docs", "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    assert "## core.calls" in res.stdout and f"| response_s | {dtype} | {comment} |" in res.stdout


def test_export_writes_layers_a_gis_reader_opens(demo, env, tmp_path):
    import pyogrio

    proj, _ = demo
    out = tmp_path / "gis"
    res = _sara(proj, env, "export", "--format", "gpkg", "--out", str(out), "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    gpkgs = sorted(out.glob("*.gpkg"))
    assert gpkgs and all(f"wrote {p}" in _flat(res.stdout) for p in gpkgs), _out(res)
    layers = [name for name, _ in pyogrio.list_layers(gpkgs[0])]
    hot = [name for name in layers if "hotspot" in name]
    assert hot, layers
    df = pyogrio.read_dataframe(gpkgs[0], layer=hot[0], max_features=1000)
    assert len(df) > 0 and df.crs is not None
    shutil.rmtree(out)  # tens of MB at the demo's scale: not kept


def test_near_repeat_prints_the_knox_table(demo, env):
    proj, _ = demo
    n = _db(proj, "SELECT count(*) FROM core.incidents WHERE agency = 'metro' AND is_located AND NOT is_void "
                  "AND x IS NOT NULL AND y IS NOT NULL")[0][0]
    res = _sara(proj, env, "near-repeat", "--agency", "metro", "--perms", "9", "--seed", "1", "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    assert f"Knox test: {n:,} events" in res.stdout and "space \\ time" in res.stdout, _out(res)


def test_report_writes_a_page_naming_the_agency(demo, env, tmp_path):
    proj, _ = demo
    name = tomllib.loads((proj / CONFIG).read_text())["agencies"]["metro"]["name"]
    out = tmp_path / "report"
    res = _sara(proj, env, "report", "--out", str(out), "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    page = out / "index.html"
    assert _flat(res.stdout) == str(page) and name in page.read_text(encoding="utf-8")


def test_problem_new_writes_a_problem_that_loads(demo, env):
    from transforms.config import load_settings
    from transforms.config.problems import load_problem

    proj, _ = demo
    res = _sara(proj, env, "problem", "new", "tiny_check", "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    path = proj / "config/problems/demo/tiny_check.yaml"
    assert path.is_file() and str(path) in _flat(res.stdout)
    settings = load_settings(str(proj / CONFIG))
    problem = load_problem(settings, path)
    assert problem.name == "tiny_check" and problem.agency in settings.sara.agencies
    again = _sara(proj, env, "problem", "new", "tiny_check", "--config", CONFIG)
    assert again.returncode == 2 and "already exists" in again.stderr, _out(again)


def test_assess_prints_the_assessment_or_says_there_is_none(demo, env):
    proj, _ = demo
    (sentence,), = _db(proj, "SELECT sentence FROM marts.problem_assessment WHERE problem = 'riverton_hotspot1'")
    res = _sara(proj, env, "assess", "riverton_hotspot1", "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    assert "WDD" in res.stdout and _flat(sentence) in _flat(res.stdout)
    none = _sara(proj, env, "assess", "no_such_problem", "--config", CONFIG)
    assert none.returncode == 2, _out(none)
    assert "no assessment for problem 'no_such_problem'" in _flat(none.stderr) and "riverton_hotspot1" in none.stderr


def test_crosswalk_suggest_lists_the_unmapped_demo_code_and_score_reads_the_reviewed_rows(demo, env, tmp_path):
    proj, _ = demo
    out = tmp_path / "natures.csv"
    res = _sara(proj, env, "crosswalk", "suggest", "demo_metro_calls", "--config", CONFIG, "--out", str(out))
    assert res.returncode == 0, _out(res)
    # every demo code is reviewed except the planted unmapped one, which the warehouse's calls carry
    (n,), = _db(proj, "SELECT count(*) FROM core.calls WHERE source = 'demo_metro_calls' AND call_type_code = 'XYZ9'")
    assert out.read_text(encoding="utf-8").splitlines()[1:] == [f"XYZ9,XYZ9,,,no rule matched: review by hand,{n}"]
    score = _sara(proj, env, "crosswalk", "score", "demo_metro_calls", "--config", CONFIG)
    assert score.returncode == 0 and "of 35 reviewed codes" in _flat(score.stdout), _out(score)


def test_publish_writes_csvs_without_exact_addresses(demo, env, tmp_path):
    from tests.support.leakscan import published_cells

    proj, _ = demo
    out = tmp_path / "public"
    res = _sara(proj, env, "publish", "--out", str(out), "--config", CONFIG)
    assert res.returncode == 0, _out(res)
    csvs = {p.stem for p in out.glob("*.csv")}
    assert {"demo_metro_calls", "demo_county_calls", "demo_metro_incidents"} <= csvs, csvs
    exact = {a for (a,) in _db(proj, "SELECT DISTINCT address FROM core.calls WHERE address <> address_block "
                                     "UNION SELECT DISTINCT address FROM core.incidents "
                                     "WHERE address <> address_block")}
    assert any(re.match(r"\d+ ", a) for a in exact)  # house numbers exist in core ...
    assert exact & published_cells(out) == set()  # ... and none leaves
    assert any("BLOCK" in c for c in published_cells(out))  # the block is what is published


def test_rebuild_sets_the_warehouse_aside_and_loads_landing_again(demo, env):
    proj, _ = demo
    before = _db(proj, "SELECT count(*), sum(hash(call_id, call_type, event_at)) FROM core.calls")
    res = _sara(proj, env, "rebuild", "--config", CONFIG)
    assert res.returncode in (0, 3), _out(res)
    kept = list((proj / WAREHOUSE).parent.glob("sara.duckdb.set-aside-*"))
    assert len(kept) == 1 and "the file it replaced" in _flat(res.stdout)
    # every delivered file was loaded again, and the current calls are the same records
    assert _db(proj, "SELECT count(*), sum(hash(call_id, call_type, event_at)) FROM core.calls") == before
    assert _db(proj, "SELECT list(DISTINCT flow) FROM meta.runs")[0][0] == ["rebuild"]


def test_serve_refuses_without_a_prefect_server(demo, env):
    proj, _ = demo
    res = _sara(proj, {k: v for k, v in env.items() if k != "PREFECT_API_URL"}, "serve", "--config", CONFIG)
    assert res.returncode == 2, _out(res)
    assert "PREFECT_API_URL is not set" in _flat(res.stderr)


def test_every_readme_command_is_exercised(request):
    """Last: a command in the README's table that no test above ran is a defect (add its test)."""
    here = {item.name for item in request.session.items if item.path == request.path}
    mine = {name for name in globals() if name.startswith("test_")}
    if here != mine:
        pytest.skip("only checked when the whole module runs")
    missing = readme_commands() - EXERCISED
    assert not missing, f"README commands no test in {Path(__file__).name} runs: {sorted(missing)}"
