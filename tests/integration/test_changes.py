"""What the nights changed (marts.changes, marts.changes_summary): hand-made loads of one incidents feed with one
change of each kind, the reclassified-share warning, and the demo's planted updates checked against the delivered
files, read here on their own."""

from __future__ import annotations

import csv
import shutil
from collections import defaultdict
from datetime import date

import polars as pl
from typer.testing import CliRunner

from flows.cli import app
from tests.integration.test_versions import A, B, C, Feed
from transforms.config.settings import VersionsConfig
from transforms.marts.changes import build_changes, reclassified_warnings
from transforms.marts.dimensions import write_config_dimensions
from transforms.outputs.report.reads import Ctx
from transforms.outputs.report.sections import section_quality

D = "D,2016-04-24 10:00,ARSON,5 W MONROE ST,-87.6280,41.8806,\n"  # 10 days before the night of 4 May: late
E = "E,2016-05-01 08:00,THEFT,5 W MONROE ST,-87.6280,41.8806,\n"  # 3 days before: not late (N = 7)


def _versions(f: Feed, **keys) -> None:
    f.settings.sara = f.settings.sara.model_copy(update={"versions": VersionsConfig(**keys)})


def _build(f: Feed) -> list[tuple]:
    write_config_dimensions(f.con, f.settings)
    build_changes(f.con, f.settings)
    return f.con.execute("SELECT record_id, kind, old_value, new_value, night_date::VARCHAR, event_date::VARCHAR, "
                         "dataset, agency FROM marts.changes ORDER BY run_started_at, record_id, kind").fetchall()


def test_one_change_of_each_kind_with_old_and_new_values_in_words(tiny_project, tmp_path):
    f = Feed(tiny_project, tmp_path / "p")
    f.load("20160503", A, B, C)  # the backfill: its records are never late arrivals
    moved = C.replace("100 N STATE ST,-87.6277,41.8822", "1200 W MADISON ST,-87.6584,41.8815")
    f.load("20160504", A.replace("THEFT", "ROBBERY"), B.replace(",\n", ",DELETED\n"), moved, D, E)
    f.load("20160505", A.replace("10:00", "12:00").replace("THEFT", "ROBBERY"), B)
    rows = _build(f)
    by = {(r[0], r[1]): r for r in rows}
    assert sorted(by) == [("A", "reclassified"), ("A", "retimed"), ("B", "restored"), ("B", "voided or unfounded"),
                          ("C", "relocated"), ("D", "late arrival")]
    assert by["A", "reclassified"][2:4] == ("Unmapped (THEFT)", "Unmapped (ROBBERY)")
    # times in the agency's local time (Chicago), as the feed gave them
    assert by["A", "retimed"][2:4] == ("2016-05-01 10:00", "2016-05-01 12:00")
    assert by["B", "voided or unfounded"][2:4] == ("valid", "void, deleted or unfounded")
    assert by["B", "restored"][2:4] == ("void, deleted or unfounded", "valid")
    old, new = by["C", "relocated"][2:4]
    assert "STATE" in old and "MADISON" in new and old.startswith("district ")
    late = by["D", "late arrival"]
    assert late[2] is None and "2016-04-24 10:00" in late[3] and "10 days before" in late[3]
    # the load's night: its extract time (midnight in Chicago) as a local date; the event's local date
    assert late[4:8] == ("2016-05-04", "2016-04-24", "incidents", "city")
    assert by["A", "retimed"][4] == "2016-05-05"
    # E (3 days back) is a new record but not late; nothing for records that did not change
    assert not [r for r in rows if r[0] == "E"]
    # every row names its load, and the load's run (null: these loads ran outside a nightly run)
    assert f.con.execute("SELECT count(*) FROM marts.changes c JOIN meta.loads l USING (load_id)").fetchone()[0] \
        == len(rows)
    # the changed kinds are core.version_changes' (computed there over every version of every record)
    assert {(r[0], r[1]) for r in rows if r[1] != "late arrival"} == set(f.con.execute(
        "SELECT record_id, change FROM core.version_changes").fetchall())
    # a longer threshold: D is no longer late
    _versions(f, late_arrival_days=10)
    assert not [r for r in _build(f) if r[1] == "late arrival"]


def _warned(tiny_project, root, n_records: int, n_reclassified: int, feed: list | None = None
            ) -> tuple[tuple, list[str]]:
    f = Feed(tiny_project, root)
    rows = [f"R{i},2016-05-01 10:00,THEFT,100 N STATE ST,-87.6277,41.8822,\n" for i in range(n_records)]
    f.load("20160503", *rows)
    f.load("20160504", *[r.replace("THEFT", "BURGLARY") for r in rows[:n_reclassified]])
    _versions(f, reclassified_min_records=10)
    _build(f)
    summary = f.con.execute("SELECT records_loaded, records_reclassified, reclassified_share, is_warning "
                            "FROM marts.changes_summary WHERE agency = 'city'").fetchone()
    if feed is not None:
        feed.append(f)
    return summary, reclassified_warnings(f.con)


