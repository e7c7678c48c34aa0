"""The architecture rules, read from the code's own files with ast (nothing of the project is imported here,
except by the two tests that import it in a fresh interpreter on purpose):

- transforms/stats/ is pure: it imports nothing of the project outside stats, and nothing that reaches a
  database, a file, a Prefect run or the settings;
- layering: a module imports only from its own layer or a layer below (stats <- config <- warehouse <- marts
  <- outputs <- demo <- flows);
- no import cycles between modules;
- flows/ holds no SQL (docstrings and help texts may show some);
- no file in the tree is over MAX_LINES lines, data and generated files excepted (listed with a reason).
"""

from __future__ import annotations

import ast
import fnmatch
import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pytest

from tests.support.project import PROJECT

PACKAGES = ("transforms", "flows")


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the imported module (a project module, or the full dotted name of another)
    line: int
    where: str  # "module" (runs when the module is imported), "function" (when a function runs),
    #             "type-checking" (never at run time: under `if TYPE_CHECKING:`)

    def __str__(self) -> str:
        return f"{self.source} -> {self.target} ({self.where}, line {self.line})"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PROJECT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def project_modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in sorted((PROJECT / pkg).rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST, where: str):
    """(import node, where) for every import under node."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            yield child, where
        elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            yield from _walk(child, "function")
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for stmt in child.body:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), "type-checking")
            for stmt in child.orelse:
                yield from _walk(ast.Module(body=[stmt], type_ignores=[]), where)
        else:
            yield from _walk(child, where)


def _resolve(name: str, target: str) -> str:
    """A project target to its longest prefix that is a module; any other name as it is."""
    mods = project_modules()
    probe = target
    while probe not in mods and "." in probe:
        probe = probe.rsplit(".", 1)[0]
    return probe if probe in mods else target


@cache
def imports_of(name: str) -> tuple[Import, ...]:
    path = project_modules()[name]
    is_pkg = path.name == "__init__.py"
    out = []
    for node, where in _walk(ast.parse(path.read_text(encoding="utf-8")), "module"):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            if node.level:
                base = name.split(".") if is_pkg else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the module pkg.sub; `from mod import name`, mod itself
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in project_modules() else mod for a in node.names]
        for t in dict.fromkeys(targets):
            resolved = _resolve(name, t)
            if resolved != name:
                out.append(Import(name, resolved, node.lineno, where))
    return tuple(out)


def project_imports(where: set[str]) -> list[Import]:
    mods = project_modules()
    return [i for m in mods for i in imports_of(m) if i.target in mods and i.where in where]


# ------------------------------------------------------------------------------------ transforms/stats is pure

# What a statistics module may not import, and why. numpy, scipy, polars, numba, shapely, h3 and pyproj (the
# maths) are fine, and so is pyarrow's in-memory part; what reads or writes files, talks to a database or a
# scheduler, or reads the settings belongs to the layers above.
FORBIDDEN = {
    "duckdb": "the warehouse: SQL runs in transforms/warehouse and transforms/marts",
    "prefect": "orchestration: flows/ only", "prefect_dask": "orchestration: flows/ only",
    "dask": "scale-out: flows/ only", "distributed": "scale-out: flows/ only",
    "typer": "the command line: flows/ only", "rich": "the command line: flows/ only",
    "pydantic": "the settings and contracts: transforms/config", "pydantic_settings": "the settings",
    "yaml": "config files", "tomllib": "config files",
    "pathlib": "file access", "os": "file access", "io": "file access", "shutil": "file access",
    "tempfile": "file access", "glob": "file access", "fnmatch": "file names", "csv": "file formats",
    "gzip": "file formats", "bz2": "file formats", "lzma": "file formats", "zipfile": "file formats",
    "tarfile": "file formats", "pickle": "file formats", "sqlite3": "a database",
    "subprocess": "processes", "socket": "the network", "urllib": "the network", "http": "the network",
    "httpx": "the network", "requests": "the network",
    "geopandas": "GIS files (and pandas)", "pyogrio": "GIS files", "fiona": "GIS files",
    "pandas": "Polars is the frame library of the statistics",
    "pyarrow.parquet": "file formats", "pyarrow.csv": "file formats", "pyarrow.dataset": "files",
    "pyarrow.feather": "file formats", "pyarrow.ipc": "file formats",
}
# calls that read or write files whatever module they come from (builtin open, numpy, polars, pandas)
FILE_CALLS = re.compile(r"^(open|read_\w+|scan_\w+|write_\w+|sink_\w+|to_csv|to_parquet|to_file|to_json|"
                        r"savetxt|loadtxt|genfromtxt|save|savez\w*|load|fromfile|tofile|memmap)$")


def _forbidden(target: str) -> str | None:
    parts = target.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in FORBIDDEN:
            return ".".join(parts[:n])
    return None


def stats_modules() -> list[str]:
    return [m for m in project_modules() if m == "transforms.stats" or m.startswith("transforms.stats.")]


def test_stats_imports_nothing_of_the_project_outside_stats():
    outside = [str(i) for m in stats_modules() for i in imports_of(m)
               if i.target.split(".")[0] in PACKAGES and not i.target.startswith("transforms.stats")]
    assert outside == []


def test_stats_imports_no_database_files_scheduler_or_settings():
    bad = [f"{i} is {FORBIDDEN[_forbidden(i.target)]}" for m in stats_modules() for i in imports_of(m)
           if _forbidden(i.target)]
    assert bad == []


def test_stats_calls_nothing_that_reads_or_writes_files():
    bad = []
    for m in stats_modules():
        for node in ast.walk(ast.parse(project_modules()[m].read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                f = node.func
                name = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
                if FILE_CALLS.match(name):
                    bad.append(f"{m}, line {node.lineno}: {ast.unparse(f)}(...)")
    assert bad == []


def _loaded_after_importing(modules: list[str], watch: list[str]) -> list[str]:
    """Which of `watch` a fresh interpreter has loaded after importing `modules` (transitively, for real)."""
    code = ("import sys\n" + "".join(f"import {m}\n" for m in modules)
            + f"print('\\n'.join(w for w in {watch!r} if w in sys.modules or any(k.startswith(w + '.') "
              "for k in sys.modules)))\n")
    res = subprocess.run([sys.executable, "-c", code], cwd=PROJECT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    return res.stdout.split()


def test_importing_stats_loads_no_database_files_scheduler_or_settings():
    """The same rule at run time: what importing every statistics module loads, through any library."""
    watch = ["duckdb", "prefect", "dask", "distributed", "geopandas", "pyogrio", "fiona", "pandas",
             "pyarrow.parquet", "pyarrow.csv", "pyarrow.dataset", "pydantic", "pydantic_settings", "typer",
             "esda", "libpysal", "transforms.config", "transforms.warehouse", "transforms.marts",
             "transforms.outputs", "transforms.demo", "flows"]
    assert _loaded_after_importing(stats_modules(), watch) == []


def test_transforms_imports_no_prefect_esda_libpysal():
    """Every module of transforms/ imported: no Prefect (orchestration is flows/'s), no Dask, no command line,
    and none of esda and libpysal (the reference implementations the tests compare with)."""
    everything = [m for m in project_modules() if m.startswith("transforms.")]
    watch = ["prefect", "prefect_dask", "dask", "distributed", "typer", "esda", "libpysal", "flows"]
    assert _loaded_after_importing(everything, watch) == []


# ------------------------------------------------------------------------------------------------- layering

LAYERS = {  # rank: a module may import from its own rank or below
    "transforms.stats": 0,
    "transforms.config": 1,
    "transforms.warehouse": 2,
    "transforms.marts": 3,
    "transforms.outputs": 4,
    "transforms.demo": 4.5,  # the synthetic city: may use anything below flows; nothing but flows uses it
    "flows": 5,
}


def layer_of(module: str) -> str | None:
    return next((layer for layer in sorted(LAYERS, key=len, reverse=True)
                 if module == layer or module.startswith(layer + ".")), None)


def test_every_module_is_in_a_layer():
    assert [m for m in project_modules() if layer_of(m) is None and m != "transforms"] == []


@pytest.mark.parametrize("layer", list(LAYERS))
def test_no_module_imports_from_a_layer_above(layer):
    upward = [str(i) for i in project_imports({"module", "function", "type-checking"})
              if layer_of(i.source) == layer and layer_of(i.target)
              and LAYERS[layer_of(i.target)] > LAYERS[layer]]
    assert upward == []


# --------------------------------------------------------------------------------------------------- cycles

def cycles(edges: list[Import]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(out)


def test_no_import_cycles_at_module_level():
    assert cycles(project_imports({"module"})) == []


def test_no_import_cycles_through_imports_inside_functions():
    """A cycle closed only by an import inside a function runs, but ties the modules together all the same."""
    assert cycles(project_imports({"module", "function"})) == []


# ---------------------------------------------------------------------------------------------- no SQL in flows

# SQL statements by their first words (and SELECT by its FROM); upper case as the project writes SQL, or any
# case where the words cannot be English (INSERT INTO, DELETE FROM, CREATE TABLE ...)
SQL = re.compile(
    r"\bSELECT\b[\s\S]*?\bFROM\b|\bCOPY\b[\s\S]*?\b(TO|FROM)\b|\b(ATTACH|DETACH|PRAGMA|CHECKPOINT|INSTALL|LOAD)\s+"
    r"[\w'\"(]|(?i:\binsert\s+(or\s+\w+\s+)?into\b|\bdelete\s+from\b|\bupdate\s+[\w.\"]+\s+set\b|"
    r"\bcreate\s+(or\s+replace\s+)?(temp\w*\s+)?(table|view|schema|index|macro|sequence|type)\b|"
    r"\b(drop|alter)\s+(table|view|schema|macro|index)\b|\bcomment\s+on\s+(table|column|view|schema)\b|"
    r"\bset\s+variable\b|\bselect\s+(\*|distinct|count\(|[\w.\"]+\s*,)[\s\S]*?\bfrom\s+[\w.\"]+)")
HELP_KEYWORDS = {"help", "short_help", "epilog"}


def _strings_outside_docs_and_help(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, text) of every string literal (f-strings with their literal parts) but docstrings and the
    values of help=, short_help= and epilog= keywords."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                skip.add(id(first.value))
        if isinstance(node, ast.keyword) and node.arg in HELP_KEYWORDS:
            skip.update(id(n) for n in ast.walk(node.value))
    out = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.JoinedStr):
            skip.update(id(v) for v in node.values)
            out.append((node.lineno, "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append((node.lineno, node.value))
    return out


def test_the_sql_pattern_tells_sql_from_prose():
    for sql in ("SELECT count(*) FROM core.calls", "select a, b from t", "INSERT INTO meta.runs VALUES (?)",
                "delete from core.calls", "CREATE OR REPLACE TABLE marts.x AS SELECT 1", "COMMENT ON TABLE t IS 'x'",
                "ATTACH 'w.duckdb' AS w", "COPY t TO 'x.parquet'", "PRAGMA threads=2", "SET VARIABLE as_of = ?",
                "update core.calls set x = 1", "LOAD spatial", "CHECKPOINT w"):
        assert SQL.search(sql), sql
    for prose in ("Load given files for one source: copy them into data/landing/<source>/",
                  "copy published to build", "load and normalize (parallel)", "select a source from the list",
                  "the name does not match, so the nightly run would never load it; rename the file",
                  "publishing the night (checkpoint and rename)", "update the landing folder"):
        assert not SQL.search(prose), prose


def test_flows_hold_no_sql():
    found = []
    for name, path in project_modules().items():
        if name.split(".")[0] == "flows":
            for line, text in _strings_outside_docs_and_help(ast.parse(path.read_text(encoding="utf-8"))):
                if SQL.search(text):
                    found.append(f"{path.relative_to(PROJECT)}:{line}: {text[:80]!r}")
    assert found == []


# ------------------------------------------------------------------------------------------------ file sizes

MAX_LINES = 520  # "about 500"
EXEMPT = {  # data and generated files, each with its reason
    "uv.lock": "generated by `uv lock`",
    "config/crosswalks/*.csv": "data: one row per code of a source's code table",
    "tests/fixtures/**": "data: the bad-input corpus, generated by tests/fixtures/bad/make_fixtures.py",
    "transforms/outputs/report/vendor/**": "third-party release files, vendored unchanged (their README)",
}
# Prose (README.md, bench/RESULTS.md, docs) is held to the same limit: a longer text wants splitting too.


def tree_files() -> list[str]:
    """The files of the tree: git's tracked and untracked-but-not-ignored ones (a checkout without git:
    every file outside hidden, cache, data and build folders)."""
    try:
        res = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=PROJECT,
                             capture_output=True, text=True, timeout=60)
    except OSError:
        res = None
    if res is not None and res.returncode == 0:
        return [f for f in res.stdout.splitlines() if (PROJECT / f).is_file()]
    skip = {"__pycache__", "data", "out"}
    return [str(p.relative_to(PROJECT)) for p in PROJECT.rglob("*") if p.is_file()
            and not any(part.startswith(".") or part in skip for part in p.relative_to(PROJECT).parts[:-1])
            and p.suffix not in (".pyc", ".duckdb")]


def _exempt(path: str) -> bool:
    return any(fnmatch.fnmatch(path, pattern) for pattern in EXEMPT)


def _lines(path: str) -> int | None:
    data = (PROJECT / path).read_bytes()
    return None if b"\0" in data[:8192] else data.count(b"\n") + (not data.endswith(b"\n") and bool(data))


def _area(path: str) -> str:
    top = path.split("/")[0]
    return top if "/" in path else "(top level)"


AREAS = ["flows", "transforms", "sql", "config", "tests", "bench", "data", ".ci", "(top level)"]


@pytest.mark.parametrize("area", AREAS)
def test_no_file_is_over_the_line_limit(area):
    over = [(f, n) for f in tree_files() if _area(f) == area and not _exempt(f)
            and (n := _lines(f)) is not None and n > MAX_LINES]
    assert over == [], f"over {MAX_LINES} lines: {over}"


def test_every_file_of_the_tree_is_in_an_area():
    assert sorted({_area(f) for f in tree_files()} - set(AREAS)) == []
