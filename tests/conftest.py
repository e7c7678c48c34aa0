"""The fixtures of the whole suite.

Layout (each folder says what kind of test it holds; pyproject.toml runs them in this order):
    unit/         pure functions and small in-memory fixtures, milliseconds each; the architecture rules
    reference/    results against outside implementations (esda, libpysal, scipy, ptools), published tables
                  (Knox for Chicago, Esri's pattern table, worked examples) and brute forces or hand
                  computations written out in the test
    integration/  a real DuckDB file, real Prefect flow runs in this process, real data in ../shared/data
    e2e/          `sara` as a subprocess (the README's commands, crashes, full disks, `sara serve`) and the
                  scanning report in a browser
    support/      helpers the tests import (projects, loads, CLI runs, the leak scan, the serve probe)
    fixtures/     input files (the bad-input corpus)

Fixtures:
    tiny_project      factory of throw-away "Test City" projects (tests/support/project.py)
    demo_city         the synthetic demo city at scale 0.05, generated once per session (read it, never
                      write into it; copy it with tests.support.project.demo_project)
    demo_nights       every demo night published by a real nightly flow run, once per session, with what each
                      night published (tests/support/demo_nights.py)
    demo_warehouse    a demo project with night 1 of demo_city published by a real nightly flow run, once
                      per session (copy the project before changing it)
    square_city       a hand-made 1 km square city loaded and with every mart built, per test
    real, real_con, real_rerun
                      the four real public feeds of ../shared/data through one nightly flow run per session
    prefect_harness   one Prefect test harness per session, for flow runs in this process
    cli_env           environment for `sara` subprocesses: one real Prefect server per session
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import pytest

from tests.support.demo_nights import demo_nights  # noqa: F401  (a session fixture)
from tests.support.project import DEMO_SCALE, copy_real_config, demo_project, need_shared, write_project
from tests.support.real import REAL_FILES, RealProject, RealRun, run_real_nightly

os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture(autouse=True)
def _restore_environ():
    """A test that runs a `sara` command in this process (CliRunner) sets log levels in os.environ: put the
    environment back after every test, so no later test or subprocess inherits them."""
    saved = dict(os.environ)
    yield
    if dict(os.environ) != saved:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="session")
def prefect_harness():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(scope="session")
def cli_env(tmp_path_factory):
    """Environment for `sara` subprocesses: a private PREFECT_HOME and one real Prefect server shared by every
    CLI run of the session (see tests.support.cli.cli_server_env)."""
    from tests.support.cli import cli_server_env

    with cli_server_env(tmp_path_factory.mktemp("prefect_home")) as env:
        yield env


# --------------------------------------------------------------------------------------------- tiny projects

@dataclass
class TinyProject:
    """A project written by tiny_project: its folder, its settings, and DuckDB files with the schema."""

    root: Path
    _opened: list = field(default_factory=list, repr=False)

    @property
    def config(self) -> Path:
        return self.root / "config" / "sara.toml"

    def load_settings(self):
        from transforms.config import load_settings

        return load_settings(self.config, project_dir=self.root)

    @cached_property
    def settings(self):
        return self.load_settings()

    def connect(self, path: Path | str = "w.duckdb"):
        """A DuckDB file (relative paths are under the project) with the warehouse schema applied; closed when
        the test ends."""
        from transforms.warehouse import db as wh

        con = wh.connect(self.root / path)
        self._opened.append(con)
        wh.apply_schema(con)
        return con


@pytest.fixture
def tiny_project(tmp_path):
    """tiny_project(sources=("cad",), *, root=tmp_path / "proj", toml=None, crosswalks=None, city="sf",
    agency="city", name="Test City", top="", extra="") -> TinyProject.

    `sources` are names of the ready-made sources (`cad`, `city_calls`) or {name: YAML text}; `top` and
    `extra` add to config/sara.toml before and after the agency; see tests/support/project.py."""
    opened: list = []

    def make(sources=("cad",), *, root: Path | None = None, **kw) -> TinyProject:
        return TinyProject(write_project(root or tmp_path / "proj", sources, **kw), opened)

    yield make
    for con in opened:
        con.close()


# ------------------------------------------------------------------------------------------------ demo city

@dataclass
class DemoCity:
    path: Path  # layers/, extracts/night_NN/<source>/, manifest.json
    nights: list  # transforms.demo.DemoNight, files under path
    manifest: dict


@pytest.fixture(scope="session")
def demo_city(tmp_path_factory) -> DemoCity:
    """The demo city at DEMO_SCALE, generated once; never write into it (copy it with demo_project)."""
    from transforms.demo import generate_demo_city

    out = tmp_path_factory.mktemp("demo_city")
    nights = generate_demo_city(out, scale=DEMO_SCALE)
    return DemoCity(out, nights, json.loads((out / "manifest.json").read_text()))


@pytest.fixture(scope="session")
def demo_warehouse(demo_city, prefect_harness, tmp_path_factory) -> Path:
    """A demo project (config/demo.toml) with night 1 of demo_city delivered and published by a real nightly
    flow run; the warehouse is data/demo/warehouse/sara.duckdb. Copy the project before changing anything."""
    from flows.nightly import nightly
    from transforms.demo import deliver_night

    proj = demo_project(tmp_path_factory.mktemp("demo_night1") / "proj", demo_city.path)
    deliver_night(proj / "data" / "demo", 1)
    with contextlib.chdir(proj):
        result = nightly(config_path=str(proj / "config" / "demo.toml"))
    assert result["status"] == "ok", result["message"]
    return proj


# ---------------------------------------------------------------------------------------------- square city

SQUARE_CITY_TOML_TOP = "windows_days = [7, 28]"
SQUARE_CITY_TOML_EXTRA = """
[time]
as_of = "2024-03-31"
[analysis]
cell_size_m = 250
h3_resolution = 9
knox_groups = ["property"]
knox_perms = 19
near_repeat_distance_m = 50
near_repeat_days = 3
[analysis.category_groups.calls]
all = ["*"]
property = ["Property Crime"]
"""
SQUARE_CITY_CAD = r"""
name: cad
kind: calls
agency: city
format: csv
file_pattern: "*.csv"
record_id: [id]
update_mode: upsert
timezone: America/Los_Angeles
timestamps:
  received_at: {columns: [when], formats: ["%Y-%m-%d %H:%M"]}