def test_a_high_reclassified_share_warns_and_a_low_one_does_not(tiny_project, tmp_path):
    # 4 of 20 reclassified (20 %, above the default 5 %): a warning
    high: list = []
    summary, warnings = _warned(tiny_project, tmp_path / "high", 20, 4, high)
    assert summary == (20, 4, 0.2, True)
    assert len(warnings) == 1 and warnings[0].startswith("city: 4 of 20 records") and "20.0%" in warnings[0]
    # 1 of 40 (2.5 %): none
    low: list = []
    summary, warnings = _warned(tiny_project, tmp_path / "low", 40, 1, low)
    assert summary == (40, 1, 0.025, False) and warnings == []
    # too few records to say anything (min records 10): none, whatever the share
    summary, warnings = _warned(tiny_project, tmp_path / "few", 5, 5)
    assert summary == (5, 5, 1.0, False) and warnings == []
    # the report's data quality section and sara status say it for the high share only
    for f, warned in ((high[0], True), (low[0], False)):
        ctx = Ctx(f.con, f.settings, date(2016, 5, 4))
        html = section_quality(ctx)
        part = html[html.index("Reclassified records per agency"):]
        assert ("Warning: city had" not in part) or ctx.name("city") == "city"  # the agency's name, not its code
        assert (f"Warning: {ctx.name('city')} had 4 of 20" in part) is warned
        assert "<td class=\"t flag\">yes</td>" in part if warned else "<td class=\"t\">no</td>" in part
        f.con.close()  # published as it is (the tiny project's file), for sara status
        f.settings.warehouse_path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(tmp_path / ("high" if warned else "low") / "w.duckdb", f.settings.warehouse_path)
        res = CliRunner().invoke(app, ["status", "--config", str(f.settings.config_path)], env={"COLUMNS": "200"})
        assert res.exit_code == 0, res.output
        assert ("reclassified share: city: 4 of 20 records" in res.output) is warned


# ------------------------------------------------------------------------------------------------ the demo

# the delivered calls files, read here with the csv module: record id, call type code and disposition columns
CALL_FILES = {"demo_metro_calls": ("utf-8-sig", ",", "CallNumber", "FinalCallType", "Disposition"),
              "demo_county_calls": ("cp1252", ";", "EventNo", "Nature", "Outcome")}


VOID_CODES = {"VOID"}  # config/crosswalks/demo_dispositions.csv: the one code with void = true


def _codes(path, source: str) -> dict[str, tuple[str, str]]:
    """record id -> (call type code, disposition code) as a delivered file gives them ('' when blank); every row of
    a call (one per unit) carries the same."""
    enc, sep, rid, typ, dispo = CALL_FILES[source]
    out: dict[str, set] = defaultdict(set)
    with open(path, encoding=enc, newline="") as fh:
        for row in csv.DictReader(fh, delimiter=sep):
            out[row[rid]].add((row[typ].strip(), row[dispo].strip()))
    assert all(len(v) == 1 for v in out.values()), path
    return {k: next(iter(v)) for k, v in out.items()}


def _expected_call_changes(demo_nights) -> dict[tuple[str, int], dict[tuple[str, str], tuple[str, str]]]:
    """(calls source, night 2..6) -> {(record, kind): (old code, new code)}: the planted updates whose call type
    or disposition code differs from the file that delivered the record before ('' when blank)."""
    out = {}
    for source in CALL_FILES:
        seen: dict[str, tuple[str, str]] = {}  # record -> its codes in the last file that delivered it
        for night in demo_nights.manifest["nights"]:
            entry = night[source]
            delivered = _codes(demo_nights.city / entry["file"], source)
            if night["night"] > 1:
                expect = out[(source, night["night"])] = {}
                for rid in {str(i) for ids in entry["updated_by_first_night"].values() for i in ids}:
                    (t0, d0), (t1, d1) = seen[rid], delivered[rid]
                    if t0 != t1:
                        expect[(rid, "reclassified")] = (t0, t1)
                    if d0 != d1:
                        expect[(rid, "disposition")] = (d0, d1)
                    if (d0 in VOID_CODES) != (d1 in VOID_CODES):  # the void flag changed too (no code in words)
                        expect[(rid, "voided or unfounded" if d1 in VOID_CODES else "restored")] = ("", "")
            seen.update(delivered)
    return out


def _expected_late(demo_nights) -> set[tuple[str, str, object]]:
    """(source, record, night's run date): an incident first delivered on night k >= 2 whose event (RMS
    OccurredFromDT, else ReportedDT: local times) is more than 7 days before night k's extract date; and a metro
    call (CallReceivedDT, local) likewise. The county feed never delivers an old call for the first time."""
    from datetime import date, datetime

    expect = set()
    calls_seen: set[str] = set()
    for night in demo_nights.manifest["nights"]:
        run = date.fromisoformat(night["run_date"])
        with open(demo_nights.city / night["demo_metro_calls"]["file"], encoding="utf-8-sig", newline="") as fh:
            for row in csv.DictReader(fh):
                rid, received = row["CallNumber"], row["CallReceivedDT"]
                if rid in calls_seen or not received:
                    continue
                calls_seen.add(rid)
                day = datetime.strptime(received, "%m/%d/%Y %I:%M:%S %p").date()
                if night["night"] > 1 and (run - day).days > 7:
                    expect.add(("demo_metro_calls", rid, run))
    first_seen: set[str] = set()
    for night in demo_nights.manifest["nights"]:
        df = pl.read_parquet(demo_nights.city / night["demo_metro_incidents"]["file"])
        run = date.fromisoformat(night["run_date"])
        for rid, occurred, reported in df.group_by("IncidentNumber").agg(
                pl.col("OccurredFromDT").min(), pl.col("ReportedDT").min()).iter_rows():
            if rid in first_seen:
                continue
            first_seen.add(rid)
            if night["night"] > 1 and (run - date.fromisoformat((occurred or reported)[:10])).days > 7:
                expect.add(("demo_metro_incidents", str(rid), run))
    return expect


