"""Per-table checksums of a warehouse, to prove that a change of code left every table's content unchanged.

    .venv/bin/python bench/checksums.py build demo out/demo.json            # sara demo in a temporary copy
    .venv/bin/python bench/checksums.py build real out/real.json            # the four real feeds (../shared/data),
                                                                           # one night per --as-of date
    .venv/bin/python bench/checksums.py build demo out/demo.json --keep out/   # and keep the warehouse built
    .venv/bin/python bench/checksums.py snapshot data/demo/warehouse/sara.duckdb out/w.json
    .venv/bin/python bench/checksums.py compare before.json after.json \\
        --rename marts.concentration.n_units=n_places

A snapshot holds, for every table of every schema: its row count, and per column the sum of the 64-bit hashes
of its values (order-free, so a table whose rows come out in another order has the same sum). Geometries
are hashed as WKB; text has the project folder replaced by `<project>`, so two builds in two temporary
folders compare equal. Every column is summed; `compare` leaves out the columns that name the run rather than the
data (run ids, wall-clock times, file modification times): RUN_COLUMNS lists them, found by building the
same input twice and keeping every column whose sums differed. Views are listed by name.

`compare` prints every table and column whose count or sum differs, and exits 1 if any does. A renamed
column is compared under its old name (`--rename schema.table.old=new`); a renamed table likewise
(`--rename schema.old=schema.new`).

`build` runs the project's own command line (`sara demo`, or `sara run` on a temporary project whose
landing folders hold the real files), so it measures whatever code is checked out.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"

# Columns whose values name the run, not the data: building the same input twice (the demo, and the real feeds
# on two as_of dates) gave different sums in these columns and nowhere else. version_at and extract_at come
# from file modification times for feeds that carry no extract time of their own.
RUN_COLUMNS: dict[str, set[str]] = {
    "meta.runs": {"run_id", "started_at", "finished_at"},
    "meta.loads": {"run_id", "loaded_at", "extract_at"},
    "meta.audit_results": {"run_id", "checked_at"},
    "meta.schema_info": {"applied_at"},
    "meta.landing_unmatched": {"run_id", "modified_at"},
    "meta.mart_status": {"run_id", "built_at"},
    "meta.published_compstat": {"run_id", "published_at"},  # each night's figures, named by the night
    "meta.version_hash": {"updated_at"},
    "marts.changes": {"run_id", "run_started_at"},
    "marts.restatements": {"run_id", "published_at"},
    "marts.restatement_records": {"run_id"},
    "marts.periods": {"newest_extract_at"},  # the files' modification times when the extract gives none
    "core.calls": {"version_at"},
    "core.incidents": {"version_at"},
    # a version's time is its version_at, else the load time: the file's copy time on a feed without one
    "core.call_versions": {"valid_from", "valid_to"},
    "core.incident_versions": {"valid_from", "valid_to"},
}

REAL_FILES = {
    "sf_calls": ["sf_police_calls_2016_2020.csv"],
    "vancouver_incidents": ["vancouver_crimes_2020.csv"],
    "chicago_assaults": ["chicago_aggravated_assaults_2010_2019.csv.gz"],
    "new_haven_incidents": [f"new_haven/incidents_2014_09.{e}" for e in ("shp", "shx", "dbf")],
}


def snapshot(db: Path, project: Path | None = None) -> dict:
    """{table: [rows, {column: sum of hashes}]} for every table, plus the list of views."""
    con = duckdb.connect(str(db), read_only=True)
    proj = str(project) if project else None
    try:
        from transforms.warehouse.db import load_spatial

        load_spatial(con)
    except Exception:  # a warehouse without geometry columns needs no extension
        pass
    try:
        out: dict = {"tables": {}, "views": []}
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = "
                             "current_database() ORDER BY 1, 2").fetchall()
        for schema, table in tables:
            name = f"{schema}.{table}"
            cols = con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = "
                               "current_database() AND schema_name = ? AND table_name = ? ORDER BY column_name",
                               [schema, table]).fetchall()
            exprs, names = [], []
            for c, t in cols:
                q = '"' + c.replace('"', '""') + '"'
                if t.startswith("GEOMETRY"):
                    q = f"ST_AsWKB({q})"
                elif t == "VARCHAR" and proj:
                    q = f"replace({q}, {_lit(proj)}, '<project>')"
                exprs.append(f"coalesce(sum(hash({q})), 0)::VARCHAR")
                names.append(c)
            qt = f'"{schema}"."' + table.replace('"', '""') + '"'
            n = con.execute(f"SELECT count(*) FROM {qt}").fetchone()[0]
            sums = con.execute(f"SELECT {', '.join(exprs)} FROM {qt}").fetchone() if exprs else ()
            out["tables"][name] = [n, dict(zip(names, sums, strict=True))]
        out["views"] = sorted(r[0] for r in con.execute(
            "SELECT schema_name || '.' || view_name FROM duckdb_views() WHERE NOT internal AND database_name = "
            "current_database()").fetchall())
        return out
    finally:
        con.close()


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _sara_env(home: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_") and k != "SARA_CONFIG"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false", DO_NOT_TRACK="1",
               PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS="120", COLUMNS="200")
    return env


def _sara(proj: Path, home: Path, *args: str) -> None:
    cmd = [str(Path(sys.executable).with_name("sara")), *args]
    res = subprocess.run(cmd, cwd=proj, env=_sara_env(home), capture_output=True, text=True)
    if res.returncode not in (0, 3):
        sys.exit(f"{' '.join(args)} failed ({res.returncode}):\n{res.stdout[-4000:]}\n{res.stderr[-4000:]}")


def _project(tmp: Path) -> Path:
    proj = tmp / "proj"
    shutil.copytree(ROOT / "config", proj / "config")
    shutil.copy(ROOT / "pyproject.toml", proj / "pyproject.toml")
    return proj


def _kept(db: Path, keep: Path | None, name: str) -> Path:
    """A copy of the warehouse in `keep` (for a row-by-row look at a table whose sums differ), if asked."""
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(db, keep / f"{name}.duckdb")
    return db


def build_demo(tmp: Path, keep: Path | None = None) -> dict:
    proj = _project(tmp)
    _sara(proj, tmp / "prefect", "demo")
    return {"demo": snapshot(_kept(proj / "data/demo/warehouse/sara.duckdb", keep, "demo"), proj)}


def build_real(tmp: Path, as_of: list[str], keep: Path | None = None) -> dict:
    if not SHARED.is_dir():
        sys.exit(f"{SHARED} is absent: the real feeds are needed for `build real`")
    proj = _project(tmp)
    (tmp / "shared").symlink_to(SHARED.parent)
    out = {}
    base = (proj / "config/sara.toml").read_text()
    for day in as_of:
        landing = proj / "data/landing"
        shutil.rmtree(proj / "data", ignore_errors=True)
        for source, names in REAL_FILES.items():
            (landing / source).mkdir(parents=True)
            for name in names:
                shutil.copyfile(SHARED / name, landing / source / Path(name).name)
        cfg = proj / "config" / f"checksum_{day}.toml"
        cfg.write_text(base.replace("[time]\n", f'[time]\nas_of = "{day}"\n', 1))
        _sara(proj, tmp / "prefect", "run", "--config", str(cfg))
        out[f"real@{day}"] = snapshot(_kept(proj / "data/warehouse/sara.duckdb", keep, f"real@{day}"), proj)
    return out


def compare(a: dict, b: dict, renames: dict[str, str]) -> list[str]:
    """Differences between two snapshots' sections, b's renamed names read under a's."""
    back = {new: old for old, new in renames.items()}
    diffs = []
    for section in sorted(set(a) | set(b)):
        if section not in a or section not in b:
            diffs.append(f"{section}: only in {'before' if section in a else 'after'}")
            continue
        ta = a[section]["tables"]
        tb = {}
        for name, (n, cols) in b[section]["tables"].items():
            old = back.get(name, name)
            tb[old] = [n, {back.get(f"{name}.{c}", f"{old}.{c}").rsplit(".", 1)[1]: v for c, v in cols.items()}]
        for t in sorted(set(ta) | set(tb)):
            if t not in ta or t not in tb:
                diffs.append(f"{section} {t}: only {'before' if t in ta else 'after'}")
                continue
            (na, ca), (nb, cb) = ta[t], tb[t]
            if na != nb:
                diffs.append(f"{section} {t}: {na} rows before, {nb} after")
            added = sorted(c for c in cb if c not in ca)
            if na == nb == 0 and added and all(c in cb for c in ca):
                # an empty mart that now carries its full schema: its columns, no content
                diffs.append(f"{section} {t}: empty in both; {len(added)} column(s) only after (its full schema)")
                continue
            for c in sorted(set(ca) | set(cb)):
                if c in RUN_COLUMNS.get(t, ()):
                    continue
                if ca.get(c) != cb.get(c):
                    diffs.append(f"{section} {t}.{c}: " + ("missing before" if c not in ca else
                                                          "missing after" if c not in cb else "content differs"))
        va = {back.get(v, v) for v in a[section]["views"]}
        vb = {back.get(v, v) for v in b[section]["views"]}
        for v in sorted(va ^ vb):
            diffs.append(f"{section} view {v}: only {'before' if v in va else 'after'}")
    return diffs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the demo or the real-data warehouse and write its checksums")
    b.add_argument("what", choices=["demo", "real"])
    b.add_argument("out", type=Path)
    b.add_argument("--as-of", action="append", help="real: the as_of of a night (repeatable; "
                   "default 2014-09-30, 2019-12-31 and 2020-12-31: the last days of New Haven, Chicago and SF, Vancouver)")
    b.add_argument("--keep", type=Path, metavar="DIR", help="keep a copy of each warehouse built in DIR")
    s = sub.add_parser("snapshot", help="checksums of one warehouse file")
    s.add_argument("db", type=Path)
    s.add_argument("out", type=Path)
    c = sub.add_parser("compare", help="compare two checksum files; exit 1 on any difference")
    c.add_argument("before", type=Path)
    c.add_argument("after", type=Path)
    c.add_argument("--rename", action="append", default=[], help="schema.table.old=new or schema.old=schema.new")
    args = ap.parse_args()
    if args.cmd == "compare":
        renames = dict(r.split("=", 1) for r in args.rename)
        renames = {old: (new if new.count(".") >= old.count(".") else old.rsplit(".", 1)[0] + "." + new)
                   for old, new in renames.items()}
        a, bb = json.loads(args.before.read_text()), json.loads(args.after.read_text())
        diffs = compare(a, bb, renames)
        n = sum(len(v["tables"]) for v in a.values())
        for d in diffs:
            print(d)
        print(f"{n} tables in {len(a)} warehouse(s) compared: "
              + ("identical" if not diffs else f"{len(diffs)} difference(s)"))
        sys.exit(1 if diffs else 0)
    if args.cmd == "snapshot":
        data = {"warehouse": snapshot(args.db)}
    else:
        with tempfile.TemporaryDirectory(prefix="sara-checksums-") as td:
            tmp = Path(td)
            data = (build_demo(tmp, args.keep) if args.what == "demo" else
                    build_real(tmp, args.as_of or ["2014-09-30", "2019-12-31", "2020-12-31"], args.keep))
    out = args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data, indent=1, sort_keys=True))
    print(f"{out}: " + ", ".join(f"{k} {len(v['tables'])} tables" for k, v in data.items()))


if __name__ == "__main__":
    main()