columns: {call_type_code: type}
coordinates: {x: x, y: y, crs: EPSG:32610}
origin: {column: onview, officer_values: ["Y"], community_values: ["N"]}
crosswalks: {call_types: config/crosswalks/types.csv}
"""
SQUARE_CITY_CALLS = [
    "id,when,type,x,y,onview",
    # a cluster of 12 burglaries in one cell (550300..550500 x 4180300..4180500), in the last 7 days:
    # burglary i is at (550360 + i, 4180360 + i) on 2024-03-(25 + i % 6)
    *(f"B{i},2024-03-{25 + i % 6} 12:00,BURG,{550360 + i},{4180360 + i},N" for i in range(12)),
    "T1,2024-03-20 09:00,TS,550900,4180900,Y",       # 28-day window only, officer
    "OLD,2023-01-01 09:00,BURG,550900,4180900,N",    # outside every window
    "ANCIENT,2020-06-01 09:00,BURG,550900,4180900,N",  # before the marts' horizon
    "OUT,2024-03-30 09:00,BURG,560000,4190000,N",    # out of area: not located, not counted
]


@pytest.fixture
def square_city(tiny_project):
    """A 1 km x 1 km square city in UTM 10N (boundary not aligned to its 250 m grid) whose calls
    (SQUARE_CITY_CALLS) are loaded and every mart built as of 2024-03-31: (con, counts, settings)."""
    import geopandas as gpd
    import shapely

    from transforms.marts import build as marts
    from transforms.warehouse import loader

    city = {"timezone": "America/Los_Angeles", "crs": "EPSG:32610", "boundary": "config/city.geojson",
            "grid_origin": [550000, 4180000]}
    p = tiny_project({"cad": SQUARE_CITY_CAD}, city=city, name="Square City", top=SQUARE_CITY_TOML_TOP,
                     extra=SQUARE_CITY_TOML_EXTRA)
    sq = shapely.box(550100, 4180100, 551100, 4181100)
    gpd.GeoDataFrame({"name": ["city"]}, geometry=[sq], crs="EPSG:32610").to_crs("EPSG:4326").to_file(
        p.root / "config" / "city.geojson")
    settings, con = p.settings, p.connect()
    landing = settings.source_landing("cad")
    landing.mkdir(parents=True)
    (landing / "c.csv").write_text("\n".join(SQUARE_CITY_CALLS) + "\n")
    loader.load_raw_file(con, settings, "cad", landing / "c.csv", "r")
    loader.normalize_pending(con, settings, "cad", "r")
    counts = marts.build_all(con, settings)
    return con, counts, settings


# ------------------------------------------------------------------------------------------ real public data

@pytest.fixture(scope="session")
def real(request, tmp_path_factory) -> RealProject:
    """The project's own config over the four real feeds, loaded by one nightly flow run."""
    data = need_shared()  # before the Prefect harness starts, so a skip costs nothing
    request.getfixturevalue("prefect_harness")
    proj = copy_real_config(tmp_path_factory.mktemp("real"))
    landing = proj / "data" / "landing"
    for source, names in REAL_FILES.items():
        (landing / source).mkdir(parents=True)
        for name in names:
            shutil.copyfile(data / name, landing / source / Path(name).name)
    first = run_real_nightly(proj)
    snapshot = proj / "run1.duckdb"
    shutil.copyfile(proj / "data" / "warehouse" / "sara.duckdb", snapshot)
    return RealProject(proj, data, first, snapshot)


@pytest.fixture(scope="session")
def real_con(real):
    """The warehouse as the first run published it (a snapshot: later runs change the published file)."""
    from transforms.warehouse.db import connect

    c = connect(real.snapshot, read_only=True)
    yield c
    c.close()


@pytest.fixture(scope="session")
def real_rerun(real) -> RealRun:
    """A second nightly run over the same files."""
    return run_real_nightly(real.proj)