def test_demo_every_planted_update_that_changed_a_kept_field_is_in_marts_changes(demo_nights):
    """For each calls feed and night 2..6: the planted updates whose call type or disposition code differs from
    the file that delivered the record before are exactly the load's reclassified / disposition rows, with those
    codes as old and new values; nothing else of the load is there but late arrivals."""
    import re

    from transforms.warehouse.db import connect

    con = connect(demo_nights.warehouse, read_only=True)
    try:
        n_checked = 0
        for (source, k), expect in _expected_call_changes(demo_nights).items():
            name = demo_nights.manifest["nights"][k - 1][source]["file"].rsplit("/", 1)[-1]
            load_id = con.execute("SELECT load_id FROM meta.loads WHERE source = ? AND path LIKE ?",
                                  [source, f"%/{name}"]).fetchone()[0]
            got = {}
            for rid, kind, old, new in con.execute(
                    "SELECT record_id, kind, old_value, new_value FROM marts.changes WHERE load_id = ? "
                    "AND kind <> 'late arrival'", [load_id]).fetchall():
                # "Category (CODE), counted" -> CODE; "no disposition, ..." -> ''
                got[(rid, kind)] = tuple((m.group(1) if (m := re.search(r"\(([^()]*)\)", v)) else "")
                                         for v in (old, new))
            assert got == expect, (source, k)
            n_checked += len(expect)
        assert n_checked >= 20  # the demo plants disposition updates every night in both feeds
        # the changed kinds of every load are core.version_changes' (computed there over all of the history)
        assert sorted(con.execute("SELECT source, record_id, kind, load_id FROM marts.changes "
                                  "WHERE kind <> 'late arrival'").fetchall()) == \
            sorted(con.execute("SELECT source, record_id, change, load_id FROM core.version_changes").fetchall())
        # the late extract of night 6 (older versions) changes nothing
        late = demo_nights.manifest["nights"][-1]["late_extract"]["file"].rsplit("/", 1)[-1]
        assert con.execute("SELECT count(*) FROM marts.changes c JOIN meta.loads l USING (load_id) "
                           "WHERE l.path LIKE ?", [f"%/{late}"]).fetchone()[0] == 0
        # every row's run is the night that published its load
        runs = [p["run_id"] for p in demo_nights.published]
        assert {r[0] for r in con.execute("SELECT DISTINCT run_id FROM marts.changes").fetchall()} <= set(runs)
    finally:
        con.close()


def test_demo_late_arrivals_are_new_records_dated_more_than_n_days_before_their_night(demo_nights):
    from transforms.warehouse.db import connect

    con = connect(demo_nights.warehouse, read_only=True)
    try:
        got = {(s, r, d) for s, r, d in con.execute(
            "SELECT source, record_id, night_date FROM marts.changes WHERE kind = 'late arrival'").fetchall()}
    finally:
        con.close()
    expect = _expected_late(demo_nights)
    assert got == expect
    assert {s for s, _, _ in expect} == {"demo_metro_calls", "demo_metro_incidents"}  # late reports in both feeds


def test_demo_sara_status_counts_the_last_nights_changes_by_kind(demo_nights):
    """The last night's records per kind (sara status) against the files: planted code changes of night 6 and
    its late incidents and calls."""
    from collections import Counter

    from transforms.warehouse.db import connect
    from transforms.warehouse.versions import changes_last_night

    last = len(demo_nights.manifest["nights"])
    expect = Counter(kind for (_, k), ex in _expected_call_changes(demo_nights).items() if k == last
                     for _, kind in ex)
    run_date = demo_nights.manifest["nights"][-1]["run_date"]
    late = Counter("calls" if s.endswith("_calls") else "incidents" for s, _, d in _expected_late(demo_nights)
                   if str(d) == run_date)
    con = connect(demo_nights.warehouse, read_only=True)
    try:
        rows = changes_last_night(con).rows
    finally:
        con.close()
    want = {("calls", kind): n for kind, n in expect.items()}
    want.update({(d, "late arrival"): n for d, n in late.items()})
    assert {(d, kind): n for d, kind, n in rows} == want
    assert sum(expect.values()) > 0
    res = CliRunner().invoke(app, ["status", "--config", str(demo_nights.config)], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "records changed in the last night" in res.output and "reclassified share:" not in res.output
