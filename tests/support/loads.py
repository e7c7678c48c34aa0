"""Loading one file of Test City's CAD source (tests/support/project.py) and checking what it left.

The bad-input corpus is tests/fixtures/bad/ (see its README.md); a fixture is landed as NAME.csv.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from transforms.warehouse import loader

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bad"
NAME = "cad_20240302T020000"


def land(settings, fixture: str, name: str | None = None, source: str = "cad") -> Path:
    """Copy a corpus file into the source's landing folder; `name` defaults to NAME plus the fixture's
    .csv or .csv.gz suffix."""
    landing = settings.source_landing(source)
    landing.mkdir(parents=True, exist_ok=True)
    if name is None:
        name = NAME + (".csv.gz" if fixture.endswith(".gz") else ".csv")
    dst = landing / name
    shutil.copyfile(FIX / fixture, dst)
    return dst


def load(con, settings, path: Path, run: str = "r1", source: str = "cad") -> loader.FileOutcome:
    """Raw-load one landed file and, when that worked, normalize it: the outcome of the last step."""
    raw = loader.load_raw_file(con, settings, source, path, run)
    if raw.status != "raw":
        return raw
    (out,) = loader.normalize_pending(con, settings, source, run)
    return out


def meta_load(con, path: str) -> dict:
    """The one meta.loads row of a path, as a dict."""
    cur = con.execute("SELECT * FROM meta.loads WHERE path = ?", [path])
    cols = [d[0] for d in cur.description]
    rows = cur.fetchall()
    assert len(rows) == 1, rows
    return dict(zip(cols, rows[0], strict=True))


def quarantine(con) -> dict[int, str]:
    return dict(con.execute("SELECT source_row, reason FROM core.quarantine ORDER BY source_row").fetchall())


def calls(con, *cols: str) -> dict[str, tuple]:
    sel = ", ".join(cols)
    return {r[0]: tuple(r[1:]) for r in con.execute(f"SELECT call_id, {sel} FROM core.calls ORDER BY 1").fetchall()}


def assert_reconciles(out: loader.FileOutcome, con) -> None:
    """A loaded file whose counts add up, in the outcome, in meta.loads and in core.quarantine."""
    assert out.status == "loaded", out.message
    assert out.rows_read == out.rows_loaded + out.rows_duplicate + out.rows_quarantined
    m = meta_load(con, out.path)
    assert m["status"] == "loaded" and m["message"] is None
    assert (m["rows_read"], m["rows_loaded"], m["rows_duplicate"], m["rows_quarantined"]) == (
        out.rows_read, out.rows_loaded, out.rows_duplicate, out.rows_quarantined)
    assert con.execute("SELECT count(*) FROM core.quarantine WHERE load_id = ?",
                       [out.load_id]).fetchone()[0] == out.rows_quarantined


def assert_nothing_loaded(con) -> None:
    assert con.execute("SELECT count(*) FROM core.calls").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM core.quarantine").fetchone()[0] == 0
