"""The four real public feeds in ../shared/data as the project's own config loads them (tests/conftest.py:
real, real_con, real_rerun), and helpers that read them back."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import polars as pl

SF_FILE = "sf_police_calls_2016_2020.csv"
VAN_FILE = "vancouver_crimes_2020.csv"
CHI_FILE = "chicago_aggravated_assaults_2010_2019.csv.gz"
NH_STEM = "new_haven/incidents_2014_09"

# source -> the files delivered into its landing folder
REAL_FILES = {
    "sf_calls": [SF_FILE],
    "vancouver_incidents": [VAN_FILE],
    "chicago_assaults": [CHI_FILE],
    "new_haven_incidents": [f"{NH_STEM}.{ext}" for ext in ("shp", "shx", "dbf")],
}

# source -> (core table, id column, agency code, rows in the file)
SOURCES = {
    "sf_calls": ("core.calls", "call_id", "sfpd", 24_833),
    "vancouver_incidents": ("core.incidents", "incident_id", "vpd", 37_512),
    "chicago_assaults": ("core.incidents", "incident_id", "cpd", 148_636),
    "new_haven_incidents": ("core.incidents", "incident_id", "nhpd", 3_293),
}


def core_rows(con, source: str, cols: str) -> pl.DataFrame:
    table = SOURCES[source][0]
    return con.execute(f"SELECT {cols} FROM {table} WHERE source = ? ORDER BY source_row", [source]).pl()


def file_rows(data: Path, name: str) -> pl.DataFrame:
    """The file as text, with its 1-based data-row number (the warehouse's source_row)."""
    return pl.read_csv(data / name, infer_schema=False).with_row_index("source_row", offset=1)


def core_counts(con) -> dict:
    out = {}
    for source, (table, id_col, _, _) in SOURCES.items():
        out[source] = con.execute(
            f"SELECT count(*), count(DISTINCT {id_col}), sum(hash({id_col})) FROM {table} WHERE source = ?",
            [source],
        ).fetchone()
    return out


def all_loads(con) -> list[tuple]:
    return con.execute("SELECT * FROM meta.loads ORDER BY load_id").fetchall()


@dataclass
class RealRun:
    result: dict
    flow_run_id: str


@dataclass
class RealProject:
    proj: Path
    data: Path
    first: RealRun
    snapshot: Path  # byte copy of the published warehouse right after the first run


def run_real_nightly(proj: Path) -> RealRun:
    """Run the real flow. The flow finds its project from the working directory (see find_project_dir)."""
    from flows.nightly import nightly

    with contextlib.chdir(proj):
        state = nightly(config_path=str(proj / "config" / "sara.toml"), return_state=True)
    return RealRun(state.result(), str(state.state_details.flow_run_id))
