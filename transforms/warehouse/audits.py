"""Audits: each `sql/checks/*.sql` returns the offending rows; an empty result passes (SQLMesh style).

A file's header comments give its severity (`-- severity: error|warn`) and what it checks
(`-- description: ...`). Only a failed `error` audit stops a night from publishing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from transforms.warehouse.db import SQL_DIR

CHECKS_DIR = SQL_DIR / "checks"


@dataclass
class Audit:
    name: str
    severity: str
    description: str
    sql: str


@dataclass
class AuditResult:
    name: str
    severity: str
    rows: int
    status: str
    description: str


def load_audits(directory: Path = CHECKS_DIR) -> list[Audit]:
    audits = []
    for path in sorted(directory.glob("*.sql")):
        text = path.read_text(encoding="utf-8")
        sev = re.search(r"^--\s*severity:\s*(error|warn)\s*$", text, re.M)
        if not sev:
            raise ValueError(f"{path}: first lines must say '-- severity: error' or '-- severity: warn'")
        desc = re.search(r"^--\s*description:\s*(.+)$", text, re.M)
        audits.append(Audit(path.stem, sev.group(1), desc.group(1).strip() if desc else "", text))
    return audits


def run_audits(con: duckdb.DuckDBPyConnection, run_id: str | None = None) -> list[AuditResult]:
    """Run every audit; record the results in meta.audit_results when a run id is given."""
    results = []
    now = datetime.now(UTC)
    for a in load_audits():
        body = a.sql.strip().rstrip(";")
        n = con.execute(f"SELECT count(*) FROM ({body}) AS offending").fetchone()[0]
        status = "pass" if n == 0 else "fail"
        results.append(AuditResult(a.name, a.severity, int(n), status, a.description))
        if run_id is not None:
            con.execute(
                "INSERT INTO meta.audit_results VALUES (?, ?, ?, ?, ?, ?, ?)",
                [run_id, a.name, a.severity, n, status, a.description, now],
            )
    return results
