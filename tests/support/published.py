"""What a night leaves in a project's warehouse folder: the published file, the run log, and leftovers."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import duckdb

CORE = ("core.calls", "core.incidents", "core.offenses", "core.quarantine")


def copy_project(src: Path, tmp_path: Path) -> Path:
    """A copy of a project (a published demo night, say) to change in one test."""
    proj = tmp_path / "proj"
    shutil.copytree(src, proj)
    return proj


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def night_files(db: Path) -> dict[str, int]:
    """Whatever a night leaves beside the published file (build, WAL, spill folder, half copy, Dask parts)."""
    out = {}
    for p in db.parent.iterdir():
        if p.name.startswith(db.name + ".") and p.name != db.name + ".lock" and ".set-aside-" not in p.name:
            out[p.name] = (sum(f.stat().st_size for f in p.rglob("*") if f.is_file()) if p.is_dir()
                           else p.stat().st_size)
    return out


def runs_log(db: Path) -> list[dict]:
    """The runs.jsonl beside the published file: every night, failed ones too."""
    log = db.with_name("runs.jsonl")
    return [json.loads(x) for x in log.read_text().splitlines()] if log.is_file() else []


def core_snapshot(db: Path) -> dict:
    """Rows and a content checksum per core table (core rows do not depend on which run loaded them)."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*), sum(hash(t))::VARCHAR FROM {t} t").fetchone() for t in CORE}
    finally:
        con.close()
